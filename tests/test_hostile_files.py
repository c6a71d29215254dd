"""Hostile and faulty data files, table by table.

Every table holds files an attacker or an unlucky user could hand to
``mnist_loader.load_data`` / ``safe_files.read_pickle`` / ``read_idx`` or
to a writer.  Cases that could crash the interpreter (forged dtypes and
array states, which numpy itself does not check) and the size bombs run in
a child process, the bombs under an address-space limit, so that a crash
or a runaway allocation fails the test instead of the test run.

The tables:
- FORGED: pickles that would make numpy read or write memory they do not
  own, or call something other than an array builder;
- BOMBS: pickles and gzips that declare or inflate to more than any data
  file needs, read under a memory limit;
- LEGITIMATE: files of protocols 0-5, empty arrays, Fortran order and
  either byte order, which must load exactly;
- BAD_VALUES: well-formed pickles with values the book's data cannot have;
- BAD_GZIP: damaged gzip framing (CRC, length, trailing data);
- the writers' cases: a writer killed with SIGKILL, a full disk, a folder
  that cannot be written.
"""

import codecs
import gzip
import json
import os
import pickle
import re
import signal
import stat
import subprocess
import sys
import zlib
from pathlib import Path
from struct import pack

import numpy as np
import pytest

import messages
import mnist_files
import mnist_loader
import safe_files
from safe_files import DataFileError

SRC = Path(__file__).resolve().parent.parent / "src"
multiarray = np._core.multiarray
numeric = np._core.numeric


#### Building forged pickles

class Forged:
    """Pickles as whatever ``__reduce__`` value it is given, however forged."""

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        return self.value


def dtype(name, state):
    return Forged((np.dtype, (name, False, True), state))


def plain(byte_order="<"):
    return (3, byte_order, None, None, None, -1, -1, 0)


def array(shape, dt, data, fortran=False):
    return Forged((multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                   (1, shape, dt, fortran, data)))


OBJECT_FLAGS = (3, "|", None, None, None, 8, 8, 0x3F)  # an object dtype's flags
FIELD_AT_4096 = (3, "|", None, ("a",), {"a": (np.dtype("u1"), 4096)}, 4, 1, 0x10)

FORGED = {
    "int64 dtype given an object dtype's flags":
        (array((3,), dtype("i8", OBJECT_FLAGS), b"A" * 24), "not a plain dtype"),
    "object dtype by name":
        (array((3,), dtype("O8", OBJECT_FLAGS), b"A" * 24), "not a plain bool"),
    "void dtype with a field at byte 4096":
        (array((4,), dtype("V4", FIELD_AT_4096), bytes(16)), "not a plain bool"),
    "uint32 dtype given a field at byte 4096":
        (array((4,), dtype("u4", FIELD_AT_4096), bytes(16)),
         "not a plain dtype|opcode .* is not used"),
    "float dtype with a huge subarray":
        (array((1,), dtype("f8", (3, "<", (np.dtype("f8"), (10 ** 6,)), None, None,
                                  -1, -1, 0)), bytes(8)), "not a plain dtype"),
    "float dtype with its item size changed":
        (array((2,), dtype("f8", (3, "<", None, None, None, 4096, 8, 0)), bytes(16)),
         "not a plain dtype"),
    "scalar of an int64 dtype with object flags":
        (Forged((multiarray.scalar, (dtype("i8", OBJECT_FLAGS), b"A" * 8))),
         "not a plain dtype"),
    "scalar of the object dtype":
        (Forged((multiarray.scalar, (np.dtype(object), b"A" * 8))), "not a plain bool"),
    "array whose data is a list of objects":
        (array((2,), dtype("i8", plain()), [1, 2]), "needs 16 bytes.*gives list"),
    "array with fewer bytes than its shape":
        (array((1000, 784), dtype("f4", plain()), b""),
         r"needs 3,136,000 bytes of data; the file gives 0 bytes"),
    "array with more bytes than its shape":
        (array((3,), dtype("i8", plain()), bytes(100)), "needs 24 bytes.*gives 100"),
    "2,000,000 images declared without their bytes":
        (array((2000000, 784), dtype("f4", plain()), b""), "would take 6,272,000,000 bytes"),
    "negative dimension":
        (array((-1,), dtype("i8", plain()), b""), "not a tuple of sizes"),
    "protocol-5 array given a forged state afterwards":
        (Forged((numeric._frombuffer, (bytes(24), dtype("i8", plain()), (3,), "C"),
                 (1, (3,), dtype("O8", OBJECT_FLAGS), False, b""))),
         "not a plain bool|other than a new array"),
    "_reconstruct of another class":
        (Forged((multiarray._reconstruct, (np.recarray, (0,), b"b"))),
         "refusing to load numpy"),
    "_codecs.encode with another codec":
        (Forged((codecs.encode, ("text", "rot13"))), "latin1 text into bytes"),
    "bytes(10**10)": (Forged((bytes, (10 ** 10,))), "only allowed with no argument"),
    "builtins.eval": (Forged((eval, ("1 + 1",))), "refusing to load builtins.eval"),
    "numpy.load": (Forged((np.load, ("/etc/passwd",))), "refusing to load numpy.load"),
    "a dict": ({"a": 1}, "opcode .* is not used by data files"),
    "an instance of a class": (Path("/"), "refusing to load"),
}

