"""exercises
~~~~~~~~~

Runs the answers of exercises1, exercises3 and exercises6 against their
baselines on MNIST, three runs each (seeds S, S + 1, S + 2), and writes
``results.json`` (every epoch of every run), a PNG of accuracy per epoch
for each row and ``table.md`` (mean and range over the runs) to ``--out``
(default ``results/exercises``).

The chapter 1 rows (the [784, 10] ones on network2 too, to set beside
network.py's) and chapter 3's network.py row report test accuracy, as
network.py's SGD does; the other chapter 3 rows and the chapter 6 rows
report validation accuracy (the answers are compared, not tuned on test
data).  ``--epochs E`` scales every run by E/30 (the book's 30-epoch runs
take E epochs, chapter 6's 60-epoch ones 2E); ``--conv-training-size N``
and ``--conv-validation-size N`` cut the chapter 6 data, for machines
without a GPU.  The chapter 6 rows on ReLU starts and gradients
(``relu_start``) and on eta as a function of the epoch (``eta_function``)
run reduced unless told otherwise: 10 epochs (scaled by E/30 likewise) on
the first 10,000 training images.  Every row's settings say what ran.
``<chapter>-comparison.png`` draws each chapter's rows' mean accuracy per
epoch together; the chapter 6 rows (``conv``) also draw the baseline's
training against validation accuracy (``ch6-training-vs-validation.png``),
and ``relu_start`` each run's per-layer gradient norms over the epochs
(``ch6-gradient-norms-network3-seed-S.png``, ``ch6-gradient-norms-he-seed-S.png``).

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
    """[784, 10] against [784, 30, 10]: network.py (its N(0, 1) start and
    quadratic cost), eta 3.0, test accuracy.  ``no_hidden_layer_start``
    shows what the [784, 10] net's shortfall comes from."""
    epochs = epochs_for(args, 30)
    rows = []
    for sizes, published in ((exercises1.NO_HIDDEN_SIZES, NOT_IN_BOOK),
                             (exercises1.BASELINE_SIZES, "95.42% (best run)")):
        exp = Experiment(f"ch1 {sizes}", published,
                         f"network.py (N(0, 1) start, quadratic cost), eta 3.0, "
                         f"{epochs} epochs, test")
        for seed in seeded_runs(exp.name, args.seeds):
            net = network.Network(sizes, seed=seed)
            with printed_lines() as lines:
                net.SGD(data.training, epochs, MINI_BATCH_SIZE, 3.0, test_data=data.test)
            exp.add_run(seed, epoch_accuracies(lines))
        rows.append(exp)
    return rows, []


def no_hidden_layer_start(data, args):
    """The same [784, 10] net as network2's (exercises1's
    ``no_hidden_layer_network2``), 5 epochs, test accuracy: the N(0, 1)
    start or the N(0, 1/784) one, with the quadratic cost (eta 3.0, as
    network.py) or cross-entropy (eta 0.5).  What costs network.py's
    [784, 10] its points; the notes count, for each run, the digits its net
    recognises in under half of their test images (``digit_recall``)."""
    epochs = epochs_for(args, 5)
    rows, notes = [], []
    for cost, scaled, eta in ((network2.QuadraticCost, False, 3.0),
                              (network2.QuadraticCost, True, 3.0),
                              (network2.CrossEntropyCost, False, 0.5),
                              (network2.CrossEntropyCost, True, 0.5)):
        start = "N(0, 1/784) start" if scaled else "N(0, 1) start"
        exp = Experiment(f"ch1 [784, 10], {start}, {cost.__name__}", NOT_IN_BOOK,
                         f"network2 [784, 10] (no_hidden_layer_network2), {start}, "
                         f"{cost.__name__}, eta {eta}, {epochs} epochs, test")
        stuck = []
        for seed in seeded_runs(exp.name, args.seeds):
            net = exercises1.no_hidden_layer_network2(cost, scaled, seed=seed)
            _, accuracy, _, _ = net.SGD(data.training, epochs, MINI_BATCH_SIZE, eta,
                                        evaluation_data=data.test,
                                        monitor_evaluation_accuracy=True)
            recall = exercises1.digit_recall(net, data.test)
            stuck.append(sum(r < 0.5 for r in recall))
            exp.add_run(seed, percent(accuracy, len(data.test)), digit_recall=recall)
        recalls = [r for run in exp.runs for r in run["digit_recall"]]
        notes.append(f"{exp.name}: digits recognised in under half of their test images, "
                     f"by run {stuck}; per-digit recall {100 * min(recalls):.1f}-"
                     f"{100 * max(recalls):.1f}% over the runs")
        rows.append(exp)
    return rows, notes


