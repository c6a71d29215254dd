"""What several test files share, and the data the suite needs.

Many tests train on the real MNIST.  Before the first test is collected,
the four original IDX files are made present in the data folder the way a
user's first run makes them: through ``data_files.fetch``, which downloads
and checks whatever is missing (nothing, when they are already there).
Offline, without them, the suite stops at once with the project's
one-line message naming the four files and the folder, rather than with
a traceback from whichever test reads them first.
"""

import pytest

import data_files
import mnist_loader


def pytest_sessionstart(session):
    folder = data_files.data_dir()
    try:
        for name in data_files.IDX_FILES:
            data_files.fetch(name, folder)
    except data_files.DataFileError as error:
        raise pytest.UsageError(f"the tests need MNIST: {error}") from None


@pytest.fixture
def no_data(monkeypatch):
    """Loading MNIST fails the test: bad arguments must stop a script first."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the arguments were checked")
    monkeypatch.setattr(mnist_loader, "load_data", refuse)
    monkeypatch.setattr(mnist_loader, "load_data_wrapper", refuse)
