"""The service over the store with a hand-moved clock: windows raise and clear, kiosks go
silent and come back, the chain escalates and stops, old alerts close, retention purges."""

from __future__ import annotations

import pytest

from fleet.escalation import alerts
from fleet.escalation.service import Escalation
from fleet.escalation.tables import Notification
from fleet.store import Device
from tests.escalation_helpers import KEY, NOW, notifying, response, stored


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def escalation(store, clock):
    return Escalation(notifying(["json://127.0.0.1:9/staff"]), KEY, clock=clock)


def active(rule):
    return [row for row in alerts.list_alerts(state="active") if row.rule == rule]


def test_a_window_of_mostly_negative_responses_raises_once_and_clears_by_itself(escalation, clock):
    first = stored([response(negative=True, at=NOW - 60), response(negative=False, at=NOW - 50), response(negative=True, at=NOW - 40)])
    escalation.on_responses_stored(first)
    assert active("mood") == [], "3 responses are under the minimum of 4"
    fourth = stored([response(negative=False, at=NOW - 5, device="kiosk-2")])
    escalation.on_responses_stored(fourth)
    (mood,) = active("mood")
    assert (mood.scope, mood.facts["negative"], mood.facts["total"]) == ("site:kadikoy", 2, 4)
    escalation.on_responses_stored(stored([response(negative=True, at=NOW)]))
    (mood,) = active("mood")
    assert mood.triggers == 2 and mood.facts["total"] == 5
    clock.now = NOW + 16 * 60  # the window has moved past them all
    escalation.tick()
    assert active("mood") == []
    assert alerts.get_alert(mood.id).state == "resolved" and alerts.history(mood.id)[-1].by == "system"


def test_a_breach_made_by_another_workers_traffic_is_found_by_the_tick(escalation, clock):
    stored([response(negative=True, at=NOW - 30) for _ in range(4)])  # stored by another process: this one saw nothing
    assert active("mood") == []
    escalation.tick()
    assert len(active("mood")) == 1


def test_a_silent_kiosk_is_reported_once_and_resolved_when_heard(escalation, clock):
    Device.create(device_id="kiosk-1", site="kadikoy", password_hash="x", created_at=NOW - 86400, last_seen=NOW - 11 * 60, online=False)
    escalation.tick()
    escalation.tick()
    (offline,) = active("offline")
    assert offline.triggers == 1 and offline.device_id == "kiosk-1"
    Device.update(last_seen=NOW, online=True).execute()
    escalation.tick()
    assert active("offline") == []


def test_the_chain_escalates_on_ticks_until_someone_acknowledges(escalation, clock):
    escalation.on_responses_stored([response(at=NOW)])
    (alert,) = alerts.list_alerts()
    contacts = lambda: sorted(n.contact for n in Notification.select().where(Notification.alert == alert.id))
    assert contacts() == ["ayse"]
    clock.now = NOW + 5 * 60
    assert escalation.tick() == NOW + 15 * 60, "next: the repeat, ten minutes after the second stage"
    assert contacts() == ["ayse", "mehmet"]
    alerts.acknowledge(alert.id, "Mehmet Kaya", clock.now, "cli")
    clock.now = NOW + 60 * 60
    escalation.tick()
    assert contacts() == ["ayse", "mehmet"], "an acknowledgement stops the chain"
    trail = [(e.action, e.comment) for e in alerts.history(alert.id)]
    assert ("escalated", "step 1: Ayşe Yılmaz") in trail and ("escalated", "step 2: Mehmet Kaya") in trail


def test_two_services_ticking_together_run_each_step_once(store, clock):
    config = notifying(["json://127.0.0.1:9/staff"])
    one, two = Escalation(config, KEY, clock=clock), Escalation(config, KEY, clock=clock)
    one.on_responses_stored([response(at=NOW)])
    clock.now = NOW + 5 * 60
    one.tick()
    two.tick()
    assert Notification.select().count() == 2


