"""Tests of the chapter-script convention (reproduction.py) and the baselines."""

import json
import random

import numpy as np
import pytest

import mnist_average_darkness
import mnist_loader
import mnist_svm
from plots import digit_grid, draw_series, figure
from reproduction import (Experiment, book_reference, epoch_accuracies, epochs_for,
                          make_parser, markdown_table, parse_args, printed_lines,
                          reported_errors, save_results, seed_all, seeded_runs, seeds, slug,
                          summary)

PNG = b"\x89PNG\r\n\x1a\n"


def test_parser_defaults_and_overrides(tmp_path):
    parser = make_parser("demo", epochs=30, name="chapterX")
    args = parser.parse_args([])
    assert (args.runs, args.seed, args.epochs) == (3, 12345678, 30)
    assert args.out.parts[-2:] == ("results", "chapterX")
    args = parser.parse_args(["--runs", "2", "--seed", "7", "--epochs", "4", "--out", str(tmp_path)])
    assert (args.runs, args.seed, args.epochs, args.out) == (2, 7, 4, tmp_path)
    with pytest.raises(SystemExit):
        parser.parse_args(["--runs", "0"])


def test_seed_all_repeats_both_generators():
    seed_all(3)
    first = (random.random(), np.random.rand())
    seed_all(3)
    assert (random.random(), np.random.rand()) == first


def test_quick_and_only_fill_in_the_options(tmp_path):
    parser = make_parser("demo", epochs=30, experiments=["first", "second"],
                         quick="a quick look")
    args = parse_args(parser, ["--quick", "--out", str(tmp_path)])
    assert (args.runs, epochs_for(args, 30), epochs_for(args, 400), args.out) == \
        (1, 3, 40, tmp_path)
    assert parser.parse_args(["--only", "second"]).only == ["second"]
    args = parse_args(parser, ["--epochs", "60", "--seed", "5"])
    assert (args.runs, epochs_for(args, 30), args.seeds) == (3, 60, [5, 6, 7])
    with pytest.raises(SystemExit):
        parser.parse_args(["--only", "third"])


def test_seeded_runs_announce_and_seed_every_run(capsys):
    draws = [(seed, random.random(), np.random.rand())
             for seed in seeded_runs("demo", seeds(7, 3))]
    assert [d[0] for d in draws] == [7, 8, 9]
    assert [(seed, random.random(), np.random.rand())
            for seed in seeded_runs("again", [8])] == [draws[1]]
    assert capsys.readouterr().out.splitlines() == [
        "# demo: run 1 of 3, seed 7", "# demo: run 2 of 3, seed 8",
        "# demo: run 3 of 3, seed 9", "# again: run 1 of 1, seed 8"]


def test_experiment_records_each_run():
    exp = Experiment("demo", "-")
    results = []
    for seed in seeded_runs(exp.name, [1, 2]):
        results.append([float(seed), 50.0])
        exp.add_run(seed, results[-1])
    assert results == [[1.0, 50.0], [2.0, 50.0]]
    assert exp.runs == [{"seed": 1, "accuracy": [1.0, 50.0]},
                        {"seed": 2, "accuracy": [2.0, 50.0]}]
    # A run can record further series beside its accuracy, numpy's values
    # as plain ones.
    exp = Experiment("series", "-")
    exp.add_run(3, [90.0], cost=[0.5])
    exp.add_run(4, np.array([4.0]), cost=np.array([0.25]))
    assert exp.runs == [{"seed": 3, "accuracy": [90.0], "cost": [0.5]},
                        {"seed": 4, "accuracy": [4.0], "cost": [0.25]}]


def test_printed_lines_echoes_and_collects(capsys):
    with printed_lines() as lines:
        print("Epoch 0: 9129 / 10000")
        print("Epoch 1 complete")
    assert lines == ["Epoch 0: 9129 / 10000", "Epoch 1 complete"]
    assert capsys.readouterr().out == "Epoch 0: 9129 / 10000\nEpoch 1 complete\n"


