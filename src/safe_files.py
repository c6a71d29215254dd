"""safe_files
~~~~~~~~~~

Reading and writing files so that no file can do harm: the ground every
other module that touches a file stands on.

- ``read_pickle``: a gzipped data pickle (the book's ``mnist.pkl.gz``, the
  expanded training set, ...) read without ever handing the file's
  contents to code that could be steered by them.  The only things it
  rebuilds are tuples, lists, numbers, strings and numpy arrays of plain
  bool/int/float dtypes, each array given exactly its own bytes, within a
  budget of bytes (``MAX_PICKLE_BYTES``) and of pickle steps.  Loading a
  data file can neither run code nor forge memory.
- ``atomic_path``, and ``write_pickle`` and ``write_json`` on top of it:
  every file is written to a temporary beside it and renamed into place,
  so an interrupted run never leaves a truncated file behind.  A write
  goes through a symbolic link to its file, keeps an existing file's
  permission bits, and refuses to replace what is not a regular file (a
  folder, a device, a fifo); temporaries left by a killed writer are
  removed by the next writer of the same file.
- ``stored_zip_members`` and ``check_pickle_sharing``: network3's files
  (zip archives written by torch.save), checked whole before any part of
  them is used.

What the files hold is for other modules to know: ``mnist_files`` knows
the MNIST files, ``network_files`` the JSON of a saved network.  Every
problem with a file raises ``DataFileError`` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import math
import os
import pickle
import pickletools
import re
import stat
import struct
import tempfile
import zlib
from pathlib import Path
from struct import unpack
from typing import Any, Iterator

try:
    import fcntl  # POSIX: the lock a writer holds on its temporary
except ImportError:  # elsewhere no temporary can be proved dead
    fcntl = None

import numpy as np

from messages import describe, describe_error


class DataFileError(ValueError):
    """A data file is missing, corrupt, holds the wrong data, or cannot be written."""


#### Safe pickles
# A data pickle is read by the pure-Python unpickler with only the opcodes
# a file of tuples, lists, numbers, strings and arrays needs.  The few
# globals it may name are replaced by the stand-ins below, which check
# every argument and build plain arrays themselves; numpy's own
# ``_reconstruct``, ``dtype`` and ``__setstate__`` never see the file.

# Bounds on what a file may cost.  The largest data file the project
# makes, expand_mnist.py's 250,000 float32 images with the validation and
# test data, is about 850 MB once decompressed; a data pickle may declare
# at most MAX_PICKLE_BYTES, and run at most MAX_PICKLE_STEPS pickle
# opcodes, plus one for every BYTES_PER_STEP bytes it has given.  A file of
# whole arrays needs a few hundred opcodes; the book's own expand_mnist.py
# pickles every image as an array of its own, with its label beside it in
# a list: 30-42 opcodes (protocols 4 and 2) for every 3,136 bytes of
# pixels, some 10.5 million for its 250,000 images.  Since an opcode makes
# at most one small object, what a file's objects cost stays in proportion
# to its size.
MAX_PICKLE_BYTES = 1 << 30
MAX_PICKLE_STEPS = 2_000_000
BYTES_PER_STEP = 64

_DTYPE_NAME = re.compile(r"[<>|=]?(b1|[iu][1248]|f[248])")
_BYTE_ORDERS = {"<", ">", "|", "="}


class _Refused(pickle.UnpicklingError):
    """The file asks for something a data file has no need of."""


class _PendingDtype:
    """``numpy.dtype(name, align, copy)`` until the pickle's BUILD gives its byte order."""

    def __init__(self, name, align=False, copy=True):
        if not (isinstance(name, str) and _DTYPE_NAME.fullmatch(name)):
            raise _Refused(f"dtype {describe(name)} is not a plain bool, integer or float type")
        self.dtype = np.dtype(name)

    def setstate(self, state):
        # (version, byte order, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not (isinstance(state, tuple) and len(state) in (8, 9)
                and state[0] in (3, 4)
                and type(state[1]) is str and state[1] in _BYTE_ORDERS  # no hash of a tuple
                and state[2:5] == (None, None, None) and state[5:8] == (-1, -1, 0)
                and (len(state) == 8 or state[8] is None)):
            raise _Refused(f"the state of dtype {self.dtype} is not a plain dtype's")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


