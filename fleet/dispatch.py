"""The fleet's dispatch: which code takes each upstream channel, and what runs after a commit.

Features plug in here, as Mopidy's extensions do in ``Extension.setup(registry)``; the
composition root (``fleet/app``) builds one ``Registry`` and hands it to ``Ingest``:

    registry = fleet.ingest.default_registry()    # handlers for responses, status, health
    registry.register_handler("survey", fn)        # a channel once it is declared in CHANNELS, upstream
    registry.add_hook("feature", fn)               # after each commit: fn(new_rows)
    ingest = Ingest(registry=registry)

**Handlers.** One per upstream channel of ``kiosk.contract.protocol.CHANNELS``:
``fn(batch, message, sender)`` (types in ``fleet.ingest``) decodes *message*, checks it and adds
what it learned to *batch*, which ingest writes in one transaction. It raises ``ProtocolError``
to reject the message (logged with its reason, counted on the device). A message on a channel
without a handler, a fleet → kiosk one included (ack, help), is rejected with a reason.

**Post-commit hooks.** ``fn(rows)`` is called after the store committed a batch, with the
``ResponseRow``s that batch stored *for the first time* (the insert's ``RETURNING``), in the
order they arrived, and only when there is one: a response redelivered by the broker or resent
by a kiosk never reaches a hook twice. A hook that raises is logged with its name; the rows
stay stored and acknowledged, the other hooks run, ingest goes on. A hook is never called
twice for a row, but a fleet killed between the commit and the hook never calls it for that
row: a feature that must not miss one reads the store at start (its own cursor).

**Hooks run on the ingest thread, so they must be cheap.** Every microsecond a hook spends is
taken from storing and acknowledging kiosks' answers (the bar: ingest drops ≤ 5 % with the
hooks on, ``benchmarks/bench_fleet.py``). A hook that does I/O or real work hands the rows to
its own worker and returns: ``HookWorker`` is that hand-off (a bounded queue and a thread):

    worker = HookWorker("feature", fn)
    registry.add_hook("feature", worker)       # the ingest thread only queues the rows
    worker.start(); ...; worker.stop()          # stop: what was queued is handled first

A feature that falls behind gets what queued up in one call (one transaction, not one per
ingest batch). A hook slower than ``SLOW_HOOK_S`` is logged, so one that should hand off is found.

A thread of its own still shares ingest's process (its CPU, its GIL). A feature whose work per
response is more than a few microseconds reads the store's tail in the once-per-fleet process
instead, as the escalation does (``fleet.escalation.feed``), and registers a hook here only to
be woken: ``registry.add_hook("escalation-feed", lambda rows: feed.wake())``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kiosk.contract.protocol import CHANNEL, UPSTREAM

if TYPE_CHECKING:
    from fleet.store import ResponseRow

log = logging.getLogger(__name__)

#: fn(batch, message, sender) -> None; raises ProtocolError to reject (fleet.ingest's types).
Handler = Callable[[Any, Any, Any], None]
#: fn(newly stored rows) -> None.
Hook = Callable[[Sequence["ResponseRow"]], None]

#: A hook on the ingest thread taking longer than this is logged (it should hand off).
SLOW_HOOK_S = 0.02


class Registry:
    """Channel → handler, and the named post-commit hooks, in the order they were added."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.hooks: list[tuple[str, Hook]] = []

    def register_handler(self, channel: str, fn: Handler) -> None:
        spec = CHANNEL.get(channel)
        if spec is None:
            raise ValueError(f"no channel {channel!r} in the protocol's CHANNELS (upstream: {', '.join(UPSTREAM)}); declare it in kiosk/contract/protocol.py first")
        if spec.direction != "up":
            raise ValueError(f"{channel!r} is a fleet → kiosk channel: the fleet publishes on it and takes nothing from devices there")
        if channel in self.handlers:
            raise ValueError(f"the {channel!r} channel already has a handler ({_name(self.handlers[channel])}); one channel, one handler")
        self.handlers[channel] = fn

    def add_hook(self, name: str, fn: Hook) -> None:
        if any(name == taken for taken, _ in self.hooks):
            raise ValueError(f"a post-commit hook named {name!r} is already registered; give each feature's hook its own name")
        self.hooks.append((name, fn))

    def run_hooks(self, rows: Sequence[ResponseRow]) -> int:
        """Call every hook with *rows* (the batch's newly stored responses); returns how many
        hooks failed. Never raises: the rows are stored, and the Acks must go out."""
        failed = 0
        for name, fn in self.hooks:
            started = time.perf_counter()
            try:
                fn(rows)
            except Exception:
                failed += 1
                log.exception("post-commit hook failed; the responses stay stored and acknowledged", extra={"hook": name, "responses": len(rows)})
                continue
            took = time.perf_counter() - started
            if took > SLOW_HOOK_S:
                log.warning("post-commit hook is slow on the ingest thread; it should hand its work to a worker (fleet.dispatch.HookWorker)", extra={"hook": name, "responses": len(rows), "ms": round(took * 1000, 1)})
        return failed


class HookWorker:
    """A hook that hands the rows to a thread of its own: the ingest thread only queues them.

    When the feature falls behind, the worker gives it everything queued at once (up to
    ``max_rows``) in one call, in the order stored: a feature that does one transaction per
    call catches up instead of paying one per ingest batch. The queue is bounded (``limit``
    batches): a feature that falls that far behind slows ingest down (the broker holds the
    kiosks' messages) instead of growing without end or dropping rows. ``stop`` handles what
    is queued, then ends the thread. A failure of *fn* is logged with the hook's name and the
    worker goes on with the next rows.
    """

    def __init__(self, name: str, fn: Hook, limit: int = 10_000, max_rows: int = 2000) -> None:
        self.name = name
        self.fn = fn
        self.max_rows = max_rows
        self._queue: queue.Queue[Sequence[ResponseRow] | None] = queue.Queue(maxsize=limit)
        self._thread: threading.Thread | None = None
        self.handled = 0  # rows handed to fn
        self.calls = 0
        self.failures = 0

    def __call__(self, rows: Sequence[ResponseRow]) -> None:
        self._queue.put(rows)

    def start(self) -> HookWorker:
        self._thread = threading.Thread(target=self._run, name=f"hook-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("post-commit hook worker did not finish its queue in time", extra={"hook": self.name, "queued": self._queue.qsize(), "timeout_s": timeout})
        self._thread = None

    def join(self) -> None:
        """Wait until everything queued so far is handled (tests, benchmarks)."""
        self._queue.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            rows, taken, stopping = self._take()
            try:
                if rows:
                    self.calls += 1
                    self.fn(rows)
                    self.handled += len(rows)
            except Exception:  # one call's failure must not end the feature's worker
                self.failures += 1
                log.exception("post-commit hook failed on its worker; the responses stay stored", extra={"hook": self.name, "responses": len(rows)})
            finally:
                for _ in range(taken):
                    self._queue.task_done()
        _close_connection()

    def _take(self) -> tuple[list[ResponseRow], int, bool]:
        """Wait for rows, then take whatever else is queued: (rows, queue items taken, stop seen)."""
        item = self._queue.get()
        taken, rows = 1, []
        while item is not None:
            rows.extend(item)
            if len(rows) >= self.max_rows:
                return rows, taken, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return rows, taken, False
            taken += 1
        return rows, taken, True


def _close_connection() -> None:
    """peewee opens a connection per thread: this thread's goes with it."""
    from fleet.store import close_database

    close_database()


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
