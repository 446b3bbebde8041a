"""The outbox on a real SQLite file: what is saved, how it survives, and the size policy."""

import json
import sqlite3
import uuid

import pytest

from kiosk import outbox as outbox_module
from kiosk.flow import Answer, ResponseRecord
from kiosk.outbox import DB_FILENAME, Outbox, OutboxError
from tests.records import old_outbox, record

MB = 1024 * 1024


@pytest.fixture
def free():
    return {"bytes": 10_000 * MB}


@pytest.fixture
def box(tmp_path, free):
    box = Outbox("ist-kadikoy-01", "boot-1", max_rows=50, reserve_bytes=100 * MB, disk_free=lambda: free["bytes"]).open(tmp_path)
    yield box
    box.close()


def test_saves_every_field_with_a_device_made_uuid(box):
    made = box.save(record())
    (row,) = box.responses()
    assert uuid.UUID(made) and row["uuid"] == made
    assert row["device_id"] == "ist-kadikoy-01" and row["boot_id"] == "boot-1"
    assert row["survey_id"] == "exit-default" and row["survey_version"] == 3
    assert row["status"] == "completed" and row["misuse"] is False and row["language"] == "tr"
    assert row["answers"] == [
        {"question": "q0", "option": "happy", "button": 3, "negative": False, "elapsed_ms": 0},
        {"question": "q1", "option": "happy", "button": 3, "negative": False, "elapsed_ms": 900},
    ]
    assert row["presses"] == [3, 3] and row["press_ms"] == [0, 900] and row["suspect"] is False
    assert row["started"] == {"wall": 1_790_000_100.0, "monotonic": 100.0}
    assert row["finished"] == {"wall": 1_790_000_102.0, "monotonic": 102.0}
    assert row["clock_synced"] is True and row["sent_at"] is None


def test_uses_wal_and_full_sync(box, tmp_path):
    db = outbox_module.database
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
    assert (tmp_path / DB_FILENAME).exists()


def test_a_committed_row_is_visible_to_another_connection_at_once(box, tmp_path):
    made = box.save(record())
    other = sqlite3.connect(tmp_path / DB_FILENAME)
    assert other.execute("SELECT uuid FROM responses").fetchall() == [(made,)]
    other.close()


def test_rows_survive_reopening_and_migrations_run_once(tmp_path, free):
    first = Outbox("d", "b", disk_free=lambda: free["bytes"]).open(tmp_path)
    saved = [first.save(record()) for _ in range(3)]
    first.close()
    second = Outbox("d", "b", disk_free=lambda: free["bytes"]).open(tmp_path)
    assert [r["uuid"] for r in second.responses()] == saved
    assert outbox_module.database.execute_sql("PRAGMA user_version").fetchone()[0] == len(outbox_module.MIGRATIONS)
    assert second.health().rows == 3
    second.close()


def test_a_newer_schema_is_refused_with_the_fix(tmp_path):
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(OutboxError, match="upgrade the kiosk software"):
        Outbox("d", "b").open(tmp_path)


