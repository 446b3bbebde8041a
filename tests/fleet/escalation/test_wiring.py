"""The escalation wired into ``fleet serve``: a real fleet process with its managed Mosquitto, web
pages and sender children; a real HTTP receiver for apprise's json:// target; ``fleet alert``
as separate processes; this test logged in as the kiosk (its own broker account) to send
responses and hear its retained ``help`` channel.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from fleet.escalation.alerts import raise_or_attach
from fleet.store import close_database, open_database
from tests.escalation_fleet import EscalatingFleet
from tests.escalation_helpers import intent, response, stored
from tests.mqtt_helpers import wait_until

ACK_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/ack/\S+)")

WINDOW_RULE = """
[[rules]]
id = "mood"
kind = "window"
percent = 50
minutes = 15
min_responses = 4
scope = "site"
policy = "staff-now"
"""


@pytest.fixture
def fleet(tmp_path, webhook):
    running = EscalatingFleet(tmp_path, webhook.url())
    running.add("kiosk-1")
    yield running
    if running.serving is not None:
        assert running.stop() == 0, running.serving.output()[-3000:]


def help_notification(webhook, timeout: float = 20.0) -> dict:
    """The help alert's message. The negative rule's alert for the same response is sent by
    another sender lane at the same moment: either may arrive first, so wait for this one."""
    with webhook.arrived:
        webhook.arrived.wait_for(lambda: any(message["title"].startswith("YARDIM") for message in webhook.received), timeout)
        helps = [message for message in webhook.received if message["title"].startswith("YARDIM")]
    assert helps, list(webhook.received)
    return helps[-1]


def test_a_help_request_is_notified_and_the_kiosk_hears_waiting_then_who_acknowledged_on_the_cli_then_closed(fleet, webhook):
    fleet.start()
    kiosk = fleet.kiosk("kiosk-1")
    try:
        uuid = kiosk.send(negative=True, help_requested=True)
        waiting = kiosk.hear("waiting", response_uuid=uuid)
        assert waiting.wait_s == 30.0 and waiting.callback_url.startswith(f"http://127.0.0.1:{fleet.http_port}/callback/")
        message = help_notification(webhook)
        assert "kiosk-1" in message["title"] and f"#{waiting.alert_id}" in message["message"]
        (alert,) = [a for a in fleet.alerts("--state", "open", "--site", "kadikoy") if a["rule"] == "help-request"]
        assert alert["id"] == waiting.alert_id and alert["response_uuids"] == [uuid] and alert["device_id"] == "kiosk-1"

        page = httpx.get(waiting.callback_url, timeout=10)  # the QR's link opens the call-back page
        assert page.status_code == 200, page.text[:500]

        acked = fleet.cli("alert", "ack", str(alert["id"]), "--by", "Ayşe", "--eta", "2", "--comment", "geliyorum")
        assert acked.returncode == 0, acked.stderr
        coming = kiosk.hear("coming", alert_id=alert["id"])
        assert (coming.response_uuid, coming.staff, coming.eta_minutes) == (uuid, "Ayşe", 2)

        resolved = fleet.cli("alert", "resolve", str(alert["id"]), "--by", "Ayşe", "--comment", "müşteriyle konuşuldu")
        assert resolved.returncode == 0, resolved.stderr
        closed = kiosk.hear("closed", alert_id=alert["id"])
        assert closed.response_uuid == uuid
        wait_until(lambda: fleet.logged("help update published", device="kiosk-1"), what="the announcer's log")

        shown = fleet.cli("alert", "show", str(alert["id"]))  # the whole story, for the shop manager
        assert shown.returncode == 0, shown.stderr
        assert [line.split("  ")[2] for line in shown.stdout.split("history:\n")[1].split("deliveries:")[0].splitlines()][-2:] == ["acknowledged", "resolved"]
        assert "attempt 1: delivered in " in shown.stdout and "json://127.0.0.1" in shown.stdout, shown.stdout
    finally:
        kiosk.close()


def test_an_acknowledgement_by_the_link_wakes_the_announcer_and_the_kiosk_hears_who_is_coming(fleet, webhook):
    fleet.start()
    kiosk = fleet.kiosk("kiosk-1")
    try:
        uuid = kiosk.send(negative=True, help_requested=True)
        waiting = kiosk.hear("waiting", response_uuid=uuid)
        link = ACK_LINK.search(help_notification(webhook)["message"]).group(1)
        answer = httpx.post(link, data={"name": "Mehmet Kaya", "eta": "3", "comment": "", "lang": "tr"}, timeout=10)
        assert answer.status_code == 200, answer.text[:800]
        coming = kiosk.hear("coming", alert_id=waiting.alert_id)
        assert (coming.response_uuid, coming.staff, coming.eta_minutes) == (uuid, "Mehmet Kaya", 3)
        assert fleet.alerts("--state", "acknowledged")[0]["acknowledged_by"] == "Mehmet Kaya"
    finally:
        kiosk.close()


def test_a_resent_negative_response_raises_no_second_alert_and_no_second_notification(fleet, webhook):
    fleet.start()
    kiosk = fleet.kiosk("kiosk-1")
    try:
        uuid = kiosk.send(negative=True)
        webhook.wait_for(1)
        kiosk.send(negative=True, response_uuid=uuid)  # the kiosk did not hear the Ack: it sends the same response again
        kiosk.send(negative=True, response_uuid=uuid.upper())  # in another case: the same response
        later = kiosk.send(negative=False)  # a marker: once it is stored, the resends were handled before it
        wait_until(lambda: _stored(fleet, later), what="the marker response")
        fleet.serving.stop()  # the hook handles what it queued before the process ends
        (alert,) = fleet.alerts()
        assert (alert["rule"], alert["response_uuids"], alert["triggers"]) == ("negative", [uuid], 1)
        assert len(webhook.received) == 1
    finally:
        kiosk.close()


@pytest.mark.slow
def test_two_workers_with_one_sites_traffic_make_exactly_one_alert_per_key(tmp_path, webhook):
    fleet = EscalatingFleet(tmp_path, webhook.url(), extra_config=WINDOW_RULE)
    devices = ["kiosk-1", "kiosk-2"]
    for device_id in devices:
        fleet.add(device_id)
    fleet.start("--workers", "2")
    kiosks = [fleet.kiosk(device_id) for device_id in devices]
    try:
        sent = {device_id: [] for device_id in devices}
        for _ in range(12):  # the broker deals them to both workers
            for kiosk in kiosks:
                sent[kiosk.device_id].append(kiosk.send(negative=True, help_requested=True))
        markers = [kiosk.send(negative=False) for kiosk in kiosks]
        wait_until(lambda: all(_stored(fleet, marker) for marker in markers), 20, what="every response stored")
        workers = {event.get("worker") for event in fleet.logged("fleet worker running")}
        assert workers == {1, 2}, fleet.serving.output()[-2000:]
        assert fleet.stop() == 0
        alerts = fleet.alerts()
        keys = [(a["rule"], a["scope"]) for a in alerts]
        assert len(keys) == len(set(keys)), f"two active alerts for one key: {keys}"
        every = [uuid for uuids in sent.values() for uuid in uuids]
        expected = {("help-request", f"response:{u}") for u in every} | {("negative", f"device:{d}") for d in devices} | {("mood", "site:kadikoy")}
        assert set(keys) == expected, "a help request is an alert per customer; a negative one per kiosk"
        for a in alerts:
            if a["rule"] == "help-request":
                assert a["response_uuids"] == [a["scope"].removeprefix("response:")] and a["response_uuids"][0] in sent[a["device_id"]]
            elif a["rule"] == "negative":
                assert sorted(a["response_uuids"]) == sorted(sent[a["device_id"]])
    finally:
        for kiosk in kiosks:
            kiosk.close()


@pytest.mark.slow
def test_responses_stored_just_before_a_crash_raise_their_alerts_when_the_fleet_starts_again_once(tmp_path, webhook):
    fleet = EscalatingFleet(tmp_path, webhook.url())
    fleet.add("kiosk-1")
    open_database(f"sqlite:///{fleet.data / 'fleet.sqlite3'}")
    try:  # stored by a fleet killed before its post-commit hook ran: no alert for it
        (lost,) = stored([response(site="kadikoy", device="kiosk-1", at=time.time() - 5, help_requested=True)])
        (old,) = stored([response(site="kadikoy", device="kiosk-1", at=time.time() - 3600)])
        from fleet.store import StoredResponse

        StoredResponse.update(help_requested=True).where(StoredResponse.uuid == lost.uuid).execute()
        StoredResponse.update(received_at=time.time() - 3600).where(StoredResponse.uuid == old.uuid).execute()
    finally:
        close_database()
    fleet.start()
    kiosk = fleet.kiosk("kiosk-1")
    try:
        alerts = {a["rule"]: a for a in fleet.alerts()}
        assert set(alerts) == {"help-request", "negative"} and alerts["help-request"]["response_uuids"] == [lost.uuid]
        assert kiosk.hear("waiting", response_uuid=lost.uuid).alert_id == alerts["help-request"]["id"]  # retained: heard on subscribing
        webhook.wait_for(2)
        assert fleet.logged("escalation replayed recent responses", responses=1, alerts_raised=2)
        assert fleet.stop() == 0
        fleet.start()  # once more: those responses are replayed again, and raise nothing
        assert len(fleet.alerts()) == 2 and fleet.logged("escalation replayed recent responses", responses=1, alerts_raised=0)
        time.sleep(1.0)
        assert len(webhook.received) == 2
    finally:
        kiosk.close()
        if fleet.serving is not None and fleet.serving.returncode is None:
            fleet.stop()


def test_the_cli_raises_nothing_and_an_alert_made_meanwhile_is_listed(tmp_path, webhook):
    """No fleet running: ``fleet alert`` works on the store alone."""
    fleet = EscalatingFleet(tmp_path, webhook.url(), http=False)
    open_database(f"sqlite:///{fleet.data / 'fleet.sqlite3'}")
    try:
        raise_or_attach(intent(rule="negative", uuids=("u-1",)), time.time())
    finally:
        close_database()
    (listed,) = fleet.alerts()
    assert listed["state"] == "open" and listed["response_uuids"] == ["u-1"]


def _stored(fleet: EscalatingFleet, uuid: str) -> bool:
    import sqlite3

    connection = sqlite3.connect(f"file:{fleet.data / 'fleet.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute("SELECT 1 FROM responses WHERE uuid = ?", (uuid,)).fetchone() is not None
    finally:
        connection.close()
