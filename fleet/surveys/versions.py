"""Survey versions on the fleet: added once, checked by the kiosk's own rules, never changed.

``add`` reads a survey file (TOML as a technician writes it, or the JSON ``show`` prints),
validates it with ``kiosk.contract.survey`` (the one implementation the kiosk runs, so a version
the fleet accepts is one a kiosk can show), and stores its canonical JSON: the bytes that are
signed and sent. The same id and version with other content is refused (a version is
immutable: raise ``version`` for a change); the same content again changes nothing.

A document whose signed assignment would not fit in one MQTT payload
(``kiosk.contract.protocol.MAX_PAYLOAD_BYTES``) is refused here, not discovered at the kiosk.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from fleet.surveys.tables import SurveyVersion
from kiosk.contract.protocol import MAX_PAYLOAD_BYTES
from kiosk.contract.survey import Survey, SurveyError, survey_from_dict


class VersionError(ValueError):
    """A survey version cannot be added or found; the message says why and what to do."""


@dataclass(frozen=True)
class Added:
    version: SurveyVersion
    new: bool  # False: the same content was already stored (a no-op)


def canonical(document: dict[str, Any]) -> str:
    """The document as signed and sent: JSON with sorted keys, no spaces (the contract's form)."""
    from kiosk.contract.assignment import canonical_document

    return canonical_document(document)


def pretty(document_text: str) -> str:
    """A stored document for people: indented, keys sorted, Turkish letters as they are."""
    return json.dumps(json.loads(document_text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def read_document(path: Path) -> dict[str, Any]:
    """A survey file as a dict: TOML, or JSON when the name ends in .json (what ``show`` prints)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise VersionError(f"{path}: no such file\n  fix: check the path") from None
    except OSError as exc:
        raise VersionError(f"{path}: cannot read it ({exc.strerror})\n  fix: check the file's permissions") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise VersionError(f"{path}: not UTF-8 text\n  fix: save the file as UTF-8 (in Notepad: Save As → Encoding: UTF-8)") from None
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(text)
        else:
            document = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise VersionError(f"{path}: not valid {kind}: {exc}\n  fix: compare with kiosk/surveys/default.toml (`kiosk validate FILE` says more)") from None
    if not isinstance(document, dict):
        raise VersionError(f"{path}: a survey is a table of keys, not a {type(document).__name__}\n  fix: compare with kiosk/surveys/default.toml")
    return document


def validate(document: dict[str, Any], source: str) -> tuple[Survey, str]:
    """The survey as a kiosk would load it from the canonical JSON it receives, and that JSON."""
    try:
        text = canonical(document)
    except (TypeError, msgspec.EncodeError) as exc:
        raise VersionError(f"{source}: cannot be sent as JSON: {exc}\n  fix: use only strings, numbers, booleans, lists and tables") from None
    try:
        survey = survey_from_dict(json.loads(text), source)
    except SurveyError as exc:
        raise VersionError(str(exc)) from None
    return survey, text


def check_size(survey_id: str, version: int, document_text: str) -> None:
    """VersionError if an assignment carrying this document would be over the payload limit
    (the contract's own measure, every other field at its widest)."""
    from kiosk.contract.assignment import document_problem

    problem = document_problem(document_text)
    if problem:
        raise VersionError(f"survey {survey_id} version {version}: {problem}\n  fix: shorten the texts or split the survey; kiosks refuse messages over {MAX_PAYLOAD_BYTES:,} bytes")


def add(path: Path, now: float | None = None) -> Added:
    document = read_document(path)
    survey, text = validate(document, str(path))
    check_size(survey.id, survey.version, text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    existing = SurveyVersion.get_or_none((SurveyVersion.survey_id == survey.id) & (SurveyVersion.version == survey.version))
    if existing is not None:
        if existing.sha256 == digest:
            return Added(existing, new=False)
        newest = latest_version(survey.id)
        raise VersionError(
            f"survey {survey.id} version {survey.version} is already stored with other content (added {_iso(existing.added_at)} from {existing.source or 'a file'}); "
            "a version never changes once added\n"
            f"  fix: raise `version` in {path.name} (to {newest + 1}) and add it again; `fleet survey diff {survey.id} {survey.version} …` shows what differs once both are in"
        )
    row = SurveyVersion.create(survey_id=survey.id, version=survey.version, document=text, sha256=digest, source=str(path.absolute())[:512], added_at=time.time() if now is None else now)
    return Added(row, new=True)


def latest_version(survey_id: str) -> int:
    found = SurveyVersion.select(SurveyVersion.version).where(SurveyVersion.survey_id == survey_id).order_by(SurveyVersion.version.desc()).first()
    return found.version if found else 0


def get(survey_id: str, version: int | None = None) -> SurveyVersion:
    """A stored version (the newest when *version* is None); VersionError naming what exists."""
    query = SurveyVersion.select().where(SurveyVersion.survey_id == survey_id)
    if version is not None:
        query = query.where(SurveyVersion.version == version)
    found = query.order_by(SurveyVersion.version.desc()).first()
    if found is not None:
        return found
    have = [v.version for v in SurveyVersion.select(SurveyVersion.version).where(SurveyVersion.survey_id == survey_id).order_by(SurveyVersion.version)]
    if have:
        raise VersionError(f"survey {survey_id} has no version {version} (it has {', '.join(map(str, have))})\n  fix: `fleet survey list` shows every stored version")
    ids = sorted({v.survey_id for v in SurveyVersion.select(SurveyVersion.survey_id)})
    close = difflib.get_close_matches(survey_id, ids, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise VersionError(f"no survey {survey_id!r} on this fleet ({', '.join(ids) if ids else 'none added yet'})\n  fix: {hint}`fleet survey add FILE` adds one; `fleet survey list` shows them")


def all_versions() -> list[SurveyVersion]:
    return list(SurveyVersion.select().order_by(SurveyVersion.survey_id, SurveyVersion.version))


def describe(row: SurveyVersion) -> dict[str, Any]:
    """One version for ``list``: what a person needs to pick it."""
    document = json.loads(row.document)
    return {
        "survey_id": row.survey_id,
        "version": row.version,
        "added": _iso(row.added_at),
        "questions": len(document.get("questions", [])),
        "languages": document.get("languages", []),
        "bytes": len(row.document.encode()),
        "sha256": row.sha256,
        "source": row.source,
    }


def diff(survey_id: str, a: int, b: int) -> str:
    """A unified diff of two versions' pretty JSON ('' when they are the same)."""
    old, new = get(survey_id, a), get(survey_id, b)
    lines = difflib.unified_diff(pretty(old.document).splitlines(keepends=True), pretty(new.document).splitlines(keepends=True), f"{survey_id} v{a}", f"{survey_id} v{b}")
    return "".join(lines)


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
