"""chapter5
~~~~~~~~

Reproduces chapter 5, "Why are deep neural networks hard to train?", with
network2.py (cross-entropy cost, default weight initialization):

- ``deeper_networks``: [784, 30, 10] up to [784, 30, 30, 30, 30, 10], mini-
  batch 10, eta 0.1, lmbda 5.0, 30 epochs, validation accuracy (book:
  96.48%, 96.90%, 96.57%, 96.53%): more hidden layers hardly help;
- ``gradients_at_init``: the norm of the gradient of the cost with respect
  to each hidden layer's biases, averaged over the first 1,000 training
  images, for freshly initialized networks with 2, 3 and 4 hidden layers
  (book: 0.07, 0.31; 0.012, 0.060, 0.283; 0.003, 0.017, 0.070, 0.285).
  The figures depend on the random start, so they are measured for
  ``--init-seeds`` seeds (default 10) and given as mean and range;
- ``training_speed``: the same norms during full-batch gradient descent
  on those 1,000 images (eta 0.1, lmbda 5.0, 500 epochs), plotted per
  hidden layer on a log scale as the book does, with the ratio of the last
  hidden layer's speed to the first's (book: about 100 for four).

Runs are seeded as in every chapter script (run i with seed S + i, S =
12345678 by default).  ``--epochs E`` scales every run by E/30 (the 500-epoch runs too).
By default the accuracy runs and the training-speed runs are repeated 3
times (``--runs``).  On one core of the 2-core development machine, with
nothing else running, an epoch on the 50,000 images took 0.48 s for
[784, 30, 10] and 0.59 s for [784, 30, 30, 30, 30, 10], and a full-batch
step on 1,000 images 0.006 s: an estimated 4 minutes for the chapter.  With
both cores busy with other jobs a 30-epoch run of [784, 30, 10] took about
a minute, which makes some 15 minutes for the chapter (an estimate).
``--quick`` (one run of each, 3 accuracy epochs; the gradient measurements
keep their full length) took 1 min 56 s with both cores busy.

The figures, each with a caption in table.md's notes: gradients-at-init.png
(each hidden layer's gradient at the start, for 2, 3 and 4 hidden layers,
beside the book's figures), training-speed-N-hidden.png (the same during
training: the book's speed-of-learning plots) and a PNG of validation
accuracy per epoch for each network.

The results go to ``--out`` (default ``results/chapter5``): results.json,
table.md (accuracies beside the book's, and in its notes the gradient
tables), gradients-at-init.json and training-speed.json (every measured
norm), and the PNGs.

    python src/chapter5.py            # everything, 4-15 min (estimate)
    python src/chapter5.py --quick    # about 2 minutes
"""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np

import network2
from plots import plot_series
from reproduction import (MAX_SEED, QUICK_EPOCHS, Experiment, epochs_for, make_parser,
                          parse_args, percent, positive, reported_errors, run_chapter,
                          script_description, seed_all, seeded_runs, seeds)
from safe_files import write_json

TITLE = "Chapter 5: deeper networks and vanishing gradients (network2.py)"
MINI_BATCH_SIZE = 10
ETA, LMBDA = 0.1, 5.0
FULL_BATCH = 1000          # the images the gradients are measured on
SPEED_EPOCHS = 500
INIT_SEEDS = 10

PUBLISHED_ACCURACY = {1: "96.48%", 2: "96.90%", 3: "96.57%", 4: "96.53%"}
PUBLISHED_GRADIENTS = {2: ("0.07", "0.31"), 3: ("0.012", "0.060", "0.283"),
                       4: ("0.003", "0.017", "0.070", "0.285")}
PUBLISHED_SPEED_RATIO = {4: "about 100"}


def sizes_for(hidden_layers: int) -> list[int]:
    """[784, 30, ..., 30, 10] with ``hidden_layers`` layers of 30."""
    return [784] + [30] * hidden_layers + [10]


#### The gradient of the cost with respect to the biases

def average_gradient(net: network2.Network, training_data) -> list[np.ndarray]:
    """dC/db for every layer, averaged over ``training_data``: the
    backpropagated gradients of the examples summed and divided by their
    number, as the chapter computes them (no regularization term: biases
    are not regularized)."""
    total = [np.zeros(b.shape) for b in net.biases]
    for x, y in training_data:
        nabla_b, _ = net.backprop(x, y)
        for t, nb in zip(total, nabla_b):
            t += nb
    return [t / len(training_data) for t in total]


def hidden_norms(nabla_b: Sequence[np.ndarray]) -> list[float]:
    """The length of each hidden layer's bias gradient: the chapter's
    "speed" at which that layer learns.  The output layer is left out."""
    return [float(np.linalg.norm(nb)) for nb in nabla_b[:-1]]


