"""A response the customer is offered help after: held on the card, released with the answer,
and, when help was asked for, sent before any backlog. Real SQLite files, the real sync engine."""

from dataclasses import replace

import pytest

from kiosk import outbox as outbox_module
from kiosk.contract.protocol import PROTOCOL_VERSION, Ack, decode
from kiosk.contract.sync_engine import SyncEngine, to_payload
from kiosk.outbox import Outbox
from tests.records import negative_record, old_outbox, record

BACKLOG = 1000


@pytest.fixture
def box(tmp_path):
    box = Outbox("kiosk-1", "boot-1").open(tmp_path)
    yield box
    box.close()


class Wire:
    """The publish edge: keeps each Upload as the fleet would decode it."""

    def __init__(self):
        self.sent = []

    def __call__(self, payload):
        self.sent.append(decode("responses", payload))
        return True

    def uuids(self, index):
        return [r.uuid for r in self.sent[index].responses]


def answered(requested, presses=(1, 2, 1, 4)):
    return replace(negative_record(), presses=presses, press_ms=tuple(i * 1000 for i in range(len(presses))), help_requested=requested)


def test_a_held_response_is_on_the_card_but_not_sent_until_released(box):
    uuid = box.save(negative_record(), held=True)
    assert box.health().unsent == 1 and box.pending(0, 10) == [] and box.urgent(10) == []
    assert box.release(uuid, answered(False))
    ((_, row),) = box.pending(0, 10)
    assert row["uuid"] == uuid and row["help_requested"] is False and row["presses"] == [1, 2, 1, 4]
    assert box.urgent(10) == [] and not box.release(uuid, answered(True)), "released once; a second release changes nothing"


def test_a_request_for_help_is_urgent_not_in_the_backlogs_order(box):
    box.save(record())
    uuid = box.save(negative_record(), held=True)
    box.release(uuid, answered(True))
    assert [row["uuid"] for _, row in box.urgent(10)] == [uuid]
    assert uuid not in [row["uuid"] for _, row in box.pending(0, 10)]
    payload = to_payload(box.urgent(10)[0][1])
    assert payload.help_requested is True and payload.presses == [1, 2, 1, 4]
    box.mark_sent([uuid])
    assert box.urgent(10) == []


def test_rows_without_an_offer_say_so(box):
    box.save(record())
    ((_, row),) = box.pending(0, 10)
    assert row["help_requested"] is None and to_payload(row).help_requested is None


def test_a_row_held_when_the_power_went_is_sent_without_an_answer_at_the_next_start(tmp_path):
    box = Outbox("kiosk-1", "boot-1").open(tmp_path)
    uuid = box.save(negative_record(), held=True)
    box.close()  # the power goes during the offer
    box = Outbox("kiosk-1", "boot-2").open(tmp_path)
    try:
        assert box.pending(0, 10) == [], "opening alone sends nothing (a technician's `kiosk responses` must not change rows)"
        assert box.release_stale() == 1
        ((_, row),) = box.pending(0, 10)
        assert row["uuid"] == uuid and row["help_requested"] is False
    finally:
        box.close()


def test_a_held_row_kept_in_memory_for_a_full_disk_is_released_there_and_written_later(box):
    db = outbox_module.database
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    db.execute_sql(f"PRAGMA max_page_count = {pages}")
    while not box.unsaved:
        box.save(record(answers=3))
    uuid = box.save(negative_record(), held=True)
    assert box.release(uuid, answered(True))
    db.execute_sql("PRAGMA max_page_count = 1073741823")
    assert box.retry() == 0
    assert [row["uuid"] for _, row in box.urgent(10)] == [uuid]


def test_an_outbox_of_schema_3_is_migrated_with_its_unsent_rows(tmp_path):
    old_outbox(tmp_path, 3, "6f1c2a8e-3f7b-4d4e-9a55-0d5d3c1f2b13", presses="[3]")
    box = Outbox("k", "b").open(tmp_path)
    try:
        ((_, row),) = box.pending(0, 10)
        assert row["uuid"] == "6f1c2a8e-3f7b-4d4e-9a55-0d5d3c1f2b13" and row["help_requested"] is None
        assert box.urgent(10) == [] and box.release_stale() == 0
    finally:
        box.close()


def test_a_request_for_help_goes_before_a_backlog_of_1000(box, clock):
    for _ in range(BACKLOG):
        box.save(record())
    uuid = box.save(negative_record(), held=True)
    box.release(uuid, answered(True))
    wire = Wire()
    engine = SyncEngine("kiosk-1", box, wire, clock, "boot-1", batch_size=100, window=4)
    engine.on_connected()  # the link comes back to a week of answers
    assert wire.uuids(0) == [uuid], "alone, first"
    assert sum(len(upload.responses) for upload in wire.sent[1:]) == 400, "then the backlog, paced by the window"
    engine.on_ack(Ack(v=PROTOCOL_VERSION, stored=wire.uuids(0), at=1.0))
    assert len(wire.sent) == 5, "its acknowledgement frees no backlog slot: the backlog has its own window"


def test_a_request_for_help_made_while_a_backlog_drains_goes_at_once(box, clock):
    for _ in range(BACKLOG):
        box.save(record())
    wire = Wire()
    engine = SyncEngine("kiosk-1", box, wire, clock, "boot-1", batch_size=100, window=4)
    engine.on_connected()
    assert len(wire.sent) == 4, "the window is full: 600 answers wait for acknowledgements"
    uuid = box.save(negative_record(), held=True)
    engine.on_saved()
    assert len(wire.sent) == 4, "held: not sent before the customer answers the offer"
    box.release(uuid, answered(True))
    engine.on_saved()
    assert wire.uuids(4) == [uuid] and wire.sent[4].responses[0].help_requested is True
    for index in range(4):
        engine.on_ack(Ack(v=PROTOCOL_VERSION, stored=wire.uuids(index), at=1.0))
    sent = [u for upload in wire.sent for u in (r.uuid for r in upload.responses)]
    assert sent.index(uuid) < min(sent.index(u) for u in sent[401:] if u != uuid), "ahead of every backlog answer not yet in flight"
    assert sent.count(uuid) == 1, "sent once while in flight"


