"""Tests of exercises3: each answer computes what its docstring says."""

import copy

import numpy as np
import pytest

import exercises3
import network
import network2
from exercises3 import (ActivationNetwork, CrossEntropyNetwork, L1Network,
                        LogLikelihoodCost, MomentumNetwork, SoftmaxNetwork, TanhNetwork)


def pairs(seed, n, n_in=4, n_out=3):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((n_in, 1)), np.eye(n_out)[:, [rng.integers(n_out)]])
            for _ in range(n)]


def numerical_gradient(net, data, h=1e-6):
    """The gradient of the average cost (total_cost with lmbda 0) by
    central differences, shaped like the weights and biases."""
    grads = []
    for params in (net.biases, net.weights):
        found = []
        for p in params:
            g = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                saved = p[idx]
                p[idx] = saved + h
                up = net.total_cost(data, 0.0)
                p[idx] = saved - h
                down = net.total_cost(data, 0.0)
                p[idx] = saved
                g[idx] = (up - down) / (2 * h)
            found.append(g)
        grads.append(found)
    return grads


def assert_backprop_is_the_gradient(net, data):
    x, y = exercises3.columns(data)
    nabla_b, nabla_w = net.backprop(x, y)
    num_b, num_w = numerical_gradient(net, data)
    for analytic, numeric in zip(nabla_b + nabla_w, num_b + num_w):
        np.testing.assert_allclose(analytic / len(data), numeric, rtol=1e-5, atol=1e-8)


#### L1
def test_l1_step_moves_each_weight_by_eta_lmbda_over_n_times_its_sign():
    net = L1Network([4, 5, 3], seed=1)
    batch, eta, lmbda, n = pairs(0, 6), 0.5, 2.0, 100
    before = copy.deepcopy(net)
    nabla_b, nabla_w = before.backprop(*exercises3.columns(batch))
    net.update_mini_batch(batch, eta, lmbda, n)
    for w0, nw, w in zip(before.weights, nabla_w, net.weights):
        np.testing.assert_allclose(w, w0 - eta * lmbda / n * np.sign(w0) - eta / 6 * nw,
                                   rtol=1e-13, atol=1e-15)
    for b0, nb, b in zip(before.biases, nabla_b, net.biases):
        np.testing.assert_allclose(b, b0 - eta / 6 * nb, rtol=1e-13)


def test_l1_total_cost_adds_lmbda_over_n_times_sum_of_absolute_weights():
    net = L1Network([4, 5, 3], seed=1)
    data = pairs(1, 8)
    plain = network2.Network([4, 5, 3], seed=1)
    expected = plain.total_cost(data, 0.0) + 3.0 / 8 * sum(np.abs(w).sum()
                                                            for w in net.weights)
    assert net.total_cost(data, 3.0) == pytest.approx(expected, rel=1e-12)


def test_l1_leaves_more_weights_near_zero_than_l2():
    data = pairs(2, 200, n_in=20, n_out=3)
    l1, l2 = L1Network([20, 10, 3], seed=4), network2.Network([20, 10, 3], seed=4)
    for net in (l1, l2):
        net.SGD(data, 30, 10, 0.5, lmbda=5.0)
    assert exercises3.weights_near_zero(l1, 0.02) > 2 * exercises3.weights_near_zero(l2, 0.02)


def test_weights_near_zero_counts_every_layer():
    net = network2.Network([2, 2, 1], seed=0)
    net.weights = [np.array([[0.001, 0.5], [-0.005, 2.0]]), np.array([[-0.3, 0.009]])]
    assert exercises3.weights_near_zero(net) == 0.5
    assert exercises3.weights_near_zero(net, 0.006) == pytest.approx(2 / 6)


