"""The survey tables: immutable versions, rollouts, and one assignment per device per rollout.

Created by one migration appended to ``fleet.store.MIGRATIONS`` (``create_survey_tables``), on
SQLite and PostgreSQL alike. The database holds the rules that matter:

- ``survey_versions (survey_id, version)`` is unique: a version, once added, is never changed.
- ``survey_assignments.seq`` is unique and comes from ``survey_counters`` (one row, bumped in the
  push's transaction): fleet-wide, strictly increasing, never reused, so a kiosk that has seen
  seq N refuses anything at or below it (a replay).
- ``survey_assignments (rollout_id, device_id)`` is unique: one assignment per device per
  rollout, so a fleet that resumes a rollout after a crash can never push a device twice.

An assignment row keeps only what is this device's own: its ``seq``, its target (``device_id``),
the ``signature`` ``fleet survey push`` made over them (it holds the key; ``fleet serve`` never
does), and the ``issued_at`` and protocol version ``v`` that were signed. The document is stored
once, in ``survey_versions``; the survey id, version, rollout id and key id are the rollout's.
``fleet.surveys.rollouts.payloads`` puts the signed ``SurveyAssignment`` back together from them,
byte for byte what it was when signed, when ``fleet serve`` publishes it. (Until migration
``_migration_assignment_rows`` each row held the whole signed payload, document included: ~2.8 KB
per device per rollout for the demo survey, up to ~120 KB at the document limit.)
"""

from __future__ import annotations

import peewee
from peewee import AutoField, CharField, DoubleField, ForeignKeyField, IntegerField, TextField
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migrations

from fleet.store import BaseModel, StoreError
from kiosk.contract.protocol import PROTOCOL_VERSION

#: A device's states in a rollout (AWS IoT Jobs' execution states, named as the issue does).
#: ``cancelled``: never sent, because the rollout was aborted or a newer one took the device.
DEVICE_STATES = ("pending", "delivered", "applied", "failed", "refused", "cancelled")
TERMINAL_STATES = ("applied", "failed", "refused", "cancelled")
ROLLOUT_STATES = ("active", "completed", "aborted")


class SurveyVersion(BaseModel):
    id = AutoField()
    survey_id = CharField(max_length=64)
    version = IntegerField()
    document = TextField()  # canonical JSON (sorted keys): what is signed and sent
    sha256 = CharField(max_length=64)  # of the canonical document
    source = CharField(max_length=512, default="")  # the file it was added from
    added_at = DoubleField()

    class Meta:
        table_name = "survey_versions"
        indexes = ((("survey_id", "version"), True),)


class Rollout(BaseModel):
    id = AutoField()
    survey_id = CharField(max_length=64)
    version = IntegerField()
    kind = CharField(max_length=16, default="push")  # push | rollback
    target = CharField(max_length=1024)  # as given: all, site:S, device:D[,…]
    state = CharField(max_length=16, default="active", index=True)
    created_at = DoubleField()
    start_at = DoubleField()
    rate_per_min = IntegerField(null=True)
    waves = TextField(null=True)  # JSON list of cumulative percentages, e.g. [1, 10, 50, 100]
    wave_wait_s = DoubleField(default=600.0)
    abort_failed_pct = DoubleField(null=True)
    abort_min_devices = IntegerField(default=1)
    key_id = CharField(max_length=16)
    ended_at = DoubleField(null=True)
    reason = TextField(default="")  # why it was aborted (or completed)

    class Meta:
        table_name = "survey_rollouts"


