"""The sync engine over a real outbox file: what is sent, when, and what counts as done.

The engine takes ``publish`` as a function; here it records the payloads, as the flow's tests
record effects. The same engine against a real broker and fleet is in tests/fleet.
"""

from __future__ import annotations

import uuid

import pytest

from kiosk.contract.protocol import MAX_PAYLOAD_BYTES, PROTOCOL_VERSION, Ack, Refusal, decode
from kiosk.contract.sync_engine import SyncEngine
from kiosk.contract.transport import Backoff
from kiosk.outbox import Outbox
from tests.kiosk.test_outbox import record


class Wire:
    """The publish edge: keeps what was sent; can be 'down'."""

    def __init__(self) -> None:
        self.sent: list = []
        self.up = True

    def __call__(self, payload: bytes) -> bool:
        if not self.up:
            return False
        self.sent.append(decode("responses", payload))
        return True

    def uuids(self, index: int = -1) -> list[str]:
        return [r.uuid for r in self.sent[index].responses]


@pytest.fixture
def box(tmp_path):
    box = Outbox("kiosk-1", "boot-1").open(tmp_path)
    yield box
    box.close()


@pytest.fixture
def wire():
    return Wire()


def engine_for(box, wire, clock, **options) -> SyncEngine:
    return SyncEngine("kiosk-1", box, wire, clock, "boot-1", **options)


def ack(*uuids: str, refused: dict[str, str] | None = None) -> Ack:
    return Ack(v=PROTOCOL_VERSION, stored=list(uuids), refused=[Refusal(u, why) for u, why in (refused or {}).items()], at=1.0)


def test_live_responses_go_one_per_message(box, wire, clock):
    engine = engine_for(box, wire, clock)
    engine.on_connected()
    first = box.save(record())
    engine.on_saved()
    second = box.save(record())
    engine.on_saved()
    assert [wire.uuids(0), wire.uuids(1)] == [[first], [second]]
    upload = wire.sent[0]
    assert upload.device_id == "kiosk-1" and upload.sent.boot_id == "boot-1" and upload.sent.wall == clock.wall


def test_nothing_is_sent_while_disconnected_and_a_backlog_goes_in_batches(box, wire, clock):
    engine = engine_for(box, wire, clock, batch_size=50, window=2)
    made = [box.save(record()) for _ in range(230)]
    engine.on_saved()
    assert wire.sent == []
    engine.on_connected()
    assert [len(u.responses) for u in wire.sent] == [50, 50], "window of two batches"
    engine.on_ack(ack(*wire.uuids(0)))
    engine.on_ack(ack(*wire.uuids(1)))
    engine.on_ack(ack(*wire.uuids(2)))
    engine.on_ack(ack(*wire.uuids(3)))
    engine.on_ack(ack(*wire.uuids(4)))
    assert [len(u.responses) for u in wire.sent] == [50, 50, 50, 50, 30]
    assert [u for upload in wire.sent for u in map(str, (r.uuid for r in upload.responses))] == made, "oldest first, each once"
    assert box.health().unsent == 0 and engine.awaiting_ack == 0


def test_only_the_fleets_ack_marks_sent(box, wire, clock):
    engine = engine_for(box, wire, clock)
    engine.on_connected()
    made = box.save(record())
    engine.on_saved()
    assert box.health().unsent == 1, "published is not stored"
    engine.on_ack(ack(made))
    assert box.health().unsent == 0
    (row,) = box.responses()
    assert row["sent_at"] == clock.wall


def test_reconnect_resends_everything_unacknowledged(box, wire, clock):
    engine = engine_for(box, wire, clock)
    engine.on_connected()
    made = [box.save(record()) for _ in range(3)]
    engine.on_saved()
    engine.on_ack(ack(made[0]))
    engine.on_disconnected()
    wire.sent.clear()
    engine.on_connected()
    assert wire.uuids(0) == made[1:]


def test_a_restart_resends_from_the_outbox(tmp_path, wire, clock):
    box = Outbox("kiosk-1", "boot-1").open(tmp_path)
    made = [box.save(record()) for _ in range(2)]
    engine_for(box, wire, clock).on_connected()
    box.close()
    box = Outbox("kiosk-1", "boot-2").open(tmp_path)
    try:
        wire.sent.clear()
        engine_for(box, wire, clock).on_connected()
        assert wire.uuids(0) == made
    finally:
        box.close()


def test_a_quiet_fleet_gets_the_batch_again_with_a_growing_timeout(box, wire, clock):
    engine = engine_for(box, wire, clock, ack_timeout=10, max_ack_timeout=25)
    engine.on_connected()
    made = box.save(record())
    engine.on_saved()
    assert engine.next_deadline() == clock.monotonic + 10
    clock.advance(9.9)
    engine.on_tick()
    assert len(wire.sent) == 1
    clock.advance(0.2)
    engine.on_tick()
    assert len(wire.sent) == 2 and wire.uuids(1) == [made] and engine.stats.resends == 1
    assert engine.next_deadline() == pytest.approx(clock.monotonic + 20)
    clock.advance(20.1)
    engine.on_tick()
    assert engine.next_deadline() == pytest.approx(clock.monotonic + 25), "capped"
    engine.on_ack(ack(made))
    assert engine.ack_timeout == 10 and engine.next_deadline() is None


