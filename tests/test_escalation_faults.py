"""Faults of the return path, with real processes: 0 alerts lost, 0 alerts twice, every attempt logged.

Each test runs ``fleet serve`` (its fleet.toml names a real local receiver as the staff's
apprise URL: ``tests.notify_receivers``), a Mosquitto, and where the kiosk's side matters a
real ``kiosk run`` (headless, its buttons on stdin); then injects one fault:

- the fleet SIGKILLed after it committed a help alert and before the notification went out:
  the notification is delivered after the restart, and there is still exactly one alert;
- the staff's webhook down for 30 s: the notification is retried with growing gaps and
  delivered when it is back, and every attempt is in the delivery log;
- the SMTP server refusing (a 5xx, then a 4xx): each refusal is logged and retried, then delivered;
- the broker down while staff acknowledge with ``fleet alert ack``: the kiosk hears "coming"
  when the broker is back; if its help screen timed out meanwhile it drops the update and logs why.

Retry timings are injected through fleet.toml's [notifications] (the config a site would
write), never patched in. Waits poll a condition with a deadline; the one fixed wait is the
fault itself (the webhook's 30 s outage).
"""

from __future__ import annotations

import threading
import time

import pytest

from tests import scenarios
from tests.loop_rig import UNHAPPY_THEN_YES, LoopFleet, LoopKiosk, Processes, ask_for_help
from tests.mqtt_helpers import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def procs():
    registry = Processes()
    yield registry
    registry.kill_all()


def assert_one_alert_delivered_once(fleet: LoopFleet, received: list) -> dict:
    """Exactly one alert, one notification, delivered, and the receiver got it once."""
    alerts = fleet.alerts()
    assert len(alerts) == 1 and alerts[0]["rule"] == "help", alerts
    (notification,) = fleet.notifications()
    assert notification["state"] == "delivered", notification
    assert len(received) == 1, f"the receiver got {len(received)} messages for one notification"
    return alerts[0]


def test_fleet_killed_after_the_alert_commit_delivers_the_notification_after_restart_once(tmp_path, procs, webhook):
    webhook.mode = "down"  # so the notification is still in the outbox, committed, when the fleet dies
    fleet = LoopFleet(tmp_path, procs, managed=False)  # the broker outlives the fleet: only the fleet dies
    kiosk_toml = fleet.add_device("kiosk-1", tmp_path / "kiosk.toml")
    # The next try comes 3 s after a failed one: the kill below lands between two tries, never in one.
    fleet.configure([webhook.url()], retry_first_seconds=3, retry_max_seconds=3, send_timeout_seconds=5)
    fleet.start_broker()
    fleet.serve()
    kiosk = LoopKiosk(procs, kiosk_toml, tmp_path / "kiosk").start()
    kiosk.press(UNHAPPY_THEN_YES)
    webhook.wait_refused(1)
    # The alert and its notification are committed, the first try failed and is logged: kill now.
    wait_until(lambda: [d["outcome"] for d in fleet.deliveries()] == ["failed"], 10, 0.005, "the failed try to be logged")
    fleet.kill_server()

    assert len(fleet.rows("SELECT id FROM alerts")) == 1
    assert [n["state"] for n in fleet.notifications()] == ["pending"] and webhook.received == []
    webhook.mode = "ok"
    fleet.serve()
    (posted,) = webhook.wait_for(1)
    assert posted["title"].startswith("YARDIM İSTENİYOR") and "kiosk-1" in posted["title"]
    wait_until(lambda: all(n["state"] == "delivered" for n in fleet.notifications()), 20, what="the outbox to empty")
    alert = assert_one_alert_delivered_once(fleet, webhook.received)
    assert alert["triggers"] == 1 and len(alert["response_uuids"]) == 1
    outcomes = [d["outcome"] for d in fleet.deliveries()]
    assert outcomes[-1] == "delivered" and set(outcomes[:-1]) == {"failed"} and len(outcomes) - 1 == webhook.refused, outcomes
    assert kiosk.logged("help update heard", state="waiting"), "the kiosk heard that staff are being told"
    assert kiosk.quit() == 0


