"""Fault tests for the whole path kiosk → broker → fleet, with real processes: nothing lost, nothing twice.

Every test runs real ``fleet serve``, Mosquitto and ``kiosk run`` processes (headless, presses
scripted on stdin), injects one fault, and ends with the same count check
(``assert_exactly_once``):

- every UUID in every kiosk outbox is stored by the fleet exactly once, under that kiosk's
  device id, and the fleet stores nothing else;
- every kiosk row ends acknowledged (``sent_at`` set, nothing refused);
- every response whose thank-you the kiosk showed is in its outbox (a response lost before
  it reached the outbox is lost too);

and then that no side logged a protocol problem on the way (``assert_protocol_clean``: an Ack
the kiosk had to ignore, a message the fleet rejected, a crashed sync thread).

Kiosks get small ``[fleet]`` timings (Ack timeout 1 s, reconnect backoff capped at 1 s) so
recovery takes seconds. Waits poll a condition with a deadline; every process runs in its own
process group, which the ``procs`` fixture kills at teardown whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid as uuidlib
from collections import Counter
from pathlib import Path

import pytest

from fleet.broker import BrokerFiles
from kiosk.contract.protocol import PROTOCOL_VERSION, Ack, AnswerPayload, Moment, ResponsePayload, SenderClock, Upload, decode, encode, topic
from kiosk.outbox import DB_FILENAME
from tests import scenarios
from tests.loop_rig import Proc, Processes, add_device, start_broker
from tests.mqtt_helpers import Client, free_port, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FLEET = str(Path(sys.executable).parent / "fleet")
# The tests choose every address and directory themselves: no NABIZ_* setting of the machine leaks in.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("NABIZ_")} | {"SDL_VIDEODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1", "NABIZ_FLEET_HTTP_PORT": "0"}

BACKLOG = 3000  # responses a kiosk collected offline before the fleet came back
#: Press scripts that each complete exactly one response (the fast survey has no misuse window).
CUSTOMERS = ["3\n4\n", "1\n2\n1\n", "4\n1\n"]
#: Recovery in seconds, not minutes: small Ack timeout and reconnect cap, frequent health.
FAST_SYNC = {"ack_timeout_s": 1, "reconnect_max_s": 1, "health_interval_s": 1}


# --- processes ---------------------------------------------------------------------------------


@pytest.fixture
def procs():
    registry = Processes(env=ENV)  # this file's ENV: no fleet web pages (NABIZ_FLEET_HTTP_PORT=0)
    yield registry
    registry.kill_all()


# --- the fleet side ------------------------------------------------------------------------------


def _read_rows(path: Path, sql: str) -> list[tuple]:
    if not path.exists():
        return []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


class Fleet:
    """A fleet data directory, its devices, its server and (``managed=False``) a Mosquitto the
    test runs itself from the files the fleet generates, so the test decides when it is down."""

    def __init__(self, root: Path, procs: Processes, managed: bool) -> None:
        self.dir = root / "fleet"
        self.procs = procs
        self.managed = managed
        self.port = free_port()
        self.files = BrokerFiles(self.dir / "broker")
        self.server: Proc | None = None
        self.broker: Proc | None = None
        self.passwords: dict[str, str] = {}

    def add_device(self, device_id: str, config: Path, **sync: object) -> Path:
        """``fleet device add``: its kiosk config, plus *sync* settings in its [fleet] table."""
        self.passwords[device_id] = add_device(self.dir, device_id, "Fault Lab", config, self.port, sync, env=ENV)
        return config

    def start_broker(self) -> Proc:
        """Our own Mosquitto (``start_broker``)."""
        assert not self.managed
        self.broker = start_broker(self.procs, self.files, self.port)
        return self.broker

    def serve(self) -> Proc:
        args = [FLEET, "serve", "--data-dir", str(self.dir), "--log-format", "json"]
        if self.managed:
            args += ["--bind", "127.0.0.1", "--port", str(self.port)]
        else:
            args += ["--broker", f"mqtt://fleet:{self.files.fleet_password()}@127.0.0.1:{self.port}"]
        server = self.server = self.procs.start("fleet", args)
        wait_until(lambda: any(line.startswith("fleet serving") for line in server.lines) or not server.running, 20, 0.02, "fleet serve to connect")
        assert server.running, server.tail()
        return server

    def kill_server(self) -> None:
        """SIGKILL ``fleet serve`` alone (a managed broker then gets SIGTERM from the kernel, by design)."""
        assert self.server is not None
        self.server.kill(signal.SIGKILL, group=False)

    def stop(self) -> None:
        if self.server is not None and self.server.running:
            self.server.kill(signal.SIGTERM, group=False)
            assert self.server.popen.returncode == 0, self.server.tail()

    def stored(self) -> list[tuple[str, str, float]]:
        """(uuid, device_id, received_at) of every stored response."""
        return _read_rows(self.dir / "fleet.sqlite3", "SELECT uuid, device_id, received_at FROM responses")

    def count(self) -> int:
        rows = _read_rows(self.dir / "fleet.sqlite3", "SELECT COUNT(*) FROM responses")
        return rows[0][0] if rows else 0

    def all_logged(self, message: str) -> list[dict]:
        return [e for p in self.procs.started if p.name == "fleet" for e in p.logged(message)]


# --- the kiosk side ------------------------------------------------------------------------------


class Kiosk:
    """One kiosk's data directory and config; ``start`` runs it (again) as a real process."""

    def __init__(self, procs: Processes, device_id: str, config: Path, data_dir: Path, survey: Path) -> None:
        self.procs = procs
        self.device_id = device_id
        self.config = config
        self.data_dir = data_dir
        self.survey = survey
        self.proc: Proc | None = None
        self.runs: list[Proc] = []
        self._customer = 0

    def start(self, connect: bool = True) -> Proc:
        args = [sys.executable, "-m", "kiosk", "run", "--config", str(self.config), "--headless", "--panel", "stdin",
                "--survey", str(self.survey), "--data-dir", str(self.data_dir), "--log-format", "json"]
        proc = self.proc = self.procs.start(f"kiosk-{self.device_id}", args, stdin=True)
        self.runs.append(proc)
        wait_until(lambda: proc.logged("kiosk running") or not proc.running, 30, 0.02, "the kiosk to run")
        assert proc.running, proc.tail()
        if connect:
            self.wait_connected(proc)
        return proc

    def wait_connected(self, proc: Proc | None = None, count: int = 1) -> None:
        proc = proc or self.proc
        wait_until(lambda: len(proc.logged("connected to the fleet")) >= count, 20, 0.02, "the kiosk to connect")

    def customers(self, count: int, gap: float = 0.0) -> None:
        """*count* customers, each answering a whole survey, *gap* seconds apart."""
        script = []
        for _ in range(count):
            script.append(CUSTOMERS[self._customer % len(CUSTOMERS)])
            self._customer += 1
            if gap:
                script.append(f"wait {gap}\n")
        self.proc.send("".join(script))

    @property
    def thanked(self) -> list[str]:
        """UUIDs of every thank-you screen shown, over all runs of this kiosk."""
        return [e["uuid"] for run in self.runs for e in run.logged("thank-you shown")]

    def thanked_now(self) -> int:
        return len(self.proc.logged("thank-you shown"))

    def rows(self) -> list[tuple[str, float | None, str | None]]:
        """(uuid, sent_at, refused) of every outbox row, oldest first."""
        return _read_rows(self.data_dir / DB_FILENAME, "SELECT uuid, sent_at, refused FROM responses ORDER BY id")

    def acked(self) -> int:
        rows = _read_rows(self.data_dir / DB_FILENAME, "SELECT COUNT(*) FROM responses WHERE sent_at IS NOT NULL")
        return rows[0][0] if rows else 0

    def unsent(self) -> int:
        rows = _read_rows(self.data_dir / DB_FILENAME, "SELECT COUNT(*) FROM responses WHERE sent_at IS NULL")
        return rows[0][0] if rows else 0

    def quit(self) -> None:
        self.proc.send("quit\n")
        code = self.proc.wait_exit(20)
        assert code == 0, self.proc.tail()

    def kill(self) -> None:
        self.proc.kill(signal.SIGKILL)
        assert self.proc.popen.returncode == -signal.SIGKILL

    def all_logged(self, message: str) -> list[dict]:
        return [e for run in self.runs for e in run.logged(message)]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def survey_file(tmp_path_factory) -> Path:
    """The default survey at machine speed: a press on thank-you starts the next customer."""
    path = tmp_path_factory.mktemp("survey") / "fast.toml"
    path.write_text(scenarios.machine_speed_survey_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def backlog_outbox(tmp_path_factory, survey_file) -> Path:
    """An outbox of BACKLOG responses made by a real kiosk of device k1 with no fleet configured
    (weeks offline); each test that needs a backlog copies it."""
    directory = tmp_path_factory.mktemp("backlog")
    config = directory / "offline.kiosk.toml"
    config.write_text('device_id = "k1"\n')  # no [fleet] broker: answers stay on the card
    script = "".join(CUSTOMERS[n % len(CUSTOMERS)] for n in range(BACKLOG)) + "quit\n"
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "run", "--config", str(config), "--headless", "--panel", "stdin",
         "--survey", str(survey_file), "--data-dir", str(directory / "data")],
        input=script, capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = _read_rows(directory / "data" / DB_FILENAME, "SELECT COUNT(*), COUNT(sent_at) FROM responses")
    assert rows == [(BACKLOG, 0)]
    return directory / "data"


