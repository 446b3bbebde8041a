"""The fleet server and a real kiosk sync, in one process, over the real managed broker.

The kiosk side is the real ``FleetSync`` (its own thread, a real outbox file); the fleet side
is the real ``FleetLink`` + ``FleetServer`` on a thread, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import ClassVar

import pytest

from fleet import devices
from fleet.broker import FLEET_USER
from fleet.ingest import Ingest, Received
from fleet.link import BrokerURL, FleetLink, LinkError
from fleet.server import FleetServer
from fleet.store import Device, StoredResponse, database
from kiosk.clock import SystemClock
from kiosk.config import SyncSettings
from kiosk.outbox import Outbox
from kiosk.sync.worker import FleetSync
from tests.kiosk.test_outbox import record
from tests.mqtt_helpers import Client, wait_for_login, wait_until


class RunningFleet:
    def __init__(self, broker, ingest: type[Ingest] = Ingest) -> None:
        self.broker = broker
        self.ingest = ingest
        self.url = BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False)
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.server: FleetServer | None = None

    def start(self) -> RunningFleet:
        self.stop_event = threading.Event()
        link = FleetLink(self.url, client_id="nabiz-fleet-test")
        link.start()
        self.server = FleetServer(link, self.ingest(), inactivity_s=30)
        self.thread = threading.Thread(target=self.server.run, args=(self.stop_event,), daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread:
            self.thread.join(5)
        if self.server:
            self.server.link.stop()


@pytest.fixture
def fleet(store, broker):
    running = RunningFleet(broker).start()
    yield running
    running.stop()


@pytest.fixture
def kiosk_password(store, broker):
    password = devices.add_device("kiosk-1", "Bursa Nilüfer")
    devices.sync_broker(broker.files, put={"kiosk-1": password})
    wait_for_login(broker.port, "kiosk-1", password)
    return password


@pytest.fixture
def outbox(tmp_path):
    box = Outbox("kiosk-1", "boot-1").open(tmp_path / "kiosk")
    yield box
    box.close()


def start_sync(outbox, port, password, **settings) -> FleetSync:
    options = {"ack_timeout_s": 2.0, "health_interval_s": 1.0, "reconnect_max_s": 2.0, **settings}
    config = SyncSettings(broker=f"mqtt://127.0.0.1:{port}", password=password, **options)
    return FleetSync(config, "kiosk-1", outbox, SystemClock(), "boot-1", "nabiz-kiosk/test", ("exit-default", 4)).start()


def fleet_uuids() -> list[str]:
    return sorted(r.uuid for r in StoredResponse.select(StoredResponse.uuid))


def test_answers_reach_the_fleet_once_and_leave_the_backlog(fleet, broker, kiosk_password, outbox):
    made = [outbox.save(record()) for _ in range(5)]  # made offline, before the sync starts
    sync = start_sync(outbox, broker.port, kiosk_password)
    try:
        made += [outbox.save(record())]
        sync.saved()
        wait_until(lambda: outbox.health().unsent == 0, what="every answer acknowledged")
        assert fleet_uuids() == sorted(made)
        wait_until(lambda: Device.get_by_id("kiosk-1").backlog == 0, what="a health report")
        device = Device.get_by_id("kiosk-1")
        assert device.online and device.software == "nabiz-kiosk/test" and device.survey_version == 4
    finally:
        sync.stop()
    wait_until(lambda: not Device.get_by_id("kiosk-1").online, what="the goodbye status")
    assert Device.get_by_id("kiosk-1").status_reason == "shutdown"


def test_a_kiosk_that_vanishes_is_shown_offline_by_its_will(fleet, broker, kiosk_password):
    will = b'{"v":1,"device_id":"kiosk-1","online":false,"reason":"lost"}'
    kiosk = Client(broker.port, "kiosk-1", kiosk_password, client_id="kiosk-1", will=("nabiz/kiosk-1/status", will)).connect()
    kiosk.publish("nabiz/kiosk-1/status", b'{"v":1,"device_id":"kiosk-1","online":true}')
    wait_until(lambda: Device.get_by_id("kiosk-1").online, what="online")
    kiosk.client.loop_stop()
    kiosk.client.socket().shutdown(socket.SHUT_RDWR)  # the link drops without a DISCONNECT: the broker sends the will
    wait_until(lambda: Device.get_by_id("kiosk-1").status_reason == "lost", timeout=15, what="the will")


def test_answers_made_while_the_fleet_is_down_arrive_when_it_returns(fleet, broker, kiosk_password, outbox):
    sync = start_sync(outbox, broker.port, kiosk_password)
    try:
        first = outbox.save(record())
        sync.saved()
        wait_until(lambda: outbox.health().unsent == 0, what="the first answer")
        fleet.stop()
        later = [outbox.save(record()) for _ in range(3)]
        for _ in later:
            sync.saved()
        wait_until(lambda: sync.engine.stats.published_responses >= 4, what="the answers published to the broker")
        assert outbox.health().unsent == 3, "published, but the fleet has not stored them: still unsent"
        fleet.start()
        wait_until(lambda: outbox.health().unsent == 0, timeout=15, what="the backlog after the fleet returned")
        assert fleet_uuids() == sorted([first, *later])
    finally:
        sync.stop()


def test_a_refused_login_says_how_to_fix_it_and_keeps_answers(fleet, broker, kiosk_password, outbox, caplog):
    caplog.set_level(logging.ERROR, logger="kiosk.sync.link")
    made = outbox.save(record())
    sync = start_sync(outbox, broker.port, "not-the-password", reconnect_max_s=60.0)
    try:
        wait_until(lambda: any("refused this kiosk's login" in r.getMessage() for r in caplog.records), what="the login error")
        (line,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert "username and password" in line and "revoked" in line
        backoff = sync.link.backoff
        assert backoff.first * 2 ** (backoff.attempts - 1) >= backoff.cap, "backed off to the cap at once"
        assert [r["uuid"] for r in outbox.responses(unsent_only=True)] == [made]
    finally:
        sync.stop()
    assert StoredResponse.select().count() == 0


def test_the_fleet_refuses_to_start_with_a_wrong_login(broker):
    with pytest.raises(LinkError, match="did not accept the fleet's login"):
        FleetLink(BrokerURL("127.0.0.1", broker.port, FLEET_USER, "wrong", False), client_id="x").start(timeout=3)


def test_the_fleet_says_so_when_no_broker_listens():
    from tests.mqtt_helpers import free_port

    with pytest.raises(LinkError, match="cannot reach the broker"):
        FleetLink(BrokerURL("127.0.0.1", free_port(), FLEET_USER, "x", False)).start(timeout=2)


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_dropped_database_connection_is_retried_and_nothing_is_lost(fleet, broker, kiosk_password, outbox, store_url, caplog):
    """PostgreSQL restarts or a proxy drops the connection: the batch in hand is not
    acknowledged, the fleet reconnects and stores it, the kiosk never notices."""
    import psycopg2

    caplog.set_level(logging.ERROR, logger="fleet.server")
    sync = start_sync(outbox, broker.port, kiosk_password)
    try:
        first = outbox.save(record())
        sync.saved()
        wait_until(lambda: outbox.health().unsent == 0, what="the first answer")
        with psycopg2.connect(store_url) as admin, admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        database.close()  # this test's own connection went too; the next query opens a new one
        later = [outbox.save(record()) for _ in range(3)]
        for _ in later:
            sync.saved()
        wait_until(lambda: outbox.health().unsent == 0, timeout=20, what="the answers after the reconnect")
        assert any("cannot store a batch" in r.getMessage() for r in caplog.records), "the failure was seen and logged"
        assert fleet_uuids() == sorted([first, *later])
    finally:
        sync.stop()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_message_the_store_cannot_hold_is_set_aside_and_the_fleet_goes_on(fleet, broker, kiosk_password, outbox, caplog):
    from tests.protocol_factories import response, upload

    caplog.set_level(logging.ERROR, logger="fleet.server")
    database.execute_sql("ALTER TABLE devices ALTER COLUMN site TYPE text")  # a registry wider than the responses' column
    password = devices.add_device("kiosk-long", "x" * 100)
    Device.update(site="y" * 300).where(Device.device_id == "kiosk-long").execute()
    devices.sync_broker(broker.files, put={"kiosk-long": password})
    wait_for_login(broker.port, "kiosk-long", password)
    poison = Client(broker.port, "kiosk-long", password, client_id="kiosk-long").connect()
    try:
        poison.publish("nabiz/kiosk-long/responses", upload([response()], device_id="kiosk-long"))
    finally:
        poison.close()
    sync = start_sync(outbox, broker.port, kiosk_password)
    try:
        good = outbox.save(record())
        sync.saved()
        wait_until(lambda: outbox.health().unsent == 0, what="the good answer, past the poison")
        assert fleet_uuids() == [good]
        assert any("cannot be stored; set aside" in r.getMessage() for r in caplog.records)
        assert fleet.thread.is_alive()
    finally:
        sync.stop()


class UnsyncedClock:
    """A Pi whose NTP never answered: the right monotonic time, a wall clock years off."""

    def now(self):
        from kiosk.contract.clock import Instant

        return Instant(time.monotonic(), time.time() - 3 * 365 * 86400, False)


@pytest.mark.slow
def test_an_unsynced_kiosks_answer_is_dated_right_even_after_the_fleet_was_down(fleet, broker, kiosk_password, outbox):
    """The broker drops an Upload it held longer than upload_expiry_s, and the kiosk's resends
    carry fresh clocks: the answer is dated at most upload_expiry_s late, not as late as the
    fleet's downtime (6 s here; without the expiry the first copy would be 6 s late)."""
    from kiosk.flow import ResponseRecord

    clock = UnsyncedClock()
    settings = SyncSettings(broker=f"mqtt://127.0.0.1:{broker.port}", password=kiosk_password, ack_timeout_s=1.0, upload_expiry_s=2, reconnect_max_s=2.0)
    sync = FleetSync(settings, "kiosk-1", outbox, clock, "boot-1", "nabiz-kiosk/test", ("exit-default", 4)).start()
    try:
        wait_until(sync.link.connected.is_set, what="the kiosk's connection")
        fleet.stop()
        finished = clock.now()
        answered_at = time.time()
        made = outbox.save(ResponseRecord("exit-default", 4, "tr", "completed", False, (), (3,), False, finished, finished, "completed"))
        sync.saved()
        wait_until(lambda: sync.engine.stats.published_responses >= 1, what="the Upload, held by the broker")
        threading.Event().wait(6)  # the fleet is down longer than an Upload may wait
        fleet.start()
        wait_until(lambda: outbox.health().unsent == 0, timeout=20, what="the resent answer")
        row = StoredResponse.get(StoredResponse.uuid == made)
        assert row.time_source == "fleet-receipt"
        assert abs(row.occurred_at - answered_at) < 3.0, f"dated {row.occurred_at - answered_at:+.1f} s off"
    finally:
        sync.stop()