class _PendingArray:
    """What ``_reconstruct(ndarray, (0,), b'b')`` returns: an array once BUILD gives it data."""

    array = None

    def setstate(self, state):
        if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1):
            raise _Refused("an array's state is not (1, shape, dtype, fortran, bytes)")
        _, shape, dtype, fortran, data = state
        if self.array is not None or type(fortran) not in (bool, int) or fortran not in (0, 1):
            raise _Refused("an array is given its state twice or a bad order flag")
        array = _array(data, dtype, shape, "F" if fortran else "C")
        # numpy gives such an array its machine's byte order; so do we.
        self.array = array if array.dtype.isnative else array.astype(
            array.dtype.newbyteorder("="))


_NDARRAY = object()  # what the global numpy.ndarray stands for


def _dtype_of(spec) -> np.dtype:
    if not isinstance(spec, _PendingDtype):
        raise _Refused("an array's dtype is not a dtype")
    return spec.dtype


def _array(data, spec, shape, order) -> np.ndarray:
    """A new array of ``shape`` and dtype ``spec`` holding exactly the bytes ``data``."""
    dtype = _dtype_of(spec)
    if not (isinstance(shape, tuple) and len(shape) <= 32 and all(
            type(d) is int and 0 <= d < 1 << 63 for d in shape)):
        raise _Refused(f"an array's shape {describe(shape)} is not a tuple of sizes")
    if order not in ("C", "F"):
        raise _Refused(f"an array's order {describe(order)} is not 'C' or 'F'")
    needed = math.prod(shape) * dtype.itemsize
    if needed > MAX_PICKLE_BYTES:
        raise _Refused(f"an array of shape {describe(shape)} would take {needed:,} bytes, "
                       f"more than a data file may hold ({MAX_PICKLE_BYTES:,})")
    if isinstance(data, str):  # how Python 2 files, read as latin1, hold bytes
        data = data.encode("latin1")
    if not isinstance(data, (bytes, bytearray)) or len(data) != needed:
        got = (f"{len(data):,} bytes" if isinstance(data, (bytes, bytearray))
               else type(data).__name__)
        raise _Refused(f"an array of shape {describe(shape)} and dtype {dtype} needs "
                       f"{needed:,} bytes of data; the file gives {got}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order=order)
    return array if array.flags.writeable else array.copy()


def _reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
        raise _Refused("_reconstruct is only allowed to start a plain ndarray")
    return _PendingArray()


def _frombuffer(buffer, dtype, shape, order):  # how protocol 5 writes arrays
    return _array(buffer, dtype, shape, order)


def _scalar(dtype, data):  # a numpy number, such as np.int64(3)
    dtype = _dtype_of(dtype)
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, (bytes, bytearray)) or len(data) != dtype.itemsize:
        raise _Refused(f"a {dtype} scalar needs {dtype.itemsize} bytes")
    return np.frombuffer(data, dtype=dtype)[0]


def _encode(text, encoding="utf-8"):  # how protocols 0-2 write bytes
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode is only allowed to turn latin1 text into bytes")
    return text.encode("latin1")


def _empty_bytes(*args):  # how protocols 0-2 write b""
    if args:
        raise _Refused("bytes(...) is only allowed with no argument")
    return b""


_STAND_INS = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _STAND_INS[_module, "_reconstruct"] = _reconstruct
    _STAND_INS[_module, "scalar"] = _scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _STAND_INS[_module, "_frombuffer"] = _frombuffer