def test_epoch_accuracies_read_the_books_epoch_lines():
    lines = ["# demo: run 1 of 1, seed 3", "Epoch 0: 9129 / 10000", "Epoch 1 complete",
             "Epoch 1: 9295 / 10000", "Epoch 2: 50 / 200", "Epoch 3: 9300 / 10000 extra"]
    assert epoch_accuracies(lines) == [91.29, 92.95, 25.0]
    assert epoch_accuracies([]) == []


def test_summary_and_table():
    assert summary([]) == "-"
    assert summary([95.0]) == "95.00%"
    assert summary([95.0, 96.0, 94.0]) == "95.00% (94.00-96.00)"
    exp = Experiment("[784, 30, 10], eta 3.0", "95.42%", "30 epochs")
    exp.add_run(1, [90.0, 95.5, 95.0])
    exp.add_run(2, [91.0, 94.0, 94.5])
    assert exp.best() == [95.5, 94.5] and exp.final() == [95.0, 94.5]
    row = markdown_table([exp]).splitlines()[2]
    assert row == ("| [784, 30, 10], eta 3.0 | 30 epochs | 95.42% | 95.00% (94.50-95.50) | "
                   "94.75% (94.50-95.00) | 2 (1, 2) |")


def test_save_results_writes_json_table_and_pngs(tmp_path):
    exp = Experiment("[784, 30, 10], eta 3.0", "95.42%")
    exp.add_run(5, np.array([90.0, 92.5]), training_cost=np.array([0.5, 0.25]))
    empty = Experiment("not run", "1%")
    point = Experiment("baseline", "22.25%", per_epoch=False)
    point.add_run(None, [22.25])  # deterministic: no seed, and no curve
    table = save_results(tmp_path / "out", "Demo", [exp, empty, point], notes="a note")
    assert table.splitlines()[-1].endswith("| 22.25% | 22.25% | 1 (-) |")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["experiments"][0]["runs"] == [
        {"seed": 5, "accuracy": [90.0, 92.5], "training_cost": [0.5, 0.25]}]
    text = (tmp_path / "out" / "table.md").read_text()
    assert text.startswith("# Demo") and table in text and "a note" in text
    png = tmp_path / "out" / f"{slug(exp.name)}.png"
    assert png.read_bytes()[:8] == PNG
    # No curve for the experiment without runs, nor for a baseline's one figure.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["results.json", "table.md", png.name])
    # A named series of the runs gets a figure of its own.
    exp.runs[0]["validation"] = [91.0, 93.0]
    save_results(tmp_path / "more", "Demo", [exp], series=["validation"])
    assert (tmp_path / "more" / f"{slug(exp.name)}-validation.png").read_bytes()[:8] == \
        b"\x89PNG\r\n\x1a\n"


def test_average_darkness_baseline_gives_the_books_2225():
    training, _, test = mnist_loader.load_data()
    avgs = mnist_average_darkness.avg_darknesses(training)
    guesses = mnist_average_darkness.classify(test[0], avgs)
    assert int((guesses == test[1]).sum()) == 2225
    # The vectorized classifier agrees with the one-image version.
    for image, guess in zip(test[0][:200], guesses[:200]):
        assert mnist_average_darkness.guess_digit(image, avgs) == guess


def test_svm_baseline_on_a_small_subset_learns():
    training, _, test = mnist_loader.load_data()
    small = (training[0][:2000], training[1][:2000])
    few = (test[0][:1000], test[1][:1000])
    book = mnist_svm.svm_baseline(small, few)
    assert book >= 800  # far above chance with 2,000 training images
    assert mnist_svm.BOOK_GAMMA == 1 / 784


def test_a_run_of_one_epoch_still_gets_a_plot(tmp_path):
    exp = Experiment("one epoch", "95.42%", reference=95.42)
    exp.add_run(1, [91.0])
    save_results(tmp_path, "Demo", [exp])
    assert (tmp_path / "one-epoch.png").read_bytes()[:8] == PNG


def drawn(series, **options):
    fig, ax = figure()
    draw_series(ax, series, title=options.pop("title", "demo"), xlabel="epoch",
                ylabel="test accuracy (%)", **options)
    fig.canvas.draw()
    return fig, ax


