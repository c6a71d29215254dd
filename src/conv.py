"""conv.py
~~~~~~~

The experiments of chapter 6, run with network3: from a shallow fully
connected network to an ensemble of deep convolutional networks trained
with dropout on the expanded training data.

In a Python shell opened in ``src/``::

    >>> import conv
    >>> nets = conv.shallow(n=1, epochs=5)       # one short run
    >>> nets[0].test_accuracy                    # test accuracy at best validation
    >>> nets = conv.double_fc_dropout(0.5, 0.5, 0.5, 5)
    >>> error_locations, erroneous_predictions = conv.ensemble(nets)
    >>> conv.plot_errors(error_locations, erroneous_predictions).savefig("errors.png")

Every experiment function keeps the book's name and defaults (mini-batches
of 10, three runs of 60 epochs, the book's learning rates) and takes extra
keyword arguments to run it short: ``epochs``, ``training_size`` (train on
the first images only), ``seed`` (run j seeds numpy, Python and torch with
``seed + j``) and ``data`` (the ``(training, validation, test)`` triple to
use instead of MNIST).  Each returns the list of trained networks, as the
book's ``double_fc_dropout`` does; the list's ``experiments`` attribute
holds what the runs measured, ready for ``reproduction.save_results``,
and each network keeps its own per-epoch accuracies (see network3's SGD).

The book's protocol is to report the test accuracy at the epoch of best
validation accuracy.  So the per-epoch "accuracy" recorded for a run is,
at each epoch, the test accuracy at the best validation epoch so far: its
last value is the protocol's figure (the "final epoch" column of the
table); the validation accuracy of every epoch is recorded beside it.

As a script, ``python conv.py [EXPERIMENT ...] [--runs N] [--epochs E]
[--seed S] [--out DIR] [--training-size N]`` runs the chosen experiments
(all of them by default, as the book's ``run_experiments``; the
expanded-data ones need ``python ../expand_mnist.py`` first) and writes
results.json, table.md and PNGs to DIR.

The dropout nets of the ensemble are the longest to train, so they can be
trained one at a time and voted with later: ``python conv.py
double_fc_dropout --repetitions 1 --seed S --save-nets --out DIR`` for each
seed, then ``python conv.py ensemble --nets DIR*/nets/*.pt --out DIR``.
"""

#### Libraries
# Standard library
from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Callable, Sequence

# Third-party libraries
import numpy as np

# Our own
import mnist_loader
import network3
from network3 import Network
from network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
from network3 import ReLU, sigmoid
from reproduction import (Experiment, figure, make_parser, markdown_table, plot_series,
                          save_png, save_results, seed_all, slug)

mini_batch_size = 10
SEED = 12345678
EXPANDED_FILE = "mnist_expanded.pkl.gz"

# The book's figures (test accuracy at the epoch of best validation accuracy).
PUBLISHED = {
    "shallow": "97.80%",
    "basic_conv": "98.78%",
    "omit_FC": "not published",
    "dbl_conv": "99.06%",
    "regularized_dbl_conv": "not published (L2 did not help much)",
    "dbl_conv_relu": "99.23%",
    "expanded_data": {100: "99.37%", 300: "99.46%", 1000: "99.43%"},
    "expanded_data_double_fc": {100: "99.43%", 300: "99.48%", 1000: "99.47%"},
    "double_fc_dropout": "99.60%",
    "ensemble": "99.67% (33 errors)",
}


#### The data, loaded once when first needed
@functools.lru_cache(maxsize=None)
def _load_shared(filename: str | None):
    return network3.load_data_shared(filename)


def standard_data():
    """MNIST's (training, validation, test) data on the device, loaded once."""
    return _load_shared(None)


def expanded_training_data():
    """The 250,000 expanded training images on the device, loaded once.

    They are made by ``expand_mnist.py`` (run it first)."""
    path = mnist_loader.data_dir() / EXPANDED_FILE
    if not path.exists():
        raise mnist_loader.DataFileError(
            f"{path}: no such data file; the expanded training data is made by "
            f"running expand_mnist.py (python ../expand_mnist.py from src/)")
    return _load_shared(str(path))[0]


def _subset(pair, training_size: int | None):
    """The first ``training_size`` examples of an (x, y) pair (all if None)."""
    if training_size is None:
        return pair
    if training_size < mini_batch_size:
        raise ValueError(f"training_size must be at least one mini-batch "
                         f"({mini_batch_size}), got {training_size}")
    x, y = pair
    return x[:training_size], y[:training_size]


