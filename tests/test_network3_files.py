"""network3.load against hostile or damaged files, and network3.SGD's
argument checks (the same words as network.py and network2.py).

A damaged file is made by loading a real saved network's contents,
changing one thing and saving them again with torch.save.  Files that
declare huge layers are read in a child process under an address-space
limit, so that an allocation made before the check would fail the test.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import network2
import network3
from network3 import FullyConnectedLayer, Network, NetworkFileError, SoftmaxLayer

SRC = Path(__file__).resolve().parent.parent / "src"


def small_net(seed=0):
    return Network([FullyConnectedLayer(n_in=4, n_out=3),
                    SoftmaxLayer(n_in=3, n_out=2)], 2, seed=seed)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "net.pt"
    small_net().save(path)
    return torch.load(path, weights_only=True)


def architecture(blob, layer, **changes):
    configs = json.loads(blob["architecture"])
    configs[layer].update(changes)
    blob["architecture"] = json.dumps(configs)
    return blob


def with_param(blob, j, tensor):
    blob["params"][j] = tensor
    return blob


def nan_at(blob, j):
    tensor = blob["params"][j].clone()
    tensor.view(-1)[0] = math.nan
    return with_param(blob, j, tensor)


def inf_at(blob, j):
    tensor = blob["params"][j].clone()
    tensor.view(-1)[-1] = -math.inf
    return with_param(blob, j, tensor)


def in_big_storage(blob, j):
    """The tensor's values, as a view into a storage of 10 million floats."""
    tensor = blob["params"][j]
    big = torch.zeros(10 ** 7)
    big[:tensor.numel()] = tensor.reshape(-1)
    return with_param(blob, j, big[:tensor.numel()].view(tensor.shape))


def at_an_offset(blob, j):
    tensor = blob["params"][j]
    big = torch.zeros(tensor.numel() + 50)
    big[50:] = tensor.reshape(-1)
    return with_param(blob, j, big[50:].view(tensor.shape))


