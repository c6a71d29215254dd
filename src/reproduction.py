"""reproduction
~~~~~~~~~~~~

What the chapter scripts (chapter1.py, chapter3.py, chapter5.py, conv.py
and exercises.py) have in common, and nothing else.  Each script parses
its command line in ``main``, loops over its runs where the reader sees
it, and draws its figures with ``plots``; from here it takes:

- the command line: ``make_parser`` (``--runs N``, ``--seed S``, run i
  using seed S + i, ``--epochs E``, ``--out DIR``, and for the scripts that
  run named experiments ``--quick`` and ``--only NAME ...``) and
  ``parse_args``, which checks them before any data is loaded;
- the runs: ``seeded_runs``, which announces each run and seeds the
  generators before it, so that a run can be repeated from its seed alone;
  ``printed_lines`` and ``epoch_accuracies``, which read the book's
  ``Epoch j: c / n`` lines as network.py prints them;
- the record: an ``Experiment`` per configuration, and ``save_results``,
  writing ``results.json`` (every epoch of every run), a PNG of accuracy
  per epoch for each experiment and ``table.md``, which sets the measured
  figures beside the published ones;
- ``run_chapter``, the loop over the chosen experiments that chapter3.py,
  chapter5.py and exercises.py share, and ``reported_errors``, which turns
  a missing or unfit file into one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

import mnist_loader
from plots import plot_series
from safe_files import DataFileError, atomic_path, write_json

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
SEED = 12345678            # the seed of the book's figure scripts
DEFAULT_RUNS = 3
BOOK_EPOCHS = 30           # --epochs E scales the book's runs by E/30
QUICK_EPOCHS = 3           # what --quick gives where the book runs 30 epochs
MAX_SEED = 2**32 - 1       # numpy's generators take seeds 0 .. 2**32 - 1


#### The command line
def make_parser(description: str, *, name: str = "", epochs: int = BOOK_EPOCHS,
                experiments: Sequence[str] = (), quick: str = "") -> argparse.ArgumentParser:
    """The chapter scripts' common options; callers may add their own.

    ``description`` is shown as written (see ``script_description``), so
    its lines and lists keep their shape in ``--help``.  With
    ``experiments`` (their names), the parser also takes ``--only NAME ...``
    and ``--quick`` (``quick`` says what it does); then --runs and --epochs
    default to None, "not given", so that --quick can choose (see
    ``parse_args`` and ``epochs_for``).
    """
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=positive, default=DEFAULT_RUNS,
                        help=f"runs of each experiment (default {DEFAULT_RUNS})")
    parser.add_argument("--seed", type=_seed, default=SEED,
                        help=f"seed of the first run; run i uses seed+i (default {SEED})")
    parser.add_argument("--epochs", type=positive, default=epochs,
                        help=f"epochs per run (default {epochs}, the book's)")
    out = RESULTS_DIR / name
    parser.add_argument("--out", type=Path, default=out,
                        help=f"folder for results.json, table.md and the PNGs (default {out})")
    if experiments:
        parser.epilog = (f"--epochs E scales every run by E/{BOOK_EPOCHS}: the book's "
                         f"{BOOK_EPOCHS}-epoch runs take E epochs\nand the others as many "
                         f"in proportion.")
        parser.add_argument("--quick", action="store_true", help=quick)
        parser.add_argument("--only", nargs="+", choices=list(experiments), metavar="NAME",
                            help=f"run only these experiments: {', '.join(experiments)}")
        parser.set_defaults(runs=None, epochs=None)
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


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv``, fill in what --quick implies and check the common
    options before any work starts: every run's seed must be one numpy
    takes, and ``--out`` must be a folder that can be made or written to.
    A bad argument stops the script with argparse's usage message and exit
    status 2.

    The result has ``runs`` filled in (one with --quick, else DEFAULT_RUNS,
    unless --runs was given) and ``seeds``, the seed of each run.
    """
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if getattr(args, "quick", False) else DEFAULT_RUNS)
    if args.seed + args.runs - 1 > MAX_SEED:
        parser.error(f"--seed {args.seed} with {args.runs} runs goes past the largest "
                     f"seed, {MAX_SEED}")
    args.seeds = seeds(args.seed, args.runs)
    out = Path(args.out)
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        parser.error(f"--out {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        parser.error(f"--out {out}: cannot write in {existing}")
    return args


def epochs_for(args: argparse.Namespace, book_epochs: float) -> int:
    """The epochs to run where the book ran ``book_epochs``: --epochs E
    scales every run by E/30, and --quick means E = QUICK_EPOCHS."""
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else BOOK_EPOCHS)
    return max(1, round(book_epochs * epochs / BOOK_EPOCHS))


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


