"""Call-back requests: a customer's phone number, attached to the alert nobody came for in time.

``request_callback`` does it all in one transaction: the QR code's token is used up (purpose
"callback", bound to the alert), the number is stored with the fingerprint of the privacy
notice the customer agreed to, the alert's audit trail says a call-back was asked for (without
the number), and the site's call-centre contacts get a notification through the outbox. A
crash leaves either all of that or none of it.

Phone numbers are personal data. They are stored here and in the call centre's notification
text (they must call it), nowhere else: the audit trail names the request by id, logs show
the masked form, ``listing`` masks unless asked, and ``purge`` deletes requests older than
their site's ``retention_days`` (the notifications go by the escalation's own purge, which
uses the same limit).

No Litestar here: the store's migration and the CLI import this module on their own.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import peewee
from peewee import AutoField, CharField, DoubleField, ForeignKeyField

from fleet.escalation import alerts, tokens
from fleet.escalation.config import Contact, EscalationConfig, Site
from fleet.escalation.hours import is_within
from fleet.escalation.notifier import Queued, enqueue
from fleet.escalation.tables import Alert
from fleet.store import BaseModel, writing
from fleet.web.phones import Phone, from_e164, mask_in_text

log = logging.getLogger(__name__)

DAY = 86400.0
PURPOSE = "callback"
#: Who the call-back token names as its "contact": the customer at the kiosk, not staff.
CUSTOMER = "customer"


class CallbackRequest(BaseModel):
    id = AutoField()
    alert = ForeignKeyField(Alert, backref="callbacks", on_delete="CASCADE", index=True)
    site = CharField(max_length=128, index=True)
    device_id = CharField(max_length=64, null=True)
    phone = CharField(max_length=20)  # E.164, e.g. +905321234567: personal data
    language = CharField(max_length=3)
    consent_version = CharField(max_length=16)  # text.notice_version of what the customer agreed to
    token_id = CharField(max_length=32, unique=True)
    created_at = DoubleField(index=True)

    class Meta:
        table_name = "callback_requests"


def create_callback_table(db: peewee.Database) -> None:
    """The migration that adds the call-back requests (appended to fleet.store.MIGRATIONS)."""
    db.create_tables([CallbackRequest])


@dataclass(frozen=True)
class Requested:
    request_id: int
    alert: alerts.AlertRow
    notified: tuple[str, ...]  # contact ids the call centre's message went to


def callback_token(key: bytes, alert_id: int, now: float, valid_minutes: float) -> str:
    """The token in the kiosk's QR code: the call-back page for this alert, for a short while."""
    return tokens.sign(key, tokens.new_claims(alert_id, CUSTOMER, now, valid_minutes, purpose=PURPOSE))


def request_callback(
    config: EscalationConfig, key: bytes, token: str, phone: Phone, language: str, consent_version: str, roles: Sequence[str], now: float
) -> Requested:
    """Use the token up, store the number, audit, and queue the call centre's notifications.
    TokenError (refused, nothing stored) or AlertNotFound when the alert is gone."""
    with writing():
        claims = tokens.redeem(key, token, now, purpose=PURPOSE)
        alert = alerts.get_alert(claims.alert_id)
        site = config.site(alert.site)
        request_id = CallbackRequest.insert(
            alert=alert.id,
            site=alert.site,
            device_id=alert.device_id,
            phone=phone.e164,
            language=language,
            consent_version=consent_version,
            token_id=claims.nonce,
            created_at=now,
        ).execute()
        contacts = call_centre(config, site, roles, now)
        title, body = message(site, alert, phone, now)
        enqueue(
            [Queued(alert.id, alert.site, contact.id, url, title, body, _key(request_id, contact, url)) for contact in contacts for url in contact.urls], now
        )
        told = ", ".join(contact.name for contact in contacts) or "nobody: no call-centre contact serves this site"
        alerts.audit(alert.id, now, "callback", "customer", "link", f"call-back request #{request_id}; told {told}")
    extra = {"alert": alert.id, "callback": request_id, "phone": phone.masked, "notified": [contact.id for contact in contacts]}
    if contacts:
        log.info("call-back requested", extra=extra)
    else:
        log.error("call-back requested but no call-centre contact serves site %s (give a contact the role %s)", alert.site, "/".join(roles), extra=extra)
    return Requested(request_id, alert, tuple(contact.id for contact in contacts))


