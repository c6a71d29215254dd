"""Benchmark of ``network.py`` (chapters 1-2) and ``mnist_loader``.

A script, not a test: timings depend on the machine and on what else is
running, so the speed goals are read off its output, never asserted.
Run it from any folder::

    python tests/benchmark.py            # whole epochs (under a minute)
    python tests/benchmark.py --quick    # a tenth of the per-example epoch, scaled

On a machine shared with other jobs, ``OMP_NUM_THREADS=1`` gives steadier
figures: a second BLAS thread that has to wait for a busy core slows the
matrix products down instead of speeding them up.  The first lines say
which BLAS kernels numpy uses, and whether an ``OPENBLAS_CORETYPE``
setting holds it to slower ones than the CPU could run (see
``tests/blas_kernels.py``).

It prints, in one run:

* ``mnist_loader.load_data_wrapper()`` seconds (goal: under 3 s once
  ``data/mnist.pkl.gz`` exists; the file is built first if it is missing);
* for [784, 30, 10] and [784, 100, 10] at mini-batch 10 on the 50,000
  training images: seconds per epoch of ``network.SGD``, seconds per epoch
  of the book's algorithm run literally (``backprop`` for each example,
  the gradients summed, one update per mini-batch), and their ratio
  (goal: at least 10x), and a lower bound for any matrix-form epoch (the
  first layer's matrix products and weight update alone), which caps that
  ratio on the machine at hand;
* ``evaluate(test_data)`` seconds, against counting one example at a time;
* peak memory of the process (``ru_maxrss``).

The other network modules have their own benchmark scripts
(``tests/benchmark_network2.py``, ``tests/benchmark_network3.py``); this
file only covers ``network.py`` and the loader.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402

import blas_kernels  # noqa: E402
import mnist_loader  # noqa: E402
import network  # noqa: E402


#### Shared helpers: timing and memory

class EpochClock:
    """A stand-in for stdout that notes the time at which each line of
    ``SGD``'s output ("Epoch j complete") is written, so one call yields
    the duration of every epoch."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stamps: list[float] = []
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.stamps.append(time.perf_counter())
                self.lines.append(line)
        return len(text)

    def flush(self) -> None:
        pass

    def epoch_seconds(self) -> list[float]:
        """Seconds of each epoch; the first includes the call's set-up."""
        edges = [self.start] + self.stamps
        return [b - a for a, b in zip(edges, edges[1:])]


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def heading(text: str) -> None:
    print(f"\n== {text} ==")


#### mnist_loader

def bench_loader() -> tuple[list, list, list]:
    """Time ``load_data_wrapper()``, building mnist.pkl.gz first if needed."""
    heading("mnist_loader")
    pickle_path = mnist_loader.data_dir() / mnist_loader.PICKLE_NAME
    if pickle_path.exists():
        note = f"{pickle_path} already existed"
    else:
        start = time.perf_counter()
        mnist_loader.load_data()
        note = (f"{pickle_path} was missing: building it took "
                f"{time.perf_counter() - start:.2f} s, not counted")
    start = time.perf_counter()
    data = mnist_loader.load_data_wrapper()
    seconds = time.perf_counter() - start
    print(f"load_data_wrapper(): {seconds:.2f} s (goal < 3 s; {note})")
    return data


#### network.py (chapters 1-2)

def per_example_epoch(net: network.Network, data: list, mini_batch_size: int,
                      eta: float, n_batches: int) -> None:
    """One epoch of the book's algorithm run literally, for comparison.

    Shuffles the list ``data`` in place (as the book's SGD shuffles its
    list once per epoch), then for each of the first ``n_batches``
    mini-batches calls ``backprop`` on every example, adds up the
    gradients and moves the weights and biases by -eta/m times the sums.
    tests/test_network.py checks that this gives the same weights as
    ``network.SGD`` with the same seeds.
    """
    random.shuffle(data)
    for k in range(0, n_batches * mini_batch_size, mini_batch_size):
        batch = data[k:k + mini_batch_size]
        sum_b = [np.zeros(b.shape) for b in net.biases]
        sum_w = [np.zeros(w.shape) for w in net.weights]
        for x, y in batch:
            grad_b, grad_w = net.backprop(x, y)
            sum_b = [s + g for s, g in zip(sum_b, grad_b)]
            sum_w = [s + g for s, g in zip(sum_w, grad_w)]
        scale = eta / len(batch)
        net.weights = [w - scale * s for w, s in zip(net.weights, sum_w)]
        net.biases = [b - scale * s for b, s in zip(net.biases, sum_b)]


