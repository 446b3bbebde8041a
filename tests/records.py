"""Factories for responses as the flow hands them to the outbox, and outbox files as earlier releases left them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kiosk import outbox as outbox_module
from kiosk.contract.clock import Instant
from kiosk.flow import Answer, ResponseRecord
from kiosk.outbox import DB_FILENAME


def record(misuse=False, status="completed", answers=2, at=100.0):
    return ResponseRecord(
        survey_id="exit-default",
        survey_version=3,
        language="tr",
        status=status,
        misuse=misuse,
        answers=() if misuse else tuple(Answer(f"q{i}", "happy", 3, False, i * 900) for i in range(answers)),
        presses=(2,) if misuse else (3,) * answers,
        negative=False,
        started=Instant(at, 1_790_000_000.0 + at, False),
        finished=Instant(at + 2, 1_790_000_002.0 + at, True),
        end_reason="misuse" if misuse else "completed",
        press_ms=(0,) if misuse else tuple(i * 900 for i in range(answers)),
    )


def negative_record(at: float = 100.0) -> ResponseRecord:
    """A complete unhappy response (very unhappy, staff, would not recommend): one the kiosk offers help after."""
    answers = (Answer("satisfaction", "very-unhappy", 1, True, 0), Answer("what-went-wrong", "staff", 2, True, 1000), Answer("recommend", "no", 1, True, 2000))
    return replace(record(at=at), answers=answers, presses=(1, 2, 1), press_ms=(0, 1000, 2000), negative=True)


def old_outbox(tmp_path: Path, version: int, uuid_: str, presses: str = "[]") -> None:
    """An outbox file as an earlier release left it (schema *version*), with one unsent row."""
    import peewee

    db = peewee.SqliteDatabase(str(tmp_path / DB_FILENAME))
    for migration in outbox_module.MIGRATIONS[:version]:
        migration(db)
    db.execute_sql(
        "INSERT INTO responses (uuid, device_id, survey_id, survey_version, language, status, misuse, negative, end_reason, answers, presses,"
        " started_wall, started_monotonic, finished_wall, finished_monotonic, boot_id, clock_synced) VALUES"
        " (?, 'k', 's', 1, 'tr', 'completed', 0, 0, 'completed', '[]', ?, 1, 1, 2, 2, 'b', 1)",
        (uuid_, presses),
    )
    db.execute_sql(f"PRAGMA user_version = {version}")
    db.close()
