"""mnist_files
~~~~~~~~~~~

The MNIST files on disk: where they live, how the four original IDX files
are downloaded and checked, and how the book's ``mnist.pkl.gz`` is made
from them and read back.  ``mnist_loader`` keeps only the book's three
functions and asks this module for the data, so a reader of chapter 1
meets the book's loader and nothing else.

- ``data_dir()``: the project's ``data/`` folder, or the folder named by
  the environment variable ``NNDL_DATA_DIR``; no path here depends on the
  current working directory.
- ``fetch`` and ``read_idx``: the four IDX files, downloaded from
  ``MIRRORS`` when missing and accepted only if the SHA-256 of their
  decompressed bytes is the one in ``IDX_FILES``.  A download that fails
  in any way moves on to the next mirror; each is bounded in bytes and in
  time, and decompression stops at the size the file must have.
- ``build_pickle``: the book's ``mnist.pkl.gz``, made from the IDX files.
- ``book_file``, ``read_book_data`` and ``check_book_format``: a file in
  the book's format found, read (by ``safe_files.read_pickle``, which no
  file can steer) and checked to hold the book's triple.

Every problem with a file raises ``safe_files.DataFileError`` naming the
file, and says what to do where something can be done (download again,
rebuild).  Progress of long work (downloads, building ``mnist.pkl.gz``) is
reported in one short line per step on stderr, never on stdout.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import socket
import sys
import threading
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import numpy as np

import safe_files
from safe_files import DataFileError, atomic_path, read_pickle, write_pickle

#### Where the data lives

DATA_DIR_ENV = "NNDL_DATA_DIR"
PICKLE_NAME = "mnist.pkl.gz"

# The four original files, with the SHA-256 of their *decompressed* bytes
# and the shape of the array each one holds.
IDX_FILES: dict[str, tuple[str, tuple[int, ...]]] = {
    "train-images-idx3-ubyte.gz": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        (60000, 28, 28)),
    "train-labels-idx1-ubyte.gz": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        (60000,)),
    "t10k-images-idx3-ubyte.gz": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        (10000, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        (10000,)),
}

# Public copies of the IDX files, tried in this order.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

DOWNLOAD_TIMEOUT = 30    # seconds one read from a mirror may wait
DOWNLOAD_DEADLINE = 300  # seconds one mirror may take to deliver one file


def data_dir() -> Path:
    """The folder holding the MNIST files: $NNDL_DATA_DIR, else <project>/data."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / "data"


#### The book's format

def book_file(filename: str | os.PathLike | None = None) -> Path:
    """The path of a data file in the book's format, ready to read.

    With no ``filename`` this is the data folder's ``mnist.pkl.gz``, built
    from the IDX files first if it does not exist yet.  A named file must
    exist already: nothing here knows how to make it.  A relative name is
    looked up from the current folder and then from ``src/``, where the
    book's sessions run, so ``"../data/mnist_expanded.pkl.gz"`` works from
    anywhere.
    """
    if filename is None:
        path = data_dir() / PICKLE_NAME
        if not path.exists():
            build_pickle(path)
        return path
    path = Path(filename).expanduser()
    candidates = [path] if path.is_absolute() else [path, Path(__file__).resolve().parent / path]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise DataFileError(
        f"{filename}: no such data file; looked for "
        f"{' and '.join(str(c.absolute()) for c in candidates)} (the default MNIST "
        f"file is built by calling load_data() with no argument; "
        f"mnist_expanded.pkl.gz is made by running python expand_mnist.py)")


def read_book_data(path: str | os.PathLike):
    """The triple in the data file ``path``: read safely (``read_pickle``),
    checked and given the book's dtypes (``check_book_format``).  A damaged
    file's message says how to make it again, where that can be done."""
    path = Path(path)
    data = read_pickle(path, advice=_remake_hint(path, rebuilt=True))
    return check_book_format(data, path)


