"""Head office pushes a survey to a real kiosk process through a real Mosquitto (issue 10, the kiosk's side).

``kiosk run`` runs headless with its buttons on stdin. This test is head office: it signs
assignments with an Ed25519 key made here (as ``fleet survey keygen`` would), publishes them
retained on the kiosk's survey topic with the fleet's broker account, and reads the kiosk's
survey reports and Health. The kiosk reaches the broker through a TCP forwarder the test can cut.
"""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleet.broker import ManagedBroker
from kiosk.contract import assignment as signing
from kiosk.contract.protocol import SurveyAssignment, SurveyReport, decode, encode, topic
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, survey_from_dict
from kiosk.flow import Attract, KioskState
from tests.kiosk_process import FleetSide, KioskProcess, drawn, kiosk_broker
from tests.mqtt_helpers import wait_until
from tests.pixels import Image

pytestmark = pytest.mark.slow

DEVICE = "kiosk-push"
PASSWORD = "kiosk-push-password-1"
HEAD_OFFICE = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()
DEFAULT = tomllib.loads(DEFAULT_SURVEY_PATH.read_text(encoding="utf-8"))


def new_version(version: int = 4, **changes) -> dict:
    """The default survey with a new first question text: what head office changed."""
    document = json.loads(json.dumps(DEFAULT))
    document["version"] = version
    document["questions"][0]["text"] = {"tr": "Bugün nasıldık?", "en": "How were we today?"}
    document.update(changes)
    return document


def five_options() -> dict:
    """A valid survey whose first question has five options, on buttons 1 to 5."""
    document = new_version(5)
    options = document["questions"][0]["options"]
    options.append({"id": "superb", "button": 5, "label": {"tr": "Harika", "en": "Superb"}})
    return document


def signed(document: dict, seq: int, key: Ed25519PrivateKey = HEAD_OFFICE, target: str = DEVICE, rollout: int = 1) -> SurveyAssignment:
    return signing.sign(
        key, survey_id=document["id"], version=document["version"], rollout=rollout, seq=seq, target=target,
        document=signing.canonical_document(document), issued_at=time.time(),
    )


@pytest.fixture
def broker(tmp_path):
    with kiosk_broker(tmp_path / "broker", DEVICE, PASSWORD) as managed:
        yield managed


class HeadOffice(FleetSide):
    """This test as the fleet: publishes retained assignments, keeps every report and Health."""

    def __init__(self, broker: ManagedBroker) -> None:
        self.reports: list[SurveyReport] = []
        self.healths: list = []
        super().__init__(broker, DEVICE, ["survey_report", "health"], client_id="head-office-test")

    def heard(self, channel: str, payload: bytes) -> None:
        with self._lock:
            (self.reports if channel == "survey_report" else self.healths).append(decode(channel, payload))

    def push(self, payload: bytes | SurveyAssignment) -> None:
        body = encode(payload) if isinstance(payload, SurveyAssignment) else payload
        info = self.client.client.publish(topic(DEVICE, "survey"), body, qos=1, retain=True)
        info.wait_for_publish(5)

    def report_count(self) -> int:
        with self._lock:
            return len(self.reports)

    def wait_report(self, status: str, seq: int, after: int = 0) -> SurveyReport:
        def found():
            with self._lock:
                return [r for r in self.reports[after:] if r.status == status and r.seq == seq]

        wait_until(found, 20, what=f"a {status!r} report for seq {seq}")
        return found()[0]

    def last_health(self):
        with self._lock:
            return self.healths[-1] if self.healths else None


@pytest.fixture
def office(broker):
    side = HeadOffice(broker)
    yield side
    side.close()


def kiosk_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "kiosk.toml"
    key = signing.public_key_text(signing.raw_public_key(HEAD_OFFICE))
    rotated_out = signing.public_key_text(signing.raw_public_key(Ed25519PrivateKey.generate()))
    path.write_text(
        f'device_id = "{DEVICE}"\n'
        "[survey]\n"
        f'trusted_keys = ["{rotated_out}", "{key}"]\n'
        "[fleet]\n"
        f'broker = "mqtt://127.0.0.1:{port}"\n'
        f'password = "{PASSWORD}"\n'
        "reconnect_max_s = 1\n"
        "health_interval_s = 1\n",
        encoding="utf-8",
    )
    return path


def expected_start_screen(tmp_path: Path, document: dict) -> Image:
    """The start screen of *document* as this test's own Screen draws it: the kiosk's screenshot must be the same pixels."""
    survey = survey_from_dict(document)
    image, text = drawn(KioskState(survey, Attract(survey.default_language)), tmp_path / f"expected-{document['version']}.png")
    assert "Bugün nasıldık?" in text
    return image


