"""exercises
~~~~~~~~~

Runs the answers of exercises1, exercises3 and exercises6 against their
baselines on MNIST, three runs each (seeds S, S + 1, S + 2), and writes
``results.json`` (every epoch of every run), a PNG of accuracy per epoch
for each row and ``table.md`` (mean and range over the runs) to ``--out``
(default ``results/exercises``).

Rows on network.py (chapter 1, and chapter 3's cross-entropy
cost_derivative) report test accuracy, as network.py's SGD does; the other
chapter 3 rows and the chapter 6 rows report validation accuracy (the
answers are compared, not tuned on test data).  ``--epochs E`` scales every
run by E/30 (the book's 30-epoch runs take E epochs, chapter 6's 60-epoch
ones 2E); ``--conv-training-size N`` and ``--conv-validation-size N`` cut
the chapter 6 data, for machines without a GPU.  Every row's settings say
what ran.  ``<chapter>-comparison.png`` draws each chapter's rows' mean
accuracy per epoch together; the chapter 6 rows (``conv``) also draw the
baseline's training against validation accuracy
(``ch6-training-vs-validation.png``).

    python src/exercises.py --only no_hidden_layer l1          # those rows
    python src/exercises.py --only conv --epochs 5 --conv-training-size 3000
    python src/exercises.py --quick                            # one short run of each
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

import exercises1
import exercises3
import exercises6
import expand_mnist
import network
import network2
import network3
from plots import plot_series
from reproduction import (Experiment, epoch_accuracies, epochs_for, make_parser, parse_args,
                          percent, positive, printed_lines, reported_errors, run_chapter,
                          script_description, seeded_runs)

TITLE = "The book's exercises and problems: answers against baselines"
MINI_BATCH_SIZE = 10
NOT_IN_BOOK = "not published"

# Each row function takes the data (reproduction.Data) and the parsed command
# line, and returns its Experiments and any notes for table.md.


#### Chapter 1
def no_hidden_layer(data, args):
    """[784, 10] against [784, 30, 10]: network.py, eta 3.0, test accuracy."""
    epochs = epochs_for(args, 30)
    rows = []
    for sizes, published in ((exercises1.NO_HIDDEN_SIZES, NOT_IN_BOOK),
                             (exercises1.BASELINE_SIZES, "95.42% (best run)")):
        exp = Experiment(f"ch1 {sizes}", published,
                         f"network.py, eta 3.0, {epochs} epochs, test")
        for seed in seeded_runs(exp.name, args.seeds):
            net = network.Network(sizes, seed=seed)
            with printed_lines() as lines:
                net.SGD(data.training, epochs, MINI_BATCH_SIZE, 3.0, test_data=data.test)
            exp.add_run(seed, epoch_accuracies(lines))
        rows.append(exp)
    return rows, []


#### Chapter 3
def _train2(net, data, epochs: int, eta: float, lmbda: float = 0.0):
    """Train a network2-style net; its validation accuracy (%) per epoch."""
    _, accuracy, _, _ = net.SGD(data.training, epochs, MINI_BATCH_SIZE, eta, lmbda=lmbda,
                                evaluation_data=data.validation,
                                monitor_evaluation_accuracy=True)
    return percent(accuracy, len(data.validation))


def _rows(data, args, configs) -> list[Experiment]:
    """One Experiment per (name, settings, make_net(seed), eta, lmbda): network2-style
    nets trained for the book's 30 epochs (scaled by --epochs), validation accuracy."""
    epochs = epochs_for(args, 30)
    rows = []
    for name, settings, make_net, eta, lmbda in configs:
        exp = Experiment(name, NOT_IN_BOOK, f"{settings}, {epochs} epochs, validation")
        for seed in seeded_runs(exp.name, args.seeds):
            exp.add_run(seed, _train2(make_net(seed), data, epochs, eta, lmbda))
        rows.append(exp)
    return rows


def baseline(data, args):
    """network2 [784, 30, 10], sigmoid and cross-entropy, eta 0.5, no
    regularization: the row that L1 and softmax are set beside."""
    return _rows(data, args, [
        ("ch3 baseline: network2 [784, 30, 10]", "cross-entropy, eta 0.5, lmbda 0",
         lambda s: network2.Network([784, 30, 10], seed=s), 0.5, 0.0)]), []


def l1(data, args):
    return _rows(data, args, [
        (f"ch3 L1, lmbda {lmbda}", f"L1Network [784, 30, 10], eta 0.5, L1 lmbda {lmbda}",
         lambda s: exercises3.L1Network([784, 30, 10], seed=s), 0.5, lmbda)
        for lmbda in (0.5, 2.0)]), []


def momentum(data, args):
    return _rows(data, args, [
        (f"ch3 momentum {mu}", f"MomentumNetwork [784, 30, 10], mu {mu}, eta 0.1",
         lambda s, mu=mu: exercises3.MomentumNetwork([784, 30, 10], momentum=mu, seed=s),
         0.1, 0.0)
        for mu in (0.0, 0.5, 0.9)]), ["momentum 0.0 is plain gradient descent "
                                      "(network2's step) at eta 0.1"]


