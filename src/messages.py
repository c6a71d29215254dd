"""messages
~~~~~~~~

How an error message names a value that came from a file.

A file can hold a value whose text is astronomically long: a pickle of
about a hundred bytes can be a tuple of 30 references to a tuple of 30
references to ..., twelve deep, whose repr would have 30**12 parts; a
JSON file can hold a list of a million numbers.  A message that formatted
such a value whole, even to cut the text short afterwards, would run out
of memory or never finish.  So every reader of files in this project
(safe_files, mnist_files, network_files, network2, network3) names such a
value with ``describe``, which says what it is and how big and shows at
most a few dozen characters of it, built from its first parts alone; and
an error caught while reading with ``describe_error``, in one short line.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def describe(value: Any, limit: int = 60) -> str:
    """``value`` as a message should name it, in at most about ``limit``
    characters: its repr when that is short (``'0.5'``, ``[784, 0, 10]``,
    ``None``), else its type and size and the start of its repr, such as
    ``a tuple of 30 items: ((((((), (), (), ...``.  The work is bounded by
    ``limit`` whatever ``value`` holds; only numbers, strings, bytes and
    the builtin containers are looked into, and no object's own ``__repr__``
    is called."""
    text, whole = _preview(value, limit)
    if whole:
        return text
    return f"{_kind(value)}: {text}..." if text else _kind(value)


def describe_error(error: BaseException, limit: int = 200) -> str:
    """``error``'s type and the first line of its message, cut to ``limit``
    characters; an error holding one value that is not text (a KeyError's
    key) names it with ``describe``."""
    if len(error.args) == 1 and not isinstance(error.args[0], str):
        text = describe(error.args[0])
    else:
        text = str(error)
    lines = text.splitlines()
    text = lines[0] if lines else ""
    return f"{type(error).__name__}: {text[:limit]}" if text else type(error).__name__


def _preview(value, budget: int) -> tuple[str, bool]:
    """The start of ``value``'s repr, at most ``budget`` characters, and
    whether that is all of it.  Each call either returns at once or spends
    at least one character of its budget before looking inside, so the
    work is in proportion to ``budget``."""
    if budget <= 0:
        return "", False
    numpy_number = isinstance(value, (np.number, np.bool_))
    if value is None or type(value) in (bool, float) or numpy_number:
        text = repr(value)
    elif type(value) is int:
        if value.bit_length() > 128:  # its digits alone could take long to work out
            return "", False
        text = repr(value)
    elif type(value) in (str, bytes, bytearray):
        text = repr(value[:budget])
        if len(value) > budget:
            return text[:budget], False
    elif type(value) in (tuple, list, dict):
        return _preview_items(value, budget)
    else:
        return "", False
    return (text, True) if len(text) <= budget else (text[:budget], False)


def _preview_items(value, budget: int) -> tuple[str, bool]:
    opening, closing = {tuple: "()", list: "[]", dict: "{}"}[type(value)]
    items = value.items() if type(value) is dict else value
    text = opening
    for i, item in enumerate(items):
        separator = ", " if i else ""
        room = budget - len(text) - len(separator) - 1
        if type(value) is dict:
            part, whole = _preview(item[0], room - 2)
            if whole:
                rest, whole = _preview(item[1], room - len(part) - 2)
                part += ": " + rest
        else:
            part, whole = _preview(item, room)
        text += separator + part
        if not whole:
            return text[:budget], False
    if type(value) is tuple and len(value) == 1:
        text += ","
    text += closing
    return (text, True) if len(text) <= budget else (text[:budget], False)


def _kind(value) -> str:
    """What ``value`` is and how big, from its type and length alone."""
    kind = type(value)
    if kind is int:
        return f"an integer of {value.bit_length():,} bits"
    if kind is str:
        return f"a string of {len(value):,} characters"
    if kind in (bytes, bytearray):
        return f"{len(value):,} bytes"
    if kind in (tuple, list, dict, set, frozenset):
        return f"a {kind.__name__} of {len(value):,} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, np.ndarray) or (kind.__module__.split(".")[0] == "torch"
                                          and hasattr(value, "shape")
                                          and hasattr(value, "dtype")):
        return f"an array of shape {tuple(int(n) for n in value.shape)} and dtype {value.dtype}"
    name = kind.__name__[:40]
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
