"""Tests of expand_mnist.py: the shifts, the expansion, the file it writes,
and the two ways of running it (from src/, as the book does, and from the
project root)."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import expand_mnist
import mnist_files
import mnist_loader
import safe_files
from expand_mnist import expand, expand_file, shift

# A 3x3 image stored row by row, as the book stores its 28x28 images.
IMAGE = np.arange(1, 10, dtype=np.float32).reshape(1, 9)
# 1 2 3
# 4 5 6
# 7 8 9


def grid(rows):
    return np.array(rows, dtype=np.float32).reshape(1, 9)


@pytest.mark.parametrize("dy, dx, expected", [
    (-1, 0, [[4, 5, 6], [7, 8, 9], [0, 0, 0]]),  # up
    (1, 0, [[0, 0, 0], [1, 2, 3], [4, 5, 6]]),   # down
    (0, -1, [[2, 3, 0], [5, 6, 0], [8, 9, 0]]),  # left
    (0, 1, [[0, 1, 2], [0, 4, 5], [0, 7, 8]]),   # right
    (0, 0, [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
])
def test_shift_tiny_image(dy, dx, expected):
    np.testing.assert_array_equal(shift(IMAGE, dy, dx), grid(expected))


def test_shift_does_not_modify_its_input_and_handles_many_images():
    images = np.stack([IMAGE[0], 10 * IMAGE[0]])
    before = images.copy()
    moved = shift(images, 1, 0)
    np.testing.assert_array_equal(images, before)
    np.testing.assert_array_equal(moved[1], 10 * grid([[0, 0, 0], [1, 2, 3], [4, 5, 6]])[0])
    assert moved.dtype == np.float32


def test_shift_of_an_mnist_sized_image_moves_one_pixel():
    image = np.zeros((1, 784), dtype=np.float32)
    image[0, 5 * 28 + 7] = 1.0  # row 5, column 7
    assert np.flatnonzero(shift(image, -1, 0)) == [4 * 28 + 7]
    assert np.flatnonzero(shift(image, 0, 1)) == [5 * 28 + 8]


def test_shift_rejects_non_square_images():
    with pytest.raises(ValueError, match="square"):
        shift(np.zeros((2, 10)), 1, 0)
    with pytest.raises(ValueError, match="shape"):
        shift(np.zeros(9), 1, 0)


def synthetic(n=7, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return x, y


def as_set(x, y):
    return sorted((int(label), row.tobytes()) for row, label in zip(x, y))


def test_expand_holds_each_image_and_its_four_shifts_with_their_labels():
    x, y = synthetic()
    ex, ey = expand(x, y, seed=1, chunk=3)  # a chunk that does not divide n
    assert ex.shape == (35, 784) and ey.shape == (35,)
    assert ex.dtype == np.float32 and ey.dtype == np.int64
    wanted = [(x, y)] + [(shift(x, dy, dx), y) for _, dy, dx in expand_mnist.SHIFTS]
    expected = sorted(sum((as_set(*pair) for pair in wanted), []))
    assert as_set(ex, ey) == expected
    np.testing.assert_array_equal(np.bincount(ey, minlength=10),
                                  5 * np.bincount(y, minlength=10))


def test_expand_shuffles_reproducibly():
    x, y = synthetic(n=20)
    a = expand(x, y, seed=3)
    b = expand(x, y, seed=3)
    c = expand(x, y, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # Shuffled: the originals are not simply the first n rows.
    assert not np.array_equal(a[0][:20], x)


def write_source(folder, n=6):
    source = folder / "mnist.pkl.gz"
    data = (synthetic(n, 0), synthetic(3, 1), synthetic(2, 2))
    safe_files.write_pickle(source, data)
    return source, data


def test_expand_file_writes_the_book_format(tmp_path):
    source, (training, validation, test) = write_source(tmp_path)
    target = tmp_path / "mnist_expanded.pkl.gz"
    assert expand_file(source, target, seed=5) is True
    (ex, ey), va, te = mnist_loader.load_data(target)
    expected = expand(*training, seed=5)
    np.testing.assert_array_equal(ex, expected[0])
    np.testing.assert_array_equal(ey, expected[1])
    for got, original in ((va, validation), (te, test)):
        np.testing.assert_array_equal(got[0], original[0])
        np.testing.assert_array_equal(got[1], original[1])


def test_second_run_leaves_the_file_alone_unless_forced(tmp_path):
    source, _ = write_source(tmp_path)
    target = tmp_path / "out.pkl.gz"
    assert expand_file(source, target) is True
    os.utime(target, (1_000_000, 1_000_000))  # an old mtime a rewrite would change
    assert expand_file(source, target) is False
    assert target.stat().st_mtime == 1_000_000
    assert expand_file(source, target, force=True) is True
    assert target.stat().st_mtime > 1_000_000


def test_main_reports_an_existing_file_and_exits_0(tmp_path, capsys):
    source, _ = write_source(tmp_path)
    target = tmp_path / "out.pkl.gz"
    argv = ["--source", str(source), "--output", str(target), "--seed", "9"]
    assert expand_mnist.main(argv) == 0
    assert "Wrote" in capsys.readouterr().out
    before = target.read_bytes()
    assert expand_mnist.main(argv) == 0
    assert "already exists" in capsys.readouterr().out
    assert target.read_bytes() == before


def test_main_reports_each_stage_on_stderr_and_only_the_result_on_stdout(tmp_path, capsys):
    source, _ = write_source(tmp_path)
    target = tmp_path / "out.pkl.gz"
    assert expand_mnist.main(["--source", str(source), "--output", str(target)]) == 0
    out, err = capsys.readouterr()
    assert out == f"Wrote the expanded training set to {target}\n"
    assert err.splitlines() == [f"Loading {source}",
                                "Expanding 6 training images to 30 (one-pixel shifts)",
                                f"Writing {target}"]


BAD_ARGUMENTS = {
    "negative seed": (["--seed", "-1"], "--seed must be an integer >= 0; got -1"),
    "output is a folder": (["--output", "{tmp}"], "--output {tmp} is a folder"),
    "output under a file": (["--output", "{tmp}/mnist.pkl.gz/x/out.pkl.gz"],
                            "{tmp}/mnist.pkl.gz is not a folder"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_main_refuses_bad_arguments_before_loading_anything(case, tmp_path, capsys, no_data):
    source, _ = write_source(tmp_path)
    argv, message = BAD_ARGUMENTS[case]
    argv = ["--source", str(source)] + [a.format(tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as exit_status:
        expand_mnist.main(argv)
    assert exit_status.value.code == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err and "Traceback" not in err


def test_main_missing_source_is_a_clear_error(tmp_path, capsys):
    target = tmp_path / "out.pkl.gz"
    with pytest.raises(SystemExit) as stop:
        expand_mnist.main(["--source", str(tmp_path / "nothing.pkl.gz"),
                           "--output", str(target)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"--source {tmp_path / 'nothing.pkl.gz'}: no such data file" in err
    assert "Traceback" not in err
    assert not target.exists()


def write_large_held_out(folder, n):
    """Like write_source, with 21 validation and 21 test images: arrays of
    more than 64 KiB, which pickle writes outside its frames, as it does
    every array of the real files."""
    source = folder / "mnist.pkl.gz"
    data = (synthetic(n, 0), synthetic(21, 1), synthetic(21, 2))
    safe_files.write_pickle(source, data)
    return source, data


def test_expand_file_and_load_data_agree_on_the_largest_file(tmp_path, monkeypatch):
    """With the shared cap lowered to what 6 training images need, 6 are
    written and load; 7 are refused before expanding, and the file they
    would have made, load_data refuses."""
    per_image = 784 * 4 + 8
    held_out = 42 * per_image + expand_mnist.PICKLE_FRAMING_BYTES
    monkeypatch.setattr(safe_files, "MAX_PICKLE_BYTES", 30 * per_image + held_out)
    (tmp_path / "six").mkdir()
    six, _ = write_large_held_out(tmp_path / "six", 6)
    assert expand_file(six, tmp_path / "six.pkl.gz") is True
    assert mnist_loader.load_data(tmp_path / "six.pkl.gz")[0][0].shape == (30, 784)
    seven, (training, validation, test) = write_large_held_out(tmp_path, 7)
    monkeypatch.setattr(expand_mnist, "expand", lambda *a, **k: pytest.fail("expanded"))
    with pytest.raises(safe_files.DataFileError) as error:
        expand_file(seven, tmp_path / "seven.pkl.gz")
    assert str(error.value) == (
        f"{seven}: its 7 training images would make 35 and a file of "
        f"{35 * per_image + held_out:,} bytes, more than the "
        f"{safe_files.MAX_PICKLE_BYTES:,} that load_data reads; expand at most 6 "
        f"training images")
    assert not (tmp_path / "seven.pkl.gz").exists()
    safe_files.write_pickle(tmp_path / "seven.pkl.gz", (expand(*training), validation, test))
    with pytest.raises(safe_files.DataFileError, match="more than"):
        mnist_loader.load_data(tmp_path / "seven.pkl.gz")


def test_a_source_of_70000_images_is_refused_in_one_line_before_expanding(tmp_path):
    """The reported case, end to end: all 70,000 MNIST images as training
    data expand to more than load_data reads."""
    x = np.zeros((70000, 784), np.float32)
    y = np.zeros(70000, np.int64)
    small = (np.zeros((10, 784), np.float32), np.zeros(10, np.int64))
    source = tmp_path / "all.pkl.gz"
    safe_files.write_pickle(source, ((x, y), small, small), compresslevel=1)
    del x
    target = tmp_path / "out.pkl.gz"
    run = subprocess.run([sys.executable, "expand_mnist.py", "--source", str(source),
                          "--output", str(target)], cwd=ROOT / "src",
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.splitlines() == [
        f"Loading {source}",
        f"expand_mnist: {source}: its 70,000 training images would make 350,000 and a "
        f"file of 1,100,466,976 bytes, more than the 1,073,741,824 that load_data reads; "
        f"expand at most 68,299 training images"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.pkl.gz"]


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    source, _ = write_source(tmp_path)
    target = tmp_path / "out.pkl.gz"
    real_write = gzip.GzipFile.write
    calls = []

    def failing_write(self, data):
        calls.append(len(data))
        if len(calls) > 1:  # let some bytes reach the disk first
            raise OSError("disk full")
        return real_write(self, data)

    monkeypatch.setattr(gzip.GzipFile, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        expand_file(source, target)
    assert len(calls) > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.pkl.gz"]


#### The two entry points, run as programs

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("folder, script", [
    ("src", "expand_mnist.py"),  # the book's `cd src; python expand_mnist.py`
    (".", "expand_mnist.py"),    # the launcher at the project root
])
def test_running_the_script_with_no_options_writes_the_data_folder_file(
        tmp_path, folder, script):
    source, (training, validation, _) = write_source(tmp_path)
    env = {**os.environ, mnist_files.DATA_DIR_ENV: str(tmp_path)}
    env.pop("PYTHONPATH", None)  # the script must find its modules by itself
    run = subprocess.run([sys.executable, script], cwd=ROOT / folder, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    target = tmp_path / expand_mnist.EXPANDED_NAME
    assert f"Wrote the expanded training set to {target}" in run.stdout
    (ex, ey), (vx, vy), _ = mnist_loader.load_data(target)
    expected = expand(*training, seed=expand_mnist.SEED)
    np.testing.assert_array_equal(ex, expected[0])
    np.testing.assert_array_equal(ey, expected[1])
    np.testing.assert_array_equal(vx, validation[0])
    again = subprocess.run([sys.executable, script], cwd=ROOT / folder, env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "already exists" in again.stdout


def test_launcher_passes_options_and_the_exit_status_through(tmp_path):
    source, (training, _, _) = write_source(tmp_path)
    target = tmp_path / "out.pkl.gz"
    launcher = str(ROOT / "expand_mnist.py")
    run = subprocess.run([sys.executable, launcher, "--source", str(source),
                          "--output", str(target), "--seed", "9"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    (ex, ey), _, _ = mnist_loader.load_data(target)
    np.testing.assert_array_equal(ey, expand(*training, seed=9)[1])
    # A missing --source is found before the "already exists" shortcut, so
    # whatever the data folder holds (here: an expanded file already made).
    data = tmp_path / "data"
    data.mkdir()
    (data / expand_mnist.EXPANDED_NAME).write_bytes(target.read_bytes())
    missing = subprocess.run([sys.executable, launcher, "--source",
                              str(tmp_path / "nothing.pkl.gz")],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60,
                             env={**os.environ, mnist_files.DATA_DIR_ENV: str(data)})
    assert missing.returncode == 2 and "already exists" not in missing.stdout
    assert f"--source {tmp_path / 'nothing.pkl.gz'}: no such data file" in missing.stderr


def test_importing_the_launcher_runs_nothing(tmp_path):
    """Only running the root file as a script starts the program."""
    code = ("import runpy, sys; runpy.run_path(sys.argv[1], run_name='not_main'); "
            "print('imported')")
    run = subprocess.run([sys.executable, "-c", code, str(ROOT / "expand_mnist.py")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "imported\n"
