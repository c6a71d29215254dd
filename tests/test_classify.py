"""Tests of classify.py: MNIST digits written out as large PNGs come back
as the same digits; bad images get clear messages; the command line: its
checks, the default network kept between runs, files that are not
networks."""

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageDraw, ImageOps
from scipy import ndimage

import classify
import mnist_files
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


def test_an_image_held_in_memory_reads_like_its_file_with_all_ten_outputs(tmp_path, mnist,
                                                                          trained):
    """What draw.py uses: a PNG's bytes, named in messages as asked, and the
    ten output activations behind classify's answer."""
    from network3 import Network, SoftmaxLayer
    path = write_large(tmp_path / "seven.png", mnist[2][0][0])
    digit = classify.mnist_image(path)
    in_memory = classify.mnist_image(io.BytesIO(path.read_bytes()), name="the drawing")
    np.testing.assert_array_equal(in_memory, digit)
    with pytest.raises(classify.ClassifyError, match=r"^the drawing: not an image"):
        classify.mnist_image(io.BytesIO(b"not an image"), name="the drawing")
    j, confidence, outputs = classify.classify_with_outputs(trained, digit)
    assert (j, confidence) == classify.classify(trained, digit)
    np.testing.assert_array_equal(outputs, trained.feedforward(digit.reshape(784, 1))[:, 0])
    chapter6 = Network([SoftmaxLayer(n_in=784, n_out=10)], 10, seed=3)
    with torch_no_grad():
        chapter6.layers[0].w.normal_()
    j, confidence, outputs = classify.classify_with_outputs(chapter6, digit)
    assert (j, confidence) == classify.classify(chapter6, digit)
    assert outputs.shape == (10,) and abs(outputs.sum() - 1) < 1e-6
    assert confidence == outputs[j] == outputs.max()

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
    assert "Training the default network (network2 [784, 30, 10]" in out
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
    monkeypatch.setenv(mnist_files.DATA_DIR_ENV, str(no_data))
    monkeypatch.setattr(mnist_files, "MIRRORS", [])  # offline: nothing to download from
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
                "zip.pt": network3_reason(tmp_path / "zip.pt"),
                "cut.pt": network3_reason(tmp_path / "cut.pt")}
    capsys.readouterr()  # network3's device line, if this test imported it first
    for name, reason in expected.items():
        path = tmp_path / name
        assert classify.main([image, "--net", str(path)]) == 2
        err = capsys.readouterr().err
        assert err == f"classify.py: {path}: {NOT_A_NETWORK} {reason}\n"


def network3_reason(path) -> str:
    """network3.load's own reason for refusing ``path``, in brackets, as
    classify.py passes it on (without the path, which it names once)."""
    import network3
    with pytest.raises(ValueError) as refused:
        network3.load(path)
    text = " ".join(str(refused.value).split())
    assert text.startswith(f"{path}: not a network saved by network3 (")
    return text[len(f"{path}: not a network saved by network3 "):]


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


#### Images of every depth, read at their real range
def large_seven(mnist):
    """MNIST's first test image (a 7) at 280x280, ink 1."""
    return np.kron(mnist[2][0][0].reshape(28, 28), np.ones((10, 10)))


def test_16_bit_32_bit_and_float_images_read_like_the_8_bit_one(tmp_path, mnist, trained):
    big = large_seven(mnist)
    reference = classify.mnist_image(write_large(tmp_path / "8bit.png", mnist[2][0][0]))
    answer = classify.classify(trained, reference)[0]
    images = {
        "16bit.png": Image.fromarray(np.round(65535 * (1 - big)).astype(np.uint16)),
        "16bit-grey.tif": Image.fromarray(np.round(50000 - 42000 * big).astype(np.uint16)),
        "12bit-in-16.png": Image.fromarray(np.round(4000 - 3900 * big).astype(np.uint16)),
        "int32.tif": Image.fromarray(np.round(65535 * (1 - big)).astype(np.int32)),
        "float-0-1.tif": Image.fromarray((1 - big).astype(np.float32)),
        "float-0-255.tif": Image.fromarray((255 * (1 - big)).astype(np.float32)),
        "float-odd-range.tif": Image.fromarray((3 - 8 * big).astype(np.float32)),
    }
    for name, image in images.items():
        image.save(tmp_path / name)
        assert Image.open(tmp_path / name).mode in ("I;16", "I", "F"), name
        digit = classify.mnist_image(tmp_path / name)
        assert np.abs(digit - reference).max() < 0.02, name
        assert classify.classify(trained, digit)[0] == answer, name


