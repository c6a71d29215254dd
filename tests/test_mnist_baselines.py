"""Tests of chapter 1's baselines called as the book calls them:
``mnist_svm.svm_baseline()`` and ``mnist_average_darkness.main()``, with no
arguments, load the data themselves and print the result.

Both load through ``mnist_loader.load_data``, which the tests replace with
small data so that no SVM is trained on all 50,000 images here.
"""

import numpy as np
import pytest

import mnist_average_darkness
import mnist_loader
import mnist_svm


@pytest.fixture(scope="module")
def small_mnist():
    """The first 1,000 training and 300 test images of the real data."""
    (tx, ty), valid, (ex, ey) = mnist_loader.load_data()
    return (tx[:1000], ty[:1000]), valid, (ex[:300], ey[:300])


def test_svm_baseline_with_no_arguments_loads_the_data_and_prints(
        small_mnist, monkeypatch, capsys):
    monkeypatch.setattr(mnist_loader, "load_data", lambda: small_mnist)
    correct = mnist_svm.svm_baseline()
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Baseline classifier using an SVM.",
                     f"{correct} of 300 values correct."]
    assert correct > 240  # over 80% from 1,000 images; guessing gets 30
    training, _, test = small_mnist
    assert mnist_svm.svm_baseline(training, test) == correct
    assert capsys.readouterr().out == ""  # given its data, it only returns the count


def test_svm_script_trains_on_the_first_train_size_images(small_mnist, monkeypatch, capsys):
    monkeypatch.setattr(mnist_loader, "load_data", lambda: small_mnist)
    correct = mnist_svm.main(["--train-size", "200"])
    assert f"{correct} of 300 values correct." in capsys.readouterr().out
    (tx, ty), _, test = small_mnist
    assert correct == mnist_svm.svm_baseline((tx[:200], ty[:200]), test)


def test_svm_baseline_refuses_half_of_its_data(small_mnist):
    training, _, _ = small_mnist
    with pytest.raises(TypeError, match="both training_data and test_data"):
        mnist_svm.svm_baseline(training)


def test_average_darkness_main_loads_the_data_and_prints(monkeypatch, capsys):
    # Digit 0 averages a darkness of 10, digit 1 of 100 (two images each).
    training = (np.array([[4, 4], [6, 8], [50, 40], [60, 50]], np.float32),
                np.array([0, 0, 1, 1]))
    # Darkness 12 -> 0, 90 -> 1, 60 -> 1 (nearer 100 than 10): two of three right.
    test = (np.array([[6, 6], [45, 45], [30, 30]], np.float32), np.array([0, 1, 0]))
    monkeypatch.setattr(mnist_loader, "load_data", lambda: (training, None, test))
    assert mnist_average_darkness.main() == 2
    assert capsys.readouterr().out.splitlines() == [
        "Baseline classifier using average darkness of image.",
        "2 of 3 values correct."]


@pytest.mark.parametrize("argv, message", [
    (["--train-size", "0"], "--train-size"), (["--train-size", "60000"], "--train-size"),
    (["--train-size", "many"], "--train-size"), (["--gamma", "-1"], "--gamma"),
    (["--gamma", "wide"], "--gamma")])
def test_svm_script_refuses_bad_arguments_before_loading_data(argv, message, no_data,
                                                              capsys):
    with pytest.raises(SystemExit) as stopped:
        mnist_svm.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_svm_script_reports_missing_data_in_one_line(monkeypatch, capsys):
    import safe_files

    def missing():
        raise safe_files.DataFileError("data/mnist.pkl.gz: no such file")
    monkeypatch.setattr(mnist_loader, "load_data", missing)
    with pytest.raises(SystemExit) as stopped:
        mnist_svm.main(["--train-size", "100"])
    assert stopped.value.code == 1
    assert capsys.readouterr().err == "mnist_svm.py: data/mnist.pkl.gz: no such file\n"


def test_average_darkness_script_takes_no_options(monkeypatch, capsys):
    def refuse():
        raise AssertionError("the data was loaded before the arguments were checked")
    monkeypatch.setattr(mnist_loader, "load_data", refuse)
    with pytest.raises(SystemExit) as stopped:
        mnist_average_darkness.main(["--epochs", "3"])
    assert stopped.value.code == 2
    assert "unrecognized arguments: --epochs 3" in capsys.readouterr().err