def call_centre(config: EscalationConfig, site: Site, roles: Sequence[str], now: float) -> list[Contact]:
    """The site's contacts with a call-back role who are on duty now; if none is on duty, all
    of them: a customer was promised a call, so somebody must hear of it."""
    wanted = set(roles)
    everyone = [contact for contact in config.contacts_for(site.id) if wanted & set(contact.roles)]
    on_duty = [contact for contact in everyone if is_within(contact.hours, site.zone, now)]
    return on_duty or everyone


_MESSAGE = {
    "tr": {
        "title": "Geri arama isteği: {site}",
        "lines": [
            "Bir müşteri geri aranmak istiyor; kioskta kimse zamanında yanına gelemedi.",
            "Telefon: {phone}",
            "Yer: {site}",
            "Kiosk: {kiosk}",
            "İstek zamanı: {time}",
            "Yanıtlar: {answers}",
            "Uyarı #{alert}",
        ],
        "privacy": "Müşteri aydınlatma metnini okuyup açık rıza verdi; numara {days} gün sonra silinir. Yalnızca bu arama için kullanın.",
        "format": "%d.%m.%Y %H:%M",
    },
    "en": {
        "title": "Call-back requested: {site}",
        "lines": [
            "A customer asks to be called back; nobody reached them at the kiosk in time.",
            "Phone: {phone}",
            "Site: {site}",
            "Kiosk: {kiosk}",
            "Requested: {time}",
            "Answers: {answers}",
            "Alert #{alert}",
        ],
        "privacy": "The customer read the privacy notice and consented; the number is deleted after {days} days. Use it for this call only.",
        "format": "%Y-%m-%d %H:%M",
    },
}


def message(site: Site, alert: alerts.AlertRow, phone: Phone, now: float) -> tuple[str, str]:
    """The call centre's notification, in the site's language: the number in full (they call it)."""
    words = _MESSAGE.get(site.language, _MESSAGE["en"])
    answers = ", ".join(f"{question}: {option}" for question, option in alert.facts.get("answers", [])) or "-"
    values = {
        "site": site.name,
        "phone": phone.international,
        "kiosk": alert.device_id or "-",
        "alert": alert.id,
        "answers": answers,
        "time": datetime.fromtimestamp(now, site.zone).strftime(words["format"]),
        "days": site.retention_days,
    }
    title = words["title"].format(**values) + (f" / {alert.device_id}" if alert.device_id else "")
    return title, "\n".join([*(line.format(**values) for line in words["lines"]), words["privacy"].format(**values)])


def listing(alert_id: int | None = None, with_phone: bool = False) -> list[dict]:
    """Call-back requests, newest first, for the CLI and exports: the number masked unless asked."""
    query = CallbackRequest.select().order_by(CallbackRequest.id.desc())
    if alert_id is not None:
        query = query.where(CallbackRequest.alert == alert_id)
    rows = []
    for row in query:
        phone = from_e164(row.phone)
        rows.append(
            {
                "id": row.id,
                "alert_id": row.alert_id,
                "site": row.site,
                "device_id": row.device_id,
                "created_at": row.created_at,
                "language": row.language,
                "consent_version": row.consent_version,
                "phone": phone.e164 if with_phone else phone.masked,
            }
        )
    return rows


def purge(config: EscalationConfig, now: float) -> int:
    """Delete the requests older than their site's retention_days; returns how many went."""
    removed = 0
    with writing():
        for (site,) in CallbackRequest.select(CallbackRequest.site).distinct().tuples():
            limit = now - config.site(site).retention_days * DAY
            removed += CallbackRequest.delete().where((CallbackRequest.site == site) & (CallbackRequest.created_at < limit)).execute()
    if removed:
        log.info("call-back requests purged", extra={"removed": removed})
    return removed


class MaskPhoneNumbers(logging.Filter):
    """Masks the numbers in another library's log records: peewee logs every query's
    parameters at DEBUG, and the call-back INSERT carries a number."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = mask_in_text(text)
        if masked != text:
            record.msg, record.args = masked, ()
        return True


def mask_numbers_in_query_logs() -> None:
    """Install MaskPhoneNumbers on peewee's logger (once; a no-op cost unless DEBUG is on)."""
    logger = logging.getLogger("peewee")
    if not any(isinstance(existing, MaskPhoneNumbers) for existing in logger.filters):
        logger.addFilter(MaskPhoneNumbers())


def _key(request_id: int, contact: Contact, url: str) -> str:
    return f"callback-{request_id}-{contact.id}-{hashlib.sha256(url.encode()).hexdigest()[:16]}"
