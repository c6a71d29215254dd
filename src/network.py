"""network
~~~~~~~

The neural network program of chapters 1 and 2 of Michael Nielsen's book
*Neural Networks and Deep Learning*, ported to Python 3.

A ``Network`` is a stack of fully connected layers of sigmoid neurons.  It
learns by stochastic gradient descent on the quadratic cost
C = 1/(2n) sum_x ||y(x) - a^L(x)||^2, with the gradient of each example's
cost computed by backpropagation.  Usage, as in the book::

    >>> import mnist_loader, network
    >>> training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    >>> net = network.Network([784, 30, 10])
    >>> net.SGD(training_data, 30, 10, 3.0, test_data=test_data)
    Epoch 0: 9129 / 10000
    ...

(the book's first line; the count depends on the random seed).

What this port adds to the book's program, without changing what it
computes:

* Speed.  ``update_mini_batch`` handles a whole mini-batch at once in
  matrix form (a problem posed in chapter 2): the inputs of the
  mini-batch become the rows of one matrix, so each layer costs one
  matrix product instead of one per example, and each bias rides along as
  one more weight, from an input that is always 1.  ``SGD`` also arranges
  the training data into two contiguous arrays once per call and reuses
  every array it needs from one mini-batch to the next, so an epoch runs
  about ten times faster than the book's example-by-example loop
  (``tests/benchmark.py`` measures by how much).
  ``backprop(x, y)`` keeps the readable one-example form that chapter 2
  explains; the tests check that the two give the same gradients.
* A sigmoid that never overflows: however large the weighted inputs grow
  (with the book's eta = 100.0, say), no RuntimeWarning is printed.
* Up-front checks: inputs, targets and settings of the wrong shape or type
  raise ``ValueError`` with a message naming the problem, instead of
  broadcasting into nonsense somewhere deep inside.

Randomness comes from numpy's and Python's global generators, as in the
book: weights are drawn with ``np.random.randn`` and each epoch is shuffled
with ``random.shuffle``, so ``np.random.seed(s); random.seed(s)`` before
building and training a network makes the run repeatable.
"""

#### Libraries
from __future__ import annotations

import numbers
import random
from typing import Any, Iterable, Sequence

import numpy as np


