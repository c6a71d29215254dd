"""Tests of network.py: the gradients, the matrix form, seeding, the data
handling of SGD and evaluate, input checks, and training on real MNIST."""

import copy
import random
import re
import warnings

import numpy as np
import pytest

import network
from reference_loops import per_example_epoch, summed_gradients  # the book's loop


#### Helpers

def random_pairs(rng, n, n_in, n_out, labels=False):
    """n pairs of a random (n_in, 1) input and a (n_out, 1) target in [0, 1]
    (or an integer label)."""
    pairs = []
    for _ in range(n):
        x = rng.standard_normal((n_in, 1))
        y = int(rng.integers(n_out)) if labels else rng.random((n_out, 1))
        pairs.append((x, y))
    return pairs


def seeded_network(sizes, seed=0):
    np.random.seed(seed)
    return network.Network(sizes)


def quadratic_cost(net, x, y):
    return 0.5 * float(np.sum((net.feedforward(x) - y) ** 2))


def max_difference(net_a, net_b):
    return max(np.abs(p - q).max() for p, q in
               zip(net_a.weights + net_a.biases, net_b.weights + net_b.biases))


@pytest.fixture(scope="module")
def mnist():
    import mnist_loader
    return mnist_loader.load_data_wrapper()


#### The network's construction

def test_init_shapes_and_draw_order():
    sizes = [5, 4, 3, 2]
    net = seeded_network(sizes, seed=7)
    assert net.num_layers == 4
    assert net.sizes == sizes
    assert [b.shape for b in net.biases] == [(4, 1), (3, 1), (2, 1)]
    assert [w.shape for w in net.weights] == [(4, 5), (3, 4), (2, 3)]
    # N(0, 1) draws from np.random: biases layer by layer, then weights.
    np.random.seed(7)
    expected = ([np.random.randn(n, 1) for n in sizes[1:]]
                + [np.random.randn(o, i) for i, o in zip(sizes[:-1], sizes[1:])])
    for got, want in zip(net.biases + net.weights, expected):
        assert np.array_equal(got, want)


def test_feedforward_matrix_of_columns_equals_one_by_one():
    rng = np.random.default_rng(1)
    net = seeded_network([6, 5, 3], seed=1)
    inputs = rng.standard_normal((6, 8))
    together = net.feedforward(inputs)
    assert together.shape == (3, 8)
    for i in range(8):
        np.testing.assert_allclose(together[:, i:i + 1],
                                   net.feedforward(inputs[:, i:i + 1]),
                                   rtol=0, atol=1e-14)


#### sigmoid

def test_sigmoid_same_values_as_the_formula():
    z = np.concatenate([np.linspace(-709, 709, 20001),
                        np.random.default_rng(2).standard_normal(1000) * 30])
    assert np.array_equal(network.sigmoid(z), 1.0 / (1.0 + np.exp(-z)))
    assert network.sigmoid(0.0) == 0.5
    assert isinstance(network.sigmoid(0.5), float)
    s = network.sigmoid(np.array([[-3.0], [3.0]]))
    assert s.shape == (2, 1) and s[0, 0] + s[1, 0] == pytest.approx(1.0)