_STAND_INS.update({("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): _PendingDtype,
                   ("_codecs", "encode"): _encode, ("builtins", "bytes"): _empty_bytes,
                   ("__builtin__", "bytes"): _empty_bytes})
_CALLABLE = {f for f in _STAND_INS.values() if f is not _NDARRAY}

# The opcodes a data file may use (protocols 0-5, no dicts, objects or buffers).
_OPCODES = {getattr(pickle, name)[0] for name in """
    PROTO FRAME STOP MARK POP POP_MARK DUP NONE NEWTRUE NEWFALSE
    INT BININT BININT1 BININT2 LONG LONG1 FLOAT BINFLOAT
    STRING BINSTRING SHORT_BINSTRING BINBYTES SHORT_BINBYTES BINBYTES8 BYTEARRAY8
    UNICODE BINUNICODE SHORT_BINUNICODE BINUNICODE8
    EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST LIST APPEND APPENDS
    GLOBAL STACK_GLOBAL REDUCE BUILD
    PUT BINPUT LONG_BINPUT MEMOIZE GET BINGET LONG_BINGET""".split()}


class _Opcodes(dict):
    def __missing__(self, code):
        raise _Refused(f"opcode {bytes([code])!r} is not used by data files")


class _Budget:
    """A file-like view of ``file`` that refuses to read past ``limit`` bytes."""

    def __init__(self, file, limit: int):
        self.file, self.limit, self.used = file, limit, 0

    def claim(self, n: int) -> None:
        if self.used + n > self.limit:
            raise _Refused(f"it declares more than the {self.limit:,} bytes "
                           f"a data file may hold")

    def read(self, n: int) -> bytes:
        self.claim(n)
        data = self.file.read(n)
        self.used += len(data)
        return data

    def readinto(self, buffer: bytearray) -> int:
        """Fill ``buffer`` straight from the file, with no copy in between."""
        self.claim(len(buffer))
        view, got = memoryview(buffer), 0
        # A piece at a time: gzip decompresses each read into a new bytes
        # object before copying it over, so one read of it all would
        # briefly hold the data twice.
        while got < len(buffer) and (n := self.file.readinto(view[got:got + (1 << 24)])):
            got += n
        self.used += got
        return got

    def readline(self) -> bytes:
        line = self.file.readline(self.limit - self.used + 1)
        self.used += len(line)
        self.claim(0)
        return line


class _DataUnpickler(pickle._Unpickler):
    """The pure-Python unpickler, restricted to data (see above)."""

    def __init__(self, source: _Budget):
        super().__init__(source, encoding="latin1")
        self.source, self.steps = source, 0

    def find_class(self, module: str, name: str):
        if (module, name) not in _STAND_INS:
            raise _Refused(f"refusing to load {module[:100]}.{name[:100]}: a data file may "
                           f"only contain numpy arrays, tuples, lists and numbers")
        return _STAND_INS[module, name]

    def _load_sized(self, size_format: str):
        """Bytes of a stated length, checked against the budget before any
        memory is taken, and read into a bytearray that arrays can share."""
        n, = unpack(size_format, self.read(8 if size_format == "<Q" else 4))
        self.source.claim(n)
        data = bytearray(n)
        if self._unframer.current_frame is None:  # large data stands outside frames
            if self.source.readinto(data) != n:
                raise pickle.UnpicklingError("pickle data was truncated")
        else:
            self.readinto(data)
        self.append(data)

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if not any(func is f for f in _CALLABLE) or not isinstance(args, tuple):
            raise _Refused("the file calls something other than an array builder")
        self.stack[-1] = func(*args)

    def load_build(self):
        state = self.stack.pop()
        target = self.stack[-1]
        if not isinstance(target, (_PendingArray, _PendingDtype)):
            raise _Refused("the file sets the state of something other than a new array")
        target.setstate(state)

    def _sized(size_format):
        return lambda self: self._load_sized(size_format)

    dispatch = _Opcodes({code: load for code, load in pickle._Unpickler.dispatch.items()
                         if code in _OPCODES})
    dispatch[pickle.BINBYTES[0]] = _sized("<I")   # array bytes, read into
    dispatch[pickle.BINBYTES8[0]] = _sized("<Q")  # writable memory once
    dispatch[pickle.BYTEARRAY8[0]] = _sized("<Q")
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.BUILD[0]] = load_build
    for _code, _load in list(dispatch.items()):
        def _counted(self, _load=_load):
            self.steps += 1
            if self.steps > MAX_PICKLE_STEPS + self.source.used // BYTES_PER_STEP:
                raise _Refused(f"more than {self.steps - 1:,} pickle steps for its "
                               f"{self.source.used:,} bytes")
            _load(self)
        dispatch[_code] = _counted
    del _sized, _code, _load, _counted


def _finished(obj, seen: dict, depth: int = 0):
    """``obj`` with every pending array replaced by the array it built."""
    if id(obj) in seen:
        return seen[id(obj)]
    if depth > 16:
        raise _Refused("data nested more than 16 deep")
    if isinstance(obj, _PendingArray):
        if obj.array is None:
            raise _Refused("an array was started but never given its data")
        result = obj.array
    elif isinstance(obj, _PendingDtype):
        result = obj.dtype
    elif isinstance(obj, (tuple, list)):
        result = type(obj)(_finished(item, seen, depth + 1) for item in obj)
    elif isinstance(obj, bytearray):
        result = bytes(obj)
    else:
        result = obj
    seen[id(obj)] = result
    return result


