"""Help announcements: written with the alert change (SQLite and PostgreSQL), published by the
announcer to a real Mosquitto, marked sent on PUBACK, kept while the broker is away."""

from __future__ import annotations

import json
import time

import pytest

from fleet.broker import FLEET_USER
from fleet.escalation import alerts, help
from fleet.escalation.announcer import HelpAnnouncer
from fleet.escalation.help import HelpAnnouncement
from fleet.escalation.service import Escalation
from fleet.link import BrokerURL
from kiosk.contract.protocol import HelpUpdate, decode, topic
from tests.escalation_helpers import KEY, config, response
from tests.mqtt_helpers import Client, add_device_login, wait_until


def announced() -> list[tuple[int, str, str, dict]]:
    return [(row.alert_id, row.device_id, row.state, json.loads(row.payload)) for row in HelpAnnouncement.select().order_by(HelpAnnouncement.id)]


def test_a_help_request_is_announced_once_for_its_help_alert_in_the_same_transaction(store):
    escalation = Escalation(config(), KEY, clock=time.time, callback_link=lambda alert_id, now: f"https://fleet.example.com/callback/t{alert_id}")
    asked = response(help_requested=True, at=time.time(), answers=(("satisfaction", "very-unhappy"), ("what-went-wrong", "cleanliness")))
    raised = escalation.on_responses_stored([asked])
    by_rule = {alerts.get_alert(r.alert_id).rule: r.alert_id for r in raised}
    assert set(by_rule) == {"help", "negative", "cleaning"}
    ((alert_id, device, state, payload),) = announced()
    assert (alert_id, device, state) == (by_rule["help"], "kiosk-1", "waiting"), "the help rule's alert speaks for the customer"
    assert payload["response_uuid"] == asked.uuid and payload["wait_s"] == 45 and payload["callback_url"] == f"https://fleet.example.com/callback/t{alert_id}"
    assert escalation.on_responses_stored([asked]) == [] and len(announced()) == 1, "given twice: nothing new"


def test_acknowledging_and_closing_announce_coming_and_closed_within_the_kiosks_limits(store):
    escalation = Escalation(config(), KEY, clock=time.time)
    asked = response(help_requested=True, at=time.time())
    help_alert = next(r.alert_id for r in escalation.on_responses_stored([asked]) if alerts.get_alert(r.alert_id).rule == "help")
    long_name = "Ayşe " + "Yılmaz" * 20
    alerts.acknowledge(help_alert, long_name, time.time(), "cli", eta_minutes=240)
    alerts.resolve(help_alert, "system", time.time(), "system")
    states = [(state, payload) for alert_id, _, state, payload in announced() if alert_id == help_alert]
    assert [state for state, _ in states] == ["waiting", "coming", "closed"]
    coming = decode("help", json.dumps(states[1][1]).encode())  # what the kiosk accepts
    assert isinstance(coming, HelpUpdate) and coming.staff == long_name[:64] and coming.eta_minutes == 240 and coming.response_uuid == asked.uuid
    assert all(alert_id == help_alert for alert_id, *_ in announced()), "other alerts of that response say nothing to the kiosk"


def test_the_announcer_publishes_retained_folds_per_device_marks_sent_on_puback_and_waits_out_a_broker_outage(tmp_path, broker):
    from fleet.store import close_database, open_database

    open_database(f"sqlite:///{tmp_path / 'fleet.sqlite3'}")
    password = add_device_login(broker, "kiosk-1")
    url = BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False)
    escalation = Escalation(config(), KEY, clock=time.time)
    announcer = HelpAnnouncer(url, "nabiz-fleet-help", poll_seconds=0.1).start()
    try:
        first = response(help_requested=True, at=time.time())
        help_alert = next(r.alert_id for r in escalation.on_responses_stored([first]) if alerts.get_alert(r.alert_id).rule == "help")
        alerts.acknowledge(help_alert, "Ayşe", time.time(), "cli", eta_minutes=3)
        wait_until(lambda: not help.pending(), what="both announcements sent")
        outcomes = [row.outcome for row in HelpAnnouncement.select().order_by(HelpAnnouncement.id)]
        assert outcomes in (["published", "published"], ["superseded", "published"])

        kiosk = Client(broker.port, "kiosk-1", password, client_id="kiosk-1").connect()
        try:
            kiosk.subscribe(topic("kiosk-1", "help"))
            message = kiosk.get(timeout=5)  # retained: heard on subscribing
            assert message.retain and decode("help", message.payload).state == "coming"

            broker.stop()
            wait_until(lambda: not announcer.connected.is_set(), what="the announcer to notice")
            alerts.resolve(help_alert, "Ayşe", time.time(), "cli")
            time.sleep(0.5)
            assert [row.state for row in help.pending()] == ["closed"], "kept while the broker is away"
            broker.start()
            wait_until(lambda: not help.pending(), 20, what="the closed announcement after the broker came back")
        finally:
            kiosk.close()
        kiosk = Client(broker.port, "kiosk-1", password, client_id="kiosk-1").connect()
        try:
            kiosk.subscribe(topic("kiosk-1", "help"))
            assert decode("help", kiosk.get(timeout=5).payload).state == "closed"
        finally:
            kiosk.close()
    finally:
        announcer.stop()
        close_database()