def test_an_unacknowledged_request_for_help_is_sent_again_first(box, clock):
    for _ in range(10):
        box.save(record())
    uuid = box.save(negative_record(), held=True)
    box.release(uuid, answered(True))
    wire = Wire()
    engine = SyncEngine("kiosk-1", box, wire, clock, "boot-1", ack_timeout=5.0)
    engine.on_connected()
    clock.advance(5.0)
    engine.on_tick()
    assert wire.uuids(0) == [uuid] and wire.uuids(2) == [uuid], "after the timeout, again before the rest"


# --- held for the last answer's moment ---------------------------------------------------------


def burst_of(response, presses=(4, 4, 4)):
    """What the flow makes of a held response when a child's burst follows its last answer."""
    trail = response.presses + presses
    return replace(
        response, status="abandoned", misuse=True, answers=(), negative=False, end_reason="burst",
        presses=trail, press_ms=response.press_ms + tuple(2100 + 100 * i for i in range(len(presses))),
    )


def test_a_response_held_for_its_moment_is_on_the_card_and_released_with_the_presses_made_in_it(box):
    uuid = box.save(negative_record(), held="moment")
    assert box.health().unsent == 1 and box.pending(0, 10) == [], "on the card, not sent while a burst could still follow"
    late = replace(negative_record(), presses=(1, 2, 1, 3), press_ms=(0, 1000, 2000, 2300))
    assert box.release(uuid, late)
    ((_, row),) = box.pending(0, 10)
    assert row["uuid"] == uuid and row["presses"] == [1, 2, 1, 3] and row["press_ms"] == [0, 1000, 2000, 2300]
    assert row["status"] == "completed" and row["negative"] and row["help_requested"] is None


def test_a_burst_caught_in_the_moment_rewrites_the_held_row_and_is_never_sent_as_an_answer(box):
    uuid = box.save(negative_record(), held="moment")
    assert box.amend(uuid, burst_of(negative_record()), "moment")
    assert box.pending(0, 10) == [] and box.urgent(10) == [], "still held: the burst goes on"
    assert box.release(uuid, burst_of(negative_record(), presses=(4, 4, 4, 2)))
    ((_, row),) = box.pending(0, 10)
    assert row["misuse"] and not row["negative"] and row["status"] == "abandoned" and row["answers"] == []
    assert row["end_reason"] == "burst" and row["presses"] == [1, 2, 1, 4, 4, 4, 2]
    assert not box.amend(uuid, negative_record(), "moment"), "a released row is never rewritten"


def test_the_moment_then_the_offer_then_the_answer_is_one_row(box):
    uuid = box.save(negative_record(), held="moment")
    assert box.amend(uuid, negative_record(), "offer")
    assert box.pending(0, 10) == [] and box.urgent(10) == []
    assert box.release(uuid, answered(True))
    assert [row["uuid"] for _, row in box.urgent(10)] == [uuid] and box.health().rows == 1


@pytest.mark.parametrize(
    ("held", "amended", "expected"),
    [
        ("moment", None, {"status": "completed", "misuse": False, "help_requested": None}),  # the thank-you was due any moment
        ("moment", "burst", {"status": "abandoned", "misuse": True, "help_requested": None}),  # a child: never an answer
        ("moment", "offer", {"status": "completed", "misuse": False, "help_requested": False}),  # offered, never answered
        ("offer", None, {"status": "completed", "misuse": False, "help_requested": False}),
    ],
)
def test_rows_held_when_the_power_went_are_sent_as_their_hold_says(tmp_path, held, amended, expected):
    box = Outbox("kiosk-1", "boot-1").open(tmp_path)
    uuid = box.save(negative_record(), held=held)
    if amended == "burst":
        box.amend(uuid, burst_of(negative_record()), "moment")
    elif amended == "offer":
        box.amend(uuid, negative_record(), "offer")
    box.close()  # the power goes
    box = Outbox("kiosk-1", "boot-2").open(tmp_path)
    try:
        assert box.pending(0, 10) == []
        assert box.release_stale() == 1
        ((_, row),) = box.pending(0, 10)
        assert row["uuid"] == uuid and {key: row[key] for key in expected} == expected
    finally:
        box.close()


def test_an_outbox_of_schema_4_with_a_row_held_for_an_offer_is_migrated_and_released_as_before(tmp_path):
    old_outbox(tmp_path, 4, "6f1c2a8e-3f7b-4d4e-9a55-0d5d3c1f2b13", presses="[1, 2, 1]")
    import sqlite3

    conn = sqlite3.connect(tmp_path / outbox_module.DB_FILENAME)
    conn.execute("UPDATE responses SET held = 1")
    conn.commit()
    conn.close()
    box = Outbox("k", "b").open(tmp_path)
    try:
        assert box.pending(0, 10) == [] and box.release_stale() == 1
        ((_, row),) = box.pending(0, 10)
        assert row["help_requested"] is False
        plan = outbox_module.database.execute_sql("EXPLAIN QUERY PLAN SELECT id FROM responses WHERE held > 0").fetchall()
        assert "response_held" in str(plan), "the partial index covers both kinds of hold"
    finally:
        box.close()