def copy_outbox(template: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    for path in template.glob(DB_FILENAME + "*"):
        shutil.copy2(path, data_dir / path.name)


# --- the count check ---------------------------------------------------------------------------


def assert_exactly_once(fleet: Fleet, kiosks: list[Kiosk], extra: dict[str, str] | None = None) -> None:
    """0 lost, 0 duplicated: the outboxes (plus *extra*: uuid → device) and the fleet's store agree."""
    stored = fleet.stored()
    times = Counter(uuid for uuid, _, _ in stored)
    stored_device = {uuid: device for uuid, device, _ in stored}
    expected: dict[str, str] = dict(extra or {})
    problems: list[str] = []
    for kiosk in kiosks:
        rows = kiosk.rows()
        uuids = [uuid for uuid, _, _ in rows]
        if len(uuids) != len(set(uuids)):
            problems.append(f"{kiosk.device_id}: {len(uuids) - len(set(uuids))} uuids twice in the outbox")
        not_in_outbox = set(kiosk.thanked) - set(uuids)
        if not_in_outbox:
            problems.append(f"{kiosk.device_id}: {len(not_in_outbox)} thanked responses missing from the outbox")
        unsent = [uuid for uuid, sent_at, _ in rows if sent_at is None]
        if unsent:
            problems.append(f"{kiosk.device_id}: {len(unsent)} of {len(rows)} outbox rows never acknowledged")
        refused = [uuid for uuid, _, why in rows if why]
        if refused:
            problems.append(f"{kiosk.device_id}: {len(refused)} rows refused by the fleet")
        expected.update((uuid, kiosk.device_id) for uuid in uuids)
    lost = set(expected) - set(times)
    duplicated = [uuid for uuid, n in times.items() if n > 1]
    unexpected = set(times) - set(expected)
    wrong_device = [uuid for uuid, device in expected.items() if uuid in stored_device and stored_device[uuid] != device]
    for label, items in (
        ("lost (in an outbox, not in the fleet)", lost),
        ("duplicated in the fleet", duplicated),
        ("stored but in no outbox", unexpected),
        ("stored under another device", wrong_device),
    ):
        if items:
            problems.append(f"{len(items)} {label}, e.g. {sorted(items)[:3]}")
    summary = f"fleet stores {len(stored)} responses ({len(set(times))} distinct); outboxes hold {len(expected)}"
    assert not problems, summary + "\n" + "\n".join(problems) + "\n" + fleet.procs.tails()


def assert_protocol_clean(fleet: Fleet, kiosks: list[Kiosk]) -> None:
    """Trouble on the way is a bug even when the counts come out right in the end: an Ack the
    kiosk had to ignore, a message the fleet rejected, a crashed sync thread."""
    problems = []
    for kiosk in kiosks:
        for message in ("bad acknowledgement from the fleet ignored", "fleet sync stopped by an unexpected error"):
            entries = kiosk.all_logged(message)
            if entries:
                problems.append(f"{kiosk.device_id} logged {len(entries)}x: {entries[0]['msg'][:300]}")
    rejected = fleet.all_logged("message rejected")
    if rejected:
        problems.append(f"the fleet rejected {len(rejected)} messages, e.g. {rejected[0]}")
    assert not problems, "\n".join(problems)


def all_acknowledged(fleet: Fleet, kiosk: Kiosk, total: int):
    def check() -> bool:
        return kiosk.unsent() == 0 and kiosk.acked() == total and fleet.count() >= total

    return check


# --- the tests ---------------------------------------------------------------------------------


def test_broker_down_for_seconds_while_the_kiosk_takes_presses(tmp_path, procs, survey_file):
    """The broker is SIGKILLed, stays down ~4 s while customers keep answering, and restarts.

    The test runs Mosquitto itself (from the config, passwd and ACL the fleet generates, with
    ``fleet serve --broker``) rather than the managed one, which ``fleet serve`` would restart
    after 1 s: so the test decides how long the outage lasts. SIGKILL rather than a clean stop:
    the broker saves no session state, so the fleet's queued messages are gone too and the
    kiosk must resend. Both clients reconnect on their own (kiosk backoff capped at 1 s,
    the fleet's paho backoff); the kiosk must keep taking presses throughout.
    """
    fleet = Fleet(tmp_path, procs, managed=False)
    config = fleet.add_device("k1", tmp_path / "k1.kiosk.toml", **FAST_SYNC)
    fleet.start_broker()
    fleet.serve()
    kiosk = Kiosk(procs, "k1", config, tmp_path / "k1", survey_file)
    kiosk.start()

    kiosk.customers(20, gap=0.01)
    wait_until(all_acknowledged(fleet, kiosk, 20), 20, what="the first 20 responses acknowledged")

    fleet.broker.kill(signal.SIGKILL)
    down_at = time.monotonic()
    wait_until(lambda: kiosk.proc.logged("disconnected from the fleet"), 10, what="the kiosk to notice the broker is gone")
    kiosk.customers(120, gap=0.04)
    # The outage lasts while 80 customers answer (some 4 s): each one is thanked without a broker.
    wait_until(lambda: kiosk.thanked_now() >= 100, 30, what="80 customers served during the outage")
    outage = time.monotonic() - down_at
    assert outage >= 2.5, f"the outage lasted only {outage:.1f} s"
    assert kiosk.unsent() >= 80, "responses taken during the outage cannot have been acknowledged"
    assert fleet.count() == 20
    fleet.start_broker()

    wait_until(lambda: kiosk.thanked_now() == 140, 30, what="all 140 customers served")
    wait_until(all_acknowledged(fleet, kiosk, 140), 40, what="everything acknowledged after the broker came back")
    assert len(kiosk.proc.logged("connected to the fleet")) >= 2, "the kiosk reconnected"
    kiosk.quit()
    fleet.stop()
    assert_exactly_once(fleet, [kiosk])
    assert_protocol_clean(fleet, [kiosk])


@pytest.mark.parametrize(
    ("broker", "sync", "resends"),
    [
        pytest.param("external", {}, 1, id="external-broker"),
        pytest.param("managed", {}, 0, id="managed-broker"),
        # A kiosk tuned to drain fast (both values within the config's limits), and a fleet down
        # long enough for the broker to queue two resends of its whole window: the restarted
        # fleet takes ~4,000 uuids of k1 in one batch and must not put them in one Ack (the
        # protocol's Ack holds at most 1,600 and 256 kB).
        pytest.param("external", {"window": 8, "batch_size": 200}, 2, id="external-broker-wide-window"),
    ],
)
def test_fleet_sigkilled_mid_batch(tmp_path, procs, survey_file, backlog_outbox, broker, sync, resends):
    """``fleet serve`` is SIGKILLed while a kiosk drains a backlog of 3,000 responses, and restarted.

    external broker (run by the test): it stays up and keeps the fleet's persistent session, so
    the messages the fleet had taken but not PUBACKed come again, together with what the kiosk
    resent for want of an Ack (the test waits for *resends* of them). managed broker: the fleet's
    own Mosquitto dies with it (the kernel SIGTERMs it) and the restarted fleet starts a new
    one; the kiosk reconnects and resends. Either way some responses reach the fleet twice or
    more and must be stored once and acknowledged in Acks the kiosk accepts.
    """
    fleet = Fleet(tmp_path, procs, managed=broker == "managed")
    config = fleet.add_device("k1", tmp_path / "k1.kiosk.toml", **FAST_SYNC, **sync)
    copy_outbox(backlog_outbox, tmp_path / "k1")
    if broker == "external":
        fleet.start_broker()
    fleet.serve()
    kiosk = Kiosk(procs, "k1", config, tmp_path / "k1", survey_file)
    kiosk.start(connect=False)

    # Kill as soon as part of the backlog is in: the fleet is in the middle of its batches.
    wait_until(lambda: fleet.count() >= 300, 30, interval=0.005, what="the fleet to store part of the backlog")
    fleet.kill_server()
    at_kill = fleet.count()
    assert at_kill < BACKLOG, "the fleet was killed after the drain: nothing tested"
    kiosk.customers(10)  # customers keep coming while the fleet is down
    if resends:
        wait_until(lambda: len(kiosk.proc.logged("no acknowledgement from the fleet; sending again")) >= resends, 20, what=f"the kiosk to resend {resends}x")
    else:
        wait_until(lambda: kiosk.proc.logged("disconnected from the fleet"), 15, what="the kiosk to lose the managed broker")
    assert kiosk.unsent() > 0

    fleet.serve()
    wait_until(lambda: kiosk.thanked_now() == 10, 20, what="10 more customers served")
    wait_until(all_acknowledged(fleet, kiosk, BACKLOG + 10), 40, what="the backlog drained after the restart")
    kiosk.quit()
    fleet.stop()
    assert_exactly_once(fleet, [kiosk])
    assert_protocol_clean(fleet, [kiosk])


def test_kiosk_sigkilled_mid_sync_twice(tmp_path, procs, survey_file, backlog_outbox):
    """The kiosk is SIGKILLed twice while it drains a 3,000-response backlog (and serves
    customers), and restarted each time. Rows acknowledged just before a kill may not be
    marked on the card yet: the restarted kiosk sends them again, and the fleet stores them once.
    """
    fleet = Fleet(tmp_path, procs, managed=True)
    config = fleet.add_device("k1", tmp_path / "k1.kiosk.toml", **FAST_SYNC)
    copy_outbox(backlog_outbox, tmp_path / "k1")
    fleet.serve()
    kiosk = Kiosk(procs, "k1", config, tmp_path / "k1", survey_file)

    for cycle, kill_after in enumerate((300, 1500)):
        kiosk.start(connect=False)
        kiosk.customers(20)
        wait_until(lambda kill_after=kill_after: kiosk.acked() >= kill_after, 30, interval=0.005, what=f"cycle {cycle}: the drain to pass {kill_after}")
        kiosk.kill()
        rows = kiosk.rows()
        marked = {uuid for uuid, sent_at, _ in rows if sent_at is not None}
        assert len(marked) < len(rows), f"cycle {cycle}: the kiosk was killed after the drain: nothing tested"
        # An Ack means stored: everything the kiosk marked is in the fleet already.
        in_fleet = {uuid for uuid, _, _ in fleet.stored()}
        assert marked <= in_fleet, f"cycle {cycle}: {len(marked - in_fleet)} rows marked sent that the fleet has not stored"
        assert set(kiosk.thanked) <= {uuid for uuid, _, _ in rows}, "a thanked response is missing after SIGKILL"

    kiosk.start(connect=False)
    kiosk.customers(5)
    wait_until(lambda: kiosk.thanked_now() == 5, 20, what="5 more customers served")
    total = len(kiosk.rows())
    assert total >= BACKLOG + len(kiosk.thanked)  # the kills may have cut some customers short (never thanked)
    wait_until(all_acknowledged(fleet, kiosk, total), 40, what="everything acknowledged after the restarts")
    kiosk.quit()
    fleet.stop()
    assert_exactly_once(fleet, [kiosk])
    assert_protocol_clean(fleet, [kiosk])


def test_lost_acknowledgements_make_resends_harmless(tmp_path, procs, survey_file):
    """Acks that never arrive: the same responses reach the fleet again and change nothing.

    1. A kiosk syncs 30 responses and stops; its outbox is set back to unacknowledged
       (sent_at NULL, as if the Acks had been lost), and it starts again: it resends all 30,
       the fleet acknowledges them again, and its store is unchanged (same rows, same
       received_at: the duplicates were ignored, not written again).
    2. A plain paho client with device k2's login publishes an Upload, gets its Ack, and
       publishes the same Upload again: acknowledged again, still one stored row.
    """
    fleet = Fleet(tmp_path, procs, managed=True)
    config = fleet.add_device("k1", tmp_path / "k1.kiosk.toml", **FAST_SYNC)
    fleet.add_device("k2", tmp_path / "k2.kiosk.toml")
    fleet.serve()
    kiosk = Kiosk(procs, "k1", config, tmp_path / "k1", survey_file)
    kiosk.start()
    kiosk.customers(30, gap=0.01)
    wait_until(lambda: kiosk.thanked_now() == 30, 20, what="30 customers served")
    wait_until(all_acknowledged(fleet, kiosk, 30), 20, what="30 responses acknowledged")
    kiosk.quit()

    before = sorted(fleet.stored())
    first_acks = {uuid: sent_at for uuid, sent_at, _ in kiosk.rows()}
    connection = sqlite3.connect(kiosk.data_dir / DB_FILENAME)
    with connection:
        assert connection.execute("UPDATE responses SET sent_at = NULL").rowcount == 30
    connection.close()
    assert kiosk.unsent() == 30

    kiosk.start()
    wait_until(all_acknowledged(fleet, kiosk, 30), 20, what="the resent responses acknowledged again")
    assert sorted(fleet.stored()) == before, "a resend changed the fleet's store"
    again = {uuid: sent_at for uuid, sent_at, _ in kiosk.rows()}
    assert again.keys() == first_acks.keys()
    assert all(again[uuid] > first_acks[uuid] for uuid in again), "every response was acknowledged a second time"

    # The same Upload published twice by a plain MQTT client.
    response_uuid = str(uuidlib.uuid4())
    now = time.time()
    upload = Upload(
        v=PROTOCOL_VERSION,
        device_id="k2",
        sent=SenderClock(now, time.monotonic(), True, "boot-k2"),
        responses=[
            ResponsePayload(
                uuid=response_uuid, device_id="k2", survey_id="exit-default", survey_version=1, language="tr", status="completed",
                misuse=False, negative=False, end_reason="completed",
                answers=[AnswerPayload(question="satisfaction", option="happy", button=3, negative=False, elapsed_ms=0)],
                presses=[3], started=Moment(now - 5, 100.0), finished=Moment(now - 4, 101.0), boot_id="boot-k2", clock_synced=True,
            )
        ],
    )
    client = Client(fleet.port, "k2", fleet.passwords["k2"], client_id="k2").connect()  # its login is bound to its id
    try:
        assert client.accepted
        client.subscribe(topic("k2", "ack"))
        payload = encode(upload)
        for attempt in (1, 2):  # the second time as if the first Ack had been lost
            client.publish(topic("k2", "responses"), payload)
            ack = decode("ack", client.get(timeout=15).payload)
            assert isinstance(ack, Ack) and not ack.refused
            assert [str(u) for u in ack.stored] == [response_uuid], f"Ack {attempt}"
            assert fleet.count() == 31, f"after Upload {attempt}"
    finally:
        client.close()

    kiosk.quit()
    fleet.stop()
    assert_exactly_once(fleet, [kiosk], extra={response_uuid: "k2"})
    assert_protocol_clean(fleet, [kiosk])


# --- hostile input and re-provisioned cards (issue 7) ------------------------------------------
# These end with the same count check for the honest kiosk; what the hostile or misattributed
# side sent must not be stored at all.


def deep_json(depth: int = 1000) -> str:
    return "[" * depth + "]" * depth


def poison_uploads(device_id: str) -> list[bytes]:
    """The issue's message (JSON nested 1,000 deep, ~2 KB) on the envelope and inside a response field."""
    now = time.time()
    response = {
        "uuid": str(uuidlib.uuid4()), "survey_id": "exit-default", "survey_version": 1, "language": "tr", "status": "completed",
        "misuse": False, "negative": False, "end_reason": "completed", "answers": "@DEEP@", "presses": [3],
        "started": {"wall": now, "monotonic": 10.0}, "finished": {"wall": now, "monotonic": 11.0}, "boot_id": "b", "clock_synced": True,
    }
    inside = {"v": 1, "device_id": device_id, "sent": {"wall": now, "monotonic": 12.0, "clock_synced": True, "boot_id": "b"}, "responses": [response]}
    return [
        f'{{"v":1,"x":{deep_json()}}}'.encode(),
        json.dumps(inside).replace('"@DEEP@"', deep_json()).encode(),
    ]


def test_a_poison_message_cannot_stop_the_fleet_even_after_a_restart(tmp_path, procs, survey_file):
    """Defect 1: any logged-in kiosk could stop ``fleet serve`` for good with one deeply nested
    message: msgspec raised RecursionError, the process died, and the broker handed the message
    back to the restarted fleet's persistent session, which died again.

    Here a second device publishes the poison while the fleet runs, and again while it is down
    (the broker queues it for the fleet's session): the fleet refuses each with its reason,
    keeps storing the honest kiosk's answers, and the next restart gets nothing back.
    """
    fleet = Fleet(tmp_path, procs, managed=False)  # our broker outlives the fleet's restarts and keeps its session
    config = fleet.add_device("k1", tmp_path / "k1.kiosk.toml", **FAST_SYNC)
    fleet.add_device("mallory", tmp_path / "mallory.kiosk.toml")
    fleet.start_broker()
    fleet.serve()
    kiosk = Kiosk(procs, "k1", config, tmp_path / "k1", survey_file)
    kiosk.start()

    def publish_poison() -> None:
        mallory = Client(fleet.port, "mallory", fleet.passwords["mallory"], client_id="mallory").connect()
        try:
            assert mallory.accepted
            for payload in poison_uploads("mallory"):
                mallory.publish(topic("mallory", "responses"), payload)
        finally:
            mallory.close()

    def refused_poison() -> list[dict]:
        return [e for e in fleet.server.logged("message rejected") if "nested too deeply" in e.get("reason", "")]

    publish_poison()
    kiosk.customers(3)
    wait_until(all_acknowledged(fleet, kiosk, 3), 20, what="answers stored while the poison arrived")
    wait_until(lambda: len(refused_poison()) == 2, 10, what="both poison messages refused with their reason")
    assert fleet.server.running, fleet.server.tail()

    fleet.stop()
    publish_poison()  # queued by the broker for the fleet's persistent session
    kiosk.customers(3)
    wait_until(lambda: kiosk.thanked_now() == 6, 20, what="3 more customers while the fleet is down")
    fleet.serve()
    wait_until(all_acknowledged(fleet, kiosk, 6), 30, what="everything stored after a restart that began with the poison")
    wait_until(lambda: len(refused_poison()) == 2, 10, what="the queued poison refused")
    assert fleet.server.running, fleet.server.tail()

    fleet.stop()
    fleet.serve()
    kiosk.customers(2)
    wait_until(all_acknowledged(fleet, kiosk, 8), 30, what="answers after one more restart")
    assert refused_poison() == [], "the poison was acknowledged to the broker: nothing handed back"
    kiosk.quit()
    fleet.stop()
    assert_exactly_once(fleet, [kiosk])
    device = _read_rows(fleet.dir / "fleet.sqlite3", "SELECT rejected_messages, last_rejection FROM devices WHERE device_id = 'mallory'")
    assert device[0][0] == 4 and "nested too deeply" in device[0][1]


def test_a_reprovisioned_kiosk_keeps_the_answers_of_its_old_id(tmp_path, procs, survey_file):
    """Defect 7: answers recorded as one device were sent, and stored, under the kiosk's new id
    after a config for another device was installed. Here a card records 4 answers as kiosk-a
    (offline), then runs with kiosk-b's config: the 4 are refused by the fleet with a reason
    naming both ids, stay on the card (``kiosk responses`` lists them), and nothing of them is
    stored under kiosk-b (nor under kiosk-a: kiosk-b's login cannot speak for it)."""
    fleet = Fleet(tmp_path, procs, managed=True)
    fleet.add_device("kiosk-a", tmp_path / "kiosk-a.kiosk.toml")
    config_b = fleet.add_device("kiosk-b", tmp_path / "kiosk-b.kiosk.toml", **FAST_SYNC)
    card = tmp_path / "card"
    offline = tmp_path / "kiosk-a.offline.toml"
    offline.write_text('device_id = "kiosk-a"\n')  # no [fleet]: the answers stay on the card
    before = Kiosk(procs, "kiosk-a", offline, card, survey_file)
    before.start(connect=False)
    before.customers(4)
    wait_until(lambda: before.thanked_now() == 4, 20, what="4 answers recorded as kiosk-a")
    before.quit()
    recorded_as_a = [uuid for uuid, _, _ in before.rows()]
    assert len(recorded_as_a) == 4

    fleet.serve()
    kiosk = Kiosk(procs, "kiosk-b", config_b, card, survey_file)
    kiosk.start()
    kiosk.customers(2)
    wait_until(lambda: kiosk.thanked_now() == 2, 20, what="2 answers as kiosk-b")
    wait_until(lambda: sum(1 for _, sent_at, refused in kiosk.rows() if sent_at or refused) == 6, 20, what="every answer acknowledged or refused")

    rows = {uuid: (sent_at, refused) for uuid, sent_at, refused in kiosk.rows()}
    for uuid in recorded_as_a:
        sent_at, refused = rows[uuid]
        assert sent_at is None and "'kiosk-a'" in refused and "'kiosk-b'" in refused and "fix:" in refused
    stored = fleet.stored()
    assert {device for _, device, _ in stored} == {"kiosk-b"} and len(stored) == 2
    assert not set(recorded_as_a) & {uuid for uuid, _, _ in stored}
    (warning,) = kiosk.proc.logged("4 answers on this card were recorded as device 'kiosk-a'")
    assert "fix:" in warning["msg"]
    assert fleet.server.logged("responses refused")

    kiosk.quit()
    listed = subprocess.run([sys.executable, "-m", "kiosk", "responses", "--data-dir", str(card)], capture_output=True, text=True, timeout=30, env=ENV, cwd=ROOT, check=False)
    assert listed.returncode == 0, listed.stderr
    kept = {row["uuid"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert all(kept[uuid]["device_id"] == "kiosk-a" and "kiosk-b" in kept[uuid]["refused"] for uuid in recorded_as_a)
    fleet.stop()
