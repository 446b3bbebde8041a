"""The store reads the rules need: window counts and the registry's view of each kiosk.

Kept apart from the pure rules (which take their results as data) and from ingest (which
only hands over what it newly stored). A window counts what the store holds, not what this
process saw, so several fleet workers sharing the traffic agree on it.
"""

from __future__ import annotations

import functools
import logging
import operator
from typing import NamedTuple

import msgspec
import peewee
from peewee import fn

from fleet.escalation.counter import CountedRow
from fleet.escalation.rules import DeviceSnapshot, NewResponse, WindowCount, WindowQuery
from fleet.store import Device, StoredResponse, database

log = logging.getLogger(__name__)
_health = msgspec.json.Decoder(dict)


def _countable():
    """Answers a real customer gave: no misuse presses, no suspect response (maybe two
    customers; NULL: stored before the fleet kept the flag), no response without answers."""
    not_suspect = StoredResponse.suspect.is_null() | (StoredResponse.suspect == False)  # noqa: E712  (peewee builds SQL from ==)
    return (StoredResponse.misuse == False) & not_suspect & (StoredResponse.answers != "[]")  # noqa: E712


_TAIL_COLUMNS = (StoredResponse.id, StoredResponse.site, StoredResponse.device_id, StoredResponse.occurred_at, StoredResponse.negative)

# The statements the feed and the counter run on every read, made once per kind of database
# (SQLite and PostgreSQL mark parameters apart) and per shape: peewee takes longer to build one
# than the store to run it over the few rows stored since the last read. Built with marker
# values standing where each read's own values go.
_made: dict[tuple, tuple[str, list]] = {}
_AFTER, _UP_TO, _SINCE = -7_000_000_001, -7_000_000_002, -7_000_000_003.5


def _execute(shape: tuple, build, values: dict) -> peewee.CursorWrapper:  # type: ignore[no-untyped-def]
    """Run the statement *build()* makes (once per database kind and *shape*) with *values*
    (marker → value) in place of its markers."""
    key = (type(database.obj), *shape)
    made = _made.get(key)
    if made is None:
        made = _made[key] = build().sql()
    sql, params = made
    return database.execute_sql(sql, [values[param] if type(param) in (int, float) and param in values else param for param in params])


def countable_rows(after_id: int) -> list[CountedRow]:
    """The countable responses stored after *after_id*, one row each (an id range: the primary
    key, no window read): the tail as the window counter takes it where ids may commit late
    (PostgreSQL), so each row can be told apart by its id."""
    rows = _execute(("tail",), lambda: StoredResponse.select(*_TAIL_COLUMNS).where(_countable() & (StoredResponse.id > _AFTER)), {_AFTER: after_id})
    return [CountedRow(row_id, site, device_id, occurred_at, bool(negative)) for row_id, site, device_id, occurred_at, negative in rows]


def window_seed(since: int) -> tuple[int, list[tuple[str, str, int, int, int]]]:
    """The highest response id, and the countable responses up to it that occurred since *since*
    (a whole second) as (site, device, second, total, negative) tallies, grouped by the store:
    where a window counter starts. Read in one transaction (on SQLite one snapshot)."""
    second = _second()
    with database.atomic():
        high = StoredResponse.select(fn.MAX(StoredResponse.id)).scalar() or 0
        query = (
            StoredResponse.select(StoredResponse.site, StoredResponse.device_id, second, fn.COUNT(StoredResponse.id), fn.SUM(StoredResponse.negative.cast("INTEGER")))
            .where(_countable() & (StoredResponse.id <= high) & (StoredResponse.occurred_at >= since))
            .group_by(StoredResponse.site, StoredResponse.device_id, second)
            .tuples()
        )
        return high, [(site, device_id, int(at), int(total), int(negative or 0)) for site, device_id, at, total, negative in query]


def _second():
    """The whole second a response occurred in, as the store computes it."""
    if isinstance(database.obj, peewee.SqliteDatabase):
        return StoredResponse.occurred_at.cast("INTEGER")  # truncates: the floor of a time after 1970
    return fn.FLOOR(StoredResponse.occurred_at).cast("BIGINT")  # CAST alone rounds on PostgreSQL


def tail_tallies(after_id: int) -> tuple[int, list[tuple[str, str, int, int, int]]]:
    """The countable responses stored after *after_id*, grouped by the store as (site, device,
    second, total, negative) tallies, and the highest id among them (*after_id* if none): the
    tail as the window counter takes it when ids commit in order (SQLite). One statement, so one
    snapshot; the grouping runs in the database, so a count costs Python per (kiosk, second),
    not per response."""

    def build():  # type: ignore[no-untyped-def]
        second = _second()
        counts = (fn.COUNT(StoredResponse.id), fn.SUM(StoredResponse.negative.cast("INTEGER")), fn.MAX(StoredResponse.id))
        return StoredResponse.select(StoredResponse.site, StoredResponse.device_id, second, *counts).where(_countable() & (StoredResponse.id > _AFTER)).group_by(StoredResponse.site, StoredResponse.device_id, second)

    high, tallies = after_id, []
    for site, device_id, at, total, negative, top in _execute(("tallies",), build, {_AFTER: after_id}):
        tallies.append((site, device_id, int(at), int(total), int(negative or 0)))
        high = max(high, top)
    return high, tallies


