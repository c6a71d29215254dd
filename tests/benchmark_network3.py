"""Benchmark network3's training loop (a script, not a test).

CPU: the time of one epoch of ``Network.SGD`` (50,000 images in
mini-batches of 10, then the validation and test accuracy, as the book's
loop does after its first epoch) against an idiomatic hand-written PyTorch
loop over the same network: an ``nn.Module`` (``nn.Conv2d``,
``F.max_pool2d``, ``nn.Linear``) with the same initial weights,
``F.cross_entropy``, autograd, ``torch.optim.SGD`` (L2 as its weight decay
on the weights), the same data already in memory, and the same evaluation
in batches of ``network3.EVAL_BATCH_SIZE``.  The goal is a ratio of at
most 1.15 for the shallow net and basic_conv, and of at most 1.25 for
chapter 6's ReLU double conv net (``dbl_conv_relu``: eta 0.03, lmbda 0.1),
where network3 also turns its filters round (true convolution) and pools
with the book's gradient (``network3.max_pool_2d``); a last column times
network3 with PyTorch's pooling gradient instead (``F.max_pool2d``), for
the cost of the book's.  Runs alternate between the loops; the figures are
the fastest of ``--repeats`` runs of each (the machine may be shared) and
their median.

CPU, threads: one epoch with the default settings (PyTorch's default
thread count, which network3's ``CPU_TRAINING_THREADS`` overrides while SGD
runs) while another process keeps one core busy, against the same epoch
after ``torch.set_num_threads(1)``.  The goal is a ratio of at most 1.2.
For contrast it also times the default threads with network3's choice
turned off (``CPU_TRAINING_THREADS = None``), on fewer images as it is slow.
Then, with the same core busy, the methods that compute off SGD
(``predict`` on the test images, ``test_mb_predictions`` on ``--mb-calls``
mini-batches of 10, ``accuracy`` on the validation images), each with the
caller at PyTorch's default threads: with network3's choice turned off
(``CPU_TRAINING_THREADS = None``: PyTorch's threads, as these methods ran
before network3 held them to its setting too) against network3's setting.
The busy process is a bounded Python loop, killed at the end.

CUDA (when a GPU is present): training steps per second at mini-batch 10
with the step run eagerly and with it captured as a CUDA graph (goal: at
least 3x), plus checks that both give the same network and that save/load
round-trips on the GPU.

    python tests/benchmark_network3.py [--threads 1] [--repeats 3]
        [--nets shallow basic_conv dbl_conv_relu]
        [--busy-images 10000] [--mb-calls 20] [--skip-hand-loop]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
import network3  # noqa: E402
from network3 import (ConvPoolLayer, FullyConnectedLayer, Network,  # noqa: E402
                      SoftmaxLayer)

MB = 10
ETA = 0.1
# (eta, lmbda) of each net: the book's for dbl_conv_relu
HYPERPARAMETERS = {"shallow": (ETA, 0.0), "basic_conv": (ETA, 0.0),
                   "dbl_conv_relu": (0.03, 0.1)}
GOALS = {"shallow": 1.15, "basic_conv": 1.15, "dbl_conv_relu": 1.25}
NN_ACTIVATIONS = {network3.sigmoid: nn.Sigmoid, network3.ReLU: nn.ReLU}
DEFAULT_THREADS = torch.get_num_threads()  # before main() changes it


def make_network(name: str, seed: int, **kwargs) -> Network:
    np.random.seed(seed)
    if name == "shallow":
        layers = [FullyConnectedLayer(n_in=784, n_out=100),
                  SoftmaxLayer(n_in=100, n_out=10)]
    elif name == "basic_conv":
        layers = [ConvPoolLayer(image_shape=(MB, 1, 28, 28), filter_shape=(20, 1, 5, 5),
                                poolsize=(2, 2)),
                  FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100),
                  SoftmaxLayer(n_in=100, n_out=10)]
    elif name == "dbl_conv_relu":
        relu = network3.ReLU
        layers = [ConvPoolLayer(image_shape=(MB, 1, 28, 28), filter_shape=(20, 1, 5, 5),
                                poolsize=(2, 2), activation_fn=relu),
                  ConvPoolLayer(image_shape=(MB, 20, 12, 12), filter_shape=(40, 20, 5, 5),
                                poolsize=(2, 2), activation_fn=relu),
                  FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, activation_fn=relu),
                  SoftmaxLayer(n_in=100, n_out=10)]
    else:
        raise ValueError(name)
    return Network(layers, MB, **kwargs)


class MaxPool(nn.Module):
    """``F.max_pool2d`` as a module (what ``nn.MaxPool2d`` calls)."""

    def __init__(self, poolsize) -> None:
        super().__init__()
        self.poolsize = poolsize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.poolsize)


def make_module(net: Network) -> nn.Module:
    """The same network written the usual PyTorch way, with net's weights:
    its filters turned round, as ``nn.Conv2d`` cross-correlates."""
    modules: list[nn.Module] = []
    for layer in net.layers:
        if isinstance(layer, ConvPoolLayer):
            filters, maps, fh, fw = layer.filter_shape
            conv = nn.Conv2d(maps, filters, (fh, fw))
            with torch.no_grad():
                conv.weight.copy_(torch.flip(layer.w, (2, 3)))
                conv.bias.copy_(layer.b)
            modules += [nn.Unflatten(1, layer.image_shape[1:]), conv,
                        MaxPool(layer.poolsize), NN_ACTIVATIONS[layer.activation_fn](),
                        nn.Flatten()]
        else:
            linear = nn.Linear(layer.n_in, layer.n_out)
            with torch.no_grad():
                linear.weight.copy_(layer.w.T)
                linear.bias.copy_(layer.b)
            modules.append(linear)
            if isinstance(layer, FullyConnectedLayer):
                modules.append(NN_ACTIVATIONS[layer.activation_fn]())
    return nn.Sequential(*modules).to(network3.device)


def hand_loop_epoch(model: nn.Module, training_data, validation_data, test_data,
                    eta: float = ETA, lmbda: float = 0.0) -> float:
    """One epoch of plain mini-batch SGD, then validation and test accuracy.
    The book's L2 term is weight decay lmbda/(number of mini-batches) on the
    weights, not the biases."""
    x, y = training_data
    weights = [p for p in model.parameters() if p.ndim > 1]
    biases = [p for p in model.parameters() if p.ndim == 1]
    optimizer = torch.optim.SGD([
        {"params": weights, "weight_decay": lmbda / (len(x) // MB)},
        {"params": biases}], lr=eta)
    for start in range(0, len(x) - MB + 1, MB):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[start:start + MB]), y[start:start + MB])
        loss.backward()
        optimizer.step()
    accuracies = []
    step = network3.EVAL_BATCH_SIZE
    with torch.no_grad():
        for ex, ey in (validation_data, test_data):
            correct = sum((model(ex[i:i + step]).argmax(1) == ey[i:i + step]).sum()
                          for i in range(0, len(ex), step))
            accuracies.append(int(correct) / len(ex))
    return accuracies[0]


def network3_epoch(net: Network, training_data, validation_data, test_data,
                   eta: float = ETA, lmbda: float = 0.0) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD(training_data, 1, MB, eta, validation_data, test_data, lmbda)
    return net.validation_accuracies[0]


@contextlib.contextmanager
def pytorch_pooling_gradient():
    """Inside, network3's ConvPoolLayer pools with ``F.max_pool2d``."""
    books = network3.max_pool_2d
    network3.max_pool_2d = F.max_pool2d
    try:
        yield
    finally:
        network3.max_pool_2d = books


