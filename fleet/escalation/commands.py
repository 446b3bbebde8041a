"""``fleet alert list | show | ack | resolve``: what each command does, apart from parsing its options.

Each function takes the already-open store's alerts through ``fleet.escalation.alerts`` (the
same functions the web and the service call, so the audit trail says channel ``cli``) and
returns the text to print. A change an operator makes here is announced to the kiosk like any
other (``fleet.escalation.help``: written in the alert's transaction; the running fleet's
announcer publishes it within half a second).

Errors are ``alerts.AlertError``s with the fix in their message: ``AlertNotFound`` and bad
values are the person's to correct (the CLI exits 2), ``AlertStateError`` means the alert has
moved on (exit 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from fleet.escalation import alerts
from fleet.export import iso

#: The ``--format json`` line: every field of ``alerts.AlertRow`` (id, state, rule, site,
#: device_id, opened_at, acknowledged_by, response_uuids, ...).
_json = msgspec.json.Encoder()

TABLE_COLUMNS = ("id", "state", "rule", "severity", "site", "device", "opened (UTC)", "triggers", "acknowledged by", "eta", "responses")


def list_alerts(state: str | None, site: str | None, fmt: str, limit: int = 200) -> list[str]:
    """The alerts, newest first: one JSON object per line, or a table's lines and a count."""
    rows = alerts.list_alerts(state=state, site=site, limit=limit)
    if fmt == "json":
        return [_json.encode(row).decode() for row in rows]
    table = [TABLE_COLUMNS] + [
        (
            str(row.id), row.state, row.rule, row.severity, row.site, row.device_id or "-", iso(row.opened_at) or "", str(row.triggers),
            row.acknowledged_by or "-", "-" if row.eta_minutes is None else f"{row.eta_minutes} min", str(len(row.response_uuids)),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    return [*lines, f"{len(rows)} alert(s)" + (f" (the newest {limit})" if len(rows) == limit else "")]


def show(alert_id: int, fmt: str) -> list[str]:
    """One alert whole: what it is, its responses, its audit trail (who did what, when, from
    which channel) and its delivery log (every attempt to notify someone, with the outcome).
    json: one object, {"alert", "history", "deliveries"}."""
    from fleet.escalation import notifier

    row = alerts.get_alert(alert_id)
    trail = alerts.history(alert_id)
    attempts = notifier.deliveries(alert_id)
    if fmt == "json":
        return [_json.encode({"alert": row, "history": trail, "deliveries": attempts}).decode()]
    eta = f", ETA {row.eta_minutes} min" if row.eta_minutes is not None else ""
    lines = [
        f"alert {row.id}: {row.rule} ({row.kind}, {row.severity}), {row.state}",
        f"  site {row.site}{_device(row)}, scope {row.scope}",
        f"  opened {iso(row.opened_at)}, triggered {row.triggers} time(s), last change {iso(row.updated_at)}",
    ]
    if row.acknowledged_at is not None:
        lines.append(f"  acknowledged {iso(row.acknowledged_at)} by {row.acknowledged_by}{eta}")
    if row.closed_at is not None:
        lines.append(f"  closed {iso(row.closed_at)}")
    lines.append(f"  facts: {_json.encode(row.facts).decode()}")
    lines.append(f"  responses ({len(row.response_uuids)}): {', '.join(row.response_uuids) or '-'}")
    lines.append("history:")
    lines += [f"  {iso(entry.at)}  {entry.action}  {entry.by} ({entry.channel})" + (f": {entry.comment}" if entry.comment else "") for entry in trail]
    lines.append("deliveries:")
    for attempt in attempts:
        took = (attempt["finished_at"] - attempt["started_at"]) * 1000
        lines.append(
            f"  {iso(attempt['started_at'])}  notification {attempt['notification']} to {attempt['contact']} {attempt['target']}"
            f"  attempt {attempt['attempt']}: {attempt['outcome']} in {took:.0f} ms" + (f" ({attempt['detail']})" if attempt["detail"] else "")
        )
    lines.append(f"  {len(attempts)} attempt(s)")
    return lines


def acknowledge(alert_id: int, by: str, eta_minutes: int | None, comment: str, clock: Callable[[], float] = time.time) -> str:
    row = alerts.acknowledge(alert_id, by, clock(), "cli", eta_minutes, comment)
    eta = f", ETA {row.eta_minutes} min" if row.eta_minutes is not None else ""
    return f"alert {row.id} acknowledged by {row.acknowledged_by}{eta} ({row.rule}, {row.site}{_device(row)})"


def resolve(alert_id: int, by: str, comment: str, clock: Callable[[], float] = time.time) -> str:
    row = alerts.resolve(alert_id, by, clock(), "cli", comment)
    return f"alert {row.id} resolved by {by} ({row.rule}, {row.site}{_device(row)})"


def _device(row: alerts.AlertRow) -> str:
    return f" / {row.device_id}" if row.device_id else ""
