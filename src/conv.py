"""conv.py
~~~~~~~

The experiments of chapter 6, run with network3: from a shallow fully
connected network to an ensemble of deep convolutional networks trained
with dropout on the expanded training data.

As in the book, in a Python shell opened in ``src/``::

    >>> import conv
    >>> nets = conv.shallow()                      # three nets, 60 epochs each
    >>> conv.plot_filters(conv.basic_conv(), 0, 5, 4)
    >>> nets = conv.double_fc_dropout(0.5, 0.5, 0.5, 5)
    >>> error_locations, erroneous_predictions = conv.ensemble(nets)
    >>> conv.plot_errors(error_locations, erroneous_predictions)

The two plots open a window, as the book's did; where matplotlib has no
window to open (no display), each saves a PNG in the current folder and
says where, and in a notebook the cell shows the figure.  Given a filename
(``plot_errors(..., filename="errors.png")``) they save it there instead.

Each experiment function trains the book's networks with the book's
settings (mini-batches of 10, 60 epochs, three runs, the book's learning
rates and lmbdas) and returns what the book's conv.py returns: ``shallow``
and ``double_fc_dropout`` the list of their nets, the sweeps over lmbda
(``regularized_dbl_conv`` and ``dbl_conv_relu``) nothing, the others the
last net they trained.  They train on the module's ``training_data``,
``validation_data`` and ``test_data``, which, as the book's, are
``network3.load_data_shared()``; here they are loaded on first use, so
that importing conv is quick.

Beyond the book, a ``session`` sets what the experiment functions use
besides their own arguments, for the block it encloses (outside one, the
defaults: MNIST, seed 12345678, nothing recorded or saved)::

    >>> with conv.session(seed=7, training_size=1000) as record:
    ...     nets = conv.shallow(n=2, epochs=5)

- ``seed``: run j seeds numpy, Python and torch, and its network's dropout,
  with ``seed + j`` (default 12345678);
- ``data``: the ``(training, validation, test)`` triple to use instead of
  MNIST (and of the expanded training data);
- ``training_size``: train on the first that many training images only;
- ``save_nets``: a folder to save every trained network in (``Network.save``);
- the list it gives (``record``) gets an ``Experiment`` (see reproduction)
  per configuration, holding what each run measured, ready for
  ``reproduction.save_results``.

The book's protocol is to report the test accuracy at the epoch of best
validation accuracy.  So the per-epoch "accuracy" recorded for a run is,
at each epoch, the test accuracy at the best validation epoch so far: its
last value is the protocol's figure (the "final epoch" column of the
table); the validation accuracy of every epoch is recorded beside it.

As a script, ``python conv.py [EXPERIMENT ...] [--runs N] [--epochs E]
[--seed S] [--out DIR] [--training-size N] [--lmbdas L ...]`` runs the
chosen experiments (all of them by default, as the book's
``run_experiments``; the expanded-data ones need ``python expand_mnist.py``
first) and writes results.json, table.md and PNGs to DIR.

The dropout nets of the ensemble are the longest to train, so they can be
trained one at a time and voted with later: ``python conv.py
double_fc_dropout --repetitions 1 --seed S --save-nets --out DIR`` for each
seed, then ``python conv.py ensemble --nets DIR*/nets/*.pt --out DIR``.
"""

#### Libraries
# Standard library
from __future__ import annotations

import contextlib
import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

# Third-party libraries
import numpy as np

# Our own
import mnist_files
import network3
import plots
from network3 import Network
from network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
from network3 import ReLU, sigmoid
from reproduction import (MAX_SEED, SEED, Experiment, make_parser, markdown_table, parse_args,
                          positive, print_where, reported_errors, save_results, seeded_runs,
                          seeds, slug)

