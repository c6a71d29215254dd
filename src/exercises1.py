"""exercises1
~~~~~~~~~~

Chapter 1's exercise that needs code, answered with network.py.

The exercise: build a network of just two layers, 784 inputs straight to 10
sigmoid outputs with no hidden layer, train it by SGD as the chapter does,
and see what accuracy it reaches.  Each output neuron then sees the raw
pixels only, so it can draw no more than one straight boundary (a
hyperplane) through pixel space per digit; look for how far that falls
short of [784, 30, 10].  ``exercises.py`` runs both, three seeds each
(``python src/exercises.py --only no_hidden_layer``).
"""

import network

NO_HIDDEN_SIZES = [784, 10]
BASELINE_SIZES = [784, 30, 10]


def no_hidden_layer_network(seed=None):
    """A network.py ``Network`` with no hidden layer: 784 inputs, 10 outputs.

    It trains with the book's unchanged methods (``SGD`` and everything
    below it); only the list of sizes differs from chapter 1's network.
    """
    return network.Network(NO_HIDDEN_SIZES, seed=seed)