class Assignment(BaseModel):
    id = AutoField()
    rollout = ForeignKeyField(Rollout, backref="assignments", on_delete="CASCADE", column_name="rollout_id")
    device_id = CharField(max_length=64, index=True)
    position = IntegerField()  # order within the rollout: waves and rate release in this order
    seq = IntegerField(unique=True)
    signature = CharField(max_length=128, default="")  # base64 Ed25519 over this device's assignment (signed_bytes)
    issued_at = DoubleField(default=0.0)  # as signed
    v = IntegerField(default=PROTOCOL_VERSION)  # the assignment's protocol version, as signed
    status = CharField(max_length=16, default="pending", index=True)
    reason = TextField(default="")
    published_at = DoubleField(null=True)  # the broker acknowledged the retained message (PUBACK)
    updated_at = DoubleField()
    source = CharField(max_length=16, default="")  # what said so: report | health | fleet

    class Meta:
        table_name = "survey_assignments"
        indexes = ((("rollout", "device_id"), True),)


class SurveyCounter(BaseModel):
    """One row: the last seq handed out."""

    name = CharField(primary_key=True, max_length=16)
    value = IntegerField()

    class Meta:
        table_name = "survey_counters"


def create_survey_tables(db: peewee.Database) -> None:
    db.create_tables([SurveyVersion, Rollout, Assignment, SurveyCounter])
    SurveyCounter.insert(name="seq", value=0).on_conflict_ignore().execute()


#: The columns that made the signed assignment before the document was stored once per version.
LEGACY_PAYLOAD_COLUMN = "payload"


def slim_assignment_rows(db: peewee.Database) -> None:
    """Migration: each assignment's full signed payload → only its signature, issued_at and v.

    For each stored row, the payload is decoded and the fields kept; the payload rebuilt from them
    and the version's document must be the very bytes stored, or the migration stops (its
    transaction rolls back, nothing lost) rather than leave a row that would publish something else.
    A store whose table was made from today's model (no ``payload`` column) has nothing to do."""
    from fleet.surveys.rollouts import rebuild  # imported here: rollouts imports this module
    from kiosk.contract.protocol import SurveyAssignment, decode

    have = {column.name for column in db.get_columns(Assignment._meta.table_name)}
    if LEGACY_PAYLOAD_COLUMN not in have:
        return
    migrator = SchemaMigrator.from_database(db)
    wanted = {"signature": Assignment.signature, "issued_at": Assignment.issued_at, "v": Assignment.v}
    run_migrations(*[migrator.add_column(Assignment._meta.table_name, name, field) for name, field in wanted.items() if name not in have])
    rows = db.execute_sql(
        "SELECT a.id, a.device_id, a.seq, a.payload, r.id, r.survey_id, r.version, r.key_id, v.document FROM survey_assignments a"
        " JOIN survey_rollouts r ON a.rollout_id = r.id JOIN survey_versions v ON v.survey_id = r.survey_id AND v.version = r.version"
    ).fetchall()
    for row_id, device_id, seq, payload, rollout_id, survey_id, version, rollout_key, document in rows:
        signed = decode("survey", payload.encode())
        assert isinstance(signed, SurveyAssignment)
        again = rebuild(rollout_id, survey_id, version, rollout_key, document, device_id, seq, signed.signature, signed.issued_at, signed.v)
        if again != payload:
            raise StoreError(
                f"survey assignment {row_id} (rollout {rollout_id}, seq {signed.seq}) cannot be rebuilt byte for byte from its survey version and rollout;"
                " the store is left as it was\n  fix: report this with the row; finish or abort its rollout on the older fleet release, then upgrade"
            )
        Assignment.update(signature=signed.signature, issued_at=signed.issued_at, v=signed.v).where(Assignment.id == row_id).execute()
    run_migrations(migrator.drop_column(Assignment._meta.table_name, LEGACY_PAYLOAD_COLUMN))


def next_seqs(count: int) -> range:
    """*count* new fleet-wide sequence numbers; call inside the push's transaction (the
    counter row's update serialises concurrent pushes on both stores)."""
    SurveyCounter.update(value=SurveyCounter.value + count).where(SurveyCounter.name == "seq").execute()
    last = SurveyCounter.get_by_id("seq").value
    return range(last - count + 1, last + 1)
