"""``fleet responses`` never dies on one row: every row the store can hold is exported.

A fleet before issue 7 stored a 'synced' time in milliseconds and a monotonic time of 1e300;
afterwards every export died (``year 58883 is out of range``). The protocol now refuses such
times, but stores already hold them, and a store holds whatever its columns take: here rows
go straight into the store, not through the protocol.
"""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import uuid as uuidlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet import export
from fleet.ingest import UNSTORABLE
from fleet.store import RESPONSE_FIELDS, StoredResponse, database
from tests.fuzzing import fuzz_settings

ROOT = Path(__file__).resolve().parents[2]


def row(**changes) -> dict:
    base = {
        "uuid": str(uuidlib.uuid4()), "device_id": "kiosk-1", "site": "İzmir", "survey_id": "exit-default", "survey_version": 1,
        "language": "tr", "status": "completed", "misuse": False, "negative": False, "end_reason": "completed",
        "answers": '[{"question":"satisfaction","option":"happy","button":3,"negative":false,"elapsed_ms":0}]', "presses": "[3]",
        "started_wall": 1_790_000_000.0, "started_monotonic": 10.0, "finished_wall": 1_790_000_002.0, "finished_monotonic": 12.0,
        "boot_id": "boot-1", "clock_synced": True, "occurred_at": 1_790_000_002.0, "time_source": "device", "received_at": 1_790_000_003.0,
    }
    base.update(changes)
    return base


def exported(fmt: str) -> tuple[str, int]:
    """Both writers as the CLI runs them: onto a UTF-8 text stream (a lone surrogate would fail there)."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    count = (export.write_csv if fmt == "csv" else export.write_jsonl)(export.select(), out)
    out.flush()
    return raw.getvalue().decode("utf-8"), count


def strict_json(line: str) -> dict:
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize(
    "bad, unformattable",
    [
        ({"finished_wall": 1_790_000_002_000.0, "occurred_at": 1_790_000_002_000.0}, {"occurred_at": 1_790_000_002_000.0}),  # a 'synced' Date.now()
        ({"finished_monotonic": 1e300, "occurred_at": -1e300}, {"occurred_at": -1e300}),
        ({"occurred_at": math.inf, "finished_wall": -math.inf}, {"occurred_at": "inf", "finished_wall": "-inf"}),
        ({"answers": "not json", "presses": "[1, 2"}, {"answers": "not json", "presses": "[1, 2"}),
        ({"answers": '[1, {"question": 2}, "\\ud800", NaN]'}, {"answers": '[1, {"question": 2}, "\\ud800", NaN]'}),
        ({"answers": '[1, {"question": 2}, "\\ud800"]'}, {}),  # strict JSON, odd content: exported as it is
    ],
)
def test_a_row_that_used_to_stop_the_export_is_exported_with_its_raw_value(store, bad, unformattable):
    good, odd = row(), row(**bad)
    StoredResponse.insert_many([good, odd]).execute()
    text, count = exported("jsonl")
    assert count == 2
    lines = {r["uuid"]: r for r in map(strict_json, text.splitlines())}
    assert lines[good["uuid"]]["occurred_at"] == "2026-09-21T14:13:22Z" and "unformattable" not in lines[good["uuid"]]
    assert lines[odd["uuid"]].get("unformattable", {}) == unformattable
    for field in unformattable:
        assert (lines[odd["uuid"]].get(field) or lines[odd["uuid"]]["device_clock"].get(field)) is None
    table, count = exported("csv")
    parsed = {r["uuid"]: r for r in csv.DictReader(io.StringIO(table))}
    assert count == 2 and parsed[good["uuid"]]["unformattable"] == ""
    assert bool(parsed[odd["uuid"]]["unformattable"]) is bool(unformattable)


def test_fleet_responses_warns_and_goes_on(store, store_url, tmp_path):
    """The issue's row through the real command, both formats: exit 0, every row, a warning."""
    StoredResponse.insert_many([row(), row(finished_wall=1_790_000_002_000.0, occurred_at=1_790_000_002_000.0)]).execute()
    database.close()
    for fmt in ("jsonl", "csv"):
        result = subprocess.run(
            [sys.executable, "-m", "fleet", "responses", "--format", fmt, "--data-dir", str(tmp_path), "--db", store_url],
            capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "2 response(s)" in result.stderr and "1 with a value that cannot be exported as it should" in result.stderr and "occurred_at=1790000002000.0" in result.stderr
        assert "1790000002000.0" in result.stdout


# Every value each column can hold: any text (the store refuses what it cannot keep, e.g. NUL on
# PostgreSQL), any float (inf and NaN where the store keeps them), any integer its column keeps.
texts = st.text(max_size=20)
floats = st.floats(allow_nan=True, allow_infinity=True)
json_texts = st.one_of(texts, st.sampled_from(["[]", "[1]", '[{"question":"q","option":"o"}]', '["\\ud800"]', '{"a": NaN}', "[1e999]", "null", '[{"question": [1]}]']))
column_values = {
    "uuid": texts, "device_id": texts, "site": texts, "survey_id": texts, "survey_version": st.integers(-(2**31), 2**31 - 1),
    "language": texts, "status": texts, "misuse": st.booleans(), "negative": st.booleans(), "end_reason": texts,
    "answers": json_texts, "presses": json_texts, "started_wall": floats, "started_monotonic": floats, "finished_wall": floats,
    "finished_monotonic": floats, "boot_id": texts, "clock_synced": st.booleans(), "occurred_at": floats, "time_source": texts, "received_at": floats,
    # NULL in each: a row stored before the fleet kept the field.
    "press_ms": st.none() | json_texts, "suspect": st.none() | st.booleans(), "help_requested": st.none() | st.booleans(),
}
assert set(column_values) == {f.name for f in RESPONSE_FIELDS}
stored_rows = st.lists(st.fixed_dictionaries(column_values), min_size=1, max_size=5)


def test_every_row_the_store_can_hold_is_exported_in_both_formats(store):
    seen = {"held": 0, "odd": 0}

    @fuzz_settings(60)
    @given(rows=stored_rows)
    def export_them(rows):
        StoredResponse.delete().execute()
        held = 0
        for values in rows:
            try:
                with database.atomic():
                    StoredResponse.insert(values).execute()
                held += 1
            except UNSTORABLE:  # a row the store refuses (a NUL on PostgreSQL, NaN in SQLite's NOT NULL) is not one it holds
                continue
        text, count = exported("jsonl")
        assert count == held == len(text.splitlines())
        for line in text.splitlines():
            out = strict_json(line)
            seen["odd"] += "unformattable" in out
            assert not (out["negative"] and (out["misuse"] or out["suspect"])), "a misuse or suspect row is never negative in an export"
        table, count = exported("csv")
        cells = list(csv.DictReader(io.StringIO(table, newline="")))
        assert count == held == len(cells)
        assert all(cell["suspect"] in ("yes", "no", "") and cell["help_requested"] in ("yes", "no", "") for cell in cells)
        seen["held"] += held

    export_them()
    assert seen["held"] >= 30 and seen["odd"] >= 5, f"the rows generated must reach the store and its corners: {seen}"
