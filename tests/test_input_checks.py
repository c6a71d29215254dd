"""network.py and network2.py refuse the same mistakes with the same words.

Each module stands alone, as in the book, so each carries its own copy of
the input checks; these tests feed both the same bad input and compare the
messages, so that the two copies cannot drift apart.
"""

import copy
import re

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import network
import network2

SIZES = [4, 3, 2]


def message(call):
    with pytest.raises(ValueError) as error:
        call()
    return str(error.value)


def nets():
    np.random.seed(0)
    return network.Network(SIZES), network2.Network(SIZES, seed=0)


def good_training():
    return [(np.zeros((4, 1)), np.zeros((2, 1))) for _ in range(3)]


def good_labelled():
    return [(np.zeros((4, 1)), 1) for _ in range(3)]


TRAINING_DATA = {
    "flat x": [(np.zeros(4), np.zeros((2, 1)))],
    "row x": [(np.zeros((1, 4)), np.zeros((2, 1)))],
    "x too long": [(np.zeros((5, 1)), np.zeros((2, 1)))],
    "y of the wrong size": good_training() + [(np.zeros((4, 1)), np.zeros((3, 1)))],
    "integer y": [(np.zeros((4, 1)), 1)],
    "not a pair": [(np.zeros((4, 1)),)],
    "strings": [(np.array([["a"]] * 4), np.zeros((2, 1)))],
    "complex x": [(np.zeros((4, 1), dtype=complex), np.zeros((2, 1)))],
    "empty": [],
    "not iterable": 5,
    "NaN in x": good_training() + [(np.full((4, 1), np.nan), np.zeros((2, 1)))],
    "infinity in y": good_training() + [(np.zeros((4, 1)), np.array([[0.0], [np.inf]]))],
}

LABELLED_DATA = {
    "one-hot label": [(np.zeros((4, 1)), np.zeros((2, 1)))],
    "label too large": good_labelled() + [(np.zeros((4, 1)), 2)],
    "negative label": [(np.zeros((4, 1)), -1)],
    "float label": [(np.zeros((4, 1)), 1.0)],
    "bool label": [(np.zeros((4, 1)), True)],
    "flat x": [(np.zeros(4), 1)],
}

SETTINGS = {
    "negative epochs": dict(epochs=-1),
    "fractional epochs": dict(epochs=2.0),
    "mini-batch size 0": dict(mini_batch_size=0),
    "mini-batch size True": dict(mini_batch_size=True),
    "eta nan": dict(eta=float("nan")),
    "eta a string": dict(eta="3.0"),
    "eta infinite": dict(eta=float("inf")),
}


@pytest.mark.parametrize("case", list(TRAINING_DATA))
def test_bad_training_data_same_message(case):
    net1, net2 = nets()
    data = TRAINING_DATA[case]
    first = message(lambda: net1.SGD(copy.deepcopy(data), 1, 1, 1.0))
    second = message(lambda: net2.SGD(copy.deepcopy(data), 1, 1, 1.0))
    assert first == second
    assert "training_data" in first


@pytest.mark.parametrize("case", list(LABELLED_DATA))
def test_bad_evaluation_data_same_message(case):
    net1, net2 = nets()
    data = LABELLED_DATA[case]
    first = message(lambda: net1.evaluate(data))
    second = message(lambda: net2.accuracy(data))
    # evaluate calls its data test_data, accuracy plain data.
    assert first.replace("test_data", "data") == second
    # SGD checks its evaluation data the same way, under its own name.
    in_sgd_1 = message(lambda: net1.SGD(good_training(), 1, 1, 1.0, test_data=data))
    in_sgd_2 = message(lambda: net2.SGD(good_training(), 1, 1, 1.0, evaluation_data=data,
                                        monitor_evaluation_accuracy=True))
    assert in_sgd_1.replace("test_data", "evaluation_data") == in_sgd_2


@pytest.mark.parametrize("case", list(SETTINGS))
def test_bad_settings_same_message_and_network_untouched(case):
    net1, net2 = nets()
    before = [p.copy() for p in net1.weights + net2.weights]
    arguments = dict(training_data=good_training(), epochs=1, mini_batch_size=1, eta=1.0)
    arguments.update(SETTINGS[case])
    first = message(lambda: net1.SGD(**arguments))
    second = message(lambda: net2.SGD(**arguments))
    assert first == second
    assert all(np.array_equal(p, q) for p, q in zip(before, net1.weights + net2.weights))


@pytest.mark.parametrize("sizes", [[784], [], [784, 0, 10], [784, 30.5, 10], "784"])
def test_bad_sizes_same_message(sizes):
    first = message(lambda: network.Network(sizes))
    assert first == message(lambda: network2.Network(sizes))
    assert "sizes must list at least two positive layer sizes" in first