class Network:
    """A feedforward network of sigmoid neurons, trained by mini-batch SGD."""

    def __init__(self, sizes: Sequence[int]) -> None:
        """Build a network whose layer l has ``sizes[l]`` neurons.

        ``Network([784, 30, 10])`` has 784 inputs, one hidden layer of 30
        neurons and 10 outputs.  Layer 0 is the input layer: it has no
        biases, and nothing feeds into it.  Every bias and weight starts as
        an independent draw from the standard normal distribution N(0, 1);
        the biases are drawn first, layer by layer, then the weights, so a
        given ``np.random.seed`` gives the same network as the book's code.

        ``biases[i]`` is a column of shape (sizes[i+1], 1) and ``weights[i]``
        has shape (sizes[i+1], sizes[i]): entry [j, k] of it is the weight
        from neuron k of one layer to neuron j of the next.
        """
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(
                f"sizes must list at least two layers (inputs and outputs), "
                f"got {sizes!r}")
        for n in sizes:
            if not _is_int(n) or n < 1:
                raise ValueError(
                    f"every layer size must be a positive integer, got {sizes!r}")
        self.num_layers = len(sizes)
        self.sizes = [int(n) for n in sizes]
        self.biases = [np.random.randn(n, 1) for n in self.sizes[1:]]
        self.weights = [np.random.randn(n_out, n_in)
                        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        """Return the network's output for the input column ``a``.

        ``a`` has shape (sizes[0], 1).  A matrix of shape (sizes[0], m)
        whose columns are m inputs works too, and gives the m outputs as
        the columns of the result.
        """
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[0] != self.sizes[0]:
            raise ValueError(_shape_problem("the input a", a.shape, self.sizes[0],
                                            columns_ok=True))
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data: Iterable[tuple[Any, Any]], epochs: int,
            mini_batch_size: int, eta: float,
            test_data: Iterable[tuple[Any, Any]] | None = None) -> None:
        """Train the network by mini-batch stochastic gradient descent.

        ``training_data`` is any iterable (a list, a zip object, ...) of
        pairs ``(x, y)``: an input x of shape (sizes[0], 1) and the desired
        output y of shape (sizes[-1], 1).  Each of the ``epochs`` epochs
        shuffles the examples, splits them into mini-batches of
        ``mini_batch_size`` (the last one is smaller when the size does not
        divide the number of examples) and takes one gradient step of
        learning rate ``eta`` per mini-batch.

        If ``test_data`` is given (pairs of an input and an integer label),
        the network is scored on it after every epoch and the line
        ``Epoch j: correct / total`` is printed; otherwise ``Epoch j
        complete``.  Scoring shows progress, at some cost in time.

        The caller's data is left alone: it is read once into arrays owned
        by this call, and the shuffling reorders those (the book shuffled
        the caller's list in place).  The order is drawn with
        ``random.shuffle`` on a list of indices, which uses the ``random``
        module exactly as shuffling the list of examples would, so seeding
        ``random`` reproduces the book's sequence of mini-batches.  The
        arrays in ``self.weights`` and ``self.biases`` are updated in place,
        at the end of every epoch (and when the call is interrupted).

        Every mini-batch goes through the matrix-form step described in
        ``update_mini_batch``, on the quadratic cost (so a subclass that
        overrides ``update_mini_batch``, ``backprop`` or ``cost_derivative``
        does not change what ``SGD`` computes).
        """
        _check_positive_int(epochs, "epochs")
        _check_positive_int(mini_batch_size, "mini_batch_size")
        _check_learning_rate(eta)
        x_rows, y_rows = _read_pairs(training_data, "training_data", self.sizes,
                                     labels=False)
        if test_data is not None:
            test_rows, test_labels = _read_pairs(test_data, "test_data",
                                                 self.sizes, labels=True)
        n = len(x_rows)
        form = _MatrixForm(self.weights, self.biases)
        gather = _RowGatherer(x_rows)
        order = list(range(n))
        try:
            for j in range(epochs):
                random.shuffle(order)
                shuffled = np.array(order, dtype=np.intp)
                y_shuffled = y_rows[shuffled]
                for k in range(0, n, mini_batch_size):
                    form.step(gather.rows(shuffled[k:k + mini_batch_size]),
                              y_shuffled[k:k + mini_batch_size], eta)
                form.write_back(self.weights, self.biases)
                if test_data is not None:
                    correct = self._count_correct(test_rows, test_labels)
                    print(f"Epoch {j}: {correct} / {len(test_labels)}")
                else:
                    print(f"Epoch {j} complete")
        finally:
            # Also when interrupted (Ctrl-C in the shell): the network keeps
            # what it has learnt so far.
            form.write_back(self.weights, self.biases)

    def update_mini_batch(self, mini_batch: Iterable[tuple[Any, Any]],
                          eta: float) -> None:
        """Take one gradient-descent step using the examples of ``mini_batch``.

        ``mini_batch`` is a list of training pairs ``(x, y)`` as for
        ``SGD``, and ``eta`` the learning rate.  Each weight and bias moves
        by -eta/m times the sum over the m examples of the gradient that
        ``backprop`` gives for that example.

        Instead of calling ``backprop`` m times, the whole mini-batch is
        handled at once in matrix form: the m inputs are the rows of one
        (m, sizes[0]) matrix, so each layer's weighted inputs, activations
        and errors for all m examples come out of one matrix product (see
        ``_MatrixForm``).  The result is the same sum, up to rounding.  The
        arrays in ``self.weights`` and ``self.biases`` are updated in place.
        """
        _check_learning_rate(eta)
        x_rows, y_rows = _read_pairs(mini_batch, "mini_batch", self.sizes,
                                     labels=False)
        form = _MatrixForm(self.weights, self.biases)
        form.step(x_rows, y_rows, eta)
        form.write_back(self.weights, self.biases)

    def backprop(self, x: np.ndarray, y: np.ndarray
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Return ``(nabla_b, nabla_w)``, the gradient of one example's cost.

        The cost of the example (x, y) is C_x = ||y - a^L(x)||^2 / 2.
        ``nabla_b[i]`` and ``nabla_w[i]`` hold dC_x/db and dC_x/dw for
        ``self.biases[i]`` and ``self.weights[i]``, with the same shapes.
        This is chapter 2's algorithm written out for one example, for
        reading; training uses the matrix form of ``update_mini_batch``.
        """
        x = _check_column(x, self.sizes[0], "x (the input)")
        y = _check_column(y, self.sizes[-1], "y (the desired output)")
        # Forward pass: remember every layer's weighted input z and
        # activation a = sigmoid(z); the backward pass needs them.
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # Backward pass.  Index i runs over the weight layers from the
        # output back to the first; activations[i] is the input to weight
        # layer i and zs[i] its weighted input.
        last = len(self.weights) - 1
        nabla_b: list[np.ndarray] = [np.empty(0)] * len(self.biases)
        nabla_w: list[np.ndarray] = [np.empty(0)] * len(self.weights)
        # BP1: error of the output layer, delta^L = grad_a C (.) sigma'(z^L).
        delta = (self.cost_derivative(activations[-1], y)
                 * sigmoid_prime(zs[last]))
        for i in range(last, -1, -1):
            if i < last:
                # BP2: carry the error back one layer,
                # delta^l = ((w^{l+1})^T delta^{l+1}) (.) sigma'(z^l).
                delta = np.dot(self.weights[i + 1].T, delta) * sigmoid_prime(zs[i])
            # BP3: dC/db^l_j = delta^l_j.
            nabla_b[i] = delta
            # BP4: dC/dw^l_jk = a^{l-1}_k delta^l_j, an outer product.
            nabla_w[i] = np.dot(delta, activations[i].T)
        return nabla_b, nabla_w

    def evaluate(self, test_data: Iterable[tuple[Any, Any]]) -> int:
        """Return how many inputs of ``test_data`` the network classifies right.

        ``test_data`` holds pairs of an input x of shape (sizes[0], 1) and
        an integer label.  The network's answer is the output neuron with
        the highest activation.  The inputs are fed forward together, as
        the columns of a matrix, instead of one by one.
        """
        rows, labels = _read_pairs(test_data, "test_data", self.sizes, labels=True)
        return self._count_correct(rows, labels)

    def cost_derivative(self, output_activations: np.ndarray,
                        y: np.ndarray) -> np.ndarray:
        """Return dC_x/da for the output activations: a^L - y (quadratic cost)."""
        return output_activations - y

    def _count_correct(self, rows: np.ndarray, labels: np.ndarray,
                       chunk: int = 2000) -> int:
        """How many of the inputs ``rows`` (one per row) get their label."""
        correct = 0
        for k in range(0, len(rows), chunk):
            outputs = self.feedforward(rows[k:k + chunk].T)
            correct += int(np.count_nonzero(
                np.argmax(outputs, axis=0) == labels[k:k + chunk]))
        return correct


class _MatrixForm:
    """The network's weights and biases arranged for matrix-form steps.

    A bias acts like a weight from one more input neuron whose activation
    is always 1.  So layer l is held as one matrix ``[w | b]`` of shape
    (sizes[l+1], sizes[l] + 1), and the inputs of each layer as a matrix
    with one example per row and a last column of ones.  Then the weighted
    inputs of a layer, for every example of the mini-batch, are one matrix
    product (w a + b for each row), and BP3 and BP4 together are one more:
    delta^T times that matrix sums delta times the activations over the
    examples (BP4), and, in its last column, delta times 1 (BP3).

    The matrices are copies: ``step`` changes them, ``write_back`` copies
    them into the network's own arrays.  Scratch arrays for the products
    are made once for each mini-batch size and reused, so a step allocates
    no memory.
    """

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.params = [np.hstack([w, b]).astype(np.float64)
                       for w, b in zip(weights, biases)]
        # The weights without the bias column, as views (BP2 needs them).
        self.weights = [p[:, :-1] for p in self.params]
        self._scratch: dict[int, tuple[list[np.ndarray], ...]] = {}

    def write_back(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        """Copy the current weights and biases into the given arrays."""
        for w, b, p in zip(weights, biases, self.params):
            w[...] = p[:, :-1]
            b[...] = p[:, -1:]

    def _arrays(self, m: int) -> tuple[list[np.ndarray], ...]:
        """The scratch arrays for a mini-batch of m examples."""
        if m not in self._scratch:
            n_in = [p.shape[1] for p in self.params]   # inputs, plus the 1
            n_out = [p.shape[0] for p in self.params]
            inputs = [np.ones((m, k)) for k in n_in]
            zs = [np.empty((m, k)) for k in n_out]
            # Each layer's activations: in front of the ones of the next
            # layer's inputs, and for the output layer in place of z.
            activations = [x[:, :-1] for x in inputs[1:]] + [zs[-1]]
            deltas = [np.empty((m, k)) for k in n_out]
            factors = [np.empty((m, k)) for k in n_out]
            grads = [np.empty_like(p) for p in self.params]
            self._scratch[m] = (inputs, zs, activations, deltas, factors, grads)
        return self._scratch[m]

    def step(self, x_rows: np.ndarray, y_rows: np.ndarray, eta: float) -> None:
        """One gradient step of learning rate ``eta`` on m examples, given
        as rows: ``x_rows`` (m, sizes[0]) and ``y_rows`` (m, sizes[-1]).

        The same steps as ``Network.backprop`` with every vector replaced
        by a matrix of m rows.  The errors are multiplied by eta/m as soon
        as they are known: BP2 is linear in delta, so the factor carries
        through every layer and BP3 and BP4 yield the updates themselves.
        """
        m = len(x_rows)
        inputs, zs, activations, deltas, factors, grads = self._arrays(m)
        last = len(self.params) - 1
        np.copyto(inputs[0][:, :-1], x_rows)
        # Forward pass: each layer's activations go straight into the input
        # matrix of the next layer (in front of its column of ones).
        for p, x, z, a in zip(self.params, inputs, zs, activations):
            np.dot(x, p.T, out=z)
            _sigmoid_into(z, a)
        a = activations[last]
        # BP1: delta^L = (a - y) (.) sigma'(z^L), with sigma'(z) = a(1 - a),
        # times eta/m.
        delta = deltas[last]
        np.subtract(a, y_rows, out=delta)
        factor = factors[last]
        np.subtract(1.0, a, out=factor)
        factor *= a
        factor *= eta / m
        delta *= factor
        for i in range(last, -1, -1):
            # BP3 and BP4, summed over the mini-batch.
            np.dot(delta.T, inputs[i], out=grads[i])
            if i > 0:
                # BP2, with the weights this step started from.
                a = activations[i - 1]
                np.dot(delta, self.weights[i], out=deltas[i - 1])
                delta = deltas[i - 1]
                factor = factors[i - 1]
                np.subtract(1.0, a, out=factor)
                factor *= a
                delta *= factor
            self.params[i] -= grads[i]


class _RowGatherer:
    """Copies chosen rows of a data array into a reused buffer.

    ``SGD`` keeps the training inputs in their own type (the loader's
    float32 takes half the memory of float64) and gathers each shuffled
    mini-batch into a buffer of its size (at most two sizes per call: the
    full one and the last, smaller one).
    """

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self._buffers: dict[int, np.ndarray] = {}

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """Rows ``indices`` of the data (overwritten by the next call)."""
        m = len(indices)
        if m not in self._buffers:
            self._buffers[m] = np.empty((m, self.data.shape[1]), dtype=self.data.dtype)
        rows = self._buffers[m]
        # mode="clip" lets take write straight into the buffer; the indices
        # come from a permutation, so none is ever clipped.
        np.take(self.data, indices, axis=0, out=rows, mode="clip")
        return rows


#### Miscellaneous functions

# e^-z overflows float64 once z < -709.78.  sigmoid(-709) = 1.2e-308 is
# already below the smallest normal float64 (2.2e-308), so raising z to at
# least -709 first changes no value that matters, and nothing overflows.
_Z_FLOOR = -709.0


def sigmoid(z: Any) -> Any:
    """The sigmoid function 1/(1 + e^-z), elementwise, in float64.

    The same values as the formula written directly, but without its
    overflow (and RuntimeWarning) for z below about -709, which large
    weights can produce: there the result is 1.2e-308 instead of 0.
    """
    z = np.array(z, dtype=np.float64)
    result = _sigmoid_into(z, z)
    return result if result.ndim else result[()]


def sigmoid_prime(z: Any) -> Any:
    """Derivative of the sigmoid function: sigma(z)(1 - sigma(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def _sigmoid_into(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Write sigmoid(z) into ``out`` (``z`` itself, or any float64 array of
    its shape), using ``z`` as scratch space; return ``out``."""
    np.maximum(z, _Z_FLOOR, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    return np.reciprocal(z, out=out)


#### Reading and checking the caller's input

_EMPTY_HINT = (" (a zip object or other iterator can be read only once: "
               "pass a list to use the same data again)")


def _read_pairs(data: Iterable[tuple[Any, Any]], what: str, sizes: list[int],
                labels: bool) -> tuple[np.ndarray, np.ndarray]:
    """Read ``(x, y)`` pairs into arrays, checking every one of them.

    Returns ``x_rows`` of shape (n, sizes[0]), one input per row, kept in
    the inputs' own float type, and either ``y_rows`` (n, sizes[-1]) in
    float64 (training pairs, y a column) or n integer labels (``labels``
    true: test pairs, y an int).  Rows make each input one contiguous
    block of memory, so gathering a mini-batch copies m blocks.
    """
    n_in, n_out = sizes[0], sizes[-1]
    try:
        items = iter(data)
    except TypeError:
        raise ValueError(f"{what} must be an iterable of (x, y) pairs, got "
                         f"{type(data).__name__}") from None
    xs, ys = [], []
    for i, pair in enumerate(items):
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}] should be an (x, y) pair, got "
                             f"{type(pair).__name__}") from None
        # The common case (numpy columns of the right shape) is checked
        # inline; anything else gets the full check and its message.
        if not (type(x) is np.ndarray and x.shape == (n_in, 1)
                and x.dtype.kind in "fiu"):
            x = _check_column(x, n_in, f"{what}[{i}][0] (the input x)")
        if labels:
            if not (type(y) is int or _is_int(y)):
                _reject_label(y, f"{what}[{i}][1] (the label y)", n_out)
        elif not (type(y) is np.ndarray and y.shape == (n_out, 1)
                  and y.dtype.kind in "fiu"):
            if _is_int(y):
                raise ValueError(
                    f"{what}[{i}][1] (the desired output y) is the integer {y}, "
                    f"but training needs a column of shape ({n_out}, 1), e.g. "
                    f"the one-hot mnist_loader.vectorized_result({y}); pairs "
                    f"with integer labels are for test_data and evaluate()")
            y = _check_column(y, n_out, f"{what}[{i}][1] (the desired output y)")
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError(f"{what} is empty{_EMPTY_HINT}")
    x_rows = np.array(xs).reshape(len(xs), n_in)
    if x_rows.dtype.kind != "f":
        x_rows = x_rows.astype(np.float64)
    if labels:
        y_out = np.array(ys, dtype=np.intp)
        bad = np.flatnonzero((y_out < 0) | (y_out >= n_out))
        if len(bad):
            i = int(bad[0])
            raise ValueError(
                f"{what}[{i}][1] (the label y) is {ys[i]}, outside 0..{n_out - 1}: "
                f"the network has {n_out} output neurons")
    else:
        y_out = np.array(ys, dtype=np.float64).reshape(len(ys), n_out)
    return x_rows, y_out


def _reject_label(y: Any, what: str, n_out: int) -> None:
    shape = getattr(y, "shape", None)
    raise ValueError(
        f"{what} should be an integer 0..{n_out - 1}, got {type(y).__name__}"
        + (f" of shape {shape}" if shape is not None else "")
        + "; evaluation compares it with the index of the most active output "
        "(one-hot columns belong to training data)")


def _check_column(v: Any, n: int, what: str) -> np.ndarray:
    """Return ``v`` as an array, if it is a column of numbers of shape (n, 1)."""
    if type(v) is np.ndarray and v.shape == (n, 1) and v.dtype.kind in "fiu":
        return v
    v = np.asarray(v)
    if v.shape != (n, 1):
        raise ValueError(_shape_problem(what, v.shape, n))
    if v.dtype.kind not in "fiu":
        raise ValueError(f"{what} should hold numbers, got dtype {v.dtype}")
    return v


def _shape_problem(what: str, shape: tuple[int, ...], n: int,
                   columns_ok: bool = False) -> str:
    """A message saying how ``shape`` differs from the column (n, 1) wanted."""
    wanted = f"({n}, 1)" + (f" (or ({n}, m) for m inputs at once)" if columns_ok else "")
    message = f"{what} has shape {shape}, but the network expects {wanted}"
    if shape == (n,):
        message += f": a column vector, not a flat array; use .reshape({n}, 1)"
    elif shape == (1, n):
        message += ": a column vector, not a row; transpose it"
    elif len(shape) == 2 and shape[0] != n:
        message += (f": {shape[0]} entries where the layer has {n} neurons "
                    f"(the sizes given to Network must match the data)")
    return message


def _is_int(value: Any) -> bool:
    """True for Python and numpy integers, but not for bools."""
    return (isinstance(value, numbers.Integral)
            and not isinstance(value, (bool, np.bool_)))


def _check_positive_int(value: Any, name: str) -> None:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_learning_rate(eta: Any) -> None:
    if (not isinstance(eta, numbers.Real) or isinstance(eta, (bool, np.bool_))
            or not np.isfinite(eta)):
        raise ValueError(
            f"eta (the learning rate) must be a finite number, got {eta!r}")
