"""data_files
~~~~~~~~~~

The file handling behind ``mnist_loader``: where the MNIST files live,
how they are downloaded and checked, and how they are read and written.

``mnist_loader`` keeps only the book's three functions; everything they
rely on is here, so that chapter 1's reader sees just those, and so that
every other module (network3, conv, expand_mnist, ...) reads and writes
data files one way:

- ``data_dir()``: the project's ``data/`` folder, or the folder named by
  the environment variable ``NNDL_DATA_DIR``; no path here depends on the
  current working directory.
- ``fetch`` and ``read_idx``: the four original IDX files, downloaded from
  ``MIRRORS`` when missing and accepted only if the SHA-256 of their
  decompressed bytes is the one in ``IDX_FILES``.
- ``build_pickle``: the book's ``mnist.pkl.gz``, made from the IDX files.
- ``read_pickle``: a restricted unpickler that only rebuilds numpy arrays,
  tuples, lists and numbers, so loading a data file can never run code.
- ``write_pickle`` and ``atomic_path``: everything is written to a
  temporary file first and renamed into place, so an interrupted run
  never leaves a truncated file behind.
- ``check_book_format``: the shapes and dtypes of the book's triple.

Every problem with a file raises ``DataFileError`` naming the file.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import pickle
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

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


class DataFileError(ValueError):
    """A data file is missing, corrupt, or holds the wrong shapes."""


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
    exist already: nothing here knows how to make it.
    """
    if filename is None:
        path = data_dir() / PICKLE_NAME
        if not path.exists():
            build_pickle(path)
        return path
    path = Path(filename)
    if not path.exists():
        raise DataFileError(
            f"{path}: no such data file (the default MNIST file is built "
            f"by calling load_data() with no argument; "
            f"mnist_expanded.pkl.gz is made by expand_mnist.py)")
    return path


def check_book_format(data: Any, path: Path):
    """Validate a loaded triple and return it with the book's dtypes."""
    if not (isinstance(data, (tuple, list)) and len(data) == 3):
        raise DataFileError(
            f"{path}: expected a triple (training, validation, test), "
            f"found {type(data).__name__}")
    checked = []
    for name, part in zip(("training", "validation", "test"), data):
        if not (isinstance(part, (tuple, list)) and len(part) == 2):
            raise DataFileError(f"{path}: the {name} data is not an (x, y) pair")
        x, y = (np.asarray(a) for a in part)
        if x.ndim != 2 or x.shape[1] != 784:
            raise DataFileError(
                f"{path}: {name} images have shape {x.shape}, expected (n, 784)")
        if y.shape != (x.shape[0],):
            raise DataFileError(
                f"{path}: {name} labels have shape {y.shape}, expected "
                f"({x.shape[0]},) to match the images")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataFileError(f"{path}: {name} labels are {y.dtype}, not integers")
        checked.append((x.astype(np.float32, copy=False),
                        y.astype(np.int64, copy=False)))
    return tuple(checked)


#### Safe pickles

# The only globals a data file may name: enough to rebuild numpy arrays
# (including those in the book's original Python 2 file) and nothing else.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles spell bytes
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a data file may only "
                f"contain numpy arrays, tuples, lists and numbers")
        # numpy 2 moved numpy.core to numpy._core; import the new home.
        module = module.replace("numpy.core.", "numpy._core.")
        return super().find_class(module, name)


def read_pickle(path: str | os.PathLike) -> Any:
    """Read a gzipped pickle, allowing only plain data (see above).

    Python 2 pickles, like the book's own ``mnist.pkl.gz``, are read with
    the latin1 encoding numpy needs for their array bytes.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            return _RestrictedUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such data file") from None
    except pickle.UnpicklingError as e:
        raise DataFileError(f"{path}: not a plain data pickle ({e})") from None
    except (OSError, EOFError, zlib.error, ValueError, TypeError,
            AttributeError, IndexError) as e:
        raise DataFileError(
            f"{path}: corrupt or truncated data file ({type(e).__name__}: {e}); "
            f"delete it and it will be rebuilt") from None


def write_pickle(path: str | os.PathLike, obj: Any, compresslevel: int = 6) -> None:
    """Write ``obj`` as a gzipped pickle, atomically."""
    with atomic_path(path) as tmp:
        with gzip.open(tmp, "wb", compresslevel=compresslevel) as f:
            pickle.dump(obj, f, protocol=4)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    If the block raises (or is interrupted), the temporary file is removed
    and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                               suffix=".part")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; use the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


#### Building mnist.pkl.gz from the IDX files

def build_pickle(path: str | os.PathLike | None = None) -> Path:
    """Make the book's ``mnist.pkl.gz`` from the four IDX files.

    The IDX files are taken from the same folder, and downloaded from the
    mirrors first if any is missing.
    """
    path = Path(path) if path is not None else data_dir() / PICKLE_NAME
    folder = path.parent
    arrays = {name: read_idx(fetch(name, folder)) for name in IDX_FILES}
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


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one gzipped IDX file, checking its digest and its shape."""
    path = Path(path)
    raw = _gunzip(path)
    digest, shape = IDX_FILES.get(path.name, (None, None))
    if digest is not None and hashlib.sha256(raw).hexdigest() != digest:
        raise DataFileError(
            f"{path}: bad checksum (SHA-256 of the decompressed bytes is "
            f"{hashlib.sha256(raw).hexdigest()}, expected {digest}); "
            f"delete it and it will be downloaded again")
    return parse_idx(raw, path, shape)


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
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataFileError(
            f"{path}: {len(raw)} bytes after decompression, expected {expected} "
            f"for shape {dims} (truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _gunzip(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as e:
        raise DataFileError(
            f"{path}: corrupt or truncated gzip file ({e}); "
            f"delete it and it will be downloaded again") from None


def fetch(name: str, folder: str | os.PathLike, mirrors: list[str] | None = None) -> Path:
    """Return the path of IDX file ``name`` in ``folder``, downloading it if absent.

    Each mirror is tried in turn; a download counts only if it decompresses
    to bytes with the expected SHA-256.  Nothing is left behind by a failed
    or interrupted download.
    """
    target = Path(folder) / name
    if target.exists():
        return target
    mirrors = MIRRORS if mirrors is None else mirrors
    digest = IDX_FILES[name][0]
    problems = []
    for mirror in mirrors:
        url = mirror + name
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                payload = response.read()
            actual = hashlib.sha256(gzip.decompress(payload)).hexdigest()
        except (OSError, EOFError, zlib.error) as e:
            problems.append(f"{url}: {e}")
            continue
        if actual != digest:
            problems.append(f"{url}: bad checksum {actual}")
            continue
        with atomic_path(target) as tmp:
            tmp.write_bytes(payload)
        return target
    needed = "\n  ".join(IDX_FILES)
    raise DataFileError(
        f"MNIST file {name} is not in {Path(folder)} and could not be downloaded.\n"
        f"Put these four files (as distributed, gzipped) in {Path(folder)}, or set "
        f"{DATA_DIR_ENV} to a folder holding them:\n  {needed}\n"
        f"They are available from:\n  " + "\n  ".join(mirrors) +
        "\nWhat went wrong:\n  " + "\n  ".join(problems))
