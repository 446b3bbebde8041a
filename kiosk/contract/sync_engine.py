"""What to send, and when: the outbox drained over an unreliable link, nothing lost, nothing twice.

The rules (DESIGN.md, principles 1 and 2):

- A response leaves the outbox only when the fleet's Ack says it is *stored*. MQTT's PUBACK
  means only that the broker has it, so it is not enough.
- Unacknowledged responses are sent again after a reconnect, after a restart (the outbox is
  on disk) and when no Ack came for ``ack_timeout`` seconds (the fleet may be down while
  the broker is up). The fleet stores by UUID, so a response sent twice is stored once.
- Each response goes with the device id it was recorded under, not the kiosk's current one:
  after a config for another device is installed, the fleet refuses the old answers (they
  stay on the card) rather than storing them at another site.
- A request for help (``source.urgent``: a customer is waiting at the kiosk) is sent first,
  alone, at once: before any backlog and whatever the window, which paces only the backlog.
- Live traffic goes one response per message; a backlog goes in batches of up to
  ``batch_size`` (and under the payload limit), with at most ``window`` batches awaiting an
  Ack, so a kiosk back from a week offline drains quickly without flooding the fleet.

The engine has no threads and no sockets: ``publish`` is given to it, events are method
calls, time comes from the injected clock. The kiosk's sync worker drives it, and so does
``fleet simulate`` (with an in-memory outbox), so the simulator behaves as kiosks do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.contract.clock import Clock
from kiosk.contract.protocol import (
    MAX_PAYLOAD_BYTES,
    MAX_PRESSES,
    PROTOCOL_VERSION,
    Ack,
    AnswerPayload,
    Moment,
    ResponsePayload,
    SenderClock,
    Upload,
    encode,
)

log = logging.getLogger(__name__)

#: Requests for help looked up per pump (each is one customer at a kiosk: there are never many).
MAX_URGENT = 20


class PendingSource(Protocol):
    """The outbox as the sync sees it (``kiosk.outbox.Outbox``, or the simulator's in-memory twin)."""

    def pending(self, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]: ...
    def urgent(self, limit: int) -> list[tuple[int, dict[str, Any]]]: ...
    def mark_sent(self, uuids: list[str], at: float | None = None) -> int: ...
    def mark_refused(self, refusals: dict[str, str]) -> int: ...


@dataclass
class _Batch:
    last_id: int
    uuids: set[str]
    sent_at: float  # monotonic
    urgent: bool = False  # a request for help: outside the backlog's window


@dataclass
class SyncStats:
    published_batches: int = 0
    published_responses: int = 0
    acked: int = 0
    refused: int = 0
    resends: int = 0  # times unacknowledged responses were sent again after a timeout
    ack_latencies: list[float] = field(default_factory=list)  # seconds, publish → Ack (kept short)


class SyncEngine:
    def __init__(
        self,
        device_id: str,
        source: PendingSource,
        publish: Callable[[bytes], bool],
        clock: Clock,
        boot_id: str,
        batch_size: int = 100,
        window: int = 4,
        ack_timeout: float = 30.0,
        max_ack_timeout: float = 600.0,
    ) -> None:
        self.device_id = device_id
        self.source = source
        self.publish = publish
        self.clock = clock
        self.boot_id = boot_id
        self.batch_size = max(1, min(batch_size, 200))
        self.window = max(1, window)
        self.base_ack_timeout = ack_timeout
        self.ack_timeout = ack_timeout
        self.max_ack_timeout = max_ack_timeout
        self.connected = False
        self.stats = SyncStats()
        self._cursor = 0  # highest outbox row id published on this connection
        self._in_flight: dict[str, _Batch] = {}  # uuid → its batch
        self._batches: list[_Batch] = []

    # --- events ----------------------------------------------------------------------------

    def on_connected(self) -> None:
        """A fresh connection: everything not yet acknowledged is sent again, oldest first."""
        self.connected = True
        self._forget_in_flight()
        self.pump()

    def on_disconnected(self) -> None:
        self.connected = False
        self._forget_in_flight()

    def on_saved(self) -> None:
        """The kiosk committed a new response: send it now if the window allows."""
        self.pump()

    def on_ack(self, ack: Ack) -> None:
        now = self.clock.now()
        stored = ack.stored  # each uuid as this kiosk sent it
        refused = {r.uuid: r.reason for r in ack.refused}
        if stored:
            self.source.mark_sent(stored, now.wall)
        if refused:
            self.source.mark_refused(refused)
        for uuid in (*stored, *refused):
            batch = self._in_flight.pop(uuid, None)
            if batch is None:
                continue
            batch.uuids.discard(uuid)
            if not batch.uuids:
                self._batches.remove(batch)
                latencies = self.stats.ack_latencies
                latencies.append(now.monotonic - batch.sent_at)
                if len(latencies) > 1000:
                    del latencies[:500]
        if not self._batches:
            self._cursor = 0  # nothing in flight: look again from the start (cheap, and robust to any id reuse)
        self.stats.acked += len(stored)
        self.stats.refused += len(refused)
        self.ack_timeout = self.base_ack_timeout  # the fleet is answering again
        self.pump()

    def on_tick(self) -> None:
        """Resend when the fleet has gone quiet; call at ``next_deadline``."""
        if not self._batches or not self.connected:
            return
        now = self.clock.now().monotonic
        if now - self._batches[0].sent_at < self.ack_timeout:
            return
        waiting = len(self._in_flight)
        log.warning("no acknowledgement from the fleet; sending again", extra={"waiting": waiting, "after_s": round(self.ack_timeout, 1)})
        self.stats.resends += 1
        self.ack_timeout = min(self.ack_timeout * 2, self.max_ack_timeout)
        self._forget_in_flight()
        self.pump()

    def next_deadline(self) -> float | None:
        """Monotonic time at which ``on_tick`` has work, or None."""
        if not self._batches or not self.connected:
            return None
        return self._batches[0].sent_at + self.ack_timeout

    @property
    def awaiting_ack(self) -> int:
        return len(self._in_flight)

    # --- sending ---------------------------------------------------------------------------

    def pump(self) -> None:
        """Publish the requests for help not yet in flight, then what the window allows."""
        if not self.connected:
            return
        for row in self.source.urgent(MAX_URGENT):
            if row[1]["uuid"] not in self._in_flight and not self._send([row], urgent=True):
                return
        while self.connected and sum(not batch.urgent for batch in self._batches) < self.window:
            rows = self.source.pending(self._cursor, self.batch_size)
            if not rows:
                return
            if not self._send(rows):
                return

    def _send(self, rows: list[tuple[int, dict[str, Any]]], urgent: bool = False) -> bool:
        responses = [to_payload(row) for _, row in rows]
        now = self.clock.now()
        while True:
            payload = encode(Upload(v=PROTOCOL_VERSION, device_id=self.device_id, sent=SenderClock(now.wall, now.monotonic, now.clock_synced, self.boot_id), responses=responses))
            if len(payload) <= MAX_PAYLOAD_BYTES or len(responses) == 1:
                break
            responses = responses[: len(responses) // 2]  # rare: unusually long responses
        rows = rows[: len(responses)]
        if not self.publish(payload):
            return False
        batch = _Batch(last_id=rows[-1][0], uuids={row["uuid"] for _, row in rows}, sent_at=now.monotonic, urgent=urgent)
        self._batches.append(batch)
        for uuid in batch.uuids:
            self._in_flight[uuid] = batch
        if not urgent:  # the backlog's place; an urgent row is not in the backlog's order
            self._cursor = batch.last_id
        self.stats.published_batches += 1
        self.stats.published_responses += len(rows)
        return True

    def _forget_in_flight(self) -> None:
        self._cursor = 0
        self._in_flight.clear()
        self._batches.clear()


def to_payload(row: dict[str, Any]) -> ResponsePayload:
    """An outbox row (``kiosk.outbox.to_public``) as the protocol carries it: under the device id
    it was recorded under, whatever this kiosk is called now (the fleet never moves an answer)."""
    return ResponsePayload(
        uuid=row["uuid"],
        device_id=row["device_id"],
        survey_id=row["survey_id"],
        survey_version=row["survey_version"],
        language=row["language"],
        status=row["status"],
        misuse=row["misuse"],
        negative=row["negative"],
        end_reason=row["end_reason"],
        answers=[AnswerPayload(**answer) for answer in row["answers"]],
        presses=row["presses"][:MAX_PRESSES],  # a child's hundred presses: the first thousand tell the story
        started=Moment(**row["started"]),
        finished=Moment(**row["finished"]),
        boot_id=row["boot_id"],
        clock_synced=row["clock_synced"],
        # Rows made before the outbox recorded press timing (and the fleet simulator's) have neither.
        press_ms=row.get("press_ms", [])[:MAX_PRESSES],
        suspect=row.get("suspect", False),
        help_requested=row.get("help_requested"),
    )
