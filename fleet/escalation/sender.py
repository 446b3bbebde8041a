"""One notification through apprise, with a hard timeout.

apprise's ``notify()`` blocks, and a plugin talking to a silent server can block far longer
than its own socket timeouts suggest (apprise issues #244, #262; apprise-api #112). A thread
stuck in a socket cannot be stopped, so each send runs in a child process that imports
apprise once and serves one request at a time over a pipe (JSON lines): if the answer does not
come within the timeout the child is killed (SIGKILL) and the next send starts a fresh one.
apprise's own connect/read timeouts are set too (``cto``/``rto`` on the URL, unless the URL
sets them), so the usual slow server ends inside apprise and the child survives.

A send killed by the timeout may still have been delivered (the server got it and was slow
to answer): it counts as failed and is retried, so that one message can arrive twice. It
carries its idempotency key for receivers that want to drop the repeat.

Run as ``python -m fleet.escalation.sender``: the child's side.
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass

import msgspec

from fleet.escalation.targets import mask_phone_numbers, with_timeouts

log = logging.getLogger(__name__)


class Request(msgspec.Struct):
    url: str
    title: str
    body: str


class Reply(msgspec.Struct):
    ok: bool
    detail: str


@dataclass(frozen=True)
class Outcome:
    outcome: str  # delivered | failed | timeout
    detail: str
    seconds: float


class ProcessSender:
    """Sends through apprise in a child process; one send at a time (use one per worker lane)."""

    def __init__(self, connect_timeout: float = 4.0, read_timeout: float = 10.0, python: str = sys.executable) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.python = python
        self.child: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the child now (it imports apprise, which takes a moment) rather than at the first send."""
        if self.child is not None and self.child.poll() is None:
            return
        self.child = subprocess.Popen([self.python, "-m", "fleet.escalation.sender"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self._read_line(timeout)
        if line != b"ready\n":
            self._kill()
            raise RuntimeError(f"the notification sender did not start (said {line!r}); is apprise installed? pip install 'nabiz[fleet]'")

    def send(self, url: str, title: str, body: str, timeout: float) -> Outcome:
        try:
            self.start()  # a fresh child's start-up is not the send's time
        except (OSError, RuntimeError) as exc:
            return Outcome("failed", str(exc), 0.0)
        started = time.monotonic()
        try:
            assert self.child is not None and self.child.stdin is not None
            request = Request(with_timeouts(url, self.connect_timeout, min(self.read_timeout, timeout)), title, body)
            self.child.stdin.write(msgspec.json.encode(request) + b"\n")
            self.child.stdin.flush()
            line = self._read_line(max(0.0, timeout - (time.monotonic() - started)))
        except (OSError, RuntimeError) as exc:
            self._kill()
            return Outcome("failed", f"the sender process failed: {exc}", time.monotonic() - started)
        if line is None:
            self._kill()
            return Outcome("timeout", f"no answer within {timeout:g} s; the send was abandoned (it may still arrive)", time.monotonic() - started)
        try:
            reply = msgspec.json.decode(line, type=Reply)
        except msgspec.DecodeError:
            self._kill()
            return Outcome("failed", f"the sender process said {line[:200]!r}", time.monotonic() - started)
        return Outcome("delivered" if reply.ok else "failed", reply.detail, time.monotonic() - started)

    def close(self) -> None:
        if self.child is not None and self.child.poll() is None:
            try:
                assert self.child.stdin is not None
                self.child.stdin.close()
                self.child.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self._kill()
        self.child = None

    def _read_line(self, timeout: float) -> bytes | None:
        """A line from the child within *timeout*, or None (b"" if it died)."""
        assert self.child is not None and self.child.stdout is not None
        ready, _, _ = select.select([self.child.stdout], [], [], timeout)
        if not ready:
            return None
        return self.child.stdout.readline()

    def _kill(self) -> None:
        if self.child is not None:
            if self.child.poll() is None:
                self.child.kill()
            self.child.wait()
            for stream in (self.child.stdin, self.child.stdout):
                if stream is not None:
                    stream.close()
        self.child = None


def _serve() -> None:
    """The child: read a request per line, send it, answer with one line."""
    import apprise

    logging.getLogger().addHandler(logging.NullHandler())  # apprise's warnings come back in the reply
    for warm in ("json://localhost", "mailto://localhost?from=a@localhost&to=b@localhost"):
        apprise.Apprise.instantiate(warm)  # load the common plugins before the first alert waits on them
    out = sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    for line in sys.stdin.buffer:
        reply = _send_one(apprise, msgspec.json.decode(line, type=Request))
        try:
            out.write(msgspec.json.encode(reply) + b"\n")
            out.flush()
        except BrokenPipeError:
            return  # the fleet gave up on this send (timeout) or died: nobody to answer


def _send_one(apprise, request: Request) -> Reply:
    notifier = apprise.Apprise()
    if not notifier.add(request.url):
        return Reply(False, "apprise cannot read this URL")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        try:
            ok = bool(notifier.notify(body=request.body, title=request.title))
        except Exception as exc:  # noqa: BLE001 -- a plugin's bug must not take the sender down; it is reported
            return Reply(False, f"apprise raised {type(exc).__name__}: {mask_phone_numbers(str(exc))[:500]}")
        logged = captured.getvalue() if hasattr(captured, "getvalue") else ""
    detail = " | ".join(line.split(" - ", 2)[-1].strip() for line in logged.splitlines() if line.strip())
    return Reply(ok, mask_phone_numbers(detail)[:1000] or ("sent" if ok else "apprise reported a failure without a reason"))


if __name__ == "__main__":
    _serve()
