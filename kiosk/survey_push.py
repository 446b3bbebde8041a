"""Surveys head office pushes: verified, checked against this panel, saved, applied at a safe point.

An assignment arrives on the kiosk's own retained ``survey`` topic (``docs/protocol.md``). The
kiosk

1. decides (``consider``, pure): not an assignment, or refused by ``verify`` (unsigned, unknown
   key, tampered, meant for another kiosk, replayed, not a valid survey), or a survey this panel
   cannot show (a button it does not have) → ``Refuse`` with the reason: the current survey
   stays. The very assignment it already holds (the retained copy, at every reconnect) →
   ``AlreadyHave``: nothing happens, nothing is reported.
2. saves an accepted one atomically in the data directory (``SurveyStore``: temporary file,
   fsync, rename, fsync of the directory), so it survives a power cut and a reboot offline; the
   saved assignment is its "last accepted sequence", and it is verified again at every start;
3. reports ``delivered``, hands the survey to the flow (``SurveyReplaced``), which puts it on
   screen at the next safe point (``SurveyApplied``: the start screen, never mid-customer, never
   during the help screens), then records it as applied and reports ``applied``. A kiosk killed
   between the two applies it at its next start, and reports ``applied`` then.

Reports wait in a small durable queue (``ReportQueue``, a JSON file in the data directory) until
the sync worker has handed them to the broker: one made offline goes when the link is back.

Where the survey on screen comes from (``ActiveSurvey.source``, in Health and ``kiosk survey``):
a survey file a technician configured (``survey = …`` or ``[survey] file``, or ``--survey``) wins,
as an override should; else the last pushed one that verifies; else the kiosk's default. With a
file configured, a pushed survey is still verified, saved and reported ``delivered``, with the
reason it is not shown; it goes on screen once the override is removed.

The main loop owns ``SurveyPush`` (one thread); only ``ReportQueue`` is shared with the sync
worker's thread, behind a lock.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.contract.assignment import verify
from kiosk.contract.clock import Instant
from kiosk.contract.protocol import MAX_SURVEY_REASON, PROTOCOL_VERSION, ProtocolError, SurveyAssignment, SurveyReport, decode, encode, reason_text
from kiosk.contract.survey import Survey

if TYPE_CHECKING:
    from kiosk.config import KioskConfig

log = logging.getLogger(__name__)

Source = Literal["default", "file", "pushed"]
Status = Literal["delivered", "applied", "refused", "failed"]
#: Reports kept while the fleet cannot be reached; beyond this the oldest go (the newest say most).
MAX_QUEUED_REPORTS = 200


@dataclass(frozen=True)
class ActiveSurvey:
    """The survey on screen and where it came from (Health, ``kiosk survey``)."""

    survey: Survey
    source: Source
    verified: bool = False
    assignment: SurveyAssignment | None = None  # with source "pushed"


# --- the decision (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Accept:
    assignment: SurveyAssignment
    survey: Survey


@dataclass(frozen=True)
class Refuse:
    reason: str
    assignment: SurveyAssignment | None  # None: the payload was not an assignment at all


@dataclass(frozen=True)
class AlreadyHave:
    assignment: SurveyAssignment


Decision = Accept | Refuse | AlreadyHave


def consider(
    payload: bytes, held: SurveyAssignment | None, keys: Mapping[str, Ed25519PublicKey], device_id: str, buttons: frozenset[int], panel: str = "this panel",
    min_seq: int = 0,
) -> Decision:
    """What to do with *payload*, arriving on this kiosk's survey topic while it holds *held* (the
    last assignment it accepted, or None), trusting *keys*, with a panel of *buttons*.

    *min_seq* (``[survey] min_seq``, written by the fleet with the config) is the floor below which
    an assignment is a replay even when nothing is held: a freshly imaged kiosk would otherwise
    take any older assignment genuinely signed for it."""
    try:
        assignment = decode("survey", payload)
    except ProtocolError as exc:
        return Refuse(f"not a survey assignment: {exc}", None)
    assert isinstance(assignment, SurveyAssignment)
    if held is not None and assignment == held:
        return AlreadyHave(assignment)
    verdict = verify(assignment, keys, device_id, held.seq if held is not None else 0)
    if not verdict.accepted or verdict.survey is None:
        return Refuse(verdict.reason, assignment)
    if assignment.seq <= min_seq:
        return Refuse(f"replayed: sequence {assignment.seq} ≤ {min_seq}, the lowest this kiosk's config accepts ([survey] min_seq)", assignment)
    problem = panel_problem(verdict.survey, buttons, panel)
    if problem:
        return Refuse(problem, assignment)
    return Accept(assignment, verdict.survey)


def panel_problem(survey: Survey, buttons: frozenset[int], panel: str = "this panel") -> str | None:
    """Why this kiosk's panel cannot show *survey* (a button it lacks), naming the first place; or None."""
    have = ", ".join(map(str, sorted(buttons)))
    for question in survey.questions:
        missing = sorted(set(question.buttons) - buttons)
        if missing:
            return (
                f'question "{question.id}" needs button {", ".join(map(str, missing))} ({len(question.options)} options),'
                f" but {panel} has buttons {have}: the survey cannot be answered here"
            )
    if survey.help_offer is not None:
        missing = sorted(set(survey.help_offer.buttons) - buttons)
        if missing:
            return f"the offer of help needs button {', '.join(map(str, missing))}, but {panel} has buttons {have}"
    return None