mini_batch_size = 10
EXPANDED_FILE = "mnist_expanded.pkl.gz"
REGULARIZED_LMBDAS = (0.00001, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
RELU_LMBDAS = (0.0,) + REGULARIZED_LMBDAS

# The book's figures (test accuracy at the epoch of best validation accuracy).
PUBLISHED = {
    "shallow": "97.80%",
    "basic_conv": "98.78%",
    "omit_FC": "not published",
    "dbl_conv": "99.06%",
    "regularized_dbl_conv": "not published (L2 did not help much)",
    "dbl_conv_relu": "99.23%",  # with lmbda 0.1
    "expanded_data": {100: "99.37%", 300: "99.46%", 1000: "99.43%"},
    "expanded_data_double_fc": {100: "99.43%", 300: "99.48%", 1000: "99.47%"},
    "double_fc_dropout": "99.60%",
    "ensemble": "99.67% (33 errors)",
}


#### The data: the book's module-level names, loaded on first use
@functools.lru_cache(maxsize=None)
def standard_data():
    """MNIST's (training, validation, test) data on the device, loaded once."""
    return tuple(network3.load_data_shared())


@functools.lru_cache(maxsize=None)
def expanded_training_data():
    """The 250,000 expanded training images on the device, loaded once.

    They are made by ``expand_mnist.py`` (run it first)."""
    return network3.load_data_shared(mnist_files.data_dir() / EXPANDED_FILE)[0]


_DATA_NAMES = ("training_data", "validation_data", "test_data")


def __getattr__(name: str):
    """``conv.training_data``, ``conv.validation_data`` and ``conv.test_data``,
    the book's module-level data, loaded when first asked for (PEP 562)."""
    if name in _DATA_NAMES:
        return standard_data()[_DATA_NAMES.index(name)]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#### Beyond the book: the session's seed, data, record and saved networks
@dataclass
class Session:
    """What the experiment functions use besides their own arguments."""
    seed: int = SEED
    data: tuple | None = None            # (training, validation, test), or None: MNIST
    training_size: int | None = None
    save_nets: Path | None = None
    record: list | None = None           # an Experiment per configuration, or None


_session = Session()  # outside a session: MNIST, seed 12345678, nothing kept


@contextlib.contextmanager
def session(*, seed: int = SEED, data=None, training_size: int | None = None,
            save_nets: str | Path | None = None):
    """Inside the block, the experiment functions seed run j with ``seed +
    j``, train on ``data`` (or MNIST) cut to its first ``training_size``
    images, save every net in the folder ``save_nets``, and append an
    Experiment per configuration to the list the block is given."""
    global _session
    if training_size is not None and training_size < mini_batch_size:
        raise ValueError(f"training_size must be at least one mini-batch "
                         f"({mini_batch_size}), got {training_size}")
    previous = _session
    _session = Session(seed, data, training_size,
                       None if save_nets is None else Path(save_nets), [])
    try:
        yield _session.record
    finally:
        _session = previous


def _data(expanded: bool = False):
    """The (training, validation, test) data of an experiment: the session's,
    else MNIST (with the expanded training images if ``expanded``), the
    training data cut to the session's training_size."""
    data = _session.data
    if data is None and expanded:  # the expanded file first: it is the one likely missing
        data = (expanded_training_data(), *standard_data()[1:])
    elif data is None:
        data = standard_data()
    training, validation, test = data
    n = _session.training_size
    if n is not None:
        training = (training[0][:n], training[1][:n])
    return training, validation, test


PROTOCOL_LABEL = "test accuracy (%) at the best validation epoch so far"


def _experiment(name: str, published: str, training_data, epochs: int, eta: float,
                lmbda: float, layers: str) -> Experiment:
    """The record of one configuration's runs, kept in the session's list."""
    found = re.match(r"(\d+\.\d+)%", published)  # the book's accuracy, if published
    exp = Experiment(name, published,
                     f"{epochs} epochs, eta {eta}, lmbda {lmbda}, mb {mini_batch_size}, "
                     f"{network3.size(training_data):,} training images, {layers}",
                     reference=float(found[1]) if found else None, ylabel=PROTOCOL_LABEL)
    if _session.record is not None:
        _session.record.append(exp)
    return exp


def _runs(exp: Experiment, n: int):
    """The seeds of ``n`` runs of ``exp`` from the session's seed on, each
    announced and seeded (``reproduction.seeded_runs``) as its run starts."""
    return seeded_runs(exp.name, seeds(_session.seed, n))


def _done(exp: Experiment, net: Network) -> Network:
    """Record a trained net's run in ``exp`` (see ``protocol_series``), save
    the net where the session asks; return it."""
    exp.add_run(net.seed, protocol_series(net),
                validation=[round(100 * v, 6) for v in net.validation_accuracies],
                test_when_best_validation=[None if t is None else round(100 * t, 6)
                                           for t in net.test_accuracies])
    if _session.save_nets is not None:
        net.save(_session.save_nets / f"{slug(exp.name)}-seed{net.seed}.pt")
    return net


def protocol_series(net: Network) -> list[float]:
    """Per epoch, the test accuracy (in percent) at the best validation epoch so far.

    The last value is the figure the book's protocol reports.  Like
    network3's SGD, a later epoch that equals the best validation accuracy
    takes over."""
    series, current = [], float("nan")
    for test in net.test_accuracies:
        if test is not None:
            current = round(100 * test, 6)
        series.append(current)
    return series


#### The two convolutional-pooling layers the experiments share
def _conv_pool_1(activation_fn=sigmoid) -> ConvPoolLayer:
    """20 filters of 5x5 on the 28x28 image, then 2x2 max-pooling: 20x12x12."""
    return ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                         filter_shape=(20, 1, 5, 5), poolsize=(2, 2),
                         activation_fn=activation_fn)