def test_a_corrupt_file_is_refused_with_the_fix(tmp_path):
    (tmp_path / DB_FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(OutboxError, match="move it aside"):
        Outbox("d", "b").open(tmp_path)


def test_mark_sent_and_unsent_listing(box):
    a, b = box.save(record()), box.save(record())
    assert box.mark_sent([a, "not-a-uuid"]) == 1
    assert [r["uuid"] for r in box.responses(unsent_only=True)] == [b]
    assert box.health().unsent == 1


def test_low_disk_refuses_misuse_but_keeps_answers(box, free, caplog):
    free["bytes"] = 50 * MB  # under the 100 MB reserve
    assert box.save(record(misuse=True)) is None
    assert box.save(record()) is not None
    health = box.health()
    assert health.misuse_refused == 1 and health.rows == 1
    assert "misuse press not stored" in caplog.text


def test_at_the_row_cap_sent_rows_then_misuse_rows_make_room(box):
    sent = [box.save(record()) for _ in range(4)]
    box.mark_sent(sent)
    misuse = [box.save(record(misuse=True)) for _ in range(10)]
    real = [box.save(record()) for _ in range(36)]
    assert box.health().rows == 50
    newest = box.save(record())  # at the cap: prune to 90 % (45) first
    remaining = {r["uuid"] for r in box.responses()}
    assert not set(sent) & remaining, "acknowledged rows go first"
    assert len(set(misuse) & remaining) == 9, "then the oldest misuse row"
    assert set(real) | {newest} <= remaining, "real unsent answers are never pruned"
    assert box.health().rows == 46


def test_over_the_cap_with_only_real_answers_they_are_still_kept(box):
    saved = [box.save(record()) for _ in range(60)]
    assert [r["uuid"] for r in box.responses()] == saved
    assert box.counters()["over_cap_writes"] == 10
    assert box.save(record(misuse=True)) is None


def test_a_full_disk_keeps_answers_in_memory_and_writes_them_when_space_returns(box, caplog):
    db = outbox_module.database
    box.save(record())
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    db.execute_sql(f"PRAGMA max_page_count = {pages}")  # SQLite now answers SQLITE_FULL, as on a full card
    waiting = [box.save(record(answers=3)) for _ in range(40)]
    assert all(waiting)
    assert box.unsaved > 0 and not box.health().storage_ok
    assert "the disk is full" in caplog.text
    db.execute_sql("PRAGMA max_page_count = 1073741823")
    assert box.retry() == 0
    stored = [r["uuid"] for r in box.responses()][1:]
    assert stored == waiting, "every answer stored, once, in order"


def test_health_reports_backlog_age_and_disk(box, free):
    box.save(record(at=10))
    box.save(record(at=20))
    health = box.health()
    assert health.unsent == 2 and health.oldest_unsent_wall == 1_790_000_012.0
    assert health.disk_free_bytes == free["bytes"] and health.database_bytes > 0


def test_turkish_text_round_trips(box, tmp_path):
    r = record()
    r = ResponseRecord(**{**r.__dict__, "answers": (Answer("şikâyet", "ığdır-çok-güzel", 1, True, 0),)})
    box.save(r)
    (row,) = box.responses()
    assert row["answers"][0]["question"] == "şikâyet"
    raw = sqlite3.connect(tmp_path / DB_FILENAME).execute("SELECT answers FROM responses").fetchone()[0]
    assert json.loads(raw)[0]["option"] == "ığdır-çok-güzel"


def test_unwritable_data_dir_is_explained(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutboxError, match="cannot create the data directory"):
        Outbox("d", "b").open(blocker / "data")


def test_a_second_open_outbox_is_refused_not_silently_rebound(box, tmp_path):
    with pytest.raises(OutboxError, match="already open"):
        Outbox("d", "b").open(tmp_path / "other")
    box.save(record())
    assert len(list(box.responses())) == 1


def test_an_outbox_from_the_first_release_is_migrated_with_its_rows(tmp_path):
    """A kiosk updated in the field keeps its unsent answers: schema 1 → 2 adds ``refused``."""
    old_outbox(tmp_path, 1, "6f1c2a8e-3f7b-4d4e-9a55-0d5d3c1f2b11")
    box = Outbox("k", "b").open(tmp_path)
    try:
        assert [row["uuid"] for _, row in box.pending(0, 10)] == ["6f1c2a8e-3f7b-4d4e-9a55-0d5d3c1f2b11"]
        assert box.health().unsent == 1 and box.health().refused == 0
    finally:
        box.close()
    assert sqlite3.connect(tmp_path / DB_FILENAME).execute("PRAGMA user_version").fetchone()[0] == len(outbox_module.MIGRATIONS)


def test_a_suspect_response_keeps_its_flag_and_press_timing(box):
    from dataclasses import replace

    box.save(replace(record(answers=3), suspect=True, press_ms=(0, 6000, 7500)))
    (row,) = box.responses()
    assert row["suspect"] is True and row["press_ms"] == [0, 6000, 7500]


def test_rows_saved_before_press_timing_existed_read_as_untimed_and_unflagged(tmp_path):
    """Schema 2 → 3 adds ``press_ms`` and ``suspect``; unsent answers from before are kept and still sent."""
    from kiosk.contract.sync_engine import to_payload

    old_outbox(tmp_path, 2, "6f1c2a8e-3f7b-4d4e-9a55-0d5d3c1f2b12", presses="[3, 4]")
    box = Outbox("k", "b").open(tmp_path)
    try:
        ((_, row),) = box.pending(0, 10)
        assert row["press_ms"] == [] and row["suspect"] is False
        payload = to_payload(row)
        assert payload.presses == [3, 4] and payload.press_ms == [] and payload.suspect is False
    finally:
        box.close()
