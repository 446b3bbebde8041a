"""What a rollout costs the store: one signature per device, not one copy of the document per device.

The document is stored once per version (``survey_versions``); each assignment row keeps only its
own fields, and ``rollouts.payloads`` rebuilds the signed message, byte for byte what ``sign``
made, when ``fleet serve`` publishes it. On SQLite and PostgreSQL, and across the migration from
stores whose rows held the whole payload."""

from __future__ import annotations

import pytest
from playhouse import db_url

from fleet import devices
from fleet.store import MIGRATIONS, SchemaMigration, StoreError, _migration_assignment_rows, close_database, open_database
from fleet.surveys import rollouts, versions
from fleet.surveys.tables import Assignment, Rollout
from kiosk.contract.assignment import sign, trusted_keys, verify
from kiosk.contract.protocol import decode, encode
from tests.fleet.surveys.conftest import survey_file

#: What one assignment row may hold, all columns together, as text: ids, seq, an 88-character
#: signature, times, state and a reason. The demo survey's document alone is ~2,200 bytes.
ROW_BYTES_LIMIT = 400


@pytest.fixture
def ten_kiosks(store, tmp_path):
    for n in range(10):
        devices.add_device(f"kiosk-{n}", "Ankara" if n < 5 else "İstanbul Kadıköy")
    versions.add(survey_file(tmp_path, 4, "Şimdi bir soru: işler doğru muydu?"))
    return [f"kiosk-{n}" for n in range(10)]


def row_bytes(store) -> list[int]:
    cursor = store.execute_sql("SELECT * FROM survey_assignments")
    return [sum(len(str(value).encode()) for value in row if value is not None) for row in cursor.fetchall()]


def test_an_assignment_row_holds_no_copy_of_the_document(store, ten_kiosks, signing_key):
    for _ in range(3):
        rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all")), signing_key)
    sizes = row_bytes(store)
    assert len(sizes) == 30
    assert max(sizes) <= ROW_BYTES_LIMIT, f"{max(sizes)} bytes in one assignment row: the document is copied per device"
    rows = store.execute_sql("SELECT * FROM survey_assignments").fetchall()
    assert not any("Şimdi bir soru" in str(value) for row in rows for value in row)


def test_the_published_payload_is_what_sign_made_and_each_kiosk_takes_only_its_own(store, ten_kiosks, signing_key):
    pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all")), signing_key, now=1_790_000_000.123456)
    built = rollouts.payloads(pushed.rollout, ten_kiosks)
    document = versions.get("exit-default", 4).document
    keys = trusted_keys([signing_key.public_text])
    for row in Assignment.select().where(Assignment.rollout == pushed.rollout.id):
        # Ed25519 signatures are deterministic: signing the same fields again gives the same bytes.
        again = sign(signing_key.private, survey_id="exit-default", version=4, rollout=pushed.rollout.id, seq=row.seq, target=row.device_id, document=document, issued_at=1_790_000_000.123456)
        assert built[row.device_id] == encode(again).decode()
        assignment = decode("survey", built[row.device_id].encode())
        assert verify(assignment, keys, row.device_id, 0).accepted
        assert not verify(assignment, keys, "kiosk-zz", 0).accepted
    assert set(rollouts.payloads(pushed.rollout, ["kiosk-1", "kiosk-unknown"])) == {"kiosk-1"}


def test_a_store_whose_rows_held_the_payload_is_migrated_to_byte_identical_payloads(store_url, tmp_path, signing_key):
    """The store as release 0.2.0 left it: each row with its whole signed payload. After the
    migration, every payload rebuilt is the one stored before, and the column is gone."""
    number = MIGRATIONS.index(_migration_assignment_rows) + 1  # the lead may renumber it on merge
    db = open_database(store_url)
    try:
        for n in range(3):
            devices.add_device(f"kiosk-{n}", "Ankara")
        versions.add(survey_file(tmp_path, 4, "Eski bir sürüm: ğüşİı"))
        pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all")), signing_key, now=1_790_000_000.5)
        before = rollouts.payloads(pushed.rollout, ["kiosk-0", "kiosk-1", "kiosk-2"])
        # Back to the older shape: a payload column, filled as the older push did, and no slim columns.
        db.execute_sql("ALTER TABLE survey_assignments ADD COLUMN payload TEXT NOT NULL DEFAULT ''")
        for device_id, payload in before.items():
            db.execute_sql(f"UPDATE survey_assignments SET payload = {db.param} WHERE device_id = {db.param}", (payload, device_id))
        for column in ("signature", "issued_at", "v"):
            db.execute_sql(f"ALTER TABLE survey_assignments DROP COLUMN {column}")
        SchemaMigration.delete().where(SchemaMigration.version >= number).execute()
    finally:
        close_database()

    db = open_database(store_url)
    try:
        columns = {c.name for c in db.get_columns("survey_assignments")}
        assert "payload" not in columns and {"signature", "issued_at", "v"} <= columns
        rollout = Rollout.get_by_id(pushed.rollout.id)
        assert rollouts.payloads(rollout, ["kiosk-0", "kiosk-1", "kiosk-2"]) == before
        _migration_assignment_rows(db)  # again: nothing to do, nothing fails
    finally:
        close_database()


def test_a_payload_that_would_not_rebuild_stops_the_migration_and_keeps_the_store(store_url, tmp_path, signing_key):
    number = MIGRATIONS.index(_migration_assignment_rows) + 1  # the lead may renumber it on merge
    db = open_database(store_url)
    try:
        devices.add_device("kiosk-0", "Ankara")
        versions.add(survey_file(tmp_path, 4))
        pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all")), signing_key)
        good = rollouts.payloads(pushed.rollout, ["kiosk-0"])["kiosk-0"]
        odd = good.replace('"issued_at":', '"issued_at": ', 1)  # the same message, other bytes
        db.execute_sql("ALTER TABLE survey_assignments ADD COLUMN payload TEXT NOT NULL DEFAULT ''")
        db.execute_sql(f"UPDATE survey_assignments SET payload = {db.param}", (odd,))
        for column in ("signature", "issued_at", "v"):
            db.execute_sql(f"ALTER TABLE survey_assignments DROP COLUMN {column}")
        SchemaMigration.delete().where(SchemaMigration.version >= number).execute()
    finally:
        close_database()
    with pytest.raises(StoreError, match="cannot be rebuilt byte for byte"):
        open_database(store_url)
    close_database()
    raw = db_url.connect(store_url)  # not open_database: it would try the migration again
    try:
        assert "payload" in {c.name for c in raw.get_columns("survey_assignments")}
        assert raw.execute_sql("SELECT payload FROM survey_assignments").fetchall() == [(odd,)]
        assert number not in {row[0] for row in raw.execute_sql("SELECT version FROM schema_migrations").fetchall()}
    finally:
        raw.close()
