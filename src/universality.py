"""universality
~~~~~~~~~~~~~~

Chapter 4's visual argument that a network of sigmoid neurons can compute
any continuous function, built from network.py's own neurons: each function
here makes a ``network.Network`` and sets its weights and biases by hand.

* A sigmoid neuron with a large weight w is nearly a step function of its
  input, and the step sits where w*x + b = 0, at s = -b/w.
* Two such steps, one added with weight h and the other subtracted, make a
  bump of height h; a row of bumps follows any function of one input.
* The output neuron is a sigmoid too, so the bumps are given the heights
  sigma^-1(f(x)): the output sigma(...) is then f(x) itself.
* With two inputs, two bumps (one in x, one in y) and a neuron that
  fires only where both are on give a tower; a grid of towers follows any
  function of two inputs.

``notebooks/chapter4.ipynb`` draws all of it::

    >>> import numpy as np, universality
    >>> f = lambda x: 0.2 + 0.4*x**2 + 0.3*x*np.sin(15*x) + 0.05*np.cos(50*x)
    >>> net = universality.approximating_network(f, 50)
    >>> net.feedforward(np.array([[0.3]]))   # about f(0.3)
"""

#### Libraries
import numpy as np

import network
from network import sigmoid

W = 1000.0  # the weight that makes a sigmoid neuron a step (our choice)
H = 10.0    # the weight h of a tower neuron's inputs: large, so it thresholds


def step_bias(w, s):
    """The bias that puts the step of a neuron of weight w at position s."""
    return -w * s


def step_position(w, b):
    """Where a neuron of weight w and bias b steps: where w*x + b = 0."""
    return -b / w


def sigmoid_inverse(y):
    """The inverse of the sigmoid, log(y / (1 - y)), for 0 < y < 1."""
    y = _check_open_unit_interval(np.asarray(y, dtype=float), "sigmoid_inverse")
    return np.log(y / (1 - y))


def activations(net, x):
    """The activations of every layer of ``net`` for the inputs x (one
    column each): [x, a^2, ..., a^L]; the last is ``net.feedforward(x)``."""
    layers = [np.asarray(x, dtype=float)]
    for b, w in zip(net.biases, net.weights):
        layers.append(sigmoid(np.dot(w, layers[-1]) + b))
    return layers


def weighted_output(net, x):
    """The last hidden layer's weighted output sum_j w_j a_j: what the
    output neuron adds to its bias before applying the sigmoid."""
    return np.dot(net.weights[-1], activations(net, x)[-2])


def steps(positions, w=W, n_inputs=1, which_input=0):
    """The weights and biases of a layer of step neurons: neuron j reads
    input ``which_input`` only, with weight w, and steps at positions[j]."""
    positions = np.asarray(positions, dtype=float).reshape(-1, 1)
    weights = np.zeros((len(positions), n_inputs))
    weights[:, which_input] = w
    return weights, step_bias(w, positions)


def bump_network(edges, heights, w=W):
    """A ``Network([1, 2N, 1])`` whose hidden layer's weighted output is N
    bumps: bump i rises by heights[i] at edges[i] and falls back at
    edges[i+1].  Its hidden neurons come in pairs, stepping at the bump's
    two edges, with output weights +heights[i] and -heights[i]; the output
    bias is 0, so the output is sigmoid(sum of the bumps)."""
    edges, heights = _check_bumps(edges, heights)
    net = network.Network([1, 2 * len(heights), 1])
    pairs = np.column_stack([edges[:-1], edges[1:]]).ravel()  # lo0, hi0, lo1, ...
    hidden_w, hidden_b = steps(pairs, w)
    output_w = np.column_stack([heights, -heights]).reshape(1, -1)
    net.weights = [hidden_w, output_w]
    net.biases = [hidden_b, np.zeros((1, 1))]
    return net


def bump_edges(n):
    """The edges of n bumps of equal width covering [0, 1].  The first bump
    starts, and the last ends, one width outside [0, 1]: a step placed at
    0 or 1 would be half-way up there and pull f's ends down by half."""
    n = _check_bump_count(n)
    edges = np.linspace(0.0, 1.0, n + 1)
    edges[0], edges[-1] = -1.0 / n, 1.0 + 1.0 / n
    return edges


