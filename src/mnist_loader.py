"""mnist_loader
~~~~~~~~~~~~

Loads the MNIST digits in the form the book's programs expect.

The book ships its data as ``mnist.pkl.gz``: a gzipped pickle of three
pairs ``(training_data, validation_data, test_data)``.  Each pair is
``(x, y)`` where ``x`` is a float32 array of shape (n, 784) holding the
pixel intensities divided by 256, and ``y`` an int64 array of the n digit
labels.  The 60,000 official training images are split into the first
50,000 (training) and the last 10,000 (validation); the 10,000 official
test images are the test set.

Where that file lives, how it is built from the original IDX files
(downloaded and checked on first use) and how it is read safely is the
business of ``mnist_files``; this module is just the book's three
functions.
"""

from __future__ import annotations

import os

import numpy as np

import mnist_files


def load_data(filename: str | os.PathLike | None = None):
    """Return ``(training_data, validation_data, test_data)`` as in the book.

    Each is a pair ``(x, y)``: x float32 of shape (n, 784), y int64 of
    shape (n,), with n = 50,000, 10,000 and 10,000.  ``filename`` names a
    file in the book's format (``"../data/mnist_expanded.pkl.gz"``, say;
    a relative name is looked for in the current folder, then in src/); by
    default the data folder's ``mnist.pkl.gz`` is used, and built from the
    IDX files (downloading them if need be) when it does not exist yet.
    A missing, corrupt or malformed file raises ``safe_files.DataFileError``.
    """
    return mnist_files.read_book_data(mnist_files.book_file(filename))


def load_data_wrapper():
    """Return the data as lists of ``(x, y)`` pairs, ready for network.py.

    ``training_data`` holds 50,000 pairs of a (784, 1) input and a (10, 1)
    one-hot vector for the desired output; ``validation_data`` and
    ``test_data`` hold 10,000 pairs of a (784, 1) input and the digit as a
    plain int.  These are lists (not one-shot iterators), so they can be
    passed to ``SGD`` and evaluated again and again.
    """
    tr_d, va_d, te_d = load_data()
    one_hot = np.eye(10)[tr_d[1]][:, :, np.newaxis]
    training_data = list(zip(_columns(tr_d[0]), one_hot))
    validation_data = list(zip(_columns(va_d[0]), va_d[1].tolist()))
    test_data = list(zip(_columns(te_d[0]), te_d[1].tolist()))
    return training_data, validation_data, test_data


def vectorized_result(j: int) -> np.ndarray:
    """A (10, 1) column with 1.0 in row ``j`` and zeros elsewhere."""
    _check_digit(j)
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


def _columns(x: np.ndarray) -> list[np.ndarray]:
    """Each row of ``x`` as a (784, 1) column: views, not copies."""
    return list(x.reshape(len(x), -1, 1))


#### Checking the caller's input
def _check_digit(j) -> None:
    if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j <= 9:
        raise ValueError(f"vectorized_result expects a digit 0-9; got {j!r}")
