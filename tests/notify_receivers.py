"""Real receivers for notification tests: an HTTP server for apprise json:// targets and an
aiosmtpd SMTP server for mailto:// targets, each on a free port, each switchable to failing.

No fakes of apprise: the fleet sends with apprise over real sockets, and these receive it.
Each receiver stamps what arrives with the wall clock (``received_at``, parallel to
``received``) and each refusal (``refused_at``): the fault tests read the senders' backoff
from the receiving side, and the benchmarks time "pressed → alert received" with them.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.mqtt_helpers import free_port


class _Receiver:
    """What both receivers share: what arrived, and waiting for it with a deadline."""

    what = "notifications"

    def __init__(self) -> None:
        self.received: list = []
        self.received_at: list[float] = []  # time.time() as each of ``received`` arrived
        self.refused = 0
        self.refused_at: list[float] = []  # time.time() of each refusal
        self.arrived = threading.Condition()

    def _took(self, item) -> None:
        """Keep *item* (call with ``arrived`` held) and wake whoever waits."""
        self.received.append(item)
        self.received_at.append(time.time())
        self.arrived.notify_all()

    def _refused(self) -> None:
        self.refused += 1
        self.refused_at.append(time.time())
        self.arrived.notify_all()

    def wait_refused(self, count: int, timeout: float = 20.0) -> list[float]:
        """Wait until *count* attempts were refused; their times."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: self.refused >= count, timeout):
                raise AssertionError(f"{type(self).__name__} refused {self.refused} of {count} {self.what} in {timeout} s")
            return list(self.refused_at)

    def wait_for(self, count: int, timeout: float = 20.0) -> list:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{type(self).__name__} received {len(self.received)} of {count} {self.what} in {timeout} s")
            return list(self.received)


class Webhook(_Receiver):
    """Receives apprise's json:// POSTs. ``mode``: "ok", "down" (503), or "hang" (takes the
    notification, then never answers: the worst case for a sender that gives up)."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self._release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if owner.mode == "hang":
                    with owner.arrived:
                        owner._took({"path": self.path, "unanswered": True, **json.loads(body)})
                    owner._release.wait(60)
                    return
                if owner.mode == "down":
                    with owner.arrived:
                        owner._refused()
                    self.send_response(503)
                    self.end_headers()
                    return
                with owner.arrived:
                    owner._took({"path": self.path, **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "staff") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


class Mailbox(_Receiver):
    """A real SMTP server (aiosmtpd). ``refusing = True`` answers ``refusal`` to DATA: 451 (try
    again later) unless a test sets another reply, e.g. a 5xx. ``received`` holds (recipients,
    message) pairs."""

    what = "mails"

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        super().__init__()
        self.refusing = False
        self.refusal = "451 4.3.0 mailbox busy, try again later"
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refusing:
            with self.arrived:
                self._refused()
            return self.refusal
        from email import message_from_bytes, policy

        with self.arrived:
            self._took((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def url(self, to: str = "ayse@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=nabiz@example.com&to={to}&mode=insecure"

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
