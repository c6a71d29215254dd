"""Benchmark: network2's matrix-form training and evaluation vs a per-example loop.

Not a test (speed is measured and printed, never asserted).  Run from any
folder::

    OMP_NUM_THREADS=1 python tests/benchmark_network2.py

It times one epoch of ``Network([784, 30, 10]).SGD`` on the 50,000 MNIST
training images (mini-batch 10, eta 0.5, lmbda 5.0, cross-entropy) with
``monitor_evaluation_accuracy`` on the 10,000 validation images, and the same
epoch done the way the book's code does it: every example backpropagated on
its own, gradients added up example by example, then accuracy counted one
image at a time.  That per-example loop is written out below (it borrows
only the network's arrays and cost class), so the comparison does not rest
on network2's own code paths.  It also times ``accuracy`` and
``total_cost`` on the validation images against per-example loops.

Both sides run in the same process on the same data; the ratio is measured
in this one run, alternating between them for a few rounds and keeping each
one's best time (the machine may be shared).  The per-example epoch may be
timed on a fraction of the training data and scaled up (``--fraction``); the
output says when.
"""

import argparse
import contextlib
import io
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import mnist_loader  # noqa: E402
import network2  # noqa: E402
from blas_kernels import report as blas_report  # noqa: E402  (tests/ is the script's folder)


#### The per-example reference: the book's algorithm, one example at a time
# Structured like the book's network2 (gradients started from zero arrays in
# every backprop, sigmoid' computed from z, costs through the cost class,
# accuracy from a list of (guess, label) pairs), so that its time is the time
# of the book's loop on this machine.
def plain_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def plain_sigmoid_prime(z):
    return plain_sigmoid(z) * (1 - plain_sigmoid(z))


def per_example_backprop(net, x, y):
    """Gradient of one example's cost, as column vectors."""
    nabla_b = [np.zeros(b.shape) for b in net.biases]
    nabla_w = [np.zeros(w.shape) for w in net.weights]
    activation = x
    activations = [x]
    zs = []
    for b, w in zip(net.biases, net.weights):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = plain_sigmoid(z)
        activations.append(activation)
    delta = net.cost.delta(zs[-1], activations[-1], y)
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    for layer in range(2, net.num_layers):
        delta = (np.dot(net.weights[-layer + 1].transpose(), delta)
                 * plain_sigmoid_prime(zs[-layer]))
        nabla_b[-layer] = delta
        nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
    return nabla_b, nabla_w


def per_example_update(net, mini_batch, eta, lmbda, n):
    """One L2-regularized step, adding up per-example gradients."""
    sum_b = [np.zeros(b.shape) for b in net.biases]
    sum_w = [np.zeros(w.shape) for w in net.weights]
    for x, y in mini_batch:
        delta_b, delta_w = per_example_backprop(net, x, y)
        sum_b = [s + d for s, d in zip(sum_b, delta_b)]
        sum_w = [s + d for s, d in zip(sum_w, delta_w)]
    m = len(mini_batch)
    net.weights = [(1 - eta * (lmbda / n)) * w - (eta / m) * s
                   for w, s in zip(net.weights, sum_w)]
    net.biases = [b - (eta / m) * s for b, s in zip(net.biases, sum_b)]


def per_example_feedforward(net, a):
    for b, w in zip(net.biases, net.weights):
        a = plain_sigmoid(np.dot(w, a) + b)
    return a


def per_example_accuracy(net, data):
    results = [(np.argmax(per_example_feedforward(net, x)), y) for x, y in data]
    return sum(int(guess == y) for guess, y in results)


def per_example_total_cost(net, data, lmbda):
    """Average cost for integer labels, plus the L2 term."""
    cost = 0.0
    for x, y in data:
        a = per_example_feedforward(net, x)
        cost += net.cost.fn(a, network2.vectorized_result(y)) / len(data)
    cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in net.weights)
    return cost


def per_example_epoch(net, training_data, evaluation_data, mini_batch_size, eta,
                      lmbda, fraction):
    """Seconds for the training part (on ``fraction`` of the data) and for
    the evaluation part of one per-example epoch, and the accuracy."""
    data = list(training_data)
    n = len(data)
    random.shuffle(data)
    used = int(round(fraction * n / mini_batch_size)) * mini_batch_size
    start = time.perf_counter()
    for k in range(0, used, mini_batch_size):
        per_example_update(net, data[k:k + mini_batch_size], eta, lmbda, n)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = per_example_accuracy(net, evaluation_data)
    eval_seconds = time.perf_counter() - start
    return train_seconds, used, eval_seconds, accuracy


