"""The test forwarder itself: a link it forwards stays up however long it is idle, until cut."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.tcp_proxy import TcpProxy


@pytest.fixture
def echo_port():
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            peer, _ = server.accept()
        except OSError:
            return
        with peer:
            while data := peer.recv(1024):
                peer.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def test_an_idle_link_outlives_the_connect_timeout(echo_port):
    """A kiosk with nothing to hear for a while (keepalive 30 s) must not lose its broker to the
    forwarder: the timeout bounds connecting upstream, not the quiet that follows."""
    proxy = TcpProxy(echo_port, connect_timeout=0.2)
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as link:
            link.sendall(b"before")
            assert link.recv(16) == b"before"
            threading.Event().wait(0.6)  # three connect timeouts without a byte from upstream
            link.sendall(b"after")
            assert link.recv(16) == b"after", "the forwarder dropped an idle link"
    finally:
        proxy.close()


def test_a_cut_link_is_closed(echo_port):
    proxy = TcpProxy(echo_port)
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as link:
            link.sendall(b"x")
            assert link.recv(16) == b"x"
            proxy.cut()
            assert link.recv(16) == b"", "closed by the cut"
    finally:
        proxy.close()