#### Chapter 3
def _train2(net, data, epochs: int, eta: float, lmbda: float = 0.0, training=None, **sgd):
    """Train a network2-style net on ``training`` (the 50,000 training
    images unless given), with any further SGD options; its validation
    accuracy (%) per epoch."""
    _, accuracy, _, _ = net.SGD(data.training if training is None else training, epochs,
                                MINI_BATCH_SIZE, eta, lmbda=lmbda,
                                evaluation_data=data.validation,
                                monitor_evaluation_accuracy=True, **sgd)
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


def small_data_regularization(data, args):
    """Where regularization matters: the first 1,000 training images, 400
    epochs, network2 [784, 30, 10] from chapter 1's N(0, 1) start (chapter
    3's overfitting and l2_small runs), eta 0.5: no regularization, L2 and
    L1 at one lmbda, 0.1 (the book's for L2 on 1,000 images).  Each run
    also records the fraction of its weights with |w| < 0.01 at the end
    (``exercises3.weights_near_zero``)."""
    epochs = epochs_for(args, 400)
    training = data.training[:1000]
    rows, notes = [], []
    for label, cls, lmbda in (("no regularization", network2.Network, 0.0),
                              ("L2, lmbda 0.1", network2.Network, 0.1),
                              ("L1, lmbda 0.1", exercises3.L1Network, 0.1)):
        exp = Experiment(f"ch3 1,000 images: {label}", NOT_IN_BOOK,
                         f"{cls.__name__} [784, 30, 10], {len(training):,} training images, "
                         f"large init, eta 0.5, {label}, {epochs} epochs, validation")
        near_zero = []
        for seed in seeded_runs(exp.name, args.seeds):
            net = cls([784, 30, 10], seed=seed)
            net.large_weight_initializer()
            accuracy = _train2(net, data, epochs, 0.5, lmbda, training=training)
            near_zero.append(exercises3.weights_near_zero(net))
            exp.add_run(seed, accuracy, weights_near_zero=near_zero[-1])
        notes.append(f"{exp.name}: weights with |w| < 0.01 at the end, by run "
                     f"{', '.join(f'{100 * f:.1f}%' for f in near_zero)}")
        rows.append(exp)
    return rows, notes


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


def schedule(data, args):
    """Chapter 3's learning-rate schedule, network2's ``eta_schedule_n=10``:
    [784, 30, 10], eta 0.5, lmbda 5.0, eta halved after each 10 epochs in
    a row without a new best validation accuracy, training ending when eta
    reaches eta/128, or after 300 epochs."""
    max_epochs = epochs_for(args, 300)
    exp = Experiment("ch3 learning-rate schedule (eta_schedule_n 10)", NOT_IN_BOOK,
                     f"network2 [784, 30, 10], eta 0.5 halved after 10 epochs without a "
                     f"new best, stopping at eta/128, lmbda 5.0, at most {max_epochs} "
                     f"epochs, validation")
    notes = []
    for seed in seeded_runs(exp.name, args.seeds):
        net = network2.Network([784, 30, 10], seed=seed)
        exp.add_run(seed, _train2(net, data, max_epochs, 0.5, 5.0, eta_schedule_n=10),
                    eta=net.eta_history)
        notes.append(f"{exp.name}, seed {seed}: {len(net.eta_history)} epochs, "
                     f"{net.stop_reason or 'not stopped'}, eta "
                     f"{net.eta_history[0]} -> {net.eta_history[-1]}")
    return [exp], notes


EARLY_STOPPING_PATIENCE = 10


