"""reproduction
~~~~~~~~~~~~

The small convention every chapter script (chapter1.py, chapter3.py,
chapter5.py, conv.py) follows to reproduce the book's figures, kept here
so that the scripts themselves hold only the chapters' experiments:

- the same options: ``--runs N``, ``--seed S`` (run i uses seed S + i),
  ``--epochs E`` and ``--out DIR``, and for chapters 3 and 5 ``--quick``
  and ``--only NAME ...`` (``add_options``);
- one loop over an experiment's runs, ``repeat``: each run is announced,
  the generators are seeded, and the run trains;
- an ``Experiment`` per configuration, recording each run's per-epoch
  accuracy (in percent) and any other per-epoch series;
- ``save_results`` writing ``results.json`` (every epoch of every run), a
  PNG of accuracy per epoch for each experiment, and ``table.md``, which
  sets the measured figures beside the published ones;
- ``run_chapter``, which runs chapter 3's or chapter 5's experiment
  functions (each taking ``Data`` and ``Options`` and giving an
  ``Outcome``) and saves the results after each one;
- the figures: ``plot_series`` (lines per epoch, with markers where the
  points are few, whole-number epoch ticks and the book's figure drawn
  as a reference) and ``digit_grid`` (MNIST images in rows), drawn
  without pyplot;
- ``parse_args``, which checks the common options before any data is
  loaded, and ``reported_errors``, which turns a missing or unfit file
  into one line on stderr.

It is deliberately a handful of functions, not a framework.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import re
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, NamedTuple, Sequence, TypeVar

import numpy as np

import mnist_loader
from data_files import DataFileError, atomic_path

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
SEED = 12345678            # the seed of the book's figure scripts
DEFAULT_RUNS = 3
BOOK_EPOCHS = 30           # chapters 3 and 5: --epochs E scales every run by E/30
QUICK_EPOCHS = 3           # what --quick gives where the book runs 30 epochs
MAX_SEED = 2**32 - 1       # numpy's generators take seeds 0 .. 2**32 - 1

T = TypeVar("T")


#### The command line
def make_parser(description: str, *, epochs: int, runs: int = DEFAULT_RUNS,
                seed: int = SEED, out: str | Path | None = None,
                name: str = "") -> argparse.ArgumentParser:
    """The chapter scripts' common options; callers may add their own.

    ``description`` is shown as written (see ``script_description``), so
    its lines and lists keep their shape in ``--help``."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=positive, default=runs,
                        help=f"runs of each experiment (default {runs})")
    parser.add_argument("--seed", type=_seed, default=seed,
                        help=f"seed of the first run; run i uses seed+i (default {seed})")
    parser.add_argument("--epochs", type=positive, default=epochs,
                        help=f"epochs per run (default {epochs}, the book's)")
    default_out = Path(out) if out is not None else RESULTS_DIR / name
    parser.add_argument("--out", type=Path, default=default_out,
                        help=f"folder for results.json, table.md and the PNGs "
                             f"(default {default_out})")
    return parser


def script_description(doc: str) -> str:
    """A script's ``--help`` text, taken from its module docstring: the
    paragraph after the title and, when that paragraph ends in a colon, the
    list it introduces."""
    paragraphs = doc.split("\n\n")[1:]
    shown = paragraphs[:2] if paragraphs[0].rstrip().endswith(":") else paragraphs[:1]
    return "\n\n".join(shown)


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed lies between 0 and {MAX_SEED}, got {value}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def add_options(parser, experiments: Sequence[str], quick_help: str) -> None:
    """The options chapters 3 and 5 add to the common ones: --quick and --only.

    The defaults of --runs and --epochs become None, meaning "not given",
    so that --quick can choose its own.
    """
    parser.epilog = (f"--epochs E scales every run by E/{BOOK_EPOCHS}: the book's "
                     f"{BOOK_EPOCHS}-epoch runs take E epochs\nand the others as many "
                     f"in proportion.")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--only", nargs="+", choices=list(experiments), metavar="NAME",
                        help=f"run only these experiments: {', '.join(experiments)}")
    parser.set_defaults(runs=None, epochs=None)


