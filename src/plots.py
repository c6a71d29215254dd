"""plots
~~~~~

Every figure of the chapter scripts (chapter1.py, chapter3.py, chapter5.py,
conv.py, exercises.py) and of the notebooks is drawn here, with matplotlib:

- ``plot_series`` and ``draw_series``: lines per epoch (or per anything),
  with markers where the points are few, whole-number epoch ticks and the
  book's figures drawn as a reference;
- ``digit_grid``: MNIST images in rows, as the book lays out its digits;
- ``figure``: a new figure, made without pyplot unless asked;
- ``save_png``: a figure written to a PNG, atomically;
- ``destination`` and ``show``: where a figure asked for without a file
  name goes (a notebook, a window, or a new PNG in the current folder), as
  conv.py's ``plot_errors`` and ``plot_filters`` need.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from safe_files import atomic_path

#### Lines per epoch
FEW_POINTS = 40   # a line of at most this many points marks each one
TITLE_WIDTH = 75  # characters per title line in a 7-inch-wide figure
LABEL_WIDTH = 45  # characters per line of a legend entry
# Lines of one plot: matplotlib's ten colours, then the same colours dashed,
# and so on; each line a little narrower than the one before, so a line
# drawn over an identical one leaves the first showing at its edges.
LINE_STYLES = ("-", "--", "-.", ":")
LINE_WIDTHS = (2.6, 1.2)  # the first line's width, and the last's


def plot_series(path: str | Path, series: Mapping[str, Sequence | tuple], *,
                title: str, xlabel: str, ylabel: str, logx: bool = False,
                logy: bool = False, references: Mapping[str, float | tuple] | None = None,
                integer_x: bool = True) -> Path:
    """Draw one line per entry of ``series`` into a PNG at ``path``; see
    ``draw_series`` for what the arguments mean."""
    fig, ax = figure(figsize=(7, 4.5))
    draw_series(ax, series, title=title, xlabel=xlabel, ylabel=ylabel, logx=logx,
                logy=logy, references=references, integer_x=integer_x)
    fig.tight_layout()
    return save_png(fig, path)


def draw_series(ax, series: Mapping[str, Sequence | tuple], *, title: str, xlabel: str,
                ylabel: str, logx: bool = False, logy: bool = False,
                references: Mapping[str, float | tuple] | None = None,
                integer_x: bool = True) -> None:
    """Draw one line per entry of ``series`` on the axes ``ax``, readable at
    any length: each point marked where there are few, whole-number ticks
    on the x axis (epochs) unless ``integer_x`` is False, the title wrapped
    to fit, and a legend.

    Each value of ``series`` is a list of y values (plotted against 0, 1,
    2, ...) or a pair ``(xs, ys)``.  Each of ``references`` (the book's
    figures, by label) is a number, drawn as a dashed horizontal line, or a
    pair ``(xs, ys)``, drawn as dotted points.
    """
    xs_seen = set()
    widest, narrowest = LINE_WIDTHS
    for k, (label, values) in enumerate(series.items()):
        xs, ys = _xy(values)
        xs_seen.update(xs)
        width = widest - (widest - narrowest) * k / max(1, len(series) - 1)
        ax.plot(xs, ys, color=f"C{k % 10}", linestyle=LINE_STYLES[k // 10 % len(LINE_STYLES)],
                linewidth=width, marker="o" if len(xs) <= FEW_POINTS else None,
                markersize=2 + width, label=textwrap.fill(label, LABEL_WIDTH))
    references = references or {}
    # The book's points share the colour of the line they go with, where
    # there is one reference per line; otherwise each gets its own.
    paired = len(references) == len(series)
    for k, (label, value) in enumerate(references.items()):
        if isinstance(value, tuple):
            xs, ys = _xy(value)
            ax.plot(xs, ys, linestyle=":", marker="x",
                    color=f"C{k if paired else k + len(series)}",
                    label=textwrap.fill(label, LABEL_WIDTH))
        else:
            ax.axhline(value, linestyle="--", linewidth=1.2,
                       color=f"C{k if paired else k + len(series)}",
                       label=textwrap.fill(label, LABEL_WIDTH))
    ax.set_title(textwrap.fill(title, TITLE_WIDTH), fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(textwrap.fill(ylabel, LABEL_WIDTH))
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if integer_x and not logx:
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(xs_seen) == 1:  # one epoch: a point in the middle, not at an edge
            x = xs_seen.pop()
            ax.set_xlim(x - 1, x + 1)
            ax.set_xticks([x])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _xy(values) -> tuple[list, list]:
    if isinstance(values, tuple) and len(values) == 2:
        return list(values[0]), list(values[1])
    return list(range(len(values))), list(values)


#### Digits, new figures and PNG files
def digit_grid(images, *, columns: int = 10, labels=None, guesses=None,
               cell: tuple[float, float] = (0.8, 1.0), pyplot: bool = False):
    """MNIST images (rows of 784 pixels, or 28x28 arrays) drawn in rows of
    ``columns``, as the book lays out its pictures of digits; returns the
    figure, ``cell`` inches (80 x 100 pixels at 100 dpi) per image.

    With ``labels``, each image's correct digit is written at its top
    right (green); with ``guesses``, a classifier's answer at its bottom
    right (red).  ``pyplot`` is ``figure``'s.
    """
    images = [np.asarray(image).reshape(28, 28) for image in images]
    cols = max(1, min(columns, len(images)))
    rows = max(1, math.ceil(len(images) / cols))
    fig, axes = figure(rows, cols, squeeze=False, figsize=(cell[0] * cols, cell[1] * rows),
                       pyplot=pyplot)
    for ax in axes.flat:
        ax.set_axis_off()
    for j, image in enumerate(images):
        ax = axes.flat[j]
        ax.matshow(image, cmap="binary")
        if labels is not None:
            ax.text(24, 5, str(labels[j]), color="green")
        if guesses is not None:
            ax.text(24, 24, str(guesses[j]), color="red")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.98, wspace=0.1,
                        hspace=0.1)
    return fig


def figure(nrows: int = 1, ncols: int = 1, squeeze: bool = True, *,
           pyplot: bool = False, **kwargs):
    """A new matplotlib ``Figure`` and its axes, made without pyplot unless
    ``pyplot`` is true.

    Such a figure opens no window, switches no backend and is not kept by
    pyplot, so scripts and tests leave nothing behind, while a notebook
    still shows a figure that a cell returns.  With ``pyplot=True`` it is
    made by ``pyplot.figure`` instead, for a caller that will show it in a
    window (see ``figure_display``): only pyplot's figures get one.
    """
    if pyplot:
        import matplotlib.pyplot as plt

        fig = plt.figure(**kwargs)
    else:
        from matplotlib.figure import Figure

        fig = Figure(**kwargs)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def figure_display() -> str:
    """Where a figure drawn now can be seen, as matplotlib's backend decides:

    - ``"notebook"``: Jupyter's inline backend (or the ipympl or nbagg
      widgets), which shows a figure that a cell returns;
    - ``"none"``: a backend that only writes files (agg, pdf, svg, ...),
      as set by MPLBACKEND=agg or picked by matplotlib when there is no
      display to open a window on (no $DISPLAY on Linux);
    - ``"window"``: any other, a GUI toolkit's, where ``pyplot.show()``
      opens a window.

    Asking settles the backend if nothing has chosen it yet (matplotlib
    tries the GUI toolkits, then agg), which imports pyplot: so a script
    that only saves files never asks.
    """
    import matplotlib

    try:  # matplotlib 3.9 and later
        from matplotlib.backends import BackendFilter, backend_registry
        windowless = backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE)
    except ImportError:
        from matplotlib.rcsetup import non_interactive_bk as windowless
    backend = matplotlib.get_backend().lower()
    if any(name in backend for name in ("inline", "ipympl", "widget", "nbagg", "notebook")):
        return "notebook"
    return "none" if backend in windowless else "window"


def save_png(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


#### Showing a figure, or saving it where none can be shown
# With a filename a figure is saved there and nothing more, which is what
# the chapter scripts want.  Without one it is shown, as the book's
# plot_errors and plot_filters did, where matplotlib's backend allows
# (figure_display): a notebook shows the figure a cell returns; a GUI
# backend gets it in a window through pyplot.show(); a backend without
# windows (agg, as on a machine with no display) has it saved as a new PNG
# in the current folder, named in one line on stdout.
def destination(filename) -> str:
    """Where a figure goes: "file" when given a filename, or else
    ``figure_display()``'s answer.  Asked before drawing, since a figure
    for a window must be made by pyplot (``figure(pyplot=True)``)."""
    return "file" if filename is not None else figure_display()


def show(fig, filename, where: str, name: str, what: str):
    """Save ``fig`` at ``filename``, if given, or else show it as ``where``
    (``destination``'s answer) allows.  Without a window, ``name`` is the
    new PNG's name and ``what`` names the picture in the line that says
    where it went.  Returns ``fig``."""
    if filename is not None:
        save_png(fig, filename)
    elif where == "window":
        import matplotlib.pyplot as plt

        plt.show()
    elif where == "none":
        import matplotlib

        path = save_new_png(fig, name)
        print(f"Saved {what} to {path} (matplotlib has no window to show them in; "
              f"backend {matplotlib.get_backend()})")
    return fig


def save_new_png(fig, name: str) -> Path:
    """Write ``fig`` as ``name``.png in the current folder, or, if that file
    exists, as ``name``-1.png, ``name``-2.png, ...: a file already there is
    not replaced.  Returns the absolute path."""
    for k in itertools.count():
        path = Path.cwd() / (f"{name}.png" if k == 0 else f"{name}-{k}.png")
        if not path.exists():
            return save_png(fig, path)
