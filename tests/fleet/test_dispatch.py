"""The dispatch registry and the post-commit hooks, on the real store (SQLite and PostgreSQL).

A hook sees a response once: when the store made its row. Redelivered by the broker, resent
by a kiosk, sent twice in one batch or in another case: never again. A hook that fails costs
nothing but its own work.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid as uuidlib
from urllib.parse import urlparse

import pytest

from fleet import devices
from fleet.dispatch import HookWorker, Registry
from fleet.ingest import Ingest, Received, default_registry
from fleet.store import ResponseRow, StoredResponse
from kiosk.contract.protocol import CHANNELS, DOWNSTREAM, UPSTREAM, ProtocolError
from tests.protocol_factories import response, upload

NOW = 1_790_000_100.0


class Recorder:
    """A hook that keeps what it was given, and whether a second connection already saw it."""

    def __init__(self, store_url: str | None = None) -> None:
        self.calls: list[list[ResponseRow]] = []
        self.committed: list[int] = []
        self.store_url = store_url
        self.thread: str | None = None

    def __call__(self, rows) -> None:
        self.calls.append(list(rows))
        self.thread = threading.current_thread().name
        if self.store_url:
            self.committed.append(_count_elsewhere(self.store_url, [row.uuid for row in rows]))

    @property
    def uuids(self) -> list[str]:
        return [row.uuid for call in self.calls for row in call]


def _count_elsewhere(url: str, uuids: list[str]) -> int:
    """How many of *uuids* a connection of its own sees: only committed rows."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(urlparse(url).path[1:])
        marks = ",".join("?" * len(uuids))
    else:
        import psycopg2

        connection = psycopg2.connect(url)
        marks = ",".join(["%s"] * len(uuids))
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT COUNT(*) FROM responses WHERE uuid IN ({marks})", uuids)
        return cursor.fetchone()[0]
    finally:
        connection.close()


@pytest.fixture
def registered(store):
    devices.add_device("kiosk-1", "İzmir Alsancak", now=NOW - 1000)
    devices.add_device("kiosk-2", "Ankara Çankaya", now=NOW - 1000)


def msg(payload: bytes, device: str = "kiosk-1", channel: str = "responses") -> Received:
    return Received(f"nabiz/{device}/{channel}", payload, NOW)


def hooked(*hooks) -> Ingest:
    registry = default_registry()
    for number, hook in enumerate(hooks):
        registry.add_hook(f"hook-{number}", hook)
    return Ingest(clock=lambda: NOW, registry=registry)


# --- the registry -----------------------------------------------------------------------------


def test_the_default_registry_takes_every_upstream_channel_and_nothing_else():
    # survey_report included: every process that ingests (each worker) must take reports.
    assert set(default_registry().handlers) == set(UPSTREAM)
    assert set(UPSTREAM) == {spec.name for spec in CHANNELS if spec.direction == "up"}


@pytest.mark.parametrize(
    "channel, problem",
    [
        ("ack", "fleet → kiosk channel"),
        ("help", "fleet → kiosk channel"),
        ("responsez", "no channel 'responsez' in the protocol's CHANNELS"),
        ("responses", "already has a handler"),
    ],
)
def test_a_handler_is_refused_for_a_channel_devices_do_not_publish_on_or_one_taken(channel, problem):
    with pytest.raises(ValueError, match=problem):
        default_registry().register_handler(channel, lambda batch, message, sender: None)


def test_two_hooks_cannot_share_a_name():
    registry = Registry()
    registry.add_hook("escalation", lambda rows: None)
    with pytest.raises(ValueError, match="'escalation' is already registered"):
        registry.add_hook("escalation", lambda rows: None)


@pytest.mark.parametrize("channel", DOWNSTREAM)
def test_a_device_publishing_on_a_fleet_channel_is_rejected_with_the_reason(registered, caplog, channel):
    caplog.set_level(logging.WARNING, logger="fleet.ingest")
    outcome = Ingest(clock=lambda: NOW).process([msg(b'{"v": 2}', channel=channel)])
    assert outcome.rejected == 1 and outcome.acks == {}
    (line,) = [r for r in caplog.records if r.getMessage() == "message rejected"]
    assert f"devices may not publish on the {channel!r} channel" in line.reason


def test_a_channel_is_taken_by_the_handler_registered_for_it(registered):
    """A registry of a feature's own: its status handler gets the message, with the sender
    resolved from the registry of devices; a channel it has no handler for is rejected."""
    seen = []
    registry = Registry()
    registry.register_handler("status", lambda batch, message, sender: seen.append((message.topic, sender.device_id, sender.site)))

    def refuse(batch, message, sender):
        raise ProtocolError("not today")

    registry.register_handler("responses", refuse)
    outcome = Ingest(clock=lambda: NOW, registry=registry).process(
        [msg(b"{}", channel="status"), msg(b"{}", channel="health"), msg(upload([response()]))]
    )
    assert seen == [("nabiz/kiosk-1/status", "kiosk-1", "İzmir Alsancak")]
    assert outcome.rejected == 2 and StoredResponse.select().count() == 0


