"""exercises3
~~~~~~~~~~

Chapter 3's exercises and problems that need code, answered by changing
the book's own methods in small subclasses of network2's (and once
network.py's) ``Network``:

- ``L1Network``: L1 regularization in ``update_mini_batch`` and ``total_cost``;
- ``MomentumNetwork``: momentum-based gradient descent in ``update_mini_batch``;
- ``CrossEntropyNetwork``: network.py's ``cost_derivative`` for the
  cross-entropy cost, and ``output_error`` showing where it breaks;
- ``SoftmaxNetwork`` with ``LogLikelihoodCost``: a softmax output layer;
- ``TanhNetwork``: tanh hidden neurons;
- ``average_stopping_SGD``: an early-stopping rule other than the book's
  no-improvement-in-n, and ``compare_early_stopping``, both rules at one
  patience on the same run;
- ``weights_near_zero``: what L1 does to the weights that L2 does not.

network2's own ``SGD`` answers the learning-rate schedule
(``eta_schedule_n``) and trains the L2 and unregularized baselines.
``exercises.py`` measures each against its baseline.
"""

import numpy as np

import network
import network2


def columns(mini_batch):
    """The inputs and desired outputs of ``mini_batch``, a list of ``(x, y)``
    pairs, as the columns of two matrices: what ``backprop`` takes."""
    return (np.hstack([x for x, _ in mini_batch]),
            np.hstack([y for _, y in mini_batch]))


#### L1 regularization
class L1Network(network2.Network):
    """The problem: regularize with lmbda/n * sum |w| in place of the L2 term.

    The gradient of that term is (lmbda/n) sgn(w), so each step moves every
    weight towards 0 by the constant amount eta*lmbda/n instead of shrinking
    it in proportion to its size:
    w -> w - (eta*lmbda/n) sgn(w) - (eta/m) sum_x dC_x/dw.
    What to look for: a lmbda that beats no regularization, and many more
    weights near zero than L2 leaves (L1 concentrates the weight on a few
    connections).
    """

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """The book's step without its L2 shrinking (lmbda 0 passed on),
        then the L1 step, with the signs of the weights before the step."""
        signs = [np.sign(w) for w in self.weights]
        super().update_mini_batch(mini_batch, eta, 0.0, n)
        for w, s in zip(self.weights, signs):
            w -= (eta * lmbda / n) * s

    def total_cost(self, data, lmbda, convert=False):
        """The average cost plus the L1 term lmbda/n * sum |w|."""
        cost = super().total_cost(data, 0.0, convert)
        return cost + (lmbda / len(data)) * sum(np.abs(w).sum() for w in self.weights)


def weights_near_zero(net, tolerance=0.01):
    """The fraction of ``net``'s weights (every layer's together) with
    |w| < ``tolerance``.  L1 moves every weight by the same eta*lmbda/n a
    step, so a weight that the cost does not hold up reaches 0 and stays
    within that step of it; L2's proportional shrinking only approaches 0.
    Compare an ``L1Network`` with network2's at one lmbda."""
    weights = np.concatenate([w.ravel() for w in net.weights])
    return float(np.mean(np.abs(weights) < tolerance))