def report(device_id: str, assignment: SurveyAssignment | None, status: Status, reason: str, at: float) -> SurveyReport:
    """The upstream report about *assignment* (None: a payload that was none; rollout and seq 0)."""
    return SurveyReport(
        v=PROTOCOL_VERSION, device_id=device_id, rollout=assignment.rollout if assignment else 0, seq=assignment.seq if assignment else 0,
        survey_id=assignment.survey_id if assignment else "", version=assignment.version if assignment else 0,
        status=status, reason=reason_text(reason, MAX_SURVEY_REASON), at=max(0.0, at),
    )


# --- the data directory ---------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes) -> None:
    """*data* at *path* whole or not at all, even across a power cut: a temporary file in the same
    directory, fsync, rename over *path*, then fsync of the directory so the rename itself is on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class SurveyStore:
    """``<data dir>/survey/``: the last accepted assignment, exactly as it arrived
    (``assignment.json``), and the sequence of the one last put on screen (``applied.json``)."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = Path(data_dir) / "survey"
        self.assignment_path = self.directory / "assignment.json"
        self.applied_path = self.directory / "applied.json"

    def saved(self) -> SurveyAssignment | None:
        """The saved assignment, or None (none yet; an unreadable one is logged and treated as none:
        the kiosk shows its default, and the fleet's retained assignment arrives again anyway)."""
        try:
            payload = self.assignment_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            assignment = decode("survey", payload)
        except ProtocolError as exc:
            log.error("the saved pushed survey cannot be read; the kiosk shows its default until the fleet's assignment arrives again: %s", exc, extra={"path": str(self.assignment_path)})
            return None
        assert isinstance(assignment, SurveyAssignment)
        return assignment

    def save(self, assignment: SurveyAssignment) -> None:
        write_atomically(self.assignment_path, encode(assignment))

    def applied_seq(self) -> int:
        try:
            return int(json.loads(self.applied_path.read_text(encoding="utf-8"))["seq"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return 0

    def mark_applied(self, seq: int) -> None:
        write_atomically(self.applied_path, json.dumps({"seq": seq}).encode())


class ReportQueue:
    """Reports not yet handed to the broker, in a JSON file (``<data dir>/survey/reports.json``).
    Shared by the main loop (``add``) and the sync worker (``pending``, ``sent``): a lock keeps
    their read-modify-writes apart."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "survey" / "reports.json"
        self._lock = threading.Lock()
        self._decoder = msgspec.json.Decoder(list[SurveyReport])

    def _read(self) -> list[SurveyReport]:
        try:
            return self._decoder.decode(self.path.read_bytes())
        except FileNotFoundError:
            return []
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("the queued survey reports cannot be read and are dropped (the fleet still sees the survey in Health): %s", exc)
            return []

    def add(self, item: SurveyReport) -> None:
        with self._lock:
            queued = (self._read() + [item])[-MAX_QUEUED_REPORTS:]
            write_atomically(self.path, msgspec.json.encode(queued))

    def pending(self) -> list[SurveyReport]:
        with self._lock:
            return self._read()

    def sent(self, done: list[SurveyReport]) -> None:
        with self._lock:
            left = [r for r in self._read() if r not in done]
            write_atomically(self.path, msgspec.json.encode(left))


# --- at start -------------------------------------------------------------------------------------


def at_start(
    store: SurveyStore, fallback: ActiveSurvey, keys: Mapping[str, Ed25519PublicKey], device_id: str, buttons: frozenset[int], panel: str, now: float
) -> tuple[ActiveSurvey, list[SurveyReport]]:
    """The survey to start with, and the reports that start owes the fleet.

    *fallback* is the technician's file or the default. A file wins (an override); the default
    loses to a saved pushed assignment that still verifies (the keys may have been rotated since,
    or the panel changed): that one is on screen from the first frame, so if the kiosk stopped
    before it reported it applied (killed between ``delivered`` and ``applied``), it does now."""
    active, saved, refused = choose(store, fallback, keys, device_id, buttons, panel)
    if saved is None:
        return active, []
    if active.source == "file":
        log.info("a pushed survey is saved, but the technician's survey file overrides it", extra={"survey_id": saved.survey_id, "version": saved.version, "seq": saved.seq})
        return active, []
    if refused is not None:
        log.error("the saved pushed survey is not shown: %s", refused, extra={"survey_id": saved.survey_id, "version": saved.version, "seq": saved.seq})
        return active, [report(device_id, saved, "refused", f"saved survey refused at start: {refused}", now)]
    reports = []
    if store.applied_seq() != saved.seq:
        store.mark_applied(saved.seq)
        reports.append(report(device_id, saved, "applied", "", now))
        log.info("survey applied", extra=_fields(saved) | {"at_start": True})
    return active, reports


def choose(
    store: SurveyStore, fallback: ActiveSurvey, keys: Mapping[str, Ed25519PublicKey], device_id: str, buttons: frozenset[int], panel: str
) -> tuple[ActiveSurvey, SurveyAssignment | None, str | None]:
    """Which survey a start shows (reads only): (the active one, the saved assignment or None, why
    the saved one is refused or None). The technician's file wins; else a saved assignment that
    verifies again; else *fallback*."""
    saved = store.saved()
    if saved is None or fallback.source == "file":
        return fallback, saved, None
    decision = consider(encode(saved), None, keys, device_id, buttons, panel)
    if isinstance(decision, Refuse):
        return fallback, saved, decision.reason
    assert isinstance(decision, Accept)
    return ActiveSurvey(decision.survey, "pushed", True, saved), saved, None


def _fields(assignment: SurveyAssignment) -> dict[str, object]:
    return {"survey_id": assignment.survey_id, "version": assignment.version, "rollout": assignment.rollout, "seq": assignment.seq, "key_id": assignment.key_id}


# --- while running (the main loop) ----------------------------------------------------------------


class SurveyPush:
    """The main loop's part: an assignment arrives (``received``), a survey goes on screen
    (``applied``). *on_report* wakes the sync worker (a queue put); *on_active* tells it what
    Health should say now."""

    def __init__(
        self, store: SurveyStore, reports: ReportQueue, keys: Mapping[str, Ed25519PublicKey], device_id: str, buttons: frozenset[int], panel: str,
        active: ActiveSurvey, on_report: Callable[[], None] | None = None, on_active: Callable[[ActiveSurvey], None] | None = None, min_seq: int = 0,
    ) -> None:
        self.store = store
        self.reports = reports
        self.keys = keys
        self.device_id = device_id
        self.buttons = buttons
        self.panel = panel
        self.active = active
        self.held = store.saved()  # the last accepted assignment: replays are measured against it
        self.waiting: Accept | None = None  # accepted and saved, not on screen yet
        self.on_report = on_report
        self.on_active = on_active
        self.min_seq = min_seq  # [survey] min_seq: older assignments are replays even before the first is held

    def _report(self, assignment: SurveyAssignment | None, status: Status, reason: str, at: Instant) -> None:
        self.reports.add(report(self.device_id, assignment, status, reason, at.wall))
        if self.on_report is not None:
            self.on_report()

    def received(self, payload: bytes, at: Instant) -> Survey | None:
        """An assignment arrived: the survey to hand the flow (``SurveyReplaced``), or None."""
        if not payload:
            log.info("pushed survey cleared by the fleet; the survey on screen stays")
            return None
        if not self.keys:
            log.warning("a pushed survey arrived, but this kiosk trusts no signing key ([survey] trusted_keys); refused")
        decision = consider(payload, self.held, self.keys, self.device_id, self.buttons, self.panel, self.min_seq)
        if isinstance(decision, AlreadyHave):
            log.debug("pushed survey already taken", extra=_fields(decision.assignment))
            return None
        if isinstance(decision, Refuse):
            fields = _fields(decision.assignment) if decision.assignment else {"bytes": len(payload)}
            log.warning("pushed survey refused: %s", decision.reason, extra=fields | {"reason": decision.reason})
            self._report(decision.assignment, "refused", decision.reason, at)
            return None
        assignment = decision.assignment
        try:
            self.store.save(assignment)
        except OSError as exc:
            reason = f"cannot save it on the card: {exc.strerror or exc}"
            log.error("pushed survey not taken: %s", reason, extra=_fields(assignment))
            self._report(assignment, "failed", reason, at)
            return None
        self.held = assignment
        log.info("survey delivered", extra=_fields(assignment))
        if self.active.source == "file":
            reason = "not shown: the technician's survey file overrides pushed surveys (remove it from the kiosk config to show this one)"
            self._report(assignment, "delivered", reason, at)
            return None
        self._report(assignment, "delivered", "", at)
        self.waiting = decision
        return decision.survey

    def applied(self, survey: Survey, at: Instant) -> None:
        """The flow put *survey* on screen (``SurveyApplied``)."""
        waiting = self.waiting
        if waiting is None or waiting.survey is not survey:
            return
        self.waiting = None
        self.active = ActiveSurvey(survey, "pushed", True, waiting.assignment)
        try:
            self.store.mark_applied(waiting.assignment.seq)
        except OSError as exc:  # shown all the same; the next start reports it applied again
            log.error("cannot record the applied survey on the card: %s", exc)
        log.info("survey applied", extra=_fields(waiting.assignment))
        if self.on_active is not None:  # first: the Health that follows the report must name the new survey
            self.on_active(self.active)
        self._report(waiting.assignment, "applied", "", at)


# --- for a technician (``kiosk survey``) ----------------------------------------------------------


def describe(config: KioskConfig, data_dir: Path) -> list[str]:
    """What ``kiosk survey`` prints: the survey a start of this kiosk shows, where it comes from,
    whether it is verified, and what became of the last pushed one. Reads only."""
    from datetime import UTC, datetime

    from hardware.profiles import load_profile
    from kiosk.config import default_device_id
    from kiosk.contract.assignment import trusted_keys
    from kiosk.contract.survey import DEFAULT_SURVEY_PATH, load_survey

    profile = load_profile(config.panel.profile)
    file = config.survey_file
    fallback = ActiveSurvey(load_survey(file or DEFAULT_SURVEY_PATH), "file" if file else "default")
    store = SurveyStore(data_dir)
    device = config.device_id or default_device_id()
    keys = trusted_keys(config.trusted_keys)
    active, saved, refused = choose(store, fallback, keys, device, profile.numbers, f"panel profile {profile.name!r}")
    survey = active.survey
    lines = [f"survey:   {survey.id} version {survey.version}"]
    if active.source == "pushed" and active.assignment is not None:
        a = active.assignment
        issued = datetime.fromtimestamp(a.issued_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines.append(f"source:   pushed by head office (rollout {a.rollout}, seq {a.seq}, key {a.key_id}, signed {issued})")
        lines.append(f"verified: yes: signed by a trusted key, for {device}")
        lines.append(f"applied:  {'yes (reported to the fleet)' if store.applied_seq() == a.seq else 'not yet: it goes on screen at the next start screen (or the next start of the kiosk)'}")
    elif active.source == "file":
        lines.append(f"source:   file {file} (a technician's override: it wins over pushed surveys)")
        lines.append("verified: no: a local file carries no signature")
    else:
        lines.append(f"source:   default (shipped with the kiosk: {DEFAULT_SURVEY_PATH})")
        lines.append("verified: no: nothing was pushed to this kiosk yet" if saved is None else "verified: no")
    if saved is not None and refused is not None:
        lines.append(f"pushed:   survey {saved.survey_id} version {saved.version} (seq {saved.seq}) is saved but refused: {refused}")
    elif saved is not None and active.source == "file":
        lines.append(f"pushed:   survey {saved.survey_id} version {saved.version} (seq {saved.seq}) is saved, not shown while the file overrides it")
    lines.append(f"trusted keys: {', '.join(sorted(keys)) or 'none ([survey] trusted_keys): pushed surveys are refused'}")
    pending = ReportQueue(data_dir).pending()
    if pending:
        lines.append(f"reports waiting for the fleet: {len(pending)} ({', '.join(r.status for r in pending)})")
    return lines