def test_a_16_bit_image_with_a_transparent_value_reads_it_as_paper(tmp_path, mnist):
    big = large_seven(mnist)
    pixels = np.round(65535 * (1 - big)).astype(np.uint16)
    pixels[:40] = 0                                  # a black band, marked transparent
    Image.fromarray(pixels).save(tmp_path / "clear.png", transparency=0)
    pixels[:40] = 65535
    Image.fromarray(pixels).save(tmp_path / "white.png")
    assert "transparency" in Image.open(tmp_path / "clear.png").info
    np.testing.assert_array_equal(classify.mnist_image(tmp_path / "clear.png"),
                                  classify.mnist_image(tmp_path / "white.png"))


def test_float_images_with_values_that_are_not_numbers_are_refused(tmp_path, mnist):
    big = large_seven(mnist)
    for bad in (np.nan, np.inf):
        pixels = (1 - big).astype(np.float32)
        pixels[5, 5] = bad
        Image.fromarray(pixels).save(tmp_path / "bad.tif")
        with pytest.raises(classify.ClassifyError,
                           match=r"^\S*bad\.tif: some pixels are not numbers"):
            classify.mnist_image(tmp_path / "bad.tif")


def test_lab_cmyk_and_other_colour_modes_read_as_their_lightness(tmp_path, mnist, trained):
    rgb = Image.open(write_large(tmp_path / "seven.png", mnist[2][0][0])).convert("RGB")
    reference = classify.mnist_image(rgb)
    answer = classify.classify(trained, reference)[0]
    rgb.convert("LAB").save(tmp_path / "lab.tif")       # Pillow cannot make LAB grey
    rgb.convert("CMYK").save(tmp_path / "cmyk.tif")
    for image in (tmp_path / "cmyk.tif", rgb.convert("HSV"), rgb.convert("YCbCr")):
        assert np.abs(classify.mnist_image(image) - reference).max() < 0.01, image
    # LAB's lightness is not the luma of the others: the grey edges differ.
    digit = classify.mnist_image(tmp_path / "lab.tif")
    assert np.abs(digit - reference).mean() < 0.01
    assert classify.classify(trained, digit)[0] == answer


def test_exif_orientations_turn_the_image_as_pillow_does(tmp_path):
    page = np.full((120, 90), 255, dtype=np.uint8)
    page[10:100, 20:35] = 0
    page[85:100, 20:70] = 0                          # an L: every turn looks different
    digits = set()
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        path = tmp_path / f"{orientation}.png"
        Image.fromarray(page).save(path, exif=exif.tobytes())
        digit = classify.mnist_image(path)
        upright = ImageOps.exif_transpose(Image.open(path))
        np.testing.assert_array_equal(digit, classify.mnist_image(upright))
        digits.add(digit.tobytes())
    assert len(digits) == 8


#### Pictures the old rule misread: bold digits, shaded paper, specks
def page_of(ink, margin=0):
    """Dark-on-white pixels of an ink image (1 ink), with ``margin`` blank
    pixels around it."""
    return np.pad(np.round(255 * (1 - ink)).astype(np.uint8), margin, constant_values=255)