def softmax(data, args):
    return _rows(data, args, [
        ("ch3 softmax + log-likelihood", "SoftmaxNetwork [784, 30, 10], eta 0.5",
         lambda s: exercises3.SoftmaxNetwork([784, 30, 10], seed=s), 0.5, 0.0)]), []


def tanh(data, args):
    return _rows(data, args, [
        ("ch3 tanh hidden neurons", "TanhNetwork [784, 30, 10] (sigmoid output), eta 0.1",
         lambda s: exercises3.TanhNetwork([784, 30, 10], seed=s), 0.1, 0.0)]), [
        "tanh's baseline at the same eta is 'ch3 momentum 0.0'"]


def cross_entropy_network_py(data, args):
    """network.py with the cross-entropy cost_derivative, eta 0.5; each run
    also records how many weights ended up nan.  Its baseline, network.py's
    own quadratic cost, is the row "ch1 [784, 30, 10]" (same seeds)."""
    epochs = epochs_for(args, 30)
    exp = Experiment("ch3 network.py, cross-entropy cost_derivative", NOT_IN_BOOK,
                     f"CrossEntropyNetwork [784, 30, 10], large init, eta 0.5, "
                     f"{epochs} epochs, test")
    nan_weights = []
    for seed in seeded_runs(exp.name, args.seeds):
        net = exercises3.CrossEntropyNetwork([784, 30, 10], seed=seed)
        with printed_lines() as lines, np.errstate(divide="ignore", invalid="ignore"):
            net.SGD(data.training, epochs, MINI_BATCH_SIZE, 0.5, test_data=data.test)
        nan_weights.append(int(sum(np.isnan(w).sum() for w in net.weights)))
        exp.add_run(seed, epoch_accuracies(lines), nan_weights=nan_weights[-1])
    through, delta = exercises3.output_error([2.0, 40.0, 40.0], [0.0, 0.0, 1.0])
    notes = [f"{exp.name}: nan weights at the end of each run {nan_weights}; its "
             f"baseline (quadratic cost, eta 3.0, same seeds) is 'ch1 [784, 30, 10]'",
             f"output error at z = 2, 40, 40 with y = 0, 0, 1: cost_derivative * "
             f"sigmoid_prime gives {through.tolist()}, CrossEntropyCost.delta "
             f"{delta.tolist()}"]
    return [exp], notes


def early_stopping(data, args):
    """network2's no-improvement-in-10 against the moving-average rule
    (window 5), [784, 30, 10], eta 0.5, lmbda 5.0, at most 60 epochs."""
    max_epochs = epochs_for(args, 60)
    rows, notes = [], []
    for rule in ("no improvement in 10", "moving average, window 5"):
        exp = Experiment(f"ch3 early stopping: {rule}", NOT_IN_BOOK,
                         f"network2 [784, 30, 10], eta 0.5, lmbda 5.0, "
                         f"at most {max_epochs} epochs, validation")
        for seed in seeded_runs(exp.name, args.seeds):
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
            exp.add_run(seed, percent(accuracy, len(data.validation)))
        used = [len(run["accuracy"]) for run in exp.runs]
        notes.append(f"{exp.name}: epochs used {used} (mean {np.mean(used):.1f})")
        rows.append(exp)
    return rows, notes


#### Chapter 6
def _conv_data(args):
    """Training and validation pairs on network3's device, cut to the sizes
    --conv-training-size and --conv-validation-size ask for."""
    training, validation, _ = network3.load_data_shared()
    n, v = args.conv_training_size, args.conv_validation_size
    return ((training[0][:n], training[1][:n]), (validation[0][:v], validation[1][:v]))


def _conv_rows(args, configs, notes=None) -> list[Experiment]:
    """One Experiment per (name, settings, train(seed) -> net); each run
    records validation accuracy (%) per epoch and, where the net measured
    it, training accuracy.  They train in network3's device settings (on
    the CPU one thread, the fastest for these small convolutions)."""
    rows = []
    with network3.device_settings():
        for name, settings, train in configs:
            exp = Experiment(name, NOT_IN_BOOK, settings)
            for seed in seeded_runs(exp.name, args.seeds):
                net = train(seed)
                if notes is not None and net.stop_reason:
                    notes.append(f"{name}, seed {seed}: {len(net.validation_accuracies)} "
                                 f"epochs, stopped by {net.stop_reason}, eta "
                                 f"{net.eta_history[0]} -> {net.eta_history[-1]}")
                exp.add_run(seed, [100 * a for a in net.validation_accuracies],
                            training=[100 * a for a in net.training_accuracies])
            rows.append(exp)
    return rows


def _conv_settings(training, validation, epochs: int, extra: str = "") -> str:
    return (f"network3 ({network3.device.type}), {network3.size(training):,} training "
            f"images, {epochs} epochs, eta 0.1, mb 10{extra}, validation "
            f"({network3.size(validation):,} images)")