def test_unacknowledged_alerts_expire_and_acknowledged_ones_resolve_with_age(escalation, clock):
    escalation.on_responses_stored([response(at=NOW), response(at=NOW, device="kiosk-2")])
    first, second = sorted(alerts.list_alerts(), key=lambda row: row.id)
    alerts.acknowledge(second.id, "Ayşe", NOW + 60, "web")
    clock.now = NOW + 121 * 60
    escalation.tick()
    assert alerts.get_alert(first.id).state == "expired"
    assert alerts.get_alert(second.id).state == "acknowledged"
    clock.now = NOW + 60 + 241 * 60
    escalation.tick()
    assert alerts.get_alert(second.id).state == "resolved"


def test_retention_removes_old_notifications_but_keeps_alerts(escalation, clock):
    escalation.on_responses_stored([response(at=NOW)])
    Notification.update(state="delivered").execute()
    assert escalation.purge(NOW + 29 * 86400) == 0
    assert escalation.purge(NOW + 31 * 86400) == 1
    assert Notification.select().count() == 0 and len(alerts.list_alerts()) == 1


def test_a_second_customer_asking_for_help_after_the_first_was_acknowledged_gets_an_alert_and_staff_are_told(escalation, clock):
    from fleet.escalation.help import HelpAnnouncement

    def help_alert(raised):
        (found,) = [r for r in raised if alerts.get_alert(r.alert_id).rule == "help"]
        return found

    first = help_alert(escalation.on_responses_stored(stored([response(help_requested=True, at=NOW)])))
    alerts.acknowledge(first.alert_id, "Ayşe Yılmaz", NOW + 30, "link")  # she is on her way to the first customer
    clock.now = NOW + 60
    later = stored([response(help_requested=True, at=NOW + 60)])  # the next customer, same kiosk, an hour within resolve_after
    second = help_alert(escalation.on_responses_stored(later))
    assert second.created and second.alert_id != first.alert_id
    row = alerts.get_alert(second.alert_id)
    assert (row.state, row.scope, row.device_id, row.response_uuids) == ("open", f"response:{later[0].uuid}", "kiosk-1", [later[0].uuid])
    queued = Notification.select().where((Notification.alert == second.alert_id) & (Notification.state == "pending"))
    assert [n.contact for n in queued] == ["ayse"], "staff are told about the second customer too"
    (waiting,) = HelpAnnouncement.select().where(HelpAnnouncement.response_uuid == later[0].uuid)
    assert (waiting.alert_id, waiting.state) == (second.alert_id, "waiting"), "the kiosk's 'waiting' speaks for the alert that tells staff"
    assert later[0].uuid not in alerts.get_alert(first.alert_id).response_uuids
    assert escalation.on_responses_stored(later) == [], "the same response again (a resend): nothing more"
    assert Notification.select().where(Notification.alert == second.alert_id).count() == 1


def test_without_a_help_rule_a_customer_who_joins_an_acknowledged_alert_is_not_told_staff_are_coming(store, clock, caplog):
    from fleet.escalation.help import HelpAnnouncement
    from tests.escalation_helpers import config

    negative_only = config(rules=[{"id": "negative", "kind": "response", "on": "negative", "policy": "staff-now"}])
    escalation = Escalation(negative_only, KEY, clock=clock)
    (first,) = escalation.on_responses_stored(stored([response(help_requested=True, at=NOW)]))
    assert [a.state for a in HelpAnnouncement.select()] == ["waiting"], "a new alert tells staff: the kiosk may say so"
    alerts.acknowledge(first.alert_id, "Ayşe Yılmaz", NOW + 30, "cli")
    clock.now = NOW + 60
    later = stored([response(help_requested=True, at=NOW + 60)])
    (joined,) = escalation.on_responses_stored(later)
    assert (joined.alert_id, joined.created, joined.state, joined.telling_staff) == (first.alert_id, False, "acknowledged", False)
    assert HelpAnnouncement.select().where(HelpAnnouncement.response_uuid == later[0].uuid).count() == 0, "no 'waiting' nobody keeps"
    (warning,) = [r for r in caplog.records if "no alert tells anyone" in r.getMessage()]
    assert warning.response == later[0].uuid and 'on = "help"' in warning.fix