def test_a_signed_survey_is_applied_and_every_forgery_is_refused_with_its_reason(tmp_path, proxy, office):
    kiosk = KioskProcess(kiosk_config(tmp_path, proxy.port), tmp_path / "kiosk")
    try:
        kiosk.wait_for("connected to the fleet")
        wait_until(lambda: office.last_health() is not None, 20, what="the kiosk's first Health")
        health = office.last_health()
        assert (health.survey_id, health.survey_version, health.survey_source, health.survey_verified) == ("exit-default", 3, "default", False)
        before = kiosk.screenshot(tmp_path / "before.png")

        genuine = signed(new_version(), seq=10)
        tampered = msgspec.structs.replace(genuine, document=genuine.document.replace("Bugün", "Bugûn"))
        refusals = [
            (tampered, "bad signature (tampered?)"),
            (msgspec.structs.replace(genuine, signature="", key_id=""), "unsigned"),
            (signed(new_version(), seq=10, key=STRANGER), f"unknown key {signing.key_id(signing.raw_public_key(STRANGER))}"),
            (signed(new_version(), seq=10, target="kiosk-other"), f"meant for kiosk-other, not {DEVICE}"),
            (signed(five_options(), seq=10), 'question "satisfaction" needs button 5 (5 options), but panel profile \'arcade-4\' has buttons 1, 2, 3, 4'),
        ]
        for number, (assignment, reason) in enumerate(refusals, start=1):
            office.push(assignment)
            wait_until(lambda n=number: office.report_count() >= n, 20, what=f"the report on refusal {number}")
            got = office.reports[number - 1]
            assert (got.status, got.seq, got.survey_id) == ("refused", 10, "exit-default"), got
            assert got.reason.startswith(reason), (got.reason, reason)
            assert kiosk.logged("pushed survey refused", reason=got.reason), "logged with the reason"
        office.push(b'{"v":2,"seq":"not an assignment"}')
        garbage = office.wait_report("refused", 0)
        assert garbage.reason.startswith("not a survey assignment: invalid survey payload")
        assert not kiosk.logged("survey delivered") and not kiosk.logged("survey applied")
        assert kiosk.screenshot(tmp_path / "still.png") == before, "the old survey stays on screen"

        office.push(genuine)
        delivered = office.wait_report("delivered", 10)
        applied = office.wait_report("applied", 10)
        assert (delivered.reason, applied.reason, applied.version) == ("", "", 4)
        assert kiosk.wait_for("survey applied", seq=10)["key_id"] == genuine.key_id
        assert kiosk.screenshot(tmp_path / "after.png") == expected_start_screen(tmp_path, new_version())
        wait_until(lambda: office.last_health().survey_version == 4, 10, what="Health to say version 4")
        health = office.last_health()
        assert (health.survey_id, health.survey_source, health.survey_verified) == ("exit-default", "pushed", True)

        older = signed(new_version(6), seq=5)  # genuinely signed, but an older rollout sequence
        office.push(older)
        assert office.wait_report("refused", 5).reason == "replayed: sequence 5 ≤ last accepted 10"

        # The retained assignment it already holds, at every reconnect: nothing happens.
        office.push(genuine)
        kiosk.wait_for("survey assignment from the fleet", count=len(refusals) + 4)
        reports = office.report_count()
        proxy.cut()
        kiosk.wait_for("disconnected from the fleet")
        proxy.restore()
        kiosk.wait_for("connected to the fleet", count=2)
        kiosk.wait_for("survey assignment from the fleet", retained=True)  # the retained copy, on subscribing again
        healths = len(office.healths)
        wait_until(lambda: len(office.healths) > healths + 1, 10, what="Health after the reconnect")
        assert office.report_count() == reports, "a retained assignment already applied is no news"
        assert len(kiosk.logged("survey delivered")) == 1 and len(kiosk.logged("survey applied")) == 1
        assert kiosk.stop() == 0, "".join(kiosk.lines[-30:])
    finally:
        if kiosk.popen.poll() is None:
            kiosk.kill()


def test_offline_during_the_push_then_killed_before_applied_it_still_applies_and_reports(tmp_path, proxy, office):
    """Offline during the push: the retained assignment arrives on reconnect. Then a customer is
    mid-survey when the next one arrives, so it is delivered but waits; the kiosk is SIGKILLed
    then, and it shows the survey from its first frame after the restart (offline), and reports
    ``applied`` once the link is back."""
    data = tmp_path / "kiosk"
    config = kiosk_config(tmp_path, proxy.port)
    kiosk = KioskProcess(config, data)
    try:
        kiosk.wait_for("connected to the fleet")
        proxy.cut()
        kiosk.wait_for("disconnected from the fleet")
        office.push(signed(new_version(4), seq=1))
        time.sleep(1.0)  # the kiosk is away: nothing can arrive
        assert not kiosk.logged("survey assignment from the fleet")
        proxy.restore()
        office.wait_report("applied", 1)
        assert kiosk.logged("survey assignment from the fleet", retained=True)

        kiosk.press("3\n")  # a customer answers the first question: mid-survey now
        kiosk.screenshot(tmp_path / "mid-survey.png")  # read from stdin after the press: the press is handled
        office.push(signed(new_version(7), seq=2))
        office.wait_report("delivered", 2)
        assert not kiosk.logged("survey applied", seq=2), "never under a customer's feet"
        kiosk.kill()
    finally:
        if kiosk.popen.poll() is None:
            kiosk.kill()

    proxy.cut()  # the restart is offline
    again = KioskProcess(config, data)
    try:
        started = again.wait_for("survey applied", seq=2)
        assert started["at_start"] is True
        assert again.screenshot(tmp_path / "restarted.png") == expected_start_screen(tmp_path, new_version(7))
        reports = office.report_count()
        proxy.restore()
        office.wait_report("applied", 2, after=reports)
        again.wait_for("survey report sent", status="applied", seq=2)
        # The retained copy of seq 2 arrives again on connecting: already held, nothing new.
        again.wait_for("survey assignment from the fleet", retained=True)
        assert not again.logged("survey delivered") and not again.logged("pushed survey refused")
        assert again.stop() == 0, "".join(again.lines[-30:])
    finally:
        if again.popen.poll() is None:
            again.kill()