def read_pickle(path: str | os.PathLike, advice: str = "") -> Any:
    """Read a gzipped data pickle (protocols 0-5) safely; see "Safe pickles".

    Python 2 pickles, like the book's own ``mnist.pkl.gz``, are read with
    the latin1 encoding their array bytes need.  The gzip data must end
    right after the pickle, with a correct CRC.  ``advice``, if given, ends
    the message about a corrupt or truncated file: what the reader can do
    about it, such as "; delete it, and ... will build it again" (only the
    caller knows where a file comes from).
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            source = _Budget(f, MAX_PICKLE_BYTES)
            loaded = _DataUnpickler(source).load()
            if f.read(1):  # reading to the end checks the gzip CRC and length
                raise _Refused("there is more data after the pickle")
            return _finished(loaded, {})
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such data file") from None
    except DataFileError:
        raise
    except pickle.UnpicklingError as e:
        raise DataFileError(f"{path}: not a plain data pickle ({e})") from None
    except MemoryError:
        raise DataFileError(f"{path}: too large to load into memory") from None
    except (OSError, EOFError, zlib.error, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, RecursionError) as e:
        raise DataFileError(f"{path}: corrupt or truncated data file "
                            f"({describe_error(e)}){advice}") from None


#### Writing files atomically
# What a write does to what is already at the path (atomic_path):
# - A regular file is replaced whole, and the new file keeps its permission
#   bits (a 0600 file stays 0600); the owner becomes the writer.  A new
#   file gets 0666 less the umask, as open() would give it.
# - A symbolic link is written through: the file it points to is replaced
#   (its temporary made beside it, in its folder) and the link is kept.
# - Anything else (a folder, a device such as /dev/null, a fifo, a socket),
#   at the path or at the end of its link, is refused before anything is
#   written: replacing it would destroy what it is.
# - Temporaries are named ``.<name>.<pid>-<random>.part``, beside the final
#   file.  A writer holds an exclusive flock on its temporary from the
#   moment it makes it until the rename is done.  Writers of the same file
#   first remove its temporaries that nobody holds a lock on: one whose
#   writer died (killed before it could clean up) is proved dead that way,
#   whatever pid namespace or machine sharing the folder wrote it.  The pid
#   in the name is only for people; it decides nothing.  A temporary that
#   the sweep cannot open (another user's) or lock is left alone.

def write_pickle(path: str | os.PathLike, obj: Any, compresslevel: int = 6) -> None:
    """Write ``obj`` as a gzipped pickle (protocol 4), atomically."""
    with atomic_path(path) as tmp:
        with gzip.open(tmp, "wb", compresslevel=compresslevel) as f:
            pickle.dump(obj, f, protocol=4)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = None) -> None:
    """Write ``obj`` as JSON text to ``path`` in UTF-8, atomically.

    ``indent`` is ``json.dump``'s: None (the default) writes it all on one
    line, as the book's network2.save does; a number starts every item on
    a line of its own, indented that many spaces a level, for files that
    people read.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=indent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    If the block raises (or is interrupted), the temporary file is removed
    and ``path`` is left as it was.  The block must write the yielded path
    in place (open it, write, close), not put another file there.  See the
    comment above for symbolic links, kept permission bits, the paths that
    are refused and how stale temporaries are removed.  A refused path, a
    folder that cannot be made or written to, or a full disk, raises one
    ``DataFileError`` (also an ``OSError``) naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        final, _ = _write_target(path)
        _remove_stale_temporaries(final)
        fd, tmp = _locked_temporary(final)
    except DataFileError:
        raise
    except OSError as e:
        raise _WriteError(f"{path}: cannot write here ({e.strerror or e})", e.errno) from None
    try:
        yield Path(tmp)
        _, mode = _write_target(path)  # what is there now, just before the rename
        if mode is not None:
            os.fchmod(fd, mode)
        os.replace(tmp, final)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in _WRITE_ERRNOS \
                and not isinstance(e, DataFileError):
            raise _WriteError(f"{path}: could not be written ({e.strerror or e})",
                              e.errno) from None
        raise
    finally:
        os.close(fd)  # releases the lock, once the temporary is renamed or removed


