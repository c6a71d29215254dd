"""Benchmark of ``network.py`` and ``network2.py``: one epoch of ``SGD``
against the book's per-example loop and against an idiomatic PyTorch loop.

A script, not a test: timings depend on the machine and on what else runs,
so the goals are printed next to the figures, never asserted.  Run it from
any folder::

    python tests/benchmark.py                      # both modules (several minutes)
    python tests/benchmark.py --module network2    # one of them
    python tests/benchmark.py --quick              # slow loops on a tenth, scaled

It prints the BLAS kernels numpy uses (``tests/blas_kernels.py``) and
threadpoolctl's view of the BLAS threads, the ``load_data_wrapper()`` time,
then for each module (network: quadratic cost, eta 3.0; network2: its
default cross-entropy cost, eta 0.5, lmbda 5.0), at mini-batch 10, for
[784, 30, 10] and [784, 100, 10], one epoch on the 50,000 training images:

(a) ``net.SGD`` (no monitoring), best of three epochs;
(b) the book's per-example loop (``per_example_epoch`` of
    ``tests/reference_loops.py``) under one BLAS thread;
(c) a PyTorch CPU loop of the same net (``nn.Sequential`` of ``nn.Linear``
    and ``nn.Sigmoid`` in float64, the same cost, ``torch.optim.SGD``,
    ``torch.randperm`` shuffling, mini-batches by slicing; one thread),
    best of three epochs, alternated with (a)'s;

and the ratios (b)/(a) (goal >= 5x) and (c)/(a) (goal >= 2x), measured in
this run.  Then (d), on the first 10,000 training images for [784, 100, 10]:
the ``SGD`` epoch as a user runs it (no thread settings; ``SGD`` itself holds
numpy to one BLAS thread) with and without another process keeping a core
busy (goal: within 1.2x), and for contrast the same epoch stepped through
``update_mini_batch`` outside ``SGD``, with numpy's default BLAS threads.
Last, the peak memory of the process (``ru_maxrss``).
"""

import argparse
import contextlib
import io
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src"),
                str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import blas_kernels  # noqa: E402
import mnist_files  # noqa: E402
import mnist_loader  # noqa: E402
import network  # noqa: E402
import network2  # noqa: E402
from reference_loops import per_example_epoch  # noqa: E402

MINI_BATCH = 10
SIZES = ([784, 30, 10], [784, 100, 10])
ROUNDS = 3  # epochs of (a) and of (c), alternated
# Per module: the module, eta, lmbda (None: network.py has no lmbda).
SETTINGS = {"network": (network, 3.0, None), "network2": (network2, 0.5, 5.0)}


#### Our epochs

def sgd_epoch(net, data, eta, lmbda):
    """Seconds for one epoch of ``net.SGD``, its printing swallowed."""
    extra = {} if lmbda is None else {"lmbda": lmbda}
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD(data, 1, MINI_BATCH, eta, **extra)
    return time.perf_counter() - start


def update_loop_epoch(net, data, eta, lmbda):
    """Seconds for the same epoch stepped through ``update_mini_batch``
    outside SGD, so with whatever BLAS threads numpy has by default."""
    start = time.perf_counter()
    data = list(data)
    random.shuffle(data)
    for k in range(0, len(data), MINI_BATCH):
        batch = data[k:k + MINI_BATCH]
        if lmbda is None:
            net.update_mini_batch(batch, eta)
        else:
            net.update_mini_batch(batch, eta, lmbda, len(data))
    return time.perf_counter() - start


#### PyTorch

