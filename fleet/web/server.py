"""Serve the web app with uvicorn: in a thread of its own (``start``/``stop``), or inside an
asyncio loop the caller already runs (``await serve()``).

The socket is bound here, before uvicorn starts, so port 0 (any free port: tests) is known at
once and a port already in use is a clear error from ``start``, not a log line in a thread.
uvicorn is told not to configure logging (the fleet does) and not to log each request (the
path carries a token: the handlers log what happened instead, without it). Its own loggers
(``uvicorn.error``, ``uvicorn.access``, ``uvicorn.asgi``) are set to WARNING: "Started server
process", "Waiting for application startup" and the like say nothing the fleet's own
``web server listening`` line does not, while its warnings (a malformed request) and errors (a
failed startup, an exception in the app) still reach the fleet's log. A proxy's
X-Forwarded-For is believed only from ``trusted_proxies``.

    server = WebServer(app, "0.0.0.0", 8080)
    port = server.start()        # returns once it accepts connections
    ...
    server.stop()                # finishes requests in flight (at most grace_seconds)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Sequence

import uvicorn

log = logging.getLogger("fleet.web")


class WebServerError(RuntimeError):
    """The web server cannot start; the message says why and what to do."""


class WebServer:
    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, *, trusted_proxies: Sequence[str] = (), grace_seconds: float = 5.0) -> None:
        self.app = app
        self.host = host
        self.port = port  # the bound port once started
        self.trusted_proxies = list(trusted_proxies)
        self.grace_seconds = grace_seconds
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else "[::1]" if self.host == "::" else self.host
        return f"http://{host}:{self.port}"

    # --- in a thread of its own ----------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> int:
        """Bind, serve in a daemon thread, and return the port once connections are accepted."""
        sock = self._bind()
        self._server = self._uvicorn()
        self._thread = threading.Thread(target=self._run, args=(self._server, sock), name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                sock.close()
                raise WebServerError(
                    f"the web server on {self.host}:{self.port} did not start ({self._failure or 'timed out'})\n  fix: see the log lines above"
                )
            self._thread.join(0.01)
        log.info("web server listening", extra={"url": self.url})
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._server = self._thread = None

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 -- SystemExit from a failed startup included: start() reports it
            self._failure = exc
            log.error("web server stopped: %r", exc)
        finally:
            sock.close()

    # --- inside a running loop -----------------------------------------------------------------

    async def serve(self) -> None:
        """Serve until ``request_stop`` (or cancellation); the port is bound before this awaits."""
        sock = self._bind()
        self._server = self._uvicorn()
        try:
            await self._server.serve(sockets=[sock])
        finally:
            sock.close()

    async def started(self, timeout: float = 15.0) -> int:
        """Wait (in the loop) until ``serve`` accepts connections; returns the port."""
        deadline = time.monotonic() + timeout
        while self._server is None or not self._server.started:
            if time.monotonic() > deadline:
                raise WebServerError(f"the web server on {self.host}:{self.port} did not start within {timeout:g} s")
            await asyncio.sleep(0.01)
        return self.port

    def request_stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    # --- shared ------------------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        # proto=IPPROTO_TCP, not 0: asyncio switches Nagle off (TCP_NODELAY) only on sockets that
        # say they are TCP, and accepted sockets inherit it from this one. Without it, every
        # response on a kept-alive connection waited ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(socket.SOMAXCONN)
        except OSError as exc:
            sock.close()
            fix = "choose another port: [web] port in fleet.toml or `fleet serve --http-port N` (0 turns the web pages off), or stop what uses this one"
            raise WebServerError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}\n  fix: {fix}") from None
        self.port = sock.getsockname()[1]
        return sock

    def _uvicorn(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level=logging.WARNING,  # uvicorn's own INFO chatter off; its warnings and errors kept
            access_log=False,
            lifespan="on",
            proxy_headers=bool(self.trusted_proxies),
            forwarded_allow_ips=self.trusted_proxies or None,
            timeout_graceful_shutdown=self.grace_seconds,
            server_header=False,
        )
        return uvicorn.Server(config)
