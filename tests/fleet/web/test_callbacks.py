"""Call-back requests in the store (SQLite and PostgreSQL): the migration, who hears of a
request, the listing that masks unless asked, and the purge after the site's retention."""

from __future__ import annotations

import msgspec
import pytest

from fleet.escalation import alerts, tokens
from fleet.escalation.tables import Notification
from fleet.store import MIGRATIONS, SchemaMigration
from fleet.web import callbacks
from fleet.web.callbacks import CallbackRequest
from fleet.web.phones import parse
from tests.escalation_helpers import NOW, config, intent
from tests.web_helpers import CALL_CENTRE, web_config

KEY = b"k" * 32
DAY = 86400.0


def leave(cfg, alert_id: int, number: str, now: float = NOW) -> callbacks.Requested:
    token = callbacks.callback_token(KEY, alert_id, now, 30)
    return callbacks.request_callback(cfg, KEY, token, parse(number, "TR"), "tr", "v1", ["call-centre"], now)


def test_the_migration_made_the_table(store):
    assert SchemaMigration.select().count() == len(MIGRATIONS)
    assert "callback_requests" in store.get_tables()


def test_a_request_is_stored_and_queued_once_per_call_centre_url(store):
    cfg = web_config()
    alert_id = alerts.raise_or_attach(intent(uuids=["u1"]), NOW).alert_id
    done = leave(cfg, alert_id, "0532 123 45 67")
    assert done.notified == ("callcentre",) and done.alert.id == alert_id
    assert [n.contact for n in Notification.select()] == ["callcentre"]
    with pytest.raises(tokens.TokenError) as refused:
        callbacks.request_callback(
            cfg, KEY, tokens.sign(KEY, tokens.new_claims(alert_id, "ayse", NOW, 30)), parse("0532 123 45 67", "TR"), "tr", "v1", ["call-centre"], NOW
        )
    assert refused.value.reason == "purpose", "a staff acknowledge link cannot leave a number"
    assert CallbackRequest.select().count() == 1


def test_off_duty_call_centre_still_hears_when_nobody_is_on_duty(store):
    night = {**CALL_CENTRE, "id": "night", "name": "Gece", "active_hours": ["Mon-Sun 00:00-06:00"]}
    day = {**CALL_CENTRE, "id": "day", "name": "Gündüz", "active_hours": ["Mon-Sun 09:00-18:00"]}
    base = msgspec.to_builtins(config().contacts)
    cfg = config(contacts=[*base, night, day])
    site = cfg.site("kadikoy")
    assert [c.id for c in callbacks.call_centre(cfg, site, ["call-centre"], NOW)] == ["day"], "17:13 in Istanbul: the day shift"
    evening = NOW + 4 * 3600  # 21:13
    assert [c.id for c in callbacks.call_centre(cfg, site, ["call-centre"], evening)] == ["night", "day"], "nobody on duty: everyone"


def test_no_call_centre_is_an_error_in_the_log_and_the_audit(store, caplog):
    cfg = config()  # nobody has the call-centre role
    alert_id = alerts.raise_or_attach(intent(uuids=["u1"]), NOW).alert_id
    done = leave(cfg, alert_id, "0532 123 45 67")
    assert done.notified == () and Notification.select().count() == 0
    assert "no call-centre contact serves site kadikoy" in caplog.text
    assert "told nobody" in alerts.history(alert_id)[-1].comment


def test_the_listing_masks_unless_asked(store):
    cfg = web_config()
    alert_id = alerts.raise_or_attach(intent(uuids=["u1"]), NOW).alert_id
    leave(cfg, alert_id, "0532 123 45 67")
    (masked,) = callbacks.listing()
    assert masked["phone"] == "+90 5** *** ** 67" and masked["alert_id"] == alert_id
    assert callbacks.listing(alert_id, with_phone=True)[0]["phone"] == "+905321234567"
    assert callbacks.listing(alert_id + 1) == []


def test_purge_follows_each_sites_retention(store):
    cfg = web_config()
    cfg.site_by_id["airport"].retention_days = 7  # the airport keeps numbers a week, Kadıköy 30 days
    kadikoy = alerts.raise_or_attach(intent(uuids=["u1"]), NOW).alert_id
    airport = alerts.raise_or_attach(intent(uuids=["u2"], site="airport", scope="device:gate-4", device="gate-4"), NOW).alert_id
    leave(cfg, kadikoy, "0532 123 45 67")
    leave(cfg, airport, "+44 20 7946 0958")
    leave(cfg, kadikoy, "0533 765 43 21", now=NOW + 20 * DAY)
    assert callbacks.purge(cfg, NOW + 7 * DAY) == 0, "nothing is older than its limit yet"
    assert callbacks.purge(cfg, NOW + 8 * DAY) == 1
    assert [row["site"] for row in callbacks.listing()] == ["kadikoy", "kadikoy"]
    assert callbacks.purge(cfg, NOW + 31 * DAY) == 1
    assert [row["phone"] for row in callbacks.listing(with_phone=True)] == ["+905337654321"]
    assert callbacks.purge(cfg, NOW + 51 * DAY) == 1 and callbacks.listing() == []
    assert len(alerts.history(kadikoy)) == 3, "the alert and its trail stay: they hold no number"


def test_taking_or_closing_the_alert_does_not_cancel_the_call_centres_message(store):
    """Acknowledging stops the escalation chain's messages, not the promise of a call back."""
    cfg = web_config()
    alert_id = alerts.raise_or_attach(intent(uuids=["u1"]), NOW).alert_id
    leave(cfg, alert_id, "0532 123 45 67")
    alerts.acknowledge(alert_id, "Mehmet Kaya", NOW + 60, "cli")
    alerts.resolve(alert_id, "Mehmet Kaya", NOW + 120, "cli")
    assert Notification.get(Notification.contact == "callcentre").state == "pending"
