"""Rollouts: push a survey version to devices, signed at push time; each device's state; the status.

``push`` turns ``fleet survey push ID --version N --to …`` into one durable rollout, in one
transaction: the targets resolved from the registry (never revoked devices), one assignment per
device with a new fleet-wide sequence number, each signed there and then with head office's key.
From then on the rollout lives in the store: ``fleet serve``'s service (``fleet.surveys.service``)
publishes what the planner releases and marks it published once the broker has it; reports
and Health move each device on (``record_reports``, ``reconcile_health``). A fleet killed at
any point resumes from the store: nothing is signed again, no device gets a second sequence.

A device taken by a newer rollout leaves the older one: its older assignment, if not finished,
is ``cancelled`` (a newer retained assignment replaces it on the broker anyway).

Desired vs reported, as a device shadow: the desired survey of a device is its newest
assignment's; the reported one is what its Health says it shows (``devices.survey_id`` and
``survey_version``); ``device_states`` gives both.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from peewee import fn

from fleet.devices import survey_label
from fleet.store import Device, writing
from fleet.surveys import versions
from fleet.surveys.keys import SigningKey
from fleet.surveys.planner import RANK, DeviceState, Policy, advance
from fleet.surveys.tables import TERMINAL_STATES, Assignment, Rollout, SurveyCounter, SurveyVersion, next_seqs
from kiosk.contract.assignment import sign
from kiosk.contract.protocol import SurveyAssignment, SurveyReport, device_id_problem, encode


class RolloutError(ValueError):
    """A push or rollback cannot be made as asked; the message says why and what to do. Nothing was changed."""


# --- the command line's words -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    kind: str  # all | site | device
    values: tuple[str, ...] = ()

    def text(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind}:{','.join(self.values)}"


def parse_target(text: str) -> Target:
    fix = "  fix: --to all, --to site:'Ankara Çankaya 2', or --to device:kiosk-1,kiosk-2"
    text = text.strip()
    if text == "all":
        return Target("all")
    kind, sep, rest = text.partition(":")
    values = tuple(v.strip() for v in rest.split(",") if v.strip()) if kind == "device" else ((rest.strip(),) if rest.strip() else ())
    if not sep or kind not in ("site", "device") or not values:
        raise RolloutError(f"target {text!r} is not all, site:SITE or device:ID[,ID…]\n{fix}")
    if kind == "device":
        for value in values:
            problem = device_id_problem(value)
            if problem:
                raise RolloutError(f"target {text!r}: {problem}\n{fix}")
    return Target(kind, values)


def resolve(target: Target) -> list[str]:
    """The device ids *target* names, in a stable order; RolloutError for unknown or revoked ones."""
    query = Device.select(Device.device_id, Device.site, Device.revoked_at)
    if target.kind == "all":
        ids = [d.device_id for d in query.where(Device.revoked_at.is_null()).order_by(Device.site, Device.device_id)]
        if not ids:
            raise RolloutError("no devices are registered on this fleet\n  fix: `fleet device add ID --site SITE` first")
        return ids
    if target.kind == "site":
        site = target.values[0]
        ids = [d.device_id for d in query.where((Device.site == site) & Device.revoked_at.is_null()).order_by(Device.device_id)]
        if not ids:
            sites = sorted({d.site for d in Device.select(Device.site).where(Device.revoked_at.is_null())})
            raise RolloutError(f"no devices at site {site!r} (sites: {', '.join(repr(s) for s in sites) or 'none'})\n  fix: name a site as `fleet device list` shows it")
        return ids
    known = {d.device_id: d for d in query.where(Device.device_id.in_(list(target.values)))}
    unknown = [v for v in target.values if v not in known]
    if unknown:
        raise RolloutError(f"unknown device(s): {', '.join(unknown)}\n  fix: `fleet device list` shows the registered ones")
    revoked = [v for v in target.values if known[v].revoked_at is not None]
    if revoked:
        raise RolloutError(f"revoked device(s): {', '.join(revoked)}: they can no longer log in to receive it\n  fix: leave them out")
    return list(dict.fromkeys(target.values))


def parse_waves(text: str) -> tuple[float, ...]:
    fix = "  fix: --waves 1,10,50,100% (cumulative shares of the targets, ascending, ending at 100)"
    try:
        shares = tuple(float(part.strip().rstrip("%")) for part in text.split(","))
    except ValueError:
        raise RolloutError(f"--waves {text!r} is not a list of percentages\n{fix}") from None
    if not shares or any(not 0 < s <= 100 for s in shares) or list(shares) != sorted(set(shares)) or shares[-1] != 100:
        raise RolloutError(f"--waves {text!r}: each share between 0 and 100, ascending, the last 100\n{fix}")
    return shares


def parse_rate(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(s|sec|min|m|h|hour)\s*", text)
    if not match or int(match.group(1)) < 1:
        raise RolloutError(f"--rate {text!r} is not a rate\n  fix: e.g. --rate 100/min")
    per = {"s": 60, "sec": 60, "min": 1, "m": 1, "h": 1 / 60, "hour": 1 / 60}[match.group(2)]
    return max(1, round(int(match.group(1)) * per))


def parse_percent(text: str, what: str) -> float:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise RolloutError(f"{what} {text!r} is not a percentage\n  fix: e.g. {what} 20%") from None
    if not 0 <= value <= 100:
        raise RolloutError(f"{what} {text!r} is not between 0 and 100 %\n  fix: e.g. {what} 20%")
    return value


def parse_at(text: str, now: float) -> float:
    """``--at``: a time (2026-11-24T09:30, local unless a zone is given) or a span ahead (+10m)."""
    from fleet.config import FleetConfigError, parse_time

    match = re.fullmatch(r"\+(\d+(?:\.\d+)?)([smhd])", text.strip())
    if match:
        return now + float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    try:
        at = parse_time(text, now)
    except FleetConfigError:
        raise RolloutError(f"--at {text!r} is not a time\n  fix: e.g. --at 2026-11-24T21:00 or --at +30m") from None
    if at < now - 60:
        raise RolloutError(f"--at {text!r} is in the past ({_iso(at)}; now {_iso(now)})\n  fix: give a time to come, or leave --at out to start now")
    return at


# --- making a rollout --------------------------------------------------------------------------


@dataclass(frozen=True)
class PushRequest:
    survey_id: str
    version: int
    target: Target
    kind: str = "push"  # push | rollback
    start_at: float | None = None
    rate_per_min: int | None = None
    waves: tuple[float, ...] | None = None
    wave_wait_s: float = 600.0
    abort_failed_pct: float | None = None
    abort_min_devices: int | None = None  # None: default_min_devices(the number of targets)


#: ``--min-devices`` when not given: at least this many devices finish before ``--abort-if-failed`` judges.
MIN_DEVICES_FLOOR = 5
#: … or this share of the targets, when that is more.
MIN_DEVICES_SHARE = 0.01


def default_min_devices(targets: int) -> int:
    """How many devices must have finished before ``--abort-if-failed`` may stop a rollout, when
    ``--min-devices`` is not given: max(5, 1 % of the targets), and never more than the targets
    (a push to 3 kiosks is judged once all 3 finished).

    Why not 1: a device can only report on its own assignment, but a stolen kiosk (or one with a
    broken panel) refuses whatever it is sent. Judged from the first device to finish, that one
    refusal is 100 % and stops the rollout for the whole fleet; judged from 5 or more, one kiosk
    alone reaches at most 1/K of them (20 % at K = 5, 1 % at 1,000 targets' K = 10). The cost: a
    survey every kiosk refuses is stopped only after K of them refused, not after the first."""
    return max(1, min(targets, max(MIN_DEVICES_FLOOR, math.ceil(targets * MIN_DEVICES_SHARE))))


@dataclass(frozen=True)
class Pushed:
    rollout: Rollout
    devices: int
    superseded: int  # unfinished assignments of older rollouts now cancelled
    seqs: range


def push(request: PushRequest, key: SigningKey, now: float | None = None) -> Pushed:
    """One durable rollout, every assignment signed; RolloutError (nothing changed) if it cannot be."""
    now = time.time() if now is None else now
    try:
        stored = versions.get(request.survey_id, request.version)
    except versions.VersionError as exc:
        raise RolloutError(str(exc)) from None
    with writing():
        devices = resolve(request.target)
        return _create(request, stored, devices, key, now)


def _create(request: PushRequest, stored: SurveyVersion, devices: list[str], key: SigningKey, now: float) -> Pushed:
    rollout = Rollout.create(
        survey_id=stored.survey_id,
        version=stored.version,
        kind=request.kind,
        target=request.target.text()[:1024],
        state="active",
        created_at=now,
        start_at=now if request.start_at is None else request.start_at,
        rate_per_min=request.rate_per_min,
        waves=json.dumps(list(request.waves)) if request.waves else None,
        wave_wait_s=request.wave_wait_s,
        abort_failed_pct=request.abort_failed_pct,
        abort_min_devices=default_min_devices(len(devices)) if request.abort_min_devices is None else request.abort_min_devices,
        key_id=key.key_id,
    )
    superseded = _supersede(devices, rollout.id, now)
    seqs = next_seqs(len(devices))
    rows = []
    for position, (device_id, seq) in enumerate(zip(devices, seqs)):
        assignment = sign(key.private, survey_id=stored.survey_id, version=stored.version, rollout=rollout.id, seq=seq, target=device_id, document=stored.document, issued_at=now)
        if assignment.key_id != rollout.key_id:  # rebuilt with the rollout's key id when published
            raise RolloutError(f"the signing key's id {assignment.key_id} is not the one recorded ({rollout.key_id}); nothing was pushed\n  fix: `fleet survey keys`, then push again")
        # Only what is this device's own is stored: the document is the version's, stored once (tables.py).
        rows.append({"rollout": rollout.id, "device_id": device_id, "position": position, "seq": seq, "signature": assignment.signature, "issued_at": assignment.issued_at, "v": assignment.v, "status": "pending", "updated_at": now})
    for start in range(0, len(rows), 200):
        Assignment.insert_many(rows[start : start + 200]).execute()
    return Pushed(rollout, len(devices), superseded, seqs)


def rebuild(rollout: int, survey_id: str, version: int, key_id: str, document: str, device_id: str, seq: int, signature: str, issued_at: float, v: int) -> str:
    """The signed ``SurveyAssignment`` of one device, as JSON text: exactly the bytes ``sign``
    made at push time (every field is stored as signed, and msgspec encodes a struct the same
    way every time), so a fleet that publishes it again after a crash sends the same message."""
    assignment = SurveyAssignment(
        v=v, rollout=rollout, seq=seq, survey_id=survey_id, version=version, target=device_id, document=document, key_id=key_id, signature=signature, issued_at=issued_at
    )
    return encode(assignment).decode()


def payloads(rollout: Rollout, device_ids: Sequence[str]) -> dict[str, str]:
    """device id → its signed assignment in *rollout*, rebuilt from the row and the version's
    document (read once for all of them), for the devices of *device_ids* that have one."""
    document = SurveyVersion.get((SurveyVersion.survey_id == rollout.survey_id) & (SurveyVersion.version == rollout.version)).document
    rows = (
        Assignment.select(Assignment.device_id, Assignment.seq, Assignment.signature, Assignment.issued_at, Assignment.v)
        .where((Assignment.rollout == rollout.id) & Assignment.device_id.in_(list(device_ids)))
        .tuples()
    )
    return {
        device_id: rebuild(rollout.id, rollout.survey_id, rollout.version, rollout.key_id, document, device_id, seq, signature, issued_at, v)
        for device_id, seq, signature, issued_at, v in rows
    }


def _supersede(devices: list[str], rollout_id: int, now: float) -> int:
    """Older unfinished assignments of these devices: cancelled (the newer one replaces them)."""
    count = 0
    for start in range(0, len(devices), 500):
        chunk = devices[start : start + 500]
        count += (
            Assignment.update(status="cancelled", reason=f"superseded by rollout {rollout_id}", updated_at=now, source="fleet")
            .where(Assignment.device_id.in_(chunk) & Assignment.status.not_in(list(TERMINAL_STATES)))
            .execute()
        )
    return count


def site_survey(site: str, besides: str) -> Rollout | None:
    """The site's current survey: the newest rollout that took one of its devices (other than
    *besides*) and was not cancelled there, or None."""
    return (
        Rollout.select(Rollout)
        .join(Assignment)
        .join(Device, on=(Assignment.device_id == Device.device_id))
        .where((Device.site == site) & (Device.device_id != besides) & (Assignment.status != "cancelled") & (Rollout.state != "aborted"))
        .order_by(Rollout.id.desc())
        .first()
    )


def assign_new_device(device_id: str, current: Rollout, key: SigningKey, now: float | None = None) -> Pushed:
    """A device just registered gets its site's current survey (*current*'s version), in a rollout of its own."""
    now = time.time() if now is None else now
    stored = versions.get(current.survey_id, current.version)
    request = PushRequest(current.survey_id, current.version, Target("device", (device_id,)), kind="new-device")
    with writing():
        return _create(request, stored, [device_id], key, now)


def replay_floor(device_id: str) -> int:
    """The ``[survey] min_seq`` a kiosk config written now should carry: every sequence at or below
    it is one the device must never take again, so a freshly imaged kiosk (nothing saved) refuses
    an older assignment signed for it that someone able to publish on its topic replays.

    The fleet's last sequence, but below the device's retained assignment (the newest one
    published: the kiosk must still take it) and below any of its assignments not yet published."""
    floor = SurveyCounter.get_by_id("seq").value
    mine = Assignment.select(fn.MAX(Assignment.seq)).where((Assignment.device_id == device_id) & Assignment.published_at.is_null(False)).scalar()
    if mine is not None:
        floor = min(floor, mine - 1)
    waiting = Assignment.select(fn.MIN(Assignment.seq)).where((Assignment.device_id == device_id) & Assignment.published_at.is_null() & (Assignment.status == "pending")).scalar()
    if waiting is not None:
        floor = min(floor, waiting - 1)
    return max(0, floor)


# --- what devices say ---------------------------------------------------------------------------


#: Rows per ``IN (…)`` list: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


def record_reports(reports: list[SurveyReport], now: float | None = None) -> int:
    """Move devices on from their reports (call inside ingest's transaction); returns how many
    reports moved a device. A report for another device's or an unknown assignment, or one that
    would move a device back (a late or repeated report), changes nothing.

    A batch costs a few statements, not two per report: the assignments the reports name are
    read at once, each device's reports are folded in order (``delivered`` then ``applied`` in one
    batch: one write, to ``applied``), and the writes go out grouped by (old state, new state,
    reason). With one statement per report, ingest spent ~3/4 of its time here while 5,000 kiosks
    reported, and the fleet process's other threads (the rollout publisher above all) waited for
    the GIL behind it (docs/surveys.md, "Scale")."""
    now = time.time() if now is None else now
    seqs = sorted({report.seq for report in reports})
    rows: dict[int, list[Any]] = {}  # seq → [id, device, status read, status now, reason, reports that moved it]
    for start in range(0, len(seqs), CHUNK):
        query = Assignment.select(Assignment.id, Assignment.seq, Assignment.device_id, Assignment.status).where(Assignment.seq.in_(seqs[start : start + CHUNK]))
        for row_id, seq, device_id, status in query.tuples():
            rows[seq] = [row_id, device_id, status, status, "", 0]
    for report in reports:
        row = rows.get(report.seq)
        if row is None or row[1] != report.device_id:
            continue
        new = advance(row[3], report.status)
        if new is not None:
            row[3], row[4], row[5] = new, report.reason[:500], row[5] + 1
    groups: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for row_id, _, was, status, reason, steps in rows.values():
        if steps:
            groups.setdefault((was, status, reason), []).append((row_id, steps))
    moved = 0
    for (was, status, reason), items in groups.items():
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            changed = (
                Assignment.update(status=status, reason=reason, updated_at=now, source="report")
                .where(Assignment.id.in_([row_id for row_id, _ in chunk]) & (Assignment.status == was))
                .execute()
            )
            # Inside ingest's transaction nothing else writes between the read and here, so every row
            # changes; were it called outside one, a row another writer moved meanwhile is left alone.
            moved += sum(steps for _, steps in chunk) if changed == len(chunk) else changed
    return moved


def reconcile_health(now: float | None = None) -> int:
    """Devices whose Health says they show their assignment's survey version: applied (the
    report may have been lost; Health says it again every minute)."""
    now = time.time() if now is None else now
    candidates = (
        Assignment.select(Assignment.id)
        .join(Rollout)
        .switch(Assignment)
        .join(Device, on=(Assignment.device_id == Device.device_id))
        .where(
            Assignment.status.in_(["pending", "delivered"])
            & Assignment.published_at.is_null(False)
            & (Device.survey_id == Rollout.survey_id)
            & (Device.survey_version == Rollout.version)
        )
    )
    ids = [row.id for row in candidates]
    if not ids:
        return 0
    return Assignment.update(status="applied", updated_at=now, source="health").where(Assignment.id.in_(ids) & Assignment.status.in_(["pending", "delivered"])).execute()


# --- the planner's view, and the status -----------------------------------------------------


def policy_of(rollout: Rollout) -> Policy:
    return Policy(
        start_at=rollout.start_at,
        rate_per_min=rollout.rate_per_min,
        waves=tuple(json.loads(rollout.waves)) if rollout.waves else None,
        wave_wait_s=rollout.wave_wait_s,
        abort_failed_pct=rollout.abort_failed_pct,
        abort_min_devices=rollout.abort_min_devices,
    )


def progress_of(rollout_id: int) -> tuple[tuple[str, bool, int], ...]:
    """How many devices of the rollout are in each state, sent or not: one grouped query, in
    the database. Changes whenever any device's state or sent mark does (both only move forward)."""
    sent = Assignment.published_at.is_null(False)
    query = Assignment.select(Assignment.status, sent, fn.COUNT(Assignment.id)).where(Assignment.rollout == rollout_id).group_by(Assignment.status, sent)
    return tuple(sorted((status, bool(published), count) for status, published, count in query.tuples()))