def runs_asked(args: argparse.Namespace) -> int:
    """How many runs the parsed arguments ask for: --runs if given, else
    one with --quick (see add_options), else DEFAULT_RUNS."""
    return getattr(args, "runs", None) or (1 if getattr(args, "quick", False)
                                           else DEFAULT_RUNS)


#### What the experiment functions of chapters 3 and 5 take and give
class Data(NamedTuple):
    """MNIST as mnist_loader.load_data_wrapper gives it."""
    training: list
    validation: list
    test: list


@dataclass
class Options:
    """What the command line chose, for the experiment functions."""
    out: Path
    seed: int = SEED
    runs: int = DEFAULT_RUNS     # runs of each experiment (a deterministic one runs once)
    scale: float = 1.0           # every run's epochs are multiplied by this

    def epochs(self, book_epochs: float) -> int:
        """The epochs to run where the book ran ``book_epochs``."""
        return max(1, round(book_epochs * self.scale))

    def seeds(self) -> list[int]:
        """The seed of each run: seed, seed + 1, ..."""
        return seeds(self.seed, self.runs)

    @classmethod
    def from_args(cls, args, **extra) -> "Options":
        """Options from parsed arguments (of ``add_options``), filling in
        what --quick implies; ``extra`` sets a subclass's own fields."""
        epochs = args.epochs or (QUICK_EPOCHS if args.quick else BOOK_EPOCHS)
        return cls(out=args.out, seed=args.seed, runs=runs_asked(args),
                   scale=epochs / BOOK_EPOCHS, **extra)


@dataclass
class Outcome:
    """What one experiment function produced: table rows, figures, notes."""
    experiments: list[Experiment]
    figures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_chapter(title: str, experiments: Mapping[str, Callable[[Data, Options], Outcome]],
                names: Sequence[str], opts: Options) -> str:
    """Run the named experiment functions in turn on MNIST, saving the
    results after each one (so an interrupted run keeps what it finished);
    print and return the table."""
    opts.out.mkdir(parents=True, exist_ok=True)
    data = Data(*mnist_loader.load_data_wrapper())
    done, notes = [], []
    table = ""
    for name in names:
        start = time.perf_counter()
        outcome = experiments[name](data, opts)
        done += outcome.experiments
        notes += outcome.notes
        notes.append(f"{name} took {time.perf_counter() - start:.0f} s")
        table = save_results(opts.out, title, done, "\n".join(f"- {note}" for note in notes))
    print(table)
    print_where(opts.out)
    return table


def print_where(out: str | Path) -> None:
    """The scripts' last line: where their results are."""
    out = Path(out)
    pngs = len(list(out.glob("*.png")))
    print(f"Results are in {out}: table.md (the measured figures beside the book's), "
          f"results.json (every epoch of every run) and {pngs} PNG "
          f"figure{'s' if pngs != 1 else ''}.", flush=True)


#### Runs
def seeds(first: int, runs: int) -> list[int]:
    """The seeds of ``runs`` runs: first, first + 1, ..."""
    return list(range(first, first + runs))


def repeat(name: str, seeds: Sequence[int], train: Callable[[int], T]) -> list[T]:
    """Call ``train(seed)`` for each seed in turn; return what the calls returned.

    This is the one loop over runs that every chapter script uses: before
    each run it prints which run of ``name`` this is and seeds the
    generators with that run's seed (``seed_all``), so a run can be
    repeated exactly from its seed alone.
    """
    results = []
    for i, seed in enumerate(seeds):
        print(f"# {name}: run {i + 1} of {len(seeds)}, seed {seed}", flush=True)
        seed_all(seed)
        results.append(train(seed))
    return results


