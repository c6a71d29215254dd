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

import contextlib
import sys
from dataclasses import dataclass

import numpy as np

import exercises1
import exercises3
import network
import network2
from reproduction import (Data, Experiment, Options, Outcome, add_options, make_parser,
                          parse_args, percent, positive, printed_lines, reported_errors,
                          run_chapter, script_description)

TITLE = "The book's exercises and problems: answers against baselines"
MINI_BATCH_SIZE = 10
NOT_IN_BOOK = "not published"


@dataclass
class ExerciseOptions(Options):
    """The common options and the data sizes of the chapter 6 rows."""
    conv_training_size: int | None = None
    conv_validation_size: int | None = None


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


#### Chapter 6
@contextlib.contextmanager
def _one_torch_thread():
    """Train on one CPU thread (the fastest for these small convolutions,
    as network3 finds), restoring the caller's setting afterwards."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _conv_data(opts: ExerciseOptions):
    """Training and validation pairs on the device, cut to the sizes asked."""
    import conv
    training, validation, _ = conv.standard_data()
    n, v = opts.conv_training_size, opts.conv_validation_size
    return ((training[0][:n], training[1][:n]), (validation[0][:v], validation[1][:v]))


def _conv_rows(opts: ExerciseOptions, configs, notes=None) -> list[Experiment]:
    """One Experiment per (name, settings, train(seed) -> net); each run
    records validation accuracy (%) per epoch and, where the net measured
    it, training accuracy."""
    rows = []
    with _one_torch_thread():
        for name, settings, train in configs:
            exp = Experiment(name, NOT_IN_BOOK, settings)

            def one_run(seed, train=train):
                net = train(seed)
                series = {"training": [100 * a for a in net.training_accuracies]}
                if notes is not None and net.stop_reason:
                    notes.append(f"{name}, seed {seed}: {len(net.validation_accuracies)} "
                                 f"epochs, stopped by {net.stop_reason}, eta "
                                 f"{net.eta_history[0]} -> {net.eta_history[-1]}")
                return [100 * a for a in net.validation_accuracies], series
            exp.repeat(opts.seeds(), one_run)
            rows.append(exp)
    return rows


def _conv_settings(training, validation, epochs: int, extra: str = "") -> str:
    import network3
    return (f"network3 ({network3.device.type}), {network3.size(training):,} training "
            f"images, {epochs} epochs, eta 0.1, mb 10{extra}, validation "
            f"({network3.size(validation):,} images)")


def conv_rows(data: Data, opts: ExerciseOptions) -> Outcome:
    """Chapter 6's answers: the basic conv net (sigmoid) as baseline, with
    its training-vs-validation plot; omit_FC; tanh; early stopping with a
    learning-rate schedule; on-the-fly augmentation; and the expanded data
    (expand_mnist's four one-pixel shifts of the same images, made in
    memory) for as many images seen."""
    import exercises6
    import expand_mnist
    import network3
    training, validation = _conv_data(opts)
    epochs = opts.epochs(60)
    mb = MINI_BATCH_SIZE

    def net_for(cls=exercises6.ScheduledNetwork, activation=network3.sigmoid,
                omit_FC=False, seed=0):
        return cls(exercises6.conv_layers(mb, activation, omit_FC), mb, seed=seed)

    def train(seed, cls=exercises6.ScheduledNetwork, activation=network3.sigmoid,
              omit_FC=False, data=training, n_epochs=epochs, **sgd):
        net = net_for(cls, activation, omit_FC, seed)
        net.SGD(data, n_epochs, mb, 0.1, validation, None, **sgd)
        return net

    expanded = tuple(map(torch_tensor, expand_mnist.expand(
        training[0].cpu().numpy(), training[1].cpu().numpy())))
    expanded_epochs = max(1, epochs // 5)
    figures, notes, first = [], [], {}

    def baseline_run(seed):
        net = train(seed, monitor_training_accuracy=True)
        if not first:
            first["net"] = net
            figures.append(exercises6.plot_training_vs_validation(
                net, opts.out / "ch6-training-vs-validation.png",
                f"basic conv net, seed {seed}: training against validation accuracy"))
        return net
    rows = _conv_rows(opts, [
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
    return Outcome(rows, figures=figures, notes=notes)


def torch_tensor(array):
    """A numpy array as a tensor on network3's device."""
    import torch
    import network3
    return torch.as_tensor(array).to(network3.device)


EXPERIMENTS = {"no_hidden_layer": no_hidden_layer, "baseline": baseline, "l1": l1,
               "momentum": momentum, "softmax": softmax, "tanh": tanh,
               "cross_entropy_network_py": cross_entropy_network_py,
               "early_stopping": early_stopping, "conv": conv_rows}


def plot_comparisons(out) -> list:
    """One PNG per chapter, ``<chapter>-comparison.png``, of every row's mean
    accuracy per epoch over its runs (up to its shortest run), read from
    ``results.json`` in ``out``, so each answer is seen beside its baseline."""
    import json
    from pathlib import Path

    from reproduction import plot_series
    out = Path(out)
    rows = json.loads((out / "results.json").read_text())["experiments"]
    figures = []
    for chapter in ("ch1", "ch3", "ch6"):
        curves = {}
        for row in rows:
            if row["name"].startswith(chapter + " ") and row["runs"]:
                length = min(len(run["accuracy"]) for run in row["runs"])
                curves[row["name"][len(chapter) + 1:]] = list(np.mean(
                    [run["accuracy"][:length] for run in row["runs"]], axis=0))
        if curves:
            figures.append(plot_series(
                out / f"{chapter}-comparison.png", curves,
                title=f"{chapter}: mean accuracy per epoch over the runs (see table.md "
                      f"for test or validation)", xlabel="epoch", ylabel="accuracy (%)"))
    return figures


def main(argv=None) -> str:
    parser = make_parser(script_description(__doc__), epochs=30, name="exercises")
    add_options(parser, list(EXPERIMENTS), "one run of each, a tenth of the epochs")
    parser.add_argument("--conv-training-size", type=positive, default=None, metavar="N",
                        help="train the chapter 6 rows on the first N training images "
                             f"({MINI_BATCH_SIZE} to 50000)")
    parser.add_argument("--conv-validation-size", type=positive, default=None, metavar="N",
                        help="score the chapter 6 rows on the first N validation images "
                             f"({MINI_BATCH_SIZE} to 10000)")
    args = parse_args(parser, argv)  # the chapter scripts' checks of --seed, --runs, --out
    for option, value, most in (("--conv-training-size", args.conv_training_size, 50000),
                                ("--conv-validation-size", args.conv_validation_size, 10000)):
        if value is not None and not MINI_BATCH_SIZE <= value <= most:
            parser.error(f"{option} must lie between {MINI_BATCH_SIZE} (one mini-batch) "
                         f"and {most}, got {value}")
    opts = ExerciseOptions.from_args(args, conv_training_size=args.conv_training_size,
                                     conv_validation_size=args.conv_validation_size)
    with reported_errors("exercises.py"):
        table = run_chapter(TITLE, EXPERIMENTS, args.only or list(EXPERIMENTS), opts)
        plot_comparisons(opts.out)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