def _conv_pool_2(activation_fn=sigmoid) -> ConvPoolLayer:
    """40 filters of 20x5x5 on the 20x12x12 maps, then 2x2 max-pooling: 40x4x4."""
    return ConvPoolLayer(image_shape=(mini_batch_size, 20, 12, 12),
                         filter_shape=(40, 20, 5, 5), poolsize=(2, 2),
                         activation_fn=activation_fn)


def _dbl_conv_net(activation_fn, seed: int, n: int = 100) -> Network:
    """Two conv-pool layers (20, then 40 filters), a fully connected layer of
    ``n`` and a softmax layer, all with ``activation_fn``: the network of
    dbl_conv, regularized_dbl_conv, dbl_conv_relu and expanded_data."""
    return Network([
        _conv_pool_1(activation_fn),
        _conv_pool_2(activation_fn),
        FullyConnectedLayer(n_in=40*4*4, n_out=n, activation_fn=activation_fn),
        SoftmaxLayer(n_in=n, n_out=10)], mini_batch_size, seed=seed)


#### The experiments
def shallow(n: int = 3, epochs: int = 60) -> list[Network]:
    """``n`` fully connected nets, 784-100 sigmoid and softmax 100-10, eta
    0.1; returns the list of nets."""
    training_data, validation_data, test_data = _data()
    exp = _experiment("shallow", PUBLISHED["shallow"], training_data, epochs, 0.1, 0.0,
                      "FC 784-100 sigmoid + softmax")
    nets = []
    for seed in _runs(exp, n):
        net = Network([
            FullyConnectedLayer(n_in=784, n_out=100),
            SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size, seed=seed)
        net.SGD(training_data, epochs, mini_batch_size, 0.1, validation_data, test_data)
        nets.append(_done(exp, net))
    return nets


def basic_conv(n: int = 3, epochs: int = 60) -> Network:
    """``n`` nets of one conv-pool layer (20 5x5 filters, 2x2 pooling), a
    fully connected layer of 100 and a softmax layer; sigmoid, eta 0.1.
    Returns the last net."""
    training_data, validation_data, test_data = _data()
    exp = _experiment("basic_conv", PUBLISHED["basic_conv"], training_data, epochs, 0.1,
                      0.0, "ConvPool 20x5x5 /2 + FC 2880-100 + softmax")
    for seed in _runs(exp, n):
        net = Network([
            _conv_pool_1(),
            FullyConnectedLayer(n_in=20*12*12, n_out=100),
            SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size, seed=seed)
        net.SGD(training_data, epochs, mini_batch_size, 0.1, validation_data, test_data)
        _done(exp, net)
    return net


def omit_FC(n: int = 3, epochs: int = 60) -> Network:
    """``n`` nets of the conv-pool layer straight into the softmax layer (no
    fully connected layer); sigmoid, eta 0.1.  Returns the last net."""
    training_data, validation_data, test_data = _data()
    exp = _experiment("omit_FC", PUBLISHED["omit_FC"], training_data, epochs, 0.1, 0.0,
                      "ConvPool 20x5x5 /2 + softmax")
    for seed in _runs(exp, n):
        net = Network([
            _conv_pool_1(),
            SoftmaxLayer(n_in=20*12*12, n_out=10)], mini_batch_size, seed=seed)
        net.SGD(training_data, epochs, mini_batch_size, 0.1, validation_data, test_data)
        _done(exp, net)
    return net


def dbl_conv(activation_fn=sigmoid, n: int = 3, epochs: int = 60) -> Network:
    """``n`` nets of two conv-pool layers, a fully connected layer of 100 and
    a softmax layer, all with ``activation_fn``; eta 0.1.  Returns the last net."""
    training_data, validation_data, test_data = _data()
    book = activation_fn is sigmoid
    exp = _experiment("dbl_conv" if book else f"dbl_conv ({activation_fn.__name__})",
                      PUBLISHED["dbl_conv"] if book else "-", training_data, epochs, 0.1,
                      0.0, f"2 ConvPool + FC 640-100 + softmax, {activation_fn.__name__}")
    for seed in _runs(exp, n):
        net = _dbl_conv_net(activation_fn, seed)
        net.SGD(training_data, epochs, mini_batch_size, 0.1, validation_data, test_data)
        _done(exp, net)
    return net


def regularized_dbl_conv(lmbdas: Sequence[float] = REGULARIZED_LMBDAS, n: int = 3,
                         epochs: int = 60) -> None:
    """For each lmbda, ``n`` dbl_conv nets (sigmoid, eta 0.1) with L2
    regularization.  Returns nothing, as the book's; see ``session``."""
    training_data, validation_data, test_data = _data()
    for lmbda in lmbdas:
        exp = _experiment(f"regularized_dbl_conv lmbda={lmbda}",
                          PUBLISHED["regularized_dbl_conv"], training_data, epochs, 0.1,
                          lmbda, "2 ConvPool + FC 640-100 + softmax")
        for seed in _runs(exp, n):
            net = _dbl_conv_net(sigmoid, seed)
            net.SGD(training_data, epochs, mini_batch_size, 0.1, validation_data,
                    test_data, lmbda=lmbda)
            _done(exp, net)


def dbl_conv_relu(lmbdas: Sequence[float] = RELU_LMBDAS, n: int = 3,
                  epochs: int = 60) -> None:
    """For each lmbda (0.0 and 1e-5 to 100, as the book's), ``n`` dbl_conv
    nets with rectified linear units, eta 0.03.  Returns nothing, as the
    book's; see ``session``.  The published 99.23% is for lmbda 0.1."""
    training_data, validation_data, test_data = _data()
    for lmbda in lmbdas:
        book = lmbda == 0.1
        exp = _experiment("dbl_conv_relu" if book else f"dbl_conv_relu lmbda={lmbda}",
                          PUBLISHED["dbl_conv_relu"] if book else "-", training_data,
                          epochs, 0.03, lmbda, "2 ConvPool + FC 640-100 + softmax, ReLU")
        for seed in _runs(exp, n):
            net = _dbl_conv_net(ReLU, seed)
            net.SGD(training_data, epochs, mini_batch_size, 0.03, validation_data,
                    test_data, lmbda=lmbda)
            _done(exp, net)


def expanded_data(n: int = 100, runs: int = 3, epochs: int = 60) -> Network:
    """``runs`` ReLU dbl_conv nets with a fully connected layer of ``n``
    neurons, trained on the expanded data; eta 0.03, lmbda 0.1.  Returns
    the last net."""
    training_data, validation_data, test_data = _data(expanded=True)
    exp = _experiment(f"expanded_data({n})", PUBLISHED["expanded_data"].get(n, "-"),
                      training_data, epochs, 0.03, 0.1, f"ReLU, FC 640-{n}, expanded data")
    for seed in _runs(exp, runs):
        net = _dbl_conv_net(ReLU, seed, n)
        net.SGD(training_data, epochs, mini_batch_size, 0.03, validation_data, test_data,
                lmbda=0.1)
        _done(exp, net)
    return net


def expanded_data_double_fc(n: int = 100, runs: int = 3, epochs: int = 60) -> Network:
    """As expanded_data, with two fully connected layers of ``n`` neurons.
    Returns the last net."""
    training_data, validation_data, test_data = _data(expanded=True)
    exp = _experiment(f"expanded_data_double_fc({n})",
                      PUBLISHED["expanded_data_double_fc"].get(n, "-"), training_data,
                      epochs, 0.03, 0.1, f"ReLU, FC 640-{n}, FC {n}-{n}, expanded data")
    for seed in _runs(exp, runs):
        net = Network([
            _conv_pool_1(ReLU),
            _conv_pool_2(ReLU),
            FullyConnectedLayer(n_in=40*4*4, n_out=n, activation_fn=ReLU),
            FullyConnectedLayer(n_in=n, n_out=n, activation_fn=ReLU),
            SoftmaxLayer(n_in=n, n_out=10)], mini_batch_size, seed=seed)
        net.SGD(training_data, epochs, mini_batch_size, 0.03, validation_data, test_data,
                lmbda=0.1)
        _done(exp, net)
    return net


def double_fc_dropout(p0: float, p1: float, p2: float, repetitions: int,
                      epochs: int = 40) -> list[Network]:
    """``repetitions`` ReLU nets: two conv-pool layers, FC 640-1000, FC
    1000-1000, softmax 1000-10, with dropout p0, p1, p2 on those three
    layers' inputs; expanded data, 40 epochs, eta 0.03, no L2.  Returns the
    list of nets, for ``ensemble``."""
    training_data, validation_data, test_data = _data(expanded=True)
    book = (p0, p1, p2) == (0.5, 0.5, 0.5)
    exp = _experiment(f"double_fc_dropout({p0}, {p1}, {p2})",
                      PUBLISHED["double_fc_dropout"] if book else "-", training_data,
                      epochs, 0.03, 0.0,
                      "ReLU, FC 640-1000-1000 + softmax, dropout, expanded data")
    nets = []
    for seed in _runs(exp, repetitions):
        net = Network([
            _conv_pool_1(ReLU),
            _conv_pool_2(ReLU),
            FullyConnectedLayer(n_in=40*4*4, n_out=1000, activation_fn=ReLU, p_dropout=p0),
            FullyConnectedLayer(n_in=1000, n_out=1000, activation_fn=ReLU, p_dropout=p1),
            SoftmaxLayer(n_in=1000, n_out=10, p_dropout=p2)], mini_batch_size, seed=seed)
        net.SGD(training_data, epochs, mini_batch_size, 0.03, validation_data, test_data)
        nets.append(_done(exp, net))
    return nets


#### Ensembles
def plurality(predictions) -> np.ndarray:
    """The label most of the rows of ``predictions`` (one row per net) pick
    for each column (one per image).

    A tie goes to whichever of the tied labels the earliest net in the
    list predicted, which is what a vote counted with
    ``collections.Counter(...).most_common(1)`` over the nets in order gives.
    """
    votes = np.asarray(predictions, dtype=np.int64)
    if votes.ndim != 2 or votes.shape[0] == 0:
        raise ValueError(f"predictions must have shape (nets, images), got {votes.shape}")
    if votes.min(initial=0) < 0:
        raise ValueError("predicted labels must not be negative")
    k, n = votes.shape
    labels = int(votes.max(initial=0)) + 1
    images = np.arange(n)
    counts = np.zeros((n, labels), dtype=np.int64)
    first = np.full((n, labels), k, dtype=np.int64)  # earliest net naming each label
    for j in range(k):
        counts[images, votes[j]] += 1
    for j in reversed(range(k)):
        first[images, votes[j]] = j
    # Most votes first; among equals, the smallest `first` (k - first is in 0..k).
    return np.argmax(counts * (k + 1) + (k - first), axis=1)


def ensemble(nets, test_data=None) -> tuple[list[int], list[int]]:
    """Classify the test images by a plurality vote of ``nets``; print the accuracy.

    Returns the indices of the test images the vote gets wrong and, for
    each, the digit it voted for.
    """
    test_x, test_y = test_data if test_data is not None else standard_data()[2]
    votes = plurality([np.asarray(net.predict(test_x)) for net in nets])
    truth = np.asarray(test_y.cpu() if hasattr(test_y, "cpu") else test_y)
    if votes.shape != truth.shape:
        raise ValueError(f"the nets predicted {votes.shape[0]} labels for "
                         f"{truth.shape[0]} test images")
    error_locations = np.flatnonzero(votes != truth)
    print("Accuracy is {:.2%}".format(1 - len(error_locations) / len(truth)))
    return error_locations.tolist(), votes[error_locations].tolist()


def load_nets(paths: Sequence[str | Path]) -> list[Network]:
    """Load networks saved with ``Network.save`` for a vote.

    Every file must hold the same architecture (layer types, sizes,
    activations and dropout), or the vote would mix different experiments:
    a mismatch raises network3.NetworkFileError (a ValueError) naming the file.
    """
    if not paths:
        raise ValueError("no network files given")
    nets, first = [], None
    for path in paths:
        net = network3.load(path)
        if first is None:
            first = (path, _architecture(net))
        elif _architecture(net) != first[1]:
            raise network3.NetworkFileError(
                f"{path} holds a different architecture from {first[0]}: "
                f"an ensemble votes with nets of one experiment")
        nets.append(net)
    return nets


def _architecture(net: Network) -> list[tuple]:
    """Each layer's type, parameter shapes, activation function and dropout."""
    return [(type(layer).__name__, [tuple(p.shape) for p in layer.params],
             getattr(layer, "activation_fn", None), getattr(layer, "p_dropout", 0.0))
            for layer in net.layers]


#### Pictures
# With a filename, plot_errors and plot_filters save their figure there and
# nothing more, which is what the chapter script wants.  Without one they
# show it, as the book's did, where matplotlib's backend allows (see
# plots.show): in a notebook, in a window, or as a new PNG in the current
# folder.
def plot_errors(error_locations, erroneous_predictions=None, filename=None,
                test_data=None):
    """Draw (up to 40 of) the misclassified test images in rows of ten, each
    with its true digit at the top right and, if given, the wrong prediction
    at the bottom right.

    Returns the matplotlib figure.  With ``filename`` it is saved there as a
    PNG of 80 x 100 pixels per image; without, it is shown (see above): in
    a window, in a notebook, or as a new errors.png in the current folder."""
    test_x, test_y = test_data if test_data is not None else standard_data()[2]
    test_x, test_y = (np.asarray(a.cpu() if hasattr(a, "cpu") else a)
                      for a in (test_x, test_y))
    shown = list(error_locations[:40])
    where = plots.destination(filename)
    fig = plots.digit_grid([test_x[j] for j in shown], columns=10,
                           labels=[int(test_y[j]) for j in shown],
                           guesses=(None if erroneous_predictions is None
                                    else list(erroneous_predictions[:40])),
                           pyplot=where == "window")
    return plots.show(fig, filename, where, "errors", "the misclassified digits")


def plot_filters(net, layer: int, x: int, y: int, filename=None):
    """Draw the filters of ConvPoolLayer number ``layer`` of ``net`` (their
    first input map) as a grid of ``x`` columns and ``y`` rows.

    Returns the figure.  With ``filename`` it is saved there as a PNG of
    60 x 60 pixels per filter; without, it is shown (see above): in a
    window, in a notebook, or as a new filters-layer<layer>.png in the
    current folder."""
    conv_layer = net.layers[layer]
    if not isinstance(conv_layer, ConvPoolLayer):
        raise ValueError(f"layer {layer} is a {type(conv_layer).__name__}, "
                         f"not a ConvPoolLayer")
    filters = conv_layer.w.detach().cpu().numpy()
    if x * y < len(filters):
        raise ValueError(f"a {x}x{y} grid cannot hold the layer's {len(filters)} filters")
    where = plots.destination(filename)
    fig, axes = plots.figure(y, x, squeeze=False, figsize=(0.6 * x, 0.6 * y),
                             pyplot=where == "window")
    for j, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if j < len(filters):
            ax.matshow(filters[j][0], cmap="binary")
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.98,
                        wspace=0.1, hspace=0.1)
    return plots.show(fig, filename, where, f"filters-layer{layer}", "the filters")


#### Running the chapter
# The experiments run_experiments knows by name, in the book's order.
EXPERIMENTS = ("shallow", "basic_conv", "omit_FC", "dbl_conv", "regularized_dbl_conv",
               "dbl_conv_relu",
               *(f"expanded_data_{n}" for n in (100, 300, 1000)),
               *(f"expanded_data_double_fc_{n}" for n in (100, 300, 1000)))
# double_fc_dropout trains `repetitions` nets; ensemble votes with them.
ENSEMBLE_NAMES = ("double_fc_dropout", "ensemble")
ALL_NAMES = EXPERIMENTS + ENSEMBLE_NAMES
# The experiments run_experiments skips unless asked (as the book's script did).
OPTIONAL = ("regularized_dbl_conv",)
TITLE = "Chapter 6: conv.py (network3)"
NOTES = ("Protocol (the book's): for each run, the test accuracy at the epoch of "
         "best validation accuracy; that is the 'final epoch' column. The "
         "'best epoch' column is the highest such value over the epochs. "
         "Validation accuracy per epoch: <name>-validation.png and results.json.")


def run_experiments(names: Sequence[str] | None = None, *, runs: int = 3,
                    epochs: int | None = None, seed: int = SEED,
                    training_size: int | None = None, repetitions: int = 5,
                    lmbdas: Sequence[float] | None = None,
                    out: str | Path | None = None, save_nets: bool = False,
                    ensemble_nets: Sequence[str | Path] = (),
                    data=None) -> list[Experiment]:
    """Run the named experiments (by default all but regularized_dbl_conv,
    as the book's script) and, with ``out``, write their results there.

    ``epochs`` None means each experiment's book value (60, or 40 for the
    dropout nets); ``lmbdas`` None, the book's sweeps of lmbda.
    "double_fc_dropout" and "ensemble" train ``repetitions`` dropout nets;
    "ensemble" then also votes with them, and draws its errors and the
    first net's filters.  With ``save_nets`` every trained network is saved
    to ``out/nets/``.  Returns the Experiment records.

    ``ensemble_nets`` (files written by ``Network.save``) makes "ensemble"
    vote with those networks instead of training new ones, so that nets
    trained one at a time, in separate runs or on other machines, can be
    combined.  They are checked to share one architecture.
    """
    names = [n for n in ALL_NAMES if n not in OPTIONAL] if names is None else list(names)
    unknown = [n for n in names if n not in ALL_NAMES]
    if unknown:
        raise ValueError(f"unknown experiment(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(ALL_NAMES)}")
    if save_nets and out is None:
        raise ValueError("save_nets needs an out folder")
    out = Path(out) if out is not None else None
    e = epochs or 60
    regularized = REGULARIZED_LMBDAS if lmbdas is None else tuple(lmbdas)
    relu = RELU_LMBDAS if lmbdas is None else tuple(lmbdas)
    calls = {
        "shallow": lambda: shallow(runs, e),
        "basic_conv": lambda: basic_conv(runs, e),
        "omit_FC": lambda: omit_FC(runs, e),
        "dbl_conv": lambda: dbl_conv(sigmoid, runs, e),
        "regularized_dbl_conv": lambda: regularized_dbl_conv(regularized, runs, e),
        "dbl_conv_relu": lambda: dbl_conv_relu(relu, runs, e)}
    for n in (100, 300, 1000):
        calls[f"expanded_data_{n}"] = functools.partial(expanded_data, n, runs, e)
        calls[f"expanded_data_double_fc_{n}"] = functools.partial(
            expanded_data_double_fc, n, runs, e)

    with session(seed=seed, data=data, training_size=training_size,
                 save_nets=out / "nets" if save_nets else None) as record:
        for name in EXPERIMENTS:  # in the book's order, whatever the order asked
            if name in names:
                calls[name]()
                if out is not None:  # save as we go: a long run keeps what it finished
                    _save(out, record)
        nets: list[Network] = []
        if "double_fc_dropout" in names or ("ensemble" in names and not ensemble_nets):
            nets = double_fc_dropout(0.5, 0.5, 0.5, repetitions, epochs or 40)
            if out is not None:
                _save(out, record)
        if "ensemble" in names:
            if ensemble_nets:
                nets = load_nets(ensemble_nets)
            test_data = data[2] if data is not None else None
            error_locations, erroneous_predictions = ensemble(nets, test_data)
            total = network3.size(test_data if test_data is not None
                                  else standard_data()[2])
            net_seeds = ", ".join(str(net.seed) for net in nets)
            exp = Experiment(f"ensemble of {len(nets)}", PUBLISHED["ensemble"],
                             f"plurality vote of the double_fc_dropout nets "
                             f"(seeds {net_seeds})"
                             + (", loaded from files" if ensemble_nets else ""),
                             per_epoch=False)
            # Voting with loaded nets draws nothing at random: no seed to record.
            exp.add_run(None if ensemble_nets else seed,
                        [round(100 * (1 - len(error_locations) / total), 6)],
                        errors=len(error_locations))
            record.append(exp)
            if out is not None:
                plot_errors(error_locations, erroneous_predictions,
                            out / "ensemble_errors.png", test_data)
                plot_filters(nets[0], 0, 5, 4, out / "net_full_layer_0.png")
                plot_filters(nets[0], 1, 8, 5, out / "net_full_layer_1.png")
                _save(out, record)
    return record


def _save(out: Path, experiments: list[Experiment]) -> str:
    return save_results(out, TITLE, experiments, NOTES, series=("validation",))


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(
        "Run the chapter 6 experiments with network3 and compare them with\n"
        "the book's published accuracies.", epochs=60, name="conv")
    parser.set_defaults(epochs=None)  # None: each experiment's own book value
    parser.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                        help="which to run (default: all but regularized_dbl_conv): "
                             + ", ".join(ALL_NAMES))
    parser.add_argument("--training-size", type=positive, default=None,
                        help="train on the first N training images only (at least "
                             f"{mini_batch_size}, one mini-batch)")
    parser.add_argument("--lmbdas", nargs="+", type=float, default=None, metavar="L",
                        help="the lmbdas of regularized_dbl_conv and dbl_conv_relu "
                             "(default the book's sweeps; 0.1 gives the published "
                             "dbl_conv_relu alone)")
    parser.add_argument("--repetitions", type=positive, default=5,
                        help="dropout nets to train for the ensemble (default 5; "
                             "they train 40 epochs, the book's, unless --epochs is given)")
    parser.add_argument("--save-nets", action="store_true",
                        help="save every trained network to OUT/nets/")
    parser.add_argument("--nets", nargs="+", type=Path, default=(), metavar="FILE",
                        help="for the ensemble: vote with these saved networks "
                             "(from --save-nets) instead of training new ones")
    args = parse_args(parser, argv)
    _check_arguments(parser, args)
    with reported_errors("conv.py", network3.NetworkFileError):
        experiments = run_experiments(
            args.experiments or None, runs=args.runs, epochs=args.epochs, seed=args.seed,
            training_size=args.training_size, repetitions=args.repetitions,
            lmbdas=args.lmbdas, out=args.out, save_nets=args.save_nets,
            ensemble_nets=args.nets)
    print(markdown_table(experiments))
    print_where(args.out)
    return 0