class IngestWithAFault(Ingest):
    """The real ingest with a fault nobody has found yet: it fails on any message carrying
    POISON. Stands for whatever the next bug is (a decoder's RecursionError was the last one)."""

    POISON = b"poison-marker"
    seen: ClassVar[list[str]] = []

    def process(self, batch):
        for message in batch:
            if self.POISON in message.payload:
                IngestWithAFault.seen.append(message.topic)
                raise RecursionError("maximum recursion depth exceeded while deserializing an object")
        return super().process(batch)


def test_a_message_that_breaks_ingest_in_an_unforeseen_way_is_set_aside(store, broker, kiosk_password, outbox, caplog):
    """Whatever a message makes ingest raise, that message alone is set aside (logged with its
    topic and PUBACKed, so a restarted fleet does not get it again) and the rest is stored."""
    from tests.protocol_factories import response, upload

    caplog.set_level(logging.ERROR, logger="fleet.server")
    IngestWithAFault.seen = []
    fleet = RunningFleet(broker, IngestWithAFault).start()
    # The broker binds the login to its client id: the poison goes first, then the kiosk's own sync connects.
    poison = Client(broker.port, "kiosk-1", kiosk_password, client_id="kiosk-1").connect()
    try:
        body = upload([response(survey_id="poison-marker")])
        for _ in range(3):
            poison.publish("nabiz/kiosk-1/responses", body)
    finally:
        poison.close()
    sync = start_sync(outbox, broker.port, kiosk_password)
    try:
        wait_until(sync.link.connected.is_set, what="the kiosk's connection")
        made = [outbox.save(record()) for _ in range(5)]
        sync.saved()
        wait_until(lambda: outbox.health().unsent == 0, what="the good answers, past the poison")
        assert fleet_uuids() == sorted(made)
        assert fleet.thread.is_alive(), "the fleet keeps running"
        wait_until(lambda: len(IngestWithAFault.seen) >= 3, what="the three poison messages")
        (line, *_) = [r for r in caplog.records if "set aside" in r.getMessage()]
        assert line.topic == "nabiz/kiosk-1/responses" and "RecursionError" in line.error and line.exc_info
        fleet.stop()
        seen = len(IngestWithAFault.seen)

        fleet = RunningFleet(broker, IngestWithAFault).start()  # the same persistent session
        later = outbox.save(record())
        sync.saved()
        wait_until(lambda: outbox.health().unsent == 0, timeout=15, what="an answer after the restart")
        assert later in fleet_uuids()
        assert len(IngestWithAFault.seen) == seen, "the broker did not hand the poison back after the restart"
    finally:
        sync.stop()
        fleet.stop()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_connection_lost_mid_transaction_is_retried_not_set_aside(store, broker, kiosk_password, store_url):
    """PostgreSQL drops the connection in the middle of a turn's transaction: the insert fails,
    and so does the rollback (peewee's InterfaceError, which is no DatabaseError). That is the
    database being away, not a bad message: the turn is retried on a new connection, never set aside."""
    import psycopg2

    from tests.protocol_factories import response, upload

    link = FleetLink(BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False), client_id="nabiz-fleet-test")
    link.start()
    admin = psycopg2.connect(store_url)
    try:
        server = FleetServer(link, Ingest(), inactivity_s=30)
        good = response()
        batch = [Received("nabiz/kiosk-1/responses", upload([good]), time.time())]
        with admin.cursor() as cursor:
            cursor.execute("LOCK TABLE responses IN ACCESS EXCLUSIVE MODE")  # the turn's insert waits here, in its transaction
            handled = []
            turn = threading.Thread(target=lambda: handled.append(server.handle(batch, threading.Event())))
            turn.start()

            def waiting_insert() -> int | None:
                # asked on a connection of its own: a transaction sees one snapshot of pg_stat_activity
                watcher = psycopg2.connect(store_url)
                try:
                    with watcher.cursor() as look:
                        look.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO %responses%'")
                        row = look.fetchone()
                        return row[0] if row else None
                finally:
                    watcher.close()

            wait_until(lambda: waiting_insert() is not None, what="the turn's insert to wait for the lock")
            cursor.execute("SELECT pg_terminate_backend(%s)", (waiting_insert(),))
        admin.commit()
        turn.join(30)
        assert handled == [True]
        assert fleet_uuids() == [good["uuid"]]
        assert server.ingest.totals["set_aside"] == 0
    finally:
        admin.close()
        link.stop()
