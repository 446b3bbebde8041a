"""The call-back page over real HTTP, on SQLite and PostgreSQL: a bad number comes back with a
clear message and what was typed; a good one with consent is stored, audited without the
number, logged masked, and queued for the call centre (and delivered to a real webhook)."""

from __future__ import annotations

import logging

import httpx
import pytest

from fleet.escalation import alerts
from fleet.escalation.config import Notifications
from fleet.escalation.tables import Notification, UsedToken
from fleet.escalation.worker import EscalationWorker
from fleet.web.callbacks import CallbackRequest
from tests.notify_receivers import Webhook
from tests.web_helpers import WebRig, web_config


def leave(link: str, phone: str, consent: bool = True, lang: str = "tr") -> httpx.Response:
    data = {"phone": phone, "lang": lang, **({"consent": "yes"} if consent else {})}
    return httpx.post(link, data=data)


def test_the_form_shows_the_privacy_notice_and_changes_nothing(web):
    alert_id, _ = web.help_alert()
    link = web.callback_link(alert_id)
    for lang, words in (
        ("tr", ["KVKK", "30 gün sonra silinir", "açık rızanıza", "Beni arayın"]),
        ("en", ["Data controller", "deleted after 30 days", "consent", "Call me back"]),
    ):
        page = httpx.get(link, params={"lang": lang})
        assert page.status_code == 200
        for word in words:
            assert word in page.text
    assert CallbackRequest.select().count() == 0 and UsedToken.select().count() == 0


@pytest.mark.parametrize(
    "typed, message",
    [
        ("", "Telefon numaranızı yazın"),
        ("0532 123", "Numara eksik görünüyor"),
        ("bana mail atın", "telefon numarasına benzemiyor"),
        ("+999 123 456 789", "Ülke kodu tanınmadı"),
        ("0532 123 45 67 89 01", "fazladan rakam"),
        ("0999 999 99 99", "kullanılan bir numara değil"),
    ],
)
def test_a_bad_number_gets_a_clear_message_and_keeps_what_was_typed(web, typed, message):
    alert_id, _ = web.help_alert()
    link = web.callback_link(alert_id)
    reply = leave(link, typed)
    assert reply.status_code == 400 and message in reply.text
    assert f'value="{typed}"' in reply.text, "what they typed is still in the box"
    assert "checked" in reply.text, "and the consent they gave is still ticked"
    assert CallbackRequest.select().count() == 0 and UsedToken.select().count() == 0
    assert leave(link, "0532 123 45 67").status_code == 200, "the code still works after a mistake"


def test_no_consent_no_number(web):
    alert_id, _ = web.help_alert()
    reply = leave(web.callback_link(alert_id), "0532 123 45 67", consent=False, lang="en")
    assert reply.status_code == 400 and "Please tick the box" in reply.text and 'value="0532 123 45 67"' in reply.text
    assert CallbackRequest.select().count() == 0


def test_a_good_number_is_stored_audited_masked_and_queued_for_the_call_centre(web, caplog):
    alert_id, _ = web.help_alert()
    link = web.callback_link(alert_id)
    queued_before = Notification.select().count()
    with caplog.at_level(logging.DEBUG):
        reply = leave(link, "0532 123 45 67")
    assert reply.status_code == 200 and "+90 532 123 45 67" in reply.text
    (request,) = CallbackRequest.select()
    assert (request.alert_id, request.phone, request.site, request.device_id, request.language) == (alert_id, "+905321234567", "kadikoy", "kiosk-1", "tr")
    assert len(request.consent_version) == 16
    (notification,) = Notification.select().where(Notification.contact == "callcentre")
    assert Notification.select().count() == queued_before + 1
    assert "+90 532 123 45 67" in notification.body and "Kadıköy" in notification.body and notification.state == "pending"
    assert notification.title == "Geri arama isteği: Kadıköy / kiosk-1"
    assert web.wakes == 1, "the notifier was woken to send it now"
    trail = alerts.history(alert_id)[-1]
    assert (trail.action, trail.by, trail.channel) == ("callback", "customer", "link") and "Çağrı Merkezi" in trail.comment
    assert "532" not in trail.comment and "4567" not in trail.comment, "the audit trail never holds the number"
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "+90 5** *** ** 67" in logged
    assert "1234567" not in logged and "123 45" not in logged, "the number is masked in every log line"

    again = leave(link, "0555 555 55 55")
    assert again.status_code == 403 and "Numaranızı zaten aldık" in again.text
    assert CallbackRequest.select().count() == 1


def test_an_international_number_and_the_english_page(web):
    alert_id, _ = web.help_alert()
    reply = leave(web.callback_link(alert_id), "+44 20 7946 0958", lang="en")
    assert reply.status_code == 200 and "We will call you on +44 20 7946 0958" in reply.text
    assert CallbackRequest.get().phone == "+442079460958"


def test_expired_forged_and_ack_tokens_are_refused(web):
    alert_id, ack_link = web.help_alert()
    link = web.callback_link(alert_id, valid_minutes=5)
    ack_token = ack_link.rsplit("/", 1)[1]
    assert leave(f"{web.base}/callback/{ack_token}", "0532 123 45 67").status_code == 403
    assert "bu sistemce" in leave(link[:-2] + "xx", "0532 123 45 67").text
    web.clock.advance(5 * 60 + 1)
    page = httpx.get(link, params={"lang": "en"})
    assert page.status_code == 403 and "This code has expired" in page.text and "Scan a new code" in page.text
    assert leave(link, "0532 123 45 67").status_code == 403
    assert CallbackRequest.select().count() == 0


def test_the_call_centre_receives_it_through_the_real_outbox(store, clock):
    """Queued by the page, sent by the escalation's own worker with apprise, received by a webhook."""
    with Webhook() as hook:
        rig = WebRig(web_config(hook.url("callcentre")), clock).start()
        worker = EscalationWorker(None, Notifications(), lanes=1, poll_seconds=0.2, clock=rig.now)
        rig.also_wake = worker.wake
        try:
            worker.start()
            alert_id, _ = rig.help_alert()
            assert leave(rig.callback_link(alert_id), "0532 123 45 67").status_code == 200
            received = [message for message in hook.wait_for(1) if message["path"] == "/callcentre"]
            assert received and "+90 532 123 45 67" in received[0]["message"]
        finally:
            worker.stop()
            rig.stop()
