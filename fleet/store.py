"""The fleet's store: devices and the responses they sent, exactly once each.

peewee over SQLite by default (WAL, synchronous FULL: an acknowledgement is only sent for
rows that reached the disk) or PostgreSQL when given a ``postgresql://`` URL. The code path
is the same; only the URL changes. The database is declared as a proxy and bound by
``open_database`` in ``fleet``'s main, as peewee recommends, so tests bind their own.

Each response's UUID, made on the kiosk, is a unique key: a redelivered response is
ignored by the insert (``ON CONFLICT DO NOTHING``) and acknowledged again, so resending is
always harmless. The insert says which rows were new (``RETURNING``, SQLite 3.35+ and
PostgreSQL alike): only those reach the post-commit hooks (``fleet.dispatch``), so a
redelivery never triggers a feature twice. Schema changes are numbered migrations recorded
in ``schema_migrations``.

A response travels as a ``ResponseRow``: named fields in the table's column order, built by
ingest, inserted here, handed to the hooks.
"""

from __future__ import annotations

import functools
import itertools
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlparse

import msgspec
import peewee
from peewee import BooleanField, CharField, DatabaseProxy, DoubleField, IntegerField, Model, TextField
from playhouse import db_url
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migrations

log = logging.getLogger(__name__)

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL: a stored response is on disk before the kiosk is told so
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -32_000,  # 32 MB of page cache for the ingest writer
}


class StoreError(RuntimeError):
    """The store cannot be opened or migrated; the message says why and what to do."""


class BaseModel(Model):
    class Meta:
        database = database


class Device(BaseModel):
    device_id = CharField(primary_key=True, max_length=64)
    site = CharField(max_length=128, index=True)
    password_hash = CharField(max_length=256)  # mosquitto's PBKDF2-SHA512 format; never the password
    created_at = DoubleField()
    revoked_at = DoubleField(null=True)
    online = BooleanField(default=False)
    status_reason = CharField(max_length=64, default="never connected")
    status_at = DoubleField(null=True)
    last_seen = DoubleField(null=True, index=True)
    software = CharField(max_length=64, default="")
    boot_id = CharField(max_length=64, default="")
    survey_id = CharField(max_length=64, default="")
    survey_version = IntegerField(null=True)
    backlog = IntegerField(null=True)
    last_health = TextField(null=True)  # the last health message, JSON as received
    last_health_at = DoubleField(null=True)
    rejected_messages = IntegerField(default=0)
    last_rejection = TextField(null=True)
    boot_runs = TextField(null=True)  # JSON [[boot id, last seen], ...]: fleet.identity
    id_conflict_at = DoubleField(null=True)  # when boot ids under this id last took turns
    id_conflict_boots = TextField(null=True)  # those boot ids, comma-separated

    class Meta:
        table_name = "devices"


class StoredResponse(BaseModel):
    uuid = CharField(max_length=36, unique=True)
    device_id = CharField(max_length=64, index=True)
    site = CharField(max_length=128, index=True)
    survey_id = CharField(max_length=64)
    survey_version = IntegerField()
    language = CharField(max_length=3)
    status = CharField(max_length=16)
    misuse = BooleanField()
    negative = BooleanField()
    end_reason = CharField(max_length=16)
    answers = TextField()  # JSON list, as the kiosk sent it
    presses = TextField()  # JSON list of button numbers
    started_wall = DoubleField()
    started_monotonic = DoubleField()
    finished_wall = DoubleField()
    finished_monotonic = DoubleField()
    boot_id = CharField(max_length=64)
    clock_synced = BooleanField()
    occurred_at = DoubleField(index=True)  # finished time, re-dated when the kiosk's clock was wrong
    time_source = CharField(max_length=24)  # see fleet.timefix
    received_at = DoubleField(index=True)
    # Protocol 2 (a version-1 kiosk sends their defaults). NULL: stored before the fleet kept
    # them (a store older than this column's migration), so not known.
    press_ms = TextField(null=True)  # JSON list: each press's offset in ms from the first press
    suspect = BooleanField(null=True)  # a pause inside: maybe two customers (never negative then)
    help_requested = BooleanField(null=True)  # the answer to the kiosk's offer of help; NULL: not offered

    class Meta:
        table_name = "responses"


