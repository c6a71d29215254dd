"""network
~~~~~~~

Chapters 1 and 2 of Michael Nielsen's *Neural Networks and Deep Learning*
in Python 3: a network of sigmoid neurons that learns by stochastic
gradient descent on the quadratic cost C = 1/(2n) sum_x ||y(x) - a^L(x)||^2,
its gradient found by backpropagation::

    >>> import mnist_loader, network
    >>> training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    >>> net = network.Network([784, 30, 10])
    >>> net.SGD(training_data, 30, 10, 3.0, test_data=test_data)
    Epoch 0: 9129 / 10000
    ...

(the counts depend on the random start, which ``np.random.seed`` and
``random.seed`` fix, or ``Network(sizes, seed=s)``).  Training runs through
the book's methods, ``SGD`` -> ``update_mini_batch`` -> ``backprop`` ->
``cost_derivative`` and ``sigmoid_prime``: change one and what is learnt
changes.  Beyond the book, computing the same thing:

* Speed, by chapter 2's problem: ``update_mini_batch`` hands ``backprop``
  the mini-batch as the columns of two matrices, one matrix product per
  layer instead of m; and SGD runs numpy on one BLAS thread (more gain
  nothing at this size, and lose badly when another program keeps a core
  busy: ``tests/benchmark.py``).
* A sigmoid that never overflows, and ``ValueError`` messages that say
  what is wrong with data of the wrong shape or type (the file's end).
* ``save`` and ``load``, in network2's JSON format.
"""

#### Libraries
import numbers
import random

import numpy as np
from threadpoolctl import threadpool_limits

import network_files  # save and load (src/network_files.py); training needs only numpy


