import pytest


@pytest.fixture
def key() -> bytes:
    return b"k" * 32
