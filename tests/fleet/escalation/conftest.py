import pytest

from tests.notify_receivers import Mailbox, Webhook


@pytest.fixture
def webhook():
    with Webhook() as receiver:
        yield receiver


@pytest.fixture
def mailbox():
    with Mailbox() as receiver:
        yield receiver


@pytest.fixture
def key() -> bytes:
    return b"k" * 32