#### Running an experiment
class Runs(list):
    """The networks an experiment function trained (a plain list, as the
    book's functions return), with ``experiments``: the Experiment records
    of what they measured."""

    def __init__(self, nets=(), experiments=()):
        super().__init__(nets)
        self.experiments: list[Experiment] = list(experiments)


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


def _train(experiment: Experiment, layers: Callable[[], list], training_data,
           validation_data, test_data, *, epochs: int, eta: float,
           lmbda: float = 0.0, runs: int, seed: int, header: str) -> list[Network]:
    """Train ``runs`` networks built by ``layers()``, recording each in ``experiment``."""
    nets = []
    for j in range(runs):
        run_seed = seed + j
        print(f"{header}, run {j} (seed {run_seed})")
        seed_all(run_seed)
        net = Network(layers(), mini_batch_size, seed=run_seed)
        net.SGD(training_data, epochs, mini_batch_size, eta,
                validation_data, test_data, lmbda=lmbda)
        experiment.add_run(
            run_seed, protocol_series(net),
            validation=[round(100 * v, 6) for v in net.validation_accuracies],
            test_when_best_validation=[None if t is None else round(100 * t, 6)
                                       for t in net.test_accuracies])
        nets.append(net)
    return nets


def _experiment(name: str, published: str, training_data, epochs: int,
                eta: float, lmbda: float = 0.0, extra: str = "") -> Experiment:
    settings = (f"{epochs} epochs, eta {eta}, lmbda {lmbda}, mb {mini_batch_size}, "
                f"{len(training_data[0]):,} training images")
    return Experiment(name, published, settings + (f", {extra}" if extra else ""))


#### Architectures
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


def _dbl_conv_layers(activation_fn, n: int = 100) -> list:
    """Two conv-pool layers, a fully connected layer of n, and a softmax layer."""
    return [_conv_pool_1(activation_fn), _conv_pool_2(activation_fn),
            FullyConnectedLayer(n_in=40*4*4, n_out=n, activation_fn=activation_fn),
            SoftmaxLayer(n_in=n, n_out=10)]


#### The experiments
def shallow(n: int = 3, epochs: int = 60, *, training_size: int | None = None,
            seed: int = SEED, data=None) -> Runs:
    """``n`` runs of a fully connected net: 784-100 sigmoid, softmax 100-10; eta 0.1."""
    training_data, validation_data, test_data = data or standard_data()
    training_data = _subset(training_data, training_size)
    exp = _experiment("shallow", PUBLISHED["shallow"], training_data, epochs, 0.1,
                      extra="FC 784-100 sigmoid + softmax")
    nets = _train(exp, lambda: [FullyConnectedLayer(n_in=784, n_out=100),
                                SoftmaxLayer(n_in=100, n_out=10)],
                  training_data, validation_data, test_data, epochs=epochs,
                  eta=0.1, runs=n, seed=seed,
                  header="A shallow network: 100 sigmoid hidden neurons")
    return Runs(nets, [exp])


def basic_conv(n: int = 3, epochs: int = 60, *, training_size: int | None = None,
               seed: int = SEED, data=None) -> Runs:
    """``n`` runs of one conv-pool layer (20 5x5 filters, 2x2 pooling), a fully
    connected layer of 100 and a softmax layer; sigmoid, eta 0.1."""
    training_data, validation_data, test_data = data or standard_data()
    training_data = _subset(training_data, training_size)
    exp = _experiment("basic_conv", PUBLISHED["basic_conv"], training_data, epochs,
                      0.1, extra="ConvPool 20x5x5 /2 + FC 2880-100 + softmax")
    nets = _train(exp, lambda: [_conv_pool_1(),
                                FullyConnectedLayer(n_in=20*12*12, n_out=100),
                                SoftmaxLayer(n_in=100, n_out=10)],
                  training_data, validation_data, test_data, epochs=epochs,
                  eta=0.1, runs=n, seed=seed,
                  header="One conv-pool layer, then 100 fully connected neurons")
    return Runs(nets, [exp])


