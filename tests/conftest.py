"""What several test files share."""

import pytest

import mnist_loader


@pytest.fixture
def no_data(monkeypatch):
    """Loading MNIST fails the test: bad arguments must stop a script first."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the arguments were checked")
    monkeypatch.setattr(mnist_loader, "load_data", refuse)
    monkeypatch.setattr(mnist_loader, "load_data_wrapper", refuse)
