"""exercises
~~~~~~~~~

Runs the answers of exercises1, exercises3 and exercises6 against their
baselines on MNIST, three runs each (seeds S, S + 1, S + 2), and writes
``results.json`` (every epoch of every run), a PNG of accuracy per epoch
for each row and ``table.md`` (mean and range over the runs) to ``--out``
(default ``results/exercises``).

Chapter 1 rows report test accuracy (as the chapter does), chapter 3 rows
validation accuracy (the answers are being compared, not tuned on test
data) and chapter 6 rows the book's protocol: test accuracy at the epoch
of best validation accuracy.  ``--epochs E`` scales every run by E/30 (the
book's 30-epoch runs take E epochs, chapter 6's 60-epoch ones 2E);
``--conv-training-size N`` trains the chapter 6 rows on the first N
images, for machines without a GPU.  Every row's settings say what ran.

    python src/exercises.py --only no_hidden_layer l1          # those rows
    python src/exercises.py --only conv_omit_fc --epochs 3 --conv-training-size 10000
    python src/exercises.py --quick                            # one short run of each
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

import exercises1
import exercises3
import network
import network2
from reproduction import (Data, Experiment, Options, Outcome, add_options, make_parser,
                          percent, printed_lines, run_chapter)

TITLE = "The book's exercises and problems: answers against baselines"
MINI_BATCH_SIZE = 10
NOT_IN_BOOK = "not published"


@dataclass
class ExerciseOptions(Options):
    """The common options and the training-set size of the chapter 6 rows."""
    conv_training_size: int | None = None


def _epoch_counts(lines: list[str]) -> list[int]:
    """Correct counts from network.py's ``Epoch j: c / n`` lines."""
    return [int(line.split(": ")[1].split(" / ")[0])
            for line in lines if line.startswith("Epoch ") and " / " in line]


#### Chapter 1
def no_hidden_layer(data: Data, opts: Options) -> Outcome:
    """[784, 10] against [784, 30, 10]: network.py, eta 3.0, test accuracy."""
    epochs = opts.epochs(30)
    rows = []
    for sizes, published in ((exercises1.NO_HIDDEN_SIZES, NOT_IN_BOOK),
                             (exercises1.BASELINE_SIZES, "95.42% (best run)")):
        exp = Experiment(f"ch1 {sizes}", published,
                         f"network.py, eta 3.0, {epochs} epochs, test")

        def one_run(seed):
            net = network.Network(sizes, seed=seed)
            with printed_lines() as lines:
                net.SGD(data.training, epochs, MINI_BATCH_SIZE, 3.0, test_data=data.test)
            return percent(_epoch_counts(lines), len(data.test))
        exp.repeat(opts.seeds(), one_run)
        rows.append(exp)
    return Outcome(rows)


#### Chapter 3
def _train2(net, data: Data, epochs: int, eta: float, lmbda: float = 0.0):
    """Train a network2-style net; its validation accuracy (%) per epoch."""
    _, accuracy, _, _ = net.SGD(data.training, epochs, MINI_BATCH_SIZE, eta, lmbda=lmbda,
                                evaluation_data=data.validation,
                                monitor_evaluation_accuracy=True)
    return percent(accuracy, len(data.validation))


def _rows(data: Data, opts: Options, configs) -> list[Experiment]:
    """One Experiment per (name, settings, make_net(seed), eta, lmbda, epochs)."""
    rows = []
    for name, settings, make_net, eta, lmbda, epochs in configs:
        exp = Experiment(name, NOT_IN_BOOK, f"{settings}, {epochs} epochs, validation")
        exp.repeat(opts.seeds(), lambda seed: _train2(make_net(seed), data, epochs,
                                                      eta, lmbda))
        rows.append(exp)
    return rows


def baseline(data: Data, opts: Options) -> Outcome:
    """network2 [784, 30, 10], sigmoid and cross-entropy, eta 0.5, no
    regularization: the row that L1 and softmax are set beside."""
    e = opts.epochs(30)
    return Outcome(_rows(data, opts, [
        ("ch3 baseline: network2 [784, 30, 10]", "cross-entropy, eta 0.5, lmbda 0",
         lambda s: network2.Network([784, 30, 10], seed=s), 0.5, 0.0, e)]))


def l1(data: Data, opts: Options) -> Outcome:
    e = opts.epochs(30)
    return Outcome(_rows(data, opts, [
        (f"ch3 L1, lmbda {lmbda}", f"L1Network [784, 30, 10], eta 0.5, L1 lmbda {lmbda}",
         lambda s: exercises3.L1Network([784, 30, 10], seed=s), 0.5, lmbda, e)
        for lmbda in (0.5, 2.0)]))


def momentum(data: Data, opts: Options) -> Outcome:
    e = opts.epochs(30)
    return Outcome(_rows(data, opts, [
        (f"ch3 momentum {mu}", f"MomentumNetwork [784, 30, 10], mu {mu}, eta 0.1",
         lambda s, mu=mu: exercises3.MomentumNetwork([784, 30, 10], momentum=mu, seed=s),
         0.1, 0.0, e)
        for mu in (0.0, 0.5, 0.9)]), notes=["momentum 0.0 is plain gradient descent "
                                            "(network2's step) at eta 0.1"])