def omit_FC(n: int = 3, epochs: int = 60, *, training_size: int | None = None,
            seed: int = SEED, data=None) -> Runs:
    """The conv-pool layer straight into the softmax layer (no fully
    connected layer); sigmoid, eta 0.1."""
    training_data, validation_data, test_data = data or standard_data()
    training_data = _subset(training_data, training_size)
    exp = _experiment("omit_FC", PUBLISHED["omit_FC"], training_data, epochs, 0.1,
                      extra="ConvPool 20x5x5 /2 + softmax")
    nets = _train(exp, lambda: [_conv_pool_1(), SoftmaxLayer(n_in=20*12*12, n_out=10)],
                  training_data, validation_data, test_data, epochs=epochs,
                  eta=0.1, runs=n, seed=seed,
                  header="One conv-pool layer, then the softmax layer")
    return Runs(nets, [exp])


def dbl_conv(activation_fn=sigmoid, n: int = 3, epochs: int = 60, *,
             training_size: int | None = None, seed: int = SEED, data=None) -> Runs:
    """Two conv-pool layers (20 then 40 filters), a fully connected layer of
    100 and a softmax layer, all with ``activation_fn``; eta 0.1."""
    training_data, validation_data, test_data = data or standard_data()
    training_data = _subset(training_data, training_size)
    name = activation_fn.__name__
    exp = _experiment("dbl_conv" if activation_fn is sigmoid else f"dbl_conv ({name})",
                      PUBLISHED["dbl_conv"] if activation_fn is sigmoid else "-",
                      training_data, epochs, 0.1,
                      extra=f"2 ConvPool + FC 640-100 + softmax, {name}")
    nets = _train(exp, lambda: _dbl_conv_layers(activation_fn),
                  training_data, validation_data, test_data, epochs=epochs,
                  eta=0.1, runs=n, seed=seed,
                  header=f"Two conv-pool layers, then 100 fully connected neurons ({name})")
    return Runs(nets, [exp])


def regularized_dbl_conv(lmbdas: Sequence[float] = (0.00001, 0.0001, 0.001, 0.01,
                                                     0.1, 1.0, 10.0, 100.0),
                         n: int = 3, epochs: int = 60, *,
                         training_size: int | None = None, seed: int = SEED,
                         data=None) -> Runs:
    """dbl_conv (sigmoid, eta 0.1) with L2 regularization, for each lmbda."""
    training_data, validation_data, test_data = data or standard_data()
    training_data = _subset(training_data, training_size)
    runs = Runs()
    for lmbda in lmbdas:
        exp = _experiment(f"regularized_dbl_conv lmbda={lmbda}",
                          PUBLISHED["regularized_dbl_conv"], training_data,
                          epochs, 0.1, lmbda)
        runs += _train(exp, lambda: _dbl_conv_layers(sigmoid), training_data,
                       validation_data, test_data, epochs=epochs, eta=0.1,
                       lmbda=lmbda, runs=n, seed=seed,
                       header=f"Two conv-pool layers with L2 regularization, lmbda {lmbda}")
        runs.experiments.append(exp)
    return runs


def dbl_conv_relu(lmbdas: Sequence[float] = (0.1,), n: int = 3, epochs: int = 60, *,
                  training_size: int | None = None, seed: int = SEED,
                  data=None) -> Runs:
    """dbl_conv with rectified linear units, eta 0.03, for each lmbda.

    The published 99.23% is for lmbda 0.1, the default; the book's own
    script also tried 0.0 and 1e-5 to 100, which ``lmbdas`` reproduces."""
    training_data, validation_data, test_data = data or standard_data()
    training_data = _subset(training_data, training_size)
    runs = Runs()
    for lmbda in lmbdas:
        exp = _experiment("dbl_conv_relu" if lmbda == 0.1 else f"dbl_conv_relu lmbda={lmbda}",
                          PUBLISHED["dbl_conv_relu"] if lmbda == 0.1 else "-",
                          training_data, epochs, 0.03, lmbda)
        runs += _train(exp, lambda: _dbl_conv_layers(ReLU), training_data,
                       validation_data, test_data, epochs=epochs, eta=0.03,
                       lmbda=lmbda, runs=n, seed=seed,
                       header=f"Two conv-pool layers, ReLU, lmbda {lmbda}")
        runs.experiments.append(exp)
    return runs


def _expanded(data, training_size):
    """Training data from the expanded set (or ``data``), validation and test as usual."""
    if data is not None:
        training_data, validation_data, test_data = data
    else:
        training_data = expanded_training_data()
        _, validation_data, test_data = standard_data()
    return _subset(training_data, training_size), validation_data, test_data


