"""expand_mnist.py
~~~~~~~~~~~~~~~~

Make the expanded MNIST training set used in chapter 6.

Every one of the 50,000 training images is kept, and four copies of it
are added, moved by one pixel up, down, left and right; the row or column
that the move leaves empty is filled with zeros (background).  The
250,000 images are shuffled (with a seed, so the file is reproducible)
and written, with the original validation and test data, to
``data/mnist_expanded.pkl.gz`` in the book's format::

    ((x float32 (250000, 784), y int64 (250000,)), validation, test)

Run it as the book does, from ``src/`` (``cd src; python expand_mnist.py``),
or from the project root (``python expand_mnist.py``: a small launcher
there runs this file).  If the file already exists it says so and stops;
``--force`` rebuilds it.  Each stage (loading, expanding, writing) is
announced in one line on stderr; bad arguments are refused before any
data is loaded, and a ``--source`` too large to expand right after it is
loaded: the file may hold no more than ``mnist_loader.load_data`` reads
(``safe_files.MAX_PICKLE_BYTES``, 1 GiB), which with the book's validation
and test images allows 64,303 training images.  The work is done with whole array operations,
so it takes seconds rather than minutes, and the peak memory stays near
two copies of the output (about 1.7 GB).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

import mnist_files
import mnist_loader
import safe_files

EXPANDED_NAME = "mnist_expanded.pkl.gz"
SEED = 12345678

# The four one-pixel moves, as (name, rows down, columns right).
SHIFTS = (("up", -1, 0), ("down", 1, 0), ("left", 0, -1), ("right", 0, 1))

# gzip level for the output file.  Whole runs measured on the 2-core
# development machine: level 1 took 6.7 s (78 MB file), level 3 7.2 s
# (73 MB), level 6 11.4 s (66 MB), level 9 64 s (62 MB).
COMPRESSLEVEL = 1


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Return ``images`` moved ``dy`` pixels down and ``dx`` pixels right.

    ``images`` has shape (n, side*side): each row is a square image stored
    row by row, as in the book's data.  Negative ``dy``/``dx`` move up or
    left.  Pixels moved past the edge are dropped and the vacated rows and
    columns are zero; nothing wraps around.
    """
    images = np.asarray(images)
    if images.ndim != 2:
        raise ValueError(f"images must have shape (n, side*side), got {images.shape}")
    side = int(round(np.sqrt(images.shape[1])))
    if side * side != images.shape[1]:
        raise ValueError(
            f"each image must be square: {images.shape[1]} pixels is not side*side")
    if abs(dy) > side or abs(dx) > side:
        raise ValueError(f"shift ({dy}, {dx}) is larger than the {side}x{side} image")
    square = images.reshape(-1, side, side)
    moved = np.zeros_like(square)
    moved[:, _target(dy, side), _target(dx, side)] = \
        square[:, _source(dy, side), _source(dx, side)]
    return moved.reshape(images.shape)


def _target(d: int, side: int) -> slice:
    """Where pixels land along one axis after a move of ``d``."""
    return slice(d, side) if d >= 0 else slice(0, side + d)


def _source(d: int, side: int) -> slice:
    """Which pixels along one axis survive a move of ``d``."""
    return slice(0, side - d) if d >= 0 else slice(-d, side)


def expand(x: np.ndarray, y: np.ndarray, seed: int = SEED,
           chunk: int = 10000) -> tuple[np.ndarray, np.ndarray]:
    """Return the n images of ``x`` plus their four shifts, shuffled, and their labels.

    The result has 5n rows.  The shuffle is a permutation drawn from
    ``np.random.default_rng(seed)``.  Each block of shifted images is
    written straight to its shuffled rows of a single output array, a
    ``chunk`` of images at a time, so no second full-size copy is needed.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(
            f"expected images (n, pixels) and labels (n,), got {x.shape} and {y.shape}")
    n = len(x)
    moves = ((0, 0),) + tuple((dy, dx) for _, dy, dx in SHIFTS)
    order = np.random.default_rng(seed).permutation(len(moves) * n)
    # Row order[i] of the unshuffled stack (originals, then each shift)
    # becomes row i of the output; row_of[j] is where unshuffled row j goes.
    row_of = np.empty_like(order)
    row_of[order] = np.arange(len(order))
    expanded_x = np.empty((len(order), x.shape[1]), dtype=x.dtype)
    for k, (dy, dx) in enumerate(moves):
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            expanded_x[row_of[k * n + start:k * n + stop]] = \
                shift(x[start:stop], dy, dx)
    expanded_y = np.tile(y, len(moves))[order]
    return expanded_x, expanded_y


def output_path(target: str | Path | None = None) -> Path:
    """``target`` as a path; by default the data folder's mnist_expanded.pkl.gz."""
    return Path(target) if target is not None else mnist_files.data_dir() / EXPANDED_NAME