def best_time(function, repeats):
    """Smallest wall time of ``repeats`` calls, and the last result."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def matrix_round(sizes, training_data, validation_data, mini_batch_size, eta, lmbda,
                 epochs, seed):
    """One timing of network2.SGD: seconds for a call of ``epochs`` epochs,
    seconds for a 0-epoch call (which only arranges the data), the accuracies
    and the trained network."""
    random.seed(seed)
    np.random.seed(seed)
    net = network2.Network(sizes)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        _, accuracies, _, _ = net.SGD(training_data, epochs, mini_batch_size, eta,
                                      lmbda=lmbda, evaluation_data=validation_data,
                                      monitor_evaluation_accuracy=True)
    call_seconds = time.perf_counter() - start
    start = time.perf_counter()
    net.SGD(training_data, 0, mini_batch_size, eta, lmbda=lmbda,
            evaluation_data=validation_data, monitor_evaluation_accuracy=True)
    setup_seconds = time.perf_counter() - start
    return call_seconds, setup_seconds, accuracies, net


def floor_round(sizes, mini_batch_size, batches):
    """Seconds for the first layer's two matrix products of ``batches``
    mini-batches, on their own: the part no Python tuning removes."""
    w = np.random.randn(sizes[1], sizes[0])
    x = np.random.rand(mini_batch_size, sizes[0])
    delta = np.random.randn(sizes[1], mini_batch_size)
    gradient = np.empty_like(w)
    start = time.perf_counter()
    for _ in range(batches):
        w @ x.T
        np.matmul(delta, x, out=gradient)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs of each matrix-form SGD call (default 2)")
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="share of the training data the per-example epoch "
                             "is timed on, then scaled to a full epoch (default 1.0)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating timings of each form; the best counts "
                             "(default 3)")
    parser.add_argument("--seed", type=int, default=12345678)
    args = parser.parse_args(argv)

    sizes, mini_batch_size, eta, lmbda = [784, 30, 10], 10, 0.5, 5.0
    training_data, validation_data, _ = mnist_loader.load_data_wrapper()
    n = len(training_data)
    batches = -(-n // mini_batch_size)
    print(f"network2 benchmark: Network({sizes}), cross-entropy, mini-batch "
          f"{mini_batch_size}, eta {eta}, lmbda {lmbda}; {n} training images, "
          f"{len(validation_data)} validation images")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; best of {args.rounds} "
          f"alternating rounds")
    print(blas_report())

    matrix, floor, per_example = [], [], []
    for _ in range(args.rounds):
        call_seconds, setup_seconds, accuracies, net = matrix_round(
            sizes, training_data, validation_data, mini_batch_size, eta, lmbda,
            args.epochs, args.seed)
        matrix.append((call_seconds, setup_seconds))
        floor.append(floor_round(sizes, mini_batch_size, batches))
        # Per-example form, from the same starting network and order.
        random.seed(args.seed)
        np.random.seed(args.seed)
        reference = network2.Network(sizes)
        train_seconds, used, eval_seconds, accuracy = per_example_epoch(
            reference, training_data, validation_data, mini_batch_size, eta, lmbda,
            args.fraction)
        per_example.append((train_seconds * n / used, eval_seconds))

    call_seconds = min(c for c, _ in matrix)
    setup_seconds = min(s for _, s in matrix)
    amortized = call_seconds / args.epochs
    matrix_seconds = (call_seconds - setup_seconds) / args.epochs
    print(f"\nmatrix form (network2.SGD): a call of {args.epochs} epochs took "
          f"{call_seconds:.3f} s ({amortized:.3f} s per epoch); arranging the data "
          f"(a 0-epoch call) took {setup_seconds:.3f} s, so an epoch itself takes "
          f"{matrix_seconds:.3f} s (best call less best arrangement).  Rounds: "
          + ", ".join(f"{c:.3f}/{s:.3f}" for c, s in matrix) + " s (call/arranging)")
    print(f"  of which at least {min(floor):.3f} s is the first layer's two matrix "
          f"products ({sizes[1]}x{sizes[0]} by {sizes[0]}x{mini_batch_size} and "
          f"{sizes[1]}x{mini_batch_size} by {mini_batch_size}x{sizes[0]}) for "
          f"{batches} mini-batches, timed alone")
    scaled_train, eval_seconds = min(per_example, key=sum)
    per_example_seconds = scaled_train + eval_seconds
    timed_on = ("all of the training data" if used == n else
                f"{used} of {n} training images, scaled by {n / used:.2f}")
    print(f"per-example loop: training {scaled_train:.3f} s (timed on {timed_on}) "
          f"+ evaluation {eval_seconds:.3f} s = {per_example_seconds:.3f} s per epoch.  "
          f"Rounds: " + ", ".join(f"{sum(r):.3f}" for r in per_example) + " s")
    print(f"  validation accuracy after one epoch: {accuracy} per-example, "
          f"{accuracies[0]} matrix form (same start, same order of examples)")
    print(f"speed-up of an epoch with evaluation monitoring: "
          f"{per_example_seconds / matrix_seconds:.1f}x "
          f"({per_example_seconds / amortized:.1f}x counting the data arrangement "
          f"spread over {args.epochs} epochs); goal: at least 10x")

    # accuracy() and total_cost() on the 10,000 validation images.
    print(f"\nevaluation on {len(validation_data)} validation images "
          f"(best of {args.rounds}):")
    for name, vectorized, looped in (
            ("accuracy(validation_data)",
             lambda: net.accuracy(validation_data),
             lambda: per_example_accuracy(net, validation_data)),
            (f"total_cost(validation_data, {lmbda}, convert=True)",
             lambda: net.total_cost(validation_data, lmbda, convert=True),
             lambda: per_example_total_cost(net, validation_data, lmbda))):
        fast, fast_value = best_time(vectorized, args.rounds)
        slow, slow_value = best_time(looped, args.rounds)
        print(f"  {name}: vectorized {fast:.4f} s, per-example {slow:.4f} s, "
              f"{slow / fast:.1f}x; values {fast_value} vs {slow_value}")


if __name__ == "__main__":
    main()