def torch_loop(start_net, x, y, eta, lmbda):
    """An idiomatic PyTorch loop of the same network, started from
    ``start_net``'s weights and biases: returns ``(epoch, correct)``, where
    ``epoch()`` trains one epoch and returns its seconds and ``correct()``
    counts the training images the model gets right."""
    import torch
    from torch import nn
    torch.manual_seed(0)
    layers = []
    for w, b in zip(start_net.weights, start_net.biases):
        linear = nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b.ravel()))
        layers += [linear, nn.Sigmoid()]
    model = nn.Sequential(*layers)
    n = len(x)
    if lmbda is None:    # network.py: quadratic cost
        def cost(a, t):
            return 0.5 * nn.functional.mse_loss(a, t, reduction="sum") / len(t)
        groups = model.parameters()
    else:                # network2: cross-entropy, L2 on the weights only
        def cost(a, t):
            return nn.functional.binary_cross_entropy(a, t, reduction="sum") / len(t)
        params = dict(model.named_parameters())
        groups = [{"params": [p for k, p in params.items() if k.endswith("weight")],
                   "weight_decay": lmbda / n},
                  {"params": [p for k, p in params.items() if k.endswith("bias")]}]
    optimizer = torch.optim.SGD(groups, lr=eta)

    def epoch():
        start = time.perf_counter()
        perm = torch.randperm(n)
        xs, ys = x[perm], y[perm]
        for k in range(0, n, MINI_BATCH):
            loss = cost(model(xs[k:k + MINI_BATCH]), ys[k:k + MINI_BATCH])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return time.perf_counter() - start

    def correct():
        with torch.no_grad():
            return int((model(x).argmax(1) == y.argmax(1)).sum())
    return epoch, correct


def training_accuracy(net, x, y):
    """How many of the training images (tensors x, y) ``net`` gets right."""
    x, labels = x.numpy(), y.numpy().argmax(axis=1)
    return sum(int(np.sum(net.feedforward(x[k:k + 10000].T).argmax(axis=0)
                          == labels[k:k + 10000])) for k in range(0, len(x), 10000))


#### A busy core

@contextlib.contextmanager
def busy_core(limit_s=120):
    """Another process spinning on one core for the duration of the block:
    killed on leaving it, and by its own alarm after ``limit_s`` at most."""
    code = f"import signal; signal.alarm({int(limit_s)})\nwhile True: pass"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.5)   # let it start spinning
        yield
    finally:
        proc.kill()
        proc.wait(timeout=10)


#### The report

def heading(text):
    print(f"\n== {text} ==", flush=True)


