"""A customer asks the kiosk for help, and hears who is coming: the real kiosk process (its main
loop, outbox, sync and screen), a real Mosquitto, and this test as the fleet.

``kiosk run`` runs headless with its buttons scripted on stdin, as in the field but for the
display (SDL's dummy driver) and the buttons. The test logs in to the broker with the fleet's own
account: it reads the kiosk's Uploads, acknowledges them, and publishes HelpUpdates (retained, as
the fleet does) when "staff acknowledge". The kiosk reaches the broker through a TCP forwarder the
test can cut, so the kiosk can be offline while the broker is up.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fleet.broker import ManagedBroker
from kiosk.contract.protocol import PROTOCOL_VERSION, Ack, HelpUpdate, Upload, decode, encode, topic
from kiosk.contract.survey import parse_survey
from kiosk.outbox import Outbox
from tests import scenarios
from tests.kiosk_process import UNHAPPY_THEN_YES, FleetSide, KioskProcess, expected_coming, kiosk_broker, kiosk_config
from tests.mqtt_helpers import wait_until
from tests.records import record

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "kiosk-help"
PASSWORD = "kiosk-help-password-1"
BACKLOG = 1000


@pytest.fixture
def broker(tmp_path):
    with kiosk_broker(tmp_path / "broker", DEVICE, PASSWORD) as managed:
        yield managed


class Fleet(FleetSide):
    """This test as the fleet: every Upload in arrival order, Acks and HelpUpdates sent back."""

    def __init__(self, broker: ManagedBroker) -> None:
        self.uploads: list[Upload] = []
        self.acking = False  # acknowledge each Upload as it arrives (a fleet that keeps up)
        super().__init__(broker, DEVICE, ["responses"], client_id="fleet-test")
        assert self.client.accepted

    def heard(self, channel: str, payload: bytes) -> None:
        upload = decode(channel, payload)
        with self._lock:
            self.uploads.append(upload)
        if self.acking:
            self.ack([r.uuid for r in upload.responses])

    def responses(self) -> list:
        with self._lock:
            return [r for upload in self.uploads for r in upload.responses]

    def asked_for_help(self) -> list:
        return [r for r in self.responses() if r.help_requested]

    def ack(self, uuids: list[str]) -> None:
        self.client.publish(topic(DEVICE, "ack"), encode(Ack(v=PROTOCOL_VERSION, stored=uuids, at=time.time())))

    def tell(self, uuid: str, state: str, **fields) -> None:
        update = HelpUpdate(v=PROTOCOL_VERSION, alert_id=42, response_uuid=uuid, state=state, at=time.time(), **fields)
        info = self.client.client.publish(topic(DEVICE, "help"), encode(update), qos=1, retain=True)
        info.wait_for_publish(5)


@pytest.fixture
def fleet(broker):
    side = Fleet(broker)
    yield side
    side.close()


def test_a_request_for_help_jumps_the_backlog_and_the_kiosk_shows_who_is_coming(tmp_path, proxy, fleet, survey):
    data = tmp_path / "kiosk"
    backlog = Outbox(DEVICE, "boot-before").open(data)  # a week of answers the fleet has not acknowledged
    made = {backlog.save(record()) for _ in range(BACKLOG)}
    backlog.close()
    kiosk = KioskProcess(kiosk_config(tmp_path, proxy.port, DEVICE, PASSWORD), data)
    try:
        wait_until(lambda: len(fleet.responses()) >= 400, 20, what="the backlog's first window")
        kiosk.press(UNHAPPY_THEN_YES)
        wait_until(lambda: fleet.asked_for_help(), 20, what="the request for help")
        (request,) = fleet.asked_for_help()
        # As the real fleet does within milliseconds of storing it: the request raised an alert.
        fleet.tell(request.uuid, "waiting", wait_s=60.0, callback_url="https://fleet.example/c/abc")
        kiosk.wait_for("help update heard", uuid=request.uuid, state="waiting")
        sent = fleet.responses()
        assert len([r for r in sent if r.uuid in made]) == 400, "sent while 600 answers of the backlog still wait"
        assert request.negative and [a.option for a in request.answers] == ["very-unhappy", "staff", "no"] and request.presses == [1, 2, 1, 4]
        assert kiosk.logged("response saved", uuid=request.uuid, held="moment"), "on the card since the last answer, before the offer showed"
        assert kiosk.logged("response amended", uuid=request.uuid, held_for="offer"), "then held for the answer to the offer"

        fleet.acking = True  # the fleet catches up: the rest of the backlog follows
        fleet.ack([r.uuid for r in sent])
        wait_until(lambda: {r.uuid for r in fleet.responses()} >= made, 30, what="the rest of the backlog")
        assert [r.uuid for r in fleet.responses()].count(request.uuid) == 1

        fleet.tell(request.uuid, "coming", staff="Ayşe", eta_minutes=3)
        shown = kiosk.wait_for("help shown", alert_id=42, staff="Ayşe")
        assert shown["level"] == "INFO" and len(kiosk.logged("help shown")) == 1
        assert kiosk.screenshot(tmp_path / "coming.png") == expected_coming(tmp_path, survey, request.uuid, "Ayşe", 3)
    finally:
        assert kiosk.stop() == 0, "".join(kiosk.lines[-30:])


def test_an_update_sent_while_the_kiosk_was_offline_is_heard_when_it_returns_unless_its_screen_has_ended(tmp_path, proxy, fleet):
    short = tmp_path / "survey.toml"
    short.write_text(scenarios.survey_text(help_seconds=10), encoding="utf-8")
    survey = parse_survey(short.read_bytes())
    kiosk = KioskProcess(kiosk_config(tmp_path, proxy.port, DEVICE, PASSWORD), tmp_path / "kiosk", survey=short)
    try:
        kiosk.wait_for("connected to the fleet")
        kiosk.press(UNHAPPY_THEN_YES)
        wait_until(lambda: fleet.asked_for_help(), 20, what="the first request for help")
        first = fleet.asked_for_help()[0]
        fleet.tell(first.uuid, "waiting", wait_s=60.0)  # confirmed, as the real fleet does at once
        kiosk.wait_for("help update heard", uuid=first.uuid, state="waiting")
        proxy.cut()  # the kiosk loses the broker; staff acknowledge meanwhile
        kiosk.wait_for("disconnected from the fleet")
        fleet.tell(first.uuid, "coming", staff="Mehmet")
        proxy.restore()
        kiosk.wait_for("help shown", alert_id=42, staff="Mehmet")
        assert kiosk.screenshot(tmp_path / "heard.png") == expected_coming(tmp_path, survey, first.uuid, "Mehmet", None)
        fleet.tell(first.uuid, "closed")  # the colleague came: the start screen returns for the next customer
        kiosk.wait_for("help update heard", uuid=first.uuid, state="closed")

        kiosk.press(UNHAPPY_THEN_YES)
        # Not the first request again: unacknowledged, the kiosk sent it once more on reconnecting.
        wait_until(lambda: [r for r in fleet.asked_for_help() if r.uuid != first.uuid], 20, what="the second request for help")
        (second,) = {r.uuid: r for r in fleet.asked_for_help() if r.uuid != first.uuid}.values()
        released = kiosk.wait_for("response released", uuid=second.uuid)  # "yes" was pressed: its help screen shows from now
        assert second.help_requested and released["help_requested"] is True, "offered help: the link was up"
        proxy.cut()
        wait_until(lambda: len(kiosk.logged("disconnected from the fleet")) == 2, what="the second disconnection")
        threading.Event().wait(survey.help_offer.help_seconds + 1.0)  # its screen times out while the kiosk is away
        fleet.tell(second.uuid, "coming", staff="Zeynep")
        proxy.restore()
        dropped = kiosk.wait_for("help update dropped", uuid=second.uuid)
        assert "its help screen has ended" in dropped["msg"] and dropped["alert_id"] == 42 and dropped["level"] == "INFO"
        assert not kiosk.logged("help shown", staff="Zeynep")

    finally:
        assert kiosk.stop() == 0, "".join(kiosk.lines[-30:])


def test_a_request_the_fleet_never_confirms_is_not_promised_and_is_logged(tmp_path, proxy, fleet):
    """A fleet that stores the request but raises no alert (escalation off, no help rule) says
    nothing: the kiosk stops saying the request is being sent after confirm_seconds, shows what
    it shows without a link, and logs a warning naming the response."""
    short = tmp_path / "survey.toml"
    short.write_text(scenarios.survey_text(help_seconds=10), encoding="utf-8")
    survey = parse_survey(short.read_bytes())
    kiosk = KioskProcess(kiosk_config(tmp_path, proxy.port, DEVICE, PASSWORD), tmp_path / "kiosk", survey=short)
    try:
        kiosk.wait_for("connected to the fleet")
        kiosk.press(UNHAPPY_THEN_YES)
        wait_until(lambda: fleet.asked_for_help(), 20, what="the request for help")
        (request,) = fleet.asked_for_help()
        released = kiosk.wait_for("response released", uuid=request.uuid)
        unconfirmed = kiosk.wait_for("help not confirmed", timeout=survey.help_offer.confirm_seconds + 10)
        assert (unconfirmed["uuid"], unconfirmed["level"], unconfirmed["confirm_s"]) == (request.uuid, "WARNING", survey.help_offer.confirm_seconds)
        assert unconfirmed["ts"] - released["ts"] >= survey.help_offer.confirm_seconds - 0.5, "not before the wait for the fleet is over"
        assert len(kiosk.logged("help not confirmed")) == 1
    finally:
        assert kiosk.stop() == 0, "".join(kiosk.lines[-30:])
