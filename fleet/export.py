"""``fleet responses``: stored responses for analysts, as JSON lines or CSV, streamed.

Rows are read in pages ordered by ``occurred_at`` so a year of answers exports in constant
memory. Times are ISO 8601 in UTC; ``time_source`` says how far to trust them (see
``fleet.timefix``). CSV has one ``answers`` column ("question=option; ...") so it opens
cleanly in a spreadsheet whatever the survey.

``negative`` is the one analysts count, so a misuse or suspect row is never negative here,
whatever its row says (the kiosk never marks them so; an export holds to it). ``suspect`` and
``help_requested`` are null (CSV: empty) where not known: ``help_requested`` when no help was
offered, both for rows stored before the fleet kept them; so is ``press_ms`` (JSON lines only).

An export never dies on one row. The protocol bounds every time a kiosk sends, but a store
holds whatever its columns take (a fleet before protocol version 2 stored a "synced" time in
milliseconds, which no date can show). A value that cannot be written as it should (a time
past year 9999 or not finite, JSON that does not parse) is exported as null, with the value
as stored under ``unformattable`` (CSV: one ``field=value`` list in that column), and the
command warns about it on standard error.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from fleet.store import StoredResponse

log = logging.getLogger(__name__)

CSV_COLUMNS = [
    "uuid", "occurred_at", "time_source", "site", "device_id", "survey_id", "survey_version", "language",
    "status", "negative", "misuse", "suspect", "help_requested", "end_reason", "answers", "received_at", "unformattable",
]


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def select(since: float | None = None, until: float | None = None, site: str | None = None, device: str | None = None, page: int = 2000) -> Iterator[dict]:
    query = StoredResponse.select().order_by(StoredResponse.occurred_at, StoredResponse.id)
    if since is not None:
        query = query.where(StoredResponse.occurred_at >= since)
    if until is not None:
        query = query.where(StoredResponse.occurred_at < until)
    if site:
        query = query.where(StoredResponse.site == site)
    if device:
        query = query.where(StoredResponse.device_id == device)
    last_id = 0
    last_at = float("-inf")
    while True:
        # Keyset pagination on (occurred_at, id): stable and cheap however deep the export goes.
        chunk = list(query.where((StoredResponse.occurred_at > last_at) | ((StoredResponse.occurred_at == last_at) & (StoredResponse.id > last_id))).limit(page).dicts())
        if not chunk:
            return
        for row in chunk:
            yield public(row)
        last_at, last_id = chunk[-1]["occurred_at"], chunk[-1]["id"]


def public(row: dict) -> dict:
    unformattable: dict[str, Any] = {}
    misuse, suspect = bool(row["misuse"]), _flag(row["suspect"])
    out = {
        "uuid": row["uuid"],
        "occurred_at": _date(row, "occurred_at", unformattable),
        "time_source": row["time_source"],
        "site": row["site"],
        "device_id": row["device_id"],
        "survey_id": row["survey_id"],
        "survey_version": row["survey_version"],
        "language": row["language"],
        "status": row["status"],
        "negative": bool(row["negative"]) and not misuse and not suspect,  # never counted against the site
        "misuse": misuse,
        "suspect": suspect,
        "help_requested": _flag(row["help_requested"]),
        "end_reason": row["end_reason"],
        "answers": _json(row, "answers", unformattable),
        "presses": _json(row, "presses", unformattable),
        "press_ms": None if row["press_ms"] is None else _json(row, "press_ms", unformattable),
        "device_clock": {"finished_wall": _number(row, "finished_wall", unformattable), "clock_synced": bool(row["clock_synced"]), "boot_id": row["boot_id"]},
        "received_at": _date(row, "received_at", unformattable),
    }
    if unformattable:
        out["unformattable"] = unformattable
    return out


def _flag(value: Any) -> bool | None:
    """A nullable boolean column: None stays "not known"."""
    return None if value is None else bool(value)


def _raw(value: Any) -> Any:
    """A stored value as strict JSON can carry it (inf and NaN as their names)."""
    return repr(value) if isinstance(value, float) and not math.isfinite(value) else value


def _date(row: dict, field: str, unformattable: dict) -> str | None:
    try:
        return iso(row[field])
    except (ValueError, OverflowError, OSError, TypeError):  # past year 9999, not finite, not a number
        unformattable[field] = _raw(row[field])
        return None


def _number(row: dict, field: str, unformattable: dict) -> float | None:
    value = row[field]
    if isinstance(value, float) and not math.isfinite(value):
        unformattable[field] = _raw(value)
        return None
    return value


def _json(row: dict, field: str, unformattable: dict) -> Any:
    """The JSON text as stored, parsed; null (and the text kept) if it is not strict JSON."""
    try:
        return json.loads(row[field], parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, TypeError, RecursionError):
        unformattable[field] = row[field]
        return None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not strict JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")  # 1e999: Python would read it as inf
    return value


#: Line separators JSON leaves unescaped but some line readers split on (Python's splitlines does).
_SEPARATORS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def write_jsonl(rows: Iterator[dict], out: IO[str]) -> int:
    count = 0
    for row in rows:
        try:
            out.write(json.dumps(row, ensure_ascii=False).translate(_SEPARATORS) + "\n")
        except UnicodeEncodeError:  # a lone surrogate from an escape in stored JSON: keep it escaped
            out.write(json.dumps(row) + "\n")
        count += 1
    return count


def write_csv(rows: Iterator[dict], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        flat = dict(row)
        flat["answers"] = _printable(_answers_cell(row["answers"]))
        for name in ("negative", "misuse", "suspect", "help_requested"):
            flat[name] = _yes_no(row[name])
        flat["unformattable"] = _printable("; ".join(f"{k}={v}" for k, v in row.get("unformattable", {}).items()))
        writer.writerow(flat)
        count += 1
    return count


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _answers_cell(answers: Any) -> str:
    if not isinstance(answers, list):
        return ""
    return "; ".join(f"{a.get('question')}={a.get('option')}" if isinstance(a, dict) else json.dumps(a) for a in answers)


def _printable(text: str) -> str:
    """*text* as UTF-8 can write it: a lone surrogate (from an escape in stored JSON) as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Tally:
    """*rows* passed through, counting (and warning about the first few) rows with a value
    exported as null, for the command's summary."""

    WARN_ROWS = 10

    def __init__(self, rows: Iterator[dict]) -> None:
        self.rows = rows
        self.unformattable = 0

    def __iter__(self) -> Iterator[dict]:
        for row in self.rows:
            if "unformattable" in row:
                self.unformattable += 1
                if self.unformattable <= self.WARN_ROWS:
                    values = ", ".join(f"{k}={v!r}" for k, v in row["unformattable"].items())
                    log.warning("response %s: %s cannot be exported as it should: null, the stored value under 'unformattable'", row["uuid"], values[:300])
            yield row

    def summary(self, count: int) -> str:
        text = f"{count} response(s)"
        if self.unformattable:
            text += (
                f"; {self.unformattable} with a value that cannot be exported as it should (a time that cannot be shown as a date,"
                " JSON that does not parse): exported as null, the stored value under 'unformattable'"
            )
        return text
