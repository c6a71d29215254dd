"""Tests of universality.py, chapter 4's networks with hand-set weights,
which notebooks/chapter4.ipynb draws: steps sit at s = -b/w, pairs of
steps make bumps, bumps follow a function (through the output neuron's
sigmoid, once aimed at sigma^-1(f)), and two-input towers stand where they
are put."""

import numpy as np
import pytest

import network
import universality
from network import sigmoid
from universality import W


def chapter_f(x):
    """The chapter's example function."""
    return 0.2 + 0.4 * x**2 + 0.3 * x * np.sin(15 * x) + 0.05 * np.cos(50 * x)


def step_neuron(weights, bias):
    net = network.Network([len(weights[0]), 1])
    net.weights, net.biases = [np.asarray(weights, float)], [np.asarray(bias, float)]
    return net


#### Steps

@pytest.mark.parametrize("w, s", [(10.0, 0.3), (W, 0.3), (W, 0.75), (10 * W, -2.0)])
def test_a_step_neuron_crosses_one_half_at_s_equals_minus_b_over_w(w, s):
    weights, biases = universality.steps([s], w)
    assert biases[0, 0] == universality.step_bias(w, s) == -w * s
    assert universality.step_position(w, biases[0, 0]) == pytest.approx(s)
    net = step_neuron(weights, biases)
    assert net.feedforward(np.array([[s]]))[0, 0] == pytest.approx(0.5, abs=1e-12)
    # Ten units of weighted input away, the neuron is off on the left and on on the right.
    below, above = net.feedforward(np.array([[s - 10 / w, s + 10 / w]]))[0]
    assert below < 1e-4 and above > 1 - 1e-4


def test_a_larger_weight_makes_a_steeper_step_in_the_same_place():
    x = np.array([[0.39, 0.41]])
    gaps = [np.diff(step_neuron(*universality.steps([0.4], w)).feedforward(x))[0, 0]
            for w in (5.0, 50.0, 500.0)]
    assert gaps[0] < gaps[1] < gaps[2] and gaps[2] > 0.98


def test_a_step_in_one_input_ignores_the_other():
    weights, biases = universality.steps([0.5, 0.2], W, n_inputs=2, which_input=1)
    assert np.all(weights[:, 0] == 0) and np.all(weights[:, 1] == W)
    net = network.Network([2, 2])
    net.weights, net.biases = [weights], [biases]
    points = np.array([[0.0, 0.9, 0.0, 0.9], [0.3, 0.3, 0.6, 0.6]])  # y = 0.3, then 0.6
    out = net.feedforward(points)
    assert np.allclose(out[:, 0], out[:, 1]) and np.allclose(out[:, 2], out[:, 3])
    assert np.allclose(out[:, 0], [0, 1], atol=1e-6)   # y = 0.3: past 0.2, not 0.5
    assert np.allclose(out[:, 2], [1, 1], atol=1e-6)   # y = 0.6: past both


#### Bumps

def test_two_steps_make_a_bump_of_height_h():
    net = universality.bump_network([0.4, 0.6], [0.8])
    assert net.sizes == [1, 2, 1]
    assert np.array_equal(net.weights[1], [[0.8, -0.8]]) and net.biases[1][0, 0] == 0
    x = np.array([[0.1, 0.39, 0.41, 0.5, 0.59, 0.61, 0.9]])
    assert np.allclose(universality.weighted_output(net, x)[0],
                       [0, 0, 0.8, 0.8, 0.8, 0, 0], atol=1e-3)
    # The output neuron applies the sigmoid to the weighted output (bias 0).
    assert np.allclose(net.feedforward(x), sigmoid(universality.weighted_output(net, x)))


def test_activations_end_with_feedforward():
    net = universality.bump_network(universality.bump_edges(4), [0.1, -0.2, 0.3, 0.4])
    x = np.linspace(0, 1, 11).reshape(1, -1)
    layers = universality.activations(net, x)
    assert [a.shape[0] for a in layers] == net.sizes
    assert np.array_equal(layers[-1], net.feedforward(x))


@pytest.mark.parametrize("n", [5, 10, 20, 50, 100])
def test_the_output_stays_within_f_over_the_neighbouring_bumps(n):
    """The network's output at x lies between the smallest and the largest
    value of f within one and a half bump widths of x: the bumps join
    smoothly and leak nothing further.  So the error is at most how much f
    varies over that distance."""
    net = universality.approximating_network(chapter_f, n)
    x = np.linspace(0, 1, 4001)
    out = net.feedforward(x.reshape(1, -1))[0]
    fine = np.linspace(-0.1, 1.1, 24001)
    for xi, oi in zip(x, out):
        near = chapter_f(fine[np.abs(fine - xi) <= 1.5 / n])
        assert near.min() - 1e-4 <= oi <= near.max() + 1e-4, (n, xi, oi)


def test_more_bumps_smaller_error():
    x = np.linspace(0, 1, 10001).reshape(1, -1)
    largest, mean = [], []
    for n in (5, 10, 20, 50, 100):
        error = np.abs(chapter_f(x) - universality.approximating_network(chapter_f, n).feedforward(x))
        largest.append(error.max())
        mean.append(error.mean())
    assert all(a > b for a, b in zip(largest, largest[1:])), largest
    assert all(a > b for a, b in zip(mean, mean[1:])), mean