def cpu_comparison(names, data, repeats: int) -> None:
    print(f"CPU, {torch.get_num_threads()} thread(s): one epoch (5,000 mini-batches "
          f"of 10, then validation and test accuracy)")
    print(f"{'network':<14} {'network3 SGD (s)':>22} {'hand loop (s)':>22} "
          f"{'ratio (min)':>12} {'ratio (median)':>15} {'goal':>5}  "
          f"validation acc. n3 / hand   n3, PyTorch's pooling gradient (s)")
    for name in names:
        eta, lmbda = HYPERPARAMETERS[name]
        ours, theirs, torch_pooling = [], [], []
        acc_ours = acc_theirs = None
        for _ in range(repeats):
            net = make_network(name, seed=1)
            model = make_module(net)
            start = time.perf_counter()
            acc_ours = network3_epoch(net, *data, eta, lmbda)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            acc_theirs = hand_loop_epoch(model, *data, eta, lmbda)
            theirs.append(time.perf_counter() - start)
            if any(isinstance(layer, ConvPoolLayer) for layer in net.layers):
                net = make_network(name, seed=1)
                with pytorch_pooling_gradient():
                    start = time.perf_counter()
                    acc_torch_pooling = network3_epoch(net, *data, eta, lmbda)
                    torch_pooling.append(time.perf_counter() - start)
        pooling = (f"{min(torch_pooling):.2f} (med {statistics.median(torch_pooling):.2f}), "
                   f"validation acc. {acc_torch_pooling:.2%}" if torch_pooling else "-")
        print(f"{name:<14} {min(ours):>9.2f} (med {statistics.median(ours):5.2f}) "
              f"{min(theirs):>9.2f} (med {statistics.median(theirs):5.2f}) "
              f"{min(ours) / min(theirs):>12.3f} "
              f"{statistics.median(ours) / statistics.median(theirs):>15.3f} "
              f"{GOALS[name]:>5.2f}  {acc_ours:.2%} / {acc_theirs:.2%}"
              f"{'':>12}{pooling}")