# A child process reads one file and says what happened; a crash shows as
# a negative return code, a runaway allocation as a MemoryError.
CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import mnist_files, safe_files
limit = int(sys.argv[4])
if limit:
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + limit, size + limit))
read = {"read_pickle": safe_files.read_pickle, "read_idx": mnist_files.read_idx}[sys.argv[2]]
try:
    read(sys.argv[3])
    print("LOADED")
except safe_files.DataFileError as e:
    print("REFUSED", e)
"""


def read_in_child(path, reader="read_pickle", memory_limit=0, timeout=120):
    done = subprocess.run([sys.executable, "-c", CHILD, str(SRC), reader, str(path),
                           str(memory_limit)], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"the reader died ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def gz(path, raw):
    path.write_bytes(gzip.compress(raw))
    return path


@pytest.mark.parametrize("case", list(FORGED))
def test_forged_pickles_are_refused_without_touching_memory(case, tmp_path):
    obj, message = FORGED[case]
    path = gz(tmp_path / "forged.pkl.gz", pickle.dumps(obj, protocol=4))
    out = read_in_child(path)
    assert out.startswith("REFUSED") and str(path) in out, out
    assert re.search(message, out), out


def test_the_forged_cases_are_real_dangers_for_plain_pickle(tmp_path):
    """The table is worth its name: plain pickle.loads accepts the field at
    byte 4096 of a 4-byte item, so an array of zero bytes reads memory it
    does not own (or the reader dies)."""
    raw = pickle.dumps(array((4,), dtype("u4", FIELD_AT_4096), bytes(16)), protocol=4)
    code = ("import pickle, sys, numpy as np; a = pickle.loads(sys.stdin.buffer.read()); "
            "print('field at', a.dtype.fields['a'][1])")
    done = subprocess.run([sys.executable, "-c", code], input=raw, capture_output=True)
    assert done.returncode < 0 or done.stdout == b"field at 4096\n", done


#### Size bombs, read under a memory limit

MIB = 1 << 20
ZEROS_16_MIB = zlib.compress(bytes(16 * MIB), 9)  # one deflate of 16 MiB of zeros


def gzip_member(raw):
    return gzip.compress(raw, compresslevel=1)


def zeros_member():
    """A gzip member of 16 MiB of zeros, made from the one deflate above."""
    body = ZEROS_16_MIB[2:-4]  # the raw deflate stream inside the zlib wrapper
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body
            + pack("<II", zlib.crc32(bytes(16 * MIB)), 16 * MIB))


def opcodes(*parts):
    return b"".join(parts)


PROTO4 = pickle.PROTO + b"\x04"

BOMBS = {
    "BINBYTES8 declaring 1 TiB":
        (gzip_member(opcodes(PROTO4, pickle.BINBYTES8, pack("<Q", 1 << 40), b"x" * 10)),
         "declares more than"),
    "BYTEARRAY8 declaring 8 GiB":
        (gzip_member(opcodes(PROTO4, pickle.BYTEARRAY8, pack("<Q", 8 << 30), b"x")),
         "declares more than"),
    "BINUNICODE8 declaring 1 TiB":
        (gzip_member(opcodes(PROTO4, pickle.BINUNICODE8, pack("<Q", 1 << 40), b"x")),
         "declares more than"),
    "64 MiB of NONE opcodes":
        (gzip_member(PROTO4 + pickle.NONE * (64 * MIB) + pickle.STOP), "pickle steps"),
    "64 MiB of EMPTY_LIST opcodes":
        (gzip_member(PROTO4 + pickle.EMPTY_LIST * (64 * MIB) + pickle.STOP), "pickle steps"),
    "a 640 MiB string within the budget but beyond the memory limit":
        (gzip_member(opcodes(PROTO4, pickle.BINBYTES8, pack("<Q", 640 * MIB)))
         + zeros_member() * 40 + gzip_member(pickle.STOP), "too large to load into memory"),
    "shared references nested 17 deep (a billion laughs)":
        (gzip_member(opcodes(PROTO4, pickle.EMPTY_TUPLE,
                             *[pickle.MEMOIZE + pickle.MARK
                               + (pickle.BINGET + bytes([i])) * 50 + pickle.TUPLE
                               for i in range(17)], pickle.STOP)),
         "nested more than 16 deep"),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_pickle_bombs_are_refused_under_a_memory_limit(case, tmp_path):
    raw, message = BOMBS[case]
    path = tmp_path / "bomb.pkl.gz"
    path.write_bytes(raw)
    out = read_in_child(path, memory_limit=512 * MIB)
    assert out.startswith("REFUSED") and str(path) in out and message in out, out


def idx_header(*dims):
    return bytes([0, 0, 8, len(dims)]) + b"".join(pack(">I", d) for d in dims)


IDX_BOMBS = {
    # A known name: decompression stops at the file's known size.
    "train-labels-idx1-ubyte.gz inflating to 256 MiB":
        ("train-labels-idx1-ubyte.gz", idx_header(60000), 256 * MIB,
         "decompresses to more than the 60,008 bytes"),
    # Any other name: at the size its header declares.
    "an IDX file declaring 100 bytes that inflates to 256 MiB":
        ("small-idx1-ubyte.gz", idx_header(100), 256 * MIB,
         "decompresses to more than the 108 bytes"),
    "an IDX file declaring 2**32 x 2**32 bytes":
        ("huge-idx2-ubyte.gz", idx_header(2 ** 32 - 1, 2 ** 32 - 1), 0,
         "declares an array of shape"),
}


@pytest.mark.parametrize("case", list(IDX_BOMBS))
def test_idx_bombs_stop_at_the_size_the_file_can_have(case, tmp_path):
    name, header, zeros, message = IDX_BOMBS[case]
    deflate = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = bytes(16 * MIB)
    raw = deflate.compress(header) + b"".join(
        deflate.compress(block) for _ in range(zeros // len(block))) + deflate.flush()
    path = tmp_path / name
    path.write_bytes(raw)
    out = read_in_child(path, reader="read_idx", memory_limit=128 * MIB)
    assert out.startswith("REFUSED") and str(path) in out and message in out, out


#### Values whose text has no end
# A tuple of 30 references to a tuple of 30 references to ..., twelve deep,
# is a pickle of a few hundred bytes standing for 30**12 values.  A reader
# that formatted it for a message, even to cut the text short afterwards,
# would run out of memory; one that hashed it (a set lookup does) would
# never finish.  Every reader names a value from a file with
# messages.describe: its type and size, and a preview of a few dozen
# characters.  Each file is read in a child under a 256 MiB allowance and
# a 60 s limit, and must be refused in one short line.  A JSON file cannot
# share references, so its values are only as large as its text, but its
# messages are held to the same rule.

def nested(depth=12, width=30):
    value = ()
    for _ in range(depth):
        value = (value,) * width
    return value


READER_CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import mnist_loader, network, network2
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
limit = size + (256 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
read = {"load_data": mnist_loader.load_data, "network.load": network.load,
        "network2.load": network2.load}[sys.argv[2]]
try:
    read(sys.argv[3])
    print("LOADED")
except ValueError as e:
    print("REFUSED", e)
"""