class _WriteError(DataFileError, OSError):
    """A file could not be written: both a DataFileError and an OSError."""

    def __init__(self, message: str, errno: int | None):
        super().__init__(message)
        self.errno = errno


# What a failed write looks like: no room, no permission, no such folder.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                 errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EIO}


_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a fifo (named pipe)"),
               (stat.S_ISSOCK, "a socket"))


def _write_target(path: Path) -> tuple[Path, int | None]:
    """The file a write to ``path`` replaces (a symbolic link's target) and
    its permission bits, None if there is no file yet; refuse anything that
    is not a regular file."""
    final = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        found = os.stat(final)
    except FileNotFoundError:
        return final, None
    if stat.S_ISREG(found.st_mode):
        return final, stat.S_IMODE(found.st_mode) & 0o777
    kind = next((name for test, name in _FILE_KINDS if test(found.st_mode)),
                "not a regular file")
    where = f"{path}: links to {final}, which is" if final != path else f"{path}: is"
    raise _WriteError(f"{where} {kind}, not a regular file; refusing to write over it",
                      errno.EISDIR if stat.S_ISDIR(found.st_mode) else errno.EEXIST)


def _locked_temporary(final: Path) -> tuple[int, str]:
    """A new temporary beside ``final``, with the usual mode, open and locked
    (see the comment above): its descriptor and its path."""
    umask = os.umask(0)
    os.umask(umask)
    for _ in range(100):
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.{os.getpid()}-",
                                   suffix=".part")
        try:
            os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes it private; use the usual mode
            if fcntl is None:
                return fd, tmp
            # A sweep may have locked it between mkstemp and here (and then
            # removed it): wait for its lock, then make sure the file is still ours.
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, tmp):
                return fd, tmp
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
    raise OSError(errno.EAGAIN, "every temporary file made here was removed at once")


def _same_file(fd: int, name: str) -> bool:
    """Whether ``name`` (not followed if a link) is the file open as ``fd``."""
    try:
        named, held = os.lstat(name), os.fstat(fd)
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporaries of ``path`` that no writer holds locked."""
    if fcntl is None:
        return
    pattern = re.compile(re.escape(f".{path.name}.") + r"\d+-\w+\.part")
    for entry in os.scandir(path.parent):
        if not pattern.fullmatch(entry.name):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:  # gone already, a link, or not ours to open
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Locked: no writer holds it.  Remove it only if the name still
            # leads to what we locked (a writer may just have renamed it).
            if stat.S_ISREG(os.fstat(fd).st_mode) and _same_file(fd, entry.path):
                os.unlink(entry.path)
        except OSError:  # a writer holds it: it is alive
            pass
        finally:
            os.close(fd)


#### Zip archives and the pickles inside them (network3's files)
# torch.save writes a zip archive: a folder holding data.pkl and one member
# per tensor.  stored_zip_members checks such an archive whole before any
# of it is used: its directory within the caller's bounds; every member
# stored as it is (not compressed, not encrypted), where its directory
# entry says, inside the file, overlapping no other member, with the CRC-32
# its entry gives; all of them in one folder.  check_pickle_sharing
# follows a pickle's opcodes without running them and refuses one in which
# a value stands for too many others.  Both raise ArchiveError, whose
# message says what is wrong without the file's name, for the caller to add.


class ArchiveError(DataFileError):
    """A zip archive or its pickle is not what the caller's kind of file holds."""


