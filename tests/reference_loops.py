"""The book's per-example training loop, kept literal as a reference.

``network.py`` and ``network2.py`` train a mini-batch as one matrix
product; the book sums ``backprop`` over the examples one at a time.  This
module holds that loop once, for the two places that compare against it:
``tests/test_network.py`` (same seeds, same weights as ``SGD``) and
``tests/benchmark.py`` (how much faster ``SGD`` runs than this loop).
"""

import random

import numpy as np


def summed_gradients(net, mini_batch):
    """The gradients of ``net.backprop`` summed over the examples of
    ``mini_batch``, one example at a time: ``(sum_b, sum_w)``, lists of
    arrays shaped like ``net.biases`` and ``net.weights``."""
    sum_b = [np.zeros(b.shape) for b in net.biases]
    sum_w = [np.zeros(w.shape) for w in net.weights]
    for x, y in mini_batch:
        grad_b, grad_w = net.backprop(x, y)
        sum_b = [s + g for s, g in zip(sum_b, grad_b)]
        sum_w = [s + g for s, g in zip(sum_w, grad_w)]
    return sum_b, sum_w


def per_example_epoch(net, data, mini_batch_size, eta, n_batches,
                      lmbda=0.0, n=None):
    """One epoch of the book's algorithm run literally, for comparison.

    Shuffles the list ``data`` in place with ``random.shuffle`` (as the
    book's SGD does once per epoch), then for each of the first
    ``n_batches`` mini-batches adds up the gradients of ``net.backprop``
    example by example and sets w = (1 - eta*lmbda/n) w - (eta/m) sum_w and
    b = b - (eta/m) sum_b.  With the default ``lmbda=0`` that is network.py's
    update; ``lmbda`` and ``n`` (default ``len(data)``) give network2's L2
    weight decay.
    """
    n = len(data) if n is None else n
    decay = 1 - eta * (lmbda / n)
    random.shuffle(data)
    for k in range(0, n_batches * mini_batch_size, mini_batch_size):
        batch = data[k:k + mini_batch_size]
        sum_b, sum_w = summed_gradients(net, batch)
        scale = eta / len(batch)
        net.weights = [decay * w - scale * s for w, s in zip(net.weights, sum_w)]
        net.biases = [b - scale * s for b, s in zip(net.biases, sum_b)]