def busy_core_comparison(names, data, n_images: int, repeats: int, mb_calls: int) -> None:
    """Default threads against one thread, with one core kept busy."""
    training_data, validation_data, test_data = data
    n_eval, n_unlimited = min(n_images, 1000), max(MB, n_images // 5)

    def part(d, n):
        return (d[0][:n], d[1][:n])

    def epoch(name: str, threads: int, n: int) -> float:
        net = make_network(name, seed=1)
        torch.set_num_threads(threads)
        start = time.perf_counter()
        network3_epoch(net, part(training_data, n), part(validation_data, n_eval),
                       part(test_data, n_eval))
        return time.perf_counter() - start

    busy = subprocess.Popen([sys.executable, "-c", (
        "import time\nend = time.time() + 900\nwhile time.time() < end:\n    pass")])
    saved_threads, saved_choice = torch.get_num_threads(), network3.CPU_TRAINING_THREADS
    try:
        time.sleep(0.5)  # let the busy loop start
        print(f"\nCPU, one core kept busy by another process (pid {busy.pid}): one "
              f"epoch of {n_images:,} training images in mini-batches of {MB}, then "
              f"{n_eval:,} validation and {n_eval:,} test images; PyTorch's default is "
              f"{DEFAULT_THREADS} thread(s), network3.CPU_TRAINING_THREADS = "
              f"{saved_choice}; fastest of {repeats}")
        print(f"{'network':<12} {'default (s)':>12} {'1 thread (s)':>13} "
              f"{'ratio':>7}   on {n_unlimited:,} images: CPU_TRAINING_THREADS=None "
              f"with default threads / 1 thread")
        for name in names:
            default, one = [], []
            for _ in range(repeats):
                default.append(epoch(name, DEFAULT_THREADS, n_images))
                one.append(epoch(name, 1, n_images))
            network3.CPU_TRAINING_THREADS = None
            try:
                unlimited = epoch(name, DEFAULT_THREADS, n_unlimited)
            finally:
                network3.CPU_TRAINING_THREADS = saved_choice
            small = epoch(name, 1, n_unlimited)
            print(f"{name:<12} {min(default):>12.2f} {min(one):>13.2f} "
                  f"{min(default) / min(one):>7.3f}   {unlimited:.2f} s / {small:.2f} s "
                  f"= {unlimited / small:.1f}x")
        off_sgd_comparison(names, data, n_eval, repeats, mb_calls, saved_choice)
    finally:
        busy.kill()
        busy.wait()
        torch.set_num_threads(saved_threads)


def off_sgd_comparison(names, data, n_eval: int, repeats: int, mb_calls: int,
                       choice) -> None:
    """Off SGD, the caller at PyTorch's default threads: network3's methods
    with CPU_TRAINING_THREADS = None against network3's ``choice``."""
    training_data, validation_data, test_data = data
    test_x = test_data[0][:n_eval]
    validation = (validation_data[0][:n_eval], validation_data[1][:n_eval])

    def timed(task, threads_choice) -> float:
        torch.set_num_threads(DEFAULT_THREADS)
        network3.CPU_TRAINING_THREADS = threads_choice
        try:
            start = time.perf_counter()
            task()
            return time.perf_counter() - start
        finally:
            network3.CPU_TRAINING_THREADS = choice

    print(f"\nOff SGD, the same core busy, the caller at PyTorch's default "
          f"{DEFAULT_THREADS} thread(s): CPU_TRAINING_THREADS = None (PyTorch's "
          f"threads) against network3's {choice}; fastest of {repeats} and median")
    print(f"{'network':<12} {'method':<40} {'None (s)':>9} {f'{choice} (s)':>9} "
          f"{'ratio (min)':>12} {'ratio (median)':>15}  ms per call (min), None / {choice}")
    for name in names:
        net = make_network(name, seed=1)
        with contextlib.redirect_stdout(io.StringIO()):  # 0 epochs: sets test_mb_predictions
            net.SGD((training_data[0][:MB], training_data[1][:MB]), 0, MB, ETA,
                    validation, (test_x, test_data[1][:n_eval]))
        tasks = {
            f"predict ({n_eval:,} images)": (lambda: net.predict(test_x), 1),
            f"test_mb_predictions ({mb_calls} x {MB} images)":
                (lambda: [net.test_mb_predictions(i) for i in range(mb_calls)], mb_calls),
            f"accuracy ({n_eval:,} images)": (lambda: net.accuracy(validation), 1)}
        for method, (task, calls) in tasks.items():
            default, ours = [], []
            for _ in range(repeats):
                default.append(timed(task, None))
                ours.append(timed(task, choice))
            print(f"{name:<12} {method:<40} {min(default):>9.3f} {min(ours):>9.3f} "
                  f"{min(default) / min(ours):>12.1f} "
                  f"{statistics.median(default) / statistics.median(ours):>15.1f}  "
                  f"{1000 * min(default) / calls:.1f} / {1000 * min(ours) / calls:.1f}")


def cuda_comparison(names, data) -> None:
    training_data, validation_data, test_data = data
    few = (validation_data[0][:MB], validation_data[1][:MB])
    n_steps = network3.size(training_data) // MB
    print(f"\nCUDA ({torch.cuda.get_device_name(0)}): training steps per second, "
          f"mini-batch {MB}, one epoch of {n_steps} steps")
    print(f"{'network':<12} {'eager':>10} {'captured':>10} {'speed-up':>9}  "
          f"graph used  max |param diff|  save/load same predictions")
    for name in names:
        rates, nets = {}, {}
        for capture in (False, True):
            warm = make_network(name, seed=1, capture=capture)
            with contextlib.redirect_stdout(io.StringIO()):
                warm.SGD((training_data[0][:2000], training_data[1][:2000]), 1, MB, ETA,
                         few, None)
            net = make_network(name, seed=1, capture=capture)
            torch.cuda.synchronize()
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                net.SGD(training_data, 1, MB, ETA, few, None)
            torch.cuda.synchronize()
            rates[capture] = n_steps / (time.perf_counter() - start)
            nets[capture] = net
        diff = max((a - b).abs().max().item()
                   for a, b in zip(nets[False].params, nets[True].params))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "net.pt"
            nets[True].save(path)
            same = np.array_equal(network3.load(path).predict(test_data[0]),
                                  nets[True].predict(test_data[0]))
        print(f"{name:<12} {rates[False]:>10.0f} {rates[True]:>10.0f} "
              f"{rates[True] / rates[False]:>8.2f}x  {str(nets[True].capture_used):>10}  "
              f"{diff:>15.2e}  {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="CPU runs of each loop (default 3)")
    parser.add_argument("--nets", nargs="+", default=["shallow", "basic_conv",
                                                       "dbl_conv_relu"],
                        choices=list(HYPERPARAMETERS))
    parser.add_argument("--busy-images", type=int, default=10000,
                        help="training images for the busy-core comparison (default 10000)")
    parser.add_argument("--mb-calls", type=int, default=20,
                        help="test_mb_predictions calls timed off SGD (default 20)")
    parser.add_argument("--skip-hand-loop", action="store_true",
                        help="skip the comparison with the hand-written loop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = network3.load_data_shared()
    if network3.device.type == "cpu":
        if not args.skip_hand_loop:
            cpu_comparison(args.nets, data, args.repeats)
        busy_core_comparison(args.nets, data, args.busy_images, args.repeats, args.mb_calls)
    else:
        cuda_comparison(args.nets, data)
        print("\n(for the CPU comparison, run again with NNDL_FORCE_CPU=1)")


if __name__ == "__main__":
    main()
