"""The README's sample session, checked against a real run of its commands.

The README shows the book's chapter 1 session and the first epoch lines it
printed after the seeds it names.  This test reads the session, the seeds
and the epoch lines from README.md itself, runs the same commands for as
many epochs as it shows, and compares what SGD prints: the first line
exactly, the later ones within the spread that BLAS kernels give.
"""

import random
import re
from pathlib import Path

import numpy as np
import pytest

import mnist_loader
import network
from reproduction import printed_lines

README = Path(__file__).resolve().parent.parent / "README.md"
BLAS_SPREAD = 50  # test images: how far a later epoch's count may move with the BLAS


def book_session() -> str:
    """The first code block under the README's "The book's session"."""
    text = README.read_text()
    section = text.split("## The book's session", 1)[1]
    return section.split("```", 2)[1]


def test_the_readme_shows_the_books_session_and_seeds():
    session = book_session()
    commands = [line[4:] for line in session.splitlines() if line.startswith(">>> ")]
    assert commands == [
        "import mnist_loader",
        "training_data, validation_data, test_data = mnist_loader.load_data_wrapper()",
        "import network",
        "net = network.Network([784, 30, 10])",
        "net.SGD(training_data, 30, 10, 3.0, test_data=test_data)"]
    assert re.search(r"random\.seed\((\d+)\); np\.random\.seed\((\d+)\)", README.read_text())


@pytest.mark.slow
def test_the_readmes_epoch_lines_come_from_its_commands():
    seeds = re.search(r"random\.seed\((\d+)\); np\.random\.seed\((\d+)\)",
                      README.read_text())
    shown = re.findall(r"^Epoch \d+: \d+ / 10000$", book_session(), flags=re.M)
    assert len(shown) >= 3, "the README should show the first epochs' lines"

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    random.seed(int(seeds[1]))
    np.random.seed(int(seeds[2]))
    net = network.Network([784, 30, 10])
    with printed_lines() as lines:
        # The first epochs of the 30-epoch run: later epochs change nothing before them.
        net.SGD(training_data, len(shown), 10, 3.0, test_data=test_data)
    # The first epoch's count is exact.  Later ones carry the rounding of the
    # matrix products, which differs between BLAS kernels (OpenBLAS's AVX2 and
    # AVX-512 kernels give 9184 and 9168 for epoch 1), as the README says.
    assert lines[0] == shown[0]
    counts = [int(line.split()[2]) for line in lines]
    expected = [int(line.split()[2]) for line in shown]
    assert len(counts) == len(expected)
    for epoch, (count, book) in enumerate(zip(counts, expected)):
        assert abs(count - book) <= BLAS_SPREAD, (epoch, lines, shown)


def test_the_readme_says_the_later_counts_depend_on_the_blas():
    assert "BLAS" in README.read_text().split("## The book's session", 1)[1].split("##")[0]


def test_the_readmes_better_network_command_is_the_one_classify_shows():
    """The command that trains a network for classify.py's --net is written
    once, in classify.py (whose tests run it); the README shows the same."""
    import classify
    assert classify.TRAIN_A_BETTER_NET in README.read_text()
