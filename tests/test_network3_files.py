"""network3.load against hostile or damaged files, and network3.SGD's
argument checks (the same words as network.py and network2.py).

A damaged file is made by loading a real saved network's contents,
changing one thing and saving them again with torch.save; a damaged
archive, by changing the zip container around them (with Python's zipfile
or byte by byte).  Files that declare huge layers, compressed members that
unpack to hundreds of megabytes, and values of shared references nested
deep are read in a child process under an address-space limit, so that an
allocation made before the check would fail the test.
"""

import json
import math
import pickle
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import network2
import network3
from network3 import (ConvPoolLayer, FullyConnectedLayer, Network, NetworkFileError,
                      SoftmaxLayer)

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
    # Each entry and key of the type save() writes, and no other.
    "p_dropout as a string": (lambda b: architecture(b, 0, p_dropout="0.5"),
                              r"layer 0 \(FullyConnectedLayer\): p_dropout must be a "
                              r"number in \[0, 1\); got '0.5'"),
    "p_dropout 1": (lambda b: architecture(b, 1, p_dropout=1.0), r"p_dropout .* got 1.0"),
    "p_dropout true": (lambda b: architecture(b, 1, p_dropout=True), r"p_dropout .* got True"),
    "p_dropout NaN": (lambda b: architecture(b, 1, p_dropout=math.nan), r"p_dropout .* got nan"),
    "an unknown key in a layer": (lambda b: architecture(b, 0, bias=0.5),
                                  r"layer 0 \(FullyConnectedLayer\) has the key 'bias', "
                                  r"which a FullyConnectedLayer does not have"),
    "an activation_fn on a SoftmaxLayer": (lambda b: architecture(b, 1, activation_fn="ReLU"),
                                           "has the key 'activation_fn'"),
    "a layer without its p_dropout": (lambda b: without(b, 1, "p_dropout"),
                                      r"layer 1 \(SoftmaxLayer\) lacks p_dropout"),
    "activation_fn a number": (lambda b: architecture(b, 0, activation_fn=3),
                               "unknown activation function 3; a file may name linear, "
                               "ReLU, sigmoid, tanh"),
    "an unknown entry": (lambda b: {**b, "extra": 1},
                         "it holds an entry 'extra' that network3 files do not have"),
    "an entry named by a number": (lambda b: {**b, 7: 1}, "it holds an entry 7 "),
    "no params": (lambda b: {k: v for k, v in b.items() if k != "params"},
                  "the entries params are missing"),
    "mini_batch_size as a string": (lambda b: {**b, "mini_batch_size": "2"},
                                    "mini_batch_size must be an integer >= 1; got '2'"),
    "mini_batch_size 2.0": (lambda b: {**b, "mini_batch_size": 2.0}, "got 2.0"),
    "version True": (lambda b: {**b, "version": True}, "version True, this module reads"),
    "version 2.0": (lambda b: {**b, "version": 2.0}, "version 2.0, this module reads"),
    "a seed beyond 64 bits": (lambda b: {**b, "seed": 2 ** 70},
                              "the seed is 1180591620717411303424, not a 64-bit integer"),
    "a seed of 1.0": (lambda b: {**b, "seed": 1.0}, "the seed is 1.0, not"),
    "the architecture as a list, not JSON text":
        (lambda b: {**b, "architecture": json.loads(b["architecture"])},
         "the architecture is a list of 2 items: .*, not JSON text"),
    "the weights as a tuple": (lambda b: {**b, "params": tuple(b["params"])},
                               "the weights are a tuple of 4 items"),
    "the format as bytes": (lambda b: {**b, "format": b"network3"},
                            "it does not say it holds a network3 network"),
}


def without(blob, layer, key):
    configs = json.loads(blob["architecture"])
    del configs[layer][key]
    blob["architecture"] = json.dumps(configs)
    return blob


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