def test_sigmoid_huge_inputs_no_overflow():
    z = np.array([-1e308, -1e4, -746.0, -710.0, 710.0, 1e4, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            s = network.sigmoid(z)
            sp = network.sigmoid_prime(z)
    assert np.all(s[:4] >= 0) and np.all(s[:4] < 1.3e-308)
    assert np.all(s[4:] == 1.0)
    assert np.all(np.isfinite(sp)) and np.all(sp >= 0) and np.all(sp < 1.3e-308)
    # The formula written directly does overflow here: the check above is real.
    with pytest.warns(RuntimeWarning):
        1.0 / (1.0 + np.exp(-z))


def test_sigmoid_prime_matches_finite_differences():
    z = np.linspace(-8, 8, 161)
    h = 1e-6
    numeric = (network.sigmoid(z + h) - network.sigmoid(z - h)) / (2 * h)
    np.testing.assert_allclose(network.sigmoid_prime(z), numeric, rtol=0, atol=1e-9)


#### Gradients: backprop, and the matrix form against it

@pytest.mark.parametrize("sizes", [[3, 4, 2], [5, 3, 4, 2], [2, 3]])
def test_backprop_matches_finite_differences(sizes):
    rng = np.random.default_rng(3)
    net = seeded_network(sizes, seed=3)
    (x, y), = random_pairs(rng, 1, sizes[0], sizes[-1])
    nabla_b, nabla_w = net.backprop(x, y)
    h = 1e-6
    for analytic, params in zip(nabla_b + nabla_w, net.biases + net.weights):
        assert analytic.shape == params.shape
        numeric = np.zeros_like(params)
        for idx in np.ndindex(params.shape):
            saved = params[idx]
            params[idx] = saved + h
            plus = quadratic_cost(net, x, y)
            params[idx] = saved - h
            minus = quadratic_cost(net, x, y)
            params[idx] = saved
            numeric[idx] = (plus - minus) / (2 * h)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("sizes", [[4, 3], [6, 5, 3], [10, 7, 4, 2], [20, 15, 10, 5]])
@pytest.mark.parametrize("m", [1, 3, 7, 10])
def test_update_mini_batch_equals_summed_backprop(sizes, m):
    rng = np.random.default_rng(sum(sizes) * 100 + m)
    net = seeded_network(sizes, seed=m)
    reference = copy.deepcopy(net)
    batch = random_pairs(rng, m, sizes[0], sizes[-1])
    # With eta = m, each parameter moves by exactly the summed gradient.
    sum_b, sum_w = summed_gradients(reference, batch)
    reference.biases = [b - s for b, s in zip(reference.biases, sum_b)]
    reference.weights = [w - s for w, s in zip(reference.weights, sum_w)]
    net.update_mini_batch(batch, float(m))
    assert max_difference(net, reference) < 1e-10
    assert max(np.abs(s).max() for s in sum_w) > 1e-3  # the step was not trivial


@pytest.mark.parametrize("n, m, epochs", [(23, 5, 2), (17, 17, 1), (10, 3, 3), (9, 20, 1)])
def test_sgd_equals_the_books_per_example_loop(n, m, epochs):
    """Same seeds, same mini-batches (including a last, smaller one), same
    weights: SGD's matrix form and shuffled index list reproduce the book's
    algorithm, which shuffles the list of examples in place each epoch."""
    sizes = [6, 5, 3]
    data = random_pairs(np.random.default_rng(n), n, 6, 3)
    fast = seeded_network(sizes, seed=11)
    slow = copy.deepcopy(fast)
    random.seed(5)
    fast.SGD(data, epochs, m, 2.5)
    random.seed(5)
    books_list = list(data)
    for _ in range(epochs):
        per_example_epoch(slow, books_list, m, 2.5, n_batches=-(-n // m))
    assert max_difference(fast, slow) < 1e-10
    assert max_difference(fast, seeded_network(sizes, seed=11)) > 1e-3


#### Seeding, and what SGD does with the caller's data

def train_seeded(seed, data, np_seed=None):
    np.random.seed(seed if np_seed is None else np_seed)
    random.seed(seed)
    net = network.Network([8, 6, 4])
    net.SGD(data, 3, 4, 3.0)
    return net


def test_seeded_runs_are_identical(capsys):
    data = random_pairs(np.random.default_rng(4), 30, 8, 4)
    a = train_seeded(123, data)
    b = train_seeded(123, data)
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(p, q)
    # Another shuffle seed (same initial weights) gives another result.
    c = train_seeded(124, data, np_seed=123)
    assert max_difference(a, c) > 1e-6


def test_sgd_leaves_the_callers_list_alone(capsys):
    data = random_pairs(np.random.default_rng(5), 25, 8, 4)
    order = [id(pair) for pair in data]
    contents = [(x.copy(), y.copy()) for x, y in data]
    train_seeded(1, data)
    assert [id(pair) for pair in data] == order
    for (x, y), (x0, y0) in zip(data, contents):
        assert np.array_equal(x, x0) and np.array_equal(y, y0)


def test_each_step_leaves_new_arrays_as_the_books_does(capsys):
    """The book's step builds new weight and bias arrays (and new lists of
    them): a reference to the old ones keeps the old values, and the new
    values are exactly w - (eta/m) * nabla_w and b - (eta/m) * nabla_b."""
    net = seeded_network([8, 6, 4])
    data = random_pairs(np.random.default_rng(8), 12, 8, 4)
    weights, biases = net.weights, net.biases
    held = weights + biases
    before = [p.copy() for p in held]
    nabla_b, nabla_w = net.backprop(np.hstack([x for x, _ in data[:5]]),
                                    np.hstack([y for _, y in data[:5]]))
    net.update_mini_batch(data[:5], 1.0)
    assert net.weights is not weights and net.biases is not biases
    assert all(np.array_equal(p, q) for p, q in zip(held, before))
    for new, old, nabla in zip(net.weights + net.biases, held, nabla_w + nabla_b):
        assert np.array_equal(new, old - (1.0 / 5) * nabla)
    step_one = net.weights + net.biases
    net.SGD(data, 2, 5, 1.0)
    assert all(np.array_equal(p, q) for p, q in zip(held, before))
    assert all(p is not q for p, q in zip(step_one, net.weights + net.biases))


def test_two_networks_built_from_the_same_arrays_train_independently(capsys):
    first = seeded_network([8, 6, 4])
    second = network.Network([8, 6, 4])
    second.weights, second.biases = list(first.weights), list(first.biases)
    start = copy.deepcopy(first)
    first.SGD(random_pairs(np.random.default_rng(9), 10, 8, 4), 1, 5, 3.0)
    assert max_difference(second, start) == 0
    second.SGD(random_pairs(np.random.default_rng(10), 10, 8, 4), 1, 5, 3.0)
    assert max_difference(first, second) > 1e-3


def test_interrupted_sgd_keeps_what_was_learnt(capsys):
    """Ctrl-C in the middle of an epoch: the steps taken so far are in the
    network's weights, exactly as if training had stopped there."""
    data = random_pairs(np.random.default_rng(10), 20, 8, 4)
    batches = []

    class Interrupted(network.Network):
        def update_mini_batch(self, mini_batch, eta):
            if len(batches) == 3:
                raise KeyboardInterrupt
            batches.append(list(mini_batch))
            super().update_mini_batch(mini_batch, eta)

    np.random.seed(0)
    net = Interrupted([8, 6, 4])
    reference = copy.deepcopy(net)
    with pytest.raises(KeyboardInterrupt):
        net.SGD(data, 2, 4, 3.0)
    for mini_batch in batches:
        network.Network.update_mini_batch(reference, mini_batch, 3.0)
    assert max_difference(net, reference) == 0
    assert max_difference(net, seeded_network([8, 6, 4])) > 1e-3


def test_ctrl_c_anywhere_in_a_step_leaves_the_old_network_or_the_new(ctrl_c_at):
    """A real SIGINT at each point of update_mini_batch in turn: each one
    interrupts the step, which has then changed nothing or been taken
    whole, weights and biases alike."""
    batch = random_pairs(np.random.default_rng(11), 4, 8, 4)
    net = seeded_network([8, 6, 4])
    old = copy.deepcopy(net)
    new = copy.deepcopy(net)
    new.update_mini_batch(batch, 3.0)
    outcomes = []
    for k in range(1, 1000):
        net.weights, net.biases = list(old.weights), list(old.biases)
        passed, interrupted = ctrl_c_at(lambda: net.update_mini_batch(batch, 3.0),
                                        network.__file__, k)
        if passed < k:  # no point left to interrupt at: the step ran whole
            assert not interrupted and max_difference(net, new) == 0
            break
        assert interrupted, k
        outcomes.append("old" if max_difference(net, old) == 0 else
                        "new" if max_difference(net, new) == 0 else "a mix")
    assert len(outcomes) > 10 and set(outcomes) <= {"old", "new"}, outcomes
    assert outcomes[0] == "old"


#### The book's methods are what trains

def test_sgd_calls_the_books_chain_once_per_mini_batch(capsys):
    """SGD -> update_mini_batch -> backprop -> cost_derivative, one call of
    each per mini-batch, with the mini-batch as columns in backprop."""
    calls = {"update_mini_batch": [], "backprop": [], "cost_derivative": []}

    class Counted(network.Network):
        def update_mini_batch(self, mini_batch, eta):
            calls["update_mini_batch"].append(len(mini_batch))
            super().update_mini_batch(mini_batch, eta)

        def backprop(self, x, y):
            calls["backprop"].append(x.shape)
            return super().backprop(x, y)

        def cost_derivative(self, output_activations, y):
            calls["cost_derivative"].append(output_activations.shape)
            return super().cost_derivative(output_activations, y)

    np.random.seed(1)
    net = Counted([8, 6, 4])
    net.SGD(random_pairs(np.random.default_rng(1), 23, 8, 4), 2, 5, 1.0)
    # 23 examples in mini-batches of 5: 4 full ones and one of 3, per epoch.
    assert calls["update_mini_batch"] == [5, 5, 5, 5, 3] * 2
    assert calls["backprop"] == [(8, 5)] * 4 + [(8, 3)] + [(8, 5)] * 4 + [(8, 3)]
    assert calls["cost_derivative"] == [(4, m) for m in [5, 5, 5, 5, 3] * 2]


def test_a_zero_cost_derivative_leaves_the_network_unchanged(capsys):
    class Indifferent(network.Network):
        def cost_derivative(self, output_activations, y):
            return np.zeros_like(output_activations)

    np.random.seed(2)
    net = Indifferent([8, 6, 4])
    before = copy.deepcopy(net)
    net.SGD(random_pairs(np.random.default_rng(2), 20, 8, 4), 2, 5, 3.0)
    assert max_difference(net, before) == 0


def test_a_zero_sigmoid_prime_leaves_the_network_unchanged(monkeypatch, capsys):
    data = random_pairs(np.random.default_rng(3), 20, 8, 4)
    net = seeded_network([8, 6, 4], seed=3)
    before = copy.deepcopy(net)
    monkeypatch.setattr(network, "sigmoid_prime", np.zeros_like)
    net.SGD(data, 2, 5, 3.0)
    assert max_difference(net, before) == 0
    monkeypatch.undo()
    net.SGD(data, 1, 5, 3.0)
    assert max_difference(net, before) > 1e-3


def test_another_activation_changes_the_output(monkeypatch):
    net = seeded_network([8, 6, 4], seed=4)
    x = np.random.default_rng(4).standard_normal((8, 1))
    monkeypatch.setattr(network, "sigmoid", np.tanh)
    a = net.feedforward(x)
    expected = np.tanh(net.weights[1] @ np.tanh(net.weights[0] @ x + net.biases[0])
                       + net.biases[1])
    assert np.allclose(a, expected) and a.min() < 0


def test_a_network_of_its_own_seed_ignores_the_global_generators(capsys):
    data = random_pairs(np.random.default_rng(5), 20, 8, 4)
    runs = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        random.seed(global_seed)
        net = network.Network([8, 6, 4], seed=77)
        net.SGD(data, 2, 5, 3.0)
        runs.append(net)
    assert max_difference(*runs) == 0
    assert max_difference(runs[0], seeded_network([8, 6, 4], seed=77)) > 1e-3


def test_sgd_accepts_zip_objects(capsys):
    rng = np.random.default_rng(6)
    data = random_pairs(rng, 20, 8, 4)
    tests = random_pairs(rng, 7, 8, 4, labels=True)
    from_list = train_seeded(9, data)
    np.random.seed(9)
    random.seed(9)
    from_zip = network.Network([8, 6, 4])
    xs, ys = zip(*data)
    from_zip.SGD(zip(xs, ys), 3, 4, 3.0, test_data=zip(*zip(*tests)))
    assert max_difference(from_list, from_zip) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Epoch 2: \d+ / 7", lines[-1])


def test_sgd_prints_the_books_lines(capsys):
    rng = np.random.default_rng(7)
    net = seeded_network([8, 6, 4])
    net.SGD(random_pairs(rng, 12, 8, 4), 2, 5, 1.0)
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"
    tests = random_pairs(rng, 9, 8, 4, labels=True)
    net.SGD(random_pairs(rng, 12, 8, 4), 2, 5, 1.0, test_data=tests)
    out = capsys.readouterr().out
    assert out == f"Epoch 0: {out.split()[2]} / 9\nEpoch 1: {net.evaluate(tests)} / 9\n"


def test_evaluate_equals_a_count_one_at_a_time():
    rng = np.random.default_rng(8)
    net = seeded_network([10, 8, 5], seed=8)
    tests = random_pairs(rng, 300, 10, 5, labels=True)
    one_by_one = sum(int(np.argmax(net.feedforward(x)) == y) for x, y in tests)
    assert net.evaluate(tests) == one_by_one
    assert 0 < one_by_one < 300
    # numpy integer labels work too, as do inputs handed over as a zip.
    xs, ys = zip(*tests)
    assert net.evaluate(zip(xs, np.array(ys))) == one_by_one


#### Clear errors up front

@pytest.fixture
def small_net():
    return seeded_network([4, 3, 2])


def good_pair():
    return np.zeros((4, 1)), np.zeros((2, 1))


@pytest.mark.parametrize("data, message", [
    ([(np.zeros(4), np.zeros((2, 1)))], r"shape \(4,\).*reshape\(4, 1\)"),
    ([(np.zeros((1, 4)), np.zeros((2, 1)))], r"shape \(1, 4\).*not a row"),
    ([(np.zeros((5, 1)), np.zeros((2, 1)))], r"training_data\[0\]\[0\].*\(5, 1\).*\(4, 1\).*sizes"),
    ([good_pair(), (np.zeros((4, 1)), np.zeros((3, 1)))], r"training_data\[1\]\[1\].*\(3, 1\)"),
    ([(np.zeros((4, 1)), 1)], r"integer 1.*vectorized_result\(1\)"),
    ([(np.zeros((4, 1)),)], r"training_data\[0\] should be an \(x, y\) pair"),
    ([(np.array([["a"]] * 4), np.zeros((2, 1)))], r"should hold numbers"),
    ([], r"training_data is empty"),
])
def test_sgd_rejects_bad_training_data(small_net, data, message):
    with pytest.raises(ValueError, match=message):
        small_net.SGD(data, 1, 1, 1.0)


@pytest.mark.parametrize("tests, message", [
    ([(np.zeros((4, 1)), np.zeros((2, 1)))], r"test_data\[0\]\[1\].*integer.*shape \(2, 1\)"),
    ([(np.zeros((4, 1)), 2)], r"label y\) is 2, outside 0..1"),
    ([(np.zeros((4, 1)), -1)], r"outside 0..1"),
    ([(np.zeros((4, 1)), 1.0)], r"integer.*float"),
    ([(np.zeros(4), 1)], r"test_data\[0\]\[0\].*reshape"),
])
def test_evaluate_and_sgd_reject_bad_test_data(small_net, tests, message):
    with pytest.raises(ValueError, match=message):
        small_net.evaluate(tests)
    with pytest.raises(ValueError, match=message):
        small_net.SGD([good_pair()], 1, 1, 1.0, test_data=tests)


@pytest.mark.parametrize("epochs, mini_batch_size, eta, message", [
    (-1, 10, 3.0, r"epochs must be an integer >= 0; got -1"),
    (2.0, 10, 3.0, r"epochs must be an integer >= 0; got 2.0"),
    (1, 0, 3.0, r"mini_batch_size must be an integer >= 1; got 0"),
    (1, -5, 3.0, r"mini_batch_size must be an integer >= 1"),
    (1, 2.5, 3.0, r"mini_batch_size must be an integer >= 1"),
    (1, True, 3.0, r"mini_batch_size must be an integer >= 1"),
    (1, 10, float("nan"), r"eta .* must be a finite number"),
    (1, 10, "3.0", r"eta .* must be a finite number"),
])
def test_sgd_rejects_bad_settings(small_net, epochs, mini_batch_size, eta, message):
    before = copy.deepcopy(small_net)
    with pytest.raises(ValueError, match=message):
        small_net.SGD([good_pair()], epochs, mini_batch_size, eta)
    assert max_difference(small_net, before) == 0


def test_consumed_zip_gives_a_clear_error(small_net):
    data = zip([np.zeros((4, 1))], [np.zeros((2, 1))])
    list(data)
    with pytest.raises(ValueError, match=r"empty.*read only once"):
        small_net.SGD(data, 1, 1, 1.0)


def test_bad_shapes_in_the_other_methods(small_net):
    with pytest.raises(ValueError, match=r"x \(the input\) has shape \(4,\).*reshape"):
        small_net.backprop(np.zeros(4), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"y \(the desired output\) has shape \(2,\)"):
        small_net.backprop(np.zeros((4, 1)), np.zeros(2))
    with pytest.raises(ValueError, match=r"the input a has shape \(4,\)"):
        small_net.feedforward(np.zeros(4))
    with pytest.raises(ValueError, match=r"the input a has shape \(3, 1\)"):
        small_net.feedforward(np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"mini_batch\[0\]\[0\]"):
        small_net.update_mini_batch([(np.zeros(4), np.zeros((2, 1)))], 1.0)
    with pytest.raises(ValueError, match=r"iterable of \(x, y\) pairs"):
        small_net.evaluate(5)


@pytest.mark.parametrize("sizes", [[784], [], [784, 0, 10], [784, 30.5, 10], [784, -3]])
def test_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes|layer size"):
        network.Network(sizes)


#### Large learning rates: no overflow warnings

def test_huge_weighted_inputs_raise_no_warnings(capsys):
    rng = np.random.default_rng(9)
    np.random.seed(9)
    random.seed(9)
    net = network.Network([5, 4, 3])
    for w in net.weights:
        w *= 1000.0
    data = random_pairs(rng, 20, 5, 3)
    tests = random_pairs(rng, 10, 5, 3, labels=True)
    # The first layer's weighted inputs go far below -709, where the
    # formula 1/(1 + exp(-z)) written directly overflows.
    z = np.hstack([net.weights[0] @ x + net.biases[0] for x, _ in data])
    assert z.min() < -709
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            net.backprop(*data[0])
            net.SGD(data, 2, 3, 100.0, test_data=tests)
            net.evaluate(tests)
    assert all(np.all(np.isfinite(p)) for p in net.weights + net.biases)


def test_eta_100_on_mnist_raises_no_warnings(mnist, capsys):
    training_data, _, test_data = mnist
    np.random.seed(12345678)
    random.seed(12345678)
    net = network.Network([784, 30, 10])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            net.SGD(training_data[:10000], 2, 10, 100.0, test_data=test_data)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all(re.fullmatch(rf"Epoch {j}: \d+ / 10000", line)
               for j, line in enumerate(lines))


#### Real MNIST

@pytest.mark.slow
def test_mnist_training_reaches_93_percent(mnist, capsys):
    """The chapter 1 network, [784, 30, 10] with eta 3.0 and mini-batches
    of 10, with the book's seed: five epochs reach at least 93% on the
    test set (the book reports 95.42% after 30 epochs)."""
    training_data, _, test_data = mnist
    np.random.seed(12345678)
    random.seed(12345678)
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 5, 10, 3.0, test_data=test_data)
    lines = capsys.readouterr().out.splitlines()
    counts = []
    for j, line in enumerate(lines):
        match = re.fullmatch(rf"Epoch {j}: (\d+) / 10000", line)
        assert match, line
        counts.append(int(match.group(1)))
    assert len(counts) == 5
    assert counts[-1] >= 9300, counts
    assert net.evaluate(test_data) == counts[-1]
    assert len(training_data) == 50000 and training_data[0][0].shape == (784, 1)


#### Saving and loading (network2's JSON format)
def test_save_load_round_trip_in_network2_format(tmp_path):
    import json
    import os

    import network2
    net = network.Network([5, 4, 3], seed=6)
    path = tmp_path / "net.json"
    net.save(path)
    assert os.listdir(tmp_path) == ["net.json"]  # no temporary file left
    data = json.loads(path.read_text())
    assert sorted(data) == ["biases", "cost", "sizes", "weights"]
    assert data["sizes"] == [5, 4, 3] and data["cost"] == "QuadraticCost"
    x = np.random.default_rng(2).random((5, 7))
    for loaded in (network.load(path), network2.load(path)):
        assert loaded.sizes == [5, 4, 3]
        for a, b in zip(net.weights + net.biases, loaded.weights + loaded.biases):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(net.feedforward(x), loaded.feedforward(x))
    # network2's save of a quadratic-cost net is read by network.load too.
    other = network2.Network([5, 4, 3], cost=network2.QuadraticCost, seed=1)
    other.save(tmp_path / "n2.json")
    np.testing.assert_array_equal(network.load(tmp_path / "n2.json").feedforward(x),
                                  other.feedforward(x))


@pytest.mark.parametrize("text, problem", [
    ("not json", "not JSON text"),
    ("[1, 2]", "expected a JSON object"),
    ('{"sizes": [2, 1], "weights": [[[1.0, 2.0]]], "biases": [[[0.0]]]}',
     "missing key.*'cost'"),
    ('{"sizes": [2, 1], "weights": [[[1.0, 2.0]]], "biases": [[[0.0]]], '
     '"cost": "CrossEntropyCost"}', "only the quadratic cost"),
    ('{"sizes": [2, 1], "weights": [[[1.0, 2.0, 3.0]]], "biases": [[[0.0]]], '
     '"cost": "QuadraticCost"}', r"weights\[0\] has shape \(1, 3\)"),
    ('{"sizes": [2, 1], "weights": [[["a", "b"]]], "biases": [[[0.0]]], '
     '"cost": "QuadraticCost"}', "only numbers"),
    ('{"sizes": [2, 0], "weights": [], "biases": [], "cost": "QuadraticCost"}',
     "sizes must list"),
    ('{"sizes": [2, 1], "weights": [[[1.0, NaN]]], "biases": [[[0.0]]], '
     '"cost": "QuadraticCost"}', "not a finite number"),
    ('{"sizes": [2, 1], "weights": [[[1.0, 1e999]]], "biases": [[[0.0]]], '
     '"cost": "QuadraticCost"}', "not a finite number"),
    ('{"sizes": [2, 1], "weights": [[[1.0, true]]], "biases": [[[0.0]]], '
     '"cost": "QuadraticCost"}', "only numbers"),
    ('{"sizes": [2, 1], "weights": [[[1.0], [2.0, 3.0]]], "biases": [[[0.0]]], '
     '"cost": "QuadraticCost"}', "not a rectangular matrix"),
])
def test_load_rejects_malformed_files_naming_file_and_problem(tmp_path, text, problem):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"bad\.json.*not a saved network\.py network: .*{problem}"):
        network.load(path)


@pytest.mark.parametrize("cost, hint", [("CrossEntropyCost", True), ("LogLikelihood", False)])
def test_load_points_to_network2_only_for_a_cost_network2_reads(tmp_path, cost, hint):
    path = tmp_path / "net.json"
    path.write_text('{"sizes": [2, 1], "weights": [[[1.0, 2.0]]], "biases": [[[0.0]]], '
                    f'"cost": "{cost}"}}')
    with pytest.raises(ValueError) as error:
        network.load(path)
    assert str(error.value).endswith("trains only the quadratic cost" +
                                     (" (network2.load reads it)" if hint else ""))
    if hint:
        import network2
        assert network2.load(path).sizes == [2, 1]


def test_load_refuses_a_file_over_the_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(network, "MAX_NETWORK_FILE_BYTES", 100)
    path = tmp_path / "big.json"
    network.Network([5, 4, 3], seed=0).save(path)
    with pytest.raises(ValueError, match=r"big\.json.*larger than the 100 bytes"):
        network.load(path)