def test_webhook_down_for_30_seconds_is_retried_with_backoff_and_every_attempt_logged(tmp_path, procs, webhook):
    """The help request comes from the device's own login as a kiosk publishes it (the kiosk's
    screens are not what this test is about); the outage is 30 s of real time."""
    webhook.mode = "down"
    fleet = LoopFleet(tmp_path, procs)
    fleet.add_device("kiosk-1", tmp_path / "kiosk.toml")
    fleet.configure([webhook.url()], retry_first_seconds=1, retry_max_seconds=4, max_attempts=30, send_timeout_seconds=5)
    fleet.serve()
    ask_for_help(fleet, "kiosk-1")
    down_since = webhook.wait_refused(1)[0]
    threading.Event().wait(max(0.0, down_since + 30.0 - time.time()))  # the outage itself: 30 s
    webhook.mode = "ok"
    (posted,) = webhook.wait_for(1, timeout=15)
    assert posted["title"].startswith("YARDIM İSTENİYOR")
    wait_until(lambda: any(d["outcome"] == "delivered" for d in fleet.deliveries()), 10, what="the delivery to be logged")

    assert_one_alert_delivered_once(fleet, webhook.received)
    log = fleet.deliveries()
    failed = [d for d in log if d["outcome"] == "failed"]
    assert len(failed) == webhook.refused >= 7 and log[-1]["outcome"] == "delivered" and len(log) == len(failed) + 1, "every attempt is in the log"
    assert [d["attempt"] for d in log] == list(range(1, len(log) + 1))
    assert all("503" in d["detail"] for d in failed), failed[0]["detail"]
    # Backoff: each wait doubles from 1 s up to 4 s, ±20 % jitter (fleet.toml's [notifications]).
    gaps = [later["started_at"] - earlier["finished_at"] for earlier, later in zip(log, log[1:])]
    expected = [min(1.0 * 2**n, 4.0) for n in range(len(gaps))]
    assert all(0.8 * want - 0.05 <= gap <= 1.2 * want + 1.0 for gap, want in zip(gaps, expected)), list(zip(gaps, expected))
    warnings = fleet.all_logged("notification not delivered; will retry")
    assert [w["attempt"] for w in warnings] == [d["attempt"] for d in failed]
    assert fleet.all_logged("notification delivered", attempt=len(log))


def test_smtp_refusing_is_logged_and_retried_until_it_accepts(tmp_path, procs, mailbox):
    mailbox.refusing = True
    mailbox.refusal = "554 5.7.1 relay refused for now"  # first a permanent-looking 5xx ...
    fleet = LoopFleet(tmp_path, procs)
    fleet.add_device("kiosk-1", tmp_path / "kiosk.toml")
    fleet.configure([mailbox.url("ayse@example.com")], retry_first_seconds=0.5, retry_max_seconds=2, send_timeout_seconds=10)
    fleet.serve()
    ask_for_help(fleet, "kiosk-1")
    mailbox.wait_refused(1)
    mailbox.refusal = "451 4.3.0 mailbox busy, try again later"  # ... then "try again later" ...
    mailbox.wait_refused(3)
    mailbox.refusing = False  # ... then it takes mail again
    ((recipients, mail),) = mailbox.wait_for(1)
    assert recipients == ["ayse@example.com"] and mail["Subject"].startswith("YARDIM İSTENİYOR")
    assert "/ack/" in mail.get_body().get_content()
    wait_until(lambda: any(d["outcome"] == "delivered" for d in fleet.deliveries()), 10, what="the delivery to be logged")

    assert_one_alert_delivered_once(fleet, mailbox.received)
    log = fleet.deliveries()
    assert [d["outcome"] for d in log] == ["failed"] * mailbox.refused + ["delivered"] and mailbox.refused == 3
    warnings = fleet.all_logged("notification not delivered; will retry")
    assert len(warnings) == 3 and all(w["target"].startswith("mailto://") for w in warnings), warnings