class ResponseRow(msgspec.Struct, frozen=True, gc=False):
    """One response as the store keeps it: the ``responses`` columns (but ``id``), in order.

    Ingest builds it, ``insert_responses`` stores it, post-commit hooks receive the ones that
    were new. Values are as stored: ``answers``, ``presses`` and ``press_ms`` are JSON text
    (the kiosk's lists, re-encoded), times are seconds. (``gc=False``: it holds no containers,
    so the garbage collector need not track the thousands a backlog batch makes.)
    """

    uuid: str  # canonical (lowercase): one response sent in two cases is one row
    device_id: str
    site: str
    survey_id: str
    survey_version: int
    language: str
    status: str
    misuse: bool
    negative: bool
    end_reason: str
    answers: str
    presses: str
    started_wall: float
    started_monotonic: float
    finished_wall: float
    finished_monotonic: float
    boot_id: str
    clock_synced: bool
    occurred_at: float
    time_source: str
    received_at: float
    press_ms: str = "[]"
    suspect: bool = False
    help_requested: bool | None = None


class SchemaMigration(BaseModel):
    version = IntegerField(primary_key=True)
    applied_at = DoubleField()

    class Meta:
        table_name = "schema_migrations"


def _migration_1(db: peewee.Database) -> None:
    db.create_tables([Device, StoredResponse])


def _migration_device_identity(db: peewee.Database) -> None:
    """Devices remember their recent boot ids, to see two kiosks under one id (fleet.identity).
    (Migration 1 makes the table from today's model, so a new store has the columns already.)"""
    migrator = SchemaMigrator.from_database(db)
    have = {column.name for column in db.get_columns("devices")}
    wanted = {"boot_runs": TextField(null=True), "id_conflict_at": DoubleField(null=True), "id_conflict_boots": TextField(null=True)}
    run_migrations(*[migrator.add_column("devices", name, field) for name, field in wanted.items() if name not in have])


def _migration_escalation(db: peewee.Database) -> None:
    """Alerts, their audit trail, the notification outbox and delivery log, used ack tokens."""
    from fleet.escalation.tables import create_escalation_tables  # imported here: those tables import this module

    create_escalation_tables(db)


def _migration_callbacks(db: peewee.Database) -> None:
    """Call-back requests: the phone numbers customers leave on the web's call-back page."""
    from fleet.web.callbacks import create_callback_table  # imported here: that table imports this module

    create_callback_table(db)


def _migration_response_fields(db: peewee.Database) -> None:
    """The protocol's newer response fields: press timings, the suspect flag, help requested.

    Nullable, so adding them is a change to the schema only on both stores (no table rebuild,
    no rewrite of every row): rows stored before read NULL, "not known". (Migration 1 makes the
    table from today's model, so a new store has the columns already.)"""
    migrator = SchemaMigrator.from_database(db)
    have = {column.name for column in db.get_columns("responses")}
    wanted = {"press_ms": TextField(null=True), "suspect": BooleanField(null=True), "help_requested": BooleanField(null=True)}
    run_migrations(*[migrator.add_column("responses", name, field) for name, field in wanted.items() if name not in have])


def _migration_help_announcements(db: peewee.Database) -> None:
    """What kiosks must hear about their customers' requests for help, written with the alert
    change, published by the fleet's announcer (fleet.escalation.help)."""
    from fleet.escalation.help import create_help_table  # imported here: that table imports this module

    create_help_table(db)


def _migration_surveys(db: peewee.Database) -> None:
    """Survey push: immutable versions, rollouts, one signed assignment per device per rollout."""
    from fleet.surveys.tables import create_survey_tables  # imported here: those tables import this module

    create_survey_tables(db)