#### Momentum
def test_momentum_zero_is_network2s_gradient_descent():
    data = pairs(3, 40)
    plain, moving = network2.Network([4, 5, 3], seed=2), MomentumNetwork(
        [4, 5, 3], momentum=0.0, seed=2)
    for net in (plain, moving):
        net.SGD(data, 3, 10, 0.5, lmbda=1.0)
    for a, b in zip(plain.weights + plain.biases, moving.weights + moving.biases):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_momentum_velocity_is_mu_v_minus_eta_grad():
    net = MomentumNetwork([4, 5, 3], momentum=0.7, seed=5)
    batch, eta, lmbda, n = pairs(4, 5), 0.3, 1.0, 50
    w0 = [w.copy() for w in net.weights]
    g1 = net.backprop(*exercises3.columns(batch))[1]
    net.update_mini_batch(batch, eta, lmbda, n)
    v1 = [-eta * (g / 5 + lmbda / n * w) for g, w in zip(g1, w0)]
    w1 = [w.copy() for w in net.weights]
    for w, a, v in zip(w1, w0, v1):
        np.testing.assert_allclose(w, a + v, rtol=1e-12)
    g2 = net.backprop(*exercises3.columns(batch))[1]
    net.update_mini_batch(batch, eta, lmbda, n)
    for w, a, v, g in zip(net.weights, w1, v1, g2):
        np.testing.assert_allclose(w, a + 0.7 * v - eta * (g / 5 + lmbda / n * a),
                                   rtol=1e-12)
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\)"):
        MomentumNetwork([2, 1], momentum=1.0)


#### Cross-entropy in network.py
def test_cross_entropy_cost_derivative_gives_network2s_gradient():
    data = pairs(5, 7)
    ours = CrossEntropyNetwork([4, 5, 3], seed=3)
    theirs = network2.Network([4, 5, 3], cost=network2.CrossEntropyCost, seed=0)
    theirs.weights = copy.deepcopy(ours.weights)
    theirs.biases = copy.deepcopy(ours.biases)
    x, y = exercises3.columns(data)
    for a, b in zip(sum(ours.backprop(x, y), []), sum(theirs.backprop(x, y), [])):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_cost_derivative_breaks_where_a_rounds_to_one_and_delta_does_not():
    z = np.array([[2.0], [40.0], [40.0]])
    y = np.array([[0.0], [0.0], [1.0]])
    through_derivative, delta = exercises3.output_error(z, y)
    assert network.sigmoid(40.0) == 1.0       # the saturation: a is exactly 1
    assert through_derivative[0, 0] == pytest.approx(network.sigmoid(2.0), rel=1e-12)
    assert np.isnan(through_derivative[1:]).all()
    np.testing.assert_array_equal(delta[1:], [[1.0], [0.0]])
    assert delta[0, 0] == pytest.approx(network.sigmoid(2.0), rel=1e-15)


#### The neuron-function methods, softmax, tanh
def test_activation_network_defaults_compute_network2():
    data = pairs(6, 5)
    ours, theirs = ActivationNetwork([4, 5, 2, 3], seed=7), network2.Network([4, 5, 2, 3], seed=7)
    x, y = exercises3.columns(data)
    np.testing.assert_allclose(ours.feedforward(x), theirs.feedforward(x), rtol=1e-14)
    for a, b in zip(sum(ours.backprop(x, y), []), sum(theirs.backprop(x, y), [])):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_softmax_outputs_are_probabilities_and_cost_is_minus_log_of_right_one():
    net = SoftmaxNetwork([4, 5, 3], seed=8)
    x, y = exercises3.columns(pairs(7, 6))
    a = net.feedforward(x)
    np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-14)
    assert (a > 0).all()
    assert LogLikelihoodCost.fn(a, y) == pytest.approx(-np.log(a[y == 1]).sum(), rel=1e-14)
    np.testing.assert_allclose(exercises3.softmax(np.array([[1000.0], [1000.0]])), 0.5)


@pytest.mark.parametrize("cls", [SoftmaxNetwork, TanhNetwork])
def test_backprop_is_the_gradient_of_the_cost(cls):
    net = cls([4, 5, 2, 3], seed=9)
    assert_backprop_is_the_gradient(net, pairs(8, 4))


def test_tanh_hidden_neurons_and_sigmoid_output():
    net = TanhNetwork([4, 5, 3], seed=10)
    x = np.random.default_rng(9).standard_normal((4, 3))
    hidden = np.tanh(net.weights[0] @ x + net.biases[0])
    np.testing.assert_allclose(net.feedforward(x),
                               network2.sigmoid(net.weights[1] @ hidden + net.biases[1]),
                               rtol=1e-13)


#### The other early-stopping rule
class ScriptedNet:
    """Stands in for a network: each SGD call 'trains' one epoch and reports
    the next of a list of accuracies."""

    def __init__(self, accuracies):
        self.accuracies, self.calls = list(accuracies), 0

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_accuracy=False):
        assert epochs == 1 and monitor_evaluation_accuracy
        self.calls += 1
        return [], [self.accuracies[self.calls - 1]], [], []


