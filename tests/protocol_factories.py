"""Factories for protocol payloads as a kiosk sends them: one response, an Upload of some.

Plain dicts and JSON bytes, so a test can break any field the way a faulty kiosk would.
"""

from __future__ import annotations

import json
import uuid


def response(**changes) -> dict:
    base = {
        "uuid": str(uuid.uuid4()),
        "survey_id": "exit-default",
        "survey_version": 1,
        "language": "tr",
        "status": "completed",
        "misuse": False,
        "negative": True,
        "end_reason": "completed",
        "answers": [{"question": "satisfaction", "option": "very-unhappy", "button": 1, "negative": True, "elapsed_ms": 900}],
        "presses": [1],
        "started": {"wall": 1_790_000_000.0, "monotonic": 10.0},
        "finished": {"wall": 1_790_000_002.0, "monotonic": 12.0},
        "boot_id": "boot-1",
        "clock_synced": True,
    }
    base.update(changes)
    return base


def upload(responses: list[dict], **changes) -> bytes:
    body = {"v": 1, "device_id": "kiosk-1", "sent": {"wall": 1_790_000_010.0, "monotonic": 20.0, "clock_synced": True, "boot_id": "boot-1"}, "responses": responses}
    body.update(changes)
    return json.dumps(body).encode()