def expanded_data(n: int = 100, runs: int = 3, epochs: int = 60, *,
                  training_size: int | None = None, seed: int = SEED,
                  data=None) -> Runs:
    """The ReLU double-conv net with a fully connected layer of ``n`` neurons,
    trained on the expanded data; eta 0.03, lmbda 0.1."""
    training_data, validation_data, test_data = _expanded(data, training_size)
    exp = _experiment(f"expanded_data({n})", PUBLISHED["expanded_data"].get(n, "-"),
                      training_data, epochs, 0.03, 0.1,
                      extra=f"ReLU, FC 640-{n}, expanded data")
    nets = _train(exp, lambda: _dbl_conv_layers(ReLU, n), training_data,
                  validation_data, test_data, epochs=epochs, eta=0.03, lmbda=0.1,
                  runs=runs, seed=seed,
                  header=f"Expanded training data, {n} fully connected neurons")
    return Runs(nets, [exp])


def expanded_data_double_fc(n: int = 100, runs: int = 3, epochs: int = 60, *,
                            training_size: int | None = None, seed: int = SEED,
                            data=None) -> Runs:
    """As expanded_data, with two fully connected layers of ``n`` neurons."""
    training_data, validation_data, test_data = _expanded(data, training_size)
    exp = _experiment(f"expanded_data_double_fc({n})",
                      PUBLISHED["expanded_data_double_fc"].get(n, "-"),
                      training_data, epochs, 0.03, 0.1,
                      extra=f"ReLU, FC 640-{n}, FC {n}-{n}, expanded data")

    def layers():
        return [_conv_pool_1(ReLU), _conv_pool_2(ReLU),
                FullyConnectedLayer(n_in=40*4*4, n_out=n, activation_fn=ReLU),
                FullyConnectedLayer(n_in=n, n_out=n, activation_fn=ReLU),
                SoftmaxLayer(n_in=n, n_out=10)]
    nets = _train(exp, layers, training_data, validation_data, test_data,
                  epochs=epochs, eta=0.03, lmbda=0.1, runs=runs, seed=seed,
                  header=f"Expanded training data, two fully connected layers of {n}")
    return Runs(nets, [exp])


def double_fc_dropout(p0: float, p1: float, p2: float, repetitions: int,
                      epochs: int = 40, *, training_size: int | None = None,
                      seed: int = SEED, data=None) -> Runs:
    """``repetitions`` ReLU nets: two conv-pool layers, FC 640-1000, FC
    1000-1000, softmax 1000-10, with dropout p0, p1, p2 on those three
    layers' inputs; expanded data, eta 0.03, no L2."""
    training_data, validation_data, test_data = _expanded(data, training_size)
    exp = _experiment(f"double_fc_dropout({p0}, {p1}, {p2})",
                      PUBLISHED["double_fc_dropout"] if (p0, p1, p2) == (0.5, 0.5, 0.5)
                      else "-", training_data, epochs, 0.03,
                      extra="ReLU, FC 640-1000-1000 + softmax, dropout, expanded data")

    def layers():
        return [_conv_pool_1(ReLU), _conv_pool_2(ReLU),
                FullyConnectedLayer(n_in=40*4*4, n_out=1000, activation_fn=ReLU,
                                    p_dropout=p0),
                FullyConnectedLayer(n_in=1000, n_out=1000, activation_fn=ReLU,
                                    p_dropout=p1),
                SoftmaxLayer(n_in=1000, n_out=10, p_dropout=p2)]
    nets = _train(exp, layers, training_data, validation_data, test_data,
                  epochs=epochs, eta=0.03, runs=repetitions, seed=seed,
                  header=f"Dropout ({p0}, {p1}, {p2}) on expanded training data")
    return Runs(nets, [exp])


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
    a mismatch raises ValueError naming the file.
    """
    if not paths:
        raise ValueError("no network files given")
    nets, first = [], None
    for path in paths:
        net = network3.load(path)
        if first is None:
            first = (path, _architecture(net))
        elif _architecture(net) != first[1]:
            raise ValueError(f"{path} holds a different architecture from {first[0]}: "
                             f"an ensemble votes with nets of one experiment")
        nets.append(net)
    return nets


def _architecture(net: Network) -> list[tuple]:
    """Each layer's type, parameter shapes, activation function and dropout."""
    return [(type(layer).__name__, [tuple(p.shape) for p in layer.params],
             getattr(layer, "activation_fn", None), getattr(layer, "p_dropout", 0.0))
            for layer in net.layers]


#### Pictures
def _finish(fig, filename):
    """Save ``fig`` as a PNG at ``filename`` (atomically) if one is given;
    return it."""
    if filename is not None:
        save_png(fig, filename)
    return fig


