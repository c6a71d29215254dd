"""Tests of classify.py: MNIST digits written out as large PNGs come back
as the same digits; bad images get clear messages; the command line: its
checks, the default network kept between runs, files that are not
networks."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import classify
import data_files
import mnist_loader
import network
import network2


@pytest.fixture(autouse=True)
def default_net_kept_in_tmp(tmp_path, monkeypatch):
    """Every test keeps the default network in a folder of its own, never in
    data/, whatever a reader's data/ holds."""
    monkeypatch.setattr(classify, "default_net_folder", lambda: tmp_path / "kept")


@pytest.fixture(scope="module")
def mnist():
    return mnist_loader.load_data_wrapper()


@pytest.fixture(scope="module")
def trained(mnist):
    net = network2.Network([784, 30, 10], seed=1)
    net.SGD(mnist[0], 1, 10, 0.5, lmbda=5.0)
    return net


def write_large(path, x, scale=10):
    """A 28x28 MNIST digit as a dark-on-white PNG, each pixel a scale x scale block."""
    image = Image.fromarray(np.round(255 * (1 - x.reshape(28, 28))).astype(np.uint8))
    image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST).save(path)
    return path


def test_fifty_test_digits_as_large_pngs_get_the_originals_answers(tmp_path, mnist, trained):
    test = mnist[2]
    disagreements = 0
    for i in range(50):
        x, _ = test[i]
        digit = classify.mnist_image(write_large(tmp_path / f"{i}.png", x))
        assert digit.shape == (28, 28) and 0 <= digit.min() and digit.max() <= 1
        answer, confidence = classify.classify(trained, digit)
        assert 0 < confidence <= 1
        disagreements += answer != int(np.argmax(trained.feedforward(x)))
    assert disagreements <= 2


def test_a_digit_anywhere_in_a_photo_is_cropped_scaled_and_centred(tmp_path):
    """A tall bar of ink off in a corner of a grey page becomes a 20-pixel
    tall digit with its centre of mass at the centre of the 28x28 field."""
    page = np.full((300, 400), 200, dtype=np.uint8)  # grey paper
    page[20:120, 300:330] = 30                       # dark ink, 100 x 30
    path = tmp_path / "bar.png"
    Image.fromarray(page).save(path)
    digit = classify.mnist_image(path)
    rows, cols = np.nonzero(digit > 0.5)
    assert rows.max() - rows.min() + 1 == 20
    assert 5 <= cols.max() - cols.min() + 1 <= 7     # 30/100 of 20, kept in proportion
    com = np.array([(digit.sum(1) * np.arange(28)).sum(),
                    (digit.sum(0) * np.arange(28)).sum()]) / digit.sum()
    assert np.abs(com - 14).max() <= 0.5


def test_bad_images_get_clear_messages(tmp_path):
    with pytest.raises(classify.ClassifyError, match=r"gone\.png: no such file"):
        classify.mnist_image(tmp_path / "gone.png")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(classify.ClassifyError, match=r"notes\.png: not an image"):
        classify.mnist_image(text)
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    with pytest.raises(classify.ClassifyError, match=r"blank\.png: no ink"):
        classify.mnist_image(blank)
    two = np.full((100, 200), 255, dtype=np.uint8)
    two[20:80, 30:50] = 0
    two[20:80, 130:150] = 0
    Image.fromarray(two).save(tmp_path / "two.png")
    with pytest.raises(classify.ClassifyError, match="2 digits side by side"):
        classify.mnist_image(tmp_path / "two.png")


def test_command_line_with_network_py_and_network3_files(tmp_path, mnist, capsys):
    import network3
    from network3 import Network, SoftmaxLayer
    x = mnist[2][0][0]
    image = write_large(tmp_path / "seven.png", x)
    chapter1 = network.Network([784, 10], seed=2)
    chapter1.save(tmp_path / "ch1.json")
    assert json.loads((tmp_path / "ch1.json").read_text())["cost"] == "QuadraticCost"
    chapter6 = Network([SoftmaxLayer(n_in=784, n_out=10)], 10, seed=3)
    with torch_no_grad():
        chapter6.layers[0].w.normal_(generator=None)
    chapter6.save(tmp_path / "ch6.pt")
    code = classify.main([str(image), "--net", str(tmp_path / "ch1.json"),
                          "--net", str(tmp_path / "ch6.pt"),
                          "--save-input", str(tmp_path / "seen")])
    # (importing network3 prints the device it runs on)
    lines = [line for line in capsys.readouterr().out.splitlines()
             if not line.startswith("network3:")]
    assert code == 0 and len(lines) == 2
    fed = np.asarray(Image.open(tmp_path / "seen" / "seven.png"), dtype=float) / 255
    assert fed.shape == (28, 28)
    digit = classify.mnist_image(image)
    np.testing.assert_allclose(fed, digit, atol=0.5 / 255 + 1e-9)
    expected1 = int(np.argmax(chapter1.feedforward(digit.reshape(784, 1))))
    expected6 = int(network3.load(tmp_path / "ch6.pt").predict(digit.reshape(1, 784))[0])
    assert lines[0].startswith(f"{image}: {expected1} (") and lines[0].endswith("ch1.json")
    assert lines[1].startswith(f"{image}: {expected6} (") and lines[1].endswith("ch6.pt")