@pytest.mark.parametrize("rules", [[]], ids=["no rules"])
def test_a_config_without_rules_raises_nothing_and_announces_nothing(store, rules):
    escalation = Escalation(config(rules=rules), KEY, clock=time.time)
    assert escalation.on_responses_stored([response(help_requested=True, at=time.time())]) == [] and announced() == []


def test_news_of_an_earlier_customer_never_replaces_the_retained_message_of_the_one_on_the_help_screen(tmp_path, broker):
    from fleet.store import close_database, open_database

    open_database(f"sqlite:///{tmp_path / 'fleet.sqlite3'}")
    password = add_device_login(broker, "kiosk-1")
    url = BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False)
    escalation = Escalation(config(), KEY, clock=time.time)

    def help_alert(asked):
        return next(r.alert_id for r in escalation.on_responses_stored([asked]) if alerts.get_alert(r.alert_id).rule == "help")

    first, second = response(help_requested=True, at=time.time()), response(help_requested=True, at=time.time())
    first_alert, second_alert = help_alert(first), help_alert(second)
    assert first_alert != second_alert, "two customers, two alerts"
    alerts.acknowledge(first_alert, "Ayşe", time.time(), "cli")  # for the first customer, who has left the screen
    assert help.current_customers(["kiosk-1", "kiosk-9"]) == {"kiosk-1": second.uuid}
    announcer = HelpAnnouncer(url, "nabiz-fleet-help", poll_seconds=0.1).start()

    def retained():
        """What a kiosk hears on subscribing: the device's retained help update."""
        kiosk = Client(broker.port, "kiosk-1", password, client_id="kiosk-1").connect()
        try:
            kiosk.subscribe(topic("kiosk-1", "help"))
            update = decode("help", kiosk.get(timeout=5).payload)
            return update.response_uuid, update.state
        finally:
            kiosk.close()

    try:
        wait_until(lambda: not help.pending(), what="the announcements handled")
        assert retained() == (second.uuid, "waiting")
        alerts.resolve(first_alert, "Ayşe", time.time(), "cli")
        wait_until(lambda: not help.pending(), what="the first customer's 'closed' handled")
        assert retained() == (second.uuid, "waiting")
        assert {(row.response_uuid, row.state): row.outcome for row in HelpAnnouncement.select()}[(first.uuid, "closed")] == "superseded"
        alerts.acknowledge(second_alert, "Mehmet", time.time(), "cli")
        wait_until(lambda: not help.pending(), what="the second customer's 'coming'")
        assert retained() == (second.uuid, "coming")
    finally:
        announcer.stop()
        close_database()


def test_an_eta_the_kiosk_cannot_show_is_refused_for_a_help_request_and_allowed_for_other_alerts(store):
    """The kiosk shows at most help.MAX_ETA minutes (the contract's HelpUpdate). An ETA over it
    was written to the alert and silently left out of the kiosk's update: the person who typed
    500 believed the customer was told, the customer saw no time at all. Now it is refused, with
    the fix, and nothing changes; an alert no kiosk hears about keeps the longer limit."""
    escalation = Escalation(config(), KEY, clock=time.time)
    asked = response(help_requested=True, at=time.time(), answers=(("satisfaction", "very-unhappy"), ("what-went-wrong", "cleanliness")))
    by_rule = {alerts.get_alert(r.alert_id).rule: r.alert_id for r in escalation.on_responses_stored([asked])}
    before = announced()
    with pytest.raises(alerts.AlertError, match=rf"more than the kiosk can show \({help.MAX_ETA}\).*\n  fix: give 0 to {help.MAX_ETA} minutes"):
        alerts.acknowledge(by_rule["help"], "Ayşe", time.time(), "cli", eta_minutes=help.MAX_ETA + 1)
    assert alerts.get_alert(by_rule["help"]).state == "open" and announced() == before, "nothing changed"
    assert alerts.eta_limit(by_rule["help"]) == help.MAX_ETA
    assert alerts.eta_limit(by_rule["cleaning"]) == alerts.MAX_ETA_MINUTES
    assert alerts.acknowledge(by_rule["cleaning"], "Temizlik", time.time(), "cli", eta_minutes=600).eta_minutes == 600