def test_plots_mark_few_points_and_tick_whole_epochs():
    for epochs in (1, 2, 3, 7):
        _, ax = drawn({"seed 1": [90.0 + j for j in range(epochs)]})
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), (epochs, ticks)
        assert ax.get_lines()[0].get_marker() == "o"
        assert ax.get_legend() is not None  # a single run is labelled too
    _, ax = drawn({"seed 1": list(range(400))})
    assert ax.get_lines()[0].get_marker() in (None, "None", "")


def test_every_line_of_a_crowded_plot_can_be_told_apart():
    """Eleven lines (more than matplotlib's ten colours) differ in colour or
    style, and a line drawn over an identical one leaves it showing."""
    series = {f"row {k}": [80.0 + k, 81.0 + k] for k in range(10)}
    series["same as row 3"] = series["row 3"]
    _, ax = drawn(series)
    lines = ax.get_lines()
    looks = {(line.get_color(), line.get_linestyle()) for line in lines}
    assert len(looks) == len(series) == 11
    widths = [line.get_linewidth() for line in lines]
    assert widths == sorted(widths, reverse=True) and widths[3] > widths[10]
    assert lines[10].get_zorder() >= lines[3].get_zorder()


def test_plots_draw_the_books_figure_and_wrap_long_titles():
    _, ax = drawn({"seed 1": [90.0, 91.0]}, title="a long title " * 12,
                  references={"book: 95.42%": 95.42,
                              "book's epochs": ([0, 1], [91.29, 92.95])})
    line, dashed, points = ax.get_lines()
    assert list(dashed.get_ydata()) == [95.42, 95.42] and dashed.get_linestyle() == "--"
    assert list(points.get_ydata()) == [91.29, 92.95] and points.get_marker() == "x"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["seed 1", "book: 95.42%", "book's epochs"]
    assert ax.get_title().count("\n") >= 1


def test_save_results_draws_the_book_only_over_the_epochs_run(tmp_path):
    exp = Experiment("demo", "book", reference=([0, 1, 2, 29], [91.0, 92.0, 93.0, 95.0]))
    exp.add_run(1, [90.0, 91.0])
    save_results(tmp_path, "Demo", [exp])
    # The plot itself was looked at; what it is given is checked here.
    assert book_reference(exp) == {"book: book": ([0, 1], [91.0, 92.0])}


def test_digit_grid_lays_the_images_out_in_rows():
    images = np.zeros((23, 784))
    fig = digit_grid(images, columns=10, labels=list(range(23)))
    axes = fig.get_axes()
    assert len(axes) == 30  # 3 rows of 10
    assert sum(bool(ax.images) for ax in axes) == 23
    assert tuple(fig.get_size_inches()) == pytest.approx((8.0, 3.0))
    assert [t.get_text() for t in axes[0].texts] == ["0"]


def test_parse_args_checks_seed_and_out_before_anything_runs(tmp_path, capsys):
    parser = make_parser("demo", epochs=30)
    for argv, message in ((["--seed", "-1"], "a seed lies between 0"),
                          (["--seed", str(2**32 - 2), "--runs", "3"], "goes past"),
                          (["--runs", "0"], "must be at least 1"),
                          (["--epochs", "two"], "not a whole number"),
                          (["--out", str(tmp_path / "file" / "sub")], "is not a folder")):
        (tmp_path / "file").write_text("")
        with pytest.raises(SystemExit) as stopped:
            parse_args(parser, argv)
        assert stopped.value.code == 2, argv
        assert message in capsys.readouterr().err, argv
    args = parse_args(parser, ["--out", str(tmp_path / "new" / "folder")])
    assert args.out == tmp_path / "new" / "folder"


def test_reported_errors_print_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        with reported_errors("demo.py"):
            raise FileNotFoundError("data/x.gz: no such file")
    assert stopped.value.code == 1
    assert capsys.readouterr().err == "demo.py: data/x.gz: no such file\n"
