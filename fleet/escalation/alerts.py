"""Alerts in the store: raise or attach, acknowledge, resolve, expire, list; each change audited.

    open ──ack──▶ acknowledged ──resolve──▶ resolved
      │                 └──────(age)──────▶ resolved (by system)
      ├──resolve / condition cleared─────▶ resolved
      └──(nobody acknowledged in time)───▶ expired

At most one alert per (rule, scope) is open or acknowledged: the partial UNIQUE index
``alerts_one_active`` says so, not this code. ``raise_or_attach`` tries the insert; when the
index refuses it (another message, another worker process was first), it attaches to the
active alert instead: the trigger is counted, its response uuids are added, its facts updated.

A help request's alert also tells its kiosk (``fleet.escalation.help``): acknowledging or
closing it writes the kiosk's announcement in the same transaction.

Every function runs in one transaction (``fleet.store.writing``) or, called inside the caller's,
in a savepoint: the response feed raises alerts and enqueues their notifications atomically.
The acting person (``by``) and ``channel`` (cli | web | link | system) go into the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec
import peewee

from fleet.escalation import help
from fleet.escalation.rules import Intent
from fleet.escalation.tables import ACTIVE_STATES, ALERT_STATES, CHANNELS, Alert, AlertEvent, AlertResponse, Notification
from fleet.store import database, writing

MAX_ETA_MINUTES = 24 * 60


class AlertError(ValueError):
    """An alert operation that cannot be done; the message says why and what to do instead."""


class AlertNotFound(AlertError, LookupError):
    pass


class AlertStateError(AlertError):
    """The alert is not in a state that allows this (e.g. acknowledging a resolved alert)."""


class AlertRow(msgspec.Struct, kw_only=True):
    """An alert as listings, the CLI's ``--format json`` and the web show it."""

    id: int
    state: str
    rule: str
    kind: str
    severity: str
    scope: str
    site: str
    device_id: str | None
    opened_at: float
    updated_at: float
    triggers: int
    acknowledged_at: float | None
    acknowledged_by: str | None
    eta_minutes: int | None
    closed_at: float | None
    facts: dict
    response_uuids: list[str]


class AuditEntry(msgspec.Struct, kw_only=True):
    alert_id: int
    at: float
    action: str
    by: str
    channel: str
    comment: str


@dataclass(frozen=True)
class Raised:
    alert_id: int
    created: bool  # False: attached to the alert already active for (rule, scope)
    state: str = "open"  # the alert's state: attached to an acknowledged one, nobody new is told

    @property
    def telling_staff(self) -> bool:
        """Someone is being told about this trigger: a new alert, or an open one whose chain runs."""
        return self.created or self.state == "open"


_json = msgspec.json.Encoder()


def raise_or_attach(intent: Intent, now: float) -> Raised | None:
    """Raise the alert *intent* asks for, or attach to the active one. None when every response
    of a response-rule intent already counted for this rule (given twice: nothing to do)."""
    with writing():
        uuids = list(dict.fromkeys(intent.response_uuids))
        if uuids:
            seen = {row.uuid for row in AlertResponse.select(AlertResponse.uuid).where((AlertResponse.rule == intent.rule) & AlertResponse.uuid.in_(uuids))}
            uuids = [uuid for uuid in uuids if uuid not in seen]
            if not uuids and intent.kind == "response":
                return None
        facts = _json.encode(dict(intent.facts)).decode()
        for _ in range(3):  # the active alert can be resolved between our insert and our look-up
            try:
                with database.atomic():  # a savepoint: the index's refusal must not end the transaction
                    alert_id = Alert.insert(
                        rule=intent.rule, scope=intent.scope, kind=intent.kind, severity=intent.severity, site=intent.site,
                        device_id=intent.device_id, state="open", opened_at=now, updated_at=now, facts=facts,
                    ).execute()
                _audit(alert_id, now, "raised", "system", "system", _summary(intent))
                _attach_responses(alert_id, intent.rule, uuids)
                return Raised(alert_id, True)
            except peewee.IntegrityError:
                found = Alert.select(Alert.id, Alert.state).where((Alert.rule == intent.rule) & (Alert.scope == intent.scope) & Alert.state.in_(list(ACTIVE_STATES))).first()
                if found is None:
                    continue
                active = found.id
                Alert.update(triggers=Alert.triggers + 1, updated_at=now, facts=facts).where(Alert.id == active).execute()
                _audit(active, now, "attached", "system", "system", _summary(intent))
                _attach_responses(active, intent.rule, uuids)
                return Raised(active, False, found.state)
        raise AlertError(f"alert for rule {intent.rule!r} scope {intent.scope!r} neither inserts nor attaches (the store keeps changing under us)")


