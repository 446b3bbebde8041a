"""``fleet responses``: stored responses for analysts, as JSON lines or CSV, streamed.

Rows are read in pages ordered by ``occurred_at`` so a year of answers exports in constant
memory. Times are ISO 8601 in UTC; ``time_source`` says how far to trust them (see
``fleet.timefix``). CSV has one ``answers`` column ("question=option; ...") so it opens
cleanly in a spreadsheet whatever the survey.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from typing import IO, Iterator

from fleet.store import StoredResponse

CSV_COLUMNS = [
    "uuid", "occurred_at", "time_source", "site", "device_id", "survey_id", "survey_version", "language",
    "status", "negative", "misuse", "end_reason", "answers", "received_at",
]


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    return {
        "uuid": row["uuid"],
        "occurred_at": iso(row["occurred_at"]),
        "time_source": row["time_source"],
        "site": row["site"],
        "device_id": row["device_id"],
        "survey_id": row["survey_id"],
        "survey_version": row["survey_version"],
        "language": row["language"],
        "status": row["status"],
        "negative": bool(row["negative"]),
        "misuse": bool(row["misuse"]),
        "end_reason": row["end_reason"],
        "answers": json.loads(row["answers"]),
        "presses": json.loads(row["presses"]),
        "device_clock": {"finished_wall": row["finished_wall"], "clock_synced": bool(row["clock_synced"]), "boot_id": row["boot_id"]},
        "received_at": iso(row["received_at"]),
    }


def write_jsonl(rows: Iterator[dict], out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(rows: Iterator[dict], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        flat = dict(row)
        flat["answers"] = "; ".join(f"{a['question']}={a['option']}" for a in row["answers"])
        flat["negative"] = "yes" if row["negative"] else "no"
        flat["misuse"] = "yes" if row["misuse"] else "no"
        writer.writerow(flat)
        count += 1
    return count
