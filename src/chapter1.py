"""chapter1
~~~~~~~~

Reproduces the experiments of chapter 1 with network.py: a sigmoid
network trained by mini-batch stochastic gradient descent on the
quadratic cost, mini-batch size 10.

- [784, 30, 10] and [784, 100, 10], 30 epochs, eta = 3.0 (the book's best
  of three runs: 95.42% and 96.59%);
- the two failure cases: eta = 0.001, which learns far too slowly, and
  eta = 100.0, which is far too large;
- the average-darkness baseline (2,225 / 10,000) and, with ``--svm``, the
  SVM baseline (9,435 / 10,000; several minutes).

Each run prints the book's ``Epoch j: c / 10000`` lines.  The results go
to ``--out`` (default ``results/chapter1``): ``results.json`` with every
epoch of every run, a PNG of test accuracy per epoch for each experiment,
and ``table.md`` beside the published figures.

    python src/chapter1.py                      # 3 runs of everything
    python src/chapter1.py --runs 1 --epochs 5  # a quick look
"""

from __future__ import annotations

import re
import sys

import mnist_loader
import network
from reproduction import Experiment, make_parser, printed_lines, save_results, seeds

MINI_BATCH_SIZE = 10

# (sizes, eta, published figure on the 10,000 test images)
EXPERIMENTS = [
    ([784, 30, 10], 3.0, "95.42% (best run, epoch 28)"),
    ([784, 100, 10], 3.0, "96.59% (best run)"),
    ([784, 100, 10], 0.001, "11.39% at epoch 0 ... 21.42% at epoch 29"),
    ([784, 30, 10], 100.0, "10.09% at epochs 0-3 ... 9.82% at epoch 29"),
]

EPOCH_LINE = re.compile(r"^Epoch (\d+): (\d+) / (\d+)$")


def train(sizes, eta: float, epochs: int, training_data, test_data) -> list[float]:
    """Train one network as the book does; return its test accuracy (%) per epoch."""
    net = network.Network(sizes)
    with printed_lines() as lines:
        net.SGD(training_data, epochs, MINI_BATCH_SIZE, eta, test_data=test_data)
    return test_accuracies(lines)


def test_accuracies(lines: list[str]) -> list[float]:
    """Test accuracy (%) per epoch, read from SGD's ``Epoch j: c / n`` lines."""
    matches = [EPOCH_LINE.match(line) for line in lines]
    return [100.0 * int(m[2]) / int(m[3]) for m in matches if m]


def baselines(with_svm: bool) -> list[Experiment]:
    """The chapter's two non-network baselines, as experiments of one run."""
    import mnist_average_darkness
    training, _, test = mnist_loader.load_data()
    avgs = mnist_average_darkness.avg_darknesses(training)
    correct = int((mnist_average_darkness.classify(test[0], avgs) == test[1]).sum())
    darkness = Experiment("average darkness", "22.25% (2,225 / 10,000)",
                          "per-digit mean darkness of the 50k training images")
    darkness.add_run(None, [100.0 * correct / len(test[1])])
    found = [darkness]
    if with_svm:
        import mnist_svm
        svm = Experiment("SVM", "94.35% (9,435 / 10,000)", "RBF, C=1, gamma=1/784")
        svm.add_run(None, [100.0 * mnist_svm.svm_baseline(training, test) / len(test[1])])
        found.append(svm)
    return found


def main(argv=None) -> str:
    parser = make_parser(__doc__.split("\n\n")[1], epochs=30, name="chapter1")
    parser.add_argument("--svm", action="store_true",
                        help="also run the SVM baseline (several minutes)")
    args = parser.parse_args(argv)
    training_data, _, test_data = mnist_loader.load_data_wrapper()
    experiments = []
    for sizes, eta, published in EXPERIMENTS:
        exp = Experiment(f"{sizes}, eta {eta}", published,
                         f"{args.epochs} epochs, mini-batch {MINI_BATCH_SIZE}, quadratic cost")
        exp.repeat(seeds(args.seed, args.runs),
                   lambda seed: train(sizes, eta, args.epochs, training_data, test_data))
        experiments.append(exp)
        save_results(args.out, "Chapter 1: network.py on MNIST (test accuracy)", experiments)
    experiments += baselines(args.svm)
    table = save_results(args.out, "Chapter 1: network.py on MNIST (test accuracy)",
                         experiments)
    print(table)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