DAMAGED = {
    "NaN weight": (lambda b: nan_at(b, 0), "weight tensor 0 holds values that are not finite"),
    "Infinity bias": (lambda b: inf_at(b, 3),
                      "weight tensor 3 holds values that are not finite"),
    "a view into a storage of 10 million floats":
        (lambda b: in_big_storage(b, 0),
         "weight tensor 0 is stored in 40,000,000 bytes; its 12 values need 48"),
    "a view at an offset into its storage":
        (lambda b: at_an_offset(b, 2), "weight tensor 2 is stored in 224 bytes"),
    "a layer of 12000 x 12000 declared, the saved tensor tiny":
        (lambda b: architecture(b, 0, n_in=12000, n_out=12000),
         r"weight tensor 0 is \(4, 3\), expected \(12000, 12000\)"),
    "n_in not an integer": (lambda b: architecture(b, 0, n_in="4"), "n_in must be"),
    "n_out negative": (lambda b: architecture(b, 1, n_out=-2), "n_out must be"),
    "n_in a bool": (lambda b: architecture(b, 0, n_in=True), "n_in must be"),
    "architecture not JSON": (lambda b: {**b, "architecture": "[{"}, "unreadable architecture"),
    "an unknown layer type": (lambda b: architecture(b, 0, type="LSTM"), "unknown layer type"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_damaged_network_files_are_refused_naming_the_file(case, saved, tmp_path):
    damage, message = DAMAGED[case]
    path = tmp_path / "damaged.pt"
    torch.save(damage(saved), path)
    with pytest.raises(NetworkFileError, match=message) as error:
        network3.load(path)
    assert str(path) in str(error.value)


def test_the_undamaged_file_loads_and_predicts_as_saved(saved, tmp_path):
    path = tmp_path / "again.pt"
    torch.save(saved, path)
    net = network3.load(path)
    x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    np.testing.assert_array_equal(net.predict(x), small_net().predict(x))


CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import network3
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
limit = size + 256 * 2 ** 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    network3.load(sys.argv[2])
    print("LOADED")
except network3.NetworkFileError as e:
    print("REFUSED", e)
"""


@pytest.mark.parametrize("n", [12000, 10 ** 6])
def test_a_huge_declared_layer_is_refused_before_anything_is_allocated(n, saved, tmp_path):
    path = tmp_path / "huge.pt"
    torch.save(architecture(saved, 1, n_in=n, n_out=n), path)
    done = subprocess.run([sys.executable, "-c", CHILD, str(SRC), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.splitlines()[-1]  # after network3's line naming its device
    assert last.startswith(f"REFUSED {path}") and f"({n}, {n})" in last


#### SGD's argument checks

def data(n=8, labels=None):
    x = torch.rand(n, 4)
    y = torch.tensor(labels if labels is not None else [i % 2 for i in range(n)])
    return x, y


BAD_SGD = {
    "negative epochs": ({"epochs": -1}, "epochs must be an integer >= 0; got -1"),
    "fractional epochs": ({"epochs": 2.5}, "epochs must be an integer >= 0; got 2.5"),
    "epochs True": ({"epochs": True}, "epochs must be an integer >= 0; got True"),
    "mini_batch_size 0": ({"mini_batch_size": 0},
                          "mini_batch_size must be an integer >= 1; got 0"),
    "eta NaN": ({"eta": math.nan}, "eta (the learning rate) must be a finite number; got nan"),
    "eta a string": ({"eta": "0.1"},
                     "eta (the learning rate) must be a finite number; got '0.1'"),
    "lmbda infinite": ({"lmbda": math.inf},
                       "lmbda (the regularization parameter) must be a finite number; got inf"),
}


@pytest.mark.parametrize("case", list(BAD_SGD))
def test_sgd_refuses_bad_arguments_in_network2s_words_before_training(case, capsys):
    changes, message = BAD_SGD[case]
    args = {"epochs": 1, "mini_batch_size": 2, "eta": 0.1, "lmbda": 0.0, **changes}
    with pytest.raises(ValueError) as error:
        small_net().SGD(data(), args["epochs"], args["mini_batch_size"], args["eta"],
                        data(), None, lmbda=args["lmbda"])
    assert str(error.value) == message
    assert "Training mini-batch" not in capsys.readouterr().out
    # network2 says the same of the same mistake.
    net2 = network2.Network([4, 2], seed=0)
    pairs = [(np.zeros((4, 1)), network2.vectorized_result(1)[:2])] * 4
    with pytest.raises(ValueError) as error2:
        net2.SGD(pairs, args["epochs"], args["mini_batch_size"], args["eta"],
                 lmbda=args["lmbda"])
    assert str(error2.value) == message


@pytest.mark.parametrize("labels, bad", [([0, 1, 2, 0, 1, 0, 1, 0], 2),
                                         ([0, 1, -1, 0, 1, 0, 1, 0], -1)])
@pytest.mark.parametrize("which", ["training_data", "validation_data", "test_data"])
def test_sgd_refuses_labels_the_last_layer_cannot_output(labels, bad, which, capsys):
    sets = {"training_data": data(), "validation_data": data(), "test_data": data()}
    sets[which] = data(labels=labels)
    with pytest.raises(ValueError, match=rf"{which}: labels must be integers 0 to 1 "
                                         rf"\(the last layer has 2 outputs\); found {bad}"):
        small_net().SGD(sets["training_data"], 1, 2, 0.1, sets["validation_data"],
                        sets["test_data"])
    assert "Training mini-batch" not in capsys.readouterr().out


def test_a_full_disk_while_saving_is_one_error_naming_the_file(tmp_path):
    """A file-size limit stands in for a full disk: save raises the module's
    file error naming the path, and leaves no file, whole or half, behind."""
    script = (
        "import resource, signal, sys\n"
        "import network3\n"
        "from network3 import FullyConnectedLayer, SoftmaxLayer, Network\n"
        "net = Network([FullyConnectedLayer(n_in=784, n_out=100),\n"
        "               SoftmaxLayer(n_in=100, n_out=10)], 10, seed=1)\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (10000, 10000))\n"
        "try:\n"
        "    net.save(sys.argv[1])\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n")
    path = tmp_path / "net.pt"
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=SRC,
                          capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "NNDL_FORCE_CPU": "1"})
    last = done.stdout.splitlines()[-1]   # after network3's one line about the device
    assert last.startswith(f"DataFileError {path}: could not be written"), done
    assert list(tmp_path.iterdir()) == []
