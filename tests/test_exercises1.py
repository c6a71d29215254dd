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


def test_network2_variant_holds_the_same_draws_scaled_or_not():
    import network2
    scaled = exercises1.no_hidden_layer_network2(network2.QuadraticCost, seed=5)
    large = exercises1.no_hidden_layer_network2(network2.QuadraticCost, scaled_start=False,
                                                seed=5)
    assert scaled.cost is large.cost is network2.QuadraticCost
    assert scaled.sizes == large.sizes == [784, 10]
    np.testing.assert_allclose(scaled.weights[0] * np.sqrt(784), large.weights[0],
                               rtol=1e-12)
    np.testing.assert_array_equal(scaled.biases[0], large.biases[0])
    book = exercises1.no_hidden_layer_network(seed=5)       # network.py's start
    np.testing.assert_allclose(large.weights[0], book.weights[0], rtol=1e-12)
    np.testing.assert_array_equal(large.biases[0], book.biases[0])
    assert exercises1.no_hidden_layer_network2(seed=5).cost is network2.CrossEntropyCost


def test_digit_recall_finds_an_output_that_never_wins():
    net = exercises1.no_hidden_layer_network(seed=0)
    net.weights[0][:] = 0.0
    net.biases[0][:] = -1.0
    net.weights[0][3, 0] = 5.0      # pixel 0 lit: the answer is 3
    net.biases[0][7] = 0.0          # otherwise 7
    lit, dark = np.zeros((784, 1)), np.zeros((784, 1))
    lit[0] = 1.0
    data = [(lit, 3), (dark, 7), (dark, 7), (dark, 3), (lit, 1)]
    recall = exercises1.digit_recall(net, data)
    assert recall[3] == 0.5 and recall[7] == 1.0 and recall[1] == 0.0
    assert all(np.isnan(recall[d]) for d in (0, 2, 4, 5, 6, 8, 9))