def seed_all(seed: int) -> None:
    """Seed Python's and numpy's global generators (and torch's, if loaded),
    which is where the book's programs draw their randomness from."""
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def percent(counts: Sequence[int], total: int) -> list[float]:
    """Counts of correct answers as percentages of ``total``."""
    return [100.0 * c / total for c in counts]


class _Tee(io.TextIOBase):
    """A text stream that passes writes on and also keeps them."""

    def __init__(self, stream):
        self.stream, self.parts = stream, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


@contextlib.contextmanager
def printed_lines() -> Iterator[list[str]]:
    """Show what the block prints, as usual, and collect its lines.

    The book's ``SGD`` methods report progress only by printing (``Epoch 0:
    9129 / 10000``); the chapter scripts read their figures from those very
    lines, so the networks keep the book's interface unchanged.  The list
    is filled in when the block ends.
    """
    tee = _Tee(sys.stdout)
    lines: list[str] = []
    with contextlib.redirect_stdout(tee):
        yield lines
    lines.extend("".join(tee.parts).splitlines())


#### Recording what the runs measured
@dataclass
class Experiment:
    """One configuration of a chapter, and what its runs measured."""

    name: str
    published: str
    settings: str = ""
    runs: list[dict] = field(default_factory=list)
    # The book's figure (%) drawn on the plot: a number (a dashed line) or
    # a pair (epochs, percents) of the book's per-epoch figures (points).
    reference: float | tuple | None = None
    ylabel: str = "accuracy (%)"     # which accuracy, on which data
    per_epoch: bool = True           # False: one figure per run (a baseline), no curve

    def add_run(self, seed: int | None, accuracies: Sequence[float], **series) -> None:
        """Record one run: its seed (None for a run that draws nothing at
        random), its per-epoch accuracy in percent, and any other per-epoch
        series (training cost, say) by name."""
        run = {"seed": seed, "accuracy": [float(a) for a in accuracies]}
        for key, values in series.items():
            run[key] = _plain(values)
        self.runs.append(run)

    def repeat(self, seeds: Sequence[int], train: Callable[[int], T],
               measure: Callable[[T], object] | None = None) -> list[T]:
        """Run ``train(seed)`` for each seed (see ``repeat``), recording each
        run as it finishes; return what ``train`` returned.

        What is recorded is ``measure(result)``, or the result itself
        without ``measure``: either the run's accuracy per epoch, or a pair
        of that and a dict of further series by name (see ``add_run``).
        """
        def run(seed: int) -> T:
            result = train(seed)
            found = result if measure is None else measure(result)
            if isinstance(found, tuple) and len(found) == 2 and isinstance(found[1], Mapping):
                self.add_run(seed, found[0], **found[1])
            else:
                self.add_run(seed, found)
            return result
        return repeat(self.name, seeds, run)

    def best(self) -> list[float]:
        return [max(run["accuracy"]) for run in self.runs if run["accuracy"]]

    def final(self) -> list[float]:
        return [run["accuracy"][-1] for run in self.runs if run["accuracy"]]


def _plain(values):
    """Numpy scalars and arrays to JSON-friendly Python values."""
    if isinstance(values, np.ndarray):
        return values.tolist()
    if isinstance(values, (list, tuple)):
        return [_plain(v) for v in values]
    if isinstance(values, np.generic):
        return values.item()
    return values


#### The results: table, JSON, figures
def summary(values: Sequence[float]) -> str:
    """'mean% (min-max)' of a list of percentages, or just the value for one."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}%"
    return f"{np.mean(values):.2f}% ({min(values):.2f}-{max(values):.2f})"


def markdown_table(experiments: Sequence[Experiment]) -> str:
    lines = ["| experiment | settings | published | measured: best epoch | "
             "measured: final epoch | runs (seeds) |",
             "|---|---|---|---|---|---|"]
    for exp in experiments:
        seeds = ", ".join("-" if run["seed"] is None else str(run["seed"])
                          for run in exp.runs)
        lines.append(f"| {exp.name} | {exp.settings} | {exp.published} | "
                     f"{summary(exp.best())} | {summary(exp.final())} | "
                     f"{len(exp.runs)} ({seeds}) |")
    return "\n".join(lines) + "\n"


def slug(text: str) -> str:
    """A file name made from an experiment's name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "experiment"


