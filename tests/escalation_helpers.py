"""Factories for the escalation tests: configs, responses, intents; and a racer process.

Run as ``python -m tests.escalation_helpers race URL N``: raises N intents (one per key)
against the store at URL, as a second fleet worker process would, and prints how many it created.
"""

from __future__ import annotations

import sys
import uuid as uuidlib

from fleet.escalation.config import check_document
from fleet.escalation.rules import Intent, NewResponse

NOW = 1_790_000_000.0  # Monday 2026-09-21 17:13 in Istanbul

SITE = {"id": "kadikoy", "name": "Kadıköy", "time_zone": "Europe/Istanbul", "language": "tr"}


def config(**sections):
    """A valid escalation config; sections given replace the defaults."""
    document = {
        "sites": [SITE, {"id": "airport", "name": "Airport gate 4", "time_zone": "Europe/London", "language": "en"}],
        "contacts": [
            {"id": "ayse", "name": "Ayşe Yılmaz", "sites": ["kadikoy"], "roles": ["staff", "shift-lead"], "urls": ["json://127.0.0.1:9/ayse"]},
            {"id": "tech", "name": "Teknik Servis", "sites": ["*"], "roles": ["technician"], "urls": ["json://127.0.0.1:9/tech"]},
        ],
        "policies": [{"id": "staff-now", "stages": [{"roles": ["staff"]}, {"after_minutes": 5, "roles": ["shift-lead"]}], "repeat": 1, "repeat_after_minutes": 10}],
        "rules": [
            {"id": "help", "kind": "response", "on": "help", "policy": "staff-now", "severity": "urgent"},
            {"id": "negative", "kind": "response", "on": "negative", "policy": "staff-now"},
            {"id": "cleaning", "kind": "response", "on": "answer", "question": "what-went-wrong", "options": ["cleanliness"], "policy": "staff-now"},
            {"id": "mood", "kind": "window", "policy": "staff-now"},
            {"id": "offline", "kind": "offline", "policy": "staff-now", "after_minutes": 10},
            {"id": "health", "kind": "health", "policy": "staff-now"},
        ],
    }
    document.update(sections)
    return check_document(document, "test.toml")


KEY = b"k" * 32
FAST_RETRIES = {"public_url": "https://fleet.example.com", "send_timeout_seconds": 3, "retry_first_seconds": 0.2, "retry_max_seconds": 1, "max_attempts": 30}


def notifying(urls: list[str], **notifications):
    """A config whose Kadıköy staff (Ayşe) and shift lead (Mehmet) are reached at *urls*, quickly retried."""
    return config(
        contacts=[
            {"id": "ayse", "name": "Ayşe Yılmaz", "sites": ["kadikoy"], "roles": ["staff"], "urls": urls},
            {"id": "mehmet", "name": "Mehmet Kaya", "sites": ["kadikoy"], "roles": ["shift-lead"], "urls": urls[:1]},
        ],
        notifications={**FAST_RETRIES, **notifications},
    )


def response(negative=True, site="kadikoy", device="kiosk-1", at=NOW, answers=None, **extra) -> NewResponse:
    if answers is None:
        answers = (("satisfaction", "very-unhappy" if negative else "happy"),)
    return NewResponse(uuid=str(uuidlib.uuid4()), device_id=device, site=site, occurred_at=at, negative=negative, answers=tuple(answers), **extra)


def stored(responses: list[NewResponse]) -> list[NewResponse]:
    """Store *responses* as ingest would (the columns the rules read, the answers as compact
    JSON), and return them: what the response feed hands over."""
    import json

    from fleet.store import StoredResponse

    StoredResponse.insert_many(
        [
            {
                "uuid": r.uuid, "device_id": r.device_id, "site": r.site, "survey_id": "exit-default", "survey_version": 1, "language": "tr",
                "status": "completed", "misuse": r.misuse, "negative": r.negative, "end_reason": "completed",
                "answers": json.dumps([{"question": q, "option": o, "button": 1, "negative": r.negative, "elapsed_ms": 0} for q, o in r.answers], separators=(",", ":"), ensure_ascii=False),
                "presses": "[1]", "started_wall": r.occurred_at, "started_monotonic": 1.0, "finished_wall": r.occurred_at, "finished_monotonic": 2.0,
                "boot_id": "b", "clock_synced": True, "occurred_at": r.occurred_at, "time_source": "kiosk", "received_at": r.occurred_at,
                "suspect": r.suspect, "help_requested": r.help_requested,
            }
            for r in responses
        ]
    ).execute()
    return responses


def intent(rule="negative", scope="device:kiosk-1", uuids=(), kind="response", site="kadikoy", device="kiosk-1", **facts) -> Intent:
    return Intent(rule=rule, kind=kind, scope=scope, site=site, device_id=device, severity="high", response_uuids=tuple(uuids), facts=facts)


def _race(url: str, count: int) -> None:
    from fleet.escalation.alerts import raise_or_attach
    from fleet.store import open_database

    open_database(url)
    print("ready", flush=True)
    sys.stdin.readline()  # both racers start together
    created = 0
    for number in range(count):
        result = raise_or_attach(intent(rule="mood", kind="window", scope=f"site:s{number}", site=f"s{number}", device=None), NOW)
        created += bool(result and result.created)
    print(created, flush=True)


def _commit_then_hang(url: str, target: str) -> None:
    """A fleet that stored a help request and committed its alert, and is killed before any send."""
    import threading
    import time

    from fleet.escalation.service import Escalation
    from fleet.store import open_database

    open_database(url)
    escalation = Escalation(notifying([target]), KEY)
    escalation.on_responses_stored([response(help_requested=True, at=time.time())])
    print("committed", flush=True)
    threading.Event().wait()


def _deliver(url: str, lease_margin: str) -> None:
    """A fleet restarted: its worker delivers what the outbox holds, then says so."""
    import time

    from fleet.escalation.tables import Notification
    from fleet.escalation.worker import EscalationWorker
    from fleet.store import open_database

    open_database(url)
    worker = EscalationWorker(None, notifying(["json://127.0.0.1:9/x"]).notifications, lanes=1, poll_seconds=0.1, lease_margin=float(lease_margin))
    worker.start()
    print("delivering", flush=True)
    while Notification.select().where(Notification.state == "pending").exists():
        time.sleep(0.05)
    worker.stop()
    print("done", flush=True)


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    {"race": lambda url, count: _race(url, int(count)), "commit-then-hang": _commit_then_hang, "deliver": _deliver}[command](*arguments)