def read_in_child(path, timeout=120):
    """The last line the CHILD above prints about ``path`` (after network3's
    line naming its device), with a 256 MiB allowance."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(SRC), str(path)],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()[-1]


CONV_DAMAGED = {
    "filter_shape holding a float": (dict(filter_shape=[2, 1, 3, 3.0]),
                                     r"layer 0 \(ConvPoolLayer\): filter_shape must be a list "
                                     r"of 4 positive integers; got \[2, 1, 3, 3.0\]"),
    "poolsize of one number": (dict(poolsize=[2]), r"poolsize must be a list of 2 .* got \[2\]"),
    "image_shape as text": (dict(image_shape="2,1,6,6"), "image_shape must be .* got '2,1,6,6'"),
    "p_dropout on a ConvPoolLayer": (dict(p_dropout=0.0), "has the key 'p_dropout'"),
}


@pytest.mark.parametrize("case", list(CONV_DAMAGED))
def test_a_conv_layers_keys_and_types_are_checked(case, tmp_path):
    Network([ConvPoolLayer((2, 1, 3, 3), (2, 1, 6, 6)),
             SoftmaxLayer(n_in=8, n_out=2)], 2, seed=0).save(tmp_path / "conv.pt")
    network3.load(tmp_path / "conv.pt")  # as saved, it loads
    changes, message = CONV_DAMAGED[case]
    path = tmp_path / "damaged.pt"
    torch.save(architecture(torch.load(tmp_path / "conv.pt", weights_only=True), 0,
                            **changes), path)
    with pytest.raises(NetworkFileError, match=message) as error:
        network3.load(path)
    assert str(error.value).startswith(f"{path}: malformed network file: ")


def test_a_file_without_a_seed_loads_as_files_written_before_it_was_saved(saved, tmp_path):
    del saved["seed"]
    torch.save(saved, tmp_path / "old.pt")
    net = network3.load(tmp_path / "old.pt")
    assert net.seed is None and net.generator is None
    x = np.random.default_rng(1).random((5, 4), dtype=np.float32)
    np.testing.assert_array_equal(net.predict(x), small_net().predict(x))


#### Values whose text has no end
# A tuple of 30 references to a tuple of 30 references to ..., twelve deep,
# takes a few hundred bytes of pickle and stands for 30**12 values: to
# format it, hash it (as a dict key) or compare it would never end.  Such a
# file is refused from its opcodes before it is unpickled; a value merely
# large is named in the message by its type and size.

def nested(depth=12, width=30):
    value = ()
    for _ in range(depth):
        value = (value,) * width
    return value


def nested_dict_key(depth=12, width=30):
    """A protocol-2 pickle, written by hand so that no dict of this process
    ever hashes it, of {"levels": [...], nested(depth, width): 1}: the list
    holds each level as it is made, the opcodes PyTorch reads having no POP."""
    ops = [pickle.PROTO + b"\x02", pickle.EMPTY_DICT, pickle.BINUNICODE + b"\x06\0\0\0levels",
           pickle.EMPTY_LIST, pickle.EMPTY_TUPLE, pickle.BINPUT + b"\x00", pickle.APPEND]
    for i in range(1, depth + 1):
        ops += [pickle.MARK, (pickle.BINGET + bytes([i - 1])) * width, pickle.TUPLE,
                pickle.BINPUT + bytes([i]), pickle.APPEND]
    ops += [pickle.SETITEM, pickle.BINGET + bytes([depth]), pickle.BININT1 + b"\x01",
            pickle.SETITEM, pickle.STOP]
    return b"".join(ops)


def stored_archive(path, members, comment=b""):
    """A zip archive at ``path`` of the stored ``members`` {name: bytes},
    written by Python's zipfile."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = comment
    return path


def nested_lists(depth=12, width=30):
    """As ``nested``, of lists: a pickle fills each list after it is
    remembered, so a later reference must count what was added since."""
    value = []
    for _ in range(depth):
        value = [value] * width
    return value


@pytest.mark.parametrize("entry", [pytest.param("version", marks=pytest.mark.slow),
                                   pytest.param("seed", marks=pytest.mark.slow),
                                   pytest.param("mini_batch_size", marks=pytest.mark.slow),
                                   "a weight tensor", "a dict key", "version, of lists"])
