"""The whole return path, every part real: a customer answers negatively on a real kiosk process
(``kiosk run``, headless, buttons on stdin) and accepts help; ``fleet serve`` (its managed
Mosquitto, the escalation, the web pages) raises the alert and apprise delivers it to a local
HTTP receiver; a staff member acknowledges with ``fleet alert ack`` (a process of its own);
the fleet's announcer tells the kiosk, which shows who is coming: its log line and its screenshot.
"""

from __future__ import annotations

import pytest

from tests.escalation_fleet import EscalatingFleet
from tests.kiosk_process import UNHAPPY_THEN_YES, KioskProcess, expected_coming, kiosk_config

pytestmark = pytest.mark.slow

DEVICE = "kiosk-exit-1"


def test_a_negative_answer_and_yes_to_help_reach_staff_and_the_kiosk_shows_who_acknowledged(tmp_path, webhook, survey):
    fleet = EscalatingFleet(tmp_path, webhook.url("ayse"))
    password = fleet.add(DEVICE)
    fleet.start()
    kiosk = KioskProcess(kiosk_config(tmp_path, fleet.port, DEVICE, password), tmp_path / "kiosk")
    try:
        kiosk.wait_for("connected to the fleet")
        kiosk.press(UNHAPPY_THEN_YES)

        received = webhook.wait_for(1, timeout=30)
        helps = [message for message in webhook.wait_for(2, timeout=30) if message["title"].startswith("YARDIM İSTENİYOR")]
        assert len(helps) == 1 and DEVICE in helps[0]["title"] and received[0]["path"] == "/ayse", webhook.received
        (alert,) = [a for a in fleet.alerts("--state", "open") if a["rule"] == "help-request"]
        (uuid,) = alert["response_uuids"]
        assert f"#{alert['id']}" in helps[0]["message"] and alert["device_id"] == DEVICE
        kiosk.wait_for("help update heard", uuid=uuid, state="waiting")

        acked = fleet.cli("alert", "ack", str(alert["id"]), "--by", "Ayşe", "--eta", "2")
        assert acked.returncode == 0, acked.stderr
        shown = kiosk.wait_for("help shown", alert_id=alert["id"], staff="Ayşe")
        assert shown["level"] == "INFO" and shown["uuid"] == uuid
        assert kiosk.screenshot(tmp_path / "coming.png") == expected_coming(tmp_path, survey, uuid, "Ayşe", 2, alert_id=alert["id"])
    finally:
        assert kiosk.stop() == 0, "".join(kiosk.lines[-30:])
        assert fleet.stop() == 0, fleet.serving.output()[-3000:]
