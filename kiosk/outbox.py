"""The outbox: every response, durable on the SD card before the customer sees "thank you".

SQLite in WAL mode with ``synchronous = FULL``: a commit has reached the card when it
returns, so pulling the plug right after loses nothing that was confirmed. Rows stay until
the fleet says it has *stored* them (``sent_at``); only then may they be pruned.

Size policy (the card is small and a kiosk runs for months unattended):

1. Below ``reserve_bytes`` of free disk, or at ``max_rows``: rows the fleet already has are
   pruned first (oldest first), then old misuse rows, then rows the fleet refused for good.
2. In that state, new misuse rows are refused (counted in ``misuse_refused``, logged).
3. Real answers are never refused: past ``max_rows`` they are written anyway
   (``over_cap_writes``). If SQLite itself cannot write (the disk is truly full), the answer
   is kept in memory and retried on every later save and tick; ``unsaved`` in the health
   shows how many wait, and the log says so loudly.

Held rows. A complete response is saved *held* (``save(..., held="moment")``) the moment its
last answer is given, while the flow still watches the next 0.8 s for a child's burst: it is on
the card long before "thank you" shows, so the thank-you never waits for an fsync. ``amend``
rewrites a held row (a burst caught in that moment makes it a misuse row; an offer of help
follows) and ``release`` writes the final record and lets it be sent. A response after which the
customer is offered help stays held (``held="offer"``) until ``release`` writes the answer
(``help_requested``) into the same row: the fleet stores a response once, so it must not leave
before it is whole. A request for help gets ``priority`` and jumps the queue (``urgent``, sent
before any backlog). A kiosk that stopped with rows held releases them when it starts again
(``release_stale``): as they are after a moment, without an answer after an offer.

The database handle is declared unbound, as peewee recommends, and opened by
``Outbox.open`` in the kiosk's main; schema changes are numbered migrations.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import peewee
from peewee import BooleanField, CharField, FloatField, IntegerField, Model, SqliteDatabase, TextField

from kiosk.flow import ResponseRecord

log = logging.getLogger(__name__)

database = SqliteDatabase(None)

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL: WAL is fsynced at every commit
    "foreign_keys": 1,
    "busy_timeout": 5000,
}

DB_FILENAME = "outbox.sqlite3"


class BaseModel(Model):
    class Meta:
        database = database


class Response(BaseModel):
    uuid = CharField(max_length=36, unique=True)
    device_id = CharField()
    survey_id = CharField()
    survey_version = IntegerField()
    language = CharField()
    status = CharField()  # completed | abandoned
    misuse = BooleanField()
    negative = BooleanField()
    end_reason = CharField()
    answers = TextField()  # JSON list of answers
    presses = TextField()  # JSON list of button numbers
    press_ms = TextField(default="[]")  # JSON list: each press's ms since the first, parallel to presses
    suspect = BooleanField(default=False)  # a pause inside it: maybe two customers
    started_wall = FloatField()
    started_monotonic = FloatField()
    finished_wall = FloatField()
    finished_monotonic = FloatField()
    boot_id = CharField()
    clock_synced = BooleanField()
    help_requested = BooleanField(null=True)  # the answer to the offer of help; NULL: not offered
    held = IntegerField(default=0)  # not sent until released: HELD_FOR_OFFER or HELD_FOR_MOMENT
    priority = IntegerField(default=0)  # > 0: sent before any backlog (a customer waiting for help)
    sent_at = FloatField(null=True, index=True)  # wall time the fleet acknowledged storing it
    refused = TextField(null=True)  # why the fleet refused it for good (kept here for a technician, not resent)

    class Meta:
        table_name = "responses"


class Counter(BaseModel):
    name = CharField(primary_key=True)
    value = IntegerField(default=0)

    class Meta:
        table_name = "counters"


#: The schema as version 1 shipped it. Frozen: creating tables from today's models here would
#: make later migrations add columns that already exist.
_SCHEMA_1 = [
    'CREATE TABLE "counters" ("name" VARCHAR(255) NOT NULL PRIMARY KEY, "value" INTEGER NOT NULL)',
    'CREATE TABLE "responses" ("id" INTEGER NOT NULL PRIMARY KEY, "uuid" VARCHAR(36) NOT NULL, "device_id" VARCHAR(255) NOT NULL, '
    '"survey_id" VARCHAR(255) NOT NULL, "survey_version" INTEGER NOT NULL, "language" VARCHAR(255) NOT NULL, "status" VARCHAR(255) NOT NULL, '
    '"misuse" INTEGER NOT NULL, "negative" INTEGER NOT NULL, "end_reason" VARCHAR(255) NOT NULL, "answers" TEXT NOT NULL, "presses" TEXT NOT NULL, '
    '"started_wall" REAL NOT NULL, "started_monotonic" REAL NOT NULL, "finished_wall" REAL NOT NULL, "finished_monotonic" REAL NOT NULL, '
    '"boot_id" VARCHAR(255) NOT NULL, "clock_synced" INTEGER NOT NULL, "sent_at" REAL)',
    'CREATE UNIQUE INDEX "response_uuid" ON "responses" ("uuid")',
    'CREATE INDEX "response_sent_at" ON "responses" ("sent_at")',
]


def _migration_1(db: SqliteDatabase) -> None:
    for statement in _SCHEMA_1:
        db.execute_sql(statement)


def _migration_2(db: SqliteDatabase) -> None:
    # The fleet can refuse a single response for good (it breaks the protocol); it is kept, not resent.
    db.execute_sql("ALTER TABLE responses ADD COLUMN refused TEXT")
    db.execute_sql('CREATE INDEX "response_refused" ON "responses" ("refused") WHERE "refused" IS NOT NULL')


def _migration_3(db: SqliteDatabase) -> None:
    # One customer, one response: the timing of every press, and the pause flag. Rows written
    # before this have no press timing ('[]'); they were never flagged.
    db.execute_sql("ALTER TABLE responses ADD COLUMN press_ms TEXT NOT NULL DEFAULT '[]'")
    db.execute_sql("ALTER TABLE responses ADD COLUMN suspect INTEGER NOT NULL DEFAULT 0")


def _migration_4(db: SqliteDatabase) -> None:
    # Offering help: the answer, the hold until it is given, and the queue a request for help jumps.
    db.execute_sql("ALTER TABLE responses ADD COLUMN help_requested INTEGER")
    db.execute_sql("ALTER TABLE responses ADD COLUMN held INTEGER NOT NULL DEFAULT 0")
    db.execute_sql("ALTER TABLE responses ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")
    # Both are rare and looked up on every send: partial indexes stay as small as the rows they name.
    db.execute_sql('CREATE INDEX "response_urgent" ON "responses" ("id") WHERE "priority" > 0 AND "sent_at" IS NULL')
    db.execute_sql('CREATE INDEX "response_held" ON "responses" ("id") WHERE "held" = 1')


def _migration_5(db: SqliteDatabase) -> None:
    # A complete response is saved held for its last answer's moment too (held = 2): the partial
    # index of held rows covers both kinds.
    db.execute_sql('DROP INDEX "response_held"')
    db.execute_sql('CREATE INDEX "response_held" ON "responses" ("id") WHERE "held" > 0')


#: Numbered migrations; ``PRAGMA user_version`` records how many have run. Append, never edit.
MIGRATIONS: list[Callable[[SqliteDatabase], None]] = [_migration_1, _migration_2, _migration_3, _migration_4, _migration_5]

#: ``responses.held``: 0 sendable; held for the answer to the offer of help; held for the last
#: answer's moment (a burst may still make it misuse).
NOT_HELD, HELD_FOR_OFFER, HELD_FOR_MOMENT = 0, 1, 2
_HELD = {False: NOT_HELD, True: HELD_FOR_OFFER, "offer": HELD_FOR_OFFER, "moment": HELD_FOR_MOMENT}


class OutboxError(RuntimeError):
    """The outbox cannot be opened or written; the message says why and what to do."""


@dataclass(frozen=True)
class Health:
    rows: int
    unsent: int
    misuse_refused: int
    over_cap_writes: int
    unsaved: int  # real answers waiting in memory for disk space
    disk_free_bytes: int
    database_bytes: int
    oldest_unsent_wall: float | None
    storage_ok: bool
    refused: int = 0  # responses the fleet refused for good (kept, not resent)
    oldest_unsent_monotonic: float | None = None  # with its boot id: an age that survives a wrong wall clock
    oldest_unsent_boot: str | None = None


class Outbox:
    _open_instance: Outbox | None = None

    def __init__(
        self,
        device_id: str,
        boot_id: str,
        max_rows: int = 500_000,
        reserve_bytes: int = 100 * 1024 * 1024,
        disk_free: Callable[[], int] | None = None,
    ) -> None:
        self.device_id = device_id
        self.boot_id = boot_id
        self.max_rows = max_rows
        self.reserve_bytes = reserve_bytes
        self._disk_free = disk_free
        self._path: Path | None = None
        self._rows = 0
        self._unsaved: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    # --- opening --------------------------------------------------------------------

    def open(self, data_dir: str | Path) -> Outbox:
        """Open (and migrate) the outbox in *data_dir*. One open outbox per process: the
        database handle is module-wide, as peewee recommends, so a second one is refused."""
        if Outbox._open_instance is not None and Outbox._open_instance is not self:
            raise OutboxError("another outbox is already open in this process\n  fix: close() it first")
        data_dir = Path(data_dir)
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(f"cannot create the data directory {data_dir}: {exc.strerror}\n  fix: create it and give the kiosk user write access, or pass --data-dir") from None
        self._path = data_dir / DB_FILENAME
        if self._disk_free is None:
            self._disk_free = lambda: shutil.disk_usage(data_dir).free
        try:
            database.init(str(self._path), pragmas=PRAGMAS, check_same_thread=False)
            database.connect(reuse_if_open=True)
            migrate(database)
            self._rows = Response.select().count()
            Outbox._open_instance = self
        except peewee.DatabaseError as exc:
            database.close()
            raise OutboxError(
                f"cannot open the outbox {self._path}: {exc}\n"
                "  fix: check disk space and permissions; if the file is corrupt, move it aside (keep it for recovery) and restart"
            ) from None
        return self

    def close(self) -> None:
        if Outbox._open_instance is self:
            Outbox._open_instance = None
            if not database.is_closed():
                database.close()

    # --- writing --------------------------------------------------------------------

    def save(self, record: ResponseRecord, held: bool | Literal["offer", "moment"] = False) -> str | None:
        """Commit *record* durably and return its new UUID; None if a misuse row was refused.
        A *held* row (True or "offer": for the answer to the offer of help; "moment": for the last
        answer's moment) is not sent before ``release``.

        Raises nothing for a full disk: a real answer that cannot be written is kept and
        retried (see the module's size policy), and its UUID is still returned.
        """
        with self._lock:
            self._retry_unsaved()
            free = self._free()
            low_space = free < self.reserve_bytes
            if low_space or self._rows >= self.max_rows:
                self._prune(low_space)
            if record.misuse and (low_space or self._rows >= self.max_rows):
                self._bump("misuse_refused")
                log.warning("misuse press not stored: outbox is short of space", extra={"rows": self._rows, "free_bytes": free})
                return None
            if self._rows >= self.max_rows:
                self._bump("over_cap_writes")
                log.warning("outbox over its row cap; storing the answer anyway", extra={"rows": self._rows, "max_rows": self.max_rows})
            row = self._row(record)
            row["held"] = _HELD[held]
            if self._unsaved or not self._insert(row):  # behind older waiting answers, keep the order
                self._unsaved.append(row)
                log.critical("answer kept in memory only: the disk is full", extra={"unsaved": len(self._unsaved)})
            return row["uuid"]

    def release(self, uuid: str, record: ResponseRecord) -> bool:
        """The held response *uuid* is whole: write *record* (the answer to the offer of help, the
        presses made on it or in the last answer's moment, or the burst it became) and let it be
        sent (a request for help before any backlog). One UPDATE, committed (FULL). False if no
        such held row."""
        return self._rewrite(uuid, record, NOT_HELD)

    def amend(self, uuid: str, record: ResponseRecord, held: Literal["offer", "moment"]) -> bool:
        """Rewrite the held row *uuid* to *record* and keep it held (for *held*): a burst caught in
        the last answer's moment, or the offer of help that follows. One UPDATE, committed (FULL),
        so a power cut after it never sends the row as it was. False if no such held row."""
        return self._rewrite(uuid, record, _HELD[held])

    def _rewrite(self, uuid: str, record: ResponseRecord, held: int) -> bool:
        changes = {**self._columns(record), "held": held, "priority": 1 if record.help_requested and not held else 0}
        with self._lock:
            for row in self._unsaved:  # still waiting in memory for a full disk: change it there
                if row["uuid"] == uuid:
                    row.update(changes)
                    return True
            try:
                return Response.update(**changes).where((Response.uuid == uuid) & (Response.held > NOT_HELD)).execute() == 1
            except peewee.OperationalError as exc:
                if not _out_of_space(exc):
                    raise
                log.critical("a held response cannot be rewritten: the disk is full (it is on the card as it was)", extra={"uuid": uuid})
                return False

    def release_stale(self) -> int:
        """Release rows held at a power cut or crash: an offer was never answered (False); a last
        answer's moment was cut short (sent as it is: complete, or misuse if a burst was caught).
        Run once when the kiosk starts, before anything is offered."""
        with self._lock:
            for row in self._unsaved:
                if row.get("held") == HELD_FOR_OFFER:
                    row.update(held=NOT_HELD, help_requested=False)
                elif row.get("held"):
                    row.update(held=NOT_HELD)
            offers = Response.update(held=NOT_HELD, help_requested=False).where(Response.held == HELD_FOR_OFFER).execute()
            moments = Response.update(held=NOT_HELD).where(Response.held > NOT_HELD).execute()
        if offers:
            log.warning("responses held for an answer to the offer of help are sent without one (the kiosk stopped during the offer)", extra={"released": offers})
        if moments:
            log.warning("responses held for their last answer's moment are sent as they are (the kiosk stopped during it)", extra={"released": moments})
        return offers + moments

    @property
    def unsaved(self) -> int:
        """Real answers waiting in memory because the disk refused them."""
        return len(self._unsaved)

    def retry(self) -> int:
        """Try again to write answers the full disk refused; returns how many still wait."""
        with self._lock:
            self._retry_unsaved()
            return len(self._unsaved)

    def _retry_unsaved(self) -> None:
        while self._unsaved:
            if not self._insert(self._unsaved[0]):
                return
            self._unsaved.pop(0)
            if not self._unsaved:
                log.warning("answers kept in memory are now stored")

    def _insert(self, row: dict[str, Any]) -> bool:
        # One statement in autocommit mode is its own transaction (and its own fsync).
        try:
            Response.insert(**row).execute()
        except peewee.OperationalError as exc:
            if _out_of_space(exc):
                return False
            raise
        self._rows += 1
        return True

    def _row(self, record: ResponseRecord) -> dict[str, Any]:
        return {"uuid": str(uuidlib.uuid4()), "device_id": self.device_id, **self._columns(record)}

    def _columns(self, record: ResponseRecord) -> dict[str, Any]:
        """Every column *record* fills (all but the row's uuid, device and hold)."""
        return {
            "survey_id": record.survey_id,
            "survey_version": record.survey_version,
            "language": record.language,
            "status": record.status,
            "misuse": record.misuse,
            "negative": record.negative,
            "end_reason": record.end_reason,
            "answers": json.dumps([asdict(a) for a in record.answers], ensure_ascii=False),
            "presses": json.dumps(list(record.presses)),
            "press_ms": json.dumps(list(record.press_ms)),
            "suspect": record.suspect,
            "help_requested": record.help_requested,
            "started_wall": record.started.wall,
            "started_monotonic": record.started.monotonic,
            "finished_wall": record.finished.wall,
            "finished_monotonic": record.finished.monotonic,
            "boot_id": self.boot_id,
            "clock_synced": record.finished.clock_synced,
        }

    def _prune(self, low_space: bool) -> None:
        """Make room: rows the fleet already stored go first, then the oldest misuse rows, then
        rows the fleet refused for good. Unsent real answers are never pruned."""
        # Prune down to 90 % of the cap, not by one row per save: one DELETE now and then.
        excess = max(self._rows - int(self.max_rows * 0.9), 0) if self._rows >= self.max_rows else 0
        budget = max(excess, 1000) if low_space else excess
        if budget <= 0:
            return
        removed = 0
        # Never the newest row: SQLite gives a new row max(id) + 1 of the rows left, and the
        # sync's cursor must only ever see ids grow (a reused id would never be offered).
        newest = Response.select(peewee.fn.MAX(Response.id)).scalar() or 0
        # Refused rows (the fleet will never take them) go last: a technician may still want them.
        for condition in (Response.sent_at.is_null(False), Response.misuse == True, Response.refused.is_null(False)):  # noqa: E712
            if removed >= budget:
                break
            victims = Response.select(Response.id).where(condition & (Response.id < newest)).order_by(Response.id).limit(budget - removed)
            try:
                removed += Response.delete().where(Response.id.in_(victims)).execute()
            except peewee.OperationalError as exc:
                log.error("could not prune the outbox: %s", exc)
                return
        if removed:
            self._rows -= removed
            log.warning("outbox pruned to make room", extra={"removed": removed, "rows": self._rows})

    def _bump(self, name: str) -> None:
        try:
            Counter.insert(name=name, value=1).on_conflict(conflict_target=[Counter.name], update={Counter.value: Counter.value + 1}).execute()
        except peewee.OperationalError as exc:
            if not _out_of_space(exc):
                raise
            log.error("could not count %s: the disk is full", name)

    def _free(self) -> int:
        assert self._disk_free is not None, "open() the outbox first"
        try:
            return self._disk_free()
        except OSError:
            return 0

    # --- the fleet sync's side (its own thread, its own connection) ---------------------

    def connect_sync_thread(self) -> None:
        """Open the calling thread's own connection for the fleet sync, with ``synchronous = NORMAL``.

        peewee keeps one connection per thread, so the sync's reads never wait for the main
        loop's connection (its few writes share the outbox's lock, see ``mark_sent``). NORMAL is safe here because
        the sync only records acknowledgements: one lost to a power cut means the response is
        sent again, and the fleet ignores the duplicate. Answers themselves are still written
        by the main loop with FULL.
        """
        database.connect(reuse_if_open=True)
        database.execute_sql("PRAGMA synchronous = NORMAL")

    def disconnect_sync_thread(self) -> None:
        if not database.is_closed():
            database.close()

    def pending(self, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to *limit* responses still to send, oldest first, after row *after_id* (not the
        urgent ones, which ``urgent`` gives, nor held ones)."""
        query = (
            Response.select()
            .where((Response.id > after_id) & _unsent() & (Response.held == NOT_HELD) & (Response.priority == 0))
            .order_by(Response.id)
            .limit(limit)
        )
        return [(row["id"], to_public(row)) for row in query.dicts()]

    def urgent(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to *limit* requests for help still to send, oldest first: the sync sends them before any backlog."""
        query = Response.select().where((Response.priority > 0) & _unsent() & (Response.held == NOT_HELD)).order_by(Response.id).limit(limit)
        return [(row["id"], to_public(row)) for row in query.dicts()]

    def mark_sent(self, uuids: list[str], at: float | None = None) -> int:
        """Record that the fleet has stored these responses (they may now be pruned)."""
        at = time.time() if at is None else at
        # The same lock as save(): a save that finds the sync writing waits for the lock's
        # prompt hand-over, not in SQLite's busy handler, which sleeps 1, 2, 5, 10 ... ms.
        with self._lock, database.atomic():
            return Response.update(sent_at=at).where(Response.uuid.in_(uuids) & Response.sent_at.is_null()).execute()

    def mark_refused(self, refusals: dict[str, str]) -> int:
        """Record responses the fleet refused for good: kept for a technician, never resent."""
        changed = 0
        with self._lock, database.atomic():
            for uuid, reason in refusals.items():
                changed += Response.update(refused=reason[:500]).where((Response.uuid == uuid) & Response.sent_at.is_null()).execute()
        if changed:
            log.error("the fleet refused responses; they stay in the outbox", extra={"refused": changed, "reason": next(iter(refusals.values()))})
        return changed

    # --- reading --------------------------------------------------------------------

    def unsent_recorded_elsewhere(self, device_id: str) -> dict[str, int]:
        """Unsent answers recorded under another device id than *device_id* (a config for
        another device was installed on this card), counted by that id."""
        query = Response.select(Response.device_id, peewee.fn.COUNT(Response.id)).where(_unsent() & (Response.device_id != device_id)).group_by(Response.device_id)
        return dict(query.tuples())

    def responses(self, unsent_only: bool = False, limit: int | None = None) -> Iterator[dict[str, Any]]:
        query = Response.select().order_by(Response.id)
        if unsent_only:
            query = query.where(_unsent())
        if limit is not None:
            query = query.limit(limit)
        for row in query.dicts().iterator():
            yield to_public(row)

    def counters(self) -> dict[str, int]:
        return {c.name: c.value for c in Counter.select()}

    def health(self) -> Health:
        counters = self.counters()
        unsent = Response.select().where(_unsent())
        oldest = unsent.order_by(Response.id).first()
        try:
            db_bytes = sum(p.stat().st_size for p in self._path.parent.glob(DB_FILENAME + "*")) if self._path else 0
        except OSError:
            db_bytes = 0
        return Health(
            rows=self._rows,
            unsent=unsent.count(),
            misuse_refused=counters.get("misuse_refused", 0),
            over_cap_writes=counters.get("over_cap_writes", 0),
            unsaved=len(self._unsaved),
            disk_free_bytes=self._free(),
            database_bytes=db_bytes,
            oldest_unsent_wall=oldest.finished_wall if oldest else None,
            storage_ok=not self._unsaved,
            refused=Response.select().where(Response.refused.is_null(False)).count(),
            oldest_unsent_monotonic=oldest.finished_monotonic if oldest else None,
            oldest_unsent_boot=oldest.boot_id if oldest else None,
        )

    def integrity_ok(self) -> bool:
        return database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


def _unsent() -> peewee.Expression:
    """Rows still to send: not acknowledged by the fleet, and not refused by it for good."""
    return Response.sent_at.is_null() & Response.refused.is_null()


def _out_of_space(exc: BaseException) -> bool:
    """SQLITE_FULL (or the I/O error a full card gives), anywhere in the exception's chain."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if "database or disk is full" in text or "disk I/O error" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def migrate(db: SqliteDatabase) -> int:
    """Run the migrations this database has not seen yet; returns the schema version."""
    version = db.execute_sql("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise OutboxError(f"the outbox schema is version {version}, newer than this software knows ({len(MIGRATIONS)})\n  fix: upgrade the kiosk software")
    for number in range(version + 1, len(MIGRATIONS) + 1):
        with db.atomic():
            MIGRATIONS[number - 1](db)
            db.execute_sql(f"PRAGMA user_version = {number}")
        log.info("outbox migrated", extra={"schema_version": number})
    return len(MIGRATIONS)


def to_public(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as technicians and the fleet see it (JSON-ready, nested times)."""
    return {
        "uuid": row["uuid"],
        "device_id": row["device_id"],
        "survey_id": row["survey_id"],
        "survey_version": row["survey_version"],
        "language": row["language"],
        "status": row["status"],
        "misuse": bool(row["misuse"]),
        "negative": bool(row["negative"]),
        "end_reason": row["end_reason"],
        "answers": json.loads(row["answers"]),
        "presses": json.loads(row["presses"]),
        "press_ms": json.loads(row["press_ms"]),
        "suspect": bool(row["suspect"]),
        "help_requested": None if row.get("help_requested") is None else bool(row["help_requested"]),
        "started": {"wall": row["started_wall"], "monotonic": row["started_monotonic"]},
        "finished": {"wall": row["finished_wall"], "monotonic": row["finished_monotonic"]},
        "boot_id": row["boot_id"],
        "clock_synced": bool(row["clock_synced"]),
        "sent_at": row["sent_at"],
        "refused": row.get("refused"),
    }