#### Runs
def seeds(first: int, runs: int) -> list[int]:
    """The seeds of ``runs`` runs: first, first + 1, ..."""
    return list(range(first, first + runs))


def seeded_runs(name: str, seeds: Sequence[int]) -> Iterator[int]:
    """Each of ``seeds`` in turn, for a script's loop over the runs of
    ``name`` (``for seed in seeded_runs(name, seeds):``).

    Before each run it prints which run of ``name`` this is and seeds the
    generators with that run's seed (``seed_all``), so that a run can be
    repeated exactly from its seed alone.
    """
    for i, seed in enumerate(seeds):
        print(f"# {name}: run {i + 1} of {len(seeds)}, seed {seed}", flush=True)
        seed_all(seed)
        yield seed


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

    network.py's ``SGD`` reports progress only by printing (``Epoch 0:
    9129 / 10000``), as the book's does; the scripts read their figures
    from those very lines (``epoch_accuracies``), so the network keeps the
    book's interface unchanged.  The list is filled in when the block ends.
    """
    tee = _Tee(sys.stdout)
    lines: list[str] = []
    with contextlib.redirect_stdout(tee):
        yield lines
    lines.extend("".join(tee.parts).splitlines())


EPOCH_LINE = re.compile(r"^Epoch (\d+): (\d+) / (\d+)$")


def epoch_accuracies(lines: Sequence[str]) -> list[float]:
    """The accuracy (%) of each epoch, read from SGD's ``Epoch j: c / n``
    lines among ``lines``; other lines are passed over."""
    matches = [EPOCH_LINE.match(line) for line in lines]
    return [100.0 * int(m[2]) / int(m[3]) for m in matches if m]


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
                "experiments": [vars(exp) for exp in experiments]}, indent=1)
    for exp in experiments:
        if exp.per_epoch and any(run["accuracy"] for run in exp.runs):
            plot_series(out_dir / f"{slug(exp.name)}.png",
                        {f"seed {run['seed']}": run["accuracy"] for run in exp.runs},
                        title=f"{exp.name}: {exp.settings}" if exp.settings else exp.name,
                        xlabel="epoch", ylabel=exp.ylabel, references=book_reference(exp))
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


def print_where(out: str | Path) -> None:
    """The scripts' last line: where their results are."""
    out = Path(out)
    pngs = len(list(out.glob("*.png")))
    print(f"Results are in {out}: table.md (the measured figures beside the book's), "
          f"results.json (every epoch of every run) and {pngs} PNG "
          f"figure{'s' if pngs != 1 else ''}.", flush=True)


#### The loop over a chapter's experiments
class Data(NamedTuple):
    """MNIST as mnist_loader.load_data_wrapper gives it."""
    training: list
    validation: list
    test: list


# An experiment function of chapter3.py, chapter5.py or exercises.py: it
# takes the data and the parsed arguments, and gives its Experiments and
# any notes for table.md (captions, further measurements).
ExperimentFunction = Callable[[Data, argparse.Namespace], tuple[list[Experiment], list[str]]]


def run_chapter(title: str, experiments: Mapping[str, ExperimentFunction],
                args: argparse.Namespace) -> str:
    """Run the experiment functions that ``--only`` names (all, without it)
    in turn on MNIST, saving the results after each one (so an interrupted
    run keeps what it finished); print and return the table."""
    args.out.mkdir(parents=True, exist_ok=True)
    data = Data(*mnist_loader.load_data_wrapper())
    done, notes = [], []
    table = ""
    for name in args.only or list(experiments):
        start = time.perf_counter()
        found, found_notes = experiments[name](data, args)
        done += found
        notes += found_notes
        notes.append(f"{name} took {time.perf_counter() - start:.0f} s")
        table = save_results(args.out, title, done, "\n".join(f"- {note}" for note in notes))
    print(table)
    print_where(args.out)
    return table
