"""network2.py: the chapter 3 network, with a better cost, L2, and a better start.

This is our port of the program that chapters 3 and 5 of *Neural Networks
and Deep Learning* use.  Compared with chapter 1's ``network.py`` it adds

* a choice of cost: ``CrossEntropyCost`` (the default, which avoids the
  learning slowdown of saturated sigmoid output neurons) or ``QuadraticCost``;
* L2 regularization ("weight decay") through the ``lmbda`` argument of
  ``SGD``;
* weights started as N(0, 1/sqrt(n_in)) so that hidden neurons do not begin
  saturated (``default_weight_initializer``); chapter 1's N(0, 1) start is
  still there as ``large_weight_initializer``;
* per-epoch monitoring of cost and accuracy on the training and evaluation
  data, returned as four lists;
* ``save`` / ``load`` of a trained network as JSON.

Names, defaults, return values, the JSON layout and the printed progress
lines are the book's, so the book's shell sessions run unchanged::

    >>> import mnist_loader, network2
    >>> training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    >>> net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    >>> net.large_weight_initializer()
    >>> net.SGD(training_data, 30, 10, 0.5, evaluation_data=test_data,
    ...         monitor_evaluation_accuracy=True)

Data follow ``mnist_loader.load_data_wrapper``: training pairs ``(x, y)`` have
x of shape (n_in, 1) and y a one-hot column of shape (n_out, 1); validation
and test pairs have an integer label as y.

Beyond the book (the defaults keep the book's behaviour):

* Mini-batches are processed as matrices (one row per example, each bias
  riding along as a weight from an input that is always 1, every array
  reused from one mini-batch to the next) and ``accuracy`` / ``total_cost``
  evaluate data sets a thousand examples at a time, which makes an epoch
  several times faster than looping over the examples one by one
  (``tests/benchmark_network2.py`` measures it).  The
  arithmetic is the same; results agree with the per-example loop to
  rounding error, and a run visits the examples in the book's order.
* ``SGD(..., early_stopping_n=n)`` stops once n epochs in a row have brought
  no new best evaluation accuracy, and ``SGD(..., eta_schedule_n=n)`` halves
  the learning rate each time that happens, stopping when it has fallen to
  1/128 of its start: the two strategies chapter 3 suggests as exercises.
* ``Network(..., seed=s)`` gives the network its own random generators;
  without it the global ``np.random`` and ``random`` are used, as in the
  book, so ``random.seed`` plus ``np.random.seed`` reproduce a run.
* ``load`` checks the file it reads and raises ``ValueError`` naming the file
  and the problem; it only ever parses JSON, never runs anything from it.
* Inputs of the wrong shape are refused up front with a ``ValueError``.

The module is standalone, like the book's: it imports nothing but the
standard library and NumPy.
"""

import json
import os
import random
import uuid
from collections.abc import Sequence

import numpy as np

