"""Re-dating, tested by table (the cases of docs/protocol.md, "Clocks") and by property: every
response the protocol accepts gets a time an export can show, never after it arrived."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given

from fleet import timefix
from fleet.export import iso
from kiosk.contract.protocol import Moment, ResponsePayload, SenderClock, decode_upload
from tests.fuzzing import fuzz_settings, uploads

RECEIVED = 1_795_942_805.0  # 2026-11-24T09:00:05Z
SYNCED_NOW = 1_795_942_804.0  # 2026-11-24T09:00:04Z


def case(finished_wall, finished_mono, synced, sent_wall, sent_mono, sent_synced, same_boot=True):
    response = ResponsePayload(
        uuid="50a49f17-ce3d-443d-8fae-39aa8563063a", survey_id="s", survey_version=1, language="tr", status="completed", misuse=False,
        negative=False, end_reason="completed", answers=[], presses=[], started=Moment(finished_wall, finished_mono),
        finished=Moment(finished_wall, finished_mono), boot_id="boot-1", clock_synced=synced,
    )
    return timefix.occurred_at(response, SenderClock(sent_wall, sent_mono, sent_synced, "boot-1" if same_boot else "boot-2"), RECEIVED)


@pytest.mark.parametrize(
    "args, expected",
    [
        # the four cases of the documentation's table
        ((1_795_940_000.0, 1000, True, SYNCED_NOW, 2804, True), (1_795_940_000.0, "device")),
        ((1_795_896_000.0, 1000, False, SYNCED_NOW, 2800, True), (SYNCED_NOW - 1800, "device-resync")),
        ((1000.0, 1000, False, 2800.0, 2800, False), (RECEIVED - 1800, "fleet-receipt")),
        ((1000.0, 1000, False, SYNCED_NOW, 300, True, False), (1000.0, "unsynced")),
        # a "synced" clock that cannot be right is re-dated like an unsynced one
        ((3_000_000_000.0, 1000, True, SYNCED_NOW, 2800, True), (SYNCED_NOW - 1800, "device-resync")),  # 2065
        ((1_000_000_000.0, 1000, True, 2800.0, 2800, False), (RECEIVED - 1800, "fleet-receipt")),  # 2001: before any synced kiosk
        ((1_795_942_805.0 + 3600, 1000, True, 3_000_000_000.0, 2800, True), (RECEIVED - 1800, "fleet-receipt")),  # sent clock ahead too
        ((RECEIVED + timefix.MAX_AHEAD_S, 1000, True, SYNCED_NOW, 2800, True), (RECEIVED + timefix.MAX_AHEAD_S, "device")),  # within the skew allowed
        # an earlier boot's wall clock later than the message's arrival: the arrival, a bound
        ((3_000_000_000.0, 1000, False, SYNCED_NOW, 300, True, False), (RECEIVED, "received")),
    ],
)
def test_re_dating(args, expected):
    assert case(*args) == expected


@fuzz_settings(100)
@given(uploads())
def test_every_accepted_response_gets_a_time_an_export_can_show(body):
    checked = decode_upload(msgspec.json.encode(body))
    for response in checked.upload.responses:
        when, source = timefix.occurred_at(response, checked.upload.sent, RECEIVED)
        assert math.isfinite(when) and when <= RECEIVED + timefix.MAX_AHEAD_S, (when, source)
        assert iso(when) and source in {"device", "device-resync", "fleet-receipt", "unsynced", "received"}
