"""The return path survives kill -9: nothing lost, nothing raised twice, at most one repeated
notification per crash (the one in flight). Real processes, real SIGKILL, a real receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.escalation import alerts, notifier
from fleet.escalation.tables import Notification

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def helper(*arguments) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.escalation_helpers", *arguments], stdout=subprocess.PIPE, text=True, cwd=ROOT)


def deliver_all(store_url: str) -> None:
    process = helper("deliver", store_url, "0.5")
    out, _ = process.communicate(timeout=90)
    assert process.returncode == 0 and out.splitlines()[-1] == "done", out


def test_killed_between_alert_commit_and_send_the_notification_still_goes_out_once(store, store_url, webhook):
    fleet = helper("commit-then-hang", store_url, webhook.url())
    assert fleet.stdout.readline().strip() == "committed"
    os.kill(fleet.pid, signal.SIGKILL)
    fleet.wait()
    assert webhook.received == [] and Notification.select().where(Notification.state == "pending").count() == 2  # help + negative
    deliver_all(store_url)
    posted = webhook.wait_for(2)
    assert sorted(p["title"].split(":")[0] for p in posted) == ["Olumsuz geri bildirim", "YARDIM İSTENİYOR"]
    assert len({row.rule for row in alerts.list_alerts()}) == len(alerts.list_alerts()) == 2, "one alert per rule"
    assert Notification.select().where(Notification.state == "delivered").count() == 2


def test_killed_mid_send_repeats_only_the_message_in_flight(store, store_url, webhook):
    fleet = helper("commit-then-hang", store_url, webhook.url())
    assert fleet.stdout.readline().strip() == "committed"
    os.kill(fleet.pid, signal.SIGKILL)
    fleet.wait()
    webhook.mode = "hang"  # the receiver takes the first message and never answers ...
    sender = helper("deliver", store_url, "0.5")
    assert sender.stdout.readline().strip() == "delivering"
    webhook.wait_for(1)
    os.kill(sender.pid, signal.SIGKILL)  # ... and the fleet dies while waiting for that answer
    sender.wait()
    webhook.mode = "ok"
    deliver_all(store_url)
    posted = webhook.wait_for(3)
    keys = [p["message"].rsplit("[", 1)[1] for p in posted]
    assert len(posted) == 3 and len(set(keys)) == 2, "two notifications; the one in flight arrived twice, with its idempotency key"
    assert len(alerts.list_alerts()) == 2
    assert all(row.state == "delivered" for row in Notification.select())
    in_flight = next(row for row in Notification.select() if row.attempts == 2)
    assert [d["outcome"] for d in notifier.deliveries(in_flight.alert_id) if d["notification"] == in_flight.id] == ["delivered"], "the killed attempt left no log line: only attempts that ended are logged"
