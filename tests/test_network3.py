"""Tests of network3: the chapter 6 layers, SGD, save/load and prediction.

The tests run on the device network3 picks (the CPU in CI; a CUDA GPU
where there is one, which also runs the CUDA-only tests).  The hand
computations are in float64 numpy, independent of PyTorch; the last tests
train the book's shallow and ReLU double-convolution networks on the real
MNIST data.
"""

import contextlib
import copy
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import network3
import safe_files
from network3 import (ConvPoolLayer, FullyConnectedLayer, Network, ReLU,
                      SoftmaxLayer, linear, sigmoid, tanh)

SRC = Path(network3.__file__).resolve().parent
DEV = network3.device


def quiet(fn, *args, **kwargs):
    """Call fn, returning the lines it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        fn(*args, **kwargs)
    return buffer.getvalue().splitlines()


def as_numpy(t):
    return t.detach().cpu().numpy().astype(np.float64)


def synthetic(n, n_in=784, classes=10, seed=0):
    """n random images with labels a fixed linear rule gives them."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in), dtype=np.float32)
    y = (x @ rng.standard_normal((n_in, classes))).argmax(axis=1).astype(np.int64)
    return x, y


def shared(x, y):
    return (torch.as_tensor(x).to(network3.device),
            torch.as_tensor(y).to(network3.device))


def small_conv_net(mb=4, seed=3, p_dropout=0.0):
    np.random.seed(seed)
    return Network([
        ConvPoolLayer(image_shape=(mb, 1, 12, 12), filter_shape=(3, 1, 3, 3),
                      poolsize=(2, 2), activation_fn=ReLU),
        FullyConnectedLayer(n_in=3 * 5 * 5, n_out=8, activation_fn=tanh,
                            p_dropout=p_dropout),
        SoftmaxLayer(n_in=8, n_out=4, p_dropout=p_dropout)], mb)


#### Activations and device

def test_activations_are_plain_functions_on_tensors():
    z = torch.tensor([-2.0, 0.0, 3.0])
    assert torch.equal(linear(z), z)
    assert torch.equal(ReLU(z), torch.tensor([0.0, 0.0, 3.0]))
    np.testing.assert_allclose(sigmoid(z).numpy(), 1 / (1 + np.exp([2.0, 0.0, -3.0])),
                               rtol=1e-6)
    np.testing.assert_allclose(tanh(z).numpy(), np.tanh([-2.0, 0.0, 3.0]), rtol=1e-6)


def test_force_cpu_environment_variable():
    env = dict(os.environ, NNDL_FORCE_CPU="1")
    result = subprocess.run(
        [sys.executable, "-c", "import network3; print(network3.device.type)"],
        cwd=SRC, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # The device line is progress, on stderr; stdout is the program's own.
    assert result.stdout.splitlines() == ["cpu"]
    assert result.stderr.splitlines() == ["network3: running on the CPU (NNDL_FORCE_CPU is set)."]


@pytest.mark.parametrize("fn, hint", [("relu", "network3.ReLU"), ("Sigmoid", "network3.sigmoid"),
                                      (3, "one of network3's linear, ReLU, sigmoid, tanh")])
def test_an_activation_that_is_not_a_function_is_refused_when_the_layer_is_built(fn, hint):
    message = f"activation_fn must be a function such as {hint}, not {fn!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        FullyConnectedLayer(n_in=784, n_out=100, activation_fn=fn)
    with pytest.raises(ValueError, match=re.escape(message)):
        ConvPoolLayer(filter_shape=(20, 1, 5, 5), image_shape=(10, 1, 28, 28),
                      activation_fn=fn)


#### Layers

def test_layer_output_shapes_on_both_paths():
    mb = 10
    conv = ConvPoolLayer(image_shape=(mb, 1, 28, 28), filter_shape=(20, 1, 5, 5))
    conv2 = ConvPoolLayer(image_shape=(mb, 20, 12, 12), filter_shape=(40, 20, 5, 5))
    fc = FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, p_dropout=0.5)
    soft = SoftmaxLayer(n_in=100, n_out=10, p_dropout=0.5)
    net = Network([conv, conv2, fc, soft], mb)
    x = torch.rand(mb, 784, device=DEV)
    net.feedforward(None, x)
    assert net.output is None and net.output_dropout is soft.output_dropout
    assert conv.output_dropout.shape == (mb, 20, 12, 12) == (mb, *conv.output_shape)
    assert conv2.output_dropout.shape == (mb, 40, 4, 4)
    assert fc.output_dropout.shape == (mb, 100)
    assert soft.output_dropout.shape == (mb, 10)
    # The inference path takes any number of images.
    with torch.no_grad():
        net.feedforward(torch.rand(7, 784, device=DEV))
    y_out = soft.y_out
    assert net.output is soft.output
    assert conv.output.shape == (7, 20, 12, 12)
    assert fc.output.shape == (7, 100)
    assert soft.output.shape == (7, 10)
    np.testing.assert_allclose(as_numpy(soft.output.sum(dim=1)), np.ones(7), rtol=1e-6)
    assert y_out.shape == (7,) and y_out.dtype == torch.int64
    assert all(p.dtype == torch.float32 for p in net.params)
    assert len(net.params) == 8


def test_initialization_follows_numpy_draws_in_the_books_order():
    np.random.seed(42)
    conv = ConvPoolLayer(filter_shape=(6, 2, 5, 5), image_shape=(10, 2, 28, 28),
                         poolsize=(2, 2))
    fc = FullyConnectedLayer(n_in=30, n_out=20)
    np.random.seed(42)
    n_out = 6 * 5 * 5 / 4
    expected = [np.random.normal(0, np.sqrt(1 / n_out), (6, 2, 5, 5)),
                np.random.normal(0, 1, (6,)),
                np.random.normal(0, np.sqrt(1 / 20), (30, 20)),
                np.random.normal(0, 1, (20,))]
    for param, values in zip(conv.params + fc.params, expected):
        np.testing.assert_array_equal(param.detach().cpu().numpy(), values.astype(np.float32))
    soft = SoftmaxLayer(n_in=20, n_out=10)
    assert not soft.w.detach().any() and not soft.b.detach().any()
    assert soft.w.shape == (20, 10) and soft.b.shape == (10,)


def test_initialization_statistics():
    np.random.seed(0)
    fc = FullyConnectedLayer(n_in=200, n_out=5000)
    w, b = as_numpy(fc.w), as_numpy(fc.b)
    assert abs(w.mean()) < 3 * np.sqrt(1 / 5000) / np.sqrt(w.size)
    assert w.std() == pytest.approx(np.sqrt(1 / 5000), rel=0.01)
    assert abs(b.mean()) < 3 / np.sqrt(b.size)
    assert b.std() == pytest.approx(1.0, rel=0.05)
    conv = ConvPoolLayer(filter_shape=(64, 16, 5, 5), image_shape=(10, 16, 12, 12),
                         poolsize=(2, 2))
    w = as_numpy(conv.w)
    n_out = 64 * 5 * 5 / (2 * 2)  # the book's n_out: filters x area / pool area
    assert abs(w.mean()) < 3 * np.sqrt(1 / n_out) / np.sqrt(w.size)
    assert w.std() == pytest.approx(np.sqrt(1 / n_out), rel=0.02)
    assert conv.b.shape == (64,)