class _Answer(msgspec.Struct):
    """The two fields of a stored answer the rules read (the rest is skipped unread)."""

    question: str
    option: str


_answers = msgspec.json.Decoder(list[_Answer])
_encode = msgspec.json.Encoder().encode

_CANDIDATE_COLUMNS = (
    StoredResponse.id, StoredResponse.uuid, StoredResponse.device_id, StoredResponse.site, StoredResponse.occurred_at,
    StoredResponse.negative, StoredResponse.answers, StoredResponse.help_requested,
)


class Wanted(NamedTuple):
    """The responses the response rules may take: negative ones, help requests, these options."""

    negative: bool
    help: bool
    options: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.negative or self.help or bool(self.options)


def highest_id() -> int:
    """The highest response id stored (0: none yet)."""
    ((high,),) = _execute(("highest",), lambda: StoredResponse.select(fn.MAX(StoredResponse.id)), {})
    return high or 0


def id_before(received_since: float) -> int:
    """The id just below the first response received since *received_since* (the highest id
    when none was): where a feed starts that goes over the last minutes' responses once more."""
    first = StoredResponse.select(fn.MIN(StoredResponse.id)).where(StoredResponse.received_at >= received_since).scalar()
    return first - 1 if first is not None else highest_id()


def candidate_rows(after_id: int, up_to_id: int, wanted: Wanted, occurred_since: float) -> list[tuple[int, NewResponse]]:
    """(id, response) for each countable response with an id in (after_id, up_to_id] that
    occurred since *occurred_since* and that a response rule may take (*wanted*: negative
    ones, help requests, answers naming an option; an option is found in the answers' JSON
    text by the store, then checked exactly by the rules). The rest stays in the store: the
    windows count it grouped (``tail_tallies``)."""

    def build():  # type: ignore[no-untyped-def]
        find = fn.INSTR if isinstance(database.obj, peewee.SqliteDatabase) else fn.STRPOS
        conditions = [find(StoredResponse.answers, _encode(option).decode()) > 0 for option in wanted.options]  # the option as a JSON string, as ingest encodes it
        if wanted.help:
            conditions.insert(0, StoredResponse.help_requested == True)  # noqa: E712  (peewee builds SQL from ==)
        if wanted.negative:
            conditions.insert(0, StoredResponse.negative == True)  # noqa: E712
        where = _countable() & (StoredResponse.id > _AFTER) & (StoredResponse.id <= _UP_TO) & (StoredResponse.occurred_at >= _SINCE) & functools.reduce(operator.or_, conditions)
        return StoredResponse.select(*_CANDIDATE_COLUMNS).where(where).order_by(StoredResponse.id)

    if not wanted:
        return []
    rows = _execute(("candidates", wanted), build, {_AFTER: after_id, _UP_TO: up_to_id, _SINCE: occurred_since})
    found = []
    for row_id, uuid, device_id, site, occurred_at, negative, answers, helped in rows:
        try:
            pairs = tuple((answer.question, answer.option) for answer in _answers.decode(answers))
        except msgspec.DecodeError as exc:  # not ingest's encoding: a row written by hand
            log.error("a stored response's answers cannot be read; the escalation skips it", extra={"response": uuid, "error": str(exc)[:200]})
            continue
        found.append((row_id, NewResponse(uuid, device_id, site, occurred_at, bool(negative), pairs, help_requested=None if helped is None else bool(helped))))
    return found


def ids_commit_late() -> bool:
    """Whether a response can commit after one with a higher id (PostgreSQL's sequences: ids are
    handed out before commit); SQLite has one writer, so its ids commit in order."""
    return not isinstance(database.obj, peewee.SqliteDatabase)


def count_windows(queries: list[WindowQuery], now: float) -> list[WindowCount]:
    """Each window counted exactly, from every response in it (the reference the counter is
    tested against; a query per window that reads the whole window)."""
    counts = []
    for query in queries:
        where = _countable() & (StoredResponse.occurred_at >= query.since) & (StoredResponse.occurred_at <= now)
        where &= (StoredResponse.device_id == query.device_id) if query.device_id else (StoredResponse.site == query.site)
        total, negative = StoredResponse.select(fn.COUNT(StoredResponse.id), fn.SUM(StoredResponse.negative.cast("integer"))).where(where).scalar(as_tuple=True)
        counts.append(WindowCount(query, int(total or 0), int(negative or 0)))
    return counts


def device_snapshots() -> list[DeviceSnapshot]:
    """Every kiosk that is not revoked, with what its last health message said."""
    snapshots = []
    query = Device.select(Device.device_id, Device.site, Device.online, Device.last_seen, Device.last_health).where(Device.revoked_at.is_null())
    for device_id, site, online, last_seen, last_health in query.tuples():
        health = {}
        if last_health:
            try:
                health = _health.decode(last_health)
            except msgspec.DecodeError:
                health = {}
        snapshots.append(
            DeviceSnapshot(
                device_id=device_id, site=site, online=bool(online), last_seen=last_seen,
                disk_free_bytes=health.get("disk_free_bytes"), oldest_unsent_age_s=health.get("oldest_unsent_age_s"), refused=int(health.get("refused") or 0),
            )
        )
    return snapshots
