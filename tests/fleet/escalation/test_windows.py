"""Window counts kept from the store's tail (``windows.Windows``), on a real store (SQLite, and
PostgreSQL when it answers): they count what the store holds, every process's rows, each once,
leaving out misuse, suspect and empty responses, as a read of the whole window does."""

from __future__ import annotations

import json
import math
import uuid as uuidlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.escalation import observe
from fleet.escalation.rules import WindowQuery
from fleet.escalation.windows import Windows
from fleet.store import StoredResponse
from tests.escalation_helpers import NOW

HORIZON = 900.0


def insert(rows, first_id=None):
    """Store rows as ingest would: (device, site, occurred_at, negative, misuse, suspect, answers)."""
    records = []
    for number, (device, site, at, negative, misuse, suspect, answered) in enumerate(rows):
        answers = json.dumps([{"question": "satisfaction", "option": "x", "button": 1, "negative": negative, "elapsed_ms": 0}] if answered else [])
        record = {
            "uuid": str(uuidlib.uuid4()), "device_id": device, "site": site, "survey_id": "exit-default", "survey_version": 1, "language": "tr",
            "status": "completed", "misuse": misuse, "negative": negative, "end_reason": "completed", "answers": answers, "presses": "[1]",
            "started_wall": at, "started_monotonic": 1.0, "finished_wall": at, "finished_monotonic": 2.0, "boot_id": "b", "clock_synced": True,
            "occurred_at": at, "time_source": "kiosk", "received_at": at, "suspect": suspect,
        }
        if first_id is not None:
            record["id"] = first_id + number
        records.append(record)
    if records:
        StoredResponse.insert_many(records).execute()


def brute_force(rows, site, device, since, now):
    """The counted responses of the scope whose second is in [since, now]: no misuse, no suspect
    (NULL counts: stored before the flag was kept), answers given."""
    inside = [
        negative
        for d, s, at, negative, misuse, suspect, answered in rows
        if (d == device if device else s == site) and not misuse and suspect is not True and answered and math.floor(since) <= math.floor(at) <= math.floor(now)
    ]
    return len(inside), sum(inside)


row = st.tuples(
    st.sampled_from(["kiosk-1", "kiosk-2"]),
    st.just("kadikoy"),
    st.one_of(st.floats(NOW - 3 * HORIZON, NOW, allow_nan=False), st.integers(-int(HORIZON) - 1, 0).map(lambda d: NOW + d)),
    st.booleans(),
    st.sampled_from([False, False, False, True]),  # misuse now and then
    st.sampled_from([None, False, False, True]),
    st.sampled_from([True, True, True, False]),
)


@pytest.mark.parametrize("late_commits", [True, False], ids=["rows", "grouped"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(row, max_size=12), min_size=1, max_size=5), steps=st.lists(st.floats(0, 20, allow_nan=False), min_size=5, max_size=5))
def test_counts_equal_a_brute_force_count_of_the_store_after_every_batch(store, batches, steps, late_commits):
    StoredResponse.delete().execute()
    # late commits: the rows read one by one, and the re-reads too (each id still counted once);
    # else the tail grouped by the store per kiosk and second (SQLite's way)
    windows = Windows(HORIZON, settle_seconds=10, late_commits=late_commits)
    stored, now = [], NOW
    for batch, step in zip(batches, steps):
        insert(batch)  # by this process or another: the windows read the store, not the hook's rows
        stored += batch
        now += step
        queries = [WindowQuery("mood", "site:kadikoy", "kadikoy", None, now - HORIZON), WindowQuery("mood", "device:kiosk-1", "kadikoy", "kiosk-1", now - 120.5)]
        counted = [(count.total, count.negative) for count in windows.count(queries, now)]
        assert counted == [brute_force(stored, "kadikoy", None, now - HORIZON, now), brute_force(stored, "kadikoy", "kiosk-1", now - 120.5, now)]
        if float(now).is_integer():  # whole seconds and nothing in the future: the exact read agrees
            assert [(c.total, c.negative) for c in observe.count_windows(queries[:1], now)] == counted[:1]


def test_another_processs_rows_are_counted_at_the_next_count_without_a_tick(store):
    windows = Windows(HORIZON)
    query = WindowQuery("mood", "site:kadikoy", "kadikoy", None, NOW - HORIZON)
    insert([("kiosk-1", "kadikoy", NOW - 10, True, False, False, True)] * 2)
    assert [(c.total, c.negative) for c in windows.count([query], NOW)] == [(2, 2)], "seeded from the store"
    insert([("kiosk-9", "kadikoy", NOW - 5, False, False, False, True)] * 3)  # another worker's traffic
    assert [(c.total, c.negative) for c in windows.count([query], NOW + 1)] == [(5, 2)]
    assert windows.negative_scopes(NOW - HORIZON, NOW + 1) == [("kadikoy", "kiosk-1")]


def test_a_row_that_commits_after_a_higher_id_is_counted_at_the_next_settles_reread(store):
    query = WindowQuery("mood", "site:kadikoy", "kadikoy", None, NOW - HORIZON)
    one = ("kiosk-1", "kadikoy", NOW - 10, True, False, False, True)
    insert([one], first_id=100)
    windows = Windows(HORIZON, settle_seconds=15, late_commits=True)
    assert windows.count([query], NOW)[0].total == 1
    insert([one], first_id=200)
    assert windows.count([query], NOW + 1)[0].total == 2  # the tail: id > 100
    insert([one], first_id=150)  # PostgreSQL: id 150 was handed out before 200 but committed after
    assert windows.count([query], NOW + 2)[0].total == 2, "the tail reads past it"
    assert windows.count([query], NOW + 16)[0].total == 3, "the settle reads the last ids again: counted, once"
    assert windows.count([query], NOW + 32)[0].total == 3
    assert windows.count([query], NOW + 48)[0].total == 3