#### Momentum
class MomentumNetwork(network2.Network):
    """The problem: momentum-based gradient descent.

    Every weight and bias gets a velocity v, and a step is
    v -> mu*v - eta*grad C, w -> w + v, where grad C includes the L2 term
    and mu (``momentum``, 0 <= mu < 1) is the momentum coefficient; mu = 0 is
    plain gradient descent again.  What to look for: with the same eta,
    faster learning in the first epochs as mu grows, until the step, which
    approaches eta/(1 - mu) times the gradient, is too long.
    """

    def __init__(self, sizes, cost=network2.CrossEntropyCost, momentum=0.9, seed=None):
        self.momentum = _check_momentum(momentum)
        super().__init__(sizes, cost=cost, seed=seed)

    def default_weight_initializer(self):
        """The book's start, with every velocity 0."""
        super().default_weight_initializer()
        self.reset_velocities()

    def large_weight_initializer(self):
        """Chapter 1's start, with every velocity 0."""
        super().large_weight_initializer()
        self.reset_velocities()

    def reset_velocities(self):
        """Set the velocity of every weight and bias to 0."""
        self.weight_velocities = [np.zeros_like(w) for w in self.weights]
        self.bias_velocities = [np.zeros_like(b) for b in self.biases]

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One momentum step on ``mini_batch``: the gradient from the book's
        ``backprop``, averaged over the m examples, plus (lmbda/n) w."""
        x, y = columns(mini_batch)
        nabla_b, nabla_w = self.backprop(x, y)
        m = x.shape[1]
        mu = self.momentum
        for w, v, nw in zip(self.weights, self.weight_velocities, nabla_w):
            v *= mu
            v -= eta * (nw / m + (lmbda / n) * w)
            w += v
        for b, v, nb in zip(self.biases, self.bias_velocities, nabla_b):
            v *= mu
            v -= (eta / m) * nb
            b += v


#### The cross-entropy cost in network.py
class CrossEntropyNetwork(network.Network):
    """The problem: make network.py use the cross-entropy cost by changing
    only ``cost_derivative``.

    For C = -[y ln a + (1 - y) ln(1 - a)], dC/da = (a - y) / (a (1 - a)),
    and ``backprop`` multiplies it by sigma'(z) = a (1 - a): mathematically
    the output error is a - y.  Numerically it is not: once z > 36.7 or so,
    a = sigma(z) rounds to exactly 1.0 in float64, 1 - a is 0, the division
    gives inf (or 0/0 = nan where y = 1) and inf * sigma'(z) = inf * 0 = nan,
    which then spreads to every weight.  What to look for: ``output_error``
    at large z, and how network2's ``CrossEntropyCost.delta``, which returns
    a - y directly, never divides.  (At the other end network.py's sigmoid
    keeps a above 1e-308, so there the ratio stays finite.)
    """

    def cost_derivative(self, output_activations, y):
        """dC/da of the cross-entropy cost: (a - y) / (a (1 - a))."""
        a = output_activations
        return (a - y) / (a * (1 - a))


def output_error(z, y):
    """The output error delta = dC/dz for weighted inputs ``z`` and desired
    outputs ``y`` (arrays of one shape), two ways: as ``backprop`` computes
    it from ``CrossEntropyNetwork.cost_derivative`` times ``sigmoid_prime``,
    and as network2's ``CrossEntropyCost.delta`` does.  Returns the pair."""
    z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
    a = network.sigmoid(z)
    net = CrossEntropyNetwork([1, 1], seed=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        through_derivative = net.cost_derivative(a, y) * network.sigmoid_prime(z)
    return through_derivative, network2.CrossEntropyCost.delta(z, a, y)


#### Other neurons: a network2 whose neuron functions are methods
class ActivationNetwork(network2.Network):
    """network2's network with its neuron functions made methods, so that a
    subclass can change them: ``activation`` (and ``activation_prime``) for
    the hidden layers, ``output_activation`` for the last.  With the
    defaults, sigmoids everywhere, it computes exactly what network2 does.

    ``feedforward`` and ``backprop`` are the book's, calling these methods;
    the output error comes from the cost's ``delta`` as in network2, so the
    output activation and the cost must suit each other (sigmoid with
    cross-entropy, softmax with log-likelihood: both give delta = a - y).
    """

    def activation(self, z):
        return network2.sigmoid(z)

    def activation_prime(self, z):
        return network2.sigmoid_prime(z)

    def output_activation(self, z):
        return network2.sigmoid(z)

    def feedforward(self, a):
        a = np.asarray(a, dtype=float)
        for b, w in zip(self.biases[:-1], self.weights[:-1]):
            a = self.activation(np.dot(w, a) + b)
        return self.output_activation(np.dot(self.weights[-1], a) + self.biases[-1])

    def backprop(self, x, y):
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        activation = np.asarray(x, dtype=float)
        activations = [activation]
        zs = []
        for i, (b, w) in enumerate(zip(self.biases, self.weights)):
            z = np.dot(w, activation) + b
            zs.append(z)
            last = i == len(self.weights) - 1
            activation = self.output_activation(z) if last else self.activation(z)
            activations.append(activation)
        # BP1 from the cost; BP3, BP4; then BP2 with the hidden neurons' derivative.
        delta = self.cost.delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta.sum(axis=1, keepdims=True)
        nabla_w[-1] = np.dot(delta, activations[-2].T)
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].T, delta) * self.activation_prime(zs[-l])
            nabla_b[-l] = delta.sum(axis=1, keepdims=True)
            nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
        return nabla_b, nabla_w


#### Softmax output layer with the log-likelihood cost
class LogLikelihoodCost:
    """C = -ln a_y, the log-likelihood of the right digit y, for a softmax
    output layer."""

    @staticmethod
    def fn(a, y):
        """-sum y ln a: with one-hot columns y, -ln a_y summed over the columns."""
        a, y = np.asarray(a, dtype=float), np.asarray(y, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(np.nan_to_num(-y * np.log(a))))

    @staticmethod
    def delta(z, a, y):
        """dC/dz^L for softmax outputs: a - y, as for sigmoid and cross-entropy."""
        return a - y


def softmax(z):
    """e^z_j / sum_k e^z_k down each column (the largest z is subtracted
    first, which changes nothing but keeps e^z from overflowing)."""
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


class SoftmaxNetwork(ActivationNetwork):
    """The problem: give network2 a softmax output layer trained with the
    log-likelihood cost.  The output error is a - y, so only the output
    activation and the cost change; the hidden neurons stay sigmoid.  What
    to look for: the outputs are a probability distribution (each column
    sums to 1), and the accuracy is close to sigmoid with cross-entropy's.
    """

    def __init__(self, sizes, cost=LogLikelihoodCost, seed=None):
        super().__init__(sizes, cost=cost, seed=seed)

    def output_activation(self, z):
        return softmax(z)