def full_batch_step(net: network2.Network, batch, eta: float, lmbda: float) -> list[float]:
    """One step of gradient descent on all of ``batch``; return the hidden
    layers' bias-gradient norms at the parameters before the step.

    The step is network2's ``update_mini_batch`` with the whole batch as the
    mini-batch (the book's full-batch training).  Biases are not regularized,
    so the step moves them by exactly -eta times the average gradient: the
    change of the biases divided by -eta is that gradient, with no second
    pass through the data.
    """
    before = [b.copy() for b in net.biases]
    net.update_mini_batch(batch, eta, lmbda, len(batch))
    return hidden_norms([(b0 - b1) / eta for b0, b1 in zip(before, net.biases)])


#### The experiments
# Each takes the data (reproduction.Data) and the parsed command line, and
# returns its Experiments and the notes for table.md (tables, captions).

def deeper_networks(data, args):
    """Validation accuracy of networks with 1 to 4 hidden layers of 30."""
    epochs = epochs_for(args, 30)
    experiments = []
    for hidden in (1, 2, 3, 4):
        sizes = sizes_for(hidden)
        exp = Experiment(str(sizes), f"{PUBLISHED_ACCURACY[hidden]} val",
                         f"default init, eta {ETA}, lmbda {LMBDA}, {epochs} epochs, "
                         f"validation", reference=float(PUBLISHED_ACCURACY[hidden][:-1]),
                         ylabel="accuracy on the 10,000 validation images (%)")
        for seed in seeded_runs(exp.name, args.seeds):
            net = network2.Network(sizes, cost=network2.CrossEntropyCost)
            _, accuracy, _, _ = net.SGD(data.training, epochs, MINI_BATCH_SIZE, ETA,
                                        lmbda=LMBDA, evaluation_data=data.validation,
                                        monitor_evaluation_accuracy=True)
            exp.add_run(seed, percent(accuracy, len(data.validation)))
        experiments.append(exp)
    return experiments, []


def init_gradient_norms(training_data, hidden_layers: int, seeds: Sequence[int]) -> np.ndarray:
    """Hidden-layer bias-gradient norms of fresh networks: one row per seed."""
    norms = []
    for _ in seeded_runs(f"gradients at initialization, {hidden_layers} hidden layers",
                         list(seeds)):
        net = network2.Network(sizes_for(hidden_layers), cost=network2.CrossEntropyCost)
        norms.append(hidden_norms(average_gradient(net, training_data)))
    return np.array(norms)


def gradients_at_init(data, args):
    """The chapter's gradient norms at initialization, over --init-seeds seeds."""
    init_seeds = seeds(args.seed, args.init_seeds)
    batch = data.training[:FULL_BATCH]
    lines = ["Gradient of the cost w.r.t. each hidden layer's biases at initialization "
             f"(norm of the average over the first {FULL_BATCH:,} training images; "
             f"{len(init_seeds)} seeds, {init_seeds[0]}-{init_seeds[-1]}):", "",
             "| hidden layers | layer | book | measured mean | std | min-max | "
             f"seed {init_seeds[0]} |", "|---|---|---|---|---|---|---|"]
    record, means = {}, {}
    for hidden in (2, 3, 4):
        norms = init_gradient_norms(batch, hidden, init_seeds)
        record[hidden] = {"seeds": init_seeds, "norms": norms.tolist()}
        means[hidden] = norms.mean(axis=0)
        for layer in range(hidden):
            column = norms[:, layer]
            lines.append(f"| {hidden} | {layer + 1} | {PUBLISHED_GRADIENTS[hidden][layer]} | "
                         f"{column.mean():.4f} | {column.std():.4f} | "
                         f"{column.min():.4f}-{column.max():.4f} | {column[0]:.4f} |")
    print("\n".join(lines), flush=True)
    write_json(args.out / "gradients-at-init.json", record, indent=1)
    layers = {hidden: list(range(1, hidden + 1)) for hidden in means}
    plot_series(
        args.out / "gradients-at-init.png",
        {f"{hidden} hidden layers (mean of {len(init_seeds)} seeds)":
         (layers[hidden], means[hidden]) for hidden in means},
        title=f"Gradient of the cost w.r.t. each hidden layer's biases at "
              f"initialization, {sizes_for(2)} to {sizes_for(4)}",
        xlabel="hidden layer (1 = nearest the input)",
        ylabel="norm of dC/db (log scale)", logy=True,
        references={f"book, {hidden} hidden layers":
                    (layers[hidden], [float(g) for g in PUBLISHED_GRADIENTS[hidden]])
                    for hidden in means})
    caption = ("gradients-at-init.png: how fast each hidden layer starts to learn (the "
               "length of the gradient of the cost with respect to its biases) in fresh "
               "networks of 2, 3 and 4 hidden layers: the layers nearest the input get "
               "the smallest gradients, each a quarter to a fifth of the next one's, which is "
               "the vanishing gradient problem (crosses: the book's figures).")
    return [], ["\n".join(lines), caption]


