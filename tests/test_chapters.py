"""Tests of the chapter 3 and chapter 5 reproduction scripts, on real MNIST.

The scripts are run end to end with tiny settings (one run, a thirtieth of
every run's epochs, small training sets) into temporary folders; the tests
then read back what they wrote.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chapter3
import chapter5
import mnist_loader
import network2
from reproduction import epochs_for, seed_all

PNG = b"\x89PNG\r\n\x1a\n"


def table_rows(table: str) -> dict[str, list[str]]:
    """The rows of a results table by experiment name: the other five cells."""
    rows = {}
    for line in table.splitlines():
        if line.startswith("| ") and not line.startswith("| experiment |"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def measured(cell: str) -> float:
    """The mean from a 'measured' cell such as '91.47%' or '91.0% (90.0-92.0)'."""
    return float(cell.split("%")[0])


def assert_png(path):
    assert path.read_bytes()[:8] == PNG, f"{path.name} is not a PNG"


@pytest.fixture(scope="module")
def training_data():
    return mnist_loader.load_data_wrapper()[0]


#### chapter3.py

@pytest.fixture(scope="module")
def chapter3_run(tmp_path_factory):
    """Every chapter 3 experiment, 1 epoch where the book runs 30."""
    out = tmp_path_factory.mktemp("chapter3")
    table = chapter3.main(["--quick", "--epochs", "1", "--sizes", "100", "1000",
                           "--out", str(out)])
    results = json.loads((out / "results.json").read_text())
    runs = {exp["name"]: exp["runs"] for exp in results["experiments"]}
    return out, table, runs


@pytest.mark.slow
def test_chapter3_writes_a_row_for_every_experiment(chapter3_run):
    out, table, _ = chapter3_run
    rows = table_rows(table)
    expected = {
        "cross-entropy [784, 30, 10]", "cross-entropy [784, 100, 10]",
        "overfitting", "overfitting_full (test accuracy)",
        "overfitting_full (training accuracy)", "l2_small", "l2_full (test accuracy)",
        "l2_full (training accuracy)", "[784, 100, 10], lmbda 5.0, eta 0.5",
        "[784, 100, 10], lmbda 5.0, eta 0.1",
        "weight init [784, 30, 10], large init", "weight init [784, 30, 10], default init",
        "weight init [784, 100, 10], large init",
        "weight init [784, 100, 10], default init",
        "learning rate eta 0.025", "learning rate eta 0.25", "learning rate eta 2.5",
        "more data: network, 100 images", "more data: SVM, 100 images",
        "more data: network, 1,000 images", "more data: SVM, 1,000 images"}
    assert set(rows) == expected
    for name, (settings, published, best, final, runs) in rows.items():
        assert published and best.endswith("%") and final.endswith("%"), name
        assert runs.startswith("1 ("), name
    assert (out / "table.md").read_text().startswith("# Chapter 3")


@pytest.mark.slow
def test_chapter3_scales_every_run_by_epochs_over_30(chapter3_run):
    _, table, runs = chapter3_run
    assert len(runs["cross-entropy [784, 30, 10]"][0]["accuracy"]) == 1
    assert len(runs["[784, 100, 10], lmbda 5.0, eta 0.1"][0]["accuracy"]) == 2  # 60/30
    overfit = runs["overfitting"][0]
    assert len(overfit["accuracy"]) == 13  # 400/30, rounded
    for series in ("training_cost", "test_cost", "training_accuracy"):
        assert len(overfit[series]) == 13
    rows = table_rows(table)
    assert "50 epochs" in rows["more data: network, 1,000 images"][0]   # 1.5e6/1000/30
    assert "500 epochs" in rows["more data: network, 100 images"][0]


@pytest.mark.slow
def test_chapter3_accuracies_are_sane(chapter3_run):
    _, table, runs = chapter3_run
    rows = table_rows(table)
    final = {name: measured(cells[3]) for name, cells in rows.items()}
    # One epoch on all 50,000 images already gives about 90%.
    for name in ("cross-entropy [784, 30, 10]", "cross-entropy [784, 100, 10]",
                 "overfitting_full (test accuracy)", "l2_full (test accuracy)",
                 "weight init [784, 30, 10], default init", "learning rate eta 0.25"):
        assert 85 < final[name] < 99, name
    # The default start beats the large one after the first epoch.
    assert (final["weight init [784, 30, 10], default init"]
            > final["weight init [784, 30, 10], large init"])
    # 1,000 training images: far below the full-data figures on the test set,
    # while the training images themselves are learned better.
    overfit = runs["overfitting"][0]
    assert 50 < overfit["accuracy"][-1] < 90
    assert overfit["training_accuracy"][-1] > overfit["accuracy"][-1]
    assert overfit["training_cost"][-1] < overfit["training_cost"][0]
    # More data helps both classifiers; the SVM is deterministic and gives
    # the book's figures exactly.
    assert final["more data: network, 1,000 images"] > final["more data: network, 100 images"]
    assert final["more data: SVM, 100 images"] == pytest.approx(25.07)
    assert final["more data: SVM, 1,000 images"] == pytest.approx(83.87)


@pytest.mark.slow
def test_chapter3_draws_the_books_figures(chapter3_run):
    out, _, _ = chapter3_run
    figures = [f"{prefix}-{kind}.png" for prefix in ("overfitting", "l2-small")
               for kind in ("training-cost", "test-accuracy", "test-cost",
                            "training-accuracy")]
    figures += ["overfitting-full-training-vs-test.png", "l2-full-training-vs-test.png",
                "weight-init-30.png", "weight-init-100.png", "learning-rates.png",
                "more-data.png", "more-data-log.png", "more-data-comparison.png"]
    for name in figures:
        assert_png(out / name)
    notes = (out / "table.md").read_text()
    for name in ("more-data.png", "more-data-log.png", "more-data-comparison.png"):
        assert f"- {name}: " in notes, name  # each with its caption
    # The runs per epoch get a plot each (one epoch is a point); the one-figure
    # more-data runs are in the table only.
    assert_png(out / "cross-entropy-784-30-10.png")
    assert not list(out.glob("more-data-network*.png"))
    assert "training accuracy first 100% at epoch" in notes
    assert "accuracy after the first epoch" in notes


@pytest.mark.slow
def test_chapter3_only_runs_the_chosen_experiments(tmp_path):
    table = chapter3.main(["--only", "overfitting", "--quick", "--epochs", "2",
                           "--out", str(tmp_path)])
    assert list(table_rows(table)) == ["overfitting"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["experiments"][0]["runs"][0]["accuracy"]) == 27  # 400*2/30
    with pytest.raises(SystemExit):
        chapter3.main(["--only", "no_such_experiment", "--out", str(tmp_path)])



BAD_COMMON = [(["--seed", "-1"], "--seed"), (["--runs", "0"], "--runs"),
              (["--epochs", "-3"], "--epochs"), (["--runs", "two"], "--runs"),
              (["--seed", str(2**32 - 1), "--runs", "3"], "largest seed")]


@pytest.mark.parametrize("script, argv, message", [
    (script, argv, message) for script in ("chapter3", "chapter5")
    for argv, message in BAD_COMMON] + [
    ("chapter3", ["--sizes", "5"], "--sizes"), ("chapter3", ["--sizes", "60000"], "--sizes"),
    ("chapter3", ["--sizes", "0"], "--sizes"), ("chapter3", ["--only", "nothing"], "--only"),
    ("chapter5", ["--init-seeds", "0"], "--init-seeds"),
    ("chapter5", ["--seed", str(2**32 - 5), "--init-seeds", "10"], "largest seed")])
def test_chapters_3_and_5_refuse_bad_arguments_before_loading_data(script, argv, message,
                                                                   no_data, tmp_path, capsys):
    main = {"chapter3": chapter3.main, "chapter5": chapter5.main}[script]
    with pytest.raises(SystemExit) as stopped:
        main(argv + ["--out", str(tmp_path)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_chapter3_takes_the_last_seed_for_its_one_quick_run(tmp_path, no_data,
                                                            monkeypatch, capsys):
    """--quick means one run, so the largest seed is enough for it; without
    --quick the default three runs would go past it."""
    chosen = []
    monkeypatch.setattr(chapter3, "run_chapter",
                        lambda title, experiments, args: chosen.append(args))
    chapter3.main(["--seed", str(2**32 - 1), "--quick", "--out", str(tmp_path)])
    assert chosen[0].seeds == [2**32 - 1]
    with pytest.raises(SystemExit) as stopped:
        chapter3.main(["--seed", str(2**32 - 1), "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert f"--seed {2**32 - 1} with 3 runs goes past" in capsys.readouterr().err


def test_chapter3_and_5_refuse_an_out_they_cannot_write(tmp_path, no_data, capsys):
    (tmp_path / "file").write_text("")
    for script in (chapter3, chapter5):
        with pytest.raises(SystemExit) as stopped:
            script.main(["--quick", "--out", str(tmp_path / "file" / "results")])
        assert stopped.value.code == 2
        assert "is not a folder" in capsys.readouterr().err


def test_chapter3_options_keep_the_books_epochs_by_default(tmp_path, no_data, monkeypatch):
    chosen = []
    monkeypatch.setattr(chapter3, "run_chapter",
                        lambda title, experiments, args: chosen.append(args))
    chapter3.main(["--out", str(tmp_path)])
    args = chosen[0]
    assert [epochs_for(args, e) for e in (30, 60, 400)] == [30, 60, 400]
    assert [epochs_for(args, chapter3.EXAMPLES_SEEN / s) for s in (100, 1000, 50000)] == \
        [15000, 1500, 30]
    assert args.seeds == [12345678, 12345679, 12345680]
    assert args.sizes == chapter3.BOOK_SIZES


#### chapter5.py

def test_chapter5_does_not_import_chapter3():
    """What the two scripts share lives in reproduction.py."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, chapter5; print('chapter3' in sys.modules)"],
        cwd=Path(chapter5.__file__).parent, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]