def stored_zip_members(f, size: int, max_members: int, max_directory_bytes: int,
                       kind: str) -> tuple[dict[str, tuple[int, int]], str]:
    """The members of the zip archive open as ``f``, ``size`` bytes long,
    checked as the comment above says, with at most ``max_members`` members
    listed in at most ``max_directory_bytes`` (more than ``kind``, such
    as "a network file", has): for each name, where its
    bytes begin and how many there are; and the folder they are all in."""
    # The end record: the last 22 bytes, or the last 22 before a comment.
    tail = read_at(f, max(0, size - 22 - 0xFFFF), min(size, 22 + 0xFFFF))
    end = tail.rfind(b"PK\x05\x06")
    while end >= 0 and end + 22 + int.from_bytes(tail[end + 20:end + 22], "little") \
            != len(tail):  # (true too of a record cut short)
        end = tail.rfind(b"PK\x05\x06", 0, end)
    if end < 0:
        raise ArchiveError("it is not a zip archive, or is cut short: no zip directory "
                          "ends it")
    disks, count_here, count, directory_size, directory_at = struct.unpack_from(
        "<IHHII", tail, end + 4)
    directory_end = size - len(tail) + end
    if end >= 20 and tail[end - 20:end - 16] == b"PK\x06\x07":  # zip64: another end record
        record_at = int.from_bytes(tail[end - 12:end - 4], "little")
        record = read_at(f, record_at, 56) if record_at < directory_end else b""
        if len(record) != 56 or record[:4] != b"PK\x06\x06" or (
                record_at + 12 + int.from_bytes(record[4:12], "little") != directory_end - 20):
            raise ArchiveError("its zip64 end record is missing or misplaced")
        disks, count_here, count, directory_size, directory_at = struct.unpack_from(
            "<QQQQQ", record, 16)
        directory_end = record_at
    if disks != 0 or count_here != count:
        raise ArchiveError("it is a zip archive split over several disks")
    if count > max_members or directory_size > max_directory_bytes:
        raise ArchiveError(f"its zip directory lists {count:,} members in "
                          f"{directory_size:,} bytes, more than {kind} has")
    if directory_at + directory_size != directory_end:
        raise ArchiveError("its zip directory is not where its end record says")
    directory = read_at(f, directory_at, directory_size)

    def damaged(what):
        return ArchiveError(f"its zip directory is damaged ({what})")

    entries, at = [], 0
    for _ in range(count):
        if at + 46 > len(directory) or directory[at:at + 4] != b"PK\x01\x02":
            raise damaged("an entry does not begin where the one before ends")
        (flags, method, crc, stored, length, name_length, extra_length, comment_length,
         disk, header_at) = struct.unpack_from("<8xHH4xIIIHHHH6xI", directory, at)
        name_bytes = directory[at + 46:at + 46 + name_length]
        extra = directory[at + 46 + name_length:at + 46 + name_length + extra_length]
        at += 46 + name_length + extra_length + comment_length
        if at > len(directory):
            raise damaged("an entry runs past its end")
        length, stored, header_at = _zip64_sizes(extra, length, stored, header_at)
        try:
            name = name_bytes.decode("utf-8" if flags & 0x800 else "cp437")
        except UnicodeDecodeError:
            raise damaged("a member's name is not UTF-8 text") from None
        shown = describe(name.partition("/")[2] or name)
        if flags & 0x41:
            raise ArchiveError(f"its member {shown} is encrypted")
        if method != 0:
            raise ArchiveError(
                f"its member {shown} is compressed (zip method {method}), where "
                f"Network.save stores every member as it is; save the network "
                f"again, or zip it with no compression (zip -0)")
        if stored != length or disk != 0:
            raise damaged(f"the sizes of {shown} disagree")
        entries.append((header_at, name, name_bytes, length, crc, flags & 8))
    if at != len(directory):
        raise damaged("it holds more than its entries")
    names = {name for _, name, *_ in entries}
    folder = entries[0][1].split("/")[0] if entries else ""
    if len(names) != len(entries) or not all(name.startswith(folder + "/") for name in names):
        raise ArchiveError("its members are not in one folder, each once, as torch.save "
                          "writes them")
    # Each member's local header, its bytes and its data descriptor, in the
    # order they lie in the file, each after the one before.
    members, free_from = {}, 0
    for header_at, name, name_bytes, length, crc, described in sorted(entries):
        shown = describe(name.partition("/")[2])
        header = read_at(f, header_at, 30 + len(name_bytes)) if header_at >= free_from else b""
        if len(header) != 30 + len(name_bytes) or header[:4] != b"PK\x03\x04":
            raise ArchiveError(f"its member {shown} is not where the zip directory says")
        (local_flags, method, local_crc, local_stored, local_length, name_length,
         extra_length) = struct.unpack_from("<6xHH4xIIIHH", header)
        sizes_known = (local_crc, local_stored, local_length) in (
            (crc, length, length), (crc, 0xFFFFFFFF, 0xFFFFFFFF))
        if (method != 0 or name_length != len(name_bytes) or header[30:] != name_bytes
                or local_flags & 8 != described or not (described or sizes_known)):
            raise ArchiveError(f"the local header of its member {shown} disagrees "
                              f"with the zip directory")
        start = header_at + 30 + name_length + extra_length
        end = start + length
        if described:  # a data descriptor follows: [signature] CRC, sizes (4 or 8 bytes each)
            descriptor = read_at(f, end, 24)
            skip = 4 if descriptor[:4] == b"PK\x07\x08" else 0
            if descriptor[skip:skip + 12] == struct.pack("<III", crc, length, length):
                end += skip + 12
            elif descriptor[skip:skip + 20] == struct.pack("<IQQ", crc, length, length):
                end += skip + 20
            else:
                raise ArchiveError(f"the data descriptor of its member {shown} disagrees "
                                  f"with the zip directory")
        if end > directory_at:
            raise ArchiveError(f"its member {shown} runs into the zip directory")
        if _crc32(f, start, length) != crc:
            raise ArchiveError(f"its member {shown} is damaged: its CRC-32 is wrong")
        members[name], free_from = (start, length), end
    return members, folder