def test_average_stopping_stops_when_the_moving_average_stalls():
    # Sliding averages of 2 against the 2 before: epoch 6 (5, 3) -> 4 > (3, 4)
    # -> 3.5 goes on; epoch 7 (3, 4) -> 3.5 <= (4, 5) -> 4.5 stops.
    net = ScriptedNet([1, 2, 3, 4, 5, 3, 4, 9, 9, 9])
    found = exercises3.average_stopping_SGD(net, [], 10, 10, 0.5, 0.0, [], window=2)
    assert found == [1, 2, 3, 4, 5, 3, 4] and net.calls == 7
    # A single bad epoch does not stop it, where no-improvement-in-1 would.
    net = ScriptedNet([1, 2, 3, 4, 5, 4, 6, 7, 8, 9])
    assert len(exercises3.average_stopping_SGD(net, [], 10, 10, 0.5, 0.0, [],
                                               window=2)) == 10
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        exercises3.average_stopping_SGD(net, [], 10, 10, 0.5, 0.0, [], window=0)


def test_average_stop_is_where_average_stopping_sgd_stops():
    for accuracies in ([1, 2, 3, 4, 5, 3, 4, 9, 9, 9], [1, 2, 3, 4, 5, 4, 6, 7, 8, 9],
                       [5, 9, 1, 9.5, 1, 9.7, 1, 9.8]):
        net = ScriptedNet(accuracies)
        ran = exercises3.average_stopping_SGD(net, [], len(accuracies), 10, 0.5, 0.0, [],
                                              window=2)
        assert exercises3.average_stop(accuracies, 2) == len(ran)


def test_no_improvement_stop_is_where_network2s_early_stopping_stops():
    # a constructed sequence: the best (3) at epoch 2, then 3, 2: two in a row
    assert exercises3.no_improvement_stop([1, 2, 3, 3, 2, 4, 4, 4], 2) == 5
    assert exercises3.no_improvement_stop([1, 2, 3, 3, 2, 4, 4, 4], 3) == 8
    # and network2's own rule on a real run: a step too small to change the
    # network keeps the accuracy where it was, so it stops after n + 1 epochs
    data = pairs(4, 30)
    evaluation = [(x, int(np.argmax(y))) for x, y in pairs(5, 20)]
    epochs_run = []
    for eta in (1e-300, 2.0):
        net, twin = network2.Network([4, 6, 3], seed=3), network2.Network([4, 6, 3], seed=3)
        _, stopped, _, _ = net.SGD(data, 40, 5, eta, evaluation_data=evaluation,
                                   monitor_evaluation_accuracy=True, early_stopping_n=4)
        _, full, _, _ = twin.SGD(data, 40, 5, eta, evaluation_data=evaluation,
                                 monitor_evaluation_accuracy=True)
        assert stopped == full[:len(stopped)]
        assert exercises3.no_improvement_stop(full, 4) == len(stopped)
        epochs_run.append(len(stopped))
    assert epochs_run[0] == 5 and epochs_run[1] > 5
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        exercises3.no_improvement_stop([1, 2], 0)


class WholeRunNet:
    """A stand-in for a network2 Network whose SGD reports ``accuracies``
    for a run of that many epochs."""

    def __init__(self, accuracies):
        self.accuracies = accuracies

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_accuracy=False):
        assert epochs == len(self.accuracies) and monitor_evaluation_accuracy
        return [], list(self.accuracies), [], []


def test_compare_early_stopping_reports_each_rule_on_the_same_run():
    # A plateau: no-improvement-in-2 stops at it; the moving averages of 2
    # never fall, so that rule runs on.
    run = [1, 2, 3, 4, 4, 4, 5, 6, 7, 8]
    accuracies, stops = exercises3.compare_early_stopping(
        WholeRunNet(run), [], 10, 10, 0.5, 0.0, [], patience=2)
    assert accuracies == run
    assert stops == {"no improvement in 2": {"epochs": 6, "best": 4, "last": 4},
                     "moving average, window 2": {"epochs": 10, "best": 8, "last": 8}}
    # A new best every other epoch, lower averages: the averages stop first.
    run = [5, 9, 1, 9.5, 1, 9.7, 1, 9.8]
    _, stops = exercises3.compare_early_stopping(WholeRunNet(run), [], 8, 10, 0.5, 0.0, [],
                                                 patience=2)
    assert stops["no improvement in 2"]["epochs"] == 8
    assert stops["moving average, window 2"] == {"epochs": 4, "best": 9.5, "last": 9.5}
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        exercises3.compare_early_stopping(WholeRunNet(run), [], 8, 10, 0.5, 0.0, [],
                                          patience=0)


