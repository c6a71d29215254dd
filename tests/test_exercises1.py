"""Tests of exercises1: chapter 1's network with no hidden layer."""

import numpy as np

import exercises1
import network


def test_no_hidden_layer_network_is_one_sigmoid_layer_of_the_pixels():
    net = exercises1.no_hidden_layer_network(seed=3)
    assert isinstance(net, network.Network) and net.sizes == [784, 10]
    assert [w.shape for w in net.weights] == [(10, 784)]
    x = np.random.default_rng(0).random((784, 4))
    expected = 1 / (1 + np.exp(-(net.weights[0] @ x + net.biases[0])))
    np.testing.assert_allclose(net.feedforward(x), expected, rtol=1e-12)


def test_no_hidden_layer_network_learns_mnist_with_the_books_sgd(capsys):
    """On 10,000 training images, two epochs take it far above chance (10%)."""
    import mnist_loader
    training, _, test = mnist_loader.load_data_wrapper()
    net = exercises1.no_hidden_layer_network(seed=1)
    before = net.evaluate(test[:1000])
    net.SGD(training[:10000], 2, 10, 3.0, test_data=test[:1000])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"Epoch 1: {net.evaluate(test[:1000])} / 1000"
    assert net.evaluate(test[:1000]) > max(550, before + 400)