def bench_module(name, training_data, tensors, fraction):
    module, eta, lmbda = SETTINGS[name]
    n = len(training_data)
    n_batches_all = n // MINI_BATCH
    n_batches = max(1, round(n_batches_all * fraction))
    cost = ("quadratic cost" if lmbda is None
            else f"{module.Network([1, 1]).cost.__name__}, lmbda {lmbda}")
    for sizes in SIZES:
        heading(f"{name}.py: {sizes}, {cost}, eta {eta}, mini-batch "
                f"{MINI_BATCH}, one epoch of {n} training images")
        # (a) and (c) alternate, so that a slow spell of the machine falls
        # on both alike.
        net = module.Network(sizes, seed=1)
        torch_epoch, torch_correct = torch_loop(module.Network(sizes, seed=1),
                                                *tensors, eta, lmbda)
        ours, torch_seconds = [], []
        for _ in range(ROUNDS):
            ours.append(sgd_epoch(net, training_data, eta, lmbda))
            torch_seconds.append(torch_epoch())
        fast, torch_s = min(ours), min(torch_seconds)
        print(f"{f'(a) {name}.SGD:':26}{fast:7.3f} s  (best of "
              + ", ".join(f"{s:.3f}" for s in ours) + ")")

        slow_net = module.Network(sizes, seed=1)
        data = list(training_data)
        random.seed(1)
        start = time.perf_counter()
        with threadpool_limits(limits=1, user_api="blas"):
            per_example_epoch(slow_net, data, MINI_BATCH, eta, n_batches,
                              lmbda=lmbda or 0.0, n=n)
        slow = (time.perf_counter() - start) * n_batches_all / n_batches
        how = ("the whole epoch" if n_batches == n_batches_all else
               f"{n_batches} of {n_batches_all} mini-batches timed, scaled up")
        print(f"{'(b) per-example loop:':26}{slow:7.3f} s  ({how})")

        print(f"{'(c) PyTorch loop:':26}{torch_s:7.3f} s  (best of "
              + ", ".join(f"{s:.3f}" for s in torch_seconds) + ")")
        print(f"    training accuracy after {ROUNDS} epochs: ours "
              f"{training_accuracy(net, *tensors)}, PyTorch {torch_correct()} "
              f"of {n} (same start; a check that both learn)")
        print(f"    per-example / ours: {slow / fast:5.1f}x (goal >= 5x);  "
              f"PyTorch / ours: {torch_s / fast:5.1f}x (goal >= 2x)")

    sizes, small = [784, 100, 10], training_data[:10000]
    heading(f"(d) {name}.py: {sizes}, one epoch of the first {len(small)} "
            f"training images, another process busy on one core")
    net = module.Network(sizes, seed=2)
    quiet, busy, unlimited_busy = [], [], []
    for _ in range(3):
        quiet.append(sgd_epoch(net, small, eta, lmbda))
        with busy_core():
            busy.append(sgd_epoch(net, small, eta, lmbda))
            unlimited_busy.append(update_loop_epoch(net, small, eta, lmbda))
    quiet_s, busy_s, unlimited_s = min(quiet), min(busy), min(unlimited_busy)
    threads = ", ".join(str(lib["num_threads"]) for lib in threadpool_info()
                        if lib["user_api"] == "blas")
    print(f"{'SGD, no busy process:':40}{quiet_s:7.3f} s")
    print(f"{'SGD, one core busy:':40}{busy_s:7.3f} s  "
          f"({busy_s / quiet_s:.2f}x; goal within 1.2x)")
    print(f"{'update_mini_batch loop, one core busy:':40}{unlimited_s:7.3f} s  "
          f"({unlimited_s / quiet_s:.2f}x)")
    print(f"(best of three of each, alternated; SGD called with default settings, "
          f"so under its own one-thread limit; the loop calls update_mini_batch "
          f"outside SGD, with numpy's default {threads} BLAS threads: the "
          f"difference is what the limit buys)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", choices=sorted(SETTINGS),
                        help="benchmark only this module (default: both)")
    parser.add_argument("--quick", action="store_true",
                        help="time the per-example loop on a tenth of the "
                             "mini-batches and scale it up")
    args = parser.parse_args(argv)
    fraction = 0.1 if args.quick else 1.0
    wall = time.perf_counter()

    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', '(unset)')}")
    print(blas_kernels.report())
    for lib in threadpool_info():
        print(f"threadpoolctl at start: {lib['internal_api']} "
              f"({lib['user_api']}), {lib['num_threads']} threads, "
              f"{Path(lib['filepath']).name}")
    if args.quick:
        print("--quick: the per-example loops are timed on 10% of the "
              "mini-batches and scaled up to a whole epoch")

    heading("mnist_loader")
    pickle_path = mnist_files.data_dir() / mnist_files.PICKLE_NAME
    existed = pickle_path.exists()
    if not existed:
        mnist_loader.load_data()   # builds the file, untimed
    start = time.perf_counter()
    training_data, _, _ = mnist_loader.load_data_wrapper()
    print(f"load_data_wrapper(): {time.perf_counter() - start:.2f} s (goal < 3 s; "
          f"{pickle_path} {'already existed' if existed else 'built first, untimed'})")

    import torch
    print(f"torch {torch.__version__}: {torch.get_num_threads()} threads by "
          f"default, set to 1")
    torch.set_num_threads(1)
    # The training data as (n, 784) and (n, 10) float64 tensors.
    tensors = [torch.from_numpy(np.concatenate([pair[i] for pair in training_data],
                                               axis=1, dtype=np.float64).T.copy())
               for i in (0, 1)]

    for name in [args.module] if args.module else list(SETTINGS):
        bench_module(name, training_data, tensors, fraction)

    heading("memory and time")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / 2**20 if sys.platform == "darwin" else peak / 1024
    print(f"peak memory (ru_maxrss): {peak_mib:.0f} MiB")
    print(f"wall time of this run: {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
