"""network2
~~~~~~~~

The program of chapters 3 and 5 of Michael Nielsen's book *Neural Networks
and Deep Learning*, ported to Python 3: chapter 1's network with the
cross-entropy cost (``CrossEntropyCost``, the default) beside the quadratic
one, L2 regularization (``lmbda``), weights started as N(0, 1/n_in)
(``default_weight_initializer``; chapter 1's start is
``large_weight_initializer``), monitoring of cost and accuracy after every
epoch, and ``save``/``load`` as JSON.  As in the book::

    >>> import mnist_loader, network2
    >>> training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    >>> net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    >>> net.large_weight_initializer()
    >>> net.SGD(training_data, 30, 10, 0.5, evaluation_data=test_data,
    ...         monitor_evaluation_accuracy=True)

Training runs through the book's methods, ``SGD`` -> ``update_mini_batch``
-> ``backprop`` -> ``cost.delta`` and ``sigmoid_prime``, and the monitoring
through ``accuracy`` and ``total_cost``: change one and what happens
changes.  Beyond the book, computing the same thing:

* Speed, by chapter 2's matrix-based approach: ``update_mini_batch`` lays a
  mini-batch side by side as the columns of two matrices and calls
  ``backprop`` once; ``accuracy`` and ``total_cost`` take a thousand
  columns at a time.  While ``SGD`` runs numpy uses one BLAS thread, which
  is fastest for products this small, on a busy machine by far.
* ``early_stopping_n`` and ``eta_schedule_n``, two of chapter 3's problems;
  ``Network(..., seed=s)`` for generators of the network's own.
* ``load`` only parses JSON and names the file and the problem when it is
  malformed; bad data and settings raise ``ValueError`` up front (the
  checks end the file).
"""

#### Libraries
import numbers
import random

import numpy as np
from threadpoolctl import threadpool_limits

import network_files  # save and load (src/network_files.py); training needs only numpy
from messages import describe  # a value from a file, named in one short line


# Examples fed forward at once by accuracy() and total_cost(): enough for
# efficient matrix products, few enough to keep the matrices small.
CHUNK_SIZE = 1000