def conv_rows(data, args):
    """Chapter 6's answers: the basic conv net (sigmoid) as baseline, with
    its training-vs-validation plot; omit_FC; tanh; early stopping with a
    learning-rate schedule; on-the-fly augmentation; and the expanded data
    (expand_mnist's four one-pixel shifts of the same images, made in
    memory) for as many images seen."""
    training, validation = _conv_data(args)
    epochs = epochs_for(args, 60)
    mb = MINI_BATCH_SIZE

    def train(seed, cls=exercises6.ScheduledNetwork, activation=network3.sigmoid,
              omit_FC=False, data=training, n_epochs=epochs, **sgd):
        net = cls(exercises6.conv_layers(mb, activation, omit_FC), mb, seed=seed)
        net.SGD(data, n_epochs, mb, 0.1, validation, None, **sgd)
        return net

    expanded = tuple(map(torch_tensor, expand_mnist.expand(
        training[0].cpu().numpy(), training[1].cpu().numpy())))
    expanded_epochs = max(1, epochs // 5)
    notes = []

    def baseline_run(seed):
        net = train(seed, monitor_training_accuracy=True)
        if seed == args.seeds[0]:
            exercises6.plot_training_vs_validation(
                net, args.out / "ch6-training-vs-validation.png",
                f"basic conv net, seed {seed}: training against validation accuracy")
        return net
    rows = _conv_rows(args, [
        ("ch6 basic conv (sigmoid)", _conv_settings(training, validation, epochs),
         baseline_run),
        ("ch6 omit_FC", _conv_settings(training, validation, epochs, ", no FC layer"),
         lambda s: train(s, omit_FC=True)),
        ("ch6 tanh", _conv_settings(training, validation, epochs, ", tanh neurons"),
         lambda s: train(s, activation=network3.tanh)),
        ("ch6 early stopping + eta schedule",
         _conv_settings(training, validation, 2 * epochs,
                        " (at most), eta halved after each epoch without a new "
                        "best, stopping after 3 such epochs in a row"),
         lambda s: train(s, n_epochs=2 * epochs, eta_schedule_n=1, early_stopping_n=3)),
        ("ch6 on-the-fly augmentation",
         _conv_settings(training, validation, epochs,
                        ", each mini-batch turned <= 10 deg, moved <= 2 px, skewed <= 0.2"),
         lambda s: train(s, cls=exercises6.AugmentedNetwork)),
        ("ch6 expanded data (same images seen)",
         _conv_settings(expanded, validation, expanded_epochs,
                        " on the images and their 4 one-pixel shifts"),
         lambda s: train(s, data=expanded, n_epochs=expanded_epochs)),
    ], notes=notes)
    notes.insert(0, "ch6 rows: validation accuracy per epoch (no test data); "
                    "'training' series in results.json for the baseline")
    return rows, notes


def torch_tensor(array):
    """A numpy array as a tensor on network3's device."""
    return torch.as_tensor(array).to(network3.device)


EXPERIMENTS = {"no_hidden_layer": no_hidden_layer, "baseline": baseline, "l1": l1,
               "momentum": momentum, "softmax": softmax, "tanh": tanh,
               "cross_entropy_network_py": cross_entropy_network_py,
               "early_stopping": early_stopping, "conv": conv_rows}


def plot_comparisons(out) -> None:
    """One PNG per chapter, ``<chapter>-comparison.png``, of every row's mean
    accuracy per epoch over its runs (up to its shortest run), read from
    ``results.json`` in ``out``, so each answer is seen beside its baseline."""
    out = Path(out)
    rows = json.loads((out / "results.json").read_text())["experiments"]
    for chapter in ("ch1", "ch3", "ch6"):
        curves = {}
        for row in rows:
            if row["name"].startswith(chapter + " ") and row["runs"]:
                length = min(len(run["accuracy"]) for run in row["runs"])
                curves[row["name"][len(chapter) + 1:]] = list(np.mean(
                    [run["accuracy"][:length] for run in row["runs"]], axis=0))
        if curves:
            plot_series(out / f"{chapter}-comparison.png", curves,
                        title=f"{chapter}: mean accuracy per epoch over the runs (see "
                              f"table.md for test or validation)",
                        xlabel="epoch", ylabel="accuracy (%)")


def main(argv=None) -> str:
    parser = make_parser(script_description(__doc__), name="exercises",
                         experiments=EXPERIMENTS,
                         quick="one run of each, a tenth of the epochs")
    parser.add_argument("--conv-training-size", type=positive, default=None, metavar="N",
                        help="train the chapter 6 rows on the first N training images "
                             f"({MINI_BATCH_SIZE} to 50000)")
    parser.add_argument("--conv-validation-size", type=positive, default=None, metavar="N",
                        help="score the chapter 6 rows on the first N validation images "
                             f"({MINI_BATCH_SIZE} to 10000)")
    args = parse_args(parser, argv)
    for option, value, most in (("--conv-training-size", args.conv_training_size, 50000),
                                ("--conv-validation-size", args.conv_validation_size, 10000)):
        if value is not None and not MINI_BATCH_SIZE <= value <= most:
            parser.error(f"{option} must lie between {MINI_BATCH_SIZE} (one mini-batch) "
                         f"and {most}, got {value}")
    with reported_errors("exercises.py"):
        table = run_chapter(TITLE, EXPERIMENTS, args)
        plot_comparisons(args.out)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