def torch_no_grad():
    import torch
    return torch.no_grad()


def test_unreadable_images_are_reported_one_by_one_and_the_others_classified(tmp_path,
                                                                             mnist, capsys):
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    (tmp_path / "notes.png").write_text("not an image")
    seven = write_large(tmp_path / "seven.png", mnist[2][0][0])
    network2.Network([784, 10], seed=0).save(tmp_path / "ok.json")
    code = classify.main([str(tmp_path / "blank.png"), str(tmp_path / "notes.png"), str(seven),
                          "--net", str(tmp_path / "ok.json")])
    captured = capsys.readouterr()
    assert code == 1
    err = captured.err.splitlines()
    assert len(err) == 2 and "blank.png: no ink" in err[0] and "notes.png: not an image" in err[1]
    assert captured.out.splitlines()[-1].startswith(f"{seven}: ")


#### Checks before any network is loaded or trained
def must_not_run(*args, **kwargs):
    raise AssertionError("a network was loaded or trained before the arguments were checked")


def test_arguments_and_files_are_checked_before_any_network_is_loaded_or_trained(
        tmp_path, mnist, monkeypatch, capsys):
    monkeypatch.setattr(classify, "train_default_net", must_not_run)
    monkeypatch.setattr(classify, "load_net", must_not_run)
    good = str(write_large(tmp_path / "7.png", mnist[2][0][0]))
    other = tmp_path / "other"
    other.mkdir()
    twin = str(write_large(other / "7.png", mnist[2][1][0]))
    net = tmp_path / "net.json"
    network2.Network([784, 10], seed=0).save(net)
    cases = [
        ([good, str(tmp_path / "gone.png")], [f"{tmp_path / 'gone.png'}: no such file"]),
        ([good, "--net", str(tmp_path / "nonet.json")],
         [f"{tmp_path / 'nonet.json'}: no such file"]),
        ([str(other)], [f"{other}: a folder, not an image file"]),
        ([good, "--net", str(net), "--net", str(other)], [f"{other}: a folder, not a network"]),
        ([good, "--save-input", good], [f"{good}: cannot hold the 28x28 inputs: it is a file"]),
        ([good, "--save-input", f"{good}/seen"], [f"{good}/seen: cannot hold the 28x28 "
                                                  f"inputs: {good} is a file"]),
        ([good, twin, "--save-input", str(tmp_path / "seen")],
         [f"{twin}: its input would be saved as {tmp_path / 'seen' / '7.png'}, like {good}'s"]),
        ([str(tmp_path / "a.png"), good, str(tmp_path / "b.png"), "--net", str(net)],
         [f"{tmp_path / 'a.png'}: no such file", f"{tmp_path / 'b.png'}: no such file"]),
    ]
    for argv, expected in cases:
        assert classify.main(argv) == 2, argv
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert len(lines) == len(expected), (argv, lines)
        for line, start in zip(lines, expected):
            assert line.startswith(f"classify.py: {start}"), (argv, line)
        assert captured.out == ""
    with pytest.raises(SystemExit) as exit:   # argparse's own errors: status 2 too
        classify.main(["--net", str(net)])
    assert exit.value.code == 2
    assert not (tmp_path / "seen").exists() and not (tmp_path / "kept").exists()