def test_shared_references_nested_deep_are_refused_from_the_opcodes(entry, saved, tmp_path):
    path = tmp_path / "nested.pt"
    if entry == "a dict key":
        stored_archive(path, {"archive/data.pkl": nested_dict_key(),
                              "archive/byteorder": b"little"})
    elif entry == "version, of lists":
        torch.save(dict(saved, version=nested_lists()), path)
    else:
        key = {"a weight tensor": "params"}.get(entry, entry)
        value = [nested()] * 4 if key == "params" else nested()
        torch.save(dict(saved, **{key: value}), path)
    assert path.stat().st_size < 5000
    last = read_in_child(path, timeout=60)
    assert last == (f"REFUSED {path}: not a network saved by network3 (a value in its "
                    f"data.pkl stands for more than 1,048,576 others)")


@pytest.mark.parametrize("value, shown", [
    (nested(depth=4), r"version a tuple of 30 items: \(\(\(\(\(\), \(\), \(\), .*\.\.\., "),
    ("x" * 500_000, "version a string of 500,000 characters: 'xxxx.*xxx\\.\\.\\., "),
    (list(range(100_000)), r"version a list of 100,000 items: \[0, 1, 2, .*\.\.\., "),
], ids=["tuple nested 4 deep", "string", "list"])
def test_a_large_value_is_named_by_its_type_and_size(value, shown, saved, tmp_path):
    """Values within the pickle's limits (the first stands for 810,000
    others) are read, and named in a message of one short line."""
    path = tmp_path / "large.pt"
    torch.save(dict(saved, version=value), path)
    last = read_in_child(path, timeout=60)
    assert last.startswith(f"REFUSED {path}: malformed network file: ") and len(last) < 300
    assert re.search(shown, last), last


#### The zip container

def rezipped(good, path, compression=zipfile.ZIP_STORED, change=None, comment=b""):
    """The members of the archive ``good`` written again to ``path`` by
    Python's zipfile, with ``compression``, each one's bytes passed through
    ``change(name, data)`` (None leaves a member out)."""
    with zipfile.ZipFile(good) as old:
        members = {info.filename: old.read(info.filename) for info in old.infolist()}
    with zipfile.ZipFile(path, "w", compression) as new:
        for name, data in members.items():
            data = change(name.partition("/")[2], data) if change else data
            if data is not None:
                new.writestr(name, data)
        new.comment = comment
    return path


def directory_entry(raw, member):
    """Where the central directory entry of ``member`` (a name below the
    archive's folder) begins in the archive's bytes ``raw``."""
    end = raw.rindex(b"PK\x05\x06")
    count, _, at = struct.unpack_from("<HII", raw, end + 10)
    if count == 0xFFFF or at == 0xFFFFFFFF:  # torch.save writes zip64 end records
        at = struct.unpack_from("<Q", raw, raw.rindex(b"PK\x06\x06") + 48)[0]
    while raw[at:at + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", raw, at + 28)
        if raw[at + 46:at + 46 + name_length].decode().partition("/")[2] == member:
            return at
        at += 46 + name_length + extra_length + comment_length
    raise AssertionError(member)


def patched(raw, at, fmt, value):
    raw = bytearray(raw)
    struct.pack_into(fmt, raw, at, value)
    return bytes(raw)


def byte_flipped(raw, at):
    raw = bytearray(raw)
    raw[at] ^= 0x01
    return bytes(raw)


def data_at(raw, member):
    """Where ``member``'s bytes begin in ``raw``."""
    header = struct.unpack_from("<I", raw, directory_entry(raw, member) + 42)[0]
    name_length, extra_length = struct.unpack_from("<HH", raw, header + 26)
    return header + 30 + name_length + extra_length


def big_endian(name, data):
    if name == "byteorder":
        return b"big"
    if name.startswith("data/"):
        return np.frombuffer(data, "<f4").astype(">f4").tobytes()
    return data


def with_zip64_end(raw):
    """``raw`` with the zip64 end record and locator Python's zipfile would
    write for an archive too large for the plain one, pointing at its
    directory, and the plain end record saying to look there."""
    end = raw.rindex(b"PK\x05\x06")
    count, size, at = struct.unpack_from("<HII", raw, end + 10)
    record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count,
                         size, at)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
    plain = raw[end:end + 8] + struct.pack("<HHIIH", 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                                           0xFFFFFFFF, 0)
    return raw[:end] + record + locator + plain


