"""chapter3
~~~~~~~~

Reproduces the experiments of chapter 3 with network2.py (cross-entropy
cost unless said otherwise, mini-batch size 10), each with the figure the
book draws for it:

- ``cross_entropy``: [784, 30, 10] and [784, 100, 10], large init, eta 0.5,
  30 epochs (book: 95.49% and 96.82% on test);
- ``overfitting``: [784, 30, 10] on the first 1,000 training images, 400
  epochs, eta 0.5: training cost, test accuracy, test cost and training
  accuracy per epoch (book: test accuracy tops out at 82.27%);
- ``overfitting_full``: the same network on all 50,000 images, 30 epochs:
  training against test accuracy (book: 97.86% vs 95.33%);
- ``l2_small``: the 1,000-image run with lmbda 0.1 (book: 87.1%);
- ``l2_full``: all 50,000 images with lmbda 5.0 (book: 96.49%);
- ``l2_100_hidden``: [784, 100, 10], lmbda 5.0, eta 0.5 for 30 epochs
  (book: 97.92%) and eta 0.1 for 60 epochs (book: 98.04%), on validation;
- ``weight_init``: default against large init, 30 and 100 hidden neurons,
  lmbda 5.0, eta 0.1: validation accuracy per epoch;
- ``learning_rates``: training cost per epoch for eta 0.025, 0.25, 2.5;
- ``more_data``: validation accuracy against training-set size (lmbda =
  size * 1e-4, 1.5 million examples seen, so epochs = 1.5e6 / size), with
  the SVM baseline trained on the same images.

Every run seeds Python's and numpy's generators (run i with seed S + i; the
book's figure scripts used S = 12345678) and prints network2's progress
lines.  ``--epochs E`` scales every run by E/30: the book's 30-epoch runs
take E epochs, the 400-epoch runs 400*E/30, and so on.  Each experiment
has 3 runs by default (``--runs``), except the SVM, which is deterministic
and runs once.

Time: on one core of the 2-core development machine, with nothing else
running, an epoch on the 50,000 images with validation accuracy took
0.48 s for [784, 30, 10] and 0.82 s for [784, 100, 10], and an epoch of the
1,000-image runs with all four quantities monitored 0.04 s; that makes an
estimated 7 minutes for one run of every experiment, 20-25 minutes for the
default three.  The SVM baselines add about 10 minutes: training and
scoring took 22 s on 10,000 images, 66 s on 20,000 and 519 s on 50,000
(the last two while other jobs shared the machine).  ``--quick`` (one run,
a tenth of every run's epochs, 3 where the book has 30, and training-set
sizes 100, 1,000 and 10,000) took 2 min 9 s on the 2-core machine with
little else running, and 4 min 11 s while other jobs kept both cores busy.

The figures: table.md's notes give each of the more-data figures a caption
(more-data.png, more-data-log.png and more-data-comparison.png, the book's
linear, log-scale and network-against-SVM plots).

The results go to ``--out`` (default ``results/chapter3``): results.json
with every epoch of every run, table.md with the measured figures beside
the published ones (and further measurements in its notes), a PNG of
accuracy per epoch for each row, and the book's figures.

    python src/chapter3.py                              # everything, ~35 min (estimate)
    python src/chapter3.py --quick                      # 2-4 minutes
    python src/chapter3.py --only overfitting l2_small  # just those two
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np

import mnist_loader
import mnist_svm
import network2
from plots import plot_series
from reproduction import (BOOK_EPOCHS, QUICK_EPOCHS, Experiment, epochs_for, make_parser,
                          parse_args, percent, positive, reported_errors, run_chapter,
                          script_description, seeded_runs, slug)

TITLE = "Chapter 3: network2.py on MNIST"
MINI_BATCH_SIZE = 10
BOOK_SIZES = (100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
QUICK_SIZES = (100, 1000, 10000)
EXAMPLES_SEEN = 1_500_000  # more data: epochs = EXAMPLES_SEEN / size
TEST_ACCURACY = "accuracy on the 10,000 test images (%)"
VALIDATION_ACCURACY = "accuracy on the 10,000 validation images (%)"

# Validation accuracy (%) the book reports for each training-set size.
MORE_DATA_NETWORK = dict(zip(BOOK_SIZES, (69.09, 76.37, 85.29, 88.85, 91.27, 93.24,
                                          94.89, 95.85, 95.97)))
MORE_DATA_SVM = dict(zip(BOOK_SIZES, (25.07, 48.93, 75.13, 83.87, 88.49, 91.46,
                                      92.45, 93.47, 94.48)))


#### Training, as the book's shell sessions do it

def train(sizes, training_data, epochs: int, eta: float, *,
          lmbda: float = 0.0, large_init: bool = False, **sgd_options):
    """Build a cross-entropy network, train it; return SGD's four lists.

    ``sgd_options`` are passed on to ``Network.SGD`` (evaluation_data and
    the monitor_* flags).  The generators are seeded by the run loop
    (``seeded_runs``) before each run.
    """
    net = network2.Network(sizes, cost=network2.CrossEntropyCost)
    if large_init:
        net.large_weight_initializer()
    return net.SGD(training_data, epochs, MINI_BATCH_SIZE, eta, lmbda=lmbda, **sgd_options)


def init_name(large_init: bool) -> str:
    return "large init" if large_init else "default init"


#### The experiments
# Each takes the data (reproduction.Data: MNIST as load_data_wrapper gives
# it) and the parsed command line, runs its configurations with a loop over
# args.seeds, draws the book's figures into args.out, and returns its
# Experiments and any notes for table.md.

def cross_entropy(data, args):
    """[784, 30, 10] and [784, 100, 10], large init, eta 0.5: test accuracy."""
    epochs = epochs_for(args, 30)
    experiments = []
    for hidden, published in ((30, 95.49), (100, 96.82)):
        exp = Experiment(f"cross-entropy [784, {hidden}, 10]", f"{published}% test",
                         f"large init, eta 0.5, {epochs} epochs, test", reference=published,
                         ylabel=TEST_ACCURACY)
        for seed in seeded_runs(exp.name, args.seeds):
            _, accuracy, _, _ = train([784, hidden, 10], data.training, epochs, 0.5,
                                      large_init=True, evaluation_data=data.test,
                                      monitor_evaluation_accuracy=True)
            exp.add_run(seed, percent(accuracy, len(data.test)))
        experiments.append(exp)
    return experiments, []


def small_training_set(data, args, *, lmbda: float, name: str,
                       published: str, book: float):
    """[784, 30, 10] on the first 1,000 training images, 400 epochs, eta 0.5,
    large init, every quantity monitored on the test data; the book's four
    plots (training cost and test accuracy from epoch 200, test cost and
    training accuracy from epoch 0) are drawn for the first run."""
    epochs = epochs_for(args, 400)
    training = data.training[:1000]
    exp = Experiment(name, published,
                     f"1,000 images, lmbda {lmbda}, eta 0.5, large init, {epochs} epochs, test",
                     reference=book, ylabel=TEST_ACCURACY)
    for seed in seeded_runs(exp.name, args.seeds):
        test_cost, test_accuracy, training_cost, training_accuracy = train(
            [784, 30, 10], training, epochs, 0.5, lmbda=lmbda, large_init=True,
            evaluation_data=data.test, monitor_evaluation_cost=True,
            monitor_evaluation_accuracy=True, monitor_training_cost=True,
            monitor_training_accuracy=True)
        exp.add_run(seed, percent(test_accuracy, len(data.test)),
                    training_cost=training_cost, test_cost=test_cost,
                    training_accuracy=percent(training_accuracy, len(training)))
    notes = []
    for run in exp.runs:
        accuracy = run["accuracy"]
        perfect = next((j for j, a in enumerate(run["training_accuracy"]) if a == 100.0),
                       None)
        notes.append(
            f"{name}, seed {run['seed']}: best test accuracy {max(accuracy):.2f}% at epoch "
            f"{int(np.argmax(accuracy))}; training accuracy first 100% at epoch "
            f"{'never' if perfect is None else perfect}; test cost lowest at epoch "
            f"{int(np.argmin(run['test_cost']))}")
    run = exp.runs[0]
    prefix = args.out / slug(name)
    start = epochs // 2  # the book shows the first two of these from epoch 200 of 400
    label = f"seed {run['seed']}"
    tail = range(start, epochs)
    about = f"{name} (1,000 training images, lmbda {lmbda})"
    plot_series(f"{prefix}-training-cost.png",
                {label: (tail, run["training_cost"][start:])},
                title=f"{about}: cost on the training data, epochs {start}-{epochs - 1}",
                xlabel="epoch", ylabel="cost on the training data")
    plot_series(f"{prefix}-test-accuracy.png",
                {label: (tail, run["accuracy"][start:])},
                title=f"{about}: accuracy on the test data, epochs {start}-{epochs - 1}",
                xlabel="epoch", ylabel=TEST_ACCURACY,
                references={f"book: {book}% at best": book})
    plot_series(f"{prefix}-test-cost.png", {label: run["test_cost"]},
                title=f"{about}: cost on the test data", xlabel="epoch",
                ylabel="cost on the test data")
    plot_series(f"{prefix}-training-accuracy.png",
                {label: run["training_accuracy"]},
                title=f"{about}: accuracy on the training data", xlabel="epoch",
                ylabel="accuracy on the 1,000 training images (%)")
    return [exp], notes


def overfitting(data, args):
    """Overfitting on 1,000 images, no regularization."""
    return small_training_set(
        data, args, lmbda=0.0, name="overfitting", book=82.27,
        published="test accuracy tops out at 82.27% (epochs 280-375); training "
                  "accuracy 100% from epoch ~67; test cost lowest near epoch 15")


def l2_small(data, args):
    """The 1,000-image run with L2 regularization, lmbda 0.1."""
    return small_training_set(data, args, lmbda=0.1, name="l2_small",
                              published="87.1% test", book=87.1)


def full_training_set(data, args, *, lmbda: float, name: str,
                      published_test: str, published_training: str,
                      book_test: float, book_training: float | None):
    """[784, 30, 10] on all 50,000 images, eta 0.5, large init: accuracy on
    the training and the test data per epoch, drawn together for the first
    run as the book does."""
    epochs = epochs_for(args, 30)
    settings = f"50,000 images, lmbda {lmbda}, eta 0.5, large init, {epochs} epochs"
    test_exp = Experiment(f"{name} (test accuracy)", published_test, settings + ", test",
                          reference=book_test, ylabel=TEST_ACCURACY)
    training_exp = Experiment(f"{name} (training accuracy)", published_training,
                              settings + ", training data", reference=book_training,
                              ylabel="accuracy on the 50,000 training images (%)")
    for seed in seeded_runs(test_exp.name, args.seeds):
        _, test_accuracy, _, training_accuracy = train(
            [784, 30, 10], data.training, epochs, 0.5, lmbda=lmbda, large_init=True,
            evaluation_data=data.test, monitor_evaluation_accuracy=True,
            monitor_training_accuracy=True)
        test_exp.add_run(seed, percent(test_accuracy, len(data.test)))
        training_exp.add_run(seed, percent(training_accuracy, len(data.training)))
    references = {}  # in the order of the curves, whose colours they take
    if book_training is not None:
        references[f"book, training data: {book_training}%"] = book_training
    references[f"book, test data: {book_test}%"] = book_test
    plot_series(
        args.out / f"{slug(name)}-training-vs-test.png",
        {"accuracy on the training data": training_exp.runs[0]["accuracy"],
         "accuracy on the test data": test_exp.runs[0]["accuracy"]},
        title=f"{name} ({settings}): seed {test_exp.runs[0]['seed']}", xlabel="epoch",
        ylabel="accuracy (%)", references=references)
    gaps = [t - s for t, s in zip(training_exp.final(), test_exp.final())]
    note = (f"{name}: final training minus test accuracy {np.mean(gaps):.2f} points "
            f"(runs: {', '.join(f'{g:.2f}' for g in gaps)})")
    return [test_exp, training_exp], [note]


def overfitting_full(data, args):
    """All 50,000 images, no regularization."""
    return full_training_set(data, args, lmbda=0.0, name="overfitting_full",
                             published_test="95.33% test (final epoch)",
                             published_training="97.86% (final epoch)",
                             book_test=95.33, book_training=97.86)


def l2_full(data, args):
    """All 50,000 images, lmbda 5.0."""
    return full_training_set(data, args, lmbda=5.0, name="l2_full",
                             published_test="96.49% test",
                             published_training="not published (a smaller gap "
                                                "to test than without L2)",
                             book_test=96.49, book_training=None)


def l2_100_hidden(data, args):
    """[784, 100, 10], large init, lmbda 5.0: eta 0.5 for 30 epochs and
    eta 0.1 for 60 epochs, on the validation data.  (The chapter trains
    these while its networks still start with large weights.)"""
    experiments = []
    for eta, book_epochs, book in ((0.5, 30, 97.92), (0.1, 60, 98.04)):
        epochs = epochs_for(args, book_epochs)
        exp = Experiment(f"[784, 100, 10], lmbda 5.0, eta {eta}", f"{book}% val",
                         f"large init, {epochs} epochs, validation", reference=book,
                         ylabel=VALIDATION_ACCURACY)
        for seed in seeded_runs(exp.name, args.seeds):
            _, accuracy, _, _ = train([784, 100, 10], data.training, epochs, eta,
                                      lmbda=5.0, large_init=True,
                                      evaluation_data=data.validation,
                                      monitor_evaluation_accuracy=True)
            exp.add_run(seed, percent(accuracy, len(data.validation)))
        experiments.append(exp)
    return experiments, []


def weight_init(data, args):
    """Default (N(0, 1/sqrt(n_in))) against large (N(0, 1)) initial weights,
    30 and 100 hidden neurons, lmbda 5.0, eta 0.1: validation accuracy."""
    epochs = epochs_for(args, 30)
    published = {
        (30, True): "under 87% after the first epoch; ends a little over 96%",
        (30, False): "almost 93% after the first epoch; ends a little over 96%",
        (100, True): "about 97.4% at the end",
        (100, False): "about 97.8% at the end",
    }
    experiments, notes = [], []
    for hidden in (30, 100):
        curves = {}
        first_epoch = {}
        for large_init in (True, False):
            exp = Experiment(f"weight init [784, {hidden}, 10], {init_name(large_init)}",
                             published[hidden, large_init] + " (val)",
                             f"lmbda 5.0, eta 0.1, {epochs} epochs, validation",
                             ylabel=VALIDATION_ACCURACY)
            for seed in seeded_runs(exp.name, args.seeds):
                _, accuracy, _, _ = train([784, hidden, 10], data.training, epochs, 0.1,
                                          lmbda=5.0, large_init=large_init,
                                          evaluation_data=data.validation,
                                          monitor_evaluation_accuracy=True)
                exp.add_run(seed, percent(accuracy, len(data.validation)))
            experiments.append(exp)
            curves[f"{init_name(large_init)}, seed {exp.runs[0]['seed']}"] = \
                exp.runs[0]["accuracy"]
            first_epoch[init_name(large_init)] = [run["accuracy"][0] for run in exp.runs]
        plot_series(args.out / f"weight-init-{hidden}.png", curves,
                    title=f"[784, {hidden}, 10]: default against large initial weights",
                    xlabel="epoch", ylabel=VALIDATION_ACCURACY)
        notes.append(f"weight init [784, {hidden}, 10]: accuracy after the first epoch, " +
                     "; ".join(f"{name} {np.mean(values):.2f}% "
                               f"({min(values):.2f}-{max(values):.2f})"
                               for name, values in first_epoch.items()))
    return experiments, notes


def learning_rates(data, args):
    """[784, 30, 10], default init, lmbda 5.0, eta 0.025 / 0.25 / 2.5:
    the cost on the training data per epoch (validation accuracy is
    recorded too, though the book shows only the cost)."""
    epochs = epochs_for(args, 30)
    published = {0.025: "cost falls smoothly", 0.25: "cost flattens after ~20 epochs",
                 2.5: "cost oscillates"}
    experiments, curves, notes = [], {}, []
    for eta in (0.025, 0.25, 2.5):
        exp = Experiment(f"learning rate eta {eta}",
                         f"{published[eta]} (accuracy not published)",
                         f"[784, 30, 10], default init, lmbda 5.0, {epochs} epochs, "
                         f"validation; training cost in results.json",
                         ylabel=VALIDATION_ACCURACY)
        for seed in seeded_runs(exp.name, args.seeds):
            _, accuracy, training_cost, _ = train(
                [784, 30, 10], data.training, epochs, eta, lmbda=5.0,
                evaluation_data=data.validation, monitor_evaluation_accuracy=True,
                monitor_training_cost=True)
            exp.add_run(seed, percent(accuracy, len(data.validation)),
                        training_cost=training_cost)
        experiments.append(exp)
        curves[f"eta = {eta}"] = exp.runs[0]["training_cost"]
        for run in exp.runs:
            cost = run["training_cost"]
            rises = sum(later > earlier for earlier, later in zip(cost, cost[1:]))
            marks = sorted({0, len(cost) // 3, 2 * len(cost) // 3, len(cost) - 1})
            notes.append(f"eta {eta}, seed {run['seed']}: training cost " +
                         ", ".join(f"{cost[j]:.4f} (epoch {j})" for j in marks) +
                         f"; it rose in {rises} of {len(cost) - 1} epochs")
    plot_series(args.out / "learning-rates.png", curves,
                title="[784, 30, 10]: cost on the training data, seed "
                      f"{experiments[0].runs[0]['seed']}",
                xlabel="epoch", ylabel="cost on the training data")
    return experiments, notes


def more_data(data, args):
    """Validation accuracy against the number of training images: the
    network ([784, 30, 10], large init, eta 0.5, lmbda = size * 1e-4, epochs
    = 1.5e6 / size, accuracy measured once at the end, as the book does)
    and the SVM (RBF, C = 1, gamma = 1/784, scikit-learn's default of 2015)
    trained on the same images.  network2's per-epoch lines are not shown
    here: the smallest set runs 15,000 epochs."""
    (train_x, train_y), validation_arrays, _ = mnist_loader.load_data()
    experiments, network_points, svm_points = [], {}, {}
    for size in args.sizes:
        if size > len(data.training):
            raise ValueError(f"training-set size {size} is more than the "
                             f"{len(data.training)} training images")
        epochs = epochs_for(args, EXAMPLES_SEEN / size)
        lmbda = size * 1e-4
        published = MORE_DATA_NETWORK.get(size)
        exp = Experiment(f"more data: network, {size:,} images",
                         f"{published:.2f}% val" if published else "not published",
                         f"lmbda {lmbda:g}, {epochs} epochs, validation", per_epoch=False)
        for seed in seeded_runs(exp.name, args.seeds):
            start = time.perf_counter()
            net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
            net.large_weight_initializer()
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                net.SGD(data.training[:size], epochs, MINI_BATCH_SIZE, 0.5, lmbda=lmbda)
            accuracy = 100.0 * net.accuracy(data.validation) / len(data.validation)
            print(f"{size} images, {epochs} epochs: {accuracy:.2f}% on validation "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
            exp.add_run(seed, [accuracy])
        experiments.append(exp)
        network_points[size] = exp.final()

        published = MORE_DATA_SVM.get(size)
        svm = Experiment(f"more data: SVM, {size:,} images",
                         f"{published:.2f}% val" if published else "not published",
                         "RBF, C=1, gamma=1/784, validation (deterministic: one run)",
                         per_epoch=False)
        start = time.perf_counter()
        correct = mnist_svm.svm_baseline((train_x[:size], train_y[:size]), validation_arrays)
        accuracy = 100.0 * correct / len(validation_arrays[1])
        print(f"SVM, {size} images: {accuracy:.2f}% on validation "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
        svm.add_run(None, [accuracy])
        experiments.append(svm)
        svm_points[size] = accuracy
    captions = plot_more_data(args.out, network_points, svm_points,
                              epochs_for(args, EXAMPLES_SEEN))
    return experiments, captions


def plot_more_data(out: Path, network_points: dict, svm_points: dict, examples: int):
    """The book's three more-data figures: the network's validation accuracy
    (mean of its runs) against the training-set size on a linear and on a
    log scale, then beside the SVM's; the book's figures are drawn too.
    Returns their captions."""
    sizes = sorted(network_points)
    ours = (sizes, [float(np.mean(network_points[s])) for s in sizes])
    book_network = (list(BOOK_SIZES), [MORE_DATA_NETWORK[s] for s in BOOK_SIZES])
    book_svm = (list(BOOK_SIZES), [MORE_DATA_SVM[s] for s in BOOK_SIZES])
    network = "network2 [784, 30, 10] (measured)"
    settings = f"[784, 30, 10], eta 0.5, lmbda = size/10,000, {examples:,} examples seen"
    plot_series(out / "more-data.png", {network: ours},
                title=f"More training data: {settings}", xlabel="training set size",
                ylabel=VALIDATION_ACCURACY, integer_x=False,
                references={"network2 (book)": book_network})
    plot_series(out / "more-data-log.png", {network: ours},
                title=f"More training data, log scale: {settings}",
                xlabel="training set size (log scale)", ylabel=VALIDATION_ACCURACY,
                logx=True, references={"network2 (book)": book_network})
    plot_series(out / "more-data-comparison.png",
                {network: ours, "SVM (measured)": (sizes, [svm_points[s] for s in sizes])},
                title="More training data: the network against an SVM "
                      "(RBF, C = 1, gamma = 1/784)",
                xlabel="training set size (log scale)", ylabel=VALIDATION_ACCURACY,
                logx=True, references={"network2 (book)": book_network,
                                       "SVM (book)": book_svm})
    captions = [
        "more-data.png: validation accuracy of [784, 30, 10] trained on the first N "
        "training images, N on a linear scale: the accuracy climbs steeply at first "
        "and is still creeping up at 50,000.",
        "more-data-log.png: the same points with N on a log scale, where the climb "
        "looks steady: every tenfold increase of the training data still buys a "
        "few points.",
        "more-data-comparison.png: the network beside an SVM trained on the same "
        "images: the network is better at every size, most of all on small sets, "
        "and both keep improving with more data (crosses: the book's figures).",
    ]
    return captions


# The experiments by the names --only takes, in the chapter's order.
EXPERIMENTS = {
    "cross_entropy": cross_entropy,
    "overfitting": overfitting,
    "overfitting_full": overfitting_full,
    "l2_small": l2_small,
    "l2_full": l2_full,
    "l2_100_hidden": l2_100_hidden,
    "weight_init": weight_init,
    "learning_rates": learning_rates,
    "more_data": more_data,
}


def main(argv=None) -> str:
    parser = make_parser(
        script_description(__doc__), name="chapter3", experiments=EXPERIMENTS,
        quick=f"2-4 minutes on a 2-core machine: 1 run, {QUICK_EPOCHS} epochs where the "
              f"book has {BOOK_EPOCHS} (every run scaled alike), sizes "
              f"{', '.join(map(str, QUICK_SIZES))} (unless --runs, --epochs or --sizes "
              f"say otherwise)")
    parser.add_argument("--sizes", nargs="+", type=positive, metavar="N",
                        help="training-set sizes for more_data (default the book's "
                             f"{', '.join(map(str, BOOK_SIZES))})")
    args = parse_args(parser, argv)
    if args.sizes and not all(MINI_BATCH_SIZE <= size <= 50000 for size in args.sizes):
        parser.error(f"--sizes must lie between {MINI_BATCH_SIZE} (one mini-batch) and "
                     f"50000 (the training images), got {args.sizes}")
    args.sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else BOOK_SIZES))
    with reported_errors("chapter3.py"):
        return run_chapter(TITLE, EXPERIMENTS, args)


if __name__ == "__main__":
    main(sys.argv[1:])
