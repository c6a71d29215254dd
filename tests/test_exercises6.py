"""Tests of exercises6: chapter 6's answers, on small networks and data."""

import contextlib
import io
import math

import numpy as np
import pytest
import torch

import exercises6
import network3
from exercises6 import AugmentedNetwork, ScheduledNetwork
from network3 import FullyConnectedLayer, Network, SoftmaxLayer


@pytest.fixture(scope="module")
def mnist():
    training, validation, test = network3.load_data_shared()
    return ((training[0][:500], training[1][:500]), (validation[0][:200], validation[1][:200]),
            (test[0][:200], test[1][:200]))


def small_layers(seed):
    rng = np.random.RandomState(seed)
    return [FullyConnectedLayer(n_in=784, n_out=20, rng=rng),
            SoftmaxLayer(n_in=20, n_out=10)]


def params(net):
    return [p.detach().clone() for p in net.params]


def test_conv_layers_omit_fc_and_activation():
    layers = exercises6.conv_layers(10, network3.tanh)
    assert [type(l).__name__ for l in layers] == ["ConvPoolLayer", "FullyConnectedLayer",
                                                  "SoftmaxLayer"]
    assert layers[0].activation_fn is network3.tanh and layers[1].activation_fn is network3.tanh
    omitted = exercises6.conv_layers(10, omit_FC=True)
    assert [type(l).__name__ for l in omitted] == ["ConvPoolLayer", "SoftmaxLayer"]
    assert omitted[1].n_in == 20 * 12 * 12
    net = Network(omitted, 10, seed=0)
    assert net.predict(torch.zeros(3, 784)).shape == (3,)


def printed(fn, *args, **kwargs):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        fn(*args, **kwargs)
    return buffer.getvalue()


def test_scheduled_sgd_without_options_trains_as_network3s_sgd(mnist):
    training, validation, test = mnist
    ours, theirs = ScheduledNetwork(small_layers(1), 10), Network(small_layers(1), 10)
    ours_printed = printed(ours.SGD, training, 2, 10, 0.5, validation, test)
    theirs_printed = printed(theirs.SGD, training, 2, 10, 0.5, validation, test)
    for a, b in zip(params(ours), params(theirs)):
        assert torch.equal(a, b)
    assert ours_printed == theirs_printed
    assert ours.validation_accuracies == theirs.validation_accuracies
    assert ours.eta_history == [0.5, 0.5] and ours.stop_reason is None
    assert ours.training_accuracies == []


def test_scheduled_sgd_computes_on_network3s_threads(mnist):
    training, validation, _ = mnist
    seen = []

    def watched_sigmoid(z):
        seen.append(torch.get_num_threads())
        return torch.sigmoid(z)
    saved = torch.get_num_threads()
    callers = 3 if saved != 3 else 2
    torch.set_num_threads(callers)
    try:
        layers = small_layers(6)
        layers[0].activation_fn = watched_sigmoid
        net = ScheduledNetwork(layers, 10)
        printed(net.SGD, training, 2, 10, 0.5, validation, None, eta_schedule_n=1,
                monitor_training_accuracy=True)
        expected = network3.CPU_TRAINING_THREADS if network3.device.type == "cpu" else callers
        assert len(seen) > 100 and set(seen) == {expected}
        assert torch.get_num_threads() == callers
    finally:
        torch.set_num_threads(saved)


def test_early_stopping_and_schedule_count_epochs_without_a_new_best(mnist):
    training, validation, test = mnist
    # A step too small to change float32 weights: the accuracy never improves.
    net = ScheduledNetwork(small_layers(2), 10)
    net.SGD(training, 50, 10, 1e-12, validation, test, early_stopping_n=3)
    assert len(net.validation_accuracies) == 4 and net.stop_reason == "early_stopping"
    assert net.test_accuracy == net.accuracy(test)
    net = ScheduledNetwork(small_layers(2), 10)
    net.SGD(training, 50, 10, 1e-12, validation, None, eta_schedule_n=1)
    assert net.eta_history == [1e-12 / 2 ** k for k in (0, 0, 1, 2, 3, 4, 5, 6)]
    assert net.stop_reason == "eta_schedule"
    with pytest.raises(ValueError, match="mini_batch_size=20, but the network was built for "
                                         "mini-batches of 10"):
        net.SGD(training, 1, 20, 0.1, validation, None)
    with pytest.raises(ValueError, match="early_stopping_n must be an integer >= 0"):
        net.SGD(training, 1, 10, 0.1, validation, None, early_stopping_n=-1)


