"""The survey tables: immutable versions, rollouts, and one assignment per device per rollout.

Created by one migration appended to ``fleet.store.MIGRATIONS`` (``create_survey_tables``), on
SQLite and PostgreSQL alike. The database holds the rules that matter:

- ``survey_versions (survey_id, version)`` is unique: a version, once added, is never changed.
- ``survey_assignments.seq`` is unique and comes from ``survey_counters`` (one row, bumped in the
  push's transaction): fleet-wide, strictly increasing, never reused, so a kiosk that has seen
  seq N refuses anything at or below it (a replay).
- ``survey_assignments (rollout_id, device_id)`` is unique: one assignment per device per
  rollout, so a fleet that resumes a rollout after a crash can never push a device twice.

An assignment's ``payload`` is the signed ``SurveyAssignment`` exactly as published, made by
``fleet survey push`` (which holds the key); ``fleet serve`` only publishes it.
"""

from __future__ import annotations

import peewee
from peewee import AutoField, CharField, DoubleField, ForeignKeyField, IntegerField, TextField

from fleet.store import BaseModel

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
    payload = TextField()  # the signed SurveyAssignment, JSON, as published
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


def next_seqs(count: int) -> range:
    """*count* new fleet-wide sequence numbers; call inside the push's transaction (the
    counter row's update serialises concurrent pushes on both stores)."""
    SurveyCounter.update(value=SurveyCounter.value + count).where(SurveyCounter.name == "seq").execute()
    last = SurveyCounter.get_by_id("seq").value
    return range(last - count + 1, last + 1)
