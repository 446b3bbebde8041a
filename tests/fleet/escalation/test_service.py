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


# --- the kiosk promises only what can happen: a help alert that told nobody --------------------

CALL_CENTRE = {"id": "cagri", "name": "Çağrı Merkezi", "sites": ["*"], "roles": ["call-centre"], "urls": ["json://127.0.0.1:9/cc"]}
STAFF = {"id": "ayse", "name": "Ayşe Yılmaz", "sites": ["kadikoy"], "roles": ["staff", "shift-lead"], "urls": ["json://127.0.0.1:9/ayse"]}
OFF_NOW = ["daily 03:00-04:00"]  # NOW is 17:13 in Istanbul: off duty


def _nobody_told(store, clock, caplog, contacts, site="kadikoy", callback=True):
    """Ask for help under *contacts*; return the kiosk's announcement (payload), the help alert's audit and the warning."""
    import json

    from fleet.escalation.help import HelpAnnouncement
    from fleet.escalation.tables import AlertEvent
    from tests.escalation_helpers import config

    link = (lambda alert_id, now: f"https://fleet.example.com/callback/t{alert_id}") if callback else None
    escalation = Escalation(config(contacts=contacts), KEY, clock=clock, callback_link=link)
    asked = response(help_requested=True, site=site)
    raised = escalation.on_responses_stored(stored([asked]))
    (help_alert,) = [r.alert_id for r in raised if alerts.get_alert(r.alert_id).rule == "help"]
    (announcement,) = HelpAnnouncement.select().where(HelpAnnouncement.response_uuid == asked.uuid)
    assert announcement.alert_id == help_alert
    trail = [(e.action, e.comment) for e in AlertEvent.select().where(AlertEvent.alert == help_alert).order_by(AlertEvent.id)]
    warnings = [r for r in caplog.records if "nobody could be told" in r.getMessage()]
    return json.loads(announcement.payload), trail, warnings


def test_a_help_alert_that_tells_nobody_sends_the_kiosk_straight_to_the_call_back_qr_when_the_call_centre_is_on_duty(store, clock, caplog):
    payload, trail, (warning,) = _nobody_told(store, clock, caplog, contacts=[{**STAFF, "sites": ["airport"]}, CALL_CENTRE])  # no staff serve Kadıköy
    assert payload["state"] == "waiting" and payload["wait_s"] == 0, "no 'staff are being told': the kiosk goes on at once"
    assert payload["callback_url"].startswith("https://fleet.example.com/callback/t")
    assert ("announced", "nobody could be told (no contact of site \"kadikoy\" has a role or id the first stage of policy \"staff-now\" names); the kiosk shows the call-back QR at once") in trail
    assert warning.levelname == "WARNING" and warning.site == "kadikoy" and '[[contacts]]' in warning.fix and "staff" in warning.fix


def test_a_help_alert_whose_staff_are_all_off_duty_shows_the_sites_own_contact_when_no_call_back_is_on_duty(store, clock, caplog):
    off = [{**STAFF, "active_hours": OFF_NOW}, {**CALL_CENTRE, "active_hours": OFF_NOW}]
    payload, trail, (warning,) = _nobody_told(store, clock, caplog, contacts=off)
    assert (payload["wait_s"], payload["callback_url"]) == (0, ""), "a call-back nobody on duty takes is not offered: the site's phone shows"
    assert any(action == "announced" and "off duty (ayse)" in comment and "[help]" in comment for action, comment in trail)
    assert "active_hours" in warning.fix


def test_a_kiosk_registered_under_no_sites_id_is_told_nobody_can_come_and_the_warning_names_the_site(store, clock, caplog):
    payload, _, (warning,) = _nobody_told(store, clock, caplog, contacts=[STAFF], site="kadıkoy", callback=False)
    assert (payload["wait_s"], payload["callback_url"]) == (0, "")
    assert warning.site == "kadıkoy" and "not a [[sites]] id" in warning.getMessage() and "known: airport, kadikoy" in warning.fix


def test_a_help_alert_that_told_staff_keeps_the_sites_wait(store, clock, caplog):
    from fleet.escalation.help import HelpAnnouncement
    from tests.escalation_helpers import config

    escalation = Escalation(config(contacts=[STAFF]), KEY, clock=clock)
    escalation.on_responses_stored(stored([response(help_requested=True)]))
    (announcement,) = HelpAnnouncement.select()
    assert '"wait_s":45' in announcement.payload.replace(" ", "")
    assert not [r for r in caplog.records if "nobody could be told" in r.getMessage()]