def acknowledge(alert_id: int, by: str, now: float, channel: str, eta_minutes: int | None = None, comment: str = "") -> AlertRow:
    """Someone takes the alert: the escalation chain stops, pending notifications are cancelled.
    Acknowledging again by the same person changes nothing; by another is refused (they are told who)."""
    by = _person(by)
    _check_channel(channel)
    if eta_minutes is not None and not 0 <= eta_minutes <= MAX_ETA_MINUTES:
        raise AlertError(f"an ETA of {eta_minutes} minutes is out of range\n  fix: give 0 to {MAX_ETA_MINUTES} minutes, or no ETA")
    if eta_minutes is not None and eta_minutes > eta_limit(alert_id):
        raise AlertError(
            f"an ETA of {eta_minutes} minutes is more than the kiosk can show ({help.MAX_ETA}): the customer waiting there would see no time at all"
            f"\n  fix: give 0 to {help.MAX_ETA} minutes for a help request, or no ETA"
        )
    with writing():
        changed = Alert.update(state="acknowledged", acknowledged_at=now, acknowledged_by=by, eta_minutes=eta_minutes, updated_at=now, next_step_at=None).where((Alert.id == alert_id) & (Alert.state == "open")).execute()
        if not changed:
            row = _get(alert_id)
            if row.state == "acknowledged" and row.acknowledged_by == by:
                return get_alert(alert_id)
            raise AlertStateError(_not_open(row, "acknowledge"))
        _audit(alert_id, now, "acknowledged", by, channel, _with_eta(comment, eta_minutes))
        _cancel_pending(alert_id, f"acknowledged by {by}")
        help.follow(alert_id, "coming", now, staff=by, eta_minutes=eta_minutes)  # the kiosk hears who is coming
    return get_alert(alert_id)


def eta_limit(alert_id: int) -> int:
    """The longest ETA an acknowledgement of *alert_id* may give: what the kiosk's help screen can
    show (``help.MAX_ETA``, the contract's HelpUpdate limit) when a customer was told about this
    alert, else ``MAX_ETA_MINUTES`` (a technician may say "tomorrow")."""
    return help.MAX_ETA if help.announced(alert_id) else MAX_ETA_MINUTES


def resolve(alert_id: int, by: str, now: float, channel: str, comment: str = "") -> AlertRow:
    """Done: the alert closes (from open or acknowledged); pending notifications are cancelled."""
    return _close(alert_id, "resolved", ACTIVE_STATES, _person(by), now, channel, comment)


def expire(alert_id: int, now: float, comment: str = "") -> AlertRow:
    """Nobody acknowledged it in time: the system closes it as expired."""
    return _close(alert_id, "expired", ("open",), "system", now, "system", comment)


def resolve_active(rule: str, scope: str, now: float, comment: str) -> int | None:
    """The system resolves the active alert of (rule, scope), if any (its condition cleared)."""
    active = _active(rule, scope)
    if active is None:
        return None
    try:
        _close(active, "resolved", ACTIVE_STATES, "system", now, "system", comment)
    except AlertStateError:
        return None  # someone closed it a moment ago
    return active


def get_alert(alert_id: int) -> AlertRow:
    rows = _rows(Alert.select().where(Alert.id == alert_id))
    if not rows:
        _missing(alert_id)
    return rows[0]


def list_alerts(state: str | None = None, site: str | None = None, rule: str | None = None, limit: int = 200) -> list[AlertRow]:
    """Newest first; *state* may also be "active" (open or acknowledged)."""
    query = Alert.select()
    if state == "active":
        query = query.where(Alert.state.in_(list(ACTIVE_STATES)))
    elif state is not None:
        if state not in ALERT_STATES:
            raise AlertError(f"unknown state {state!r}\n  fix: use one of {', '.join(ALERT_STATES)} or active")
        query = query.where(Alert.state == state)
    if site is not None:
        query = query.where(Alert.site == site)
    if rule is not None:
        query = query.where(Alert.rule == rule)
    return _rows(query.order_by(Alert.id.desc()).limit(limit))


def history(alert_id: int) -> list[AuditEntry]:
    """The audit trail of one alert, oldest first."""
    if not _exists(alert_id):
        _missing(alert_id)
    events = AlertEvent.select().where(AlertEvent.alert == alert_id).order_by(AlertEvent.id)
    return [AuditEntry(alert_id=alert_id, at=e.at, action=e.action, by=e.by, channel=e.channel, comment=e.comment) for e in events]


def audit(alert_id: int, now: float, action: str, by: str, channel: str, comment: str = "") -> None:
    """Add an entry to the trail for a change made elsewhere (the escalation chain's steps)."""
    _audit(alert_id, now, action, by, channel, comment)