def _migration_assignment_rows(db: peewee.Database) -> None:
    """Survey assignments keep their signature, not a copy of the document per device
    (fleet.surveys.tables.slim_assignment_rows)."""
    from fleet.surveys.tables import slim_assignment_rows  # imported here: those tables import this module

    slim_assignment_rows(db)


#: Numbered migrations; append, never edit one that has shipped.
MIGRATIONS: list[Callable[[peewee.Database], None]] = [
    _migration_1,
    _migration_device_identity,
    _migration_escalation,
    _migration_callbacks,
    _migration_response_fields,
    _migration_help_announcements,
    _migration_surveys,
    _migration_assignment_rows,
]

#: The columns ``insert_responses`` writes, in ``ResponseRow``'s order.
RESPONSE_FIELDS = [StoredResponse._meta.fields[name] for name in ResponseRow.__struct_fields__]
_CHUNK = 400  # rows per INSERT: 24 columns x 400 stays under SQLite's variable limit (32,766 since 3.32)
#: RETURNING came with SQLite 3.35 (2021; Raspberry Pi OS Bookworm has 3.40).
SQLITE_MINIMUM = (3, 35, 0)


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'fleet.sqlite3'}"


def describe(url: str) -> str:
    """The URL with any password masked, for logs and errors."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@", 1)
    return url


def missing_store(url: str) -> Path | None:
    """The SQLite file *url* names when it does not exist yet (None: it exists, or the store is
    PostgreSQL, whose database someone made on purpose). Commands that only read or change
    records ask first: opening would create an empty store and answer "nothing yet"."""
    if urlparse(url).scheme != "sqlite":
        return None
    path = Path(urlparse(url).path[1:]).absolute()
    return None if path.exists() else path


def open_database(url: str) -> peewee.Database:
    """Bind the store to *url* (``sqlite:///path`` or ``postgresql://user@host/db``) and migrate it."""
    scheme = urlparse(url).scheme
    try:
        if scheme == "sqlite":
            if sqlite3.sqlite_version_info < SQLITE_MINIMUM:
                raise StoreError(
                    f"this Python's SQLite is {sqlite3.sqlite_version}; the fleet needs {'.'.join(map(str, SQLITE_MINIMUM))} or newer (INSERT … RETURNING)\n"
                    "  fix: run the fleet on a newer OS (Debian 12 / Raspberry Pi OS Bookworm has 3.40) or Python build, or use PostgreSQL (--db postgresql://...)"
                )
            # As peewee and SQLAlchemy read it: sqlite:///relative.db, sqlite:////absolute/path.db
            path = Path(urlparse(url).path[1:]).absolute()
            path.parent.mkdir(parents=True, exist_ok=True)
            db = peewee.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
        elif scheme in ("postgres", "postgresql"):
            db = db_url.connect(url)
        else:
            raise StoreError(f"database URL {describe(url)!r} is neither sqlite:/// nor postgresql://\n  fix: e.g. sqlite:////var/lib/nabiz-fleet/fleet.sqlite3 (four slashes for an absolute path) or postgresql://nabiz@localhost/nabiz")
        database.initialize(db)
        db.connect(reuse_if_open=True)
        migrate(db)
    except peewee.ImproperlyConfigured as exc:
        raise StoreError(f"cannot use {describe(url)}: {exc}\n  fix: pip install 'nabiz[fleet]' (it brings the PostgreSQL driver)") from None
    except (peewee.OperationalError, peewee.DatabaseError, OSError) as exc:
        raise StoreError(f"cannot open the store {describe(url)}: {str(exc).strip()}\n  fix: check that the server is up, the database exists and the user may write to it") from None
    return db


def writing():
    """A transaction that takes the write lock at once. On SQLite a plain (deferred) transaction
    that reads before it writes can fail with "database is locked" when another connection
    (``fleet serve``'s ingest, a CLI command) wrote in between: the busy timeout does not apply
    to that upgrade. BEGIN IMMEDIATE waits its turn instead. PostgreSQL needs nothing special.
    Inside another transaction: a savepoint. Every transaction that writes uses this."""
    if isinstance(database.obj, peewee.SqliteDatabase):
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


def close_database() -> None:
    if database.obj is not None and not database.is_closed():
        database.close()


def migrate(db: peewee.Database) -> int:
    """Run the migrations this database has not seen yet; returns the schema version."""
    with db.atomic(lock_type="IMMEDIATE") if isinstance(db, peewee.SqliteDatabase) else db.atomic():
        db.create_tables([SchemaMigration], safe=True)
    done = {m.version for m in SchemaMigration.select()}
    newest = max(done, default=0)
    if newest > len(MIGRATIONS):
        raise StoreError(f"the store's schema is version {newest}, newer than this software knows ({len(MIGRATIONS)})\n  fix: upgrade the fleet software")
    for number in range(1, len(MIGRATIONS) + 1):
        if number in done:
            continue
        with db.atomic():
            MIGRATIONS[number - 1](db)
            SchemaMigration.create(version=number, applied_at=time.time())
        log.info("store migrated", extra={"schema_version": number})
    return len(MIGRATIONS)


def recent_responses(since: float, chunk: int = 2000) -> Iterator[list[ResponseRow]]:
    """The responses received since *since*, oldest first, as ``ResponseRow``s in lists of at
    most *chunk* (the post-commit hooks' shape): for a feature that replays them at start."""
    fields = [StoredResponse._meta.fields[name] for name in ResponseRow.__struct_fields__]
    last_id = 0
    while True:
        query = StoredResponse.select(StoredResponse.id, *fields).where((StoredResponse.received_at >= since) & (StoredResponse.id > last_id)).order_by(StoredResponse.id).limit(chunk)
        rows = list(query.tuples())
        if not rows:
            return
        last_id = rows[-1][0]
        yield [_response_row(row[1:]) for row in rows]
        if len(rows) < chunk:
            return


def _response_row(values: Sequence[object]) -> ResponseRow:
    row = dict(zip(ResponseRow.__struct_fields__, values, strict=True))
    # Columns added by a migration read NULL on older rows: the row type's defaults stand in.
    for name in ("press_ms", "suspect"):
        if row[name] is None:
            row.pop(name)
    return ResponseRow(**row)  # type: ignore[arg-type]


def insert_responses(rows: Sequence[ResponseRow]) -> list[ResponseRow]:
    """Insert *rows*, skipping UUIDs already stored; returns the rows that were new (a UUID
    twice in *rows*: its first). Call inside ``database.atomic()``: a batch is stored whole or
    not at all, and the rows returned count only once that transaction commits.

    The statement is written once per chunk size and reused, not built by peewee's query
    builder per row: building it cost four times the insert itself (benchmarks/bench_fleet.py).
    It is plain SQL both SQLite (3.35+) and PostgreSQL run; only the placeholder differs.
    ``RETURNING "uuid"`` names the rows the insert made, not the ones ``ON CONFLICT DO
    NOTHING`` skipped: which responses are new is the database's answer, inside the
    transaction that stores them, whoever else writes at the same time.
    """
    new: list[ResponseRow] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        values = list(itertools.chain.from_iterable(map(msgspec.structs.astuple, chunk)))
        cursor = database.execute_sql(_insert_sql(len(chunk), database.param), values)
        made = {uuid for (uuid,) in cursor.fetchall()}
        if len(made) == len(chunk):
            new.extend(chunk)  # the usual case: every one new
            continue
        for row in chunk:
            if row.uuid in made:
                made.discard(row.uuid)
                new.append(row)
    return new


@functools.lru_cache(maxsize=64)
def _insert_sql(count: int, param: str) -> str:
    columns = ", ".join(f'"{field.column_name}"' for field in RESPONSE_FIELDS)
    one = "(" + ", ".join([param] * len(RESPONSE_FIELDS)) + ")"
    table = StoredResponse._meta.table_name
    return f'INSERT INTO "{table}" ({columns}) VALUES {", ".join([one] * count)} ON CONFLICT DO NOTHING RETURNING "{StoredResponse.uuid.column_name}"'
