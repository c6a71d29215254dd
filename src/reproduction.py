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
  ``Outcome``) and saves the results after each one.

It is deliberately a handful of functions, not a framework.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, NamedTuple, Sequence, TypeVar

import numpy as np

import mnist_loader
from data_files import atomic_path

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
SEED = 12345678            # the seed of the book's figure scripts
DEFAULT_RUNS = 3
BOOK_EPOCHS = 30           # chapters 3 and 5: --epochs E scales every run by E/30
QUICK_EPOCHS = 3           # what --quick gives where the book runs 30 epochs

T = TypeVar("T")


#### The command line
def make_parser(description: str, *, epochs: int, runs: int = DEFAULT_RUNS,
                seed: int = SEED, out: str | Path | None = None,
                name: str = "") -> argparse.ArgumentParser:
    """The chapter scripts' common options; callers may add their own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=_positive, default=runs,
                        help=f"runs of each experiment (default {runs})")
    parser.add_argument("--seed", type=int, default=seed,
                        help=f"seed of the first run; run i uses seed+i (default {seed})")
    parser.add_argument("--epochs", type=_positive, default=epochs,
                        help=f"epochs per run (default {epochs}, the book's)")
    default_out = Path(out) if out is not None else RESULTS_DIR / name
    parser.add_argument("--out", type=Path, default=default_out,
                        help=f"folder for results.json, table.md and the PNGs "
                             f"(default {default_out})")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_options(parser, experiments: Sequence[str], quick_help: str) -> None:
    """The options chapters 3 and 5 add to the common ones: --quick and --only.

    The defaults of --runs and --epochs become None, meaning "not given",
    so that --quick can choose its own.
    """
    parser.epilog = (f"--epochs E scales every run by E/{BOOK_EPOCHS}: the book's "
                     f"{BOOK_EPOCHS}-epoch runs take E epochs and the others as many "
                     f"in proportion.")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--only", nargs="+", choices=list(experiments), metavar="NAME",
                        help=f"run only these experiments: {', '.join(experiments)}")
    parser.set_defaults(runs=None, epochs=None)


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
        runs = args.runs or (1 if args.quick else DEFAULT_RUNS)
        return cls(out=args.out, seed=args.seed, runs=runs,
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
    return table


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
    experiment that ran more than one epoch; return the markdown table.

    For each name in ``series`` (such as "validation"), an experiment whose
    runs recorded that series also gets ``<experiment>-<name>.png``.
    """
    out_dir = Path(out_dir)
    write_json(out_dir / "results.json",
               {"title": title, "notes": notes,
                "experiments": [vars(exp) for exp in experiments]})
    for exp in experiments:
        # A curve needs two epochs; a one-figure result (a baseline) is in the table.
        if any(len(run["accuracy"]) > 1 for run in exp.runs):
            plot_series(out_dir / f"{slug(exp.name)}.png",
                        {f"seed {run['seed']}": run["accuracy"] for run in exp.runs},
                        title=f"{exp.name} (published: {exp.published})",
                        xlabel="epoch", ylabel="accuracy (%)")
        for name in series:
            curves = {f"seed {run['seed']}": run[name] for run in exp.runs if run.get(name)}
            if curves:
                plot_series(out_dir / f"{slug(exp.name)}-{slug(name)}.png", curves,
                            title=f"{exp.name}: {name} accuracy", xlabel="epoch",
                            ylabel="accuracy (%)")
    table = markdown_table(experiments)
    text = f"# {title}\n\n{table}" + (f"\n{notes}\n" if notes else "")
    with atomic_path(out_dir / "table.md") as tmp:
        tmp.write_text(text)
    return table


def write_json(path: str | Path, obj) -> None:
    """Write ``obj`` to ``path`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


def plot_series(path: str | Path, series: Mapping[str, Sequence | tuple],
                *, title: str, xlabel: str, ylabel: str,
                logy: bool = False) -> Path:
    """Draw one line per entry of ``series`` into a PNG at ``path``.

    Each value is either a list of y values (plotted against 0, 1, 2, ...)
    or a pair ``(xs, ys)``.
    """
    fig, ax = figure(figsize=(7, 4.5))
    for label, values in series.items():
        if isinstance(values, tuple) and len(values) == 2:
            xs, ys = values
        else:
            xs, ys = range(len(values)), values
        ax.plot(list(xs), list(ys), label=label)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


def figure(nrows: int = 1, ncols: int = 1, squeeze: bool = True, **kwargs):
    """A new matplotlib ``Figure`` and its axes, made without pyplot.

    Such a figure opens no window, switches no backend and is not kept by
    pyplot, so scripts and tests leave nothing behind, while a notebook
    still shows a figure that a cell returns.
    """
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def save_png(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path