class Network:
    """A feedforward network of sigmoid neurons, trained by mini-batch SGD."""

    def __init__(self, sizes, seed=None):
        """A network whose layer l has ``sizes[l]`` neurons: ``[784, 30, 10]``
        has 784 inputs, 30 hidden neurons and 10 outputs.  Biases (none for
        the inputs), then weights, are standard normal draws, in the book's
        order; ``weights[i][j, k]`` joins neuron k of a layer to neuron j of
        the next.  ``seed`` (not in the book) gives the network generators
        of its own instead of numpy's and ``random``'s global ones."""
        self.sizes = _check_sizes(sizes)
        self.num_layers = len(self.sizes)
        self._generators = (None if seed is None
                            else (np.random.RandomState(seed), random.Random(seed)))
        randn = np.random.randn if seed is None else self._generators[0].randn
        self.biases = [randn(y, 1) for y in self.sizes[1:]]
        self.weights = [randn(y, x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        """Return the output of the network for the input column ``a``
        (for m inputs as the columns of a (sizes[0], m) matrix, m outputs)."""
        a = _check_column(a, self.sizes[0], "the input a", columns_ok=True)
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train the network by mini-batch stochastic gradient descent.

        ``training_data`` is a list (or any iterable) of pairs ``(x, y)``, x
        of shape (sizes[0], 1), y of shape (sizes[-1], 1).  Each epoch
        shuffles a copy of it (``random.shuffle``, as in the book), cuts it
        into mini-batches and calls ``update_mini_batch`` on each.  With
        ``test_data`` (pairs of an input and an integer label) each epoch
        prints ``Epoch j: correct / total``, else ``Epoch j complete``.  Each
        step leaves new weight and bias arrays, as the book's does; Ctrl-C
        keeps what was learnt up to the last whole step.
        """
        epochs = _check_count("epochs", epochs, 0)
        mini_batch_size = _check_count("mini_batch_size", mini_batch_size, 1)
        eta = _check_number("eta (the learning rate)", eta)
        training_data = _check_pairs(training_data, "training_data", self.sizes,
                                     one_hot=True)
        if test_data is not None:
            test_data = _check_pairs(test_data, "test_data", self.sizes,
                                     one_hot=False)
            n_test = len(test_data)
        n = len(training_data)
        shuffle = random.shuffle if self._generators is None else self._generators[1].shuffle
        with threadpool_limits(limits=1, user_api="blas"):
            for j in range(epochs):
                shuffle(training_data)
                mini_batches = [training_data[k:k + mini_batch_size]
                                for k in range(0, n, mini_batch_size)]
                for mini_batch in mini_batches:
                    self.update_mini_batch(mini_batch, eta)
                if test_data is not None:
                    print(f"Epoch {j}: {self.evaluate(test_data)} / {n_test}")
                else:
                    print(f"Epoch {j} complete")

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step on ``mini_batch``, a list of ``(x, y)``
        pairs: every weight and bias moves by -eta/m times the gradient
        summed over the m examples, which ``backprop`` computes in one call
        from the x and the y as the columns of two matrices (chapter 2's
        matrix-based approach)."""
        x, y = _columns(mini_batch, self.sizes, one_hot=True, what="mini_batch")
        nabla_b, nabla_w = self.backprop(x, y)
        m = x.shape[1]
        # New arrays, as the book's step makes (an old reference keeps the old
        # values): w - (eta/m)*nw, computed in the gradient's own arrays, so
        # the step allocates no array beyond what backprop returned.  Both
        # lists are made before one assignment binds them, which Ctrl-C
        # cannot split: an interrupted step leaves the old network or the new.
        for nw, nb in zip(nabla_w, nabla_b):
            nw *= eta / m
            nb *= eta / m
        self.weights, self.biases = (
            [np.subtract(w, nw, out=nw) for w, nw in zip(self.weights, nabla_w)],
            [np.subtract(b, nb, out=nb) for b, nb in zip(self.biases, nabla_b)])

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of the cost C_x, shaped
        like ``biases`` and ``weights``.  ``x`` is an input column (sizes[0],
        1) and ``y`` the desired output (sizes[-1], 1), as in the book; or m
        of each as matrix columns, and the gradient is summed over them."""
        x = _check_column(x, self.sizes[0], "x (the input)", columns_ok=True)
        y = _check_column(y, self.sizes[-1], "y (the desired output)",
                          columns_ok=True, m=x.shape[1])
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        # Feedforward, keeping each layer's weighted input z and activation.
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # Backward pass.  BP1: the output error delta^L = grad_a C (.) sigma'(z^L).
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        # BP3: dC/db = delta; summing the columns sums over the examples.
        nabla_b[-1] = delta.sum(axis=1, keepdims=True)
        # BP4: dC/dw_jk = a^{l-1}_k delta^l_j; the product sums the examples.
        nabla_w[-1] = np.dot(delta, activations[-2].T)
        # l counts layers back from the output: l = 2 is the last hidden one.
        for l in range(2, self.num_layers):
            # BP2: delta^l = ((w^{l+1})^T delta^{l+1}) (.) sigma'(z^l).
            delta = np.dot(self.weights[-l + 1].T, delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta.sum(axis=1, keepdims=True)
            nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
        return nabla_b, nabla_w

    def evaluate(self, test_data):
        """Return how many of ``test_data``'s (input, integer label) pairs the
        network gets right, its answer being its most active output neuron
        (the inputs are fed forward a thousand at a time, as columns)."""
        test_data = _as_list(test_data, "test_data")
        correct = 0
        for k in range(0, len(test_data), 1000):
            x, labels = _columns(test_data[k:k + 1000], self.sizes,
                                 one_hot=False, what="test_data", start=k)
            correct += int(np.sum(np.argmax(self.feedforward(x), axis=0) == labels))
        return correct

    def cost_derivative(self, output_activations, y):
        """Return the vector of partial derivatives dC_x/da for the output
        activations: a - y, for the quadratic cost."""
        return output_activations - y

    def save(self, filename):
        """Write the network to ``filename`` as network2's JSON: ``sizes``,
        ``weights``, ``biases`` (nested lists) and ``cost``, here always
        ``"QuadraticCost"``.  It is written to a temporary file and renamed:
        a failure leaves no half-written file."""
        network_files.write_network(filename, self.sizes, self.weights, self.biases,
                                    "QuadraticCost")


#### Loading a network
# The largest file load() reads (about five million weights; what reading
# one costs is measured in network_files).
MAX_NETWORK_FILE_BYTES = network_files.MAX_NETWORK_FILE_BYTES


def load(filename):
    """Read a network written by ``Network.save`` (or by network2's save
    of a quadratic-cost network) and return it as a ``Network``.

    The file is only parsed as JSON, never run.  One that is not such a
    network (not JSON, over ``MAX_NETWORK_FILE_BYTES``, a missing key,
    shapes that do not match ``sizes``, values that are not finite numbers,
    a cost other than the quadratic one this module trains) raises
    ``ValueError`` naming the file and the problem.

    The network is built as network2.load in the book builds its own:
    ``Network(sizes)``, whose random start is drawn from numpy's global
    generator, then given the saved weights and biases in its place.
    """
    what = "a saved network.py network"
    sizes, weights, biases, cost = network_files.read_network(
        filename, what, MAX_NETWORK_FILE_BYTES)
    if cost != "QuadraticCost":
        hint = " (network2.load reads it)" if cost == "CrossEntropyCost" else ""
        raise network_files.not_a_network(
            filename, what, f"its cost is {cost[:100]!r}, but network.py trains only "
                            f"the quadratic cost{hint}")
    net = Network(sizes)
    net.weights, net.biases = weights, biases
    return net


#### Miscellaneous functions
def sigmoid(z):
    """The sigmoid function 1/(1 + e^-z), elementwise.

    z is first raised to at least -709: below that e^-z overflows float64
    (with a RuntimeWarning), and the sigmoid there is under 1.3e-308 anyway.
    """
    return 1.0 / (1.0 + np.exp(-np.maximum(z, -709.0)))


def sigmoid_prime(z):
    """Derivative of the sigmoid function: sigma(z)(1 - sigma(z))."""
    s = sigmoid(z)
    return s * (1 - s)


#### Checking the caller's input
# network.py and network2.py end with the same checks and messages (each
# module stands alone, as in the book); tests/test_input_checks.py holds the
# two in step.

def _check_sizes(sizes):
    if (not isinstance(sizes, (list, tuple)) or len(sizes) < 2
            or not all(_is_int(n) and n >= 1 for n in sizes)):
        raise ValueError(f"sizes must list at least two positive layer sizes, "
                         f"such as [784, 30, 10]; got {sizes!r}")
    return [int(n) for n in sizes]


def _check_count(name, value, minimum):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_number(name, value):
    if (not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_))
            or not np.isfinite(value)):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def _is_int(value):
    """True for Python and numpy integers, not for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_column(v, n, what, columns_ok=False, m=None):
    """``v`` as an array of numbers of shape (n, 1); (n, m) for any m if
    ``columns_ok``, for the m given if ``m``."""
    v = np.asarray(v)
    if v.dtype.kind not in "fiu":
        raise ValueError(f"{what} should hold numbers, got dtype {v.dtype}")
    wanted = (f"({n}, {m})" if m is not None else
              f"({n}, 1) (or ({n}, m) for m examples)" if columns_ok else f"({n}, 1)")
    if v.shape == (n, m) or (m is None and v.shape == (n, 1)) or (
            m is None and columns_ok and v.ndim == 2 and v.shape[0] == n):
        return v
    message = f"{what} has shape {v.shape}, but the network expects {wanted}"
    if v.shape == (n,):
        message += f": a column, not a flat array; use .reshape({n}, 1)"
    elif v.shape == (1, n):
        message += ": a column, not a row; transpose it"
    elif v.ndim == 2 and v.shape[0] != n:
        message += (f": {v.shape[0]} entries where the layer has {n} neurons "
                    f"(the sizes given to Network must match the data)")
    raise ValueError(message)


def _as_list(data, what):
    """``data`` as a non-empty list (an iterator is read once, here)."""
    try:
        data = list(data)
    except TypeError:
        raise ValueError(f"{what} must be an iterable of (x, y) pairs, got "
                         f"{type(data).__name__}") from None
    if not data:
        raise ValueError(f"{what} is empty (a zip object or other iterator can be "
                         f"read only once: pass a list to use the same data again)")
    return data


def _check_pairs(data, what, sizes, one_hot, start=0):
    """``data`` as a list of ``(x, y)`` pairs, each checked: x a column of
    sizes[0] numbers; y a column of sizes[-1] numbers (``one_hot``: training
    data) or an integer label (evaluation data)."""
    pairs = _as_list(data, what)
    n_in, n_out = sizes[0], sizes[-1]
    for i, pair in enumerate(pairs, start):
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}] should be an (x, y) pair, got "
                             f"{type(pair).__name__}") from None
        if not (type(x) is np.ndarray and x.shape == (n_in, 1) and x.dtype.kind in "fiu"):
            _check_column(x, n_in, f"{what}[{i}][0] (the input x)")
        if one_hot and _is_int(y):
            raise ValueError(
                f"{what}[{i}][1] (the desired output y) is the integer {y}, but a "
                f"one-hot column of shape ({n_out}, 1) is needed here, such as "
                f"mnist_loader.vectorized_result({y}); integer labels are for "
                f"test and validation data")
        if one_hot and not (type(y) is np.ndarray and y.shape == (n_out, 1)
                            and y.dtype.kind in "fiu"):
            _check_column(y, n_out, f"{what}[{i}][1] (the desired output y)")
        if not one_hot and not (_is_int(y) and 0 <= y < n_out):
            raise ValueError(
                f"{what}[{i}][1] (the label y) is {y}, outside 0..{n_out - 1}"
                if _is_int(y) else
                f"{what}[{i}][1] (the label y) should be an integer 0..{n_out - 1}, "
                f"got {type(y).__name__} of shape {np.shape(y)}; one-hot columns "
                f"belong to training data")
    _check_finite(pairs, what, one_hot, start)
    return pairs


