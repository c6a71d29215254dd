"""Tests of classify.py: MNIST digits written out as large PNGs come back
as the same digits; bad images get clear messages; the command line."""

import json

import numpy as np
import pytest
from PIL import Image

import classify
import mnist_loader
import network
import network2


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


def test_command_line_reports_bad_files_in_one_line(tmp_path, capsys):
    bad = tmp_path / "net.json"
    bad.write_text('{"sizes": [784, 10]}')
    assert classify.main([str(tmp_path / "x.png"), "--net", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "net.json" in err and "missing key" in err
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    net = network2.Network([784, 10], seed=0)
    net.save(tmp_path / "ok.json")
    assert classify.main([str(tmp_path / "blank.png"), "--net", str(tmp_path / "ok.json")]) == 1
    assert "blank.png: no ink" in capsys.readouterr().err


def test_without_net_a_quick_default_is_trained_and_announced(tmp_path, mnist, capsys):
    image = write_large(tmp_path / "d.png", mnist[2][1][0])
    assert classify.main([str(image)]) == 0
    out = capsys.readouterr().out
    assert "No --net given: training a quick default network" in out
    accuracy = float(out.split("classifies ")[1].split("%")[0])
    assert accuracy > 90
    assert out.strip().splitlines()[-1].startswith(f"{image}: ")
    assert out.strip().endswith("by default network")