def plot_errors(error_locations, erroneous_predictions=None, filename=None,
                test_data=None):
    """Draw (up to 40 of) the misclassified test images in a row, each with
    its true digit at the top right and, if given, the wrong prediction at
    the bottom right.

    Returns the matplotlib figure; with ``filename`` it is also saved as a
    PNG of 80 x 100 pixels per image (and closed)."""
    test_x, test_y = test_data if test_data is not None else standard_data()[2]
    test_x, test_y = (np.asarray(a.cpu() if hasattr(a, "cpu") else a)
                      for a in (test_x, test_y))
    n = min(40, len(error_locations))
    fig, axes = figure(1, max(n, 1), squeeze=False, figsize=(0.8 * max(n, 1), 1.0))
    for ax in axes[0]:
        ax.set_axis_off()
    for j, location in enumerate(error_locations[:n]):
        ax = axes[0][j]
        ax.matshow(test_x[location].reshape(28, 28), cmap="binary")
        ax.text(24, 5, str(test_y[location]), color="green")
        if erroneous_predictions is not None:
            ax.text(24, 24, str(erroneous_predictions[j]), color="red")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.98, wspace=0.1)
    return _finish(fig, filename)


def plot_filters(net, layer: int, x: int, y: int, filename=None):
    """Draw the filters of ConvPoolLayer number ``layer`` of ``net`` (their
    first input map) as a grid of ``x`` columns and ``y`` rows.

    Returns the figure; with ``filename`` it is saved as a PNG of 60 x 60
    pixels per filter (and closed)."""
    conv_layer = net.layers[layer]
    if not isinstance(conv_layer, ConvPoolLayer):
        raise ValueError(f"layer {layer} is a {type(conv_layer).__name__}, "
                         f"not a ConvPoolLayer")
    filters = conv_layer.w.detach().cpu().numpy()
    if x * y < len(filters):
        raise ValueError(f"a {x}x{y} grid cannot hold the layer's {len(filters)} filters")
    fig, axes = figure(y, x, squeeze=False, figsize=(0.6 * x, 0.6 * y))
    for j, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if j < len(filters):
            ax.matshow(filters[j][0], cmap="binary")
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.98,
                        wspace=0.1, hspace=0.1)
    return _finish(fig, filename)


#### Running the chapter
# The experiments run_experiments knows by name, in the book's order.  The
# first ones take their number of runs as `n` (the book's name for it);
# the expanded-data ones take `runs`, since their `n` is a layer's size.
RUNS_AS_N: dict[str, Callable[..., Runs]] = {
    "shallow": shallow, "basic_conv": basic_conv, "omit_FC": omit_FC,
    "dbl_conv": dbl_conv, "regularized_dbl_conv": regularized_dbl_conv,
    "dbl_conv_relu": dbl_conv_relu}
LAYER_SIZES: dict[str, Callable[..., Runs]] = {
    **{f"expanded_data_{n}": functools.partial(expanded_data, n)
       for n in (100, 300, 1000)},
    **{f"expanded_data_double_fc_{n}": functools.partial(expanded_data_double_fc, n)
       for n in (100, 300, 1000)}}
EXPERIMENTS = {**RUNS_AS_N, **LAYER_SIZES}
# double_fc_dropout trains `repetitions` nets; ensemble votes with them.
ENSEMBLE_NAMES = ("double_fc_dropout", "ensemble")
ALL_NAMES = tuple(EXPERIMENTS) + ENSEMBLE_NAMES
# The experiments run_experiments skips unless asked (as the book's script did).
OPTIONAL = ("regularized_dbl_conv",)