# --- helpers -----------------------------------------------------------------------------


def _close(alert_id: int, state: str, allowed: Iterable[str], by: str, now: float, channel: str, comment: str) -> AlertRow:
    _check_channel(channel)
    with writing():
        changed = Alert.update(state=state, closed_at=now, updated_at=now, next_step_at=None).where((Alert.id == alert_id) & Alert.state.in_(list(allowed))).execute()
        if not changed:
            raise AlertStateError(_not_open(_get(alert_id), "resolve" if state == "resolved" else "expire"))
        _audit(alert_id, now, state, by, channel, comment)
        _cancel_pending(alert_id, f"alert {state}")
        help.follow(alert_id, "closed", now)
    return get_alert(alert_id)


def _active(rule: str, scope: str) -> int | None:
    row = Alert.select(Alert.id).where((Alert.rule == rule) & (Alert.scope == scope) & Alert.state.in_(list(ACTIVE_STATES))).first()
    return row.id if row else None


def _attach_responses(alert_id: int, rule: str, uuids: list[str]) -> None:
    if uuids:
        AlertResponse.insert_many([{"alert": alert_id, "rule": rule, "uuid": uuid} for uuid in uuids]).on_conflict_ignore().execute()


def _cancel_pending(alert_id: int, why: str) -> None:
    """Stop the escalation chain's messages (keys "alert-<id>-step-…"), one in flight included:
    its sender's record keeps a cancelled row cancelled unless it was delivered. Other messages
    about the alert, the call centre's call-back request, are not the chain's to stop."""
    chain = Notification.idempotency_key.startswith(f"alert-{alert_id}-step-")
    Notification.update(state="cancelled", last_error=why, lease_until=None).where((Notification.alert == alert_id) & (Notification.state == "pending") & chain).execute()


def _audit(alert_id: int, now: float, action: str, by: str, channel: str, comment: str) -> None:
    AlertEvent.insert(alert=alert_id, at=now, action=action, by=by, channel=channel, comment=comment[:2000]).execute()


def _get(alert_id: int) -> Alert:
    row = Alert.get_or_none(Alert.id == alert_id)
    if row is None:
        _missing(alert_id)
    return row


def _exists(alert_id: int) -> bool:
    return Alert.select(Alert.id).where(Alert.id == alert_id).exists()


def _missing(alert_id: int):
    raise AlertNotFound(f"no alert {alert_id}\n  fix: see the ids with `fleet alert list`")


def _rows(query) -> list[AlertRow]:
    alerts = list(query)
    uuids: dict[int, list[str]] = {alert.id: [] for alert in alerts}
    if alerts:
        for link in AlertResponse.select(AlertResponse.alert, AlertResponse.uuid).where(AlertResponse.alert.in_(list(uuids))).order_by(AlertResponse.id):
            uuids[link.alert_id].append(link.uuid)
    return [
        AlertRow(
            id=a.id, state=a.state, rule=a.rule, kind=a.kind, severity=a.severity, scope=a.scope, site=a.site, device_id=a.device_id,
            opened_at=a.opened_at, updated_at=a.updated_at, triggers=a.triggers, acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by, eta_minutes=a.eta_minutes, closed_at=a.closed_at, facts=msgspec.json.decode(a.facts),
            response_uuids=uuids[a.id],
        )
        for a in alerts
    ]


def _not_open(row: Alert, verb: str) -> str:
    if row.state == "acknowledged":
        return f"alert {row.id} is already acknowledged by {row.acknowledged_by}\n  fix: nothing to do, someone is on it; `fleet alert resolve {row.id}` closes it"
    return f"alert {row.id} is {row.state}; it cannot be {verb}d any more\n  fix: nothing to do (a new trigger raises a new alert)"


def _person(by: str) -> str:
    by = (by or "").strip()
    if not by or len(by) > 128:
        raise AlertError("who acts must be named (1 to 128 characters)\n  fix: e.g. --by \"Ayşe Yılmaz\"")
    return by


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise AlertError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")


def _with_eta(comment: str, eta: int | None) -> str:
    return f"{comment} (ETA {eta} min)".strip() if eta is not None else comment


def _summary(intent: Intent) -> str:
    facts = intent.facts
    if intent.kind == "window":
        return f"{facts.get('negative')} of {facts.get('total')} negative in {facts.get('minutes')} min"
    if intent.kind == "response":
        return f"{len(intent.response_uuids)} response(s) from {facts.get('device_id')}"
    return ", ".join(f"{key}={value}" for key, value in facts.items())[:300]