def test_gradient_norms_at_init_grow_towards_the_output(training_data):
    """The vanishing gradient: averaged over seeds, each hidden layer of
    [784, 30, 30, 30, 30, 10] gets a larger gradient than the one before."""
    norms = chapter5.init_gradient_norms(training_data[:1000], 4, seeds=range(3))
    assert norms.shape == (3, 4)
    mean = norms.mean(axis=0)
    assert all(a < b for a, b in zip(mean, mean[1:])), mean
    assert mean[-1] / mean[0] > 10


def test_full_batch_step_reports_the_averaged_backprop_gradient(training_data):
    batch = training_data[:200]
    seed_all(3)
    net = network2.Network([784, 30, 30, 10])
    expected = chapter5.hidden_norms(chapter5.average_gradient(net, batch))
    before = [b.copy() for b in net.biases]
    found = chapter5.full_batch_step(net, batch, 0.1, 5.0)
    np.testing.assert_allclose(found, expected, rtol=1e-8)
    assert len(found) == 2
    assert all(not np.array_equal(b0, b1) for b0, b1 in zip(before, net.biases))




@pytest.mark.slow
def test_chapter5_runs_and_writes_every_table_and_figure(tmp_path, capsys):
    table = chapter5.main(["--quick", "--epochs", "1", "--init-seeds", "3",
                           "--out", str(tmp_path)])
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith(
        f"Results are in {tmp_path}")
    rows = table_rows(table)
    assert list(rows) == ["[784, 30, 10]", "[784, 30, 30, 10]", "[784, 30, 30, 30, 10]",
                          "[784, 30, 30, 30, 30, 10]"]
    # After one epoch at eta 0.1 the nets with one and two hidden layers are
    # near 90%; the deeper ones start far more slowly (the chapter's point),
    # the deepest sometimes hardly above chance.
    assert measured(rows["[784, 30, 10]"][3]) > 85
    assert measured(rows["[784, 30, 30, 10]"][3]) > 85
    assert all(5 < measured(cells[3]) < 99 for cells in rows.values())

    at_init = json.loads((tmp_path / "gradients-at-init.json").read_text())
    assert np.array(at_init["4"]["norms"]).shape == (3, 4)
    speed = json.loads((tmp_path / "training-speed.json").read_text())
    for hidden in (2, 3, 4):
        norms = np.array(speed[str(hidden)]["norms"])
        assert norms.shape == (1, 17, hidden)  # 500/30 epochs, rounded
        assert np.all(norms > 0)
        assert_png(tmp_path / f"training-speed-{hidden}-hidden.png")
    four = np.array(speed["4"]["norms"][0])
    assert four[0, -1] > 10 * four[0, 0]  # the last hidden layer learns faster
    assert four[-1, -1] < four[0, -1]     # and its gradient shrinks as it learns

    assert_png(tmp_path / "gradients-at-init.png")
    notes = (tmp_path / "table.md").read_text()
    assert "- gradients-at-init.png: " in notes and "- training-speed-N-hidden.png: " in notes
    for hidden, layer, book in ((2, 2, "0.31"), (3, 2, "0.060"), (4, 1, "0.003")):
        assert f"| {hidden} | {layer} | {book} |" in notes
    assert "| 4 | about 100 |" in notes


@pytest.mark.parametrize("script", [chapter3, chapter5])
def test_help_describes_every_experiment(script, capsys):
    """--help shows the docstring's list of experiments, not only the
    sentence that introduces it."""
    with pytest.raises(SystemExit):
        script.main(["--help"])
    out = capsys.readouterr().out
    intro = script.__doc__.split("\n\n")[1]
    assert intro.rstrip().endswith(":") and intro in out
    for name in script.EXPERIMENTS:
        assert f"- ``{name}``" in out