#### The two costs
class QuadraticCost:
    """C = ||a - y||^2 / 2, chapter 1's cost."""

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` against desired output ``y``.

        With one column per example the result is the sum over the columns.
        """
        diff = np.asarray(a) - np.asarray(y)
        return 0.5 * float(np.sum(diff * diff))

    @staticmethod
    def delta(z, a, y):
        """Error dC/dz of the output layer: (a - y) * sigmoid'(z).

        The sigmoid'(z) factor is what makes learning slow when an output
        neuron saturates near 0 or 1.
        """
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C = -sum[y ln a + (1 - y) ln(1 - a)], the cost chapter 3 introduces."""

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` against desired output ``y``.

        Where a and y are both 0 (or both 1) a term reads 0 * log(0); its
        limit is 0, and ``np.nan_to_num`` turns the nan NumPy produces into
        that 0.  (A saturated wrong output, a = 1 with y = 0, gives an infinite
        term, which nan_to_num turns into the largest float.)  With one column
        per example the result is the sum over the columns.
        """
        a = np.asarray(a, dtype=float)
        y = np.asarray(y, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = -y * np.log(a) - (1.0 - y) * np.log(1.0 - a)
        return float(np.sum(np.nan_to_num(terms)))

    @staticmethod
    def delta(z, a, y):
        """Error dC/dz of the output layer: simply a - y.

        The sigmoid'(z) of the quadratic cost cancels against the derivative
        of the logarithms, so ``z`` is not needed; it is accepted so that both
        costs can be called the same way.
        """
        return a - y


# The costs a saved network may name.  load() looks a cost up here and
# nowhere else, so a file can never make it reach any other object.
COSTS = {cls.__name__: cls for cls in (QuadraticCost, CrossEntropyCost)}


#### The network
class Network:
    """A fully connected feedforward network of sigmoid neurons."""

    def __init__(self, sizes, cost=CrossEntropyCost, seed=None):
        """``sizes`` lists the neurons of each layer, inputs first;
        ``cost`` is the cost class of training and ``total_cost``; the
        weights start as ``default_weight_initializer`` sets them.  ``seed``
        (not in the book) gives the network generators of its own.
        """
        self.sizes = _check_sizes(sizes)
        self.num_layers = len(self.sizes)
        if not (hasattr(cost, "fn") and hasattr(cost, "delta")):
            raise ValueError(f"cost must be a cost class with fn(a, y) and "
                             f"delta(z, a, y), such as CrossEntropyCost or "
                             f"QuadraticCost; got {cost!r}")
        self.cost = cost
        self._generators = (None if seed is None
                            else (np.random.RandomState(seed), random.Random(seed)))
        # What the last SGD call did (not in the book): the learning rate of
        # each epoch it ran, and why it stopped early, if it did.
        self.eta_history = []
        self.stop_reason = None
        self.default_weight_initializer()

    def _randn(self, *shape):
        """Standard normal draws from the network's or the global generator."""
        if self._generators is None:
            return np.random.randn(*shape)
        return self._generators[0].randn(*shape)

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in) (standard deviation 1/sqrt(n_in)), biases N(0, 1).

        With weights that small, a fresh neuron's weighted input z is of
        order 1, away from the flat tails of the sigmoid, so it learns from
        the first epoch.  The input layer has no biases.
        """
        self.biases = [self._randn(y, 1) for y in self.sizes[1:]]
        self.weights = [self._randn(y, x) / np.sqrt(x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        """Weights and biases N(0, 1): chapter 1's start, kept for comparison."""
        self.biases = [self._randn(y, 1) for y in self.sizes[1:]]
        self.weights = [self._randn(y, x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        """Return the output of the network for the input column ``a``
        (or for m inputs as the columns of a (sizes[0], m) matrix)."""
        a = _check_column(a, self.sizes[0], "the input a", columns_ok=True)
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta,
            lmbda=0.0,
            evaluation_data=None,
            monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False,
            monitor_training_cost=False,
            monitor_training_accuracy=False,
            early_stopping_n=0,
            eta_schedule_n=0):
        """Train the network by mini-batch stochastic gradient descent.

        ``training_data`` is a list (or any iterable) of ``(x, y)`` pairs with
        one-hot columns y; ``evaluation_data``, if given, has integer labels
        (validation or test data).  ``lmbda`` is the L2 regularization
        parameter.  Each epoch shuffles a copy of the training list (with
        ``random``, as in the book), calls ``update_mini_batch`` on each
        mini-batch, then computes, prints and records what the ``monitor_*``
        flags ask for, with ``total_cost`` and ``accuracy``.  Returns the
        four lists ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``, one entry per epoch for what was monitored.

        Not in the book, both off at 0: ``early_stopping_n=n`` stops once n
        epochs in a row bring no new best evaluation accuracy;
        ``eta_schedule_n=n`` then halves eta instead, stopping at eta/128.
        ``self.eta_history`` holds the learning rate of every epoch run and
        ``self.stop_reason`` says why training stopped early, if it did.
        Each step leaves new weight and bias arrays, as the book's does;
        Ctrl-C keeps what was learnt up to the last whole step.
        """
        epochs = _check_count("epochs", epochs, 0)
        mini_batch_size = _check_count("mini_batch_size", mini_batch_size, 1)
        early_stopping_n = _check_count("early_stopping_n", early_stopping_n, 0)
        eta_schedule_n = _check_count("eta_schedule_n", eta_schedule_n, 0)
        eta = _check_number("eta (the learning rate)", eta)
        lmbda = _check_number("lmbda (the regularization parameter)", lmbda)
        if lmbda < 0:
            raise ValueError(f"lmbda (the regularization parameter) must be >= 0; "
                             f"got {lmbda}")
        watch_accuracy = early_stopping_n > 0 or eta_schedule_n > 0
        wanted = [name for name, on in (
            ("monitor_evaluation_cost", monitor_evaluation_cost),
            ("monitor_evaluation_accuracy", monitor_evaluation_accuracy),
            ("early_stopping_n", early_stopping_n > 0),
            ("eta_schedule_n", eta_schedule_n > 0)) if on]
        if evaluation_data is None and wanted:
            raise ValueError(f"{', '.join(wanted)} needs evaluation_data")
        training_data = _check_pairs(training_data, "training_data", self.sizes,
                                     one_hot=True)
        if evaluation_data is not None:
            evaluation_data = _check_pairs(evaluation_data, "evaluation_data",
                                           self.sizes, one_hot=False)
            n_data = len(evaluation_data)
        n = len(training_data)
        shuffle = random.shuffle if self._generators is None else self._generators[1].shuffle
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        self.eta_history, self.stop_reason = [], None
        best_accuracy, epochs_since_best, epochs_at_this_eta = -1, 0, 0
        start_eta = eta
        with threadpool_limits(limits=1, user_api="blas"):
            for j in range(epochs):
                shuffle(training_data)
                mini_batches = [training_data[k:k + mini_batch_size]
                                for k in range(0, n, mini_batch_size)]
                for mini_batch in mini_batches:
                    self.update_mini_batch(mini_batch, eta, lmbda, len(training_data))
                self.eta_history.append(eta)
                print(f"Epoch {j} training complete")
                if monitor_training_cost:
                    cost = self.total_cost(training_data, lmbda)
                    training_cost.append(cost)
                    print(f"Cost on training data: {cost}")
                if monitor_training_accuracy:
                    accuracy = self.accuracy(training_data, convert=True)
                    training_accuracy.append(accuracy)
                    print(f"Accuracy on training data: {accuracy} / {n}")
                if monitor_evaluation_cost:
                    cost = self.total_cost(evaluation_data, lmbda, convert=True)
                    evaluation_cost.append(cost)
                    print(f"Cost on evaluation data: {cost}")
                if monitor_evaluation_accuracy or watch_accuracy:
                    accuracy = self.accuracy(evaluation_data)
                    if monitor_evaluation_accuracy:
                        evaluation_accuracy.append(accuracy)
                        print(f"Accuracy on evaluation data: {accuracy} / {n_data}")
                print()
                if not watch_accuracy:
                    continue
                # Early stopping and the schedule: count the epochs without a
                # new best evaluation accuracy.
                if accuracy > best_accuracy:
                    best_accuracy, epochs_since_best, epochs_at_this_eta = accuracy, 0, 0
                else:
                    epochs_since_best += 1
                    epochs_at_this_eta += 1
                if early_stopping_n and epochs_since_best >= early_stopping_n:
                    self.stop_reason = "early_stopping"
                    break
                if eta_schedule_n and epochs_at_this_eta >= eta_schedule_n:
                    eta, epochs_at_this_eta = eta / 2, 0
                    if eta <= start_eta / 128:  # halving is exact in binary
                        self.stop_reason = "eta_schedule"
                        break
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """Take one gradient-descent step on ``mini_batch``, a list of
        ``(x, y)`` pairs: learning rate ``eta``, regularization parameter
        ``lmbda``, ``n`` the size of the whole training set.

        L2 regularization first shrinks every weight by the factor
        1 - eta*lmbda/n (biases are not regularized); then every weight and
        bias moves by -eta/m times the gradient of the cost summed over the
        m examples, which ``backprop`` computes in one call from the inputs
        and desired outputs laid side by side as the columns of two
        matrices (chapter 2's matrix-based approach).
        """
        x, y = _columns(mini_batch, self.sizes, one_hot=True, what="mini_batch")
        nabla_b, nabla_w = self.backprop(x, y)
        m = x.shape[1]
        # New arrays, as the book's step makes (an old reference keeps the old
        # values): (1 - eta*lmbda/n)*w - (eta/m)*nw, the subtraction written
        # into the gradient's own arrays to save one allocation a layer.
        # Both lists are made before one assignment binds them, which Ctrl-C
        # cannot split: an interrupted step leaves the old network or the new.
        for nw, nb in zip(nabla_w, nabla_b):
            nw *= eta / m
            nb *= eta / m
        self.weights, self.biases = (
            [np.subtract((1 - eta * (lmbda / n)) * w, nw, out=nw)
             for w, nw in zip(self.weights, nabla_w)],
            [np.subtract(b, nb, out=nb) for b, nb in zip(self.biases, nabla_b)])

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of the cost C_x
        (without the regularization term, which update_mini_batch applies).

        ``x`` is an input column of shape (sizes[0], 1) and ``y`` the
        desired output (sizes[-1], 1), as in the book; or m inputs and
        outputs as the columns of matrices (sizes[0], m) and (sizes[-1], m),
        and then the gradient is summed over the m examples.  ``nabla_b``
        and ``nabla_w`` are lists of arrays shaped like ``self.biases`` and
        ``self.weights``.
        """
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
        # Backward pass.  BP1: the output error, which the cost supplies.
        delta = self.cost.delta(zs[-1], activations[-1], y)
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

    def accuracy(self, data, convert=False):
        """Return how many inputs of ``data`` the network classifies right:
        its answer is the output neuron with the largest activation.

        ``convert=False`` means the y in ``data`` are integer labels
        (validation or test data), ``convert=True`` one-hot columns
        (training data).
        """
        data = _as_list(data, "data")
        correct = 0
        for k in range(0, len(data), CHUNK_SIZE):
            x, y = _columns(data[k:k + CHUNK_SIZE], self.sizes, one_hot=convert,
                            what="data", start=k)
            labels = np.argmax(y, axis=0) if convert else y
            correct += int(np.sum(np.argmax(self.feedforward(x), axis=0) == labels))
        return correct

    def total_cost(self, data, lmbda, convert=False):
        """Return the average cost over ``data`` plus the L2 term
        lmbda/(2n) * (sum of the squared weights).

        ``convert=False`` means the y in ``data`` are one-hot columns
        (training data), ``convert=True`` integer labels (validation or
        test data): the opposite convention to ``accuracy``, as in the book.
        """
        data = _as_list(data, "data")
        cost = 0.0
        for k in range(0, len(data), CHUNK_SIZE):
            x, y = _columns(data[k:k + CHUNK_SIZE], self.sizes, one_hot=not convert,
                            what="data", start=k)
            if convert:
                y = np.eye(self.sizes[-1])[:, y]
            # With one column per example, fn gives the sum of their costs.
            cost += self.cost.fn(self.feedforward(x), y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2
                                               for w in self.weights)
        return cost

    def save(self, filename):
        """Write the network to ``filename`` as JSON, in the book's layout:
        ``sizes``, ``weights``, ``biases`` (nested lists) and ``cost`` (the
        cost class's name).  It is written to a temporary file and renamed:
        a failure leaves no half-written file."""
        network_files.write_network(filename, self.sizes, self.weights, self.biases,
                                    self.cost.__name__)


#### Loading a network
# The largest file load() reads (about five million weights; what reading
# one costs is measured in network_files).
MAX_NETWORK_FILE_BYTES = network_files.MAX_NETWORK_FILE_BYTES


def load(filename):
    """Read a network written by ``Network.save`` (ours or the book's) and
    return it as a ``Network`` with the saved sizes, cost, weights, biases.

    The file is only parsed as JSON, and the cost is looked up by name in
    ``COSTS``, so nothing in the file is ever run.  One that is not such a
    network (not JSON, over ``MAX_NETWORK_FILE_BYTES``, a missing key,
    shapes that do not match ``sizes``, values that are not finite numbers,
    an unknown cost) raises ``ValueError`` naming the file and the problem.

    As in the book, the network is built by ``Network(sizes, cost=...)``,
    whose random start is drawn from numpy's global generator, and then
    given the saved weights and biases in its place.
    """
    what = "a saved network2 network"
    sizes, weights, biases, cost = network_files.read_network(
        filename, what, MAX_NETWORK_FILE_BYTES)
    if cost not in COSTS:
        raise network_files.not_a_network(
            filename, what, f"unknown cost {describe(cost)}; known costs are "
            f"{', '.join(sorted(COSTS))}")
    net = Network(sizes, cost=COSTS[cost])
    net.weights, net.biases = weights, biases
    return net


#### Miscellaneous functions
def vectorized_result(j):
    """A (10, 1) column with 1.0 in row ``j`` and zeros elsewhere: the
    output the network should give for the digit j."""
    if not (_is_int(j) and 0 <= j < 10):
        raise ValueError(f"vectorized_result expects a digit 0-9; got {j!r}")
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


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