def save_results(out_dir: str | Path, title: str,
                 experiments: Sequence[Experiment], notes: str = "", *,
                 series: Sequence[str] = ()) -> str:
    """Write results.json, table.md and a PNG of accuracy per epoch for each
    experiment recorded per epoch (a baseline's one figure is in the table
    only); return the markdown table.

    For each name in ``series`` (such as "validation"), an experiment whose
    runs recorded that series also gets ``<experiment>-<name>.png``.
    """
    out_dir = Path(out_dir)
    write_json(out_dir / "results.json",
               {"title": title, "notes": notes,
                "experiments": [vars(exp) for exp in experiments]})
    for exp in experiments:
        if exp.per_epoch and any(run["accuracy"] for run in exp.runs):
            references = book_reference(exp)
            plot_series(out_dir / f"{slug(exp.name)}.png",
                        {f"seed {run['seed']}": run["accuracy"] for run in exp.runs},
                        title=f"{exp.name}: {exp.settings}" if exp.settings else exp.name,
                        xlabel="epoch", ylabel=exp.ylabel, references=references)
        for name in series:
            curves = {f"seed {run['seed']}": run[name] for run in exp.runs if run.get(name)}
            if curves:
                plot_series(out_dir / f"{slug(exp.name)}-{slug(name)}.png", curves,
                            title=f"{exp.name}: {name} accuracy per epoch", xlabel="epoch",
                            ylabel=f"{name} accuracy (%)")
    table = markdown_table(experiments)
    text = f"# {title}\n\n{table}" + (f"\n{notes}\n" if notes else "")
    with atomic_path(out_dir / "table.md") as tmp:
        tmp.write_text(text)
    return table


def book_reference(exp: Experiment) -> dict:
    """What a plot of ``exp`` draws of the book's figure: a line at a
    figure, or the book's points within the epochs that were run."""
    if exp.reference is None:
        return {}
    label = f"book: {exp.published}"
    if not isinstance(exp.reference, (tuple, list)):
        return {label: exp.reference}
    last = max(len(run["accuracy"]) for run in exp.runs) - 1
    points = [(x, y) for x, y in zip(*exp.reference) if x <= last]
    return {label: tuple(map(list, zip(*points)))} if points else {}


def write_json(path: str | Path, obj) -> None:
    """Write ``obj`` to ``path`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


#### Figures
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


#### Checking a script's arguments, and its expected errors
def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv`` and check the common options before any work starts:
    every run's seed must be one numpy takes, and ``--out`` must be a folder
    that can be made or written to.  A bad argument stops the script with
    argparse's usage message and exit status 2."""
    args = parser.parse_args(argv)
    runs = runs_asked(args)
    if args.seed + runs - 1 > MAX_SEED:
        parser.error(f"--seed {args.seed} with {runs} runs goes past the largest "
                     f"seed, {MAX_SEED}")
    out = Path(args.out)
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        parser.error(f"--out {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        parser.error(f"--out {out}: cannot write in {existing}")
    return args


@contextlib.contextmanager
def reported_errors(script: str, *expected: type[BaseException]) -> Iterator[None]:
    """Inside the block, a missing or unfit file (an OSError or a
    DataFileError, or one of ``expected``) ends the script with one line on
    stderr, naming the problem and the file, and exit status 1 instead of a
    traceback."""
    try:
        yield
    except (OSError, DataFileError, *expected) as error:
        print(f"{script}: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