def first_layer_floor(sizes: list[int], n_batches: int,
                      mini_batch_size: int) -> float:
    """Seconds for the unavoidable core of an epoch in matrix form: per
    mini-batch, the first layer's forward product, its weight-gradient
    product and the in-place weight update (the widest arrays, so the
    bulk of the arithmetic), with nothing else around them."""
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((sizes[1], sizes[0]))
    inputs = rng.random((mini_batch_size, sizes[0]))
    errors = rng.standard_normal((sizes[1], mini_batch_size)) * 1e-9
    scratch = np.empty_like(weights)
    start = time.perf_counter()
    for _ in range(n_batches):
        np.dot(weights, inputs.T)
        np.dot(errors, inputs, out=scratch)
        weights -= scratch
    return time.perf_counter() - start


def bench_network(sizes: list[int], training_data: list, test_data: list,
                  epochs: int, fraction: float, mini_batch_size: int = 10,
                  eta: float = 3.0) -> None:
    heading(f"network.py: {sizes}, mini-batch {mini_batch_size}, eta {eta}, "
            f"{len(training_data)} training images")
    np.random.seed(12345678)
    random.seed(12345678)

    # network.SGD: one call of several epochs, each epoch timed by its line.
    net = network.Network(sizes)
    clock = EpochClock()
    with contextlib.redirect_stdout(clock):
        net.SGD(training_data, epochs, mini_batch_size, eta)
    per_epoch = clock.epoch_seconds()
    steady = per_epoch[1:] or per_epoch
    fast = sum(steady) / len(steady)
    which = (f"mean of epochs 1-{epochs - 1} of one {epochs}-epoch call"
             if epochs > 1 else "a 1-epoch call, set-up included")
    print(f"network.SGD:        {fast:7.3f} s per epoch ({which}; "
          f"epoch 0, which includes reading the data into arrays: "
          f"{per_epoch[0]:.3f} s)")

    # The per-example loop on a fresh network of the same sizes.
    n_batches_all = -(-len(training_data) // mini_batch_size)
    n_batches = max(1, round(n_batches_all * fraction))
    slow_net = network.Network(sizes)
    data = list(training_data)
    start = time.perf_counter()
    per_example_epoch(slow_net, data, mini_batch_size, eta, n_batches)
    slow = (time.perf_counter() - start) * n_batches_all / n_batches
    how = ("a whole epoch" if n_batches == n_batches_all else
           f"{n_batches} of {n_batches_all} mini-batches timed, scaled up")
    print(f"per-example loop:   {slow:7.3f} s per epoch ({how})")
    print(f"speed-up:           {slow / fast:7.1f}x (goal >= 10x); "
          f"counting epoch 0's set-up: {slow / per_epoch[0]:.1f}x")
    floor = first_layer_floor(sizes, n_batches_all, mini_batch_size)
    print(f"lower bound:        {floor:7.3f} s per epoch: the first layer's two "
          f"matrix products and in-place update alone, which every matrix-form "
          f"epoch must do (so no speed-up beyond {slow / floor:.1f}x here)")

    # evaluate: all test inputs at once, against one feedforward per input.
    start = time.perf_counter()
    correct = net.evaluate(test_data)
    fast_eval = time.perf_counter() - start
    start = time.perf_counter()
    correct_one_by_one = sum(int(np.argmax(net.feedforward(x)) == y)
                             for x, y in test_data)
    slow_eval = time.perf_counter() - start
    agree = "same count" if correct == correct_one_by_one else "COUNTS DIFFER"
    print(f"evaluate(test_data): {fast_eval:.3f} s; one input at a time: "
          f"{slow_eval:.3f} s ({slow_eval / fast_eval:.1f}x; {agree}: {correct})")


#### network2.py, network3.py: see tests/benchmark_network2.py and
#### tests/benchmark_network3.py.

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="time a tenth of the per-example epoch and scale "
                             "it up; 2 epochs of SGD")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of network.SGD to time (default 3, or 2 "
                             "with --quick)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 3)
    fraction = 0.1 if args.quick else 1.0

    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', '(unset)')}")
    print(blas_kernels.report())
    training_data, _, test_data = bench_loader()
    for sizes in ([784, 30, 10], [784, 100, 10]):
        bench_network(sizes, training_data, test_data, epochs, fraction)

    heading("memory")
    print(f"peak memory (ru_maxrss): {peak_memory_mib():.0f} MiB")


if __name__ == "__main__":
    main()