def states_of(rollout_id: int) -> list[DeviceState]:
    query = Assignment.select(Assignment.device_id, Assignment.position, Assignment.status, Assignment.published_at).where(Assignment.rollout == rollout_id).tuples()
    return [DeviceState(device_id, position, status, published_at) for device_id, position, status, published_at in query]


@dataclass
class RolloutStatus:
    rollout: int
    survey_id: str
    version: int
    kind: str
    target: str
    state: str
    reason: str
    created_at: str
    start_at: str
    key_id: str
    devices: int
    counts: dict[str, int]
    published: int
    problems: list[dict[str, str]] = field(default_factory=list)  # failed / refused devices with their reasons
    device_states: list[dict[str, Any]] = field(default_factory=list)  # desired vs reported, per device

    @property
    def finished(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("applied", "failed", "refused"))

    def as_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


def status(rollout_id: int | None = None, with_devices: bool = False) -> RolloutStatus:
    if rollout_id is None:
        rollout = Rollout.select().order_by(Rollout.id.desc()).first()
        if rollout is None:
            raise RolloutError("no rollouts yet\n  fix: `fleet survey push ID --version N --to all` makes one")
    else:
        rollout = Rollout.get_or_none(Rollout.id == rollout_id)
        if rollout is None:
            newest = Rollout.select(Rollout.id).order_by(Rollout.id.desc()).first()
            raise RolloutError(f"no rollout {rollout_id} (the newest is {newest.id if newest else 'none'})\n  fix: `fleet survey status` shows the newest")
    counts: Counter[str] = Counter()
    published = 0
    problems, device_states = [], []
    query = (
        Assignment.select(Assignment, Device.survey_id, Device.survey_version)
        .join(Device, on=(Assignment.device_id == Device.device_id))
        .where(Assignment.rollout == rollout.id)
        .order_by(Assignment.position)
        .objects()
    )
    for row in query:
        counts[row.status] += 1
        published += row.published_at is not None
        if row.status in ("failed", "refused"):
            problems.append({"device": row.device_id, "status": row.status, "reason": row.reason})
        if with_devices:
            device_states.append(
                {
                    "device": row.device_id,
                    "seq": row.seq,
                    "status": row.status,
                    "reason": row.reason,
                    "published": row.published_at is not None,
                    "desired": survey_label(rollout.survey_id, rollout.version),
                    "reported": survey_label(row.survey_id, row.survey_version) if row.survey_id else "",
                    "source": row.source,
                }
            )
    return RolloutStatus(
        rollout=rollout.id,
        survey_id=rollout.survey_id,
        version=rollout.version,
        kind=rollout.kind,
        target=rollout.target,
        state=rollout.state,
        reason=rollout.reason,
        created_at=_iso(rollout.created_at),
        start_at=_iso(rollout.start_at),
        key_id=rollout.key_id,
        devices=sum(counts.values()),
        counts={state: counts.get(state, 0) for state in RANK},
        published=published,
        problems=problems,
        device_states=device_states,
    )


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