#### tanh neurons
class TanhNetwork(ActivationNetwork):
    """The problem: use tanh neurons, tanh(z) = 2 sigma(2z) - 1, in place of
    sigmoid ones.  Here the hidden layers are tanh, with derivative
    1 - tanh^2(z); the output layer stays sigmoid so that the cross-entropy
    cost (which needs outputs in (0, 1)) still applies.  What to look for:
    tanh's outputs, centred on 0, let a hidden neuron's weights move in
    different directions within one step; the book expects little
    difference on MNIST.  The weight start is network2's N(0, 1/n_in).
    """

    def activation(self, z):
        return np.tanh(z)

    def activation_prime(self, z):
        return 1.0 - np.tanh(z) ** 2


#### Another early-stopping rule
def average_stopping_SGD(net, training_data, max_epochs, mini_batch_size, eta,
                         lmbda, evaluation_data, window=5):
    """Train ``net`` (a network2 ``Network``) until the evaluation accuracy,
    averaged over the last ``window`` epochs, is no higher than its average
    over the ``window`` epochs before those, or for ``max_epochs`` epochs.

    The problem asks for an early-stopping rule other than the book's "no
    new best accuracy in n epochs".  This one compares moving averages, so a
    single lucky epoch neither resets the count nor ends training; look for
    fewer epochs than no-improvement-in-10 at a similar accuracy.  Each
    epoch is one call of the book's ``SGD`` (which therefore prints its
    lines as "Epoch 0" every time).  Returns the list of evaluation
    accuracies, one per epoch run (its length is the epochs used).
    """
    window = _check_window(window)
    accuracies = []
    for _ in range(max_epochs):
        _, accuracy, _, _ = net.SGD(training_data, 1, mini_batch_size, eta, lmbda=lmbda,
                                    evaluation_data=evaluation_data,
                                    monitor_evaluation_accuracy=True)
        accuracies += accuracy
        if average_stalled(accuracies, window):
            break
    return accuracies


def average_stalled(accuracies, window):
    """``average_stopping_SGD``'s rule: True once ``accuracies`` (one per
    epoch so far) hold 2*window epochs and the mean of the last ``window``
    is no higher than the mean of the ``window`` before them."""
    if len(accuracies) < 2 * window:
        return False
    return np.mean(accuracies[-window:]) <= np.mean(accuracies[-2 * window:-window])


def no_improvement_stop(accuracies, n):
    """How many epochs network2's ``SGD`` with ``early_stopping_n=n`` runs
    when its evaluation accuracies come out as ``accuracies``: it stops
    after the first epoch that makes n in a row without a new best (one
    strictly higher than every earlier accuracy); all of them if none does."""
    n = _check_window(n, "n")
    best, since_best = -np.inf, 0
    for epoch, accuracy in enumerate(accuracies):
        if accuracy > best:
            best, since_best = accuracy, 0
        else:
            since_best += 1
        if since_best >= n:
            return epoch + 1
    return len(accuracies)


def average_stop(accuracies, window):
    """How many epochs ``average_stopping_SGD`` with ``window`` runs when
    its accuracies come out as ``accuracies``; all of them if it never stops."""
    window = _check_window(window)
    for epochs in range(1, len(accuracies) + 1):
        if average_stalled(accuracies[:epochs], window):
            return epochs
    return len(accuracies)


def compare_early_stopping(net, training_data, max_epochs, mini_batch_size, eta, lmbda,
                           evaluation_data, patience=10):
    """Both early-stopping rules at one ``patience`` p on the same run.

    The problem asks how another rule compares with no-improvement-in-n.
    Stopping only cuts a run short (nothing else in training depends on
    it), so one run of ``max_epochs`` epochs of the book's ``SGD`` gives
    the accuracies either rule would have seen, and where each would have
    stopped: no-improvement-in-p (``no_improvement_stop``) and the moving
    average with window p (``average_stop``), each waiting for p epochs
    that bring no progress.  Returns ``(accuracies, stops)``: the
    evaluation accuracy of every epoch, and for each rule a dict of the
    ``epochs`` it runs, the ``best`` accuracy among them and the ``last``.
    What to look for: which rule stops sooner, and what that costs in
    accuracy.  A rule that never fires within the run reports
    ``max_epochs``.
    """
    patience = _check_window(patience, "patience")
    _, accuracies, _, _ = net.SGD(training_data, max_epochs, mini_batch_size, eta,
                                  lmbda=lmbda, evaluation_data=evaluation_data,
                                  monitor_evaluation_accuracy=True)
    stops = {}
    for rule, epochs in ((f"no improvement in {patience}",
                          no_improvement_stop(accuracies, patience)),
                         (f"moving average, window {patience}",
                          average_stop(accuracies, patience))):
        stops[rule] = {"epochs": epochs, "best": max(accuracies[:epochs], default=None),
                       "last": accuracies[epochs - 1] if epochs else None}
    return accuracies, stops


#### Checking the caller's input
def _check_momentum(mu):
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not 0.0 <= mu < 1.0:
        raise ValueError(f"momentum must be a number in [0, 1); got {mu!r}")
    return float(mu)


def _check_window(window, name="window"):
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {window!r}")
    return window