def check_book_format(data: Any, path: Path):
    """Validate a loaded triple and return it with the book's dtypes.

    Each part must be a pair of numpy arrays: images of shape (n, 784)
    holding finite real intensities in [0, 1], and n integer labels 0-9.
    """
    if not (isinstance(data, (tuple, list)) and len(data) == 3):
        raise DataFileError(
            f"{path}: expected a triple (training, validation, test), "
            f"found {type(data).__name__}")
    checked = []
    for name, part in zip(("training", "validation", "test"), data):
        if not (isinstance(part, (tuple, list)) and len(part) == 2):
            raise DataFileError(f"{path}: the {name} data is not an (x, y) pair")
        x, y = part
        if isinstance(x, list) and isinstance(y, list):
            x, y = _from_lists(x, y, name, path)
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
            raise DataFileError(
                f"{path}: the {name} images and labels must be numpy arrays (or "
                f"lists of them), found {type(x).__name__} and {type(y).__name__}"
                f"{_remake_hint(path)}")
        if x.ndim != 2 or x.shape[1] != 784:
            raise DataFileError(
                f"{path}: {name} images have shape {x.shape}, expected (n, 784)")
        if y.shape != (x.shape[0],):
            raise DataFileError(
                f"{path}: {name} labels have shape {y.shape}, expected "
                f"({x.shape[0]},) to match the images")
        if x.dtype.kind not in "uif":
            raise DataFileError(f"{path}: {name} images are {x.dtype}, not real numbers")
        if y.dtype.kind not in "ui":
            raise DataFileError(f"{path}: {name} labels are {y.dtype}, not integers")
        if x.size and not (x.min() >= 0 and x.max() <= 1):  # False for NaN too
            raise DataFileError(
                f"{path}: {name} images must hold finite intensities in [0, 1]; "
                f"found values from {x.min()} to {x.max()}")
        if y.size and not (y.min() >= 0 and y.max() <= 9):
            raise DataFileError(
                f"{path}: {name} labels must be digits 0-9; "
                f"found labels from {y.min()} to {y.max()}")
        checked.append((x.astype(np.float32, copy=False),
                        y.astype(np.int64, copy=False)))
    return tuple(checked)


def _from_lists(x: list, y: list, name: str, path: Path):
    """Images and labels as the book's expand_mnist.py writes them, a list of
    784-pixel arrays and a list of integer labels, as two arrays."""
    if len(x) != len(y):
        raise DataFileError(f"{path}: {len(x)} {name} images but {len(y)} labels"
                            f"{_remake_hint(path)}")
    for image in x:
        if not (isinstance(image, np.ndarray) and image.size == 784
                and image.dtype.kind in "uif"):
            raise DataFileError(
                f"{path}: a list of {name} images must hold arrays of 784 real "
                f"pixels, found {type(image).__name__} {getattr(image, 'shape', '')}"
                f"{_remake_hint(path)}")
    for label in y:
        if not isinstance(label, (int, np.integer)) or isinstance(label, bool):
            raise DataFileError(
                f"{path}: a list of {name} labels must hold integers, found "
                f"{type(label).__name__}{_remake_hint(path)}")
    images = (np.stack([image.reshape(784) for image in x]) if x
              else np.zeros((0, 784), np.float32))
    return images, np.array(y, dtype=np.int64).reshape(len(y))


def _remake_hint(path: Path, rebuilt: bool = False) -> str:
    """How to make a data file again, for a message about it: the expanded
    file by expand_mnist.py (told where, if it is not the data folder's);
    with ``rebuilt``, the data folder's mnist.pkl.gz by deleting it (the
    next load_data() builds it).  Nothing for other files: no program here
    knows how to make them."""
    path = Path(path)
    default = path.parent.resolve() == data_dir()
    if path.name == "mnist_expanded.pkl.gz":
        return "; make it again with python expand_mnist.py --force" + (
            "" if default else f" --output {path}")
    if rebuilt and default and path.name == PICKLE_NAME:
        return "; delete it, and load_data() will build it again from the MNIST files"
    return ""



#### Building mnist.pkl.gz from the IDX files

def build_pickle(path: str | os.PathLike | None = None) -> Path:
    """Make the book's ``mnist.pkl.gz`` from the four IDX files.

    The IDX files are taken from the same folder, and downloaded from the
    mirrors first if any is missing.
    """
    path = Path(path) if path is not None else data_dir() / PICKLE_NAME
    folder = path.parent
    arrays = {name: read_idx(fetch(name, folder)) for name in IDX_FILES}
    _progress(f"Building {path} from the four MNIST files (once; it takes a few seconds)")
    train_x = arrays["train-images-idx3-ubyte.gz"].reshape(-1, 784)
    train_y = arrays["train-labels-idx1-ubyte.gz"]
    test_x = arrays["t10k-images-idx3-ubyte.gz"].reshape(-1, 784)
    test_y = arrays["t10k-labels-idx1-ubyte.gz"]
    data = ((_scale(train_x[:50000]), train_y[:50000].astype(np.int64)),
            (_scale(train_x[50000:]), train_y[50000:].astype(np.int64)),
            (_scale(test_x), test_y.astype(np.int64)))
    write_pickle(path, data)
    return path


