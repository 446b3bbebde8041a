"""Help announcements: what the kiosk must hear about a customer's request for help, kept durably.

A kiosk learns where its customer's request stands from ``HelpUpdate``s on its retained
``help`` channel: ``waiting`` (the alert is raised, staff are being told; with the site's wait
and a call-back link), ``coming`` (someone acknowledged: name, ETA), ``closed`` (resolved or
expired). The change that causes one can happen in any fleet process: the response feed raises
the alert, ``fleet alert ack`` (a process of its own) or the web's POST acknowledges it, the
ticker expires it. So the update is not published where it happens: it
is written here, as a row of ``help_announcements``, **in the same transaction as the alert
change**, and one publisher per fleet (``fleet.escalation.announcer``) publishes the rows that
are pending and marks them sent on the broker's PUBACK. An alert change is committed with its
announcement or not at all; a fleet killed before the PUBACK publishes it again when it comes
back (a retained HelpUpdate published twice is the same message: harmless).

Which alert speaks for a customer: a response that asked for help may trigger several rules
(help, negative, an answer); the alert of a ``response`` rule ``on = "help"`` is announced
(one alert per customer: its scope is the response), else the most severe one that is telling
someone (not one the customer only attached to after it was acknowledged). Later changes of
that alert (``follow``) are announced to each device it was announced to, for the newest
customer there. The topic is retained per device: only the last message counts, and the kiosk
shows an update only while that customer is on its help screen. So when two customers' alerts
change at one kiosk, the publisher sends only what concerns the newest customer announced there
(``current_customers``): the first customer's alert acknowledged after the second asked for
help must not replace the second one's "waiting".
"""

from __future__ import annotations

import time
from collections.abc import Callable

import peewee
from peewee import AutoField, CharField, DoubleField, ForeignKeyField, TextField

from fleet.escalation.tables import Alert
from fleet.store import BaseModel
from kiosk.contract.protocol import PROTOCOL_VERSION, HelpUpdate, encode

#: The kiosk's limits on a HelpUpdate (kiosk.contract.protocol): kept here, not refused there
#: (an ETA over MAX_ETA is refused earlier, by ``alerts.acknowledge``: the kiosk could not show it).
MAX_STAFF = 64
MAX_ETA = 240
MAX_URL = 512
#: Sent announcements are kept this long (for looking back), then purged.
KEEP_SENT_SECONDS = 7 * 86400.0

#: (alert id, now) → the call-back link the kiosk shows as a QR code, or "" (no web pages).
CallbackLink = Callable[[int, float], str]


class HelpAnnouncement(BaseModel):
    id = AutoField()
    alert = ForeignKeyField(Alert, backref="announcements", on_delete="CASCADE", index=True)
    device_id = CharField(max_length=64)
    response_uuid = CharField(max_length=64)
    state = CharField(max_length=16)  # waiting | coming | closed
    payload = TextField()  # the encoded HelpUpdate, as published
    created_at = DoubleField()
    sent_at = DoubleField(null=True, index=True)  # NULL: pending
    outcome = CharField(max_length=16, null=True)  # published | superseded | refused

    class Meta:
        table_name = "help_announcements"


def create_help_table(db: peewee.Database) -> None:
    """The migration that adds the announcements (appended to fleet.store.MIGRATIONS)."""
    db.create_tables([HelpAnnouncement])


def waiting(alert_id: int, device_id: str, response_uuid: str, now: float, wait_s: float, callback_url: str = "") -> bool:
    """Announce that staff are being told (call inside the alert's transaction). False when
    this customer was already announced for this alert (a response given twice)."""
    already = HelpAnnouncement.select(HelpAnnouncement.id).where((HelpAnnouncement.alert == alert_id) & (HelpAnnouncement.response_uuid == response_uuid)).exists()
    if already:
        return False
    url = callback_url if len(callback_url) <= MAX_URL else ""
    _write(alert_id, device_id, response_uuid, "waiting", now, wait_s=min(float(wait_s), 3600.0), callback_url=url)
    return True


def announced(alert_id: int) -> bool:
    """Whether a customer at a kiosk was told about this alert (its updates go to the kiosk)."""
    return HelpAnnouncement.select(HelpAnnouncement.id).where(HelpAnnouncement.alert == alert_id).exists()


def follow(alert_id: int, state: str, now: float, staff: str = "", eta_minutes: int | None = None) -> int:
    """The alert was acknowledged (``coming``) or closed (``closed``): tell every device it was
    announced to, about the newest customer there. Call inside the alert's transaction.
    Returns the announcements written (0: not a help alert)."""
    newest: dict[str, str] = {}
    for row in HelpAnnouncement.select(HelpAnnouncement.device_id, HelpAnnouncement.response_uuid).where(HelpAnnouncement.alert == alert_id).order_by(HelpAnnouncement.id):
        newest[row.device_id] = row.response_uuid
    eta = eta_minutes if eta_minutes is not None and 0 <= eta_minutes <= MAX_ETA else None
    for device_id, uuid in newest.items():
        _write(alert_id, device_id, uuid, state, now, staff=staff[:MAX_STAFF], eta_minutes=eta)
    return len(newest)


def current_customers(device_ids: list[str]) -> dict[str, str]:
    """device → the response uuid of the newest customer announced there (its newest ``waiting``).
    Only that customer can still be on the kiosk's help screen: an update about an earlier one
    (their alert acknowledged or closed later) must not take the device's retained message."""
    if not device_ids:
        return {}
    newest = (
        HelpAnnouncement.select(HelpAnnouncement.device_id, peewee.fn.MAX(HelpAnnouncement.id).alias("last"))
        .where(HelpAnnouncement.device_id.in_(device_ids) & (HelpAnnouncement.state == "waiting"))
        .group_by(HelpAnnouncement.device_id)
    )
    ids = [row.last for row in newest]
    if not ids:
        return {}
    return {row.device_id: row.response_uuid for row in HelpAnnouncement.select(HelpAnnouncement.device_id, HelpAnnouncement.response_uuid).where(HelpAnnouncement.id.in_(ids))}


def pending(limit: int = 500) -> list[HelpAnnouncement]:
    """Announcements not yet published, oldest first."""
    return list(HelpAnnouncement.select().where(HelpAnnouncement.sent_at.is_null()).order_by(HelpAnnouncement.id).limit(limit))


def mark(ids: list[int], outcome: str, now: float | None = None) -> None:
    if ids:
        HelpAnnouncement.update(sent_at=time.time() if now is None else now, outcome=outcome).where(HelpAnnouncement.id.in_(ids) & HelpAnnouncement.sent_at.is_null()).execute()


def purge(now: float) -> int:
    return HelpAnnouncement.delete().where(HelpAnnouncement.sent_at < now - KEEP_SENT_SECONDS).execute()


def _write(alert_id: int, device_id: str, response_uuid: str, state: str, now: float, **fields: object) -> None:
    update = HelpUpdate(v=PROTOCOL_VERSION, alert_id=alert_id, response_uuid=response_uuid, state=state, at=now, **fields)  # type: ignore[arg-type]
    HelpAnnouncement.insert(alert=alert_id, device_id=device_id, response_uuid=response_uuid, state=state, payload=encode(update).decode(), created_at=now).execute()
