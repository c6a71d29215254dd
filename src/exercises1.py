"""exercises1
~~~~~~~~~~

Chapter 1's exercise that needs code, answered with network.py.

The exercise: build a network of just two layers, 784 inputs straight to 10
sigmoid outputs with no hidden layer, train it by SGD as the chapter does,
and see what accuracy it reaches.  Each output neuron then sees the raw
pixels only, so it can draw no more than one straight boundary (a
hyperplane) through pixel space per digit.  ``exercises.py`` runs it beside
[784, 30, 10], three seeds each (``python src/exercises.py --only
no_hidden_layer``): 77.84% (74.39-83.52) after 30 epochs at eta 3.0.

That shortfall is not the single boundary's.  Measured for 5 epochs of the
50,000 training images (mini-batch 10, test accuracy after the fifth epoch,
mean and range over seeds 12345678, 12345679, 12345680, CPU):

=========================================  =====  ======================
start and cost                             eta    test accuracy
=========================================  =====  ======================
network.py: N(0, 1), quadratic             3.0    60.54% (49.24-67.13)
network.py: N(0, 1), quadratic             0.5    46.87% (36.66-57.91)
network2: N(0, 1), quadratic               3.0    60.62% (49.34-67.28)
network2: N(0, 1/784) start, quadratic     3.0    88.76% (83.79-91.47)
network2: N(0, 1), cross-entropy           0.5    89.50% (88.96-89.84)
network2: N(0, 1/784) start, cross-entropy 0.5    89.55% (88.86-90.11)
=========================================  =====  ======================

(network2's nets are ``no_hidden_layer_network2``'s: each seed's start
is network.py's, so network2 with the quadratic cost retraces network.py.)

So one boundary per digit is worth about 90%; the rest of the way to
[784, 30, 10]'s 95% is what the hidden layer adds.  What costs network.py
the other 12-30 points is output neurons that stop learning.  From the
N(0, 1) start a weighted input z sums some 150 lit pixels' N(0, 1)
weights: 54-56% of the outputs on the first 1,000 training images start
at |z| > 5, where sigma'(z) < 0.007, and the quadratic cost's gradient
carries that factor.  An output stuck near 0 on its own digit's images
then hardly moves, and that digit is almost never chosen: after the 5
epochs at eta 3.0, 3, 3 and 5 of the ten digits (by seed) were recognised
in at most 12.2% of their test images (``digit_recall``; every other
digit 85-99%), against 1 digit in 1 seed (0.9%) from the scaled start with
the same cost and eta, and none with cross-entropy (every digit 64-99%).  A smaller eta does not free them (eta 0.5 is worse
above); the cross-entropy cost, whose output error a - y has no sigma'(z),
reaches about 89.5% from either start, and the scaled start
(``no_hidden_layer_network2``) keeps the median |z| at 0.6-1.0, so that
few outputs stick.
"""

import numpy as np

import network
import network2

NO_HIDDEN_SIZES = [784, 10]
BASELINE_SIZES = [784, 30, 10]


def no_hidden_layer_network(seed=None):
    """A network.py ``Network`` with no hidden layer: 784 inputs, 10 outputs.

    It trains with the book's unchanged methods (``SGD`` and everything
    below it); only the list of sizes differs from chapter 1's network.
    """
    return network.Network(NO_HIDDEN_SIZES, seed=seed)


def no_hidden_layer_network2(cost=network2.CrossEntropyCost, scaled_start=True, seed=None):
    """The same [784, 10] net as a network2 ``Network``, with ``cost``
    (network2's ``CrossEntropyCost`` or ``QuadraticCost``) and either
    network2's N(0, 1/n_in) start (``scaled_start``) or chapter 1's N(0, 1)
    one.  With one seed both starts hold network.py's draws for that seed,
    the scaled one's weights divided by sqrt(784), and the training order
    is network.py's too: the comparison above changes one thing at a time.
    """
    net = network2.Network(NO_HIDDEN_SIZES, cost=cost, seed=seed)
    if not scaled_start:
        net.weights = [w * np.sqrt(w.shape[1]) for w in net.weights]
    return net


def digit_recall(net, test_data):
    """For each digit 0-9, the fraction of its images in ``test_data``
    ((input column, integer label) pairs) that ``net`` (network.py's or
    network2's) classifies right, as a list of 10 floats (nan for a digit
    absent from the data).  A digit near 0 marks an output neuron that has
    stopped learning."""
    x = np.hstack([x for x, _ in test_data])
    labels = np.array([int(y) for _, y in test_data])
    guesses = np.argmax(net.feedforward(x), axis=0)
    return [float(np.mean(guesses[labels == d] == d)) if np.any(labels == d) else float("nan")
            for d in range(net.sizes[-1])]