def refusal(reader, path):
    """What the READER_CHILD says of ``path``, checked to be one line of refusal."""
    done = subprocess.run([sys.executable, "-c", READER_CHILD, str(SRC), reader, str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"the reader died ({done.returncode}): {done.stderr[-2000:]}"
    out = done.stdout
    assert out.startswith("REFUSED") and str(path) in out and out.count("\n") == 1, out[:2000]
    assert len(out) < 400, out[:2000]
    return out


NESTED = {
    "a dtype named by it": (Forged((np.dtype, (nested(), False, True))),
                            r"dtype a tuple of 30 items: \(\(\(\(\(\(\(\(\(\(\(\(\(\), \(\), "),
    "an array's shape": (array(nested(), dtype("f4", plain()), b""),
                         r"an array's shape a tuple of 30 items: \(\(\(\(.*\.\.\. is not a tuple"),
    "a protocol-5 array's order":
        (Forged((numeric._frombuffer, (bytes(4), dtype("f4", plain()), (1,), nested()))),
         r"an array's order a tuple of 30 items: \(\(\("),
    "a dtype's byte order (a set lookup would hash it)":
        (array((1,), dtype("f4", (3, nested(), None, None, None, -1, -1, 0)), bytes(4)),
         "the state of dtype float32 is not a plain dtype's"),
    "the whole file": (nested(), r"expected a triple \(training, validation, test\), "
                                 r"found tuple"),
    "the images of a list-of-arrays file":
        (((list(nested(depth=11)), [0] * 30),) * 3,
         "a list of training images must hold arrays of 784 real pixels, found tuple"),
}


@pytest.mark.parametrize("case", list(NESTED))
def test_a_data_pickle_of_values_nested_deep_is_refused_in_one_line(case, tmp_path):
    obj, message = NESTED[case]
    path = gz(tmp_path / "nested.pkl.gz", pickle.dumps(obj, protocol=2))
    assert path.stat().st_size < 2000
    assert re.search(message, refusal("load_data", path))


def network_json(**changes):
    return json.dumps({"sizes": [2, 1], "weights": [[[1.0, 2.0]]], "biases": [[[0.0]]],
                       "cost": "QuadraticCost", **changes})


JSON_VALUES = {
    "sizes of a million zeros": ("network2.load", network_json(sizes=[0] * 1_000_000),
                                 "sizes must list at least two positive layer sizes, such as "
                                 r"\[784, 30, 10\]; got a list of 1,000,000 items: \[0, 0, "),
    "a million sizes, and no weights for them":
        ("network.load", network_json(sizes=[1] * 1_000_000),
         "'weights' must be a list of 999999 matrices for sizes a list of 1,000,000 items"),
    "a cost of a million numbers": ("network.load", network_json(cost=[[0] * 10] * 100_000),
                                    "'cost' must be a cost class name, found a list of "
                                    r"100,000 items: \[\[0, 0, "),
    "a cost named in three million letters":
        ("network2.load", network_json(cost="x" * 3_000_000),
         "unknown cost a string of 3,000,000 characters: 'xxx"),
}


@pytest.mark.parametrize("case", list(JSON_VALUES))
def test_a_network_json_value_is_named_by_its_type_and_size(case, tmp_path):
    reader, text, message = JSON_VALUES[case]
    path = tmp_path / "net.json"
    path.write_text(text)
    assert re.search(message, refusal(reader, path))


@pytest.mark.parametrize("value, text", [
    ("0.5", "'0.5'"), (0.5, "0.5"), (None, "None"), (True, "True"), (float("nan"), "nan"),
    ([784, 0, 10], "[784, 0, 10]"), ((1,), "(1,)"), ({"a": [1, b"2"]}, "{'a': [1, b'2']}"),
    (np.int64(3), "np.int64(3)"), (2 ** 100, str(2 ** 100)),
    (2 ** 200, "an integer of 201 bits"), ([2 ** 200], "a list of 1 item: [..."),
    (np.zeros((3, 4)), "an array of shape (3, 4) and dtype float64"),
    (Path("/"), "a PosixPath"), (object(), "an object"),
    ("x" * 100, "a string of 100 characters: '" + "x" * 59 + "..."),
    (list(range(1000)), "a list of 1,000 items: [" + ", ".join(map(str, range(17))) + ", ..."),
    (nested(), "a tuple of 30 items: " + "(" * 13 + "), " + "(), " * 8 + "..."),
])
def test_describe_shows_a_short_value_whole_and_names_any_other(value, text):
    assert messages.describe(value) == text


def test_describe_error_gives_one_line_and_names_a_keys_value():
    assert messages.describe_error(ValueError("first\nsecond")) == "ValueError: first"
    assert messages.describe_error(KeyError(nested())).startswith(
        "KeyError: a tuple of 30 items: ((((")
    assert messages.describe_error(OSError(2, "No such file", "x")) == \
        "FileNotFoundError: [Errno 2] No such file: 'x'"


#### Files that must load

def book_triple(n=3, x_dtype=np.float32, y_dtype=np.int64, order="C"):
    rng = np.random.default_rng(n)
    x = np.asarray(rng.random((n, 784)), dtype=x_dtype, order=order)
    return tuple((x, np.arange(n, dtype=y_dtype) % 10) for _ in range(3))


LEGITIMATE = {
    "the book's triple": book_triple(),
    "empty data sets": book_triple(0),
    "Fortran-ordered images": book_triple(order="F"),
    "big-endian images and labels": book_triple(x_dtype=">f4", y_dtype=">i8"),
    "float64 images, uint8 labels": book_triple(x_dtype=np.float64, y_dtype=np.uint8),
    "an empty array alone": np.zeros(0, np.float32),
    "a bool array": np.array([True, False]),
    "numbers, strings and numpy scalars": [1, 2.5, -3, "text", b"bytes", None, True,
                                           np.int64(7), np.float32(0.5)],
}


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("case", list(LEGITIMATE))
def test_legitimate_pickles_of_every_protocol_load_exactly(case, protocol, tmp_path):
    obj = LEGITIMATE[case]
    path = gz(tmp_path / "good.pkl.gz", pickle.dumps(obj, protocol=protocol))
    loaded = safe_files.read_pickle(path)
    expected = pickle.loads(pickle.dumps(obj, protocol=protocol))
    flat_loaded, flat_expected = flatten(loaded), flatten(expected)
    assert len(flat_loaded) == len(flat_expected)
    for a, b in zip(flat_loaded, flat_expected):
        assert type(a) is type(b)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.flags.writeable
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b
    if case != "numbers, strings and numpy scalars" and isinstance(obj, tuple):
        for (x, y), (ex, ey) in zip(mnist_loader.load_data(path), obj):
            assert x.dtype == np.float32 and y.dtype == np.int64
            np.testing.assert_array_equal(x, ex.astype(np.float32))
            np.testing.assert_array_equal(y, ey)


def flatten(obj):
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in flatten(item)]
    return [obj]


#### Well-formed files with values the book's data cannot have

def with_part(**changes):
    (x, y), validation, test = book_triple()
    x, y = changes.get("x", x), changes.get("y", y)
    return ((x, y), validation, test)


def pixels(value, dtype=np.float32):
    x = np.zeros((3, 784), dtype=dtype)
    x[1, 5] = value
    return x


BAD_VALUES = {
    "label -1": (with_part(y=np.array([0, -1, 2])), "labels must be digits 0-9.*-1"),
    "label 10": (with_part(y=np.array([0, 10, 2])), "labels must be digits 0-9.*10"),
    "float labels": (with_part(y=np.array([0.0, 1.0, 2.0])), "labels are float64, not integers"),
    "bool labels": (with_part(y=np.array([True, False, True])), "labels are bool"),
    "NaN pixel": (with_part(x=pixels(np.nan)), "finite intensities in \\[0, 1\\]"),
    "infinite pixel": (with_part(x=pixels(np.inf)), "finite intensities"),
    "pixel 1e30": (with_part(x=pixels(1e30)), "finite intensities"),
    "pixel -0.5": (with_part(x=pixels(-0.5)), "finite intensities"),
    "pixel 255 (bytes, not intensities)": (with_part(x=pixels(255, np.uint8)),
                                           "finite intensities"),
    "complex pixels": (with_part(x=pixels(0.5, np.complex64)), "'c8' is not a plain"),
    "images as a list of arrays": (with_part(x=list(np.zeros((3, 784)))),
                                   r"must be numpy arrays \(or lists of them\), found list"),
    "labels as a tuple": (with_part(y=(0, 1, 2)), "must be numpy arrays.*tuple"),
    "images of 783 pixels": (with_part(x=np.zeros((3, 783))), r"shape \(3, 783\)"),
    "labels of the wrong length": (with_part(y=np.arange(2)), r"labels have shape \(2,\)"),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_values_are_refused_naming_the_file_and_the_problem(case, tmp_path):
    data, message = BAD_VALUES[case]
    path = tmp_path / "odd.pkl.gz"
    safe_files.write_pickle(path, data)
    with pytest.raises(DataFileError, match=message) as error:
        mnist_loader.load_data(path)
    assert str(path) in str(error.value)


#### Damaged gzip framing

def damaged(raw, how):
    if how == "crc":
        return raw[:-8] + bytes([raw[-8] ^ 0xFF]) + raw[-7:]
    if how == "length":
        return raw[:-4] + bytes([raw[-4] ^ 0xFF]) + raw[-3:]
    if how == "trailing garbage":
        return raw + b"this is not gzip"
    if how == "truncated":
        return raw[:len(raw) // 2]
    raise AssertionError(how)


BAD_GZIP = ["crc", "length", "trailing garbage", "truncated"]


@pytest.mark.parametrize("how", BAD_GZIP)
def test_damaged_gzip_pickles_are_refused(how, tmp_path):
    path = tmp_path / "data.pkl.gz"
    path.write_bytes(damaged(gzip.compress(pickle.dumps(book_triple(), protocol=4)), how))
    with pytest.raises(DataFileError, match="corrupt or truncated") as error:
        mnist_loader.load_data(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("how", BAD_GZIP)
def test_damaged_gzip_idx_files_are_refused(how, tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    good = (mnist_files.data_dir() / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(damaged(good, how))
    with pytest.raises(DataFileError, match="corrupt or truncated gzip") as error:
        mnist_files.read_idx(path)
    assert str(path) in str(error.value)


def test_pickle_followed_by_more_data_inside_the_gzip_is_refused(tmp_path):
    path = gz(tmp_path / "data.pkl.gz", pickle.dumps(book_triple(), protocol=4) + b"more")
    with pytest.raises(DataFileError, match="more data after the pickle"):
        mnist_loader.load_data(path)


#### Writers: killed, out of room, or with nowhere to write

WRITER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import safe_files
with safe_files.atomic_path(sys.argv[2]) as tmp:
    tmp.write_bytes(b"half a file")
    print("writing", flush=True)
    time.sleep(60)
"""


def start_writer(target):
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(SRC), str(target)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "writing\n"
    return child


def test_a_writer_killed_with_sigkill_leaves_debris_the_next_writer_removes(tmp_path):
    target = tmp_path / "mnist.pkl.gz"
    for _ in range(3):  # each writer removes the one killed before it
        child = start_writer(target)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        debris = [p.name for p in tmp_path.iterdir()]
        assert len(debris) == 1 and debris[0].startswith(f".mnist.pkl.gz.{child.pid}-")
    (tmp_path / "other.txt.123.part").write_bytes(b"not a temporary of the target")
    safe_files.write_pickle(target, book_triple())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.pkl.gz", "other.txt.123.part"]
    assert mnist_loader.load_data(target)[0][0].shape == (3, 784)


def test_a_running_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "net.json"
    child = start_writer(target)
    try:
        with safe_files.atomic_path(target) as tmp:
            tmp.write_text("{}")
        names = sorted(p.name for p in tmp_path.iterdir())
        assert "net.json" in names and len(names) == 2  # the child's is still there
    finally:
        child.kill()
        child.wait(timeout=30)


FULL_DISK = r"""
import resource, signal, sys
sys.path.insert(0, sys.argv[1])
import numpy as np, safe_files
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))
try:
    safe_files.write_pickle(sys.argv[2], np.random.default_rng(0).random(10 ** 6), 0)
except safe_files.DataFileError as e:
    print("ERROR", isinstance(e, OSError), e)
"""


def test_a_full_disk_gives_one_error_naming_the_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "big.pkl.gz"
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(SRC), str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ERROR True {target}: could not be written"), done.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_made_gives_one_error_naming_the_file(tmp_path):
    (tmp_path / "a-file").write_text("")
    target = tmp_path / "a-file" / "sub" / "out.pkl.gz"
    with pytest.raises(DataFileError, match=f"{target}: cannot write here") as error:
        safe_files.write_pickle(target, book_triple())
    assert isinstance(error.value, OSError)


#### Writers: what is already at the path
# Every save in the project goes through safe_files.atomic_path; each one
# is tried here.  Only fifos made in tmp_path stand for the devices: no test
# goes near a real /dev node.

WRITERS = ["write_pickle", "write_json", "network.save", "network2.save",
           "network3.save", "save_png"]


def save_with(writer, path):
    """Save something to ``path`` with ``writer``; return a function that
    reads it back (through whatever path it is given) and checks it."""
    if writer == "write_pickle":
        safe_files.write_pickle(path, book_triple())
        return lambda p: mnist_loader.load_data(p)[0][0].shape == (3, 784)
    if writer == "write_json":
        safe_files.write_json(path, {"a": 1})
        return lambda p: Path(p).read_text() == '{"a": 1}'
    if writer in ("network.save", "network2.save"):
        import network
        import network2
        module = network if writer == "network.save" else network2
        module.Network([2, 3, 2], seed=0).save(path)
        return lambda p: module.load(p).sizes == [2, 3, 2]
    if writer == "network3.save":
        import network3
        network3.Network([network3.FullyConnectedLayer(n_in=4, n_out=3),
                          network3.SoftmaxLayer(n_in=3, n_out=2)], 1).save(path)
        return lambda p: network3.load(p).layers[0].n_out == 3
    if writer == "save_png":
        import plots
        fig, ax = plots.figure()
        ax.plot([0, 1])
        plots.save_png(fig, path)
        return lambda p: Path(p).read_bytes().startswith(b"\x89PNG")
    raise AssertionError(writer)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_save_onto_a_fifo_is_refused_and_the_fifo_kept(writer, tmp_path):
    fifo = tmp_path / "net"
    os.mkfifo(fifo)
    with pytest.raises(DataFileError) as error:
        save_with(writer, fifo)
    assert str(error.value) == (f"{fifo}: is a fifo (named pipe), not a regular file; "
                                f"refusing to write over it")
    assert isinstance(error.value, OSError)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["net"]


@pytest.mark.parametrize("writer", ["write_pickle", "network.save", "network3.save"])
def test_a_save_onto_a_folder_is_refused_and_the_folder_kept(writer, tmp_path):
    folder = tmp_path / "out"
    (folder / "inside").mkdir(parents=True)
    with pytest.raises(DataFileError, match=f"^{folder}: is a folder, not a regular "
                                            f"file; refusing to write over it$"):
        save_with(writer, folder)
    assert os.listdir(tmp_path) == ["out"] and os.listdir(folder) == ["inside"]


def test_a_save_through_a_link_to_a_fifo_is_refused(tmp_path):
    fifo, link = tmp_path / "fifo", tmp_path / "net.json"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    with pytest.raises(DataFileError, match=f"^{link}: links to {fifo}, which is a fifo"):
        safe_files.write_json(link, {})
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["fifo", "net.json"]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_save_onto_a_symlink_writes_through_and_keeps_the_mode(writer, tmp_path):
    """The link stays a link; the file it points to (in another folder
    here) gets the new contents and keeps its permission bits; no
    temporary is left in either folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real, link = elsewhere / "real", tmp_path / "link"
    real.write_bytes(b"old contents")
    real.chmod(0o600)
    link.symlink_to(real)
    check = save_with(writer, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert check(real) and check(link)
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert os.listdir(tmp_path / "elsewhere") == ["real"]
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "link"]


def test_a_save_onto_a_dangling_symlink_makes_the_file_it_names(tmp_path):
    link = tmp_path / "net.json"
    link.symlink_to("made.json")
    safe_files.write_json(link, [1])
    assert link.is_symlink() and (tmp_path / "made.json").read_text() == "[1]"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444, 0o755])
def test_a_replaced_file_keeps_its_permission_bits(mode, tmp_path):
    target = tmp_path / "data.pkl.gz"
    target.write_bytes(b"old")
    target.chmod(mode)
    safe_files.write_pickle(target, book_triple())
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert mnist_loader.load_data(target)[0][0].shape == (3, 784)


def test_a_new_file_gets_the_umasks_mode(tmp_path):
    old = os.umask(0o027)
    try:
        safe_files.write_json(tmp_path / "new.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


# A writer in another pid namespace: its temporary's name carries a pid that
# means nothing here (that of a process that has ended), but it holds the lock.
FOREIGN_WRITER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"half a file")
print("writing", flush=True)
time.sleep(60)
"""


def a_dead_pid():
    """The pid of a process that has ended and been reaped."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(ended.stdout)


def test_a_live_writers_temporary_is_kept_whatever_pid_its_name_gives(tmp_path):
    temporary = tmp_path / f".net.json.{a_dead_pid()}-abc123.part"
    child = subprocess.Popen([sys.executable, "-c", FOREIGN_WRITER, str(temporary)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "writing\n"
        safe_files.write_json(tmp_path / "net.json", {"n": 1})
        assert temporary.read_bytes() == b"half a file"  # still there, untouched
    finally:
        child.kill()
        child.wait(timeout=30)
    # Its writer gone, nobody holds the lock: the next writer removes it.
    safe_files.write_json(tmp_path / "net.json", {"n": 2})
    assert sorted(os.listdir(tmp_path)) == ["net.json"]


def test_an_unlocked_temporary_of_another_name_or_a_link_is_not_touched(tmp_path):
    """The sweep looks only at the target's own temporaries, and never
    follows a link named like one."""
    victim, pid = tmp_path / "victim", a_dead_pid()
    victim.write_text("keep me")
    (tmp_path / f".net.json.{pid}-x.part").symlink_to(victim)
    (tmp_path / f".other.json.{pid}-x.part").write_text("another file's")
    safe_files.write_json(tmp_path / "net.json", {})
    assert victim.read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == [f".net.json.{pid}-x.part",
                                            f".other.json.{pid}-x.part", "net.json", "victim"]


#### Network JSON files: the memory they cost
# network.py and network2.py state what reading their JSON may cost: up to
# 50 bytes of memory a byte of text (lists nested deep).  Each file here is
# read in a child allowed 64 bytes a byte (the rest is the allocator's own).

JSON_CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import network, network2
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
limit = size + int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
module = {"network": network, "network2": network2}[sys.argv[2]]
try:
    module.load(sys.argv[3])
    print("LOADED")
except ValueError as e:
    print("REFUSED", e)
"""


def json_text(case, size):
    """About ``size`` bytes of the costliest JSON text of each kind."""
    if case == "lists nested deep":
        unit = "[" * 200 + "]" * 200 + ","
        n = (size - 40) // len(unit)
        return '{"sizes": [1, 1], "junk": [' + (unit * n).rstrip(",") + "]}"
    n = (size - 200) // 10  # a network whose hidden layer takes one input
    rows, flat = ",".join(["[0]"] * n), ",".join(["0"] * n)
    return (f'{{"sizes": [1, {n}, 1], "weights": [[{rows}], [[{flat}]]], '
            f'"biases": [[{rows}], [[0]]], "cost": "QuadraticCost"}}')


@pytest.mark.parametrize("module", ["network", "network2"])
@pytest.mark.parametrize("case, outcome", [("lists nested deep", "REFUSED"),
                                           ("rows of one number", "LOADED")])
def test_network_json_costs_no_more_memory_than_stated(module, case, outcome, tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json_text(case, 8 * MIB))
    done = subprocess.run([sys.executable, "-c", JSON_CHILD, str(SRC), module, str(path),
                           str(64 * path.stat().st_size)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(outcome), done.stdout


def test_a_large_array_is_read_holding_its_bytes_once(tmp_path):
    """A small file that declares a big array (256 MiB of zeros in about
    250 kB) costs the array's size, not twice it: gzip's reads are taken a
    piece at a time, so its decompressed copy never holds the whole."""
    images = np.zeros((256 * MIB // (784 * 4), 784), np.float32)
    other = (np.zeros((1, 784), np.float32), np.zeros(1, np.int64))
    path = tmp_path / "zeros.pkl.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        pickle.dump(((images, np.zeros(len(images), np.int64)), other, other), f, protocol=4)
    assert path.stat().st_size < 2 * MIB
    out = read_in_child(path, memory_limit=256 * MIB + 128 * MIB)
    assert out.startswith("LOADED"), out
