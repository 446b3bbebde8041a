"""The protocol's newer response fields in the store and the export: press_ms, suspect, help_requested.

On SQLite and PostgreSQL: a new store has the columns; a store made by the earlier migrations
gets them from the migration, its rows reading "not known"; both export every row.
"""

from __future__ import annotations

import csv
import io
import json

from fleet import devices, export
from fleet.ingest import Ingest, Received
from fleet.store import MIGRATIONS, SchemaMigration, StoredResponse, _migration_response_fields, close_database, open_database
from tests.protocol_factories import response, upload

NOW = 1_790_000_100.0
NEW_COLUMNS = ("press_ms", "suspect", "help_requested")
#: The responses table as the migrations before this one made it.
EARLIER_COLUMNS = {
    "id", "uuid", "device_id", "site", "survey_id", "survey_version", "language", "status", "misuse", "negative", "end_reason", "answers",
    "presses", "started_wall", "started_monotonic", "finished_wall", "finished_monotonic", "boot_id", "clock_synced", "occurred_at",
    "time_source", "received_at",
}


def exported() -> tuple[dict[str, dict], dict[str, dict]]:
    """Both formats, keyed by uuid."""
    lines, table = io.StringIO(), io.StringIO()
    export.write_jsonl(export.select(), lines)
    export.write_csv(export.select(), table)
    return {r["uuid"]: r for r in map(json.loads, lines.getvalue().splitlines())}, {r["uuid"]: r for r in csv.DictReader(io.StringIO(table.getvalue()))}


def test_a_store_made_by_the_earlier_migrations_is_upgraded_and_exports_every_row(store_url):
    number = MIGRATIONS.index(_migration_response_fields) + 1  # the lead may renumber it on merge
    db = open_database(store_url)
    try:  # back to the store the earlier migrations made, with a response stored then
        for column in NEW_COLUMNS:
            db.execute_sql(f"ALTER TABLE responses DROP COLUMN {column}")
        SchemaMigration.delete().where(SchemaMigration.version >= number).execute()
        assert {c.name for c in db.get_columns("responses")} == EARLIER_COLUMNS
        devices.add_device("kiosk-1", "İzmir Alsancak", now=NOW - 1000)
        old = response(misuse=True, negative=True)  # a row an older kiosk marked so: never negative in an export
        old_row = {"uuid": old["uuid"], "device_id": "kiosk-1", "site": "İzmir Alsancak", "survey_id": "exit-default", "survey_version": 1, "language": "tr",
                   "status": "completed", "misuse": True, "negative": True, "end_reason": "misuse", "answers": "[]", "presses": "[1]", "started_wall": NOW,
                   "started_monotonic": 1.0, "finished_wall": NOW, "finished_monotonic": 2.0, "boot_id": "b", "clock_synced": True, "occurred_at": NOW,
                   "time_source": "device", "received_at": NOW}  # fmt: skip
        columns = ", ".join(f'"{name}"' for name in old_row)
        db.execute_sql(f"INSERT INTO responses ({columns}) VALUES ({', '.join([db.param] * len(old_row))})", list(old_row.values()))
    finally:
        close_database()

    db = open_database(store_url)
    try:
        assert {c.name for c in db.get_columns("responses")} == EARLIER_COLUMNS | set(NEW_COLUMNS)
        assert number in {m.version for m in SchemaMigration.select()}
        stored = StoredResponse.get(StoredResponse.uuid == old["uuid"])
        assert (stored.press_ms, stored.suspect, stored.help_requested) == (None, None, None), "not known: stored before the fleet kept them"
        new = response(device_id="kiosk-1", presses=[2, 1], press_ms=[0, 1400], help_requested=False)
        assert Ingest(clock=lambda: NOW).process([Received("nabiz/kiosk-1/responses", upload([new], v=2), NOW)]).stored == 1
        lines, cells = exported()
        assert len(lines) == len(cells) == 2
        assert {k: lines[old["uuid"]][k] for k in ("negative", "misuse", "suspect", "help_requested", "press_ms")} == {
            "negative": False, "misuse": True, "suspect": None, "help_requested": None, "press_ms": None,
        }  # fmt: skip
        assert {k: lines[new["uuid"]][k] for k in ("negative", "suspect", "help_requested", "press_ms", "presses")} == {
            "negative": True, "suspect": False, "help_requested": False, "press_ms": [0, 1400], "presses": [2, 1],
        }  # fmt: skip
        assert {k: cells[old["uuid"]][k] for k in ("negative", "misuse", "suspect", "help_requested")} == {"negative": "no", "misuse": "yes", "suspect": "", "help_requested": ""}
        assert {k: cells[new["uuid"]][k] for k in ("negative", "misuse", "suspect", "help_requested")} == {"negative": "yes", "misuse": "no", "suspect": "no", "help_requested": "no"}
        assert "press_ms" not in cells[new["uuid"]], "press timings are for JSON lines: a spreadsheet has no use for them"
    finally:
        close_database()


def test_a_suspect_response_is_stored_so_and_never_negative_in_an_export(store):
    devices.add_device("kiosk-1", "İzmir Alsancak", now=NOW - 1000)
    suspect = response(device_id="kiosk-1", negative=True, suspect=True, presses=[1, 1], press_ms=[0, 31_000])  # a kiosk that broke the rule
    helped = response(device_id="kiosk-1", help_requested=True)
    Ingest(clock=lambda: NOW).process([Received("nabiz/kiosk-1/responses", upload([suspect, helped], v=2), NOW)])
    assert StoredResponse.get(StoredResponse.uuid == suspect["uuid"]).suspect is True
    lines, cells = exported()
    assert (lines[suspect["uuid"]]["negative"], lines[suspect["uuid"]]["suspect"], cells[suspect["uuid"]]["suspect"]) == (False, True, "yes")
    assert (lines[helped["uuid"]]["negative"], lines[helped["uuid"]]["help_requested"], cells[helped["uuid"]]["help_requested"]) == (True, True, "yes")


def test_a_fresh_store_has_the_columns_and_runs_the_migration_as_a_no_op(store):
    assert {c.name for c in store.get_columns("responses")} >= set(NEW_COLUMNS)
    _migration_response_fields(store)  # again: nothing to add, nothing fails
    assert {c.name for c in store.get_columns("responses")} == EARLIER_COLUMNS | set(NEW_COLUMNS)


def test_a_suspect_response_is_not_counted_in_an_escalation_window(store):
    """The window rule's count reads the store: now that it keeps the flag, a suspect response
    (maybe two customers) is left out, as misuse is; one stored before the flag still counts."""
    from fleet.escalation.observe import count_windows
    from fleet.escalation.rules import WindowQuery
    from fleet.store import database

    devices.add_device("kiosk-1", "kadikoy", now=NOW - 1000)
    plain, suspect = response(device_id="kiosk-1"), response(device_id="kiosk-1", suspect=True, negative=False)
    Ingest(clock=lambda: NOW).process([Received("nabiz/kiosk-1/responses", upload([plain, suspect], v=2), NOW)])
    window = WindowQuery("mood", "site:kadikoy", "kadikoy", None, NOW - 900)
    assert [(c.total, c.negative) for c in count_windows([window], NOW)] == [(1, 1)]
    database.execute_sql("UPDATE responses SET suspect = NULL")  # as a store migrated from an older release holds them
    assert [(c.total, c.negative) for c in count_windows([window], NOW)] == [(2, 1)]
