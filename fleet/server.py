"""``fleet serve``'s main loop: take what arrived, store it, then acknowledge it.

One writer (this loop, on the main thread) owns the database connection. Each turn it takes
every message waiting (up to ``batch_limit``), hands them to ``Ingest`` (one transaction),
and only then publishes the Acks to kiosks and the PUBACKs to the broker. If the store
fails (the disk is full, PostgreSQL restarts), nothing is acknowledged and the same batch
is retried with backoff: kiosks keep their answers until the fleet really has them.

No single message can stop the loop. Anything else that fails while a batch is processed
(a value the store refuses, or a fault nobody has found yet) is narrowed down by halving the
batch until one message is left; that message is set aside: logged with its topic and the
error, and PUBACKed so the broker does not hand it back at every restart. It gets no Ack, so
a kiosk that really sent it keeps it and sends it again later; the rest of the batch is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import peewee

from fleet import devices
from fleet.ingest import UNSTORABLE, Ingest, Received
from fleet.link import FleetLink
from fleet.store import database
from kiosk.contract.protocol import encode, split_ack

log = logging.getLogger(__name__)


class FleetServer:
    def __init__(
        self,
        link: FleetLink,
        ingest: Ingest,
        inactivity_s: float = devices.DEFAULT_INACTIVITY_S,
        batch_limit: int = 2000,
        stats_every_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.link = link
        self.ingest = ingest
        self.inactivity_s = inactivity_s
        self.batch_limit = batch_limit
        self.stats_every_s = stats_every_s
        self.clock = clock

    def run(self, stop: threading.Event) -> None:
        next_sweep = next_stats = time.monotonic()
        while not stop.is_set():
            batch = self.link.take(timeout=0.5, limit=self.batch_limit)
            if batch:
                self.handle(batch, stop)
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + min(30.0, self.inactivity_s / 3)
                self._sweep()
            if now >= next_stats:
                next_stats = now + self.stats_every_s
                if self.ingest.totals:
                    log.info("ingest totals", extra=dict(self.ingest.totals))

    def handle(self, batch: list[Received], stop: threading.Event) -> bool:
        """Store *batch* and acknowledge it; False if stopped before the store accepted it."""
        delay = 0.5
        while True:
            try:
                outcome = self.ingest.process(batch)
                break
            except UNSTORABLE as exc:  # the data, not the database: find the message and set it aside
                return self._isolate(batch, stop, exc, "message cannot be stored; set aside (its kiosk keeps it and sends it again later)")
            except (peewee.DatabaseError, peewee.InterfaceError) as exc:  # the database is away (OperationalError; InterfaceError is no DatabaseError)
                log.error("cannot store a batch; nothing acknowledged, retrying", extra={"messages": len(batch), "error": str(exc).strip(), "retry_in_s": delay})
                _reset_connection()
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, 30.0)
            except Exception as exc:  # noqa: BLE001 - a fault not foreseen (never the store's: above): one message must not stop the fleet
                return self._isolate(batch, stop, exc, "message could not be processed; set aside (its kiosk keeps it and sends it again later)", trace=True)
        for device_id, ack in outcome.acks.items():
            for part in split_ack(ack):  # a kiosk refuses an Ack over its size limits
                self.link.publish_ack(device_id, encode(part))
        for topic in outcome.clear_retained:
            self.link.clear_retained(topic)
        self.link.acknowledge(batch)
        if outcome.stored or outcome.rejected:
            log.debug("batch stored", extra={"messages": len(batch), "stored": outcome.stored, "duplicates": outcome.duplicates, "rejected": outcome.rejected})
        return True

    def _isolate(self, batch: list[Received], stop: threading.Event, exc: Exception, message: str, trace: bool = False) -> bool:
        """Halve *batch* until the message that fails is alone, store the rest, set that one aside."""
        if len(batch) > 1:
            half = len(batch) // 2
            return self.handle(batch[:half], stop) and self.handle(batch[half:], stop)
        log.error(
            message,
            exc_info=exc if trace else None,
            extra={"topic": batch[0].topic[:200], "bytes": len(batch[0].payload), "error": f"{type(exc).__name__}: {str(exc).strip()[:300]}"},
        )
        self.ingest.totals.update(set_aside=1)
        self.link.acknowledge(batch)
        return True

    def _sweep(self) -> None:
        try:
            silent = devices.mark_silent(self.clock(), self.inactivity_s)
        except (peewee.DatabaseError, peewee.InterfaceError) as exc:
            log.error("cannot update device presence: %s", exc)
            _reset_connection()
            return
        for device_id in silent:
            log.warning("device went silent", extra={"device": device_id, "after_s": self.inactivity_s})


def _reset_connection() -> None:
    """Drop a broken connection so the next query opens a fresh one (PostgreSQL restarts)."""
    try:
        if not database.is_closed():
            database.close()
    except (peewee.DatabaseError, peewee.InterfaceError):
        pass