def _zip64_sizes(extra: bytes, length: int, stored: int, header_at: int):
    """A directory entry's sizes and header offset, the 64-bit ones of its
    zip64 extra field in place of those that say 0xFFFFFFFF."""
    values = [length, stored, header_at]
    at = 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, at)
        if kind == 1:
            field, used = extra[at + 4:at + 4 + size], 0
            for i, value in enumerate(values):
                if value == 0xFFFFFFFF:
                    if used + 8 > len(field):
                        raise ArchiveError("its zip directory is damaged (a zip64 field "
                                          "is cut short)")
                    values[i] = int.from_bytes(field[used:used + 8], "little")
                    used += 8
            break
        at += 4 + size
    return values


def read_at(f, offset: int, n: int) -> bytes:
    """Up to ``n`` bytes of the open file ``f`` from ``offset``."""
    f.seek(offset)
    return f.read(n)


def _crc32(f, start: int, length: int) -> int:
    """The CRC-32 of ``length`` bytes of ``f`` from ``start``, a MiB at a time."""
    f.seek(start)
    crc = 0
    while length > 0:
        chunk = f.read(min(length, 1 << 20))
        if not chunk:
            return -1
        crc, length = zlib.crc32(chunk, crc), length - len(chunk)
    return crc


def check_pickle_sharing(pickled: bytes, max_items: int) -> None:
    """Refuse a pickle in which a value stands for more than
    ``max_items`` others, each shared reference counted every time it is
    used: a tuple of 30 references to a tuple of 30 references to ...,
    twelve deep, is a pickle of a few hundred bytes holding 30**12 values,
    and hashing it (a dict key does), comparing it or printing it would
    never end.  The opcodes are followed, not run: each value is a one-item
    list holding its count, one plus the counts of the values it was made
    from; the opcodes that add to a list, dict or object in place add to
    its count, wherever it is referred to from."""
    stack, memo, mark = [], {}, pickletools.markobject
    try:
        for opcode, arg, _ in pickletools.genops(pickled):
            if opcode.name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif opcode.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif opcode.name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif opcode.name == "MARK":
                stack.append(None)
            else:
                before, used = opcode.stack_before, []
                if mark in before:  # the values down to the mark, the mark, then the rest
                    while stack[-1] is not None:
                        used.append(stack.pop())
                    stack.pop()
                    before = before[:before.index(mark)]
                used += [stack.pop() for _ in before]
                if opcode.name in _CHANGED_IN_PLACE:  # the deepest value used is the one changed
                    made = used.pop()
                    made[0] += sum(count for count, in used)
                else:
                    made = [1 + sum(count for count, in used)]
                if made[0] > max_items:
                    raise ArchiveError(f"a value in its data.pkl stands for more than "
                                      f"{max_items:,} others")
                stack.extend([made] * len(opcode.stack_after))
    except (ValueError, IndexError, KeyError, TypeError) as e:
        if isinstance(e, ArchiveError):
            raise
        raise ArchiveError(f"its data.pkl is not a whole pickle "
                          f"({describe_error(e)})") from None


_CHANGED_IN_PLACE = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"}