#### The script's checks of its arguments, made before any data is loaded
def _check_arguments(parser, args) -> None:
    """Stop with a usage message (exit 2) on a bad argument, or with one
    line (exit 1) on a network file that is not there."""
    unknown = [n for n in args.experiments if n not in ALL_NAMES]
    if unknown:
        parser.error(f"unknown experiment(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(ALL_NAMES)}")
    chosen = args.experiments or [n for n in ALL_NAMES if n not in OPTIONAL]
    expanded_only = all(n.startswith(("expanded", "double_fc")) or
                        (n == "ensemble" and not args.nets) for n in chosen)
    most = 250_000 if expanded_only else 50_000
    if args.training_size is not None and not mini_batch_size <= args.training_size <= most:
        parser.error(f"--training-size must lie between {mini_batch_size} (one mini-batch) "
                     f"and {most:,} (the training images), got {args.training_size}")
    if args.lmbdas is not None and any(not 0 <= lmbda < math.inf for lmbda in args.lmbdas):
        parser.error(f"--lmbdas must be finite numbers >= 0, got "
                     f"{' '.join(map(str, args.lmbdas))}")
    if args.seed + args.repetitions - 1 > MAX_SEED:
        parser.error(f"--seed {args.seed} with {args.repetitions} repetitions goes past "
                     f"the largest seed, {MAX_SEED}")
    if args.nets and "ensemble" not in chosen:
        parser.error("--nets is for the ensemble: name the experiment 'ensemble'")
    for path in args.nets:
        if not path.is_file():
            parser.exit(1, f"conv.py: {path}: no such network file\n")


if __name__ == "__main__":
    raise SystemExit(main())
