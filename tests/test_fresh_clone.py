"""The suite on a fresh clone: it fetches MNIST before any test needs it,
and offline, with nothing in the data folder, it stops with one line.

The run below is a child pytest collecting this very suite, with an empty
data folder (``NNDL_DATA_DIR``) and every HTTP(S) request sent through a
proxy on a local port that refuses connections: the network as an offline
machine sees it, at once and without touching any real address.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import mnist_files

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def refused_proxy():
    """The address of a local port that is bound but not listening, so that
    a connection to it is refused; held (so not reused) until the test ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_collecting_with_no_data_and_no_network_stops_with_one_line(tmp_path, refused_proxy):
    folder = tmp_path / "empty-data"
    proxy = refused_proxy
    env = dict(os.environ, NNDL_DATA_DIR=str(folder), no_proxy="", NO_PROXY="",
               http_proxy=proxy, https_proxy=proxy, HTTP_PROXY=proxy, HTTPS_PROXY=proxy)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         str(TESTS)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in output
    message = [line for line in output.splitlines() if "the tests need MNIST" in line]
    assert len(message) == 1, output
    assert message[0].startswith("ERROR: the tests need MNIST: MNIST file ")
    assert f"is not in {folder} and could not be downloaded" in message[0]
    for name in mnist_files.IDX_FILES:
        assert name in message[0]
    # Each mirror's failure was reported as it happened, and nothing was left behind.
    assert output.count("Could not download") == len(mnist_files.MIRRORS)
    assert list(folder.iterdir()) == []
