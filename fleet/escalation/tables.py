"""The escalation tables: alerts, their audit trail, the notification outbox and its delivery log.

They live in the fleet's store (``fleet.store``: SQLite or PostgreSQL, the same code path) and
are created by one migration appended to ``fleet.store.MIGRATIONS`` (``create_escalation_tables``).
A later change to a column is a new migration through ``playhouse.migrate``; since that
migration runs after this one on a fresh store too, it must check what exists first.

Two constraints carry the correctness of the whole feature, so they are the database's job,
not the code's:

- ``alerts_one_active``: a UNIQUE index on (rule, scope) over the rows whose state is open or
  acknowledged. Two ingest workers, or two messages in flight, that raise the same alert at
  once cannot both succeed: one insert wins, the other attaches to it.
- ``notifications.idempotency_key`` is unique: the same escalation step planned twice (two
  workers ticking at once) enqueues one message.
"""

from __future__ import annotations

import peewee
from peewee import AutoField, CharField, DoubleField, ForeignKeyField, IntegerField, TextField

from fleet.store import BaseModel

#: States in which an alert is still someone's business: at most one per (rule, scope).
ACTIVE_STATES = ("open", "acknowledged")
ALERT_STATES = ("open", "acknowledged", "resolved", "expired")
CHANNELS = ("cli", "web", "link", "system")


class Alert(BaseModel):
    id = AutoField()
    rule = CharField(max_length=64)
    scope = CharField(max_length=160)  # "site:<id>", "device:<id>" or "response:<uuid>" (rules.scope_of)
    kind = CharField(max_length=16)  # response | window | offline | health
    severity = CharField(max_length=16)
    site = CharField(max_length=128, index=True)
    device_id = CharField(max_length=64, null=True)
    state = CharField(max_length=16, default="open", index=True)
    opened_at = DoubleField(index=True)
    updated_at = DoubleField()
    triggers = IntegerField(default=1)  # raises folded into this alert (the first included)
    facts = TextField(default="{}")  # JSON: the newest trigger's facts (counts, answers, disk ...)
    acknowledged_at = DoubleField(null=True)
    acknowledged_by = CharField(max_length=128, null=True)
    eta_minutes = IntegerField(null=True)
    closed_at = DoubleField(null=True)  # resolved or expired
    # The escalation chain: how many policy steps ran, when the last one ran, when to look again.
    steps_done = IntegerField(default=0)
    last_step_at = DoubleField(null=True)
    next_step_at = DoubleField(null=True, index=True)

    class Meta:
        table_name = "alerts"


Alert.add_index(Alert.index(Alert.rule, Alert.scope, unique=True, name="alerts_one_active").where(Alert.state.in_(list(ACTIVE_STATES))))


class AlertResponse(BaseModel):
    """A response that triggered (or was attached to) an alert. Unique per rule: a response
    given to the rules twice (a redelivery slipping past ingest) never counts twice."""

    alert = ForeignKeyField(Alert, backref="responses", on_delete="CASCADE")
    rule = CharField(max_length=64)
    uuid = CharField(max_length=36)

    class Meta:
        table_name = "alert_responses"
        indexes = ((("rule", "uuid"), True),)


class AlertEvent(BaseModel):
    """The audit trail: every change of an alert, who made it, from where, and why."""

    id = AutoField()
    alert = ForeignKeyField(Alert, backref="events", on_delete="CASCADE", index=True)
    at = DoubleField()
    action = CharField(max_length=16)  # raised | attached | escalated | acknowledged | resolved | expired
    by = CharField(max_length=128)
    channel = CharField(max_length=8)  # cli | web | link | system
    comment = TextField(default="")

    class Meta:
        table_name = "alert_events"


class Notification(BaseModel):
    """The durable outbox: written in the same transaction as the alert change that needs it,
    sent by the notifier worker, kept until retention removes it."""

    id = AutoField()
    idempotency_key = CharField(max_length=200, unique=True)
    alert = ForeignKeyField(Alert, backref="notifications", on_delete="CASCADE", index=True)
    site = CharField(max_length=128)
    contact = CharField(max_length=64)
    target = TextField()  # the apprise URL: as secret as the config file it came from
    target_shown = TextField()  # apprise's privacy form of it, for logs and listings
    title = TextField()
    body = TextField()
    state = CharField(max_length=16, default="pending", index=True)  # pending | delivered | failed | cancelled
    created_at = DoubleField()
    next_attempt_at = DoubleField(index=True)
    lease_until = DoubleField(null=True)  # a sender holds it until then (a crash frees it on expiry)
    attempts = IntegerField(default=0)
    delivered_at = DoubleField(null=True)
    last_error = TextField(null=True)

    class Meta:
        table_name = "notifications"


class Delivery(BaseModel):
    """The delivery log: one row per attempt, successful or not."""

    id = AutoField()
    notification = ForeignKeyField(Notification, backref="deliveries", on_delete="CASCADE", index=True)
    attempt = IntegerField()
    started_at = DoubleField()
    finished_at = DoubleField()
    outcome = CharField(max_length=16)  # delivered | failed | timeout
    detail = TextField(default="")

    class Meta:
        table_name = "notification_deliveries"


class UsedToken(BaseModel):
    """Acknowledge-link tokens already redeemed: a token works once."""

    token_id = CharField(max_length=32, primary_key=True)
    alert_id = IntegerField()
    contact = CharField(max_length=64)
    used_at = DoubleField(index=True)

    class Meta:
        table_name = "used_tokens"


TABLES = [Alert, AlertResponse, AlertEvent, Notification, Delivery, UsedToken]


def create_escalation_tables(db: peewee.Database) -> None:
    """The migration that adds the escalation tables (appended to fleet.store.MIGRATIONS)."""
    db.create_tables(TABLES)