def _check_finite(pairs, what, one_hot, start=0, chunk=1000):
    """Refuse a NaN or an infinity in the inputs x of ``pairs`` (and in the
    desired outputs y of training data), which would make every weight NaN
    without a word, naming the first pair that holds one.  The columns are
    stacked a thousand at a time and each stack checked at once: for
    MNIST's 50,000 training pairs, x and y, about 33 ms once per SGD call
    (one epoch of a [784, 30, 10] network takes about 0.4 s)."""
    parts = ((0, "the input x"), (1, "the desired output y")) if one_hot else \
        ((0, "the input x"),)
    for k in range(0, len(pairs), chunk):
        for j, name in parts:
            block = np.stack([pair[j] for pair in pairs[k:k + chunk]])
            if block.dtype.kind != "f" or np.isfinite(block).all():
                continue
            finite = np.isfinite(block).reshape(len(block), -1).all(axis=1)
            i = int(np.argmin(finite))
            value = block[i][~np.isfinite(block[i])][0]
            raise ValueError(f"{what}[{start + k + i}][{j}] ({name}) holds {value}; "
                             f"every value must be a finite number")


def _columns(pairs, sizes, one_hot, what, start=0):
    """The inputs of ``pairs`` as the columns of a float64 matrix, and their
    desired outputs as the columns of another (``one_hot``) or as an array of
    labels.  Pairs that do not fit get ``_check_pairs``' message."""
    m, n_in, n_out = len(pairs), sizes[0], sizes[-1]
    try:  # stacking the columns as rows, then transposing, is the quick way
        x, y = np.array([x for x, _ in pairs]), np.array([y for _, y in pairs])
        fits = x.shape == (m, n_in, 1) and x.dtype.kind in "fiu" and (
            y.shape == (m, n_out, 1) and y.dtype.kind in "fiu" if one_hot else
            y.shape == (m,) and y.dtype.kind in "iu" and 0 <= y.min() and y.max() < n_out)
    except (TypeError, ValueError):
        fits = False
    if not fits:
        _check_pairs(pairs, what, sizes, one_hot, start)
        raise ValueError(f"{what} cannot be laid out as columns")
    x = x.reshape(m, n_in).T.astype(np.float64, copy=False)
    return x, (y.reshape(m, n_out).T.astype(np.float64, copy=False) if one_hot else y)
