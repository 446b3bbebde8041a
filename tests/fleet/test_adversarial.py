"""A stolen kiosk attacks the fleet: what it tries, and the precise outcome of each try.

It logs in with its own, valid credentials to the real managed broker of a real ``fleet serve
--workers 2`` (two ingest processes on one shared subscription, the setup where issue 7 found
the theft), and tries to act as another client, to read and write other devices' topics, to
join shared groups and ``$SYS``, and to flood. Each try asserts what the broker answered
(CONNACK, SUBACK or PUBACK reason code) and what did not happen (a message delivered, a kiosk
or worker knocked off). Throughout, another kiosk (the *victim*) keeps uploading, and every
one of its uploads must be stored and acknowledged the first time, well within a kiosk's ack
timeout: no resend needed.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fleet.broker import FLEET_USER
from fleet.link import BrokerURL, FleetLink
from kiosk.contract.protocol import DOWNSTREAM, PROTOCOL_VERSION, UPSTREAM, Ack, HelpUpdate, decode, encode, topic
from kiosk.contract.transport import BrokerAddress
from kiosk.sync.link import MqttLink
from tests.mqtt_helpers import Client, free_port, upload, wait_until

FLEET = str(Path(sys.executable).parent / "fleet")
NOT_AUTHORIZED = 135
#: A kiosk resends what is not acknowledged after 30 s; the victim's answers must be stored well before.
NO_RESEND_S = 10.0


class FleetProcess:
    """``fleet serve --workers 2`` with its managed broker, and the devices registered before it started."""

    def __init__(self, root: Path) -> None:
        self.data = root / "fleet"
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NABIZ_")} | {"NABIZ_FLEET_DATA": str(self.data), "NABIZ_FLEET_HTTP_PORT": "0"}
        self.passwords: dict[str, str] = {}
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def add(self, device_id: str) -> None:
        out = self.data.parent / f"{device_id}.toml"
        result = self.cli("device", "add", device_id, "--site", "Red Team", "--out", str(out), "--broker-url", f"mqtt://127.0.0.1:{self.port}", "--allow-loopback")
        assert result.returncode == 0, result.stderr
        self.passwords[device_id] = json.loads(out.read_text().split("password = ", 1)[1].splitlines()[0])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FLEET, *args], capture_output=True, text=True, timeout=60, env=self.env)

    def start(self) -> None:
        args = [FLEET, "serve", "--workers", "2", "--bind", "127.0.0.1", "--port", str(self.port), "--log-format", "json"]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(lambda: self.logged("fleet serving") or self.process.poll() is not None, 30, what="fleet serve --workers 2")
        assert self.running, self.tail()

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def logged(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def tail(self) -> str:
        return "\n".join(self.lines[-30:])

    def stored(self, device_id: str) -> set[str]:
        connection = sqlite3.connect(f"file:{self.data / 'fleet.sqlite3'}?mode=ro", uri=True, timeout=10)
        try:
            return {row[0] for row in connection.execute("SELECT uuid FROM responses WHERE device_id = ?", (device_id,))}
        finally:
            connection.close()

    def device(self, device_id: str) -> dict:
        listing = self.cli("device", "list", "--format", "json")
        return next(json.loads(line) for line in listing.stdout.splitlines() if json.loads(line)["device_id"] == device_id)

    def login(self, device_id: str, client_id: str | None = None) -> Client:
        return Client(self.port, device_id, self.passwords[device_id], client_id=client_id or device_id).connect()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    running = FleetProcess(tmp_path_factory.mktemp("adversarial"))
    for device_id in ("intruder", "victim", "twin"):
        running.add(device_id)
    running.start()
    yield running
    running.stop()
    assert running.process.returncode == 0, running.tail()


@pytest.fixture
def intruder(fleet):
    client = fleet.login("intruder")
    assert client.accepted, "the stolen kiosk's own login works"
    yield client
    client.close()


@pytest.fixture
def victim(fleet):
    client = fleet.login("victim")
    assert [r.value for r in client.subscribe(topic("victim", "ack"))] == [1]
    yield client
    client.close()


def uploads_acknowledged_first_time(fleet: FleetProcess, victim: Client, count: int) -> None:
    """The victim publishes *count* uploads, each once, and every one is stored and acknowledged
    within NO_RESEND_S: the answer a real kiosk waits for before it would resend."""
    sent: set[str] = set()
    for _ in range(count):
        payload, uuids = upload("victim", 1, boot_id="boot-victim")
        assert victim.publish(topic("victim", "responses"), payload).value == 0
        sent.update(uuids)
    acknowledged: set[str] = set()
    deadline = time.monotonic() + NO_RESEND_S
    while acknowledged < sent:
        try:
            message = victim.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"{len(sent - acknowledged)} of {count} uploads not acknowledged within {NO_RESEND_S} s: a kiosk would have to resend them") from None
        ack = decode("ack", message.payload)
        assert isinstance(ack, Ack) and not ack.refused
        acknowledged.update(str(u) for u in ack.stored)
    assert sent <= fleet.stored("victim")


def nothing_arrives(client: Client, wait: float = 0.5) -> None:
    try:
        message = client.get(timeout=wait)
    except queue.Empty:
        return
    raise AssertionError(f"{message.topic} reached a client that must not read it")


# --- acting as another client (issue 7, defect 2) ----------------------------------------------


@pytest.mark.parametrize("client_id", ["victim", "nabiz-fleet", "nabiz-fleet-1", "nabiz-fleet-2", "nabiz-fleet-admin-0123456789ab", "twin-2"])
def test_a_kiosk_cannot_connect_with_another_clients_id(fleet, victim, client_id):
    before = len(fleet.logged("fleet disconnected from the broker"))
    impostor = Client(fleet.port, "intruder", fleet.passwords["intruder"], client_id=client_id)
    try:
        impostor.connect()
        assert impostor.reason.value == NOT_AUTHORIZED, f"CONNACK for client id {client_id!r}: {impostor.reason}"
    finally:
        impostor.close()
    assert not victim.disconnected.is_set(), "the victim kept its connection"
    assert len(fleet.logged("fleet disconnected from the broker")) == before, "no fleet worker was knocked off"


def test_knocking_in_a_loop_never_takes_a_worker_off(fleet, victim):
    """Issue 7 knocked the fleet off 6 times in 6 s this way."""
    for _ in range(20):
        impostor = Client(fleet.port, "intruder", fleet.passwords["intruder"], client_id="nabiz-fleet-1")
        impostor.connect()
        assert impostor.reason.value == NOT_AUTHORIZED
        impostor.close()
    assert not fleet.logged("fleet disconnected from the broker") and not fleet.logged("fleet worker exited")
    uploads_acknowledged_first_time(fleet, victim, 5)


def test_a_single_fleets_persistent_session_survives_a_kiosk_using_its_client_id(store, broker, caplog):
    """A fleet without workers keeps a persistent session under ``nabiz-fleet``; a kiosk that
    connected with that id took it over and the session was gone (``session_present=False``)."""
    from fleet import devices

    password = devices.add_device("intruder", "Red Team")
    devices.sync_broker(broker.files, put={"intruder": password})
    url = BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False)
    caplog.set_level("INFO", logger="fleet.link")
    link = FleetLink(url, client_id="nabiz-fleet")
    link.start()
    try:
        for _ in range(6):
            impostor = Client(broker.port, "intruder", password, client_id="nabiz-fleet")
            impostor.connect()
            assert impostor.reason.value == NOT_AUTHORIZED
            impostor.close()
        assert link.connected.is_set() and not [r for r in caplog.records if r.getMessage().startswith("fleet disconnected")]
    finally:
        link.stop()
    again = FleetLink(url, client_id="nabiz-fleet")
    again.start()
    again.stop()
    connects = [r for r in caplog.records if r.getMessage() == "fleet connected to the broker"]
    assert [r.session_present for r in connects] == [False, True], "the session the broker kept for the fleet is still there"


# --- reading what is not its own (defect 3) ----------------------------------------------------

FORBIDDEN_FILTERS = [
    "$share/nabiz-fleet/nabiz/+/responses",  # the fleet's group, as docs/fleet.md names it
    "$share/nabiz-fleet/nabiz/+/status",
    "$share/nabiz-fleet/nabiz/+/health",
    "$share/anything/nabiz/+/responses",
    "$share/x/nabiz/intruder/ack",  # even its own topic, in a group
    "$share/x/nabiz/intruder/help",
    "$SYS/#",
    "$SYS/broker/clients/connected",
    "$CONTROL/dynamic-security/v1/response",
    "#",
    "+/+/+",
    "nabiz/#",
    "nabiz/+/responses",
    "nabiz/+/ack",
    "nabiz/+/help",
    "nabiz/victim/ack",
    "nabiz/victim/help",
    "nabiz/victim/responses",
    "nabiz/intruder/responses",  # its own upstream: the fleet reads it, the kiosk has no need
    "nabiz/intruder/#",
]


def test_a_kiosk_may_subscribe_to_its_own_downstream_channels_and_nothing_else(intruder):
    for channel in DOWNSTREAM:
        assert [r.value for r in intruder.subscribe(topic("intruder", channel))] == [1], f"its own {channel}: granted"
    for name in FORBIDDEN_FILTERS:
        assert [r.value for r in intruder.subscribe(name)] == [NOT_AUTHORIZED], f"SUBACK for {name!r}"


def test_joining_the_fleets_shared_group_steals_nothing(fleet, intruder, victim):
    """Issue 7: with the group joined, only 10 of 30 of another kiosk's uploads were
    acknowledged without a resend. Now the SUBSCRIBE is refused and all 30 are."""
    for name in FORBIDDEN_FILTERS[:4]:
        assert [r.value for r in intruder.subscribe(name)] == [NOT_AUTHORIZED]
    uploads_acknowledged_first_time(fleet, victim, 30)
    nothing_arrives(intruder)


def test_refused_subscriptions_are_logged_by_the_kiosk_and_the_fleet(store, broker, caplog):
    """With the wrong login (here: a fleet configured with a kiosk's), nothing would ever
    arrive; the SUBACK says so, and both sides log it as an error instead of waiting forever."""
    from fleet import devices

    password = devices.add_device("intruder", "Red Team")
    devices.sync_broker(broker.files, put={"intruder": password})
    caplog.set_level("ERROR")
    wrong_fleet = FleetLink(BrokerURL("127.0.0.1", broker.port, "intruder", password, False), client_id="intruder")
    wrong_fleet.start()
    try:
            wait_until(lambda: len(wrong_fleet.refused_subscriptions) == len(UPSTREAM), 5, what="a refused SUBACK for each upstream channel")
    finally:
        wrong_fleet.stop()
    assert wrong_fleet.refused_subscriptions == ["nabiz/+/responses", "nabiz/+/status", "nabiz/+/health"]
    assert [r.filter for r in caplog.records if r.getMessage().startswith("the broker refused the fleet's subscription")] == wrong_fleet.refused_subscriptions

    other = [(topic("victim", channel), 1) for channel in DOWNSTREAM]
    kiosk = MqttLink("intruder", BrokerAddress.parse(f"mqtt://127.0.0.1:{broker.port}"), "intruder", password, on_event=lambda event: None, subscriptions=other)
    kiosk.start()
    try:
        wait_until(lambda: len(kiosk.refused_subscriptions) == len(other), 5, what="the kiosk's refused SUBACKs")
    finally:
        kiosk.stop()
    errors = [r.getMessage() for r in caplog.records if r.name == "kiosk.sync.link"]
    assert [e.split(" (")[0] for e in errors] == ["the broker refused this kiosk's subscription to nabiz/victim/ack", "the broker refused this kiosk's subscription to nabiz/victim/help"]


# --- writing what is not its own --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "nabiz/victim/responses", "nabiz/victim/status", "nabiz/victim/health", "nabiz/victim/ack", "nabiz/victim/help", "nabiz/intruder/ack", "nabiz/intruder/help",
        "nabiz/nabiz-fleet/ack", "nabiz/intruder/other", "$CONTROL/dynamic-security/v1", "$SYS/broker/x", "elsewhere",
    ],
)
def test_a_kiosk_cannot_publish_on_topics_not_its_own(fleet, intruder, victim, name):
    forged, uuids = upload("victim", 1, boot_id="boot-forged")
    assert intruder.publish(name, forged).value == NOT_AUTHORIZED, f"PUBACK for {name!r}"
    nothing_arrives(victim, 0.3)
    assert not set(uuids) & fleet.stored("victim"), "nothing forged was stored"


def test_forgeries_leave_the_victims_record_clean(fleet, intruder, victim):
    for channel in ("responses", "status", "health"):
        intruder.publish(topic("victim", channel), b'{"v":1}')
    uploads_acknowledged_first_time(fleet, victim, 3)
    assert fleet.device("victim")["rejected_messages"] == 0, "no rejection was counted against the victim"


def test_help_reaches_only_the_kiosk_it_is_for_and_no_kiosk_can_forge_one(fleet, intruder, victim):
    """The fleet's login publishes a (retained) help update for the victim: the victim receives
    it; the intruder, subscribed to its own help, gets nothing, cannot subscribe to the
    victim's, and cannot publish one for the victim or for itself."""
    assert [r.value for r in victim.subscribe(topic("victim", "help"))] == [1]
    assert [r.value for r in intruder.subscribe(topic("intruder", "help"))] == [1]
    assert [r.value for r in intruder.subscribe(topic("victim", "help"))] == [NOT_AUTHORIZED]
    forged = encode(HelpUpdate(v=PROTOCOL_VERSION, alert_id=1, response_uuid="forged", state="closed", at=1.0))
    for name in (topic("victim", "help"), topic("intruder", "help")):
        assert intruder.publish(name, forged).value == NOT_AUTHORIZED, name
    staff = Client(fleet.port, FLEET_USER, (fleet.data / "broker" / "fleet.secret").read_text().strip(), client_id="nabiz-fleet-test-help").connect()
    try:
        update = encode(HelpUpdate(v=PROTOCOL_VERSION, alert_id=7, response_uuid="560d4543-c907-46e9-b94a-bd95674a79c5", state="coming", at=1_796_026_241.0, staff="Ayşe"))
        assert not staff.publish(topic("victim", "help"), update, retain=True).is_failure
        message = victim.get()
        assert (message.topic, message.payload) == (topic("victim", "help"), update), "the fleet's update, not the forged one"
        nothing_arrives(intruder)
        assert not staff.publish(topic("victim", "help"), b"", retain=True).is_failure, "the fleet clears it"
        assert victim.get().payload == b""
    finally:
        staff.close()


# --- flooding -------------------------------------------------------------------------------


def test_a_flooding_kiosk_does_not_starve_another(fleet, intruder, victim):
    """Thousands of junk messages and oversize payloads on its own topics: the fleet rejects them
    and keeps storing the victim's answers the first time."""
    own = topic("intruder", "responses")
    for n in range(3000):
        intruder.client.publish(own, b"x" * (n % 500), qos=n % 2)
    for _ in range(3):  # over the protocol's 256 KiB, under the broker's packet limit: the fleet refuses them
        intruder.client.publish(own, b"{" * (300 * 1024), qos=1)
    uploads_acknowledged_first_time(fleet, victim, 20)
    intruder.client.publish(own, b"y" * (2 * 1024 * 1024), qos=1)  # over the broker's 1 MiB limit: it drops the kiosk
    assert intruder.disconnected.wait(5), "the broker disconnected the kiosk that sent an oversize packet"
    uploads_acknowledged_first_time(fleet, victim, 5)
    wait_until(lambda: fleet.device("intruder")["rejected_messages"] > 0, 15, interval=0.5, what="the junk to be rejected and counted")
    assert fleet.running and not fleet.logged("fleet worker exited"), "the fleet and both workers stayed up"


# --- two kiosks with one config (defect 9) ---------------------------------------------------


def test_two_kiosks_with_one_config_show_as_an_id_conflict(fleet):
    """Two real kiosk links share one config (a copied SD card). They knock each other off in
    turn; the fleet sees their two boot ids alternate and says so in ``fleet device list``."""
    address = BrokerAddress.parse(f"mqtt://127.0.0.1:{fleet.port}")
    links = [
        MqttLink("twin", address, "twin", fleet.passwords["twin"], on_event=lambda event: None, software="nabiz-kiosk/test", boot_id=boot)
        for boot in ("boot-first", "boot-second")
    ]
    for link in links:
        link.start()
    try:
        wait_until(lambda: fleet.device("twin")["state"] == "id-conflict", 30, interval=0.5, what="the fleet to see two kiosks under one id")
    finally:
        for link in links:
            link.stop()
    twin = fleet.device("twin")
    assert twin["id_conflict_boot_ids"] == ["boot-first", "boot-second"] and twin["id_conflict_at"] is not None
    assert len(fleet.logged("two or more kiosks use one device id")) == 1, "warned once, not at every knock"
    listing = fleet.cli("device", "list")
    assert "id-conflict" in listing.stdout and "warning: twin: 2 kiosks use this one device id" in listing.stderr