def test_a_bold_digit_cropped_close_reads_like_the_digit(tmp_path, mnist, trained):
    """A digit drawn with a thick pen (dilated 3x3 at 28x28) and cropped to
    its ink covers more than half the picture: the median pixel is ink, and
    the old rule found no ink at all."""
    agree = read = 0
    for i in range(50):
        x = mnist[2][i][0]
        bold = ndimage.grey_dilation(x.reshape(28, 28), size=(3, 3))
        rows, cols = np.nonzero(bold > 0.01)
        bold = bold[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        if (bold > 0.5).mean() <= 0.5:
            continue
        Image.fromarray(page_of(np.kron(bold, np.ones((10, 10))))).save(tmp_path / "bold.png")
        answer, _ = classify.classify(trained, classify.mnist_image(tmp_path / "bold.png"))
        read += 1
        agree += answer == int(np.argmax(trained.feedforward(x)))
    assert read >= 10 and agree >= read - 2, (read, agree)


SHADES = {
    "left to right": lambda y, x: x,
    "top to bottom": lambda y, x: y,
    "corner to corner": lambda y, x: (x + y) / 2,
    "a lens's dark corners": lambda y, x: ((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.5,
}


@pytest.mark.parametrize("shade", list(SHADES))
def test_a_digit_on_strongly_shaded_paper_reads_like_one_on_even_paper(shade, tmp_path,
                                                                       mnist, trained):
    """Paper lit five times as brightly at one side as at the other: the old
    rule (the median pixel is the paper) took the dark side for ink."""
    y, x = np.mgrid[0:280, 0:280] / 279
    paper = 1 - 0.8 * SHADES[shade](y, x)            # from 1.0 down to 0.2
    for i in range(10):
        ink = np.kron(mnist[2][i][0].reshape(28, 28), np.ones((10, 10)))
        Image.fromarray(np.round(255 * paper * (1 - 0.85 * ink)).astype(np.uint8)).save(
            tmp_path / "shaded.png")
        even = classify.mnist_image(write_large(tmp_path / "even.png", mnist[2][i][0]))
        digit = classify.mnist_image(tmp_path / "shaded.png")
        assert np.abs(digit - even).mean() < 0.02, i
        assert classify.classify(trained, digit)[0] == classify.classify(trained, even)[0], i


def test_light_writing_on_a_dark_background_is_still_refused(tmp_path, mnist):
    ink = np.kron(mnist[2][0][0].reshape(28, 28), np.ones((10, 10)))
    Image.fromarray(np.round(255 * ink).astype(np.uint8)).save(tmp_path / "chalk.png")
    with pytest.raises(classify.ClassifyError, match=r"chalk\.png: no ink found"):
        classify.mnist_image(tmp_path / "chalk.png")


def test_random_speckle_gets_a_message_or_an_answer_never_a_traceback(tmp_path, trained):
    rng = np.random.default_rng(0)
    for share in (0.01, 0.05):                       # scattered dots: no stroke at all
        dots = np.where(rng.random((300, 300)) < share, 0, 255).astype(np.uint8)
        Image.fromarray(dots).save(tmp_path / "dots.png")
        with pytest.raises(classify.ClassifyError,
                           match=r"dots\.png: no digit found: the ink is [\d,]+ specks"):
            classify.mnist_image(tmp_path / "dots.png")
    for _ in range(5):                               # noise of every grey: any answer will do
        noise = rng.integers(0, 256, (rng.integers(1, 200), rng.integers(1, 200)))
        Image.fromarray(noise.astype(np.uint8)).save(tmp_path / "noise.png")
        try:
            digit = classify.mnist_image(tmp_path / "noise.png")
        except classify.ClassifyError as e:
            assert str(e).startswith(f"{tmp_path / 'noise.png'}: ") and "\n" not in str(e)
        else:
            assert digit.shape == (28, 28) and 0 <= classify.classify(trained, digit)[0] <= 9


def test_speckle_on_the_command_line_is_one_line_and_the_rest_is_classified(
        tmp_path, mnist, capsys):
    dots = np.where(np.random.default_rng(1).random((300, 300)) < 0.02, 0, 255)
    Image.fromarray(dots.astype(np.uint8)).save(tmp_path / "dots.png")
    seven = write_large(tmp_path / "seven.png", mnist[2][0][0])
    network2.Network([784, 10], seed=0).save(tmp_path / "net.json")
    assert classify.main([str(tmp_path / "dots.png"), str(seven),
                          "--net", str(tmp_path / "net.json")]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "dots.png: no digit found" in captured.err
    assert captured.out.splitlines()[-1].startswith(f"{seven}: ")


def test_a_large_image_is_averaged_down_and_reads_like_a_small_one(tmp_path, mnist, trained):
    """A 2800x2800 picture (7.8 million pixels) is read at 1400x1400."""
    for i in range(3):
        x = mnist[2][i][0]
        small = classify.mnist_image(write_large(tmp_path / "small.png", x))
        large = classify.mnist_image(write_large(tmp_path / "large.png", x, scale=100))
        assert np.abs(small - large).mean() < 0.01
        assert classify.classify(trained, small)[0] == classify.classify(trained, large)[0]


#### Huge images, read in a child process under a memory limit
MIB = 1 << 20
SRC = Path(__file__).resolve().parent.parent / "src"

# The child reads one image with mnist_image and says what happened; a
# runaway allocation shows as a MemoryError, a crash as a negative code.
CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import classify
limit = int(sys.argv[3])
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + limit, size + limit))
try:
    digit = classify.mnist_image(sys.argv[2])
    rows, cols = np.nonzero(digit > 0.5)
    print("READ", rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
except classify.ClassifyError as e:
    print("REFUSED", e)
except MemoryError:
    print("OUT OF MEMORY")
"""


def read_in_child(path, memory_limit=512 * MIB):
    done = subprocess.run([sys.executable, "-c", CHILD, str(SRC), str(path), str(memory_limit)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the reader died ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout.strip(), done.stderr


def one_bit_bar(path, side):
    """A one-bit PNG ``side`` pixels square: a few kB for tens of millions
    of pixels.  Made whatever Pillow's own limit says."""
    image = Image.new("1", (side, side), 1)
    ImageDraw.Draw(image).rectangle([side // 3, side // 4, side // 3 + side // 10,
                                     3 * side // 4], fill=0)
    image.save(path)
    return path


def test_an_image_over_the_pixel_budget_is_refused_from_its_header(tmp_path):
    """Before: the 9000x9000 one (21 kB) took 3.0 GB, the 12000x12000 one
    5.3 GB, and the 14000x14000 one ended in Pillow's own traceback."""
    for side in (9000, 12000):
        out, err = read_in_child(one_bit_bar(tmp_path / f"{side}.png", side))
        assert out == (f"REFUSED {tmp_path / f'{side}.png'}: {side}x{side} pixels, more than "
                       f"the 60 million this script reads; scale it down first")
        assert err == ""                             # no DecompressionBombWarning either
    out, err = read_in_child(one_bit_bar(tmp_path / "14000.png", 14000))
    assert out == (f"REFUSED {tmp_path / '14000.png'}: far more than 60 million pixels "
                   f"(Pillow itself refuses it); scale it down first")
    assert err == ""


@pytest.mark.slow
def test_images_just_within_the_budget_are_read_within_a_memory_limit(tmp_path):
    """Each has 59.3 million pixels: an RGBA PNG (4 bytes a pixel once
    decoded) and a float TIFF, the deepest; both within 384 MiB."""
    rgba = Image.new("RGBA", (7700, 7700), (0, 0, 0, 0))     # clear: paper
    ImageDraw.Draw(rgba).rectangle([3000, 1000, 3699, 6499], fill=(20, 20, 20, 255))
    rgba.save(tmp_path / "rgba.png", compress_level=1)
    floats = Image.new("F", (7700, 7700), 1.0)
    ImageDraw.Draw(floats).rectangle([3000, 1000, 3699, 6499], fill=0.0)
    floats.save(tmp_path / "float.tif", compression="tiff_deflate")
    for name in ("rgba.png", "float.tif"):
        out, _ = read_in_child(tmp_path / name, memory_limit=384 * MIB)
        height, width = map(int, out.removeprefix("READ ").split())
        assert out.startswith("READ") and height == 20 and 2 <= width <= 3, (name, out)


def test_a_pillow_decompression_bomb_on_the_command_line_is_one_line(tmp_path, capsys):
    network2.Network([784, 10], seed=0).save(tmp_path / "net.json")
    image = one_bit_bar(tmp_path / "huge.png", 14000)
    assert classify.main([str(image), "--net", str(tmp_path / "net.json")]) == 1
    captured = capsys.readouterr()
    assert captured.err == (f"classify.py: {image}: far more than 60 million pixels "
                            f"(Pillow itself refuses it); scale it down first\n")


#### --save-input never replaces what is there
def test_an_input_that_would_replace_a_file_is_refused_before_anything_is_loaded(
        tmp_path, mnist, monkeypatch, capsys):
    monkeypatch.setattr(classify, "load_net", must_not_run)
    monkeypatch.setattr(classify, "train_default_net", must_not_run)
    seven = write_large(tmp_path / "7.png", mnist[2][0][0])
    seen = tmp_path / "seen"
    seen.mkdir()
    (seen / "7.png").write_bytes(b"a picture of mine")
    assert classify.main([str(seven), "--save-input", str(seen)]) == 2
    assert capsys.readouterr().err == (
        f"classify.py: {seven}: its input would be saved as {seen / '7.png'}, which "
        f"already exists; move that away or save into another folder\n")
    (seen / "7.png").unlink()
    (seen / "7.png").symlink_to(tmp_path / "nowhere")     # a link to nothing is something too
    assert classify.main([str(seven), "--save-input", str(seen)]) == 2
    assert "which already exists" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
    # The image's own folder: its input would have replaced the picture itself.
    picture = seven.read_bytes()
    assert classify.main([str(seven), "--save-input", str(tmp_path)]) == 2
    assert f"saved as {seven}, which already exists" in capsys.readouterr().err
    assert seven.read_bytes() == picture


def test_a_file_that_appears_meanwhile_is_left_as_it_is(tmp_path, mnist, monkeypatch,
                                                       capsys):
    seven = write_large(tmp_path / "7.png", mnist[2][0][0])
    three = write_large(tmp_path / "3.png", mnist[2][18][0])
    network2.Network([784, 10], seed=0).save(tmp_path / "net.json")
    seen = tmp_path / "seen"
    real_load_net = classify.load_net

    def load_net_while_someone_writes(path):  # between the checks and the saving
        seen.mkdir()
        (seen / "7.png").write_bytes(b"a picture of mine")
        return real_load_net(path)
    monkeypatch.setattr(classify, "load_net", load_net_while_someone_writes)
    code = classify.main([str(seven), str(three), "--net", str(tmp_path / "net.json"),
                          "--save-input", str(seen)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == (f"classify.py: {seen / '7.png'}: already exists; left as it is, "
                            f"the input not saved\n")
    assert (seen / "7.png").read_bytes() == b"a picture of mine"
    assert Image.open(seen / "3.png").size == (28, 28)
    assert [line.split(":")[0] for line in captured.out.splitlines()] == [str(seven), str(three)]


def test_save_input_makes_a_new_file_or_raises_file_exists_error(tmp_path):
    digit = np.zeros((28, 28))
    digit[5:20, 12:15] = 1.0
    path = classify.save_input(digit, tmp_path / "new" / "one.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)) / 255, digit)
    path.write_bytes(b"changed by hand")
    (tmp_path / "target").write_bytes(b"the link's target")
    (tmp_path / "new" / "link.png").symlink_to(tmp_path / "target")
    (tmp_path / "new" / "folder.png").mkdir()
    for name in ("one.png", "link.png", "folder.png"):
        with pytest.raises(FileExistsError):
            classify.save_input(digit, tmp_path / "new" / name)
    assert path.read_bytes() == b"changed by hand"
    assert (tmp_path / "target").read_bytes() == b"the link's target"
    assert list((tmp_path / "new" / "folder.png").iterdir()) == []


def test_a_save_input_folder_that_is_a_broken_link_or_a_file_is_one_line(tmp_path, mnist,
                                                                         capsys):
    seven = str(write_large(tmp_path / "7.png", mnist[2][0][0]))
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "pipe")
    cases = {tmp_path / "broken": "it is a link to nothing",
             tmp_path / "fifo" / "pipe": "it is not a folder",
             tmp_path / "fifo" / "pipe" / "sub": f"{tmp_path / 'fifo' / 'pipe'} is not a folder"}
    for folder, problem in cases.items():
        assert classify.main([seven, "--save-input", str(folder)]) == 2
        assert capsys.readouterr().err == (f"classify.py: {folder}: cannot hold the 28x28 "
                                           f"inputs: {problem}\n")


def test_a_folder_that_cannot_be_made_when_saving_is_one_line(tmp_path, mnist, monkeypatch,
                                                              capsys):
    seven = write_large(tmp_path / "7.png", mnist[2][0][0])
    network2.Network([784, 10], seed=0).save(tmp_path / "net.json")
    seen = tmp_path / "seen"
    real_load_net = classify.load_net

    def load_net_while_someone_writes(path):  # a file where the folder should be
        seen.write_bytes(b"not a folder")
        return real_load_net(path)
    monkeypatch.setattr(classify, "load_net", load_net_while_someone_writes)
    code = classify.main([str(seven), "--net", str(tmp_path / "net.json"),
                          "--save-input", str(seen)])
    captured = capsys.readouterr()
    assert code == 1 and seen.read_bytes() == b"not a folder"
    assert captured.err.startswith(f"classify.py: {seen / '7.png'}: the input could not be "
                                   f"saved (") and captured.err.count("\n") == 1
    assert captured.out.startswith(f"{seven}: ")


#### File names that are not UTF-8, networks saved with a byte order mark
def test_file_names_that_are_not_utf8_are_shown_with_escapes(tmp_path, mnist):
    """Python's strict UTF-8 output (any UTF-8 locale but C) used to stop at
    such a name with a UnicodeEncodeError."""
    folder = os.fsdecode(bytes(tmp_path) + b"/\xff")
    os.mkdir(folder)
    seven = write_large(os.path.join(folder, os.fsdecode(b"seven\xe9.png")), mnist[2][0][0])
    net = os.path.join(folder, os.fsdecode(b"net\xfe.json"))
    network2.Network([784, 10], seed=0).save(net)
    gone = os.path.join(folder, os.fsdecode(b"gone\xfd.png"))
    seen = os.path.join(folder, os.fsdecode(b"seen\xfc"))
    done = subprocess.run([sys.executable, str(SRC / "classify.py"), str(seven), gone,
                           "--net", net, "--save-input", seen],
                          capture_output=True, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                          timeout=120)
    shown = f"{tmp_path}/\\xff/"
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode() == f"classify.py: {shown}gone\\xfd.png: no such file\n"
    done = subprocess.run([sys.executable, str(SRC / "classify.py"), str(seven),
                           "--net", net, "--save-input", seen],
                          capture_output=True, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().startswith(f"{shown}seven\\xe9.png: ")
    assert done.stdout.decode().endswith(f" by {shown}net\\xfe.json\n")
    assert os.path.exists(os.path.join(seen, os.fsdecode(b"seven\xe9.png")))


def test_networks_saved_with_a_utf8_byte_order_mark_are_read(tmp_path, mnist, capsys):
    image = str(write_large(tmp_path / "d.png", mnist[2][1][0]))
    for module in (network, network2):
        plain, marked = tmp_path / "plain.json", tmp_path / "marked.json"
        module.Network([784, 10], seed=4).save(plain)
        marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
        loaded, expected = module.load(marked), module.load(plain)
        for a, b in zip(loaded.weights + loaded.biases, expected.weights + expected.biases):
            np.testing.assert_array_equal(a, b)
        assert classify.main([image, "--net", str(marked)]) == 0
        assert capsys.readouterr().out.splitlines()[-1].endswith(f"by {marked}")
    (tmp_path / "mark-only.json").write_bytes(b"\xef\xbb\xbf")
    assert classify.main([image, "--net", str(tmp_path / "mark-only.json")]) == 2
    assert "not JSON text" in capsys.readouterr().err


def test_the_issues_networks_of_the_wrong_size_are_refused(tmp_path, mnist, capsys):
    """A 392-input network used to classify half the image, a 1000-output
    one to answer "104"."""
    import network3
    image = str(write_large(tmp_path / "d.png", mnist[2][1][0]))
    network2.Network([392, 10], seed=0).save(tmp_path / "half.json")
    network2.Network([784, 30, 1000], seed=0).save(tmp_path / "wide.json")
    network3.Network([network3.SoftmaxLayer(n_in=784, n_out=1000)], 10).save(tmp_path / "wide.pt")
    expected = {"half.json": "takes 392 inputs and gives 10 outputs",
                "wide.json": "takes 784 inputs and gives 1000 outputs",
                "wide.pt": "takes 784 inputs and gives 1000 outputs"}
    for name, problem in expected.items():
        assert classify.main([image, "--net", str(tmp_path / name)]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith(f"classify.py: {tmp_path / name}: {problem}, but ")
        assert captured.out == ""