def early_stopping(data, args):
    """The two early-stopping rules at one patience, 10 epochs, on the same
    runs (``exercises3.compare_early_stopping``): network2 [784, 30, 10],
    eta 0.5, lmbda 5.0, each seed trained once for 60 epochs.  Each rule's
    row is that run cut where the rule stops it, which is what network2's
    ``early_stopping_n=10`` (or ``average_stopping_SGD`` with window 10)
    would have run; the whole run is the row without a rule."""
    max_epochs = epochs_for(args, 60)
    patience = EARLY_STOPPING_PATIENCE
    settings = f"network2 [784, 30, 10], eta 0.5, lmbda 5.0, {max_epochs} epochs, validation"
    whole = Experiment("ch3 early stopping: the whole run, no rule", NOT_IN_BOOK, settings)
    by_rule = {}
    for seed in seeded_runs(whole.name, args.seeds):
        net = network2.Network([784, 30, 10], seed=seed)
        accuracy, stops = exercises3.compare_early_stopping(
            net, data.training, max_epochs, MINI_BATCH_SIZE, 0.5, 5.0, data.validation,
            patience=patience)
        whole.add_run(seed, percent(accuracy, len(data.validation)))
        for rule, stop in stops.items():
            exp = by_rule.setdefault(rule, Experiment(
                f"ch3 early stopping: {rule}", NOT_IN_BOOK,
                f"the run of 'the whole run, no rule' ({settings}) up to where the rule "
                f"stops it"))
            exp.add_run(seed, percent(accuracy[:stop["epochs"]], len(data.validation)))
    notes = []
    for exp in by_rule.values():
        used = [len(run["accuracy"]) for run in exp.runs]
        notes.append(f"{exp.name}: epochs used {used} (mean {np.mean(used):.1f}; "
                     f"{max_epochs} means it did not stop within the run)")
    return [whole, *by_rule.values()], notes


#### Chapter 6
REDUCED_TRAINING_SIZE = 10000   # relu_start's and eta_function's default
REDUCED_EPOCHS = 10             # and their runs' length, scaled by --epochs E as E/30


def _conv_data(args, training_size=None):
    """Training and validation pairs on network3's device, cut to the sizes
    --conv-training-size and --conv-validation-size ask for (without the
    first, to ``training_size`` images, all when None)."""
    training, validation, _ = network3.load_data_shared()
    n, v = args.conv_training_size or training_size, args.conv_validation_size
    return ((training[0][:n], training[1][:n]), (validation[0][:v], validation[1][:v]))


def _conv_rows(args, configs, notes=None) -> list[Experiment]:
    """One Experiment per (name, settings, train(seed) -> net); each run
    records validation accuracy (%) per epoch, the eta of each epoch and,
    where the net measured them, training accuracy and the hidden layers'
    gradient norms.  They train in network3's device settings (on the CPU
    one thread, the fastest for these small convolutions)."""
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
                norms = {"gradient_norms": net.gradient_norms} if net.gradient_norms else {}
                exp.add_run(seed, [100 * a for a in net.validation_accuracies],
                            training=[100 * a for a in net.training_accuracies],
                            eta=net.eta_history, **norms)
            rows.append(exp)
    return rows