def zip64_local_headers(good, path):
    """The archive written again with zip64 local headers (sizes 0xFFFFFFFF
    there, and a zip64 extra field), as zipfile writes a member it is told
    may grow past 4 GiB."""
    with zipfile.ZipFile(good) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            with new.open(info.filename, "w", force_zip64=True) as member:
                member.write(old.read(info.filename))
    return path


READ_RIGHT = {
    "stored again by zipfile (sizes in the local headers)":
        lambda good, path: rezipped(good, path),
    "with an archive comment": lambda good, path: rezipped(good, path, comment=b"a comment"),
    "with no byteorder member (little-endian, as torch.load assumes)":
        lambda good, path: rezipped(good, path, change=lambda n, d: None if n == "byteorder" else d),
    "saved big-endian (byteorder 'big', each weight's bytes swapped)":
        lambda good, path: rezipped(good, path, change=big_endian),
    "with zip64 end records": lambda good, path: path.write_bytes(
        with_zip64_end(rezipped(good, path).read_bytes())),
    "with zip64 local headers": zip64_local_headers,
}


@pytest.mark.parametrize("case", list(READ_RIGHT))
def test_archives_written_another_way_are_read_right(case, tmp_path):
    good = tmp_path / "good.pt"
    small_net().save(good)
    path = tmp_path / "other.pt"
    READ_RIGHT[case](good, path)
    net, original = network3.load(path), network3.load(good)
    for a, b in zip(net.params, original.params):
        assert torch.equal(a, b)
    x = np.random.default_rng(2).random((5, 4), dtype=np.float32)
    np.testing.assert_array_equal(net.predict(x), small_net().predict(x))


def cut(raw, at):
    return raw[:at]


