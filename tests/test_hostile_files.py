"""Hostile and faulty data files, table by table.

Every table holds files an attacker or an unlucky user could hand to
``mnist_loader.load_data`` / ``data_files.read_pickle`` / ``read_idx`` or
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
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from struct import pack

import numpy as np
import pytest

import data_files
import mnist_loader
from data_files import DataFileError

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
import data_files
limit = int(sys.argv[4])
if limit:
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + limit, size + limit))
read = getattr(data_files, sys.argv[2])
try:
    read(sys.argv[3])
    print("LOADED")
except data_files.DataFileError as e:
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
    loaded = data_files.read_pickle(path)
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
    data_files.write_pickle(path, data)
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
    good = (data_files.data_dir() / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(damaged(good, how))
    with pytest.raises(DataFileError, match="corrupt or truncated gzip") as error:
        data_files.read_idx(path)
    assert str(path) in str(error.value)


def test_pickle_followed_by_more_data_inside_the_gzip_is_refused(tmp_path):
    path = gz(tmp_path / "data.pkl.gz", pickle.dumps(book_triple(), protocol=4) + b"more")
    with pytest.raises(DataFileError, match="more data after the pickle"):
        mnist_loader.load_data(path)


#### Writers: killed, out of room, or with nowhere to write

WRITER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import data_files
with data_files.atomic_path(sys.argv[2]) as tmp:
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
    data_files.write_pickle(target, book_triple())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.pkl.gz", "other.txt.123.part"]
    assert mnist_loader.load_data(target)[0][0].shape == (3, 784)


def test_a_running_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "net.json"
    child = start_writer(target)
    try:
        with data_files.atomic_path(target) as tmp:
            tmp.write_text("{}")
        names = sorted(p.name for p in tmp_path.iterdir())
        assert "net.json" in names and len(names) == 2  # the child's is still there
    finally:
        child.kill()
        child.wait(timeout=30)


FULL_DISK = r"""
import resource, signal, sys
sys.path.insert(0, sys.argv[1])
import numpy as np, data_files
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))
try:
    data_files.write_pickle(sys.argv[2], np.random.default_rng(0).random(10 ** 6), 0)
except data_files.DataFileError as e:
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
        data_files.write_pickle(target, book_triple())
    assert isinstance(error.value, OSError)