def test_a_default_network_that_could_not_be_kept_is_not_trained(tmp_path, mnist,
                                                                 monkeypatch, capsys):
    monkeypatch.setattr(classify, "train_default_net", must_not_run)
    image = write_large(tmp_path / "7.png", mnist[2][0][0])
    monkeypatch.setattr(classify, "default_net_folder", lambda: image / "kept")
    assert classify.main([str(image)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"classify.py: {image / 'kept'}: cannot hold the default network: {image} is a file"]


#### The default network
def fake_training(calls):
    """A stand-in for train_default_net: an untrained network of the recipe's
    sizes and a made-up accuracy, recording each call in ``calls``."""
    def train():
        calls.append(len(calls))
        return network2.Network(classify.DEFAULT_RECIPE["sizes"], seed=len(calls)), 0.1234
    return train


def test_the_default_network_is_trained_once_then_reused(tmp_path, mnist, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(classify, "train_default_net", fake_training(calls))
    image = str(write_large(tmp_path / "d.png", mnist[2][1][0]))
    path = classify.default_net_path()
    assert path.parent == tmp_path / "kept" and not path.exists()
    assert classify.main([image]) == 0
    out = capsys.readouterr().out
    assert len(calls) == 1 and path.exists()
    assert f"No --net given: training the default network (network2 [784, 30, 10]" in out
    assert f"once; it is kept in {path}\n" in out
    kept = network2.load(path)
    assert classify.main([image]) == 0
    out = capsys.readouterr().out
    assert len(calls) == 1
    assert out.startswith(f"Using the default network kept in {path} "
                          f"(12.34% on MNIST's test images)\n")
    j, _ = classify.classify(kept, classify.mnist_image(image))
    assert out.splitlines()[-1].startswith(f"{image}: {j} (")
    assert out.splitlines()[-1].endswith("by default network")


def test_a_default_network_of_another_recipe_or_damaged_is_trained_again(tmp_path, mnist,
                                                                         monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(classify, "train_default_net", fake_training(calls))
    image = str(write_large(tmp_path / "d.png", mnist[2][1][0]))
    assert classify.main([image]) == 0 and len(calls) == 1
    old = classify.default_net_path()
    monkeypatch.setattr(classify, "DEFAULT_NET_VERSION", classify.DEFAULT_NET_VERSION + 1)
    new = classify.default_net_path()
    assert new != old and old.exists()
    assert classify.main([image]) == 0 and len(calls) == 2
    assert new.exists() and classify.record_path(new).exists()
    assert not old.exists() and not classify.record_path(old).exists()
    assert classify.main([image]) == 0 and len(calls) == 2
    # A recipe changed without a new version number is noticed too.
    monkeypatch.setattr(classify, "DEFAULT_RECIPE", {**classify.DEFAULT_RECIPE, "epochs": 3})
    assert classify.main([image]) == 0 and len(calls) == 3
    assert json.loads(classify.record_path(new).read_text())["recipe"]["epochs"] == 3
    # A damaged network, or one without its record, is replaced.
    new.write_text('{"sizes": [784')
    assert classify.main([image]) == 0 and len(calls) == 4
    network2.load(new)
    classify.record_path(new).unlink()
    assert classify.main([image]) == 0 and len(calls) == 5
    assert "classify.py" not in capsys.readouterr().err


def test_the_default_network_is_really_trained_on_mnist_and_kept(tmp_path, mnist,
                                                                 monkeypatch, capsys):
    # The real recipe with one epoch instead of ten, to save time.
    monkeypatch.setattr(classify, "DEFAULT_RECIPE", {**classify.DEFAULT_RECIPE, "epochs": 1})
    image = write_large(tmp_path / "d.png", mnist[2][1][0])
    assert classify.main([str(image)]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("The default network classifies ")[1].split("%")[0])
    assert accuracy > 90
    kept = network2.load(classify.default_net_path())
    test = mnist[2]
    assert kept.sizes == [784, 30, 10]
    record = json.loads(classify.record_path(classify.default_net_path()).read_text())
    assert record["test_accuracy"] == kept.accuracy(test) / len(test)
    assert abs(100 * record["test_accuracy"] - accuracy) <= 0.005 + 1e-9
    assert classify.main([str(image)]) == 0
    assert f"({accuracy:.2f}% on MNIST's test images)" in capsys.readouterr().out


def test_without_mnist_and_offline_the_default_network_stops_in_one_line(tmp_path, mnist,
                                                                         monkeypatch, capsys):
    image = write_large(tmp_path / "d.png", mnist[2][1][0])
    no_data = tmp_path / "no-data"
    no_data.mkdir()
    monkeypatch.setenv(data_files.DATA_DIR_ENV, str(no_data))
    monkeypatch.setattr(data_files, "MIRRORS", [])   # offline: nothing to download from
    assert classify.main([str(image)]) == 1
    err = capsys.readouterr().err
    ours = [line for line in err.splitlines() if line.startswith("classify.py:")]
    assert len(ours) == 1 and "train-images-idx3-ubyte.gz" in ours[0] and str(no_data) in ours[0]
    assert "Traceback" not in err
    assert not classify.default_net_path().exists()


#### Files that are not networks for MNIST
NOT_A_NETWORK = "not a network saved by network.py, network2.py or network3.py"


def test_files_that_are_not_networks_are_refused_in_one_line(tmp_path, mnist, capsys):
    import network3
    image = str(write_large(tmp_path / "d.png", mnist[2][1][0]))
    files = {"x.bin": bytes(range(256)), "empty.json": b"", "list.json": b"[1, 2]",
             "keys.json": b'{"sizes": [784, 10]}'}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with zipfile.ZipFile(tmp_path / "zip.pt", "w") as archive:
        archive.writestr("notes.txt", "not a network")
    conv = network3.Network([network3.SoftmaxLayer(n_in=784, n_out=10)], 10)
    conv.save(tmp_path / "cut.pt")
    whole = (tmp_path / "cut.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[:len(whole) // 2])
    expected = {"x.bin": "(neither JSON text nor a PyTorch file)",
                "empty.json": "(an empty file)",
                "list.json": "(expected a JSON object, found list)",
                "keys.json": "(missing key(s) 'weights', 'biases', 'cost')",
                "zip.pt": "(network3.load cannot read it)",
                "cut.pt": "(network3.load cannot read it)"}
    for name, reason in expected.items():
        path = tmp_path / name
        assert classify.main([image, "--net", str(path)]) == 2
        err = capsys.readouterr().err
        assert err == f"classify.py: {path}: {NOT_A_NETWORK} {reason}\n"


def test_networks_that_do_not_take_784_inputs_and_give_10_outputs_are_refused(
        tmp_path, mnist, capsys):
    import network3
    from network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    image = str(write_large(tmp_path / "d.png", mnist[2][1][0]))
    network2.Network([784, 30, 5], seed=0).save(tmp_path / "five.json")
    network.Network([100, 10], seed=0).save(tmp_path / "small.json")
    network3.Network([FullyConnectedLayer(n_in=784, n_out=30),
                      SoftmaxLayer(n_in=30, n_out=5)], 10).save(tmp_path / "five.pt")
    network3.Network([ConvPoolLayer((2, 1, 5, 5), (10, 1, 14, 56)),
                      SoftmaxLayer(n_in=2 * 5 * 26, n_out=10)], 10).save(tmp_path / "wide.pt")
    expected = {"five.json": "takes 784 inputs and gives 5 outputs",
                "small.json": "takes 100 inputs and gives 10 outputs",
                "five.pt": "takes 784 inputs and gives 5 outputs",
                "wide.pt": "takes images of 1x14x56 and gives 10 outputs"}
    for name, problem in expected.items():
        path = tmp_path / name
        assert classify.main([image, "--net", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"classify.py: {path}: {problem}, but ")
        assert err.count("\n") == 1 and err.count(str(path)) == 1
    conv = network3.Network([ConvPoolLayer((2, 1, 5, 5), (10, 1, 28, 28)),
                             SoftmaxLayer(n_in=2 * 12 * 12, n_out=10)], 10)
    conv.save(tmp_path / "conv.pt")
    assert classify.main([image, "--net", str(tmp_path / "conv.pt")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("conv.pt")


#### How to use a better network
def test_help_and_docstring_show_how_to_save_a_better_network_and_pass_it(capsys):
    with pytest.raises(SystemExit) as exit:
        classify.main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    for text in (out, classify.__doc__):
        assert classify.TRAIN_A_BETTER_NET in text
        assert "python src/classify.py my7.png --net my_net.json" in text


def test_the_recipe_for_a_better_network_runs_and_makes_a_file_classify_takes(
        tmp_path, mnist, monkeypatch, capsys):
    # The help's command, run on a slice of MNIST to keep it quick.
    code = classify.TRAIN_A_BETTER_NET.split('python -c "', 1)[1].split('"', 1)[0]
    training, validation, test = mnist
    monkeypatch.setattr(mnist_loader, "load_data_wrapper",
                        lambda: (training[:100], validation[:10], test[:100]))
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    exec(code, {})
    net = tmp_path / "my_net.json"
    assert network2.load(net).sizes == [784, 100, 10]
    image = write_large(tmp_path / "my7.png", test[0][0])
    assert classify.main([str(image), "--net", str(net)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"by {net}")