def expand_file(source: str | Path | None = None, target: str | Path | None = None,
                seed: int = SEED, force: bool = False,
                compresslevel: int = COMPRESSLEVEL,
                progress: Callable[[str], None] | None = None) -> bool:
    """Write the expanded data set to ``target``; return False if it was already there.

    ``source`` is a file in the book's format (default: the data folder's
    ``mnist.pkl.gz``, built from the IDX files if missing); ``target``
    defaults to the data folder's ``mnist_expanded.pkl.gz``.  The file is
    written to a temporary name and renamed, so a failure never leaves a
    partial file.  ``progress``, if given, is called with one short line
    as each stage (loading, expanding, writing) starts.
    """
    target = output_path(target)
    if target.exists() and not force:
        return False
    report = progress or (lambda line: None)
    report(f"Loading {source or 'the MNIST data'}")
    training, validation, test = mnist_loader.load_data(source)
    n = len(training[0])
    _check_output_size(source, training, validation, test)
    report(f"Expanding {n:,} training images to {5 * n:,} (one-pixel shifts)")
    expanded = expand(*training, seed=seed)
    del training  # free the original images before pickling doubles the output
    report(f"Writing {target}")
    safe_files.write_pickle(target, (expanded, validation, test),
                            compresslevel=compresslevel)
    return True


# What pickling adds to the arrays' own bytes: 404-431 bytes measured for
# the book's triple of 3 to 350,000 training images; this allows more.
PICKLE_FRAMING_BYTES = 4096


def _check_output_size(source, training, validation, test) -> None:
    """Refuse, before any expanding, a data set whose expanded file would
    hold more than ``safe_files.MAX_PICKLE_BYTES``, the most that
    ``mnist_loader.load_data`` reads."""
    copies = 1 + len(SHIFTS)
    x, y = training
    per_image = x[:1].nbytes + y[:1].nbytes
    kept = sum(a.nbytes for part in (validation, test) for a in part) + PICKLE_FRAMING_BYTES
    needed = copies * len(x) * per_image + kept
    if needed > safe_files.MAX_PICKLE_BYTES:
        most = max(0, (safe_files.MAX_PICKLE_BYTES - kept) // (copies * per_image))
        raise safe_files.DataFileError(
            f"{source or 'the MNIST data'}: its {len(x):,} training images would make "
            f"{copies * len(x):,} and a file of {needed:,} bytes, more than the "
            f"{safe_files.MAX_PICKLE_BYTES:,} that load_data reads; expand at most "
            f"{most:,} training images")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Add one-pixel shifts (up, down, left, right) of every "
                    "MNIST training image and save the shuffled 250,000 "
                    "images as mnist_expanded.pkl.gz.")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"seed of the shuffle (default {SEED})")
    parser.add_argument("--force", action="store_true",
                        help="rebuild the file even if it exists")
    parser.add_argument("--source", type=Path, default=None,
                        help="book-format data to expand (default: the data "
                             "folder's mnist.pkl.gz)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"file to write (default: the data folder's {EXPANDED_NAME})")
    parser.add_argument("--compresslevel", type=int, default=COMPRESSLEVEL,
                        choices=range(0, 10), metavar="0-9",
                        help=f"gzip level (default {COMPRESSLEVEL}: fast)")
    args = parser.parse_args(argv)
    target = output_path(args.output)
    problem = _check_arguments(args, target)
    if problem:
        parser.error(problem)
    try:
        written = expand_file(args.source, target, seed=args.seed,
                              force=args.force, compresslevel=args.compresslevel,
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
    except safe_files.DataFileError as e:
        print(f"expand_mnist: {e}", file=sys.stderr)
        return 1
    if written:
        print(f"Wrote the expanded training set to {target}")
    else:
        print(f"{target} already exists; not rebuilding it (use --force to rebuild)")
    return 0


#### Checking the command line
def _check_arguments(args: argparse.Namespace, target: Path) -> str | None:
    """What is wrong with the arguments, found before any data is loaded."""
    if args.seed < 0:
        return f"--seed must be an integer >= 0; got {args.seed}"
    if args.source is not None:
        try:
            mnist_files.book_file(args.source)
        except safe_files.DataFileError as e:
            return f"--source {e}"
    if target.is_dir():
        return f"--output {target} is a folder; name the file to write"
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"--output {target}: {folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"--output {target}: the folder {folder} cannot be written to"
    return None


if __name__ == "__main__":
    sys.exit(main())