def test_a_duplicate_or_unknown_ack_is_harmless(box, wire, clock):
    engine = engine_for(box, wire, clock)
    engine.on_connected()
    made = box.save(record())
    engine.on_saved()
    engine.on_ack(ack(made))
    engine.on_ack(ack(made, str(uuid.uuid4())))
    assert box.health().unsent == 0 and engine.awaiting_ack == 0


def test_refused_responses_are_kept_but_not_resent(box, wire, clock):
    engine = engine_for(box, wire, clock)
    engine.on_connected()
    bad, good = box.save(record()), box.save(record())
    engine.on_saved()
    engine.on_ack(ack(good, refused={bad: "answers: too many"}))
    health = box.health()
    assert health.unsent == 0 and health.refused == 1 and health.rows == 2
    wire.sent.clear()
    engine.on_disconnected()
    engine.on_connected()
    assert wire.sent == []
    refused = [r for r in box.responses() if r["refused"]]
    assert [r["uuid"] for r in refused] == [bad] and "too many" in refused[0]["refused"]


def test_a_dead_link_stops_the_pump_without_losing_the_cursor(box, wire, clock):
    engine = engine_for(box, wire, clock)
    engine.on_connected()
    wire.up = False
    made = box.save(record())
    engine.on_saved()
    assert engine.awaiting_ack == 0
    wire.up = True
    engine.on_saved()
    assert wire.uuids(-1) == [made]


def test_batches_stay_under_the_payload_limit(box, wire, clock):
    engine = engine_for(box, wire, clock, batch_size=200, window=50)
    long = record(answers=60)
    for _ in range(200):
        box.save(long)
    engine.on_connected()
    sizes = [len(u.responses) for u in wire.sent]
    assert sum(sizes) == 200 and all(s <= 200 for s in sizes)
    from kiosk.contract.protocol import encode

    assert all(len(encode(u)) <= MAX_PAYLOAD_BYTES for u in wire.sent)


@pytest.mark.parametrize("attempt_ceilings", [[1, 2, 4, 8, 16, 30, 30]])
def test_backoff_doubles_to_the_cap_with_jitter_in_the_upper_half(attempt_ceilings):
    low = Backoff(first=1, cap=30, rand=lambda: 0.0)
    high = Backoff(first=1, cap=30, rand=lambda: 0.999999)
    for ceiling in attempt_ceilings:
        assert low.next() == pytest.approx(ceiling / 2)
        assert high.next() == pytest.approx(ceiling, rel=1e-5)


def test_backoff_reset_and_refused_login():
    backoff = Backoff(first=1, cap=300, rand=lambda: 0.5)
    backoff.next(), backoff.next()
    backoff.reset()
    assert backoff.next() == 0.75
    backoff.give_up_quickly()
    assert backoff.next() == pytest.approx(225)


def test_backoff_rejects_nonsense():
    with pytest.raises(ValueError):
        Backoff(first=0)


def test_answers_saved_after_a_low_disk_prune_are_still_sent(tmp_path, wire, clock):
    """Pruning every acknowledged row would let SQLite hand out old ids again; the newest row
    stays, so ids keep growing and the sync's cursor sees every new answer."""
    free = {"bytes": 10**12}
    box = Outbox("kiosk-1", "boot-1", reserve_bytes=100, disk_free=lambda: free["bytes"]).open(tmp_path)
    try:
        engine = engine_for(box, wire, clock)
        engine.on_connected()
        for _ in range(5):
            box.save(record())
            engine.on_saved()
            engine.on_ack(ack(*wire.uuids(-1)))
        free["bytes"] = 0  # the card is nearly full: acknowledged rows are pruned
        later = [box.save(record()) for _ in range(3)]
        ids = [row_id for row_id, _ in box.pending(0, 10)]
        assert min(ids) > 5, "no id handed out twice"
        for _ in later:
            engine.on_saved()
        assert [u for upload in wire.sent[5:] for u in map(str, (r.uuid for r in upload.responses))] == later
    finally:
        box.close()


def test_each_response_goes_under_the_device_id_it_was_recorded_under(tmp_path, wire, clock):
    """A card re-provisioned from kiosk-a to kiosk-b: the old answers keep kiosk-a's id (the
    fleet then refuses them rather than storing them at kiosk-b's site); the Upload is kiosk-b's."""
    old = Outbox("kiosk-a", "boot-1").open(tmp_path)
    recorded_as_a = [old.save(record()) for _ in range(3)]
    old.close()
    box = Outbox("kiosk-b", "boot-2").open(tmp_path)
    try:
        assert box.unsent_recorded_elsewhere("kiosk-b") == {"kiosk-a": 3}
        recorded_as_b = box.save(record())
        engine = SyncEngine("kiosk-b", box, wire, clock, "boot-2")
        engine.on_connected()
        sent = {r.uuid: r.device_id for upload in wire.sent for r in upload.responses}
        assert sent == {**dict.fromkeys(recorded_as_a, "kiosk-a"), recorded_as_b: "kiosk-b"}
        assert {upload.device_id for upload in wire.sent} == {"kiosk-b"}
        engine.on_ack(ack(recorded_as_b, refused={u: "recorded under device 'kiosk-a'" for u in recorded_as_a}))
        assert box.unsent_recorded_elsewhere("kiosk-b") == {}, "refused: kept, not sent again"
        assert [r["refused"] for r in box.responses()][:3] == ["recorded under device 'kiosk-a'"] * 3
    finally:
        box.close()
