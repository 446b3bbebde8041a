"""The escalation worker: threads of its own, so nothing here ever waits in ingest's path.

One ticker thread runs ``Escalation.tick`` (offline/health rules, window clears, due
escalation steps, expiry, retention) every ``tick_seconds`` or sooner when a step is due. The
sender lanes (``notifications.senders`` threads, each with its own apprise child process)
claim and deliver outbox rows; ``wake()`` (called by the response feed after it committed an
alert) starts them at once instead of at their next poll. Several fleet processes may each
run a worker: claims are leases in the store, steps are claimed on the alert row.

    worker = EscalationWorker(escalation, settings)   # escalation=None: deliver only
    worker.start(); ...; worker.wake(); ...; worker.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import peewee

from fleet.escalation.config import Notifications
from fleet.escalation.notifier import LEASE_MARGIN_SECONDS, Notifier
from fleet.escalation.sender import ProcessSender
from fleet.escalation.service import Escalation

log = logging.getLogger(__name__)


class EscalationWorker:
    def __init__(
        self,
        escalation: Escalation | None,
        settings: Notifications,
        lanes: int = 2,
        tick_seconds: float = 15.0,
        poll_seconds: float = 2.0,
        make_sender: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.time,
        lease_margin: float = LEASE_MARGIN_SECONDS,
    ) -> None:
        self.lease_margin = lease_margin
        self.escalation = escalation
        self.settings = settings
        self.lanes = lanes
        self.tick_seconds = tick_seconds
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.make_sender = make_sender or (lambda: ProcessSender(read_timeout=settings.send_timeout_seconds))
        self._stop = threading.Event()
        self._work = threading.Condition()
        self._pending_wake = 0
        self._threads: list[threading.Thread] = []
        self._senders: list = []

    def start(self) -> None:
        self._stop.clear()
        for number in range(self.lanes):
            sender = self.make_sender()
            if hasattr(sender, "start"):
                sender.start()  # import apprise now, not when the first alert is waiting
            self._senders.append(sender)
            self._spawn(f"notify-{number + 1}", self._deliver_loop, Notifier(self.settings, sender, self.clock, lease_margin=self.lease_margin))
        if self.escalation is not None:
            self._spawn("escalation-tick", self._tick_loop)
        log.info("escalation worker started", extra={"lanes": self.lanes})

    def wake(self) -> None:
        with self._work:
            self._pending_wake += 1
            self._work.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        for sender in self._senders:
            if hasattr(sender, "close"):
                sender.close()
        self._threads, self._senders = [], []

    # --- threads -----------------------------------------------------------------------------

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=self._guard, args=(target, *args), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guard(self, target, *args) -> None:
        """Keep a loop alive through a store that is away for a while (it logs and retries)."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                target(*args)
                return
            except (peewee.OperationalError, peewee.InterfaceError) as exc:
                log.error("escalation worker: the store is unavailable (%s); retrying in %.0f s", str(exc).strip()[:200], delay)
            except Exception:
                log.exception("escalation worker loop failed; restarting it in %.0f s", delay)
            self._stop.wait(delay)
            delay = min(delay * 2, 30.0)

    def _deliver_loop(self, notifier: Notifier) -> None:
        while not self._stop.is_set():
            if notifier.deliver_one():
                continue
            due = notifier.next_due()
            wait = self.poll_seconds if due is None else min(self.poll_seconds, max(0.0, due - self.clock()))
            self._sleep(wait)

    def _tick_loop(self) -> None:
        assert self.escalation is not None
        while not self._stop.is_set():
            upcoming = self.escalation.tick()
            wait = self.tick_seconds if upcoming is None else min(self.tick_seconds, max(0.05, upcoming - self.clock()))
            self._stop.wait(wait)

    def _sleep(self, seconds: float) -> None:
        with self._work:
            if self._pending_wake:
                self._pending_wake = 0
                return
            self._work.wait(seconds)
            self._pending_wake = 0