def softmax(data: Data, opts: Options) -> Outcome:
    e = opts.epochs(30)
    return Outcome(_rows(data, opts, [
        ("ch3 softmax + log-likelihood", "SoftmaxNetwork [784, 30, 10], eta 0.5",
         lambda s: exercises3.SoftmaxNetwork([784, 30, 10], seed=s), 0.5, 0.0, e)]))


def tanh(data: Data, opts: Options) -> Outcome:
    e = opts.epochs(30)
    return Outcome(_rows(data, opts, [
        ("ch3 tanh hidden neurons", "TanhNetwork [784, 30, 10] (sigmoid output), eta 0.1",
         lambda s: exercises3.TanhNetwork([784, 30, 10], seed=s), 0.1, 0.0, e)]),
        notes=["tanh's baseline at the same eta is 'ch3 momentum 0.0'"])


def cross_entropy_network_py(data: Data, opts: Options) -> Outcome:
    """network.py with the cross-entropy cost_derivative, eta 0.5; each run
    also records how many weights ended up nan.  Its baseline, network.py's
    own quadratic cost, is the row "ch1 [784, 30, 10]" (same seeds)."""
    epochs = opts.epochs(30)
    exp = Experiment("ch3 network.py, cross-entropy cost_derivative", NOT_IN_BOOK,
                     f"CrossEntropyNetwork [784, 30, 10], large init, eta 0.5, "
                     f"{epochs} epochs, test")
    nan_weights = []

    def one_run(seed):
        net = exercises3.CrossEntropyNetwork([784, 30, 10], seed=seed)
        with printed_lines() as lines, np.errstate(divide="ignore", invalid="ignore"):
            net.SGD(data.training, epochs, MINI_BATCH_SIZE, 0.5, test_data=data.test)
        nan_weights.append(int(sum(np.isnan(w).sum() for w in net.weights)))
        return percent(_epoch_counts(lines), len(data.test)), {"nan_weights": nan_weights[-1]}
    exp.repeat(opts.seeds(), one_run)
    through, delta = exercises3.output_error([2.0, 40.0, 40.0], [0.0, 0.0, 1.0])
    notes = [f"{exp.name}: nan weights at the end of each run {nan_weights}; its "
             f"baseline (quadratic cost, eta 3.0, same seeds) is 'ch1 [784, 30, 10]'",
             f"output error at z = 2, 40, 40 with y = 0, 0, 1: cost_derivative * "
             f"sigmoid_prime gives {through.tolist()}, CrossEntropyCost.delta "
             f"{delta.tolist()}"]
    return Outcome([exp], notes=notes)


def early_stopping(data: Data, opts: Options) -> Outcome:
    """network2's no-improvement-in-10 against the moving-average rule
    (window 5), [784, 30, 10], eta 0.5, lmbda 5.0, at most 60 epochs."""
    max_epochs = opts.epochs(60)
    rows, notes = [], []
    for rule in ("no improvement in 10", "moving average, window 5"):
        exp = Experiment(f"ch3 early stopping: {rule}", NOT_IN_BOOK,
                         f"network2 [784, 30, 10], eta 0.5, lmbda 5.0, "
                         f"at most {max_epochs} epochs, validation")

        def one_run(seed, rule=rule):
            net = network2.Network([784, 30, 10], seed=seed)
            if rule.startswith("no improvement"):
                _, accuracy, _, _ = net.SGD(data.training, max_epochs, MINI_BATCH_SIZE, 0.5,
                                            lmbda=5.0, evaluation_data=data.validation,
                                            monitor_evaluation_accuracy=True,
                                            early_stopping_n=10)
            else:
                accuracy = exercises3.average_stopping_SGD(
                    net, data.training, max_epochs, MINI_BATCH_SIZE, 0.5, 5.0,
                    data.validation, window=5)
            return percent(accuracy, len(data.validation))
        exp.repeat(opts.seeds(), one_run)
        used = [len(run["accuracy"]) for run in exp.runs]
        notes.append(f"{exp.name}: epochs used {used} (mean {np.mean(used):.1f})")
        rows.append(exp)
    return Outcome(rows, notes=notes)


EXPERIMENTS = {"no_hidden_layer": no_hidden_layer, "baseline": baseline, "l1": l1,
               "momentum": momentum, "softmax": softmax, "tanh": tanh,
               "cross_entropy_network_py": cross_entropy_network_py,
               "early_stopping": early_stopping}


def main(argv=None) -> str:
    parser = make_parser(__doc__.split("\n\n")[1], epochs=30, name="exercises")
    add_options(parser, list(EXPERIMENTS), "one run of each, a tenth of the epochs")
    parser.add_argument("--conv-training-size", type=int, default=None, metavar="N",
                        help="train the chapter 6 rows on the first N training images")
    args = parser.parse_args(argv)
    opts = ExerciseOptions.from_args(args, conv_training_size=args.conv_training_size)
    return run_chapter(TITLE, EXPERIMENTS, args.only or list(EXPERIMENTS), opts)


if __name__ == "__main__":
    main(sys.argv[1:])
