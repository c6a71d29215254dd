"""The chapter 1 script, run for one epoch of each experiment on real MNIST."""

import json
import struct

import pytest

import chapter1
import mnist_loader


def png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path.name
    return struct.unpack(">II", header[16:24])


@pytest.mark.slow
def test_chapter1_one_epoch_of_each_experiment(tmp_path, capsys):
    table = chapter1.main(["--runs", "1", "--epochs", "1", "--seed", "3",
                           "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert printed.count("Epoch 0: ") == len(chapter1.EXPERIMENTS)
    assert printed.rstrip().splitlines()[-1].startswith(f"Results are in {tmp_path}")
    saved = json.loads((tmp_path / "results.json").read_text())
    by_name = {exp["name"]: exp for exp in saved["experiments"]}
    assert list(by_name) == [f"{sizes}, eta {eta}"
                             for sizes, eta, _, _ in chapter1.EXPERIMENTS] + [
        "average darkness"]
    for name, exp in by_name.items():
        assert len(exp["runs"]) == 1 and len(exp["runs"][0]["accuracy"]) == 1
        assert exp["published"] in table and name in table
    accuracy = {name: exp["runs"][0]["accuracy"][0] for name, exp in by_name.items()}
    assert accuracy["[784, 30, 10], eta 3.0"] > 85.0   # learns within one epoch
    assert accuracy["[784, 100, 10], eta 0.001"] < 40.0  # far too slow
    assert accuracy["[784, 30, 10], eta 100.0"] < 40.0   # far too large
    assert accuracy["average darkness"] == 22.25
    # Seed 3's [784, 100, 10] (64.46% after one epoch, never answering 1, 8
    # or 9) gets the note on the plateau; [784, 30, 10] (90.55%) gets none.
    assert printed.count("Note: ") == 1
    assert "Note: in 1 epoch this run of [784, 100, 10], eta 3.0 (seed 3)" in \
        " ".join(printed.split())
    darkness_row = next(line for line in table.splitlines() if "average darkness" in line)
    assert darkness_row.endswith("| 1 (-) |")  # deterministic: no seed to report
    assert (tmp_path / "table.md").read_text().count("\n| ") == len(by_name) + 1

    # One epoch is one point, still plotted; the baseline is in the table only;
    # and the book's pictures of the digits, each with a caption in table.md.
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == sorted(["784-30-10-eta-3-0.png", "784-100-10-eta-3-0.png",
                           "784-100-10-eta-0-001.png", "784-30-10-eta-100-0.png",
                           "mnist-digits.png", "mnist-first-digit.png",
                           "mnist-100-digits.png", "mnist-really-bad-images.png"])
    assert png_size(tmp_path / "mnist-digits.png") == (6 * 80, 100)
    assert png_size(tmp_path / "mnist-100-digits.png") == (10 * 80, 10 * 80)
    assert png_size(tmp_path / "mnist-really-bad-images.png") == (10 * 80, 2 * 100)
    notes = (tmp_path / "table.md").read_text()
    for name in pngs:
        assert f"- {name}: " in notes, name


def test_the_hard_images_are_ones_the_network_gets_wrong(tmp_path):
    """The "really bad" images: misclassified test images, the worst first."""
    import network
    from reproduction import seed_all

    training, _, test = mnist_loader.load_data_wrapper()
    seed_all(1)
    net = network.Network([784, 30, 10])
    net.SGD(training[:5000], 1, 10, 3.0)
    caption = chapter1.hard_images(net, 1, test, tmp_path, count=10)
    shown = [int(j) for j in caption.split("(test images ")[1].split(", ...")[0].split(", ")]
    for j in shown:
        x, y = test[j]
        assert int(net.feedforward(x).argmax()) != y
    outputs = [float(net.feedforward(test[j][0])[test[j][1], 0]) for j in shown]
    assert outputs == sorted(outputs)  # the smallest output for the right digit first


def test_a_run_on_a_plateau_gets_a_note_that_says_why():
    """A quick look whose network never answers some digits: the note names
    them, the seed and the run's best against the book's, explains the
    saturated output neurons, and says a short run cannot tell a stall from
    a slow start."""
    note = chapter1.stall_note([784, 100, 10], 3.0, [57.67, 74.96, 76.15, 76.52, 77.12],
                               silent=[3, 6], seed=12345678)
    flat = " ".join(note.split())  # the note is wrapped to 79 columns
    assert flat.startswith("Note: in 5 epochs this run of [784, 100, 10], eta 3.0 "
                           "(seed 12345678) got no further")
    assert "77.12%, against the book's 96.59%" in flat
    assert "almost never answers 3 or 6: those output neurons have saturated" in flat
    assert "quadratic cost" in flat and "learning slowdown" in flat
    assert "cannot tell a stall from a slow start" in flat
    assert "run --epochs 30 --runs 3 (the defaults) or try another --seed" in flat
    assert all(len(line) <= 79 for line in note.splitlines())
    three = " ".join(chapter1.stall_note([784, 100, 10], 3.0, [57.25] * 5,
                                         silent=[1, 3, 8]).split())
    assert "never answers 1, 3 or 8" in three and "(seed" not in three


def test_a_long_stalled_run_gets_a_note_without_the_short_run_caveat():
    stuck = [80.0] + [87.17] * 29
    note = " ".join(chapter1.stall_note([784, 100, 10], 3.0, stuck, silent=[0]).split())
    assert "87.17%, against the book's 96.59%" in note
    assert "never answers 0: that output neuron has saturated" in note
    assert "slow start" not in note and "try another --seed" in note
    # Ten epochs or more far below the book's figure are a stall even when
    # every digit gets answered.
    plain = " ".join(chapter1.stall_note([784, 30, 10], 3.0, [85.0] * 10).split())
    assert "85.00%, against the book's 95.42%" in plain and "never answers" not in plain


def test_no_note_for_a_run_near_the_book_or_still_climbing_or_without_a_figure():
    assert chapter1.stall_note([784, 100, 10], 3.0, [96.0] * 30) is None
    assert chapter1.stall_note([784, 100, 10], 3.0, [92.0] * 3, silent=[5]) is None
    assert chapter1.stall_note([784, 100, 10], 3.0, [75.0] * 2) is None  # still learning
    assert chapter1.stall_note([784, 100, 10], 3.0, [75.0] * 9) is None
    assert chapter1.stall_note([784, 100, 10], 0.001, [20.0] * 30, silent=[1]) is None
    assert chapter1.stall_note([784, 100, 10], 3.0, []) is None


def test_silent_digits_are_the_ones_answered_for_under_one_percent():
    """A network built to answer the position of the one lit pixel among
    the first ten: 3 is answered once in 200 (0.5%), 7 never."""
    import numpy as np
    import network

    net = network.Network([784, 10, 10])
    net.weights[0] = np.zeros((10, 784))
    net.weights[0][:, :10] = 20 * np.eye(10)
    net.biases[0] = np.full((10, 1), -10.0)
    net.weights[1] = 20 * np.eye(10)
    net.biases[1] = np.full((10, 1), -10.0)
    lit = [d for d in range(10) if d not in (3, 7)] * 25
    lit = lit[:199] + [3]
    test_data = []
    for d in lit:
        x = np.zeros((784, 1))
        x[d] = 1.0
        test_data.append((x, d))
    assert chapter1.silent_digits(net, test_data) == [3, 7]
    assert chapter1.silent_digits(net, test_data[-100:]) == [7]  # 3: one in 100


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-5"], "--seed"), (["--runs", "0"], "--runs"),
    (["--epochs", "0"], "--epochs"), (["--epochs", "x"], "--epochs"),
    (["--seed", str(2**32 - 1), "--runs", "2"], "largest seed")])
def test_chapter1_refuses_bad_arguments_before_loading_data(argv, message, no_data, capsys):
    with pytest.raises(SystemExit) as stopped:
        chapter1.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_chapter1_refuses_an_out_it_cannot_write(tmp_path, no_data, capsys):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SystemExit) as stopped:
        chapter1.main(["--out", str(tmp_path / "a-file")])
    assert stopped.value.code == 2
    assert "is not a folder" in capsys.readouterr().err