def test_the_sigmoid_output_correction():
    """Bumps of height sigma^-1(f) make the output f; bumps of height f
    make it sigma(f).  At the middle of each bump the steps are 0.5/n away,
    far enough that both hold to rounding."""
    n = 10
    middles = ((np.arange(n) + 0.5) / n).reshape(1, -1)
    corrected = universality.approximating_network(chapter_f, n)
    plain = universality.approximating_network(chapter_f, n, sigmoid_output=False)
    assert corrected.sizes == plain.sizes == [1, 2 * n, 1]
    assert np.allclose(universality.weighted_output(corrected, middles),
                       universality.sigmoid_inverse(chapter_f(middles)), atol=1e-9)
    assert np.allclose(corrected.feedforward(middles), chapter_f(middles), atol=1e-9)
    assert np.allclose(plain.feedforward(middles), sigmoid(chapter_f(middles)), atol=1e-9)


def test_the_ends_of_the_interval_are_not_on_a_step():
    edges = universality.bump_edges(4)
    assert np.allclose(edges, [-0.25, 0.25, 0.5, 0.75, 1.25])
    net = universality.approximating_network(chapter_f, 4)
    ends = np.array([[0.0, 1.0]])
    assert np.allclose(net.feedforward(ends)[0], chapter_f(np.array([0.125, 0.875])), atol=1e-6)


def test_sigmoid_inverse_undoes_sigmoid():
    z = np.linspace(-20, 20, 81)
    assert np.allclose(universality.sigmoid_inverse(sigmoid(z)), z, atol=1e-6)
    for y in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            universality.sigmoid_inverse([0.5, y])


#### Towers

def test_a_tower_stands_over_its_rectangle_only():
    net = universality.tower_network([[0.3, 0.7, 0.4, 0.8]], [1.0])
    assert net.sizes == [2, 4, 1, 1]
    assert net.biases[1][0, 0] == -1.5 * universality.H
    points = np.array([[0.5, 0.5, 0.1, 0.5, 0.9, 0.1, 0.95],    # x
                       [0.6, 0.2, 0.6, 0.95, 0.6, 0.1, 0.95]])  # y
    layers = universality.activations(net, points)
    # The four steps' weighted sum: 2h inside, h on the arms, 0 elsewhere.
    h = universality.H
    assert np.allclose(net.weights[1] @ layers[1], [[2 * h, h, h, h, h, 0, 0]], atol=1e-3)
    tower = layers[2][0]
    assert tower[0] > 0.99 and np.all(tower[1:] < 0.01)


def test_each_tower_neuron_answers_to_its_own_rectangle():
    rectangles = [[0.0, 0.5, 0.0, 0.5], [0.5, 1.0, 0.5, 1.0], [0.2, 0.4, 0.6, 0.9]]
    net = universality.tower_network(rectangles, [0.5, -1.0, 2.0])
    assert net.sizes == [2, 12, 3, 1]
    centres = np.array([[0.25, 0.75, 0.3], [0.25, 0.75, 0.75]])  # one per rectangle
    towers = universality.activations(net, centres)[2]
    assert np.allclose(towers, np.eye(3), atol=0.01)
    assert np.allclose(universality.weighted_output(net, centres), [[0.5, -1.0, 2.0]], atol=0.03)


def test_a_grid_of_towers_follows_g_at_the_squares_and_falls_to_one_half_at_corners():
    def g(x, y):
        return 0.5 + 0.3 * np.sin(2 * np.pi * x) * np.cos(np.pi * y)

    n = 5
    net = universality.grid_network(g, n)
    assert net.sizes == [2, 4 * n * n, n * n, 1]
    c = (np.arange(n) + 0.5) / n
    cx, cy = np.meshgrid(c, c)
    centres = np.vstack([cx.ravel(), cy.ravel()])
    # A tower neuron is on at sigma(h/2), 0.993 for the default h = 10, so the
    # towers come 0.7% short; with h = 30 that becomes 3e-7.
    assert np.allclose(net.feedforward(centres)[0], g(centres[0], centres[1]), atol=0.01)
    steeper = universality.grid_network(g, n, h=30.0)
    assert np.allclose(steeper.feedforward(centres)[0], g(centres[0], centres[1]), atol=1e-5)
    # Where four squares meet, no tower neuron is on: the output is sigma(0).
    assert net.feedforward(np.array([[0.4], [0.6]]))[0, 0] == pytest.approx(0.5, abs=0.01)


#### Bad input

@pytest.mark.parametrize("edges, heights, message", [
    ([0.5, 0.4], [1.0], "the edges must increase"),
    ([0.1, 0.2, 0.3], [1.0], "N bumps need N \\+ 1 edges"),
    ([], [], "N bumps need N \\+ 1 edges"),
    ([0.1, np.nan], [1.0], "finite"),
])
def test_bump_network_says_what_is_wrong(edges, heights, message):
    with pytest.raises(ValueError, match=message):
        universality.bump_network(edges, heights)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_the_number_of_bumps_must_be_a_positive_integer(n):
    with pytest.raises(ValueError, match="number of bumps must be an integer"):
        universality.approximating_network(chapter_f, n)


def test_a_function_outside_0_1_cannot_be_followed_through_a_sigmoid():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        universality.approximating_network(lambda x: 2 * chapter_f(x), 10)
    # Without the sigmoid correction the weighted output may follow anything.
    universality.approximating_network(lambda x: 2 * chapter_f(x), 10, sigmoid_output=False)


@pytest.mark.parametrize("rectangles, heights, message", [
    ([[0.1, 0.2, 0.3]], [1.0], "rows \\(x0, x1, y0, y1\\)"),
    ([[0.2, 0.1, 0.3, 0.4]], [1.0], "x0 < x1 and y0 < y1"),
    ([[0.1, 0.2, 0.3, 0.4]], [1.0, 2.0], "1 rectangles but 2 heights"),
])
def test_tower_network_says_what_is_wrong(rectangles, heights, message):
    with pytest.raises(ValueError, match=message):
        universality.tower_network(rectangles, heights)
