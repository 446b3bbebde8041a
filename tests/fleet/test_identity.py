"""Two kiosks under one device id, told apart from one kiosk that rebooted: the rule by tables,
properties of it, and its record in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet import devices, identity
from fleet.identity import conflicting_boots, merge_runs
from fleet.ingest import Ingest, Received
from kiosk.contract.protocol import PROTOCOL_VERSION, Status, encode


def runs_of(*boots: str, start: float = 0.0, step: float = 1.0) -> list:
    """Sightings in this order, *step* seconds apart, merged into runs."""
    return merge_runs([], [(start + n * step, boot) for n, boot in enumerate(boots)])


@pytest.mark.parametrize(
    "boots, conflict",
    [
        ((), set()),
        (("A",), set()),
        (("A", "A", "A"), set()),
        (("A", "B"), set()),  # one reboot
        (("A", "A", "B", "B", "C"), set()),  # two reboots
        (("A", "B", "A"), set()),  # a late message from before a reboot: one return is not enough
        (("A", "B", "A", "B"), {"A", "B"}),  # two kiosks knocking each other off
        (("A", "B", "B", "A", "A", "B"), {"A", "B"}),
        (("A", "B", "C", "A", "B", "C"), {"A", "B", "C"}),  # three copies of one config
        (("A", "B", "C", "B", "C"), {"B", "C"}),  # an old boot, then two kiosks
    ],
)
def test_the_rule(boots, conflict):
    assert conflicting_boots(runs_of(*boots)) == conflict


def test_returns_older_than_the_window_do_not_count():
    slow = runs_of("A", "B", "A", "B", step=identity.WINDOW_S)  # one switch per window: each run ages out
    assert conflicting_boots(slow) == frozenset()
    assert conflicting_boots(runs_of("A", "B", "A", "B", step=identity.WINDOW_S / 4)) == {"A", "B"}


def test_sightings_stored_out_of_order_are_put_in_their_place():
    """Two workers commit their batches in either order; received times decide the order."""
    late_batch_first = merge_runs(merge_runs([], [(2.0, "B"), (3.0, "B")]), [(1.0, "A")])
    assert [run[0] for run in late_batch_first] == ["A", "B"]
    assert conflicting_boots(late_batch_first) == frozenset(), "a reboot, whatever order the batches came in"


def test_the_history_is_bounded():
    many = runs_of(*[f"boot-{n}" for n in range(100)])
    assert len(many) == identity.KEEP_RUNS and many[-1][0] == "boot-99"


boot_ids = st.lists(st.text("abcdef", min_size=1, max_size=3), min_size=1, max_size=8, unique=True)


@given(boots=boot_ids, repeats=st.lists(st.integers(1, 4), min_size=8, max_size=8), cut=st.integers(0, 40))
def test_one_kiosk_is_never_a_conflict_however_its_messages_are_batched(boots, repeats, cut):
    """Each boot id seen once or more, in order (one kiosk rebooting), split into two batches at any point."""
    sightings = [(float(n), boot) for n, boot in enumerate(b for b, times in zip(boots, repeats) for _ in range(times))]
    first, second = sightings[:cut], sightings[cut:]
    assert conflicting_boots(merge_runs(merge_runs([], second), first)) == frozenset()
    assert conflicting_boots(merge_runs(merge_runs([], first), second)) == frozenset()


@given(a=st.text("ab", min_size=1, max_size=4), b=st.text("cd", min_size=1, max_size=4), turns=st.integers(4, 30), gap=st.floats(0.01, identity.WINDOW_S / 4))
def test_two_kiosks_taking_turns_are_always_a_conflict(a, b, turns, gap):
    sightings = [(n * gap, a if n % 2 == 0 else b) for n in range(turns)]
    assert conflicting_boots(merge_runs([], sightings)) == {a, b}


# --- in the store, through the ingest ---------------------------------------------------------


def status(device_id: str, boot_id: str) -> bytes:
    return encode(Status(v=PROTOCOL_VERSION, device_id=device_id, online=True, software="nabiz-kiosk/test", boot_id=boot_id, reason="connected"))


def test_ingest_marks_alternating_boot_ids_and_warns_once(store, caplog):
    devices.add_device("twin", "Kopya")
    devices.add_device("single", "Tek")
    ingest = Ingest(clock=lambda: 1_800_000_100.0)
    caplog.set_level(logging.WARNING, logger="fleet.identity")
    at = 1_800_000_000.0
    for n, boot in enumerate(["first", "second", "first", "second", "first", "second"]):
        ingest.process([Received("nabiz/twin/status", status("twin", boot), at + n), Received("nabiz/single/status", status("single", f"boot-{n // 3}"), at + n)])
    views = {view.device_id: view for view in devices.list_devices(now=at + 10)}
    assert views["twin"].state == "id-conflict" and views["twin"].id_conflict_boot_ids == ["first", "second"]
    assert views["single"].state == "online" and views["single"].id_conflict_boot_ids == [], "a reboot is not a conflict"
    warnings = [r for r in caplog.records if r.getMessage().startswith("two or more kiosks use one device id")]
    assert [r.device for r in warnings] == ["twin"], "once, not at every knock"
    assert "fleet device credentials twin" in warnings[0].fix
    later = {view.device_id: view for view in devices.list_devices(now=at + 10 + identity.WINDOW_S + 1)}
    assert later["twin"].state != "id-conflict" and later["twin"].id_conflict_at == at + 5, "shown while recent; kept as history"
    assert json.loads(devices.Device.get_by_id("twin").boot_runs)[-1][0] == "second"


def test_a_retained_status_replayed_at_start_is_no_sighting(store):
    devices.add_device("twin", "Kopya")
    ingest = Ingest()
    at = 1_800_000_000.0
    for n, boot in enumerate(["first", "second", "first", "second"]):
        ingest.process([Received("nabiz/twin/status", status("twin", boot), at + n, retained=True)])
    assert devices.list_devices(now=at + 5)[0].state != "id-conflict"


def test_the_migration_adds_the_columns_to_an_existing_store(store_url):
    """A store made by the previous release (schema 1, devices without the new columns) is migrated."""
    from fleet.store import MIGRATIONS, SchemaMigration, close_database, open_database

    db = open_database(store_url)
    try:
        for column in ("boot_runs", "id_conflict_at", "id_conflict_boots"):
            db.execute_sql(f"ALTER TABLE devices DROP COLUMN {column}")
        SchemaMigration.delete().where(SchemaMigration.version > 1).execute()
    finally:
        close_database()
    db = open_database(store_url)
    try:
        assert {c.name for c in db.get_columns("devices")} >= {"boot_runs", "id_conflict_at", "id_conflict_boots"}
        assert max(m.version for m in SchemaMigration.select()) == len(MIGRATIONS)
        devices.add_device("k1", "S")
        assert devices.list_devices()[0].id_conflict_at is None
    finally:
        close_database()