def _conv_settings(training, validation, epochs: int, extra: str = "", eta="0.1") -> str:
    return (f"network3 ({network3.device.type}), {network3.size(training):,} training "
            f"images, {epochs} epochs, eta {eta}, mb 10{extra}, validation "
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


def relu_start(data, args):
    """The ReLU double conv net (conv.py's dbl_conv_relu: eta 0.03, lmbda
    0.1) from network3's start and from He et al.'s
    (``exercises6.he_initialize``), each seed's two nets holding the same
    draws; each run also records its hidden layers' gradient norms
    (``hidden_gradient_norms``) on the first 1,000 of its training images
    before training and after each epoch, and draws them
    (``plot_gradient_norms``).  By default 10 epochs on 10,000 images."""
    training, validation = _conv_data(args, REDUCED_TRAINING_SIZE)
    epochs = epochs_for(args, REDUCED_EPOCHS)
    mb = MINI_BATCH_SIZE
    gradient_data = (training[0][:1000], training[1][:1000])
    starts = {"network3": ("network3's", "network3's start (the book's: weights std "
                                         "sqrt(1/n_out), biases N(0, 1))"),
              "he": ("He", "He start (weights std sqrt(2/n_in), biases 0)")}

    def train(seed, start):
        layers = exercises6.dbl_conv_layers(mb)
        if start == "he":
            exercises6.he_initialize(layers)
        net = exercises6.ScheduledNetwork(layers, mb, seed=seed)
        net.SGD(training, epochs, mb, 0.03, validation, None, 0.1,
                gradient_data=gradient_data)
        exercises6.plot_gradient_norms(
            net, args.out / f"ch6-gradient-norms-{start}-seed-{seed}.png",
            f"ReLU double conv net, {starts[start][0]} start, seed {seed}: norm of dC/db "
            f"of each hidden layer on {network3.size(gradient_data):,} training images")
        return net
    rows = _conv_rows(args, [
        (f"ch6 dbl_conv_relu, {name} start",
         _conv_settings(training, validation, epochs,
                        f", lmbda 0.1, ReLU double conv net, {text}; gradient norms on "
                        f"the first {network3.size(gradient_data):,} training images",
                        eta="0.03"),
         lambda s, start=start: train(s, start))
        for start, (name, text) in starts.items()])
    return rows, [_gradient_note(exp) for exp in rows]


def _gradient_note(exp: Experiment) -> str:
    """The mean over ``exp``'s runs of each hidden layer's gradient norm
    after the first epoch, at its largest and after the last epoch."""
    # runs x (epochs + 1) x hidden layers
    norms = np.array([run["gradient_norms"] for run in exp.runs])

    def listed(values):
        return ", ".join(f"{v:.3g}" for v in values)
    return (f"{exp.name}: norm of dC/db of hidden layers 1, 2, 3 (mean over the runs): "
            f"after epoch 1 {listed(norms[:, 1].mean(0))}; largest over the epochs "
            f"{listed(norms[:, 1:].max(1).mean(0))}; after epoch {norms.shape[1] - 1} "
            f"{listed(norms[:, -1].mean(0))} (all 0 before training: the softmax layer "
            f"starts at zero)")


def eta_function(data, args):
    """Eta as a function of the epoch (``exercises6.EtaFunctionNetwork``):
    the basic conv net (sigmoid) with eta falling linearly from 0.1 in the
    first epoch to 0.01 in the last, against the same net at eta 0.1
    throughout (the same class, a number for eta, the same draws).  By
    default 10 epochs on 10,000 images."""
    training, validation = _conv_data(args, REDUCED_TRAINING_SIZE)
    epochs = epochs_for(args, REDUCED_EPOCHS)
    mb = MINI_BATCH_SIZE
    falling = np.linspace(0.1, 0.01, epochs)      # one epoch: just 0.1

    def linear(epoch):
        return float(falling[epoch])

    def train(seed, eta):
        net = exercises6.EtaFunctionNetwork(exercises6.conv_layers(mb), mb, seed=seed)
        net.SGD(training, epochs, mb, eta, validation, None)
        return net
    notes = []
    rows = _conv_rows(args, [
        ("ch6 basic conv, eta 0.1 throughout",
         _conv_settings(training, validation, epochs, ", EtaFunctionNetwork, eta a number"),
         lambda s: train(s, 0.1)),
        ("ch6 eta a function of the epoch: 0.1 -> 0.01",
         _conv_settings(training, validation, epochs,
                        ", EtaFunctionNetwork, eta(j) falling linearly to 0.01 in the last "
                        "epoch", eta="0.1 -> 0.01"),
         lambda s: train(s, linear))], notes=notes)
    notes.append(f"eta of each epoch in '{rows[1].name}' (first run): "
                 f"{', '.join(f'{eta:.3g}' for eta in rows[1].runs[0]['eta'])}")
    return rows, notes


def torch_tensor(array):
    """A numpy array as a tensor on network3's device."""
    return torch.as_tensor(array).to(network3.device)


EXPERIMENTS = {"no_hidden_layer": no_hidden_layer,
               "no_hidden_layer_start": no_hidden_layer_start, "baseline": baseline,
               "l1": l1, "small_data_regularization": small_data_regularization,
               "momentum": momentum, "softmax": softmax, "tanh": tanh,
               "cross_entropy_network_py": cross_entropy_network_py,
               "schedule": schedule, "early_stopping": early_stopping, "conv": conv_rows,
               "relu_start": relu_start, "eta_function": eta_function}


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
                             f"({MINI_BATCH_SIZE} to 50000; default all, and "
                             f"{REDUCED_TRAINING_SIZE} for relu_start and eta_function)")
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