def speed_of_learning(training_data, hidden_layers: int, seed: int,
                      epochs: int) -> np.ndarray:
    """Full-batch gradient descent (eta 0.1, lmbda 5.0) on ``training_data``:
    the hidden-layer bias-gradient norms before each epoch's step, one row
    per epoch.  It seeds the generators itself, so that it can be called on
    its own (the notebook does) and still start from ``seed``'s network."""
    seed_all(seed)
    net = network2.Network(sizes_for(hidden_layers), cost=network2.CrossEntropyCost)
    return np.array([full_batch_step(net, training_data, ETA, LMBDA)
                     for _ in range(epochs)])


def training_speed(data, args):
    """How fast each hidden layer learns during training, for 2, 3 and 4
    hidden layers; the book's log-scale plot for the first run of each.
    --epochs E scales the book's 500 epochs by E/30; --quick leaves them."""
    batch = data.training[:FULL_BATCH]
    epochs = epochs_for(args, SPEED_EPOCHS) if args.epochs else SPEED_EPOCHS
    run_seeds = args.seeds
    record = {}
    lines = [f"Speed of learning (norm of each hidden layer's bias gradient) during "
             f"full-batch training on {FULL_BATCH:,} images, eta {ETA}, lmbda {LMBDA}, "
             f"{epochs} epochs; ratio of the last hidden layer's speed to the first's, "
             f"mean (min-max) over {len(run_seeds)} run(s):", "",
             "| hidden layers | book | ratio at epoch 0 | median ratio over epochs | "
             "ratio at the last epoch |", "|---|---|---|---|---|"]
    for hidden in (2, 3, 4):
        runs = [speed_of_learning(batch, hidden, seed, epochs)
                for seed in seeded_runs(f"training speed, {hidden} hidden layers", run_seeds)]
        record[hidden] = {"seeds": run_seeds, "norms": [r.tolist() for r in runs]}
        ratios = [r[:, -1] / r[:, 0] for r in runs]
        lines.append(f"| {hidden} | {PUBLISHED_SPEED_RATIO.get(hidden, 'not published')} | "
                     f"{spread([r[0] for r in ratios])} | "
                     f"{spread([np.median(r) for r in ratios])} | "
                     f"{spread([r[-1] for r in ratios])} |")
        plot_series(
            args.out / f"training-speed-{hidden}-hidden.png",
            {f"hidden layer {layer + 1}": runs[0][:, layer] for layer in range(hidden)},
            title=f"Speed of learning during full-batch training: {sizes_for(hidden)}, "
                  f"seed {run_seeds[0]}",
            xlabel="epoch", ylabel="norm of dC/db (log scale)", logy=True)
    print("\n".join(lines), flush=True)
    write_json(args.out / "training-speed.json", record, indent=1)
    caption = ("training-speed-N-hidden.png: the length of each hidden layer's bias "
               f"gradient before each of {epochs} steps of full-batch gradient descent, "
               "for N = 2, 3 and 4 hidden layers (log scale): the early layers keep "
               "learning far more slowly than the later ones all through training.")
    return [], ["\n".join(lines), caption]


def spread(values: Sequence[float]) -> str:
    """'mean (min-max)' of a few plain numbers."""
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ({min(values):.1f}-{max(values):.1f})"


EXPERIMENTS = {
    "deeper_networks": deeper_networks,
    "gradients_at_init": gradients_at_init,
    "training_speed": training_speed,
}


def main(argv=None) -> str:
    parser = make_parser(
        script_description(__doc__), name="chapter5", experiments=EXPERIMENTS,
        quick=f"about 2 minutes on a 2-core machine: 1 run, {QUICK_EPOCHS} epochs for the "
              f"accuracies (unless --runs or --epochs say otherwise)")
    parser.add_argument("--init-seeds", type=positive, default=INIT_SEEDS, metavar="N",
                        help=f"seeds for the gradients at initialization "
                             f"(default {INIT_SEEDS})")
    args = parse_args(parser, argv)
    if args.seed + args.init_seeds - 1 > MAX_SEED:
        parser.error(f"--seed {args.seed} with {args.init_seeds} --init-seeds goes past "
                     f"the largest seed, {MAX_SEED}")
    with reported_errors("chapter5.py"):
        return run_chapter(TITLE, EXPERIMENTS, args)


if __name__ == "__main__":
    main(sys.argv[1:])