def approximating_network(f, n, w=W, sigmoid_output=True):
    """A bump network whose output follows f on [0, 1] with n bumps of
    equal width, each as high as f at its midpoint.  With
    ``sigmoid_output`` the heights are sigma^-1(f), so that the output
    neuron's sigmoid gives back f (f must lie strictly between 0 and 1);
    without it they are f itself and it is the weighted output that
    follows f.  The edges are ``bump_edges(n)``."""
    n = _check_bump_count(n)
    midpoints = (np.arange(n) + 0.5) / n
    heights = np.asarray(f(midpoints), dtype=float)
    if sigmoid_output:
        heights = sigmoid_inverse(heights)
    return bump_network(bump_edges(n), heights, w)


def tower_network(rectangles, heights, w=W, h=H):
    """A ``Network([2, 4K, K, 1])`` with a tower over each of the K
    rectangles (x0, x1, y0, y1).  Tower k has four neurons in the first
    hidden layer, a bump in x and one in y, whose weighted sum (weights h,
    -h, h, -h) is 2h inside the rectangle, h where only one bump is on and
    0 elsewhere; its neuron in the second layer has bias -3h/2, so it is on
    (near 1) only where both bumps are.  The output neuron weights tower k
    by heights[k], bias 0."""
    rectangles = _check_rectangles(rectangles)
    heights = np.asarray(heights, dtype=float).ravel()
    if len(heights) != len(rectangles):
        raise ValueError(f"tower_network: {len(rectangles)} rectangles but "
                         f"{len(heights)} heights")
    k = len(rectangles)
    net = network.Network([2, 4 * k, k, 1])
    x_w, x_b = steps(rectangles[:, :2].ravel(), w, n_inputs=2, which_input=0)
    y_w, y_b = steps(rectangles[:, 2:].ravel(), w, n_inputs=2, which_input=1)
    # Tower k's neurons are rows 4k .. 4k+3: x0, x1, y0, y1.
    first_w = np.stack([x_w.reshape(k, 2, 2), y_w.reshape(k, 2, 2)], axis=1).reshape(4 * k, 2)
    first_b = np.stack([x_b.reshape(k, 2), y_b.reshape(k, 2)], axis=1).reshape(4 * k, 1)
    second_w = np.kron(np.eye(k), [[h, -h, h, -h]])
    net.weights = [first_w, second_w, heights.reshape(1, k)]
    net.biases = [first_b, np.full((k, 1), -1.5 * h), np.zeros((1, 1))]
    return net


def grid_network(g, n, w=W, h=H):
    """A tower network whose output follows g(x, y) on the unit square with
    an n x n grid of towers; tower heights are sigma^-1(g) at the squares'
    centres (g strictly between 0 and 1).  Along each side the edges are
    ``bump_edges(n)``: the outer towers reach one width beyond the square."""
    edges = bump_edges(n)
    i, j = np.divmod(np.arange(n * n), n)  # tower i * n + j: column i in x, row j in y
    rectangles = np.column_stack([edges[i], edges[i + 1], edges[j], edges[j + 1]])
    centres = (np.arange(n) + 0.5) / n
    heights = sigmoid_inverse(g(centres[i], centres[j]))
    return tower_network(rectangles, heights, w, h)


#### Checking the caller's input

def _check_bump_count(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of bumps must be an integer >= 1; got {n!r}")
    return int(n)


def _check_bumps(edges, heights):
    edges = np.asarray(edges, dtype=float).ravel()
    heights = np.asarray(heights, dtype=float).ravel()
    if len(heights) < 1 or len(edges) != len(heights) + 1:
        raise ValueError(f"bump_network: N bumps need N + 1 edges; got {len(edges)} "
                         f"edges for {len(heights)} heights")
    if not (np.all(np.isfinite(edges)) and np.all(np.isfinite(heights))):
        raise ValueError("bump_network: edges and heights must be finite numbers")
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"bump_network: the edges must increase; got {edges.tolist()}")
    return edges, heights


def _check_rectangles(rectangles):
    rectangles = np.asarray(rectangles, dtype=float)
    if rectangles.ndim != 2 or rectangles.shape[1] != 4 or len(rectangles) < 1:
        raise ValueError(f"tower_network: rectangles must be rows (x0, x1, y0, y1); "
                         f"got shape {rectangles.shape}")
    if not np.all(np.isfinite(rectangles)) or np.any(rectangles[:, [0, 2]] >= rectangles[:, [1, 3]]):
        raise ValueError("tower_network: each rectangle needs finite x0 < x1 and y0 < y1")
    return rectangles


def _check_open_unit_interval(y, what):
    if not np.all((y > 0) & (y < 1)):
        raise ValueError(f"{what}: values must lie strictly between 0 and 1 "
                         f"(a sigmoid output reaches no others); got {y[~((y > 0) & (y < 1))][:3].tolist()}")
    return y