# Number of examples fed forward at once by accuracy() and total_cost(), and
# gathered at once by SGD: enough to make the matrix products efficient, few
# enough that the float64 copies stay small and their memory gets reused.
CHUNK_SIZE = 1_000


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
    """A fully connected feedforward network of sigmoid neurons.

    ``sizes`` lists the number of neurons in each layer, input layer first:
    ``Network([784, 30, 10])`` has 784 inputs, 30 hidden neurons and 10
    outputs.  ``cost`` is the cost class used for training and for
    ``total_cost``.  Weights start as ``default_weight_initializer`` sets
    them.

    ``seed`` (not in the book) gives the network its own random generators
    for its initial weights and for shuffling the training data, so that two
    networks built with the same seed train identically whatever else uses
    the global generators.  With ``seed=None`` (the default) the global
    ``np.random`` and ``random`` are used, as the book does.
    """

    def __init__(self, sizes: Sequence[int], cost=CrossEntropyCost,
                 seed: int | None = None):
        self._set_up(sizes, cost, seed)
        self.default_weight_initializer()

    def _set_up(self, sizes, cost, seed):
        """Record the architecture, the cost and the source of randomness."""
        self.sizes = _checked_sizes(sizes)
        self.num_layers = len(self.sizes)
        if not (hasattr(cost, "fn") and hasattr(cost, "delta")):
            raise ValueError(
                f"cost must be a cost class with fn(a, y) and delta(z, a, y), "
                f"such as CrossEntropyCost or QuadraticCost; got {cost!r}")
        self.cost = cost
        if seed is None:
            self._generators = None
        else:
            self._generators = (np.random.RandomState(seed), random.Random(seed))
        # What the last call to SGD did (not in the book): the learning rate
        # of every epoch it ran, and why it stopped early, if it did.
        self.eta_history = []
        self.stop_reason = None

    def _randn(self, *shape):
        """Standard normal numbers from the network's or the global generator."""
        if self._generators is None:
            return np.random.randn(*shape)
        return self._generators[0].randn(*shape)

    def _shuffle(self, items):
        """Shuffle a list in place with the network's or the global generator."""
        if self._generators is None:
            random.shuffle(items)
        else:
            self._generators[1].shuffle(items)

    def default_weight_initializer(self):
        """Weights N(0, 1/sqrt(n_in)), biases N(0, 1); the input layer has none.

        Dividing by the square root of the number of inputs keeps the weighted
        input z of a fresh neuron of order 1, so it starts away from the flat
        parts of the sigmoid and learns quickly from the first epoch.
        """
        self.biases = [self._randn(n, 1) for n in self.sizes[1:]]
        self.weights = [self._randn(n_out, n_in) / np.sqrt(n_in)
                        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        """Weights and biases N(0, 1): chapter 1's start, kept for comparison."""
        self.biases = [self._randn(n, 1) for n in self.sizes[1:]]
        self.weights = [self._randn(n_out, n_in)
                        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        """Output of the network for input ``a``.

        ``a`` is a column of shape (n_in, 1), or a matrix with one column per
        example, which gives one output column per example.
        """
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[0] != self.sizes[0]:
            raise ValueError(
                f"feedforward expects an input of shape ({self.sizes[0]}, 1) "
                f"(or ({self.sizes[0]}, m) for m examples); got shape {a.shape}")
        return self._feedforward(_float64(a))

    def _feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = _sigmoid(w @ a + b)
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
        """Train with mini-batch stochastic gradient descent.

        ``training_data`` is an iterable of ``(x, y)`` pairs with one-hot
        ``y``; ``evaluation_data``, if given, has integer labels (validation
        or test data from ``mnist_loader.load_data_wrapper``).  ``lmbda`` is
        the L2 regularization parameter.  Each epoch visits the training data
        in a fresh random order, in mini-batches of ``mini_batch_size``; then
        the quantities asked for by the ``monitor_*`` flags are printed and
        recorded.  Neither data set is reordered or otherwise changed.

        Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``: lists with one entry per epoch for each
        monitored quantity and empty lists for the others.  Accuracies are
        counts of correctly classified examples.

        Two options go beyond the book; both watch the accuracy on
        ``evaluation_data`` after every epoch (it is computed even when not
        monitored) and both are off at 0:

        * ``early_stopping_n=n`` stops training once n epochs in a row have
          not improved on the best evaluation accuracy so far;
        * ``eta_schedule_n=n`` halves the learning rate each time n epochs in
          a row have not improved on it, and stops once the learning rate has
          fallen to 1/128 of ``eta``.

        ``epochs`` remains the most epochs that will be run.  After the call
        ``self.eta_history`` holds the learning rate used in each epoch run
        (so its length is the number of epochs run) and ``self.stop_reason``
        is ``"early_stopping"``, ``"eta_schedule"`` or None.
        """
        epochs = _checked_count("epochs", epochs, minimum=0)
        mini_batch_size = _checked_count("mini_batch_size", mini_batch_size, minimum=1)
        early_stopping_n = _checked_count("early_stopping_n", early_stopping_n, minimum=0)
        eta_schedule_n = _checked_count("eta_schedule_n", eta_schedule_n, minimum=0)
        eta = _checked_number("eta", eta)
        lmbda = _checked_number("lmbda", lmbda)
        if lmbda < 0:
            raise ValueError(f"lmbda must be >= 0; got {lmbda}")

        n_in, n_out = self.sizes[0], self.sizes[-1]
        # Arrange each data set once, as contiguous arrays with one row per
        # example; every epoch then only draws a new order of row indices.
        train_x, train_y = _stack(training_data, n_in, n_out,
                                  one_hot=True, what="training_data")
        n = len(train_x)
        if n == 0:
            raise ValueError("training_data is empty")
        train_labels = np.argmax(train_y, axis=1) if monitor_training_accuracy else None

        watch_accuracy = early_stopping_n > 0 or eta_schedule_n > 0
        eval_x, eval_labels, n_data = None, None, 0
        if evaluation_data is not None:
            eval_x, eval_labels = _stack(evaluation_data, n_in, n_out,
                                         one_hot=False, what="evaluation_data")
            n_data = len(eval_x)
        elif (monitor_evaluation_cost or monitor_evaluation_accuracy
              or watch_accuracy):
            wanted = [name for name, on in (
                ("monitor_evaluation_cost", monitor_evaluation_cost),
                ("monitor_evaluation_accuracy", monitor_evaluation_accuracy),
                ("early_stopping_n", early_stopping_n > 0),
                ("eta_schedule_n", eta_schedule_n > 0)) if on]
            raise ValueError(f"{', '.join(wanted)} needs evaluation_data")
        if watch_accuracy and n_data == 0:
            raise ValueError("evaluation_data is empty; early stopping and the "
                             "learning-rate schedule need accuracies to compare")

        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        self.eta_history = []
        self.stop_reason = None
        start_eta = eta
        best_accuracy = -1
        epochs_since_best = 0   # for early stopping
        epochs_at_this_eta = 0  # epochs without improvement since eta last changed

        self._own_parameters()
        form = _MatrixForm(self.weights, self.biases, self.cost)
        order = list(range(n))
        block = mini_batch_size * max(1, CHUNK_SIZE // mini_batch_size)
        try:
            for j in range(epochs):
                # Shuffling the same index list every epoch visits the examples
                # in exactly the order the book's in-place shuffle of the data
                # would, given the same state of the generator.
                self._shuffle(order)
                permutation = np.array(order)
                # Gather the shuffled examples a block of mini-batches at a
                # time, so that each mini-batch is a contiguous slice.
                for start in range(0, n, block):
                    rows = permutation[start:start + block]
                    block_x = train_x[rows]
                    block_y = train_y[rows]
                    for k in range(0, len(rows), mini_batch_size):
                        form.step(block_x[k:k + mini_batch_size],
                                  block_y[k:k + mini_batch_size], eta, lmbda, n)
                form.write_back(self.weights, self.biases)
                self.eta_history.append(eta)

                print(f"Epoch {j} training complete")
                if monitor_training_cost:
                    cost = self._total_cost(train_x, train_y, lmbda)
                    training_cost.append(cost)
                    print(f"Cost on training data: {cost}")
                if monitor_training_accuracy:
                    accuracy = self._accuracy(train_x, train_labels)
                    training_accuracy.append(accuracy)
                    print(f"Accuracy on training data: {accuracy} / {n}")
                if monitor_evaluation_cost:
                    cost = self._total_cost(eval_x, _one_hot(eval_labels, n_out), lmbda)
                    evaluation_cost.append(cost)
                    print(f"Cost on evaluation data: {cost}")
                if monitor_evaluation_accuracy or watch_accuracy:
                    accuracy = self._accuracy(eval_x, eval_labels)
                    if monitor_evaluation_accuracy:
                        evaluation_accuracy.append(accuracy)
                        print(f"Accuracy on evaluation data: {accuracy} / {n_data}")
                print()

                if watch_accuracy:
                    if accuracy > best_accuracy:
                        best_accuracy = accuracy
                        epochs_since_best = 0
                        epochs_at_this_eta = 0
                    else:
                        epochs_since_best += 1
                        epochs_at_this_eta += 1
                    if early_stopping_n and epochs_since_best >= early_stopping_n:
                        self.stop_reason = "early_stopping"
                        break
                    if eta_schedule_n and epochs_at_this_eta >= eta_schedule_n:
                        eta /= 2
                        epochs_at_this_eta = 0
                        # Halving is exact in binary floating point, so after
                        # seven halvings eta equals start_eta / 128 exactly.
                        if eta <= start_eta / 128:
                            self.stop_reason = "eta_schedule"
                            break
        finally:
            # Also when interrupted (Ctrl-C in the shell): the network keeps
            # what it has learnt so far.
            form.write_back(self.weights, self.biases)
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One gradient-descent step on ``mini_batch``, a list of (x, y) pairs.

        ``eta`` is the learning rate, ``lmbda`` the regularization parameter
        and ``n`` the size of the whole training set.  L2 regularization
        shrinks every weight by the factor 1 - eta*lmbda/n before the
        gradient step; biases are not regularized.  As in the book, the
        network gets new weight and bias arrays; the old ones are unchanged.
        """
        x, y = _stack(mini_batch, self.sizes[0], self.sizes[-1],
                      one_hot=True, what="mini_batch")
        if len(x) == 0:
            raise ValueError("mini_batch is empty")
        self._own_parameters()
        form = _MatrixForm(self.weights, self.biases, self.cost)
        form.step(x, y, eta, lmbda, n)
        form.write_back(self.weights, self.biases)

    def _own_parameters(self):
        """Give the network fresh float64 copies of its weights and biases.

        Training writes its results into these arrays (at the end of every
        epoch of ``SGD``); working on copies keeps any arrays a caller still
        holds from before the training unchanged, as in the book, where
        every update makes new arrays.
        """
        self.weights = [np.array(w, dtype=float) for w in self.weights]
        self.biases = [np.array(b, dtype=float) for b in self.biases]

    def backprop(self, x, y):
        """Gradient of the cost of one example, by backpropagation.

        ``x`` has shape (n_in, 1) and ``y`` (n_out, 1).  Returns
        ``(nabla_b, nabla_w)``, lists of arrays shaped like ``self.biases``
        and ``self.weights``: dC_x/db and dC_x/dw for each layer.  The
        regularization term is not included; update_mini_batch adds it as
        weight decay.
        """
        x = np.asarray(x)
        y = np.asarray(y)
        if x.shape != (self.sizes[0], 1):
            raise ValueError(f"backprop expects x of shape ({self.sizes[0]}, 1); "
                             f"got {x.shape}")
        if y.shape != (self.sizes[-1], 1):
            raise ValueError(f"backprop expects y of shape ({self.sizes[-1]}, 1); "
                             f"got {y.shape}")
        # Training does not come here: _MatrixForm.step takes the same steps
        # on a whole mini-batch, with arrays it keeps from step to step.
        # Forward pass, keeping every layer's weighted input z and activation.
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = w @ activation
            z += b
            zs.append(z)
            activation = _sigmoid(z)
            activations.append(activation)
        # Backward pass: the output error delta comes from the cost; each
        # earlier layer's error is the next layer's error sent back through
        # its weights, times sigmoid'(z) = a(1 - a).  Then dC/db is delta
        # and dC/dw is delta times the previous layer's activations.
        last = len(self.weights) - 1
        nabla_b = [None] * (last + 1)
        nabla_w = [None] * (last + 1)
        delta = self.cost.delta(zs[-1], activations[-1], y)
        for layer in range(last, -1, -1):
            if layer < last:
                a = activations[layer + 1]
                delta = (self.weights[layer + 1].T @ delta) * a * (1.0 - a)
            nabla_b[layer] = delta
            nabla_w[layer] = delta @ activations[layer].T
        return nabla_b, nabla_w

    def accuracy(self, data, convert: bool = False) -> int:
        """Number of pairs in ``data`` whose x the network classifies correctly.

        The network's answer is the output neuron with the largest
        activation.  ``convert=False`` means the y in ``data`` are integer
        labels (validation or test data); ``convert=True`` means they are
        one-hot vectors (training data).
        """
        x, y = _stack(data, self.sizes[0], self.sizes[-1],
                      one_hot=convert, what="data")
        labels = np.argmax(y, axis=1) if convert else y
        return self._accuracy(x, labels)

    def _accuracy(self, x, labels):
        """accuracy() for x with one row per example and integer labels."""
        correct = 0
        for start in range(0, len(x), CHUNK_SIZE):
            outputs = self._feedforward(_float64(x[start:start + CHUNK_SIZE]).T)
            guesses = np.argmax(outputs, axis=0)
            correct += int(np.count_nonzero(guesses == labels[start:start + CHUNK_SIZE]))
        return correct

    def total_cost(self, data, lmbda: float, convert: bool = False) -> float:
        """Average cost over ``data``, plus the L2 term lmbda/(2n) * sum(w^2).

        ``convert=False`` means the y in ``data`` are one-hot vectors
        (training data); ``convert=True`` means they are integer labels
        (validation or test data), turned into one-hot vectors here.  Note
        that this is the opposite convention to ``accuracy``, as in the book.
        """
        x, y = _stack(data, self.sizes[0], self.sizes[-1],
                      one_hot=not convert, what="data")
        if convert:
            y = _one_hot(y, self.sizes[-1])
        return self._total_cost(x, y, lmbda)

    def _total_cost(self, x, y, lmbda):
        """total_cost() for x and one-hot y with one row per example."""
        n = len(x)
        if n == 0:
            raise ValueError("cannot compute the average cost of an empty data set")
        cost = 0.0
        for start in range(0, n, CHUNK_SIZE):
            outputs = self._feedforward(_float64(x[start:start + CHUNK_SIZE]).T)
            cost += self.cost.fn(outputs, y[start:start + CHUNK_SIZE].T)
        cost /= n
        cost += 0.5 * (lmbda / n) * sum(float(np.sum(w * w)) for w in self.weights)
        return cost

    def save(self, filename: str | os.PathLike) -> None:
        """Write the network to ``filename`` as JSON, in the book's layout.

        The keys are ``sizes``, ``weights``, ``biases`` (nested lists) and
        ``cost`` (the cost class's name).  The JSON goes to a temporary file
        in the same folder that is then renamed onto ``filename``, so a
        failure never leaves a half-written file behind.
        """
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": str(self.cost.__name__)}
        path = os.fspath(filename)
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            with open(temporary, "x", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise


#### Training in matrix form
class _MatrixForm:
    """The network's weights and biases arranged for fast training steps.

    A bias acts like a weight from one more input that is always 1.  So
    layer l is held as one matrix ``[w | b]`` of shape (n_out, n_in + 1),
    and each layer's inputs as a matrix with one example per row and a last
    column of ones.  Then a layer's weighted inputs for every example of a
    mini-batch are one matrix product, and so are BP3 and BP4 together:
    delta^T times the input matrix sums delta a^T over the examples (the
    weight gradient) and, in its last column, delta (the bias gradient).

    The matrices are copies: ``step`` changes them and ``write_back``
    copies them into the network's arrays.  Scratch arrays are made once
    for each mini-batch size and reused, so a step allocates almost
    nothing.
    """

    def __init__(self, weights, biases, cost):
        self.params = [np.hstack([w, b]).astype(float) for w, b in zip(weights, biases)]
        self.weights = [p[:, :-1] for p in self.params]   # views, for BP2
        self.cost = cost
        self._scratch = {}

    def write_back(self, weights, biases):
        """Copy the current weights and biases into the given arrays."""
        for w, b, p in zip(weights, biases, self.params):
            w[...] = p[:, :-1]
            b[...] = p[:, -1:]

    def _arrays(self, m):
        """Scratch arrays for a mini-batch of m examples."""
        if m not in self._scratch:
            n_in = [p.shape[1] for p in self.params]   # inputs, plus the 1
            n_out = [p.shape[0] for p in self.params]
            inputs = [np.ones((m, k)) for k in n_in]
            zs = [np.empty((m, k)) for k in n_out]
            deltas = [np.empty((m, k)) for k in n_out]
            factors = [np.empty((m, k)) for k in n_out]
            # Each layer's activations go in front of the ones of the next
            # layer's inputs; the output layer's have an array of their own.
            activations = [x[:, :-1] for x in inputs[1:]] + [np.empty((m, n_out[-1]))]
            # The sigmoid may overwrite z, except the output layer's, which
            # the cost's delta(z, a, y) is given.
            sigmoid_scratch = zs[:-1] + [factors[-1]]
            grads = [np.empty_like(p) for p in self.params]
            biases = [np.empty(k) for k in n_out]
            self._scratch[m] = (inputs, zs, activations, sigmoid_scratch,
                                deltas, factors, grads, biases)
        return self._scratch[m]

    def step(self, x_rows, y_rows, eta, lmbda, n):
        """One step of gradient descent with L2 regularization on m examples
        given as rows: ``x_rows`` (m, n_in) and ``y_rows`` (m, n_out).

        The steps of ``Network.backprop`` with each vector replaced by a
        matrix of m rows.  The output error is multiplied by eta/m at once:
        BP2 is linear in delta, so the factor carries through every layer
        and BP3 and BP4 yield the gradient steps themselves.
        """
        m = len(x_rows)
        (inputs, zs, activations, sigmoid_scratch,
         deltas, factors, grads, biases) = self._arrays(m)
        last = len(self.params) - 1
        np.copyto(inputs[0][:, :-1], x_rows)
        for p, x, z, a, scratch in zip(self.params, inputs, zs, activations,
                                       sigmoid_scratch):
            np.dot(x, p.T, out=z)
            _sigmoid_into(z, a, scratch)
        # BP1, from the cost class, which works on columns as in the book.
        delta = deltas[last]
        np.multiply(self.cost.delta(zs[last].T, activations[last].T, y_rows.T).T,
                    eta / m, out=delta)
        decay = 1.0 - eta * (lmbda / n)
        for i in range(last, -1, -1):
            # BP3 and BP4, summed over the mini-batch.
            np.dot(delta.T, inputs[i], out=grads[i])
            if i > 0:
                # BP2, with the weights this step started from, and
                # sigmoid'(z) = a(1 - a).
                a = activations[i - 1]
                np.dot(delta, self.weights[i], out=deltas[i - 1])
                delta = deltas[i - 1]
                factor = factors[i - 1]
                np.subtract(1.0, a, out=factor)
                factor *= a
                delta *= factor
            p = self.params[i]
            if decay != 1.0:
                # L2 shrinks every weight by the factor 1 - eta*lmbda/n.
                # The biases are not regularized: the last column is put
                # back as it was (scaling the whole contiguous matrix and
                # restoring one column is quicker than scaling the rest).
                np.copyto(biases[i], p[:, -1])
                p *= decay
                p[:, -1] = biases[i]
            p -= grads[i]


#### Loading a network
def load(filename: str | os.PathLike) -> Network:
    """Read a network written by ``Network.save`` (ours or the book's).

    Returns a ``Network`` with the saved sizes, cost, weights and biases.
    The file is only parsed as JSON and the cost is looked up by name among
    the known costs (``COSTS``), so nothing in the file is ever executed.  A
    file that is not such a network (not JSON, missing keys, values of the
    wrong type, weights or biases whose shapes do not match ``sizes``, an
    unknown cost) raises ``ValueError`` naming the file and the problem.
    """
    path = os.fspath(filename)

    def malformed(problem):
        return ValueError(f"{path!r} is not a saved network2 network: {problem}")

    with open(path, "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise malformed(f"it is not JSON text ({e})") from None
    if not isinstance(data, dict):
        raise malformed(f"expected a JSON object, found {type(data).__name__}")
    missing = [key for key in ("sizes", "weights", "biases", "cost") if key not in data]
    if missing:
        raise malformed(f"missing key(s) {', '.join(map(repr, missing))}")

    try:
        sizes = _checked_sizes(data["sizes"])
    except ValueError as e:
        raise malformed(str(e)) from None
    cost_name = data["cost"]
    if not isinstance(cost_name, str):
        raise malformed(f"'cost' must be a cost class name, found {cost_name!r}")
    if cost_name not in COSTS:
        raise malformed(f"unknown cost {cost_name[:100]!r}; "
                        f"known costs are {', '.join(sorted(COSTS))}")

    layers = list(zip(sizes[:-1], sizes[1:]))
    parameters = {}
    for key, shapes in (("weights", [(n_out, n_in) for n_in, n_out in layers]),
                        ("biases", [(n_out, 1) for _, n_out in layers])):
        values = data[key]
        if not isinstance(values, list) or len(values) != len(shapes):
            raise malformed(f"'{key}' must be a list of {len(shapes)} matrices "
                            f"for sizes {sizes}")
        arrays = []
        for i, (value, shape) in enumerate(zip(values, shapes)):
            try:
                array = np.array(value)
            except ValueError:
                raise malformed(f"{key}[{i}] is not a rectangular matrix") from None
            if array.dtype.kind not in "iuf":
                raise malformed(f"{key}[{i}] must hold only numbers")
            if array.shape != shape:
                raise malformed(f"{key}[{i}] has shape {array.shape}, but sizes "
                                f"{sizes} need {shape}")
            arrays.append(array.astype(float))
        parameters[key] = arrays

    net = Network.__new__(Network)
    net._set_up(sizes, COSTS[cost_name], None)
    net.weights = parameters["weights"]
    net.biases = parameters["biases"]
    return net


#### Helpers
def vectorized_result(j):
    """A (10, 1) column with 1.0 in row ``j`` and zeros elsewhere.

    Turns a digit label into the output the network should give for it.
    """
    if not (isinstance(j, (int, np.integer)) and 0 <= j < 10):
        raise ValueError(f"vectorized_result expects a digit 0-9; got {j!r}")
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


# e^-z overflows float64 for z below about -709.78; the sigmoid there is
# below 1.3e-308, so the functions below raise z to at least this first.
_Z_FLOOR = -709.0


def sigmoid(z):
    """The sigmoid function 1 / (1 + e^-z), elementwise."""
    return _sigmoid(np.asarray(z, dtype=float))


def _sigmoid(z):
    """sigmoid() for a float64 array, without the conversion.

    The formula is accurate in both tails; the one hazard is that e^-z
    overflows (with a warning) for z below about -709.78.  Raising z to at
    least ``_Z_FLOOR`` avoids that and changes only results that are below
    1.3e-308 anyway.
    """
    return 1.0 / (1.0 + np.exp(-np.maximum(z, _Z_FLOOR)))


def _sigmoid_into(z, out, scratch):
    """Write sigmoid(z) into ``out``, with ``_sigmoid``'s formula, using the
    array ``scratch`` (which may be ``z`` itself) for the steps between."""
    np.maximum(z, _Z_FLOOR, out=scratch)
    np.negative(scratch, out=scratch)
    np.exp(scratch, out=scratch)
    scratch += 1.0
    return np.reciprocal(scratch, out=out)



def sigmoid_prime(z):
    """Derivative of the sigmoid: sigmoid(z) * (1 - sigmoid(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def _float64(x):
    """``x`` as float64.  NumPy multiplies float64 weights by float32 inputs
    much more slowly than by float64 ones (it does not hand mixed types to
    BLAS), so inputs are converted a chunk at a time before use."""
    return x.astype(np.float64, copy=False)


def _one_hot(labels, n_out):
    """Rows of one-hot vectors for integer labels: shape (len(labels), n_out)."""
    y = np.zeros((len(labels), n_out))
    y[np.arange(len(labels)), labels] = 1.0
    return y


def _is_label(y):
    """True for an integer class label (Python or NumPy, not bool)."""
    if isinstance(y, (bool, np.bool_)):
        return False
    if isinstance(y, (int, np.integer)):
        return True
    return isinstance(y, np.ndarray) and y.shape == () and y.dtype.kind in "iu"


def _stack(data, n_in, n_out, one_hot, what):
    """Arrange an iterable of (x, y) pairs as arrays with one row per example.

    Returns ``(x, y)``: x of shape (count, n_in), keeping the inputs' float
    type; y of shape (count, n_out) when ``one_hot`` (each y a one-hot column),
    otherwise an int64 vector of labels.  Raises ValueError naming the first
    pair that does not fit.
    """
    pairs = list(data)
    try:
        xs = [x for x, _ in pairs]
        ys = [y for _, y in pairs]
        x = np.array(xs)
        y = np.array(ys)
    except (TypeError, ValueError):
        # Not all pairs, or arrays of differing shapes: find the culprit.
        return _stack_one_by_one(pairs, n_in, n_out, one_hot, what)
    count = len(pairs)
    x_fits = (x.shape in ((count, n_in, 1), (count, n_in))
              and x.dtype.kind in "iuf")
    if one_hot:
        y_fits = (y.shape in ((count, n_out, 1), (count, n_out))
                  and y.dtype.kind in "iuf")
    else:
        y_fits = (y.shape == (count,) and y.dtype.kind in "iu"
                  and (count == 0 or (y.min() >= 0 and y.max() < n_out)))
    if not (x_fits and y_fits):
        return _stack_one_by_one(pairs, n_in, n_out, one_hot, what)
    x = x.reshape(count, n_in)
    if x.dtype.kind != "f":
        x = x.astype(float)
    if one_hot:
        return x, y.reshape(count, n_out).astype(float, copy=False)
    return x, y.astype(np.int64, copy=False)


def _stack_one_by_one(pairs, n_in, n_out, one_hot, what):
    """_stack, checking every pair, for data that did not stack at once."""
    xs, ys = [], []
    for i, pair in enumerate(pairs):
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}] is not an (x, y) pair") from None
        xs.append(_flat_column(x, n_in, f"{what}[{i}]: x", "the network expects"))
        if one_hot:
            if _is_label(y):
                raise ValueError(
                    f"{what}[{i}]: y is the integer label {y!r}, but a one-hot "
                    f"column of shape ({n_out}, 1) is needed here (training "
                    f"data from mnist_loader.load_data_wrapper() has those)")
            ys.append(_flat_column(y, n_out, f"{what}[{i}]: y",
                                   "expected a one-hot column of shape"))
        else:
            if not _is_label(y):
                raise ValueError(
                    f"{what}[{i}]: y should be an integer label (as in validation "
                    f"or test data); got {type(y).__name__} of shape "
                    f"{np.shape(y)}.  For one-hot labels use "
                    f"accuracy(data, convert=True) or total_cost(data, lmbda) "
                    f"without convert")
            if not 0 <= y < n_out:
                raise ValueError(f"{what}[{i}]: label {y} is outside 0..{n_out - 1}")
            ys.append(int(y))
    x = np.stack(xs) if xs else np.zeros((0, n_in))
    if x.dtype.kind != "f":
        x = x.astype(float)
    if one_hot:
        y = np.stack(ys).astype(float) if ys else np.zeros((0, n_out))
    else:
        y = np.array(ys, dtype=np.int64)
    return x, y


def _flat_column(value, n, name, expectation):
    """``value`` as a flat array of n numbers, if it is a column of shape
    (n, 1) (or a flat (n,)) holding numbers; else a ValueError naming it."""
    value = np.asarray(value)
    if value.shape not in ((n, 1), (n,)):
        raise ValueError(f"{name} has shape {value.shape}; {expectation} ({n}, 1)")
    if value.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers, not {value.dtype}")
    return value.reshape(n)


def _checked_sizes(sizes):
    """``sizes`` as a list of positive ints, at least two layers."""
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise ValueError(f"sizes must be a list of at least two layer sizes, "
                         f"such as [784, 30, 10]; got {sizes!r}")
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(f"layer sizes must be positive integers; got {sizes!r}")
    return [int(s) for s in sizes]


def _checked_count(name, value, minimum):
    """An integer argument that must be at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def _checked_number(name, value):
    """A finite real-number argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} must be a number; got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return float(value)