def test_training_accuracy_is_recorded_and_plotted(mnist, tmp_path):
    training, validation, _ = mnist
    net = ScheduledNetwork(small_layers(3), 10)
    net.SGD(training, 3, 10, 0.5, validation, None, monitor_training_accuracy=True)
    assert len(net.training_accuracies) == 3
    assert net.training_accuracies[-1] == net.accuracy(training)
    path = exercises6.plot_training_vs_validation(net, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_accuracy_on_counts_every_example(mnist):
    _, validation, _ = mnist
    net = Network(small_layers(4), 10)
    x = validation[0][:25]
    labels = net.predict(x)
    labels[20:] = (labels[20:] + 1) % 10       # the last, partial mini-batch all wrong
    assert exercises6.accuracy_on(net, (x, torch.as_tensor(labels))) == 0.8
    assert exercises6.accuracy_on(net, (x.cpu().numpy(), labels)) == 0.8
    assert net.accuracy((x, torch.as_tensor(labels))) == 1.0  # drops the partial batch


def test_affine_images_shift_rotate_and_skew():
    image = torch.zeros(28, 28)
    image[5:20, 10] = 1
    image[5, 10:18] = 1
    x, zero = image.reshape(1, 784), torch.zeros(1)
    same = exercises6.affine_images(x, zero, zero, torch.zeros(1, 2))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    right = exercises6.affine_images(x, zero, zero, torch.tensor([[1.0, 0.0]])).reshape(28, 28)
    torch.testing.assert_close(right[:, 1:], image[:, :-1], atol=1e-5, rtol=0)
    down = exercises6.affine_images(x, zero, zero, torch.tensor([[0.0, 2.0]])).reshape(28, 28)
    torch.testing.assert_close(down[2:], image[:-2], atol=1e-5, rtol=0)
    turned = exercises6.affine_images(x, torch.tensor([math.pi / 2]), zero, torch.zeros(1, 2))
    np.testing.assert_allclose(turned.reshape(28, 28).numpy(), np.rot90(image.numpy()),
                               atol=1e-5)
    line = torch.zeros(28, 28)
    line[4:24, 14] = 1
    skewed = exercises6.affine_images(line.reshape(1, 784), zero, torch.tensor([0.5]),
                                      torch.zeros(1, 2)).reshape(28, 28)
    columns = torch.arange(28, dtype=torch.float32)
    top = (skewed[4:10] * columns).sum() / skewed[4:10].sum()
    bottom = (skewed[18:24] * columns).sum() / skewed[18:24].sum()
    assert top - bottom == pytest.approx(0.5 * 14, abs=1.0)   # rows 14 apart, skew 0.5


def test_augmented_step_is_the_books_step_on_augmented_images(mnist):
    training, _, _ = mnist
    x, y = training[0][:10], training[1][:10]
    net = AugmentedNetwork(small_layers(5), 10, seed=7)
    twin = AugmentedNetwork(small_layers(5), 10, seed=7)
    plain = ScheduledNetwork(small_layers(5), 10)
    augmented = twin.augment(x)
    assert (augmented - x).abs().max() > 0.1
    assert augmented.sum().item() == pytest.approx(x.sum().item(), rel=0.15)
    net.update_mini_batch(x, y, 0.5, 0.0, 50)
    plain.update_mini_batch(augmented, y, 0.5, 0.0, 50)
    for a, b in zip(params(net), params(plain)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    still = AugmentedNetwork(small_layers(5), 10, max_rotation=0, max_shift=0, max_skew=0)
    torch.testing.assert_close(still.augment(x), x, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_script_conv_rows_on_a_few_images(tmp_path):
    import json

    import exercises
    exercises.main(["--only", "conv", "--epochs", "1", "--runs", "1",
                    "--conv-training-size", "200", "--conv-validation-size", "100",
                    "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "results.json").read_text())["experiments"]
    names = [row["name"] for row in rows]
    assert names == ["ch6 basic conv (sigmoid)", "ch6 omit_FC", "ch6 tanh",
                     "ch6 early stopping + eta schedule", "ch6 on-the-fly augmentation",
                     "ch6 expanded data (same images seen)"]
    baseline = rows[0]["runs"][0]
    assert len(baseline["accuracy"]) == len(baseline["training"]) == 2
    assert "200 training images" in rows[0]["settings"]
    assert "1,000 training images, 1 epochs" in rows[-1]["settings"]
    assert len(rows[3]["runs"][0]["accuracy"]) <= 4
    assert (tmp_path / "ch6-training-vs-validation.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["--conv-training-size", "-5"], "--conv-training-size: must be at least 1, got -5"),
    (["--conv-training-size", "5"], "--conv-training-size must lie between 10"),
    (["--conv-training-size", "50001"], "and 50000, got 50001"),
    (["--conv-validation-size", "0"], "--conv-validation-size: must be at least 1"),
    (["--conv-validation-size", "10001"], "and 10000, got 10001"),
    (["--seed", "-1"], "a seed lies between 0"),
    (["--seed", str(2**32 - 2), "--runs", "3"], "goes past the largest seed"),
    (["--runs", "0"], "--runs: must be at least 1"),
    (["--out", "{tmp}/file/sub"], "is not a folder")])
def test_exercises_script_refuses_bad_arguments_before_loading_data(argv, message, no_data,
                                                                    tmp_path, capsys):
    import exercises
    (tmp_path / "file").write_text("")
    argv = [a.format(tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as stopped:
        exercises.main(argv + ([] if "--out" in argv else ["--out", str(tmp_path)]))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_exercises_script_says_in_one_line_that_the_data_is_unfit(tmp_path, monkeypatch,
                                                                  capsys):
    import exercises
    import mnist_loader
    import safe_files

    def unfit():
        raise safe_files.DataFileError("data/mnist.pkl.gz: not a plain data pickle")
    monkeypatch.setattr(mnist_loader, "load_data_wrapper", unfit)
    with pytest.raises(SystemExit) as stopped:
        exercises.main(["--only", "softmax", "--out", str(tmp_path)])
    assert stopped.value.code == 1
    assert capsys.readouterr().err == \
        "exercises.py: data/mnist.pkl.gz: not a plain data pickle\n"


#### ReLU initialization, gradient norms, eta as a function of the epoch
def test_dbl_conv_layers_are_the_books_relu_net():
    layers = exercises6.dbl_conv_layers(10)
    assert [type(l).__name__ for l in layers] == ["ConvPoolLayer", "ConvPoolLayer",
                                                  "FullyConnectedLayer", "SoftmaxLayer"]
    assert all(l.activation_fn is network3.ReLU for l in layers[:3])
    assert layers[1].filter_shape == (40, 20, 5, 5) and layers[2].n_in == 640
    assert Network(layers, 10).predict(torch.zeros(2, 784)).shape == (2,)
    assert [exercises6.fan_in(l) for l in layers] == [25, 500, 640, 100]


def test_he_initialize_rescales_each_relu_layer_to_std_sqrt_2_over_n_in():
    np.random.seed(3)
    fresh = exercises6.dbl_conv_layers(10)
    np.random.seed(3)
    he = exercises6.he_initialize(exercises6.dbl_conv_layers(10))
    for layer, twin, n_in, default_std in zip(he[:3], fresh, (25, 500, 640),
                                              (math.sqrt(4 / 500), math.sqrt(4 / 1000), 0.1)):
        factor = math.sqrt(2 / n_in) / default_std
        torch.testing.assert_close(layer.w, twin.w * factor, rtol=1e-6, atol=0)
        assert torch.count_nonzero(layer.b) == 0
        # the draws have the stated spread (20,000 and 64,000 weights: within 2%)
        if layer.w.numel() > 10000:
            assert layer.w.std().item() == pytest.approx(math.sqrt(2 / n_in), rel=0.02)
    assert torch.count_nonzero(he[3].w) == 0        # the softmax layer keeps its zeros
    kept = exercises6.he_initialize(exercises6.dbl_conv_layers(10), zero_biases=False)
    assert torch.count_nonzero(kept[0].b) == 20
    with pytest.raises(ValueError, match="already initialized"):
        exercises6.he_initialize(he)
    with pytest.raises(ValueError, match="no layer uses ReLU"):
        exercises6.he_initialize(small_layers(0))


def tiny_relu_net(seed):
    rng = np.random.RandomState(seed)
    return ScheduledNetwork([
        network3.ConvPoolLayer(image_shape=(5, 1, 28, 28), filter_shape=(2, 1, 5, 5),
                               poolsize=(2, 2), activation_fn=network3.ReLU, rng=rng),
        FullyConnectedLayer(n_in=2 * 12 * 12, n_out=3, activation_fn=network3.ReLU, rng=rng),
        SoftmaxLayer(n_in=3, n_out=10)], 5)


def average_cost(net, x, y):
    """The log-likelihood averaged over (x, y), in float64, on the
    inference path."""
    with torch.no_grad():
        net.feedforward(x)
        z = net.layers[-1].z.double()
        return float(torch.nn.functional.cross_entropy(z, y))


def test_hidden_gradient_norms_are_the_norms_of_finite_difference_gradients():
    net = tiny_relu_net(1)
    with torch.no_grad():
        net.layers[-1].w.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(300, 784, generator=generator)       # more than one batch of 128
    y = torch.randint(0, 10, (300,), generator=generator)
    on_device = x.to(network3.device), y.to(network3.device)
    h = 1e-2
    expected = []
    for layer in net.layers[:-1]:
        grad = []
        for i in range(layer.b.numel()):
            with torch.no_grad():
                layer.b[i] += h
            up = average_cost(net, *on_device)
            with torch.no_grad():
                layer.b[i] -= 2 * h
            down = average_cost(net, *on_device)
            with torch.no_grad():
                layer.b[i] += h
            grad.append((up - down) / (2 * h))
        expected.append(float(np.linalg.norm(grad)))
    found = exercises6.hidden_gradient_norms(net, (x, y))
    assert len(found) == 2 and min(found) > 1e-3
    np.testing.assert_allclose(found, expected, rtol=2e-3)
    assert exercises6.hidden_gradient_norms(net, (x.numpy(), y.numpy())) == found
    with pytest.raises(ValueError, match="gradient_data: images of shape"):
        net.SGD((x, y), 1, 5, 0.1, (x, y), None, gradient_data=(x[:, :100], y))
    with pytest.raises(ValueError, match="labels of shape"):
        exercises6.hidden_gradient_norms(net, (x, y[:10]))


def test_gradient_norms_are_recorded_each_epoch_without_changing_training(mnist, tmp_path):
    training, validation, _ = mnist
    gradient_data = (training[0][:50], training[1][:50])
    net, plain = tiny_relu_net(2), tiny_relu_net(2)
    at_start = exercises6.hidden_gradient_norms(net, gradient_data)
    printed(net.SGD, training, 3, 5, 0.05, validation, None, gradient_data=gradient_data)
    printed(plain.SGD, training, 3, 5, 0.05, validation, None)
    for a, b in zip(params(net), params(plain)):
        assert torch.equal(a, b)
    assert net.validation_accuracies == plain.validation_accuracies
    assert len(net.gradient_norms) == 4 and net.gradient_norms[0] == at_start
    assert net.gradient_norms[-1] == exercises6.hidden_gradient_norms(net, gradient_data)
    assert net.gradient_norms[1] != net.gradient_norms[0]
    assert plain.gradient_norms == []
    path = exercises6.plot_gradient_norms(net, tmp_path / "norms.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eta_function_sets_the_eta_of_each_epoch(mnist):
    training, validation, _ = mnist
    etas = [0.5, 0.1, 0.02]
    net = exercises6.EtaFunctionNetwork(small_layers(7), 10)
    printed(net.SGD, training, 3, 10, lambda epoch: etas[epoch], validation, None, 0.5)
    assert net.eta_history == etas
    # the same as three one-epoch runs of network3's SGD, one at each eta
    plain = Network(small_layers(7), 10)
    for eta in etas:
        printed(plain.SGD, training, 1, 10, eta, validation, None, 0.5)
    for a, b in zip(params(net), params(plain)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # a number is network3's eta; later steps outside SGD take the eta given
    number = exercises6.EtaFunctionNetwork(small_layers(8), 10)
    printed(number.SGD, training, 2, 10, 0.3, validation, None)
    assert number.eta_history == [0.3, 0.3]
    before = params(net)
    net.update_mini_batch(training[0][:10], training[1][:10], 0.0, 0.0, 50)
    assert all(torch.equal(a, b) for a, b in zip(before, params(net)))


def test_eta_function_stops_early_and_refuses_what_it_cannot_do(mnist):
    training, validation, _ = mnist
    net = exercises6.EtaFunctionNetwork(small_layers(9), 10)
    # steps too small to change float32 weights: no new best after epoch 0
    printed(net.SGD, training, 20, 10, lambda j: 1e-12 * (j + 1), validation, None,
            early_stopping_n=2)
    assert net.eta_history == [1e-12, 2e-12, 3e-12] and net.stop_reason == "early_stopping"
    with pytest.raises(ValueError, match="eta_schedule_n must be 0"):
        net.SGD(training, 2, 10, lambda j: 0.1, validation, None, eta_schedule_n=1)
    with pytest.raises(ValueError, match=r"eta\(1\) gave nan; the learning rate must be"):
        printed(net.SGD, training, 3, 10, lambda j: 0.1 if j == 0 else float("nan"),
                validation, None)
    with pytest.raises(ValueError, match=r"eta\(0\) gave '0.1'"):
        net.SGD(training, 1, 10, lambda j: "0.1", validation, None)


@pytest.mark.slow
def test_script_relu_start_and_eta_function_rows_on_a_few_images(tmp_path):
    import json

    import exercises
    exercises.main(["--only", "relu_start", "eta_function", "--epochs", "6", "--runs", "1",
                    "--seed", "3", "--conv-training-size", "200",
                    "--conv-validation-size", "100", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "results.json").read_text())["experiments"]
    assert [row["name"] for row in rows] == [
        "ch6 dbl_conv_relu, network3's start", "ch6 dbl_conv_relu, He start",
        "ch6 basic conv, eta 0.1 throughout", "ch6 eta a function of the epoch: 0.1 -> 0.01"]
    for row in rows[:2]:                  # --epochs 6: the 10-epoch runs take 2
        assert "200 training images, 2 epochs, eta 0.03" in row["settings"]
        assert "gradient norms on the first 200 training images" in row["settings"]
        [run] = row["runs"]
        assert len(run["accuracy"]) == 2
        norms = np.array(run["gradient_norms"])
        assert norms.shape == (3, 3) and np.all(norms[0] == 0) and np.all(norms[1:] > 0)
        start = "network3" if "network3" in row["name"] else "he"
        png = tmp_path / f"ch6-gradient-norms-{start}-seed-3.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
    assert "He start (weights std sqrt(2/n_in), biases 0)" in rows[1]["settings"]
    assert rows[0]["runs"][0]["gradient_norms"] != rows[1]["runs"][0]["gradient_norms"]
    assert "eta 0.1 -> 0.01" in rows[3]["settings"]
    assert [row["runs"][0]["eta"] for row in rows] == [[0.03, 0.03], [0.03, 0.03],
                                                       [0.1, 0.1], [0.1, 0.01]]
    assert all(len(row["runs"][0]["accuracy"]) == 2 for row in rows[2:])
    table = (tmp_path / "table.md").read_text()
    assert "'ch6 eta a function of the epoch: 0.1 -> 0.01' (first run): 0.1, 0.01" in table
    assert "norm of dC/db of hidden layers 1, 2, 3" in table
    assert (tmp_path / "ch6-comparison.png").read_bytes()[:4] == b"\x89PNG"
