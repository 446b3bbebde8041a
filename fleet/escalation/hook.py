"""Escalation's post-commit hook: the store's new rows, as the rules take them.

Ingest calls its hooks with ``fleet.store.ResponseRow``s, the rows as stored (answers as
JSON text); the rules take ``rules.NewResponse`` (answers as (question, option) pairs, no
columns they do not use). ``new_response`` is that conversion; ``escalation_hook`` the hook.
It runs ``Escalation.on_responses_stored``, which may count windows and write an alert (an
fsync on SQLite), so register it behind a ``fleet.dispatch.HookWorker``, never on the ingest
thread itself:

    worker = HookWorker("escalation", escalation_hook(escalation)).start()
    registry.add_hook("escalation", worker)
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from fleet.dispatch import Hook
from fleet.escalation.rules import NewResponse
from fleet.escalation.service import Escalation
from fleet.store import ResponseRow


class _Answer(msgspec.Struct):
    """The two fields of a stored answer the rules read (the rest is skipped unread)."""

    question: str
    option: str


_answers = msgspec.json.Decoder(list[_Answer])


def new_response(row: ResponseRow) -> NewResponse:
    """*row* as the rules take it. Its answers JSON is ingest's own encoding of a validated
    payload, so it decodes; a row with a value the rules cannot read is the hook's error."""
    return NewResponse(
        uuid=row.uuid,
        device_id=row.device_id,
        site=row.site,
        occurred_at=row.occurred_at,
        negative=row.negative,
        answers=tuple((answer.question, answer.option) for answer in _answers.decode(row.answers)),
        misuse=row.misuse,
        suspect=row.suspect,
        help_requested=row.help_requested,
    )


def escalation_hook(escalation: Escalation) -> Hook:
    """The hook that hands newly stored responses to *escalation*."""

    def on_stored(rows: Sequence[ResponseRow]) -> None:
        escalation.on_responses_stored([new_response(row) for row in rows])

    on_stored.__qualname__ = "escalation_hook"
    return on_stored