def test_staff_acknowledge_while_the_broker_is_down_and_the_kiosk_hears_it_when_it_is_back(tmp_path, procs, webhook):
    survey = tmp_path / "survey.toml"
    help_seconds = 10
    survey.write_text(scenarios.survey_text(help_seconds=help_seconds), encoding="utf-8")
    fleet = LoopFleet(tmp_path, procs, managed=False)  # the test stops and starts Mosquitto itself
    kiosk_toml = fleet.add_device("kiosk-1", tmp_path / "kiosk.toml")
    fleet.configure([webhook.url()], retry_first_seconds=1, retry_max_seconds=2)
    fleet.start_broker()
    fleet.serve()
    kiosk = LoopKiosk(procs, kiosk_toml, tmp_path / "kiosk", survey=survey).start()

    # 1. Staff acknowledge with `fleet alert ack` while the broker is down: heard when it is back.
    kiosk.press(UNHAPPY_THEN_YES)
    webhook.wait_for(1)
    first = kiosk.wait_for("help update heard", state="waiting")
    fleet.stop_broker()
    kiosk.wait_for("disconnected from the fleet")
    ack = fleet.cli("alert", "ack", str(first["alert_id"]), "--by", "Ayşe", "--eta", "2")
    assert ack.returncode == 0 and "acknowledged by Ayşe, ETA 2 min" in ack.stdout, ack.stdout + ack.stderr
    assert fleet.rows("SELECT state FROM help_announcements WHERE sent_at IS NULL") == [("coming",)], "kept until the broker takes it"
    assert not kiosk.logged("help shown")
    fleet.start_broker()
    shown = kiosk.wait_for("help shown", timeout=30, alert_id=first["alert_id"], staff="Ayşe")
    assert shown["uuid"] == first["uuid"]
    assert kiosk.screenshot(tmp_path / "coming.png").stat().st_size > 0
    wait_until(lambda: fleet.rows("SELECT COUNT(*) FROM help_announcements WHERE sent_at IS NULL") == [(0,)], 10, what="the announcement marked sent")

    # The colleague came: resolved, the kiosk's help screen closes for the next customer.
    done = fleet.cli("alert", "resolve", str(first["alert_id"]), "--by", "Ayşe")
    assert done.returncode == 0, done.stdout + done.stderr
    kiosk.wait_for("help update heard", state="closed", uuid=first["uuid"])

    # 2. The next customer's help screen times out while the broker is down: the late "coming" is dropped.
    kiosk.press(UNHAPPY_THEN_YES)
    webhook.wait_for(2)
    released = kiosk.wait_for("response released", count=2, help_requested=True)
    second = kiosk.wait_for("help update heard", state="waiting", uuid=released["uuid"])
    assert second["alert_id"] != first["alert_id"], "the first alert was resolved: a new one"
    fleet.stop_broker()
    kiosk.wait_for("disconnected from the fleet", count=2)
    ended_at = released["ts"] + help_seconds  # the help screen ends then, whatever happens (the kiosk's flow)
    threading.Event().wait(max(0.0, ended_at + 0.5 - time.time()))
    late = fleet.cli("alert", "ack", str(second["alert_id"]), "--by", "Zeynep")
    assert late.returncode == 0, late.stdout + late.stderr
    fleet.start_broker()
    dropped = kiosk.wait_for("help update dropped", timeout=30, uuid=second["uuid"], state="coming")
    assert "its help screen has ended" in dropped["msg"] and dropped["alert_id"] == second["alert_id"] and dropped["level"] == "INFO"
    assert not kiosk.logged("help shown", staff="Zeynep")
    assert kiosk.quit() == 0
