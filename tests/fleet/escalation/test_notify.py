"""Alerts to people through apprise, end to end on real parts: the store (SQLite and
PostgreSQL), a real HTTP receiver for json://, a real SMTP server for mailto://, the worker's
own threads and sender processes."""

from __future__ import annotations

import time

import pytest

from fleet.escalation import alerts, notifier
from fleet.escalation.service import Escalation
from fleet.escalation.tables import Notification
from fleet.escalation.worker import EscalationWorker
from tests.escalation_helpers import KEY, notifying, response
from tests.mqtt_helpers import wait_until


@pytest.fixture
def running():
    """Start an Escalation + worker for a config; stopped at the end of the test."""
    started = []

    def start(config, lanes=2):
        worker = EscalationWorker(None, config.notifications, lanes=lanes, poll_seconds=0.1, lease_margin=1.0)
        escalation = Escalation(config, KEY, wake=worker.wake)
        worker.escalation = escalation
        worker.start()
        started.append(worker)
        return escalation, worker

    yield start
    for worker in started:
        worker.stop()


def outcomes(alert_id):
    return [(d["contact"], d["outcome"]) for d in notifier.deliveries(alert_id)]


def test_a_help_request_reaches_staff_by_webhook_and_mail_with_an_ack_link(store, running, webhook, mailbox):
    escalation, _ = running(notifying([webhook.url(), mailbox.url()]))
    customer = response(help_requested=True, at=time.time(), answers=(("satisfaction", "very-unhappy"), ("what-went-wrong", "cleanliness")))
    escalation.on_responses_stored([customer])
    (posted,) = [p for p in webhook.wait_for(1)]
    ((recipients, mail),) = mailbox.wait_for(1)
    assert posted["title"] == "YARDIM İSTENİYOR: Kadıköy / kiosk-1"
    text = posted["message"]
    for part in ("Yer: Kadıköy", "Kiosk: kiosk-1", "kioskun yanında bekliyor", "what-went-wrong: cleanliness", "Üstlenmek için: https://fleet.example.com/ack/"):
        assert part in text
    assert recipients == ["ayse@example.com"] and "Kadıköy" in mail["Subject"]
    assert "fleet.example.com/ack/" in mail.get_body(("plain",)).get_content()
    help_alert = next(row for row in alerts.list_alerts() if row.rule == "help")
    assert help_alert.response_uuids == [customer.uuid]
    wait_until(lambda: sorted(outcomes(help_alert.id)) == [("ayse", "delivered"), ("ayse", "delivered")], what="both deliveries logged")
    # the link acknowledges once, as the contact it was sent to
    token = text.split("/ack/")[1].split()[0]
    row = escalation.acknowledge_by_link(token, eta_minutes=2)
    assert (row.state, row.acknowledged_by) == ("acknowledged", "Ayşe Yılmaz")
    assert alerts.history(row.id)[-1].channel == "link"
    with pytest.raises(Exception, match="already been used"):
        escalation.acknowledge_by_link(token)


def test_a_redelivered_response_raises_no_second_alert_and_no_second_message(store, running, webhook):
    escalation, _ = running(notifying([webhook.url()]))
    negative = response(at=time.time())
    escalation.on_responses_stored([negative])
    escalation.on_responses_stored([negative])
    webhook.wait_for(1)
    assert len(alerts.list_alerts()) == 1
    assert Notification.select().count() == 1


def test_webhook_down_for_a_while_is_retried_and_delivered_with_every_attempt_logged(store, running, webhook):
    webhook.mode = "down"
    escalation, _ = running(notifying([webhook.url()]))
    escalation.on_responses_stored([response(at=time.time())])
    wait_until(lambda: webhook.refused >= 3, timeout=30, what="three refused attempts")
    webhook.mode = "ok"
    webhook.wait_for(1)
    (alert,) = alerts.list_alerts()
    wait_until(lambda: outcomes(alert.id)[-1:] == [("ayse", "delivered")], what="the delivery logged")
    log = notifier.deliveries(alert.id)
    assert [d["outcome"] for d in log[:-1]] == ["failed"] * (len(log) - 1) and len(log) >= 4
    assert [d["attempt"] for d in log] == list(range(1, len(log) + 1))
    assert "503" in log[0]["detail"]
    assert log[0]["target"].startswith("json://127.0.0.1")


def test_smtp_refusing_is_logged_and_retried(store, running, mailbox):
    mailbox.refusing = True
    escalation, _ = running(notifying([mailbox.url()]))
    escalation.on_responses_stored([response(at=time.time())])
    wait_until(lambda: mailbox.refused >= 2, timeout=30, what="two refused mails")
    mailbox.refusing = False
    mailbox.wait_for(1)
    (alert,) = alerts.list_alerts()
    wait_until(lambda: outcomes(alert.id)[-1:] == [("ayse", "delivered")], what="the delivery logged")
    assert {d["outcome"] for d in notifier.deliveries(alert.id)[:-1]} == {"failed"}


def test_a_send_that_hangs_is_abandoned_at_its_timeout_and_retried(store, running, webhook):
    webhook.mode = "hang"
    escalation, _ = running(notifying([webhook.url()], send_timeout_seconds=1), lanes=1)
    escalation.on_responses_stored([response(at=time.time())])
    webhook.wait_for(1)
    (alert,) = alerts.list_alerts()
    wait_until(lambda: [d["outcome"] for d in notifier.deliveries(alert.id)][:1] == ["timeout"], timeout=20, what="the timed-out attempt logged")
    webhook.mode = "ok"
    wait_until(lambda: outcomes(alert.id)[-1:] == [("ayse", "delivered")], timeout=20, what="the retry delivered")
    keys = {posted["message"].rsplit("[", 1)[1] for posted in webhook.received}
    assert len(keys) == 1, "the repeat carries the same idempotency key"


def test_acknowledging_stops_the_chain_and_cancels_what_has_not_been_sent(store, running, webhook):
    webhook.mode = "down"
    escalation, _ = running(notifying([webhook.url()]))
    escalation.on_responses_stored([response(at=time.time())])
    wait_until(lambda: webhook.refused >= 1, what="a first attempt")
    (alert,) = alerts.list_alerts()
    alerts.acknowledge(alert.id, "Mehmet Kaya", time.time(), "cli")
    wait_until(lambda: Notification.get(Notification.alert == alert.id).state == "cancelled", what="the pending notification cancelled")
    webhook.mode = "ok"
    escalation.tick()
    assert webhook.received == [] and Notification.select().count() == 1