#### The script
def test_script_writes_each_run_with_its_seed(tmp_path):
    import json

    import exercises
    table = exercises.main(["--only", "softmax", "--epochs", "1", "--runs", "2",
                            "--seed", "5", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    [row] = results["experiments"]
    assert row["name"] == "ch3 softmax + log-likelihood"
    assert [run["seed"] for run in row["runs"]] == [5, 6]
    assert all(len(run["accuracy"]) == 1 and 90 < run["accuracy"][0] < 100
               for run in row["runs"])
    assert "| ch3 softmax + log-likelihood |" in table
    assert "2 (5, 6)" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "ch3-comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "ch1-comparison.png").exists()


@pytest.fixture(scope="module")
def mnist_wrapped():
    import mnist_loader
    return mnist_loader.load_data_wrapper()


@pytest.fixture
def few_images(mnist_wrapped, monkeypatch):
    """The script's data cut to 2,000 training and 500 validation and test
    images, so that its rows run in seconds."""
    import mnist_loader
    training, validation, test = mnist_wrapped
    monkeypatch.setattr(mnist_loader, "load_data_wrapper",
                        lambda: (training[:2000], validation[:500], test[:500]))


@pytest.mark.slow
def test_script_rows_for_the_schedule_regularization_early_stopping_and_starts(
        tmp_path, few_images):
    import json

    import exercises
    exercises.main(["--only", "no_hidden_layer_start", "small_data_regularization",
                    "schedule", "early_stopping", "--quick", "--out", str(tmp_path)])
    rows = {row["name"]: row for row in
            json.loads((tmp_path / "results.json").read_text())["experiments"]}
    assert list(rows) == [
        "ch1 [784, 10], N(0, 1) start, QuadraticCost",
        "ch1 [784, 10], N(0, 1/784) start, QuadraticCost",
        "ch1 [784, 10], N(0, 1) start, CrossEntropyCost",
        "ch1 [784, 10], N(0, 1/784) start, CrossEntropyCost",
        "ch3 1,000 images: no regularization", "ch3 1,000 images: L2, lmbda 0.1",
        "ch3 1,000 images: L1, lmbda 0.1", "ch3 learning-rate schedule (eta_schedule_n 10)",
        "ch3 early stopping: the whole run, no rule",
        "ch3 early stopping: no improvement in 10",
        "ch3 early stopping: moving average, window 10"]
    assert all(len(row["runs"]) == 1 for row in rows.values())     # --quick: one run
    for name, row in rows.items():
        if name.startswith("ch1"):
            [run] = row["runs"]
            assert len(run["accuracy"]) == 1 and len(run["digit_recall"]) == 10
            assert "1 epochs, test" in row["settings"]
    near_zero = {}
    for label in ("no regularization", "L2, lmbda 0.1", "L1, lmbda 0.1"):
        row = rows[f"ch3 1,000 images: {label}"]
        assert "1,000 training images" in row["settings"] and "40 epochs" in row["settings"]
        assert len(row["runs"][0]["accuracy"]) == 40
        near_zero[label] = row["runs"][0]["weights_near_zero"]
    # L1 steps every weight towards 0 by the same amount: more end up near it
    assert near_zero["L1, lmbda 0.1"] > near_zero["L2, lmbda 0.1"]
    assert "L1Network" in rows["ch3 1,000 images: L1, lmbda 0.1"]["settings"]
    [run] = rows["ch3 learning-rate schedule (eta_schedule_n 10)"]["runs"]
    assert len(run["eta"]) == len(run["accuracy"]) <= 30 and run["eta"][0] == 0.5
    [whole] = rows["ch3 early stopping: the whole run, no rule"]["runs"]
    assert len(whole["accuracy"]) == 6
    for rule in ("no improvement in 10", "moving average, window 10"):
        [cut] = rows[f"ch3 early stopping: {rule}"]["runs"]
        assert cut["accuracy"] == whole["accuracy"][:len(cut["accuracy"])]
    table = (tmp_path / "table.md").read_text()
    assert "digits recognised in under half of their test images" in table
    assert "weights with |w| < 0.01 at the end" in table
    assert "eta 0.5 -> " in table and "epochs used [6]" in table
    for chapter in ("ch1", "ch3"):
        assert (tmp_path / f"{chapter}-comparison.png").read_bytes()[:4] == b"\x89PNG"