def direct_conv_pool(x, w, b, poolsize, activation):
    """Valid 2-D true convolution (the book's, Theano's: each filter turned
    through 180 degrees as it slides), max-pool over whole blocks (partial
    blocks dropped), bias, activation: plain numpy loops."""
    n, c, h, wd = x.shape
    f, _, fh, fw = w.shape
    oh, ow = h - fh + 1, wd - fw + 1
    conv = np.zeros((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            for a in range(fh):
                for d in range(fw):
                    # conv[i, j] = sum over a, d of x[i + a, j + d] * w[fh-1-a, fw-1-d]
                    conv[:, :, i, j] += x[:, :, i + a, j + d] @ w[:, :, fh - 1 - a, fw - 1 - d].T
    ph, pw = poolsize
    pooled = np.zeros((n, f, oh // ph, ow // pw))
    for i in range(oh // ph):
        for j in range(ow // pw):
            pooled[:, :, i, j] = conv[:, :, i * ph:(i + 1) * ph,
                                      j * pw:(j + 1) * pw].max(axis=(2, 3))
    return activation(pooled + b[None, :, None, None])


@pytest.mark.parametrize("activation_fn, reference", [
    (tanh, np.tanh), (ReLU, lambda z: np.maximum(z, 0.0)),
    (sigmoid, lambda z: 1 / (1 + np.exp(-z)))])
def test_conv_pool_layer_forward_equals_direct_numpy(activation_fn, reference):
    np.random.seed(1)
    # Odd sizes: the 7x6 feature maps lose a row to the 2x2 pooling, and
    # 3x2 pooling of the second example shape is checked too.
    for image_shape, filter_shape, poolsize in [
            ((4, 2, 9, 8), (3, 2, 3, 3), (2, 2)),
            ((3, 3, 10, 11), (5, 3, 4, 2), (3, 2))]:
        layer = ConvPoolLayer(filter_shape=filter_shape, image_shape=image_shape,
                              poolsize=poolsize, activation_fn=activation_fn)
        x = np.random.standard_normal(image_shape).astype(np.float32)
        expected = direct_conv_pool(x.astype(np.float64), as_numpy(layer.w),
                                    as_numpy(layer.b), poolsize, reference)
        flat = torch.from_numpy(x.reshape(image_shape[0], -1)).to(DEV)
        layer.set_inpt(flat, flat, image_shape[0])
        assert layer.output.shape == expected.shape == (image_shape[0], *layer.output_shape)
        np.testing.assert_allclose(as_numpy(layer.output), expected, atol=1e-5)
        np.testing.assert_allclose(as_numpy(layer.output_dropout), expected, atol=1e-5)


def one_filter_layer(image_shape, poolsize, weights):
    """A ConvPoolLayer with one linear filter of the given weights, bias 0."""
    weights = np.asarray(weights, dtype=np.float32)
    layer = ConvPoolLayer(filter_shape=(1, 1, *weights.shape), image_shape=image_shape,
                          poolsize=poolsize, activation_fn=linear)
    with torch.no_grad():
        layer.w.copy_(torch.from_numpy(weights).reshape(layer.w.shape))
        layer.b.zero_()
    return layer


def test_conv_pool_layer_turns_its_filters_as_true_convolution():
    # A filter whose only 1 is its top-left weight picks, at each place, the
    # bottom-right pixel under it (true convolution); cross-correlation
    # would pick the top-left one.
    x = np.arange(20, dtype=np.float32).reshape(1, 1, 4, 5)
    layer = one_filter_layer((1, 1, 4, 5), (1, 1), [[1, 0], [0, 0]])
    layer.set_inpt(torch.from_numpy(x.reshape(1, -1)).to(DEV), None, 1)
    np.testing.assert_array_equal(as_numpy(layer.output)[0, 0], x[0, 0, 1:, 1:])


def books_max_pool_gradient(z, poolsize, grad_pooled):
    """The book's (Theano's) rule in numpy loops: each block's gradient goes
    to every input of the block equal to the block's maximum."""
    ph, pw = poolsize
    grad = np.zeros_like(z)
    for i in range(grad_pooled.shape[2]):
        for j in range(grad_pooled.shape[3]):
            block = z[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw]
            is_max = block == block.max(axis=(2, 3), keepdims=True)
            grad[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw] = (
                is_max * grad_pooled[:, :, i:i + 1, j:j + 1])
    return grad


def test_tied_maxima_all_get_the_gradient_in_a_conv_pool_layer():
    # A 1x1 filter of weight 1 and bias 0 makes the feature map the image.
    x = np.array([[3, 3, 0, 1, 9],
                  [1, 3, 1, 0, 9],
                  [2, 5, 4, 4, 9],
                  [5, 0, 4, 4, 9],
                  [9, 9, 9, 9, 9]], dtype=np.float32).reshape(1, 1, 5, 5)
    layer = one_filter_layer((1, 1, 5, 5), (2, 2), [[1]])
    inpt = torch.from_numpy(x.reshape(1, -1)).to(DEV).requires_grad_()
    layer.set_inpt(None, inpt, 1)
    grad_pooled = np.array([[10, 20], [30, 40]], dtype=np.float32).reshape(1, 1, 2, 2)
    (grad,) = torch.autograd.grad(layer.output_dropout, inpt,
                                  torch.from_numpy(grad_pooled).to(DEV))
    # Ties: three 3s in the first block, two 1s in the second, two 5s in
    # the third, four 4s in the last; the fifth row and column, dropped by
    # the pooling, get nothing.
    by_hand = np.array([[10, 10, 0, 20, 0],
                        [0, 10, 20, 0, 0],
                        [0, 30, 40, 40, 0],
                        [30, 0, 40, 40, 0],
                        [0, 0, 0, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(as_numpy(grad).reshape(5, 5), by_hand)
    np.testing.assert_array_equal(books_max_pool_gradient(x, (2, 2), grad_pooled)[0, 0],
                                  by_hand)


@pytest.mark.parametrize("shape, poolsize", [((3, 4, 8, 8), (2, 2)),
                                             ((2, 3, 7, 11), (3, 2)),
                                             ((2, 2, 5, 5), (3, 3))])
def test_max_pool_2d_gradient_is_the_books_rule(shape, poolsize):
    rng = np.random.default_rng(5)
    z = rng.integers(0, 3, size=shape).astype(np.float32)  # many ties
    zt = torch.from_numpy(z).to(DEV).contiguous(memory_format=torch.channels_last)
    zt.requires_grad_()
    pooled = network3.max_pool_2d(zt, poolsize)
    expected_pooled = torch.nn.functional.max_pool2d(zt.detach(), poolsize)
    assert torch.equal(pooled, expected_pooled)
    grad_pooled = rng.standard_normal(pooled.shape).astype(np.float32)
    (grad,) = torch.autograd.grad(pooled, zt, torch.from_numpy(grad_pooled).to(DEV))
    np.testing.assert_array_equal(as_numpy(grad),
                                  books_max_pool_gradient(z, poolsize, grad_pooled))
    # PyTorch's own rule picks one input per block, so it differs here
    (torch_grad,) = torch.autograd.grad(torch.nn.functional.max_pool2d(zt, poolsize), zt,
                                        torch.from_numpy(grad_pooled).to(DEV))
    assert not torch.equal(grad, torch_grad)


def test_dropout_scaling_on_both_paths():
    torch.manual_seed(0)
    mb, n_in, p = 50, 2000, 0.25
    fc = FullyConnectedLayer(n_in=n_in, n_out=3, activation_fn=linear, p_dropout=p)
    soft = SoftmaxLayer(n_in=n_in, n_out=3, p_dropout=p)
    x = torch.rand(mb, n_in, device=DEV) + 0.5
    for layer in (fc, soft):
        with torch.no_grad():
            layer.w.copy_(torch.randn(n_in, 3))
            layer.b.copy_(torch.randn(3))
        layer.set_inpt(x, x, mb)
        kept = layer.inpt_dropout != 0
        # Dropped units are zero; kept ones are passed on unscaled.
        assert torch.equal(layer.inpt_dropout[kept], x[kept])
        assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.01)
        # Dropout path: the masked input times the full weights.
        w, b = as_numpy(layer.w), as_numpy(layer.b)
        z_dropout = as_numpy(layer.inpt_dropout) @ w + b
        # Inference path: all inputs, weighted input scaled by 1 - p.
        z = (1 - p) * (as_numpy(x) @ w) + b
        # The weighted inputs are sums of 2,000 terms, tens in size: float32
        # round-off in them (summed in another order on a GPU) reaches about
        # 1e-5, while a wrong dropout scale would be off by whole units.
        tol = dict(rtol=1e-4, atol=1e-4)
        if layer is fc:
            np.testing.assert_allclose(as_numpy(layer.output_dropout), z_dropout, **tol)
            np.testing.assert_allclose(as_numpy(layer.output), z, **tol)
        else:
            np.testing.assert_allclose(as_numpy(layer.z_dropout), z_dropout, **tol)
            np.testing.assert_allclose(as_numpy(layer.z), z, **tol)
            softmax = np.exp(z - z.max(1, keepdims=True))
            np.testing.assert_allclose(as_numpy(layer.output),
                                       softmax / softmax.sum(1, keepdims=True),
                                       rtol=1e-4, atol=1e-7)


def test_dropout_masks_are_independent_between_layers_and_steps():
    """The book seeds every dropout layer's stream alike, so its layers with
    inputs of one shape drop the same units; here each mask is a new draw."""
    mb, n = 4, 50
    net = Network([FullyConnectedLayer(n_in=n, n_out=n, p_dropout=0.5),
                   FullyConnectedLayer(n_in=n, n_out=n, p_dropout=0.5),
                   SoftmaxLayer(n_in=n, n_out=3, p_dropout=0.5)], mb, seed=0)
    ones = torch.ones(mb, n, device=DEV)

    def masks():
        with torch.no_grad():
            net.feedforward(None, ones)
        return [layer.inpt_dropout != 0 for layer in net.layers]  # inputs are never 0

    first, second = masks(), masks()
    assert not torch.equal(first[1], first[2])      # same shape, other layer
    assert not torch.equal(first[0], second[0])     # same layer, next step
    assert 0.3 < first[2].float().mean().item() < 0.7


def test_no_dropout_leaves_the_input_alone():
    x = torch.rand(5, 6, device=DEV)
    assert network3.dropout_layer(x, 0.0) is x
    fc = FullyConnectedLayer(n_in=6, n_out=2)
    fc.set_inpt(x, x, 5)
    assert torch.equal(fc.output, fc.output_dropout)


#### SGD against a hand computation

def numpy_sgd(params, x, y, mb, eta, lmbda, epochs=1):
    """The book's SGD for FC(sigmoid) + softmax, by hand in float64.

    Returns the parameters after training, and the validation-free list
    of costs (log-likelihood plus the L2 term) of each mini-batch."""
    w1, b1, w2, b2 = [p.copy() for p in params]
    nb = len(x) // mb
    costs = []
    for _ in range(epochs):
        for j in range(nb):
            xb, yb = x[j * mb:(j + 1) * mb], y[j * mb:(j + 1) * mb]
            a1 = 1 / (1 + np.exp(-(xb @ w1 + b1)))
            z2 = a1 @ w2 + b2
            prob = np.exp(z2 - z2.max(1, keepdims=True))
            prob /= prob.sum(1, keepdims=True)
            costs.append(-np.mean(np.log(prob[np.arange(mb), yb]))
                         + 0.5 * lmbda * ((w1 ** 2).sum() + (w2 ** 2).sum()) / nb)
            delta2 = prob.copy()
            delta2[np.arange(mb), yb] -= 1
            delta2 /= mb
            delta1 = (delta2 @ w2.T) * a1 * (1 - a1)
            grads = [xb.T @ delta1 + lmbda / nb * w1, delta1.sum(0),
                     a1.T @ delta2 + lmbda / nb * w2, delta2.sum(0)]
            w1, b1, w2, b2 = [p - eta * g for p, g in zip((w1, b1, w2, b2), grads)]
    return [w1, b1, w2, b2], costs


def fc_softmax_net(mb, n_in=6, n_hidden=5, n_out=3, seed=0):
    np.random.seed(seed)
    net = Network([FullyConnectedLayer(n_in=n_in, n_out=n_hidden),
                   SoftmaxLayer(n_in=n_hidden, n_out=n_out)], mb)
    # Non-zero softmax weights, so that the hidden layer learns from step one.
    with torch.no_grad():
        net.layers[1].w.copy_(torch.from_numpy(
            np.random.normal(0, 1, (n_hidden, n_out)).astype(np.float32)))
        net.layers[1].b.copy_(torch.tensor([0.1, -0.2, 0.3]))
    return net


@pytest.mark.parametrize("lmbda", [0.0, 2.5])
def test_sgd_steps_equal_a_hand_computation(lmbda):
    mb, eta = 5, 0.7
    net = fc_softmax_net(mb)
    x, y = synthetic(2 * mb + 3, n_in=6, classes=3, seed=1)  # 2 full mini-batches
    start = [as_numpy(p) for p in net.params]
    expected, _ = numpy_sgd(start, x.astype(np.float64), y, mb, eta, lmbda)
    quiet(net.SGD, shared(x, y), 1, mb, eta, shared(x, y), None, lmbda=lmbda)
    for param, value in zip(net.params, expected):
        np.testing.assert_allclose(as_numpy(param), value, rtol=1e-5, atol=1e-6)


def test_l2_term_is_the_books_cost():
    """The step update_mini_batch takes is gradient descent on the book's cost
    C = -mean(log output_dropout[i, y_i]) + 0.5*lmbda*sum(w**2)/num_training_batches,
    with the weights of every layer and no biases in the sum."""
    mb, eta, lmbda, nb = 5, 0.3, 4.0, 3
    net = fc_softmax_net(mb)
    x, y = synthetic(nb * mb, n_in=6, classes=3, seed=2)
    xb, yb = shared(x[:mb], y[:mb])
    before = [p.detach().clone() for p in net.params]
    net.feedforward(None, xb)
    log_likelihood = -torch.log(net.output_dropout[torch.arange(mb), yb]).mean()
    cost = log_likelihood + 0.5 * lmbda * sum(
        (layer.w ** 2).sum() for layer in net.layers) / nb
    _, hand_costs = numpy_sgd([as_numpy(b) for b in before], x.astype(np.float64),
                              y, mb, eta, lmbda)
    assert cost.item() == pytest.approx(hand_costs[0], rel=1e-5)
    grads = torch.autograd.grad(cost, net.params)
    net.update_mini_batch(xb, yb, eta, lmbda, nb)
    assert net.y is yb
    for param, old, grad in zip(net.params, before, grads):
        np.testing.assert_allclose(as_numpy(param), as_numpy(old - eta * grad),
                                   rtol=1e-5, atol=1e-7)
        assert not torch.equal(param, old)


@pytest.fixture
def torch_settings_kept():
    """PyTorch's gradient mode and threads, put back after the test: a
    Ctrl-C landing in the exit of a ``torch.no_grad`` block (or of
    device_settings) leaves them changed, as it would in a session."""
    grad, threads = torch.is_grad_enabled(), torch.get_num_threads()
    yield
    torch.set_grad_enabled(grad)
    torch.set_num_threads(threads)


def snapshot(net):
    return [p.detach().clone() for p in net.params]


def restore(net, params):
    with torch.no_grad():
        for p, saved in zip(net.params, params):
            p.copy_(saved)


def same(net, params):
    return all(torch.equal(p, q) for p, q in zip(net.params, params))


def test_ctrl_c_anywhere_in_a_step_leaves_the_old_parameters_or_the_new(
        ctrl_c_at, torch_settings_kept):
    """A real SIGINT at each point of update_mini_batch (with weight decay)
    in turn: each one interrupts the step, which has then changed nothing
    or been taken whole; a Ctrl-C that comes while the changes are made is
    held back until they are done, then raised."""
    import signal
    mb = 5
    net = fc_softmax_net(mb)
    xb, yb = shared(*synthetic(mb, n_in=6, classes=3, seed=2))
    old = snapshot(net)
    net.update_mini_batch(xb, yb, 0.3, 4.0, 3)
    new = snapshot(net)
    outcomes = []
    for k in range(1, 1000):
        restore(net, old)
        torch.set_grad_enabled(True)  # each run as in a fresh session
        passed, interrupted = ctrl_c_at(lambda: net.update_mini_batch(xb, yb, 0.3, 4.0, 3),
                                        network3.__file__, k)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if passed < k:  # no point left to interrupt at: the step ran whole
            assert not interrupted and same(net, new)
            break
        assert interrupted, k
        outcomes.append("old" if same(net, old) else "new" if same(net, new) else "a mix")
    assert len(outcomes) > 20 and set(outcomes) == {"old", "new"}, outcomes


def test_ctrl_c_anywhere_in_sgd_leaves_the_parameters_of_a_whole_step(
        ctrl_c_at, torch_settings_kept):
    """The same through SGD (two steps, then the validation accuracy),
    which keeps its handler in place for all the steps and puts Python's
    back however it ends."""
    import signal
    mb = 4
    net = fc_softmax_net(mb)
    data = shared(*synthetic(2 * mb, n_in=6, classes=3, seed=5))
    states = [snapshot(net)]
    for j in range(2):
        net.update_mini_batch(data[0][j * mb:(j + 1) * mb], data[1][j * mb:(j + 1) * mb],
                              0.3, 1.0, 2)
        states.append(snapshot(net))
    outcomes = []
    for k in range(1, 5000):
        restore(net, states[0])
        passed, interrupted = ctrl_c_at(
            lambda: quiet(net.SGD, data, 1, mb, 0.3, data, None, 1.0), network3.__file__, k)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if passed < k:
            assert not interrupted and same(net, states[2])
            break
        assert interrupted, k
        outcomes.append(next((j for j, state in enumerate(states) if same(net, state)),
                             "a mix"))
    assert len(outcomes) > 100 and set(outcomes) == {0, 1, 2}, outcomes


def test_a_step_takes_its_gradients_where_pytorchs_are_off():
    """As a Ctrl-C in a torch.no_grad block's exit can leave them; the
    step is the same, and the caller's setting stays as it was."""
    mb = 5
    xb, yb = shared(*synthetic(mb, n_in=6, classes=3, seed=2))
    net, off = fc_softmax_net(mb), fc_softmax_net(mb)
    net.update_mini_batch(xb, yb, 0.3, 4.0, 3)
    with torch.no_grad():
        off.update_mini_batch(xb, yb, 0.3, 4.0, 3)
        assert not torch.is_grad_enabled()
    assert same(off, snapshot(net))


def test_a_step_in_another_thread_needs_no_signal_handler(python_ctrl_c):
    import signal
    import threading
    mb = 5
    net = fc_softmax_net(mb)
    xb, yb = shared(*synthetic(mb, n_in=6, classes=3, seed=2))
    old, errors = snapshot(net), []

    def step():
        try:
            net.update_mini_batch(xb, yb, 0.3, 0.0, 3)
        except Exception as e:  # what signal.signal raises outside the main thread
            errors.append(e)
    thread = threading.Thread(target=step)
    thread.start()
    thread.join()
    assert errors == [] and not same(net, old)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_where_ctrl_c_is_ignored_sgd_leaves_it_ignored(torch_settings_kept):
    """Started under nohup or in a shell's background, SIGINT is ignored:
    SGD and a step put no handler of theirs in, so it stays ignored."""
    import signal
    mb = 4
    net = fc_softmax_net(mb)
    data = shared(*synthetic(2 * mb, n_in=6, classes=3, seed=5))
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        seen = []
        net.after_epoch = lambda epoch, training_data: seen.append(
            signal.getsignal(signal.SIGINT))
        quiet(net.SGD, data, 1, mb, 0.3, data, None, 1.0)
        net.update_mini_batch(data[0][:mb], data[1][:mb], 0.3, 1.0, 2)
        assert seen == [signal.SIG_IGN]
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_sgd_printed_lines_and_iteration_numbers():
    mb = 1
    np.random.seed(0)
    net = Network([SoftmaxLayer(n_in=4, n_out=3)], mb)
    train = synthetic(1500, n_in=4, classes=3, seed=3)
    valid = synthetic(7, n_in=4, classes=3, seed=4)
    test = synthetic(9, n_in=4, classes=3, seed=5)
    lines = quiet(net.SGD, shared(*train), 2, mb, 0.5, shared(*valid), shared(*test))
    v0, v1 = net.validation_accuracies
    t0 = net.test_accuracies[0]
    expected = [
        "Training mini-batch number 0",
        "Training mini-batch number 1000",
        f"Epoch 0: validation accuracy {v0:.2%}",
        "This is the best validation accuracy to date.",
        f"The corresponding test accuracy is {t0:.2%}",
        "Training mini-batch number 2000",
        f"Epoch 1: validation accuracy {v1:.2%}"]
    if v1 >= v0:
        expected += ["This is the best validation accuracy to date.",
                     f"The corresponding test accuracy is {net.test_accuracies[1]:.2%}"]
    best = max(v0, v1) if v1 >= v0 else v0
    expected += ["Finished training network.",
                 f"Best validation accuracy of {best:.2%} obtained at iteration "
                 f"{2999 if v1 >= v0 else 1499}",
                 f"Corresponding test accuracy of {net.test_accuracy:.2%}"]
    assert lines == expected
    assert re.fullmatch(r"Epoch 0: validation accuracy \d+\.\d\d%", lines[2])
    # Accuracies are fractions of whole mini-batches: here k/7 and k/9.
    assert round(v0 * 7) == pytest.approx(v0 * 7, abs=1e-9)
    assert round(t0 * 9) == pytest.approx(t0 * 9, abs=1e-9)


def test_sgd_uses_full_mini_batches_in_order():
    """Examples past the last full mini-batch do not change the result, and
    the mini-batches are taken in the data's order."""
    mb, eta = 5, 0.4
    x, y = synthetic(2 * mb + 4, n_in=6, classes=3, seed=6)
    results = []
    for n in (2 * mb, 2 * mb + 4):
        net = fc_softmax_net(mb)
        quiet(net.SGD, shared(x[:n], y[:n]), 1, mb, eta, shared(x, y), None)
        results.append([as_numpy(p) for p in net.params])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    swapped = np.concatenate([x[mb:2 * mb], x[:mb]]), np.concatenate([y[mb:2 * mb], y[:mb]])
    net = fc_softmax_net(mb)
    quiet(net.SGD, shared(*swapped), 1, mb, eta, shared(x, y), None)
    assert not np.allclose(as_numpy(net.params[0]), results[0][0])


def test_validation_accuracy_is_the_mean_of_mini_batch_accuracies():
    mb = 10
    net = small_conv_net(mb=mb)
    x, y = synthetic(1005, n_in=144, classes=4, seed=7)
    quiet(net.SGD, shared(x[:300], y[:300]), 1, mb, 0.1, shared(x, y), None)
    tx, ty = shared(x, y)
    per_batch = []
    with torch.no_grad():
        for j in range(len(x) // mb):
            net.feedforward(tx[j * mb:(j + 1) * mb])
            per_batch.append(net.layers[-1].accuracy(ty[j * mb:(j + 1) * mb]).item())
    # (the per-batch accuracies are float32, hence the tolerance)
    assert net.validation_accuracies[0] == pytest.approx(np.mean(per_batch), abs=1e-6)
    assert net.accuracy((tx, ty)) == pytest.approx(np.mean(per_batch), abs=1e-6)
    assert 0.0 < np.mean(per_batch) < 1.0


@contextlib.contextmanager
def full_float32():
    """On a GPU, no TF32 shortcuts inside (SGD does the same for itself)."""
    if DEV.type != "cuda":
        yield
        return
    backends = (torch.backends.cudnn.conv, torch.backends.cuda.matmul)
    saved = [backend.fp32_precision for backend in backends]
    for backend in backends:
        backend.fp32_precision = "ieee"
    try:
        yield
    finally:
        for backend, value in zip(backends, saved):
            backend.fp32_precision = value


def test_counter_driven_steps_match_sliced_steps():
    """The step a CUDA graph captures reads its mini-batch through a counter
    on the device; it must train like update_mini_batch on the slices (on a
    CPU, where it runs eagerly, exactly)."""
    mb, eta, lmbda, nb = 4, 0.2, 0.5, 6
    x, y = shared(*synthetic(nb * mb, n_in=144, classes=4, seed=8))
    sliced, counted = small_conv_net(mb=mb), small_conv_net(mb=mb)
    steps = network3.CUDAGraphSteps(counted, x, y, eta, lmbda, nb)
    with full_float32():
        for epoch in range(2):
            for j in range(nb):
                sliced.update_mini_batch(x[j * mb:(j + 1) * mb], y[j * mb:(j + 1) * mb],
                                         eta, lmbda, nb)
                steps(j)
    assert int(steps.counter) == nb
    assert (steps.graph is not None) == (DEV.type == "cuda")
    for a, b in zip(sliced.params, counted.params):
        if DEV.type == "cpu":
            assert torch.equal(a, b)
        else:  # cuDNN may sum in another order inside the graph
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert not torch.equal(sliced.params[0], small_conv_net(mb=mb).params[0])


def test_runs_repeat_with_the_same_seeds():
    x, y = synthetic(40, n_in=144, classes=4, seed=9)

    def train(np_seed, torch_seed, seed=None):
        net = small_conv_net(mb=4, seed=np_seed, p_dropout=0.5)
        if seed is not None:
            net = Network(net.layers, 4, seed=seed)
        torch.manual_seed(torch_seed)
        quiet(net.SGD, shared(x, y), 2, 4, 0.5, shared(x, y), None)
        return [p.detach().clone() for p in net.params]

    first, again = train(1, 2), train(1, 2)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    other_masks = train(1, 3)
    assert not all(torch.equal(a, b) for a, b in zip(first, other_masks))
    # seed= gives the network its own dropout generator: torch's global seed
    # no longer matters.
    own, own_again = train(1, 2, seed=11), train(1, 5, seed=11)
    assert all(torch.equal(a, b) for a, b in zip(own, own_again))


class WatchedLayer(FullyConnectedLayer):
    """A fully connected layer that notes PyTorch's thread count (and, on a
    GPU, its float32 matmul precision) each time it computes, and raises
    KeyboardInterrupt when told to."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen, self.interrupt = [], False

    def set_inpt(self, inpt, inpt_dropout, mini_batch_size):
        self.seen.append((torch.get_num_threads(), torch.backends.cuda.matmul.fp32_precision))
        if self.interrupt:
            raise KeyboardInterrupt
        super().set_inpt(inpt, inpt_dropout, mini_batch_size)


ENTRY_POINTS = {
    "feedforward": lambda net, x, y: net.feedforward(x[:7], x[:4]),
    "update_mini_batch": lambda net, x, y: net.update_mini_batch(x[:4], y[:4], 0.1, 0.0, 10),
    "SGD": lambda net, x, y: quiet(net.SGD, (x, y), 2, 4, 0.1, (x, y), (x, y)),
    "accuracy": lambda net, x, y: net.accuracy((x, y)),
    "predict": lambda net, x, y: net.predict(x),
    "test_mb_predictions": lambda net, x, y: net.test_mb_predictions(3),
}


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_each_entry_point_computes_under_network3s_settings_and_restores_the_callers(
        entry_point):
    """On a CPU, CPU_TRAINING_THREADS threads inside (on a GPU, full float32);
    the caller's settings back afterwards, also after an interruption.  SGD
    runs two epochs: the accuracy it measures after the first must not give
    the caller's threads back to the second."""
    x, y = shared(*synthetic(40, n_in=6, classes=3, seed=14))
    saved = torch.get_num_threads()
    callers = 3 if saved != 3 else 2
    precision = torch.backends.cuda.matmul.fp32_precision
    expected = ((network3.CPU_TRAINING_THREADS, precision) if DEV.type == "cpu"
                else (callers, "ieee"))
    torch.set_num_threads(callers)
    try:
        layer = WatchedLayer(n_in=6, n_out=5)
        net = Network([layer, SoftmaxLayer(n_in=5, n_out=3)], 4)
        quiet(net.SGD, (x, y), 0, 4, 0.1, (x, y), (x, y))  # sets test_mb_predictions
        layer.seen.clear()
        ENTRY_POINTS[entry_point](net, x, y)
        assert layer.seen and set(layer.seen) == {expected}
        assert torch.get_num_threads() == callers
        assert torch.backends.cuda.matmul.fp32_precision == precision
        layer.interrupt = True
        with pytest.raises(KeyboardInterrupt):
            ENTRY_POINTS[entry_point](net, x, y)
        assert torch.get_num_threads() == callers
        assert torch.backends.cuda.matmul.fp32_precision == precision
    finally:
        torch.set_num_threads(saved)


def test_sgd_counts_accuracy_with_the_last_layers_accuracy(monkeypatch):
    """SGD's validation and test accuracies, and Network.accuracy, are the
    last layer's accuracy(y) combined over batches: a subclass's and a
    replaced SoftmaxLayer.accuracy change what SGD prints and records."""
    x, y = shared(*synthetic(30, n_in=6, classes=3, seed=17))

    class QuarterRight(SoftmaxLayer):
        def accuracy(self, y):
            return 0.25

    def run(softmax_type):
        np.random.seed(0)
        net = Network([FullyConnectedLayer(n_in=6, n_out=5), softmax_type(n_in=5, n_out=3)], 5)
        return net, quiet(net.SGD, (x, y), 1, 5, 0.1, (x, y), (x, y))

    net, lines = run(QuarterRight)
    assert "Epoch 0: validation accuracy 25.00%" in lines
    assert "The corresponding test accuracy is 25.00%" in lines
    assert net.validation_accuracies == [0.25] and net.test_accuracy == 0.25
    assert net.accuracy((x, y)) == 0.25
    monkeypatch.setattr(SoftmaxLayer, "accuracy", lambda self, y: torch.tensor(0.75))
    net, lines = run(SoftmaxLayer)
    assert "Epoch 0: validation accuracy 75.00%" in lines
    assert net.validation_accuracies == [0.75] and net.test_accuracy == 0.75
    monkeypatch.undo()
    net, _ = run(SoftmaxLayer)
    assert net.validation_accuracies[0] not in (0.25, 0.75)


@pytest.mark.parametrize("eval_batch_size", [network3.EVAL_BATCH_SIZE, 100, 7])
@pytest.mark.parametrize("n", [30, 70, 130, 1000, 2490])
def test_accuracy_is_the_count_right_over_n(n, eval_batch_size, monkeypatch):
    """The batches' float64 fractions, weighted by their sizes, give exactly
    the number classified right over the number of examples."""
    monkeypatch.setattr(network3, "EVAL_BATCH_SIZE", eval_batch_size)
    net = small_conv_net(mb=10)
    with torch.no_grad():
        net.layers[-1].w.normal_(generator=torch.Generator(device=DEV).manual_seed(0))
    x, y = synthetic(n + 7, n_in=144, classes=4, seed=18)
    right = int((net.predict(x[:n]) == y[:n]).sum())
    assert 0 < right < n
    assert net.accuracy(shared(x, y)) == right / n
    assert isinstance(net.accuracy(shared(x, y)), float)
    net.feedforward(shared(x, y)[0][:n])
    assert net.layers[-1].accuracy(shared(x, y)[1][:n]).dtype == torch.float64


def test_accuracy_adds_whole_counts(monkeypatch):
    """7 right of a batch of 100 is 0.07 in float64, and 0.07*100 is
    7.000000000000001: batches of powers of two keep each count whole."""
    monkeypatch.setattr(network3, "EVAL_BATCH_SIZE", 100)
    net = small_conv_net(mb=10)
    x, _ = synthetic(130, n_in=144, classes=4, seed=18)
    predictions = net.predict(x)
    y = (predictions + 1) % 4                       # every label wrong ...
    right = [3, 11, 20, 42, 57, 80, 99]
    y[right] = predictions[right]                   # ... but 7 of the first 100
    assert 0.07 * 100 != 7
    assert net.accuracy(shared(x, y)) == 7 / 130


class ScriptedAccuracy:
    """Makes a network's accuracy return the numbers of ``script`` in turn."""

    def __init__(self, script):
        self.script = list(script)

    def __call__(self, *args, **kwargs):
        return self.script.pop(0)


SCRIPT = [0.50, 0.60, 0.60, 0.55, 0.60, 0.70, 0.70, 0.70, 0.65, 0.80, 0.80, 0.80,
          0.80, 0.80, 0.80, 0.80, 0.80, 0.80, 0.80, 0.80, 0.80, 0.80, 0.80, 0.80]


@pytest.mark.parametrize("early_stopping_n, eta_schedule_n",
                         [(0, 0), (2, 0), (3, 0), (0, 1), (0, 2), (4, 1), (3, 2)])
def test_early_stopping_and_schedule_follow_network2s_rules(early_stopping_n, eta_schedule_n):
    """The same scripted validation accuracies give network3's SGD the same
    learning rates and the same stop as network2's."""
    import network2
    n_epochs = len(SCRIPT) - 1

    net2 = network2.Network([6, 3], seed=0)
    net2.accuracy = ScriptedAccuracy(SCRIPT)
    x2, y2 = synthetic(4, n_in=6, classes=3, seed=19)
    training = [(xi.reshape(6, 1).astype(np.float64), np.eye(3)[yi].reshape(3, 1))
                for xi, yi in zip(x2, y2)]
    evaluation = [(xi.reshape(6, 1).astype(np.float64), int(yi)) for xi, yi in zip(x2, y2)]
    quiet(net2.SGD, training, n_epochs, 2, 1.0, evaluation_data=evaluation,
          early_stopping_n=early_stopping_n, eta_schedule_n=eta_schedule_n)

    net3 = fc_softmax_net(2)
    net3.accuracy = ScriptedAccuracy(SCRIPT)
    x, y = shared(*synthetic(4, n_in=6, classes=3, seed=19))
    quiet(net3.SGD, (x, y), n_epochs, 2, 1.0, (x, y), None,
          early_stopping_n=early_stopping_n, eta_schedule_n=eta_schedule_n)

    assert net3.eta_history == net2.eta_history
    assert net3.stop_reason == net2.stop_reason
    assert net3.validation_accuracies == SCRIPT[:len(net3.eta_history)]
    if early_stopping_n == eta_schedule_n == 0:
        assert len(net3.eta_history) == n_epochs and net3.stop_reason is None
    else:
        assert net3.stop_reason is not None


def test_a_lowered_eta_is_the_eta_of_the_next_steps(monkeypatch):
    etas = []
    original = Network.update_mini_batch

    def recording(self, x, y, eta, lmbda, num_training_batches):
        etas.append(eta)
        original(self, x, y, eta, lmbda, num_training_batches)
    monkeypatch.setattr(Network, "update_mini_batch", recording)
    net = fc_softmax_net(2)
    net.accuracy = ScriptedAccuracy([0.5, 0.5, 0.5, 0.6, 0.6])
    x, y = shared(*synthetic(6, n_in=6, classes=3, seed=20))
    quiet(net.SGD, (x, y), 5, 2, 0.8, (x, y), None, eta_schedule_n=1)
    assert net.eta_history == [0.8, 0.8, 0.4, 0.2, 0.2]
    assert etas == [eta for eta in net.eta_history for _ in range(3)]


def test_sgd_options_are_checked():
    net = fc_softmax_net(2)
    x, y = shared(*synthetic(6, n_in=6, classes=3, seed=20))
    for name in ("early_stopping_n", "eta_schedule_n"):
        for bad in (-1, 1.5, True, "2"):
            with pytest.raises(ValueError, match=f"{name} must be an integer >= 0"):
                net.SGD((x, y), 1, 2, 0.1, (x, y), None, **{name: bad})
    with pytest.raises(TypeError):
        net.SGD((x, y), 1, 2, 0.1, (x, y), None, 0.0, 3)  # keyword-only


@pytest.mark.parametrize("where, image, value", [
    ("training_data", 0, "nan"), ("training_data", 37, "inf"),
    ("validation_data", 5, "-inf"), ("test_data", 11, "nan")])
def test_sgd_refuses_nan_or_infinity_naming_the_first_image(where, image, value):
    x, y = synthetic(40, n_in=6, classes=3, seed=21)
    bad = x.copy()
    bad[image, 4] = float(value)
    bad[min(image + 2, 39), 1] = np.nan  # a later one is not the one named
    data = {name: shared(bad, y) if name == where else shared(x, y)
            for name in ("training_data", "validation_data", "test_data")}
    net = fc_softmax_net(2)
    before = snapshot(net)
    with pytest.raises(ValueError) as error:
        net.SGD(data["training_data"], 1, 2, 0.1, data["validation_data"],
                data["test_data"])
    assert str(error.value) == (f"{where}: image {image} holds {value}; every pixel "
                                f"must be a finite number")
    assert same(net, before)


def test_sgd_takes_finite_images_too_large_to_add_up():
    x, y = synthetic(4, n_in=6, classes=3, seed=22)
    x[:, 0] = 3e38  # finite float32 values whose sum is not
    net = fc_softmax_net(2)
    quiet(net.SGD, shared(x, y), 1, 2, 0.0, shared(x, y), None)


def test_training_runs_through_the_public_pieces(monkeypatch):
    """A subclass's cost and a replaced dropout_layer change what SGD does."""
    mb, eta = 5, 0.3
    x, y = shared(*synthetic(4 * mb, n_in=6, classes=3, seed=15))

    class DoubledCost(SoftmaxLayer):
        def cost(self, net):
            return 2 * super().cost(net)

    def trained(softmax_type, eta):
        net = fc_softmax_net(mb)
        layer = softmax_type(n_in=5, n_out=3)
        with torch.no_grad():
            for mine, theirs in zip(layer.params, net.layers[1].params):
                mine.copy_(theirs)
        net = Network([net.layers[0], layer], mb)
        quiet(net.SGD, (x, y), 1, mb, eta, (x, y), None)
        return net.params

    # twice the cost at eta is the same descent as the cost at 2*eta
    for a, b in zip(trained(DoubledCost, eta), trained(SoftmaxLayer, 2 * eta)):
        assert torch.equal(a, b)
    assert not torch.equal(trained(DoubledCost, eta)[0], trained(SoftmaxLayer, eta)[0])

    calls = []
    original = network3.dropout_layer

    def recording_dropout(layer, p_dropout, generator=None):
        calls.append((tuple(layer.shape), p_dropout))
        return original(layer, p_dropout, generator)
    monkeypatch.setattr(network3, "dropout_layer", recording_dropout)
    net = small_conv_net(mb=4, p_dropout=0.5)
    x, y = shared(*synthetic(12, n_in=144, classes=4, seed=16))
    quiet(net.SGD, (x, y), 1, 4, 0.1, (x, y), None)
    assert calls == [((4, 75), 0.5), ((4, 8), 0.5)] * 3


needs_cuda = pytest.mark.skipif(network3.device.type != "cuda",
                                reason="runs only where network3 uses a CUDA GPU")


@needs_cuda
def test_cuda_graph_trains_like_eager_steps():
    x, y = shared(*synthetic(400, n_in=144, classes=4, seed=12))
    nets = []
    for capture in (False, True):
        net = small_conv_net(mb=4, p_dropout=0.0)
        net.capture = capture
        quiet(net.SGD, (x, y), 2, 4, 0.2, (x, y), (x, y), lmbda=0.5)
        nets.append(net)
    assert nets[1].capture_used and not nets[0].capture_used
    for a, b in zip(nets[0].params, nets[1].params):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert nets[0].validation_accuracies == pytest.approx(nets[1].validation_accuracies,
                                                          abs=0.01)


@needs_cuda
def test_cuda_graph_steps_with_the_lowered_eta():
    """When the schedule halves eta, the steps that follow are captured anew
    with it: training matches eager steps at the same learning rates."""
    x, y = shared(*synthetic(400, n_in=144, classes=4, seed=12))
    nets = []
    for capture in (False, True):
        net = small_conv_net(mb=4, p_dropout=0.0)
        net.capture = capture
        net.accuracy = ScriptedAccuracy([0.5, 0.5, 0.5, 0.5])
        quiet(net.SGD, (x, y), 4, 4, 0.4, (x, y), None, eta_schedule_n=1)
        nets.append(net)
    assert nets[1].capture_used and not nets[0].capture_used
    assert nets[0].eta_history == nets[1].eta_history == [0.4, 0.4, 0.2, 0.1]
    for a, b in zip(nets[0].params, nets[1].params):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@needs_cuda
def test_cuda_graph_pools_with_the_books_gradient():
    # Images of 0s and 1s give tied maxima in most pooling blocks; the
    # captured steps must pass the gradient to all of them as eager ones do.
    x, y = synthetic(400, n_in=144, classes=4, seed=14)
    x, y = shared((x > 0.5).astype(np.float32), y)
    nets = []
    for capture in (False, True):
        net = small_conv_net(mb=4, p_dropout=0.0)
        net.capture = capture
        quiet(net.SGD, (x, y), 1, 4, 0.2, (x, y), None)
        nets.append(net)
    assert nets[1].capture_used
    for a, b in zip(nets[0].params, nets[1].params):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # and inside a captured graph, max_pool_2d's backward is the book's rule
    z = torch.from_numpy(np.random.default_rng(3).integers(0, 2, (4, 3, 6, 6))
                         .astype(np.float32)).to(DEV).requires_grad_()
    g = torch.ones(4, 3, 3, 3, device=DEV)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm up before capture, as CUDA asks
        torch.autograd.grad(network3.max_pool_2d(z, (2, 2)), z, g)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        (grad,) = torch.autograd.grad(network3.max_pool_2d(z, (2, 2)), z, g)
    graph.replay()
    torch.cuda.synchronize()
    np.testing.assert_array_equal(
        as_numpy(grad), books_max_pool_gradient(as_numpy(z), (2, 2), as_numpy(g)))


@needs_cuda
def test_cuda_graph_with_dropout_repeats_with_a_seed(tmp_path):
    x, y = shared(*synthetic(400, n_in=144, classes=4, seed=13))
    runs = []
    for _ in range(2):
        torch.manual_seed(4)
        net = small_conv_net(mb=4, p_dropout=0.5)
        quiet(net.SGD, (x, y), 1, 4, 0.2, (x, y), None)
        runs.append(net)
    assert runs[0].capture_used
    for a, b in zip(runs[0].params, runs[1].params):  # cuDNN may sum in any order
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    runs[0].save(tmp_path / "net.pt")
    loaded = network3.load(tmp_path / "net.pt")
    assert loaded.params[0].device.type == "cuda"
    np.testing.assert_array_equal(loaded.predict(x), runs[0].predict(x))


#### Shape checks

@pytest.mark.parametrize("make, message", [
    (lambda: Network([ConvPoolLayer(filter_shape=(20, 1, 5, 5),
                                    image_shape=(20, 1, 28, 28)),
                      FullyConnectedLayer(n_in=2880, n_out=10)], 10),
     r"image_shape \(20, 1, 28, 28\) is for mini-batches of 20.*mini_batch_size is 10"),
    (lambda: Network([ConvPoolLayer(filter_shape=(20, 1, 5, 5),
                                    image_shape=(10, 1, 28, 28)),
                      ConvPoolLayer(filter_shape=(40, 20, 5, 5),
                                    image_shape=(10, 20, 14, 14))], 10),
     r"layer 1 \(ConvPoolLayer\).*\(20, 14, 14\).*layer 0 outputs \(20, 12, 12\)"),
    (lambda: Network([ConvPoolLayer(filter_shape=(20, 1, 5, 5),
                                    image_shape=(10, 1, 28, 28)),
                      FullyConnectedLayer(n_in=640, n_out=100)], 10),
     r"layer 1 \(FullyConnectedLayer\) takes 640 inputs.*outputs 2880"),
    (lambda: Network([FullyConnectedLayer(n_in=784, n_out=100),
                      SoftmaxLayer(n_in=30, n_out=10)], 10),
     r"layer 1 \(SoftmaxLayer\) takes 30 inputs, but layer 0 .* outputs 100"),
    (lambda: ConvPoolLayer(filter_shape=(20, 3, 5, 5), image_shape=(10, 1, 28, 28)),
     r"expects 3 input feature maps .* has 1"),
    (lambda: ConvPoolLayer(filter_shape=(20, 1, 5), image_shape=(10, 1, 28, 28)),
     r"filter_shape must be a tuple of 4"),
    (lambda: ConvPoolLayer(filter_shape=(2, 1, 5, 5), image_shape=(10, 1, 5, 5)),
     r"smaller than the 2x2 pooling"),
    (lambda: FullyConnectedLayer(n_in=784, n_out=100, p_dropout=1.0),
     r"p_dropout must be in \[0, 1\)"),
    (lambda: Network([], 10), r"at least one layer"),
    (lambda: Network([SoftmaxLayer(n_in=784, n_out=10)], 0), r"mini_batch_size"),
])
def test_shapes_that_do_not_chain_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_sgd_rejects_mismatched_arguments():
    net = Network([FullyConnectedLayer(n_in=784, n_out=30), SoftmaxLayer(n_in=30, n_out=10)], 10)
    data = shared(*synthetic(50))
    with pytest.raises(ValueError, match="mini_batch_size=5.*mini-batches of 10"):
        net.SGD(data, 1, 5, 0.1, data, data)
    wrong = shared(*synthetic(50, n_in=100))
    with pytest.raises(ValueError, match=r"training_data: images of shape \(50, 100\).*784"):
        net.SGD(wrong, 1, 10, 0.1, data, data)
    few = shared(*synthetic(5))
    with pytest.raises(ValueError, match="validation_data holds fewer examples"):
        net.SGD(data, 1, 10, 0.1, few, data)
    with pytest.raises(ValueError, match="predict needs images of 784 values"):
        net.predict(np.zeros((3, 100)))


#### Predictions, saving and loading

def test_predict_matches_the_inference_path_for_any_count():
    net = small_conv_net(mb=4)
    with torch.no_grad():
        net.layers[-1].w.normal_()
    x, _ = synthetic(2503, n_in=144, classes=4, seed=10)
    predictions = net.predict(x)
    assert isinstance(predictions, np.ndarray) and predictions.dtype == np.int64
    assert predictions.shape == (2503,)
    with torch.no_grad():
        net.feedforward(torch.from_numpy(x).to(DEV))
        direct = net.layers[-1].y_out.cpu().numpy()
    np.testing.assert_array_equal(predictions, direct)
    assert len(set(predictions.tolist())) > 1
    assert net.predict(x[5]).tolist() == [direct[5]]
    images = torch.from_numpy(x[:3].reshape(3, 1, 12, 12))
    assert net.predict(images).tolist() == direct[:3].tolist()
    assert net.predict(np.zeros((0, 144))).shape == (0,)


def test_save_and_load_round_trip(tmp_path):
    net = small_conv_net(mb=4, p_dropout=0.3)
    x, y = synthetic(80, n_in=144, classes=4, seed=11)
    quiet(net.SGD, shared(x, y), 1, 4, 0.3, shared(x, y), None)
    path = tmp_path / "net.pt"
    net.save(path)
    state = np.random.get_state()[1].copy()
    loaded = network3.load(path)
    assert np.array_equal(np.random.get_state()[1], state)  # numpy's RNG untouched
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in net.layers]
    assert loaded.mini_batch_size == 4
    assert loaded.layers[0].activation_fn is ReLU and loaded.layers[1].activation_fn is tanh
    assert loaded.layers[1].p_dropout == loaded.layers[2].p_dropout == 0.3
    for a, b in zip(net.params, loaded.params):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    assert loaded.accuracy(shared(x, y)) == net.accuracy(shared(x, y))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pt"]  # no temp files
    assert net.seed is None and loaded.seed is None


def test_a_saved_net_keeps_the_seed_of_its_run(tmp_path):
    layers = small_conv_net(mb=4).layers
    Network(layers, 4, seed=1234).save(tmp_path / "seeded.pt")
    assert network3.load(tmp_path / "seeded.pt").seed == 1234
    # Files from before the seed was kept still load.
    blob = torch.load(tmp_path / "seeded.pt", weights_only=True)
    del blob["seed"]
    torch.save(blob, tmp_path / "older.pt")
    assert network3.load(tmp_path / "older.pt").seed is None


def seeded_conv_net():
    np.random.seed(12345678)
    mb = 4
    return Network([
        ConvPoolLayer(image_shape=(mb, 1, 12, 12), filter_shape=(3, 1, 3, 3),
                      poolsize=(2, 2), activation_fn=ReLU),
        ConvPoolLayer(image_shape=(mb, 3, 5, 5), filter_shape=(4, 3, 2, 2),
                      poolsize=(2, 2), activation_fn=ReLU),
        FullyConnectedLayer(n_in=4 * 2 * 2, n_out=8, activation_fn=ReLU),
        SoftmaxLayer(n_in=8, n_out=4)], mb, seed=7)


def inference_output(net, x):
    with torch.no_grad():
        net.feedforward(torch.from_numpy(x).to(DEV))
    return as_numpy(net.output)


def test_save_and_load_keep_a_seeded_conv_nets_output(tmp_path):
    net = seeded_conv_net()
    x, _ = synthetic(12, n_in=144, seed=2)
    net.save(tmp_path / "net.pt")
    assert torch.load(tmp_path / "net.pt", weights_only=True)["version"] == 2
    loaded = network3.load(tmp_path / "net.pt")
    np.testing.assert_array_equal(inference_output(loaded, x), inference_output(net, x))
    for a, b in zip(net.layers[:2], loaded.layers[:2]):
        assert torch.equal(a.w, b.w)


def test_files_of_version_1_load_with_their_filters_turned_round(tmp_path):
    # Version 1 files held each filter turned through 180 degrees: what
    # PyTorch's conv2d had slid over the image unturned.
    net = seeded_conv_net()
    x, _ = synthetic(12, n_in=144, seed=2)
    net.save(tmp_path / "net.pt")
    blob = torch.load(tmp_path / "net.pt", weights_only=True)
    blob["version"] = 1
    for j in (0, 2):  # the two ConvPoolLayers' w
        blob["params"][j] = torch.flip(blob["params"][j], (2, 3))
    torch.save(blob, tmp_path / "old.pt")
    loaded = network3.load(tmp_path / "old.pt")
    for a, b in zip(net.params, loaded.params):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(inference_output(loaded, x), inference_output(net, x))
    # saved again, it is a version 2 file
    loaded.save(tmp_path / "again.pt")
    again = torch.load(tmp_path / "again.pt", weights_only=True)
    assert again["version"] == 2
    assert torch.equal(again["params"][0], net.params[0].detach().cpu())


def test_save_refuses_what_it_cannot_record_and_writes_nothing(tmp_path):
    net = Network([FullyConnectedLayer(n_in=4, n_out=3, activation_fn=lambda z: z * 2),
                   SoftmaxLayer(n_in=3, n_out=2)], 2)
    with pytest.raises(ValueError, match="cannot save the activation function"):
        net.save(tmp_path / "net.pt")
    assert list(tmp_path.iterdir()) == []


def saved_blob(tmp_path):
    net = Network([FullyConnectedLayer(n_in=4, n_out=3), SoftmaxLayer(n_in=3, n_out=2)], 2)
    net.save(tmp_path / "good.pt")
    return torch.load(tmp_path / "good.pt", weights_only=True)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("damage, message", [
    (lambda blob, path: path.write_bytes(b"not a network at all"), "not a network saved"),
    (lambda blob, path: path.write_bytes((path.parent / "good.pt").read_bytes()[:200]),
     "not a network saved"),
    (lambda blob, path: torch.save({"weights": [torch.zeros(2)]}, path),
     "does not say it holds a network3"),
    (lambda blob, path: torch.save(dict(blob, version=99), path), "version 99"),
    (lambda blob, path: torch.save(dict(blob, architecture="[{"), path),
     "unreadable architecture"),
    (lambda blob, path: torch.save(dict(blob, architecture=blob["architecture"].replace(
        "SoftmaxLayer", "MysteryLayer")), path), "unknown layer type 'MysteryLayer'"),
    (lambda blob, path: torch.save(dict(blob, architecture=blob["architecture"].replace(
        '"sigmoid"', '"os.system"')), path), "unknown activation function"),
    (lambda blob, path: torch.save(dict(blob, params=blob["params"][:3]), path),
     "expected 4 weight tensors"),
    (lambda blob, path: torch.save(dict(blob, params=[torch.zeros(5, 5)] + blob["params"][1:]),
                                   path), r"weight tensor 0 is \(5, 5\), expected \(4, 3\)"),
    (lambda blob, path: torch.save(dict(blob, mini_batch_size=-1), path), "mini_batch_size"),
    (lambda blob, path: torch.save(dict(blob, seed="12"), path), "the seed is '12'"),
    (lambda blob, path: torch.save(dict(blob, extra=Evil()), path), "not a network saved"),
])
def test_load_rejects_malformed_files(tmp_path, damage, message):
    blob = saved_blob(tmp_path)
    path = tmp_path / "bad.pt"
    damage(blob, path)
    with pytest.raises(network3.NetworkFileError, match=message):
        network3.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such network file"):
        network3.load(tmp_path / "absent.pt")


#### Data

def test_load_data_shared_resolves_relative_paths(tmp_path, monkeypatch):
    x, y = synthetic(12)
    data = ((x, y), (x[:4], y[:4]), (x[4:9], y[4:9]))
    (tmp_path / "d").mkdir()
    safe_files.write_pickle(tmp_path / "d" / "tiny.pkl.gz", data)
    monkeypatch.chdir(tmp_path)
    loaded = network3.load_data_shared("d/tiny.pkl.gz")
    assert [network3.size(part) for part in loaded] == [12, 4, 5]
    for (lx, ly), (ex, ey) in zip(loaded, data):
        assert lx.dtype == torch.float32 and ly.dtype == torch.int64
        assert lx.device.type == network3.device.type
        np.testing.assert_array_equal(lx.cpu().numpy(), ex)
        np.testing.assert_array_equal(ly.cpu().numpy(), ey)
    # Relative to src/, as the book's "../data/..." calls are, from a folder
    # one level deeper than src/ (where the same climb cannot reach the file,
    # wherever the clone and the temporary folders are).
    relative = os.path.relpath(tmp_path / "d" / "tiny.pkl.gz", SRC)
    base = tmp_path.resolve()
    elsewhere = base.joinpath(*["e"] * max(1, len(SRC.parts) - len(base.parts) + 1))
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    assert not Path(relative).exists()
    assert network3.size(network3.load_data_shared(relative)[0]) == 12
    with pytest.raises(safe_files.DataFileError, match="expand_mnist.py"):
        network3.load_data_shared("../data/mnist_expanded_missing.pkl.gz")


#### The real MNIST data

@pytest.fixture(scope="module")
def mnist():
    return network3.load_data_shared()


def test_the_data_pairs_behave_as_the_books_except_for_slicing(mnist):
    training_data, validation_data, test_data = mnist
    x, y = training_data
    assert training_data[0] is x and training_data[1] is y and training_data[-1] is y
    assert len(training_data) == 2 and network3.size(training_data) == 50000
    assert training_data == (x, y)
    # The chapter 3 habit would train on every image: it is refused, with the way out.
    with pytest.raises(TypeError) as error:
        training_data[:1000]
    message = str(error.value)
    assert "\n" not in message
    assert message.endswith("write (training_data[0][:1000], training_data[1][:1000])")
    with pytest.raises(TypeError, match=re.escape("(training_data[0][10:20:2], ")):
        validation_data[10:20:2]
    first = (training_data[0][:1000], training_data[1][:1000])
    assert network3.size(first) == 1000


def test_books_relative_call_from_src(mnist, monkeypatch):
    monkeypatch.chdir(SRC.parent / "tests")  # "../data" is then the repo's data/
    training_data, validation_data, test_data = network3.load_data_shared("../data/mnist.pkl.gz")
    assert [network3.size(d) for d in (training_data, validation_data, test_data)] == [
        50000, 10000, 10000]
    assert torch.equal(training_data[0][:100], mnist[0][0][:100])


def test_shallow_network_on_mnist(mnist):
    """FC 784-100 sigmoid + softmax, eta 0.1, mini-batches of 10: about 92.5%
    after one epoch and 94.5% after two (measured over seeds 0, 3, 12345678)."""
    training_data, validation_data, test_data = mnist
    np.random.seed(12345678)
    torch.manual_seed(12345678)
    mini_batch_size = 10
    net = Network([FullyConnectedLayer(n_in=784, n_out=100),
                   SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
    lines = quiet(net.SGD, training_data, 2, mini_batch_size, 0.1,
                  validation_data, test_data)
    assert lines[:5] == [f"Training mini-batch number {i}" for i in range(0, 5000, 1000)]
    assert net.validation_accuracies[0] >= 0.92
    assert net.validation_accuracies[1] >= 0.94
    assert net.test_accuracy >= 0.93


@pytest.mark.slow
def test_relu_double_conv_network_on_mnist(mnist):
    """The book's dbl_conv_relu: about 97.0-97.9% after one epoch and
    98.2-98.4% after two (measured over seeds 1, 2, 3, 12345678)."""
    training_data, validation_data, test_data = mnist
    np.random.seed(12345678)
    torch.manual_seed(12345678)
    mini_batch_size = 10
    net = Network([
        ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                      filter_shape=(20, 1, 5, 5), poolsize=(2, 2), activation_fn=ReLU),
        ConvPoolLayer(image_shape=(mini_batch_size, 20, 12, 12),
                      filter_shape=(40, 20, 5, 5), poolsize=(2, 2), activation_fn=ReLU),
        FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, activation_fn=ReLU),
        SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
    quiet(net.SGD, training_data, 2, mini_batch_size, 0.03, validation_data, test_data,
          lmbda=0.1)
    assert net.validation_accuracies[0] >= 0.965
    assert net.validation_accuracies[1] >= 0.975
    assert net.test_accuracy >= 0.97


#### The capture's defences, checked on any device

class GraphWithoutGenerators:
    """A CUDAGraph as a PyTorch without register_generator_state has it."""

    def replay(self):
        raise AssertionError("nothing may be replayed")


class GraphWithEverything(GraphWithoutGenerators):
    def register_generator_state(self, generator):
        pass


def test_a_missing_graph_method_is_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, "CUDAGraph", GraphWithoutGenerators)
    assert network3.missing_capture_method(False) is None
    assert (network3.missing_capture_method(True)
            == "torch.cuda.CUDAGraph.register_generator_state")
    monkeypatch.setattr(torch.cuda, "CUDAGraph", GraphWithEverything)
    assert network3.missing_capture_method(True) is None
    monkeypatch.delattr(torch.cuda, "graph")
    assert network3.missing_capture_method(False) == "torch.cuda.graph"


def test_without_the_method_capture_falls_back_to_eager_steps_with_a_warning(monkeypatch):
    """A seeded dropout net on a PyTorch lacking register_generator_state:
    the capture is not tried, the warning names the method and the cost,
    and the steps go on eagerly, the same as SGD's plain loop."""
    monkeypatch.setattr(torch.cuda, "CUDAGraph", GraphWithoutGenerators)
    np.random.seed(3)
    layers = [FullyConnectedLayer(n_in=784, n_out=20, p_dropout=0.5),
              SoftmaxLayer(n_in=20, n_out=10)]
    net = Network(layers, 10, seed=7)
    reference = copy.deepcopy(net)
    x = torch.rand(40, 784, device=network3.device)
    y = torch.randint(0, 10, (40,), device=network3.device)
    steps = network3.CUDAGraphSteps(net, x, y, 0.1, 0.0, 4)
    steps.use_graph = True  # as on a GPU, where capture would come next
    with pytest.warns(RuntimeWarning, match=r"has no torch\.cuda\.CUDAGraph\."
                                            r"register_generator_state.*ten times slower"):
        steps.capture()
    assert steps.graph is None and not steps.use_graph
    for j in range(4):
        steps(j)
    for j in range(4):
        reference.update_mini_batch(x[10 * j:10 * (j + 1)], y[10 * j:10 * (j + 1)], 0.1, 0.0, 4)
    for p, q in zip(net.params, reference.params):
        assert torch.equal(p, q)
