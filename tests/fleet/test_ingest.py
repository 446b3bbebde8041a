"""Ingest on the real store (SQLite and PostgreSQL): stored once, acknowledged, bad input refused.

Messages are fed to ``Ingest.process`` as the server feeds them; the MQTT side is tested in
test_serve.py and the end-to-end tests.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Literal

import msgspec
import pytest

from fleet import devices
from fleet.ingest import UNSTORABLE, Ingest, Received
from fleet.store import Device, StoredResponse
from kiosk.contract.protocol import MAX_PAYLOAD_BYTES, encode, split_ack
from tests.protocol_factories import response, upload

NOW = 1_790_000_100.0


@pytest.fixture
def ingest(store):
    devices.add_device("kiosk-1", "İzmir Alsancak", now=NOW - 1000)
    devices.add_device("kiosk-2", "Ankara Çankaya", now=NOW - 1000)
    return Ingest(clock=lambda: NOW)


def msg(payload: bytes, device: str = "kiosk-1", channel: str = "responses", at: float = NOW) -> Received:
    return Received(f"nabiz/{device}/{channel}", payload, at)


def stored_uuids() -> list[str]:
    return sorted(r.uuid for r in StoredResponse.select(StoredResponse.uuid))


def test_a_batch_is_stored_once_and_acknowledged(ingest):
    batch = [response(), response(negative=False)]
    outcome = ingest.process([msg(upload(batch))])
    assert outcome.stored == 2 and outcome.duplicates == 0
    assert sorted(map(str, outcome.acks["kiosk-1"].stored)) == sorted(r["uuid"] for r in batch)
    assert outcome.acks["kiosk-1"].at == NOW
    assert stored_uuids() == sorted(r["uuid"] for r in batch)
    row = StoredResponse.get(StoredResponse.uuid == batch[0]["uuid"])
    assert row.site == "İzmir Alsancak" and row.device_id == "kiosk-1" and row.negative is True
    assert json.loads(row.answers)[0]["option"] == "very-unhappy"
    assert row.time_source == "device" and row.occurred_at == 1_790_000_002.0 and row.received_at == NOW


def test_redelivery_is_stored_once_and_acknowledged_again(ingest):
    batch = [response()]
    ingest.process([msg(upload(batch))])
    outcome = ingest.process([msg(upload(batch)), msg(upload(batch))])
    assert outcome.stored == 0 and outcome.duplicates == 2
    assert [str(u) for u in outcome.acks["kiosk-1"].stored] == [batch[0]["uuid"]] * 2
    assert StoredResponse.select().count() == 1


def test_messages_from_many_devices_in_one_transaction(ingest):
    one, two = response(), response()
    outcome = ingest.process([msg(upload([one])), msg(upload([two], device_id="kiosk-2"), device="kiosk-2")])
    assert set(outcome.acks) == {"kiosk-1", "kiosk-2"} and outcome.stored == 2
    assert Device.get_by_id("kiosk-2").last_seen == NOW


@pytest.mark.parametrize(
    "topic, payload, reason",
    [
        ("nabiz/kiosk-1/responses", b"{malformed", "not JSON"),
        ("nabiz/kiosk-1/responses", b'{"v": 1, "device_id": 5}', "invalid responses payload"),
        ("nabiz/kiosk-1/responses", upload([response()], v=7), "unknown protocol version 7"),
        ("nabiz/kiosk-1/responses", b'{"v":1,"x":"' + b"y" * MAX_PAYLOAD_BYTES + b'"}', "over the"),
        ("nabiz/kiosk-1/responses", upload([response()], device_id="kiosk-2"), "claims device 'kiosk-2'"),
        ("nabiz/kiosk-1/health", b'{"v": 1, "device_id": "kiosk-1"}', "invalid health payload"),
        ("nabiz/kiosk-1/ack", b'{"v": 1, "stored": []}', "may not publish on the 'ack' channel"),
        ("nabiz/kiosk-9/responses", upload([response()], device_id="kiosk-9"), "unknown device 'kiosk-9'"),
        ("nabiz/KIOSK/responses", upload([response()]), "lowercase"),
        ("elsewhere", upload([response()]), "not nabiz/<device>/<channel>"),
    ],
)
def test_bad_messages_are_rejected_logged_and_nothing_is_stored(ingest, caplog, topic, payload, reason):
    caplog.set_level(logging.WARNING, logger="fleet.ingest")
    good = response()
    outcome = ingest.process([Received(topic, payload, NOW), msg(upload([good]))])
    assert outcome.rejected == 1 and outcome.stored == 1, "the bad message does not take the good one down"
    assert stored_uuids() == [good["uuid"]]
    (line,) = [r for r in caplog.records if r.getMessage() == "message rejected"]
    assert reason in line.reason
    if topic.startswith("nabiz/kiosk-1/"):
        device = Device.get_by_id("kiosk-1")
        assert device.rejected_messages == 1 and reason in device.last_rejection


def test_a_revoked_device_is_rejected(ingest):
    devices.revoke_device("kiosk-1", now=NOW)
    outcome = ingest.process([msg(upload([response()]))])
    assert outcome.rejected == 1 and outcome.acks == {} and StoredResponse.select().count() == 0


def test_one_bad_response_is_refused_by_uuid_and_the_rest_stored(ingest):
    good, bad = response(), response(language="Türkçe")
    outcome = ingest.process([msg(upload([good, bad]))])
    ack = outcome.acks["kiosk-1"]
    assert [str(u) for u in ack.stored] == [good["uuid"]]
    assert [str(r.uuid) for r in ack.refused] == [bad["uuid"]] and "language" in ack.refused[0].reason
    assert stored_uuids() == [good["uuid"]] and outcome.refused == 1


def test_status_and_health_update_the_registry(ingest):
    status = b'{"v":1,"device_id":"kiosk-1","online":true,"software":"nabiz-kiosk/0.2.0","boot_id":"boot-1","reason":"connected"}'
    health = json.dumps(
        {
            "v": 1, "device_id": "kiosk-1", "sent": {"wall": NOW, "monotonic": 50.0, "clock_synced": True, "boot_id": "boot-1"},
            "software": "nabiz-kiosk/0.2.0", "survey_id": "exit-default", "survey_version": 3, "backlog": 12, "oldest_unsent_age_s": 30.0,
            "unsaved": 0, "refused": 0, "disk_free_bytes": 10**9, "cpu_temp_c": 61.5, "uptime_s": 3600.0,
        }
    ).encode()
    ingest.process([msg(status, channel="status"), msg(health, channel="health")])
    device = Device.get_by_id("kiosk-1")
    assert device.online and device.software == "nabiz-kiosk/0.2.0" and device.backlog == 12 and device.survey_version == 3
    (view,) = [v for v in devices.list_devices(now=NOW + 10) if v.device_id == "kiosk-1"]
    assert view.state == "online" and view.temperature_c == 61.5 and view.survey == "exit-default@3" and (view.survey_source, view.survey_verified) == ("default", False)
    pushed = json.loads(health) | {"survey_version": 4, "survey_source": "pushed", "survey_verified": True}
    ingest.process([msg(json.dumps(pushed).encode(), channel="health", at=NOW + 5)])
    (view,) = [v for v in devices.list_devices(now=NOW + 10) if v.device_id == "kiosk-1"]
    assert (view.survey, view.survey_source, view.survey_verified) == ("exit-default@4", "pushed", True), "where the survey came from, as the kiosk's Health said"
    will = b'{"v":1,"device_id":"kiosk-1","online":false,"reason":"lost"}'
    ingest.process([msg(will, channel="status", at=NOW + 20)])
    (view,) = [v for v in devices.list_devices(now=NOW + 30) if v.device_id == "kiosk-1"]
    assert view.state == "offline" and view.status_reason == "lost"


def test_a_device_that_goes_quiet_is_marked_silent(ingest):
    status = b'{"v":1,"device_id":"kiosk-1","online":true}'
    ingest.process([msg(status, channel="status")])
    assert devices.mark_silent(NOW + 100, inactivity_s=180) == []
    (view,) = [v for v in devices.list_devices(now=NOW + 200, inactivity_s=180) if v.device_id == "kiosk-1"]
    assert view.state == "silent", "shown silent even before the sweep runs"
    assert devices.mark_silent(NOW + 200, inactivity_s=180) == ["kiosk-1"]
    assert Device.get_by_id("kiosk-1").status_reason == "silent"
    ingest.process([msg(upload([response()]), at=NOW + 300)])
    (view,) = [v for v in devices.list_devices(now=NOW + 301, inactivity_s=180) if v.device_id == "kiosk-1"]
    assert view.state == "online", "it spoke again: back without a new birth message"


def test_a_large_backlog_batch_is_one_transaction(ingest):
    batches = [upload([response() for _ in range(200)]) for _ in range(10)]
    outcome = ingest.process([msg(b) for b in batches])
    assert outcome.stored == 2000 and len(outcome.acks["kiosk-1"].stored) == 2000
    assert StoredResponse.select().count() == 2000


def test_unsynced_times_are_re_dated(ingest):
    early = response(clock_synced=False, boot_id="boot-1", finished={"wall": 0.0, "monotonic": 12.0})
    ingest.process([msg(upload([early]))])  # sent at monotonic 20 with a synced wall clock 1_790_000_010
    row = StoredResponse.get(StoredResponse.uuid == early["uuid"])
    assert row.time_source == "device-resync" and row.occurred_at == 1_790_000_002.0 and row.finished_wall == 0.0


def test_the_store_refuses_a_newer_schema(store):
    from fleet.store import SchemaMigration, StoreError, migrate

    SchemaMigration.create(version=99, applied_at=NOW)
    with pytest.raises(StoreError, match="newer than this software"):
        migrate(store)


def test_uuid_is_unique_in_the_schema(ingest):
    from peewee import IntegrityError

    from fleet.store import RESPONSE_FIELDS

    first = response()
    ingest.process([msg(upload([first]))])
    row = StoredResponse.get(StoredResponse.uuid == first["uuid"])
    values = {f.name: getattr(row, f.name) for f in RESPONSE_FIELDS}
    with pytest.raises(IntegrityError):
        StoredResponse.insert(**values).execute()
    assert uuid.UUID(first["uuid"])


def test_a_retained_status_replayed_at_start_is_no_sign_of_life(ingest):
    """The broker replays each kiosk's last status when the fleet subscribes: a kiosk that
    died while the broker was down still says 'online' there, so it must not look seen now."""
    online = b'{"v":1,"device_id":"kiosk-1","online":true}'
    ingest.process([Received("nabiz/kiosk-1/status", online, NOW, retained=True)])
    device = Device.get_by_id("kiosk-1")
    assert device.online and device.last_seen is None
    (view,) = [v for v in devices.list_devices(now=NOW) if v.device_id == "kiosk-1"]
    assert view.state == "silent"


def test_a_revoked_devices_retained_status_is_cleared(ingest):
    devices.revoke_device("kiosk-1", now=NOW)
    online = b'{"v":1,"device_id":"kiosk-1","online":true}'
    outcome = ingest.process([Received("nabiz/kiosk-1/status", online, NOW, retained=True), Received("nabiz/kiosk-1/status", online, NOW)])
    assert outcome.clear_retained == ["nabiz/kiosk-1/status"] and outcome.rejected == 2
    cleared = ingest.process([Received("nabiz/kiosk-1/status", b"", NOW)])
    assert cleared.rejected == 0, "the clearing message coming back is not a rejection"


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_response_the_store_cannot_hold_is_refused_alone(ingest):
    """A value the protocol let through but a column refuses (here: a site longer than the
    responses' column) must not hold other kiosks' answers back."""
    from fleet.store import database

    database.execute_sql("ALTER TABLE devices ALTER COLUMN site TYPE text")  # a registry wider than the responses' column
    Device.create(device_id="kiosk-long", site="x" * 300, password_hash="x", created_at=NOW)
    good, stuck = response(), response()
    outcome = ingest.process([msg(upload([good])), msg(upload([stuck], device_id="kiosk-long"), device="kiosk-long")])
    assert stored_uuids() == [good["uuid"]]
    assert [str(r.uuid) for r in outcome.acks["kiosk-long"].refused] == [stuck["uuid"]] and outcome.acks["kiosk-long"].stored == []
    assert "cannot store it" in outcome.acks["kiosk-long"].refused[0].reason
    with pytest.raises(UNSTORABLE):  # alone, it is the server's to set aside (nothing refused by guesswork)
        ingest.process([msg(upload([stuck], device_id="kiosk-long"), device="kiosk-long")])


def test_a_site_is_checked_when_a_device_is_added(store):
    with pytest.raises(devices.RegistryError, match="at most 128"):
        devices.add_device("kiosk-9", "x" * 129)


# --- issue 7: uuids as sent, versions, attribution, times ------------------------------------


def test_one_response_sent_in_capitals_then_lowercase_is_stored_once_and_acknowledged_as_sent(ingest):
    text = str(uuid.uuid4())
    first = ingest.process([msg(upload([response(uuid=text.upper())]))])
    again = ingest.process([msg(upload([response(uuid=text)]))])
    assert first.acks["kiosk-1"].stored == [text.upper()], "a kiosk comparing strings finds its own uuid"
    assert again.acks["kiosk-1"].stored == [text] and again.duplicates == 1
    assert stored_uuids() == [text], "stored once, in the canonical (lowercase) form"


class V1Refusal(msgspec.Struct):
    uuid: uuid.UUID
    reason: str


class V1Ack(msgspec.Struct, forbid_unknown_fields=True):
    """The Ack as a version-1 kiosk decodes it (protocol version 1, before issue 7)."""

    v: Literal[1]
    stored: list[uuid.UUID]
    refused: list[V1Refusal] = []
    at: float = 0.0


@pytest.mark.parametrize("version", [1, 2])
def test_each_kiosk_is_answered_in_the_version_it_speaks(ingest, version):
    mine = response(device_id="kiosk-1") if version == 2 else response()
    broken = response(language="Türkçe", **({"device_id": "kiosk-1"} if version == 2 else {}))
    outcome = ingest.process([msg(upload([mine, broken], v=version))])
    ack = outcome.acks["kiosk-1"]
    assert ack.v == version and ack.stored == [mine["uuid"]] and [r.uuid for r in ack.refused] == [broken["uuid"]]
    if version == 1:  # a kiosk not yet upgraded reads it as it always did
        old = msgspec.json.decode(encode(split_ack(ack)[0]), type=V1Ack)
        assert [str(u) for u in old.stored] == [mine["uuid"]] and str(old.refused[0].uuid) == broken["uuid"]


def test_answers_recorded_under_another_device_are_refused_never_moved(ingest, caplog):
    """A kiosk re-provisioned as kiosk-1 still holds answers recorded as kiosk-2: they are not
    stored under kiosk-1 (another site), and not under kiosk-2 either (kiosk-1 cannot speak for it)."""
    caplog.set_level(logging.WARNING, logger="fleet.ingest")
    mine, theirs = response(device_id="kiosk-1"), response(device_id="kiosk-2")
    outcome = ingest.process([msg(upload([mine, theirs], v=2))])
    ack = outcome.acks["kiosk-1"]
    assert ack.stored == [mine["uuid"]] and [r.uuid for r in ack.refused] == [theirs["uuid"]]
    assert "'kiosk-2'" in ack.refused[0].reason and "'kiosk-1'" in ack.refused[0].reason and "fix:" in ack.refused[0].reason
    assert stored_uuids() == [mine["uuid"]] and StoredResponse.select().where(StoredResponse.device_id == "kiosk-2").count() == 0
    (line,) = [r for r in caplog.records if r.getMessage() == "responses refused"]
    assert "recorded under device 'kiosk-2'" in line.reason


def test_the_issues_times_are_refused_and_nothing_is_stored(ingest):
    """The rows that stopped every export: a 'synced' time in milliseconds, a monotonic 1e300."""
    millis = response(finished={"wall": 1_790_000_002_000.0, "monotonic": 12.0})
    outcome = ingest.process([msg(upload([millis]))])
    assert [r.uuid for r in outcome.acks["kiosk-1"].refused] == [millis["uuid"]] and "wall" in outcome.acks["kiosk-1"].refused[0].reason
    huge = upload([response(clock_synced=False)], sent={"wall": 5.0, "monotonic": 1e300, "clock_synced": False, "boot_id": "boot-1"})
    outcome = ingest.process([msg(huge)])
    assert outcome.rejected == 1 and outcome.acks == {}
    assert stored_uuids() == []


def test_a_synced_time_the_fleet_cannot_believe_is_re_dated(ingest):
    future = response(clock_synced=True, finished={"wall": 3_000_000_000.0, "monotonic": 12.0})  # 2065, "synced"
    ingest.process([msg(upload([future]))])  # sent at monotonic 20 by a synced clock reading 1_790_000_010
    row = StoredResponse.get(StoredResponse.uuid == future["uuid"])
    assert row.time_source == "device-resync" and row.occurred_at == 1_790_000_002.0 and row.finished_wall == 3_000_000_000.0


@pytest.mark.parametrize("payload", [b'{"v":1,"device_id":"kiosk-1","online":true,"x\\u0000y":1}', b'{"v":2,"x\\u0000":' + b"[" * 40 + b"]" * 40 + b"}"])
def test_a_rejection_whose_reason_quotes_a_nul_is_recorded(ingest, payload):
    """Found by fuzzing: msgspec quotes an unknown key in its error, and PostgreSQL text cannot
    hold the NUL in it; recording the rejection made ingest raise for the whole batch."""
    good = response()
    outcome = ingest.process([msg(payload, channel="status"), msg(upload([good]))])
    assert outcome.rejected == 1 and stored_uuids() == [good["uuid"]]
    device = Device.get_by_id("kiosk-1")
    assert device.rejected_messages == 1 and "\x00" not in device.last_rejection