def _scale(pixels: np.ndarray) -> np.ndarray:
    """Bytes to float32 intensities: pixel/256 (not /255), as in the book's file,
    so the largest value is 255/256 = 0.99609375."""
    return pixels.astype(np.float32) / np.float32(256)


def _progress(message: str) -> None:
    """One line about long work, on stderr so the book's stdout is unchanged."""
    print(message, file=sys.stderr, flush=True)


#### IDX files and their downloads

def _idx_size(shape: tuple[int, ...]) -> int:
    """Bytes in an IDX file of unsigned bytes of ``shape``: header, then data."""
    return 4 + 4 * len(shape) + math.prod(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one gzipped IDX file, checking its digest and its shape.

    It is decompressed only up to the size it must have: for one of
    ``IDX_FILES``, its known size; for any other, the size its header
    declares, which may be at most ``safe_files.MAX_PICKLE_BYTES``.
    """
    path = Path(path)
    digest, shape = IDX_FILES.get(path.name, (None, None))
    gunzip = _Gunzip(_idx_size(shape) if shape is not None else safe_files.MAX_PICKLE_BYTES)
    raw = bytearray()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):  # at most ~64 MB out per piece
                raw += gunzip.feed(chunk)
                if shape is None and len(raw) >= 4 and len(raw) >= 4 + 4 * raw[3]:
                    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big")
                                  for i in range(raw[3]))
                    if _idx_size(shape) > safe_files.MAX_PICKLE_BYTES:
                        raise DataFileError(
                            f"{path}: declares an array of shape {shape}, more than "
                            f"the {safe_files.MAX_PICKLE_BYTES:,} bytes a data file may hold")
                    gunzip.limit = _idx_size(shape)
        gunzip.finish()
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such IDX file") from None
    except DataFileError:
        raise
    except MemoryError:
        raise DataFileError(f"{path}: too large to load into memory") from None
    except (OSError, ValueError, zlib.error) as e:
        raise DataFileError(
            f"{path}: corrupt or truncated gzip file ({e})"
            f"{_download_hint(path)}") from None
    if digest is not None and hashlib.sha256(raw).hexdigest() != digest:
        raise DataFileError(
            f"{path}: bad checksum (SHA-256 of the decompressed bytes is "
            f"{hashlib.sha256(raw).hexdigest()}, expected {digest})"
            f"{_download_hint(path)}")
    return parse_idx(raw, path, IDX_FILES.get(path.name, (None, None))[1])


def _download_hint(path: Path) -> str:
    """What to do about a bad IDX file: one of the four MNIST files is
    downloaded again once it is gone (``fetch``); any other, nothing knows."""
    return ("; delete it and it will be downloaded again" if path.name in IDX_FILES
            else "")


def parse_idx(raw: bytes, path: Path, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Decode IDX bytes of unsigned bytes (the MNIST kind) into an array."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataFileError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big")
                 for i in range(ndim))
    if shape is not None and dims != shape:
        raise DataFileError(f"{path}: holds an array of shape {dims}, expected {shape}")
    expected = header + math.prod(dims)
    if len(raw) != expected:
        raise DataFileError(
            f"{path}: {len(raw)} bytes after decompression, expected {expected} "
            f"for shape {dims} (truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


class _Gunzip:
    """Decompress one gzip member piece by piece, refusing more than ``limit``
    bytes of output; zlib checks the CRC and length at its end."""

    def __init__(self, limit: int):
        self.limit, self.size = limit, 0
        self.inflater = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> bytes:
        if self.inflater.eof:
            if data:
                raise ValueError("there is more data after the end of the gzip stream")
            return b""
        out = self.inflater.decompress(data, max(1, self.limit + 1 - self.size))
        self.size += len(out)
        if self.size > self.limit or self.inflater.unconsumed_tail:
            raise ValueError(f"it decompresses to more than the {self.limit:,} "
                             f"bytes this file can hold")
        if self.inflater.unused_data:
            raise ValueError("there is more data after the end of the gzip stream")
        return out

    def finish(self) -> None:
        if not self.inflater.eof:
            raise ValueError("the gzip stream ends early")


def fetch(name: str, folder: str | os.PathLike, mirrors: list[str] | None = None, *,
          timeout: float = DOWNLOAD_TIMEOUT, deadline: float = DOWNLOAD_DEADLINE) -> Path:
    """Return the path of IDX file ``name`` in ``folder``, downloading it if absent.

    Each mirror (``MIRRORS`` unless given) is tried in turn, whatever went
    wrong with the one before.  A mirror may send at most a little more
    than the file's decompressed size, may wait at most ``timeout`` seconds
    for each read and must deliver within ``deadline`` seconds; the file is
    decompressed as it arrives, only up to its known size, and counts only
    if its CRC and the SHA-256 of its decompressed bytes are right.
    Nothing is left behind by a failed or interrupted download.  One line
    on stderr reports each attempt's outcome.
    """
    target = Path(folder) / name
    if target.exists():
        return target
    mirrors = MIRRORS if mirrors is None else list(mirrors)
    problems = []
    for mirror in mirrors:
        url = f"{mirror}{name}"
        try:
            with atomic_path(target) as tmp:
                size = _download(url, tmp, name, timeout, deadline)
        except Exception as e:  # every failure of one mirror sends us to the next
            problem = f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e)
            problem = " ".join(problem.split())  # some errors quote what they got, newlines too
            problems.append(f"{url}: {problem[:200]}")
            _progress(f"Could not download {name} from {mirror} ({problem[:200]})")
            continue
        _progress(f"Downloaded {name} ({size:,} bytes) from {mirror}")
        return target
    raise DataFileError(
        f"MNIST file {name} is not in {Path(folder)} and could not be downloaded; "
        f"copy the four files {', '.join(IDX_FILES)} (gzipped, as distributed) "
        f"there, or set {DATA_DIR_ENV} to a folder that holds them (what went "
        f"wrong: " + "; ".join(problems) + ")")


def _download(url: str, tmp: Path, name: str, timeout: float, deadline: float) -> int:
    """Copy ``url`` to ``tmp``, checking it on the way (see fetch); return its size."""
    digest, shape = IDX_FILES[name]
    size = _idx_size(shape)
    cap = size + size // 1000 + 1024  # what gzip of ``size`` bytes can take, at worst
    gunzip, sha, received = _Gunzip(size), hashlib.sha256(), 0
    sockets: list[socket.socket] = []
    # A server can trickle its headers too; at the deadline, its sockets are
    # shut, after ``expired`` is set (so a read that ends because of it knows why).
    expired = threading.Event()
    timer = threading.Timer(deadline, lambda: (expired.set(), _shut(sockets)))
    timer.daemon = True
    timer.start()
    try:
        with _opener(sockets).open(url, timeout=timeout) as response, open(tmp, "wb") as out:
            announced = response.headers.get("Content-Length", "")
            if announced.strip().isdigit() and int(announced) > cap:
                raise ValueError(f"it announces {int(announced):,} bytes; "
                                 f"the file cannot need more than {cap:,}")
            read = getattr(response, "read1", response.read)
            while chunk := read(1 << 16):
                received += len(chunk)
                if received > cap:
                    raise ValueError(f"it sent more than the {cap:,} bytes the file can need")
                sha.update(gunzip.feed(chunk))
                out.write(chunk)
                if expired.is_set():
                    break
        if expired.is_set():
            raise TimeoutError
    except Exception:
        if expired.is_set():
            raise ValueError(f"it took more than {deadline:g} s") from None
        raise
    finally:
        timer.cancel()
    gunzip.finish()
    if gunzip.size != size:
        raise ValueError(f"bad checksum: it decompresses to {gunzip.size:,} bytes, "
                         f"expected {size:,}")
    if sha.hexdigest() != digest:
        raise ValueError(f"bad checksum {sha.hexdigest()}")
    return received


def _opener(sockets: list) -> urllib.request.OpenerDirector:
    """urllib's usual opener, except that every HTTP(S) connection it makes
    adds its socket to ``sockets``."""

    def recording(connection_class):
        class Recorded(connection_class):
            def connect(self):
                super().connect()
                sockets.append(self.sock)
        return Recorded

    class HTTP(urllib.request.HTTPHandler):
        def do_open(self, http_class, request, **kwargs):
            return super().do_open(recording(http_class), request, **kwargs)

    class HTTPS(urllib.request.HTTPSHandler):
        def do_open(self, http_class, request, **kwargs):
            return super().do_open(recording(http_class), request, **kwargs)

    return urllib.request.build_opener(HTTP, HTTPS)


def _shut(sockets: list) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


