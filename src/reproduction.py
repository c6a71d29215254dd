"""reproduction
~~~~~~~~~~~~

The small convention every chapter script (chapter1.py, chapter3.py,
chapter5.py, conv.py) follows to reproduce the book's figures:

- the same options: ``--runs N``, ``--seed S`` (run i uses seed S + i),
  ``--epochs E`` and ``--out DIR``;
- an ``Experiment`` per configuration, collecting each run's per-epoch
  accuracy (in percent) and any other per-epoch series;
- ``save_results`` writing ``results.json`` (every epoch of every run), a
  PNG of accuracy per epoch for each experiment, and ``table.md``, which
  sets the measured figures beside the published ones.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from mnist_loader import atomic_path

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def make_parser(description: str, *, epochs: int, runs: int = 3,
                seed: int = 12345678, out: str | Path | None = None,
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


def seed_all(seed: int) -> None:
    """Seed Python's and numpy's global generators (and torch's, if loaded),
    which is where the book's programs draw their randomness from."""
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


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
                 experiments: Sequence[Experiment], notes: str = "") -> str:
    """Write results.json, table.md and a PNG of accuracy per epoch for each
    experiment that ran more than one epoch; return the markdown table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"title": title, "notes": notes,
               "experiments": [vars(exp) for exp in experiments]}
    with atomic_path(out_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(payload, indent=1))
    for exp in experiments:
        # A curve needs two epochs; a one-figure result (a baseline) is in the table.
        if any(len(run["accuracy"]) > 1 for run in exp.runs):
            plot_series(out_dir / f"{slug(exp.name)}.png",
                        {f"seed {run['seed']}": run["accuracy"] for run in exp.runs},
                        title=f"{exp.name} (published: {exp.published})",
                        xlabel="epoch", ylabel="accuracy (%)")
    table = markdown_table(experiments)
    text = f"# {title}\n\n{table}" + (f"\n{notes}\n" if notes else "")
    with atomic_path(out_dir / "table.md") as tmp:
        tmp.write_text(text)
    return table


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