# --- post-commit hooks: only what is new ------------------------------------------------------


def test_a_hook_gets_each_new_response_once_after_the_commit(registered, store_url):
    hook = Recorder(store_url)
    ingest = hooked(hook)
    first, second = response(), response()
    outcome = ingest.process([msg(upload([first, second]))])
    assert hook.uuids == [first["uuid"], second["uuid"]] and outcome.new == hook.calls[0]
    assert hook.committed == [2], "another connection sees the rows when the hook runs: they are committed"
    again = ingest.process([msg(upload([first, second])), msg(upload([first]))])  # redelivered, and resent
    assert again.stored == 0 and again.duplicates == 3 and len(hook.calls) == 1, "nothing new: no call"
    assert again.acks["kiosk-1"].stored == [first["uuid"], second["uuid"], first["uuid"]], "acknowledged again all the same"


def test_a_hook_gets_only_the_new_ones_of_a_mixed_batch(registered):
    hook = Recorder()
    ingest = hooked(hook)
    old = response()
    ingest.process([msg(upload([old]))])
    text = str(uuidlib.uuid4())
    new_one, other_device = response(uuid=text.upper()), response()
    ingest.process(
        [
            msg(upload([old, new_one])),
            msg(upload([response(uuid=text)])),  # the same response again, in lowercase, in the same batch
            msg(upload([other_device], device_id="kiosk-2"), device="kiosk-2"),
        ]
    )
    assert [len(call) for call in hook.calls] == [1, 2]
    assert hook.calls[1][0].uuid == text and hook.calls[1][1].uuid == other_device["uuid"]
    assert [row.device_id for row in hook.calls[1]] == ["kiosk-1", "kiosk-2"] and hook.calls[1][1].site == "Ankara Çankaya"


def test_the_hook_gets_the_response_as_stored_with_the_newer_fields(registered):
    hook = Recorder()
    sent = response(device_id="kiosk-1", presses=[1, 1, 4], press_ms=[0, 1800, 5200], suspect=False, help_requested=True)
    hooked(hook).process([msg(upload([sent], v=2))])
    (row,) = hook.calls[0]
    assert (row.press_ms, row.suspect, row.help_requested, row.negative) == ("[0,1800,5200]", False, True, True)
    stored = StoredResponse.get(StoredResponse.uuid == sent["uuid"])
    assert (stored.press_ms, stored.suspect, stored.help_requested) == ("[0,1800,5200]", False, True)
    assert ResponseRow(**{name: getattr(stored, name) for name in ResponseRow.__struct_fields__}) == row, "the hook's row is the stored row"


def test_a_hook_that_raises_is_logged_by_name_and_costs_nothing_else(registered, caplog):
    caplog.set_level(logging.ERROR, logger="fleet.dispatch")
    after = Recorder()

    def broken(rows):
        raise RuntimeError("the feature's bug")

    ingest = hooked(broken, after)
    sent = response()
    outcome = ingest.process([msg(upload([sent]))])
    assert outcome.acks["kiosk-1"].stored == [sent["uuid"]], "the Ack is not withheld"
    assert StoredResponse.select().count() == 1, "the commit is not undone"
    assert after.uuids == [sent["uuid"]], "the next hook still runs"
    (line,) = [r for r in caplog.records if "post-commit hook failed" in r.getMessage()]
    assert line.hook == "hook-0" and line.responses == 1 and "the feature's bug" in line.exc_text
    assert ingest.totals["hook_failures"] == 1
    later = response()
    assert ingest.process([msg(upload([later]))]).stored == 1 and after.uuids[-1] == later["uuid"], "ingest goes on"


def test_nothing_reaches_a_hook_when_the_batch_does_not_commit(registered):
    """The store fails the batch (here its table is gone): no Ack (the server retries the batch), no hook call."""
    import peewee

    hook = Recorder()
    ingest = hooked(hook)
    StoredResponse.drop_table()
    with pytest.raises(peewee.DatabaseError):
        ingest.process([msg(upload([response()]))])
    assert hook.calls == []


def test_a_hook_worker_runs_the_feature_on_its_own_thread_and_survives_its_failures(registered, caplog):
    caplog.set_level(logging.ERROR, logger="fleet.dispatch")
    feature = Recorder()
    failures = iter([True])

    def sometimes_broken(rows):
        if next(failures, False):
            raise RuntimeError("first batch fails")
        feature(rows)

    worker = HookWorker("feature", sometimes_broken).start()
    ingest = hooked(worker)
    try:
        one, two = response(), response()
        ingest.process([msg(upload([one]))])
        worker.join()
        ingest.process([msg(upload([two]))])
        ingest.process([msg(upload([two]))])  # resent: nothing handed over
        worker.join()
    finally:
        worker.stop()
    assert feature.uuids == [two["uuid"]] and feature.thread == "hook-feature"
    assert worker.failures == 1 and worker.handled == 1
    (line,) = [r for r in caplog.records if "failed on its worker" in r.getMessage()]
    assert line.hook == "feature"