def run_experiments(names: Sequence[str] | None = None, *, runs: int = 3,
                    epochs: int | None = None, seed: int = SEED,
                    training_size: int | None = None, repetitions: int = 5,
                    out: str | Path | None = None, save_nets: bool = False,
                    ensemble_nets: Sequence[str | Path] = (),
                    data=None) -> list[Experiment]:
    """Run the named experiments (by default all but regularized_dbl_conv,
    as the book's script) and, with ``out``, write their results there.

    ``epochs`` None means each experiment's book value (60, or 40 for the
    dropout nets).  "double_fc_dropout" and "ensemble" train ``repetitions``
    dropout nets; "ensemble" then also votes with them, and draws its
    errors and the first net's filters.  With ``save_nets`` every trained
    network is saved to ``out/nets/``.  Returns the Experiment records.

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
    options = dict(training_size=training_size, seed=seed, data=data)
    experiments: list[Experiment] = []

    def keep(name: str, trained: Runs) -> Runs:
        experiments.extend(trained.experiments)
        if save_nets:
            for j, net in enumerate(trained):
                net.save(out / "nets" / f"{name}-{j}-seed{net.seed}.pt")
        if out is not None:  # save as we go: a long run keeps what it finished
            _save(out, experiments)
        return trained

    for name in EXPERIMENTS:  # in the book's order, whatever the order asked
        if name not in names:
            continue
        if name in RUNS_AS_N:
            keep(name, RUNS_AS_N[name](n=runs, epochs=epochs or 60, **options))
        elif name in LAYER_SIZES:
            keep(name, LAYER_SIZES[name](runs=runs, epochs=epochs or 60, **options))
    nets: list[Network] = []
    if "double_fc_dropout" in names or ("ensemble" in names and not ensemble_nets):
        nets = keep("double_fc_dropout",
                    double_fc_dropout(0.5, 0.5, 0.5, repetitions, epochs or 40, **options))
    if "ensemble" in names:
        if ensemble_nets:
            nets = load_nets(ensemble_nets)
        test_data = data[2] if data is not None else None
        error_locations, erroneous_predictions = ensemble(nets, test_data)
        total = network3.size(test_data if test_data is not None
                              else standard_data()[2])
        seeds = ", ".join(str(net.seed) for net in nets)
        exp = Experiment(f"ensemble of {len(nets)}", PUBLISHED["ensemble"],
                         f"plurality vote of the double_fc_dropout nets "
                         f"(seeds {seeds})"
                         + (", loaded from files" if ensemble_nets else ""))
        # Voting with loaded nets draws nothing at random: no seed to record.
        exp.add_run(None if ensemble_nets else seed,
                    [round(100 * (1 - len(error_locations) / total), 6)],
                    errors=len(error_locations))
        experiments.append(exp)
        if out is not None:
            plot_errors(error_locations, erroneous_predictions,
                        out / "ensemble_errors.png", test_data)
            plot_filters(nets[0], 0, 5, 4, out / "net_full_layer_0.png")
            plot_filters(nets[0], 1, 8, 5, out / "net_full_layer_1.png")
            _save(out, experiments)
    return experiments


NOTES = ("Protocol (the book's): for each run, the test accuracy at the epoch of "
         "best validation accuracy; that is the 'final epoch' column. The "
         "'best epoch' column is the highest such value over the epochs. "
         "Validation accuracy per epoch: <name>-validation.png and results.json.")


def _save(out: Path, experiments: list[Experiment]) -> str:
    table = save_results(out, "Chapter 6: conv.py (network3)", experiments, NOTES)
    for exp in experiments:
        curves = {f"seed {run['seed']}": run["validation"]
                  for run in exp.runs if run.get("validation")}
        if curves:
            plot_series(out / f"{slug(exp.name)}-validation.png", curves,
                        title=f"{exp.name}: validation accuracy",
                        xlabel="epoch", ylabel="accuracy (%)")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(
        "Run the chapter 6 experiments with network3 and compare them with "
        "the book's published accuracies.", epochs=60, name="conv")
    parser.set_defaults(epochs=None)  # None: each experiment's own book value
    parser.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                        help="which to run (default: all but regularized_dbl_conv): "
                             + ", ".join(ALL_NAMES))
    parser.add_argument("--training-size", type=int, default=None,
                        help="train on the first N training images only")
    parser.add_argument("--repetitions", type=int, default=5,
                        help="dropout nets to train for the ensemble (default 5; "
                             "they train 40 epochs, the book's, unless --epochs is given)")
    parser.add_argument("--save-nets", action="store_true",
                        help="save every trained network to OUT/nets/")
    parser.add_argument("--nets", nargs="+", type=Path, default=(), metavar="FILE",
                        help="for the ensemble: vote with these saved networks "
                             "(from --save-nets) instead of training new ones")
    args = parser.parse_args(argv)
    unknown = [n for n in args.experiments if n not in ALL_NAMES]
    if unknown:
        parser.error(f"unknown experiment(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(ALL_NAMES)}")
    experiments = run_experiments(
        args.experiments or None, runs=args.runs, epochs=args.epochs, seed=args.seed,
        training_size=args.training_size, repetitions=args.repetitions,
        out=args.out, save_nets=args.save_nets, ensemble_nets=args.nets)
    print(markdown_table(experiments))
    print(f"Results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
