"""network_files
~~~~~~~~~~~~~~~

The file a network of network.py or network2.py is saved in: written and
read here, and nowhere else.

Its layout is the one the book's network2.save writes: a JSON object with
four keys, ``sizes`` (the layer sizes), ``weights`` and ``biases`` (each
matrix a list of its rows) and ``cost`` (the name of the cost class, such
as "CrossEntropyCost").  network.py saves its networks the same way, with
the cost "QuadraticCost", so network2.load reads the files of both modules
and of the book's own program.

``write_network`` writes the file atomically (``safe_files.write_json``).
``read_network`` parses it as JSON and nothing else, so a file can never
run code, and checks every value before it makes an array of it; it
returns plain values (the sizes, float64 arrays, the cost's name) and
leaves to its caller the two things only the caller knows: which costs it
trains, and how its ``Network`` is built.  ``not_a_network`` is the error
for a file that is not one, for the caller's own check of the cost.
"""

from __future__ import annotations

import json
import os

import numpy as np

from messages import describe
from safe_files import DataFileError, write_json

# The largest file load() of network.py and network2.py reads: a network of
# some five million weights.  Reading JSON takes more memory than the text
# has bytes; measured on files of 124-128 MiB, per byte: 4.0 for a saved
# network of random floats, 24.6-27.6 for one whose rows hold a single
# number, 50 (6.25 GiB) for lists nested deep, the costliest text we found.
MAX_NETWORK_FILE_BYTES = 1 << 27


def write_network(filename: str | os.PathLike, sizes: list[int], weights: list[np.ndarray],
                  biases: list[np.ndarray], cost_name: str) -> None:
    """Write a network to ``filename`` in the layout above: ``sizes``, the
    ``weights`` and ``biases`` matrices as nested lists, and ``cost_name``.
    It is written to a temporary file and renamed: a failure leaves no
    half-written file."""
    write_json(filename, {"sizes": sizes, "weights": [w.tolist() for w in weights],
                          "biases": [b.tolist() for b in biases], "cost": cost_name})


def read_network(filename: str | os.PathLike, what: str, max_bytes: int):
    """Read the network saved in ``filename``; return ``(sizes, weights,
    biases, cost)``.

    ``sizes`` is the list of layer sizes (at least two, each a positive
    integer), ``weights`` and ``biases`` lists of float64 arrays of the
    shapes those sizes imply, and ``cost`` the saved cost's name, a string,
    for the caller to look up among the costs it knows.  The file is parsed
    only as JSON, and only after its size is found within ``max_bytes``;
    each matrix's shape is checked on the parsed lists before an array is
    made.  A file that is not such a network (not JSON, a missing key, a
    ragged or misshapen matrix, a value that is not a finite number) raises
    ``not_a_network``'s error; a file that cannot be opened, the OSError
    of ``open``.  ``what`` names what the file should be, such as "a saved
    network2 network".
    """
    def malformed(problem):
        return not_a_network(filename, what, problem)

    with open(filename, "rb") as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise malformed(f"it is larger than the {max_bytes:,} bytes a network file may take")
    try:
        data = json.loads(raw.decode("utf-8-sig"))  # a byte order mark is allowed
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise malformed(f"it is not JSON text ({e})") from None
    if not isinstance(data, dict):
        raise malformed(f"expected a JSON object, found {type(data).__name__}")
    missing = [key for key in ("sizes", "weights", "biases", "cost") if key not in data]
    if missing:
        raise malformed(f"missing key(s) {', '.join(map(repr, missing))}")
    sizes, cost = data["sizes"], data["cost"]
    if not (type(sizes) is list and len(sizes) >= 2
            and all(type(n) is int and n >= 1 for n in sizes)):
        raise malformed(f"sizes must list at least two positive layer sizes, such as "
                        f"[784, 30, 10]; got {describe(sizes)}")
    if type(cost) is not str:
        raise malformed(f"'cost' must be a cost class name, found {describe(cost)}")
    layers = list(zip(sizes[:-1], sizes[1:]))
    parameters = []
    for key, shapes in (("weights", [(n_out, n_in) for n_in, n_out in layers]),
                        ("biases", [(n_out, 1) for _, n_out in layers])):
        values = data[key]
        if not isinstance(values, list) or len(values) != len(shapes):
            raise malformed(f"'{key}' must be a list of {len(shapes)} matrices "
                            f"for sizes {describe(sizes)}")
        arrays = []
        for i, (value, shape) in enumerate(zip(values, shapes)):
            found = _json_shape(value)
            if found is None:
                raise malformed(f"{key}[{i}] is not a rectangular matrix")
            if found != shape:
                raise malformed(f"{key}[{i}] has shape {found}, but sizes "
                                f"{describe(sizes)} need {describe(shape)}")
            if not all(type(v) in (int, float) for row in value for v in row):
                raise malformed(f"{key}[{i}] must hold only numbers")
            try:
                array = np.array(value, dtype=float)
            except OverflowError:  # an integer beyond float64
                array = np.array([np.inf])
            if not np.isfinite(array).all():
                raise malformed(f"{key}[{i}] holds a value that is not a finite "
                                f"number (NaN, Infinity or too large)")
            arrays.append(array)
        parameters.append(arrays)
    return sizes, parameters[0], parameters[1], cost


def _json_shape(value) -> tuple[int, ...] | None:
    """The shape of nested JSON lists, found without building an array;
    None for lists that are ragged or nested more than two deep."""
    if not isinstance(value, list) or not any(isinstance(r, list) for r in value):
        return (len(value),) if isinstance(value, list) else ()
    if not all(isinstance(r, list) and len(r) == len(value[0]) for r in value) \
            or any(isinstance(v, list) for r in value for v in r):
        return None
    return (len(value), len(value[0]))


def not_a_network(filename: str | os.PathLike, what: str, problem: str) -> DataFileError:
    """The error for a file that is not ``what``, for the reason ``problem``:
    "'<filename>' is not <what>: <problem>", a ``DataFileError`` (and so a
    ``ValueError``)."""
    return DataFileError(f"{os.fspath(filename)!r} is not {what}: {problem}")