REFUSED = {
    "re-zipped with deflate": (lambda good, path: rezipped(good, path, zipfile.ZIP_DEFLATED),
                               r"its member 'data.pkl' is compressed \(zip method 8\), where "
                               r"Network.save stores every member as it is; save the network "
                               r"again, or zip it with no compression \(zip -0\)"),
    "re-zipped with bzip2": (lambda good, path: rezipped(good, path, zipfile.ZIP_BZIP2),
                             r"compressed \(zip method 12\)"),
    "data/0 cut to 4 bytes": (lambda good, path: rezipped(
        good, path, change=lambda n, d: d[:4] if n == "data/0" else d),
        "its member data/0 holds 4 bytes, but the tensor stored there needs 48"),
    "data/1 given 4 bytes more": (lambda good, path: rezipped(
        good, path, change=lambda n, d: d + bytes(4) if n == "data/1" else d),
        "its member data/1 holds 16 bytes, but the tensor stored there needs 12"),
    "data/2 left out": (lambda good, path: rezipped(
        good, path, change=lambda n, d: None if n == "data/2" else d),
        "data.pkl names a member data/2 the archive lacks"),
    "no data.pkl": (lambda good, path: rezipped(
        good, path, change=lambda n, d: None if n == "data.pkl" else d),
        "it has no data.pkl, the member torch.save writes"),
    "a byteorder member saying 'middle'": (lambda good, path: rezipped(
        good, path, change=lambda n, d: b"middle" if n == "byteorder" else d),
        "its byteorder member says neither 'little' nor 'big'"),
    "a member outside the archive's folder": (lambda good, path: stored_archive(
        path, {"archive/data.pkl": b".", "other/data.pkl": b"."}),
        "its members are not in one folder"),
    "a weight's byte changed": (lambda good, path: path.write_bytes(byte_flipped(
        good.read_bytes(), data_at(good.read_bytes(), "data/0") + 5)),
        "its member 'data/0' is damaged: its CRC-32 is wrong"),
    "a byte of data.pkl changed": (lambda good, path: path.write_bytes(byte_flipped(
        good.read_bytes(), data_at(good.read_bytes(), "data.pkl") + 100)),
        "its member 'data.pkl' is damaged: its CRC-32 is wrong"),
    "the directory entry of data/1 pointing at data/0's header": (
        lambda good, path: path.write_bytes(patched(
            good.read_bytes(), directory_entry(good.read_bytes(), "data/1") + 42, "<I",
            struct.unpack_from("<I", good.read_bytes(),
                               directory_entry(good.read_bytes(), "data/0") + 42)[0])),
        "its member '(data/0|data/1)' is not where the zip directory says"),
    "the directory entry of data/0 pointing 64 bytes on": (
        lambda good, path: path.write_bytes(patched(
            good.read_bytes(), directory_entry(good.read_bytes(), "data/0") + 42, "<I",
            struct.unpack_from("<I", good.read_bytes(),
                               directory_entry(good.read_bytes(), "data/0") + 42)[0] + 64)),
        "its member 'data/0' is not where the zip directory says"),
    "data/0 flagged as encrypted": (lambda good, path: path.write_bytes(patched(
        good.read_bytes(), directory_entry(good.read_bytes(), "data/0") + 8, "<H", 0x809)),
        "its member 'data/0' is encrypted"),
    "cut short by one byte": (lambda good, path: path.write_bytes(good.read_bytes()[:-1]),
                              "it is not a zip archive, or is cut short: no zip directory "
                              "ends it"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_damaged_or_compressed_archives_are_refused_in_one_line(case, tmp_path):
    good = tmp_path / "good.pt"
    small_net().save(good)
    path = tmp_path / "bad.pt"
    make, message = REFUSED[case]
    make(good, path)
    with pytest.raises(NetworkFileError) as error:
        network3.load(path)
    text = str(error.value)
    assert text.startswith(f"{path}: not a network saved by network3 (") and "\n" not in text
    assert re.search(message, text), text


def test_the_limits_on_data_pkl_and_the_directory(saved, tmp_path, monkeypatch):
    path = tmp_path / "net.pt"
    small_net().save(path)
    monkeypatch.setattr(network3, "MAX_PICKLE_BYTES", 100)
    with pytest.raises(NetworkFileError, match=r"its data.pkl takes \d{3} bytes, more than "
                                               r"the 100 a network file's may take"):
        network3.load(path)
    monkeypatch.setattr(network3, "MAX_PICKLE_BYTES", 1 << 20)
    monkeypatch.setattr(network3, "MAX_ZIP_MEMBERS", 9)
    with pytest.raises(NetworkFileError, match=r"its zip directory lists 10 members in "
                                               r"[\d,]+ bytes, more than a network file has"):
        network3.load(path)


def test_every_one_bit_change_is_refused_or_loads_the_same_network(tmp_path):
    """The bytes no check covers (times, dates, version numbers, attributes
    and padding in the zip headers) change nothing that is loaded."""
    good = tmp_path / "good.pt"
    small_net().save(good)
    raw, original = good.read_bytes(), network3.load(good)
    path = tmp_path / "changed.pt"
    refused = same = 0
    for at in range(len(raw)):
        path.write_bytes(byte_flipped(raw, at))
        try:
            net = network3.load(path)
        except NetworkFileError as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e) and len(str(e)) < 400
            refused += 1
            continue
        assert (net.mini_batch_size, net.seed) == (original.mini_batch_size, original.seed)
        assert [type(l) for l in net.layers] == [type(l) for l in original.layers]
        assert all(torch.equal(a, b) for a, b in zip(net.params, original.params)), at
        same += 1
    assert refused > len(raw) // 2 and same > 0


def test_every_cut_short_file_is_refused(tmp_path):
    good = tmp_path / "good.pt"
    small_net().save(good)
    raw, path = good.read_bytes(), tmp_path / "cut.pt"
    for length in range(len(raw)):
        path.write_bytes(raw[:length])
        with pytest.raises(NetworkFileError, match="not a network saved by network3"):
            network3.load(path)


def deflated_bomb(path, declared):
    """A network file whose data.pkl is deflated: a pickle of an empty dict,
    then zeros up to ``declared`` bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("archive/data.pkl", "w") as member:
            member.write(pickle.PROTO + b"\x02" + pickle.EMPTY_DICT + pickle.STOP)
            block = bytes(16 << 20)
            for _ in range(declared // len(block)):
                member.write(block)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
    return path


def test_a_deflated_data_pkl_of_512_mib_is_refused_before_it_is_unpacked(tmp_path):
    path = deflated_bomb(tmp_path / "bomb.pt", 512 << 20)
    assert path.stat().st_size < 4 << 20
    last = read_in_child(path)
    assert last.startswith(f"REFUSED {path}: not a network saved by network3 (its member "
                           f"'data.pkl' is compressed (zip method 8)")


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
