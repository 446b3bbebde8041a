"""The notification outbox: enqueue with the alert change, claim, send, retry, log every attempt.

Enqueued rows are written in the same transaction as the alert change that needs them, so a
fleet killed after that commit still sends them when it comes back. A sender claims a row by
setting its lease (a conditional UPDATE, so two workers or processes never both take it),
sends it outside any transaction, then records the attempt in the delivery log and the row's
new state in one transaction. Failures are retried with exponential backoff (jittered) up to
``max_attempts``; then the row is ``failed`` for good, and the log says why.

At most one duplicate per crash: a sender killed while a send is in flight leaves its lease;
when the lease runs out the row is sent again. If the first send had reached the receiver,
it arrives twice, with the same idempotency key. No other path sends a row twice.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fleet.escalation.config import Notifications
from fleet.escalation.tables import Delivery, Notification
from fleet.escalation.targets import shown_url
from fleet.store import writing

log = logging.getLogger(__name__)

#: Added to the send timeout for a lease: the sender records its result well within it.
LEASE_MARGIN_SECONDS = 10.0


class Sender(Protocol):
    def send(self, url: str, title: str, body: str, timeout: float): ...


@dataclass(frozen=True)
class Queued:
    alert_id: int
    site: str
    contact: str
    url: str
    title: str
    body: str
    idempotency_key: str


def enqueue(items: list[Queued], now: float) -> int:
    """Add notifications to the outbox (call inside the alert change's transaction). An
    idempotency key already queued is skipped; returns how many were added."""
    if not items:
        return 0
    rows = [
        {
            "idempotency_key": item.idempotency_key, "alert": item.alert_id, "site": item.site, "contact": item.contact,
            "target": item.url, "target_shown": shown_url(item.url), "title": _readable(item.title), "body": _readable(item.body) + f"\n[{item.idempotency_key}]",
            "state": "pending", "created_at": now, "next_attempt_at": now,
        }
        for item in items
    ]
    before = Notification.select().where(Notification.idempotency_key.in_([row["idempotency_key"] for row in rows])).count()
    Notification.insert_many(rows).on_conflict_ignore().execute()
    return len(rows) - before


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _readable(text: str) -> str:
    """A message as a person reads it: a control character a kiosk's answer carried (a forged
    one) shows as �; PostgreSQL's text cannot hold NUL, so it would fail the alert's transaction."""
    return _CONTROL.sub("\ufffd", text)


def backoff(settings: Notifications, attempts: int, rng: random.Random) -> float:
    """Seconds before the next try after *attempts* failed ones: doubling, capped, ±20 % jitter."""
    delay = min(settings.retry_first_seconds * 2 ** (attempts - 1), settings.retry_max_seconds)
    return delay * rng.uniform(0.8, 1.2)


class Notifier:
    """Delivers due notifications. Thread-safe across instances: each lane has its own."""

    def __init__(self, settings: Notifications, sender: Sender, clock: Callable[[], float] = time.time, rng: random.Random | None = None, lease_margin: float = LEASE_MARGIN_SECONDS) -> None:
        self.settings = settings
        self.lease_margin = lease_margin
        self.sender = sender
        self.clock = clock
        self.rng = rng or random.Random()

    def claim(self) -> Notification | None:
        """Take the most overdue notification nobody holds, or None."""
        now = self.clock()
        free = (Notification.state == "pending") & (Notification.next_attempt_at <= now) & (Notification.lease_until.is_null() | (Notification.lease_until < now))
        # list(): the SELECT finishes before the UPDATE. Updating while its cursor is still open
        # turns SQLite's read snapshot into a write, which fails at once ("database is locked",
        # no busy wait) when another connection wrote since: the response feed raising an alert.
        for candidate in list(Notification.select(Notification.id).where(free).order_by(Notification.next_attempt_at, Notification.id).limit(5)):
            lease = now + self.settings.send_timeout_seconds + self.lease_margin
            taken = Notification.update(lease_until=lease, attempts=Notification.attempts + 1).where((Notification.id == candidate.id) & free).execute()
            if taken:
                return Notification.get_by_id(candidate.id)
        return None

    def deliver_one(self) -> bool:
        """Claim, send and record one notification; False when nothing was due."""
        row = self.claim()
        if row is None:
            return False
        started = self.clock()
        result = self.sender.send(row.target, row.title, row.body, self.settings.send_timeout_seconds)
        self.record(row, result.outcome, result.detail, started)
        return True

    def record(self, row: Notification, outcome: str, detail: str, started: float) -> None:
        now = self.clock()
        with writing():
            Delivery.insert(notification=row.id, attempt=row.attempts, started_at=started, finished_at=now, outcome=outcome, detail=detail[:2000]).execute()
            if outcome == "delivered":
                fields = {"state": "delivered", "delivered_at": now, "lease_until": None, "last_error": None}
            elif row.attempts >= self.settings.max_attempts:
                fields = {"state": "failed", "lease_until": None, "last_error": detail[:2000]}
            else:
                fields = {"next_attempt_at": now + backoff(self.settings, row.attempts, self.rng), "lease_until": None, "last_error": detail[:2000]}
            Notification.update(fields).where(Notification.id == row.id).execute()
        extra = {"notification": row.id, "alert": row.alert_id, "target": row.target_shown, "attempt": row.attempts, "outcome": outcome}
        if outcome == "delivered":
            log.info("notification delivered", extra=extra)
        elif fields.get("state") == "failed":
            log.error("notification failed for good", extra={**extra, "detail": detail[:300]})
        else:
            log.warning("notification not delivered; will retry", extra={**extra, "detail": detail[:300]})

    def next_due(self) -> float | None:
        """When the earliest pending notification may be tried (None: nothing pending)."""
        row = Notification.select(Notification.next_attempt_at, Notification.lease_until).where(Notification.state == "pending").order_by(Notification.next_attempt_at).first()
        if row is None:
            return None
        return max(row.next_attempt_at, row.lease_until or 0.0)


def deliveries(alert_id: int) -> list[dict]:
    """The delivery log of one alert's notifications, oldest first (for the CLI and the demo)."""
    query = (
        Delivery.select(Delivery, Notification.id, Notification.contact, Notification.target_shown, Notification.idempotency_key)
        .join(Notification)
        .where(Notification.alert == alert_id)
        .order_by(Delivery.id)
    )
    return [
        {"notification": d.notification.id, "key": d.notification.idempotency_key, "contact": d.notification.contact, "target": d.notification.target_shown, "attempt": d.attempt, "outcome": d.outcome, "started_at": d.started_at, "finished_at": d.finished_at, "detail": d.detail}
        for d in query
    ]