@pytest.mark.parametrize("call, pattern", [
    (lambda net: net.feedforward(np.zeros(4)), r"the input a has shape \(4,\).*reshape\(4, 1\)"),
    (lambda net: net.feedforward(np.zeros((3, 1))), r"the input a has shape \(3, 1\)"),
    (lambda net: net.backprop(np.zeros(4), np.zeros((2, 1))), r"x \(the input\).*reshape"),
    (lambda net: net.backprop(np.zeros((4, 1)), np.zeros(2)), r"y \(the desired output\)"),
    (lambda net: net.backprop(np.zeros((4, 3)), np.zeros((2, 2))), r"expects \(2, 3\)"),
])
def test_bad_shapes_same_message(call, pattern):
    net1, net2 = nets()
    first = message(lambda: call(net1))
    assert first == message(lambda: call(net2))
    assert re.search(pattern, first)


NOT_FINITE = {
    "NaN in the first x": (0, 0, "nan", 0),
    "infinity in x past the first thousand pairs": (1500, 0, "inf", 3),
    "minus infinity in x": (2999, 0, "-inf", 1),
    "infinity in y": (7, 1, "inf", 0),
}


@pytest.mark.parametrize("case", list(NOT_FINITE))
def test_sgd_refuses_nan_or_infinity_naming_the_first_pair(case):
    """Training data of 3,000 pairs with a NaN or an infinity put in one
    pair (and another a hundred pairs later): both networks name that
    first pair in the same words, before any step is taken."""
    index, part, value, row = NOT_FINITE[case]
    rng = np.random.default_rng(0)
    data = [(rng.random((4, 1)), np.eye(2)[:, [k % 2]]) for k in range(3000)]
    for bad in {index, min(index + 100, 2999)}:
        data[bad][part][row % len(data[bad][part]), 0] = float(value)
    net1, net2 = nets()
    before = [p.copy() for p in net1.weights + net1.biases]
    first = message(lambda: net1.SGD(data, 1, 10, 1.0))
    assert first == message(lambda: net2.SGD(data, 1, 10, 1.0))
    name = "the input x" if part == 0 else "the desired output y"
    assert first == (f"training_data[{index}][{part}] ({name}) holds {value}; "
                     f"every value must be a finite number")
    assert all(np.array_equal(p, q) for p, q in zip(before, net1.weights + net1.biases))


def test_sgd_refuses_nan_in_the_data_it_scores_on():
    net1, net2 = nets()
    data = good_labelled() + [(np.array([[0.0], [np.nan], [0.0], [0.0]]), 1)]
    first = message(lambda: net1.SGD(good_training(), 1, 1, 1.0, test_data=data))
    second = message(lambda: net2.SGD(good_training(), 1, 1, 1.0, evaluation_data=data,
                                      monitor_evaluation_accuracy=True))
    assert first == "test_data[3][0] (the input x) holds nan; every value must be a finite number"
    assert first.replace("test_data", "evaluation_data") == second


def test_the_teaching_hints_are_there():
    net1, _ = nets()
    assert "read only once" in message(lambda: net1.SGD(zip([], []), 1, 1, 1.0))
    assert "vectorized_result(1)" in message(
        lambda: net1.SGD(TRAINING_DATA["integer y"], 1, 1, 1.0))
    assert ".reshape(4, 1)" in message(lambda: net1.SGD(TRAINING_DATA["flat x"], 1, 1, 1.0))


def test_epochs_zero_is_accepted_by_both_and_changes_nothing(capsys):
    for net in nets():
        before = [p.copy() for p in net.weights + net.biases]
        net.SGD(good_training(), 0, 1, 1.0)
        assert all(np.array_equal(p, q) for p, q in zip(before, net.weights + net.biases))
    assert capsys.readouterr().out == ""


def test_sgd_leaves_the_callers_thread_settings_as_they_were(capsys):
    """One BLAS thread while SGD runs; the caller's setting afterwards."""
    seen = []

    for module, net in zip((network, network2), nets()):
        class Watched(type(net)):
            def update_mini_batch(self, *args):
                seen.append({i["num_threads"] for i in threadpool_info()
                             if i["user_api"] == "blas"})
                super().update_mini_batch(*args)

        net.__class__ = Watched
        before = [i["num_threads"] for i in threadpool_info()]
        net.SGD(good_training(), 1, 3, 1.0)
        assert [i["num_threads"] for i in threadpool_info()] == before
    assert seen == [{1}, {1}]