def test_a_hook_worker_behind_gives_the_feature_what_queued_up_in_one_call_and_stops_after_it(registered):
    entered, gate = threading.Event(), threading.Event()
    seen = []

    def slow(rows):
        entered.set()
        gate.wait(10)
        seen.extend(row.uuid for row in rows)

    worker = HookWorker("slow", slow).start()
    ingest = hooked(worker)
    sent = [response() for _ in range(3)]
    ingest.process([msg(upload([sent[0]]))])
    assert entered.wait(10), "the worker took the first batch"
    for one in sent[1:]:
        ingest.process([msg(upload([one]))])  # returns at once: the worker is busy
    assert seen == []
    gate.set()
    worker.stop()
    assert seen == [one["uuid"] for one in sent], "every row, in the order stored"
    assert worker.calls == 2 and worker.handled == 3, "the first batch, then the two that queued up behind it, together"


def test_a_slow_hook_on_the_ingest_thread_is_named_in_the_log(registered, caplog):
    caplog.set_level(logging.WARNING, logger="fleet.dispatch")
    hooked(lambda rows: time.sleep(0.05)).process([msg(upload([response()]))])
    (line,) = [r for r in caplog.records if "post-commit hook is slow" in r.getMessage()]
    assert line.hook == "hook-0" and line.ms >= 50


# --- redelivery by the broker after a restart; escalation through the hook ---------------------


def test_a_message_the_broker_redelivers_after_a_fleet_restart_reaches_no_hook(registered, broker):
    """The fleet stored a batch and died before its PUBACK: the broker hands the message to the
    restarted fleet, which acknowledges it again and calls no hook for it."""
    from fleet.broker import FLEET_USER
    from fleet.link import BrokerURL, FleetLink
    from tests.mqtt_helpers import Client, wait_for_login
    from tests.mqtt_helpers import upload as kiosk_upload

    url = BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False)
    kiosk_password = devices.add_device("kiosk-b", "Bursa Nilüfer")
    devices.sync_broker(broker.files, put={"kiosk-b": kiosk_password})
    wait_for_login(broker.port, "kiosk-b", kiosk_password)
    body, uuids = kiosk_upload("kiosk-b")

    first = FleetLink(url, client_id="nabiz-fleet-test")
    first.start()
    kiosk = Client(broker.port, "kiosk-b", kiosk_password, client_id="kiosk-b").connect()
    try:
        batch: list[Received] = []
        deadline = time.monotonic() + 20
        while not batch and time.monotonic() < deadline:  # until the fleet's subscription is in place
            kiosk.publish("nabiz/kiosk-b/responses", body)
            batch = first.take(timeout=1.0, limit=10)
    finally:
        kiosk.close()
    before, after = Recorder(), Recorder()
    assert hooked(before).process(batch[:1]).stored == 1 and before.uuids == uuids
    first.stop()  # died before `acknowledge(batch)`: no PUBACK

    restarted = FleetLink(url, client_id="nabiz-fleet-test")
    restarted.start()
    try:
        again = restarted.take(timeout=10.0, limit=10)
        assert again and again[0].payload == body, "the broker redelivered the unacknowledged message"
        outcome = hooked(after).process(again)
        restarted.acknowledge(again)
    finally:
        restarted.stop()
    assert outcome.stored == 0 and outcome.duplicates >= 1 and outcome.acks["kiosk-b"].stored[0] == uuids[0]
    assert after.calls == [], "a redelivered response never reaches a hook"


def test_a_help_request_sent_again_raises_one_alert_through_the_feed(registered):
    """Escalation wired as the composition root wires it: ingest stores, the response feed reads
    the store's tail. The same Upload twice, then once more to a restarted ingest and feed (which
    reads the last minutes again): one alert per rule, each triggered once."""
    from fleet.escalation.feed import ResponseFeed
    from fleet.escalation.service import Escalation
    from fleet.escalation.tables import Alert
    from tests.escalation_helpers import KEY, config

    devices.add_device("kiosk-k", "kadikoy", now=NOW - 1000)
    body = upload([response(device_id="kiosk-k", help_requested=True)], v=2, device_id="kiosk-k")
    for _ in range(2):  # a restart: a new ingest and feed, the same store
        feed = ResponseFeed(Escalation(config(), KEY, clock=lambda: NOW), clock=lambda: NOW)
        ingest = Ingest(clock=lambda: NOW)
        ingest.process([msg(body, device="kiosk-k")])
        feed.poll()
        ingest.process([msg(body, device="kiosk-k"), msg(body, device="kiosk-k")])
        feed.poll()
    alerts = sorted((alert.rule, alert.triggers, alert.state) for alert in Alert.select())
    assert alerts == [("help", 1, "open"), ("negative", 1, "open")]
    assert feed.handed == 1, "the restarted feed read the response again once; the second upload stored nothing"


def test_ingest_refuses_to_run_inside_a_callers_transaction(registered):
    """Its hooks must run after a commit that is really its own."""
    from fleet.store import database

    hook = Recorder()
    with database.atomic(), pytest.raises(RuntimeError, match="outside one"):
        hooked(hook).process([msg(upload([response()]))])
    assert hook.calls == [] and StoredResponse.select().count() == 0
