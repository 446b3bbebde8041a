"""The wire contract, tested as paho tests its topic matching: parametrised tables."""

from __future__ import annotations

import json
import uuid

import pytest

from kiosk import protocol as p


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


@pytest.mark.parametrize(
    "device_id, channel, expected",
    [
        ("kiosk-1", "responses", "nabiz/kiosk-1/responses"),
        ("k_2", "ack", "nabiz/k_2/ack"),
        ("0abc", "health", "nabiz/0abc/health"),
    ],
)
def test_topic_builder(device_id, channel, expected):
    assert p.topic(device_id, channel) == expected
    assert p.parse_topic(expected) == p.Topic(device_id, channel)


@pytest.mark.parametrize(
    "device_id, problem",
    [
        ("Kiosk", "lowercase"),
        ("kiosk/1", "lowercase"),
        ("kiosk+", "lowercase"),
        ("#", "lowercase"),
        ("", "lowercase"),
        ("-lead", "starting"),
        ("a" * 65, "1-64"),
        ("kıosk", "lowercase"),  # Turkish dotless ı is not an ASCII letter: not a broker login
        ("fleet", "reserved"),
    ],
)
def test_bad_device_ids_are_refused(device_id, problem):
    assert problem in p.device_id_problem(device_id)
    with pytest.raises(p.ProtocolError):
        p.topic(device_id, "responses")


@pytest.mark.parametrize(
    "name, reason",
    [
        ("nabiz/kiosk-1", "not nabiz/<device>/<channel>"),
        ("nabiz/kiosk-1/responses/extra", "not nabiz/<device>/<channel>"),
        ("other/kiosk-1/responses", "not nabiz/<device>/<channel>"),
        ("nabiz/KIOSK/responses", "lowercase"),
        ("nabiz/kiosk-1/secrets", "unknown channel"),
    ],
)
def test_bad_topics(name, reason):
    with pytest.raises(p.ProtocolError, match=reason):
        p.parse_topic(name)


def test_subscription_filters_match_every_device():
    assert p.subscription("responses") == "nabiz/+/responses"


def test_a_good_upload_round_trips():
    checked = p.decode_upload(upload([response(), response()]))
    assert len(checked.upload.responses) == 2 and not checked.refused and checked.unidentified == 0
    again = p.decode("responses", p.encode(checked.upload))
    assert again == checked.upload


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "not JSON"),
        (b"[]", "no protocol version"),
        (b'{"device_id": "kiosk-1"}', "no protocol version"),
        (b'{"v": 2, "device_id": "kiosk-1"}', "unknown protocol version 2"),
        (b'{"v": "1"}', "no protocol version"),
        (upload([]), "invalid responses payload"),  # an empty batch
        (upload([response()] * (p.MAX_BATCH + 1)), "invalid responses payload"),
        (upload([response()], device_id="Kiosk 1"), "invalid responses payload"),
        (upload([response()], extra=1), "invalid responses payload"),
        (upload([response()], sent={"wall": -1, "monotonic": 0, "clock_synced": True, "boot_id": "b"}), "invalid responses payload"),
        (b'{"v": 1, "pad": "' + b"x" * p.MAX_PAYLOAD_BYTES + b'"}', "over the"),
    ],
)
def test_whole_uploads_rejected(payload, reason):
    with pytest.raises(p.ProtocolError, match=reason):
        p.decode_upload(payload)


@pytest.mark.parametrize(
    "bad",
    [
        {"survey_version": "1"},
        {"language": "TR"},
        {"status": "maybe"},
        {"answers": [{"question": "q", "option": "o", "button": 12, "negative": False, "elapsed_ms": 1}]},
        {"presses": list(range(5)) * 300},
        {"survey_version": 2**31},  # more than the stores' INTEGER column holds
        {"boot_id": "boot\u0000"},  # PostgreSQL text cannot hold NUL
        {"started": {"wall": 1.0}},
        {"unexpected": True},
        {"press_ms": [0, 120]},  # two offsets for one press
        {"press_ms": [-1]},
        {"suspect": "yes"},
        {"end_reason": "child"},
    ],
)
def test_one_bad_response_is_refused_alone_by_uuid(bad):
    good, broken = response(), response(**bad)
    checked = p.decode_upload(upload([good, broken]))
    assert [str(r.uuid) for r in checked.upload.responses] == [good["uuid"]]
    assert [str(r.uuid) for r in checked.refused] == [broken["uuid"]]
    assert checked.refused[0].reason


def test_press_timing_and_the_suspect_flag_travel_and_are_optional():
    timed = response(presses=[1, 4, 4], press_ms=[0, 6000, 7500], suspect=True, negative=False)
    burst = response(presses=[2] * 15, press_ms=list(range(0, 1500, 100)), misuse=True, answers=[], end_reason="burst", negative=False, status="abandoned")
    version_1 = response()  # a kiosk that does not send them yet
    checked = p.decode_upload(upload([timed, burst, version_1]))
    assert not checked.refused
    first, second, third = checked.upload.responses
    assert first.press_ms == [0, 6000, 7500] and first.suspect
    assert second.end_reason == "burst" and len(second.press_ms) == 15
    assert third.press_ms == [] and third.suspect is False


def test_a_response_without_a_readable_uuid_is_counted_not_acknowledged():
    checked = p.decode_upload(upload([response(), response(uuid="nope")]))
    assert len(checked.upload.responses) == 1 and checked.refused == [] and checked.unidentified == 1


def test_sender_must_match_the_topic():
    checked = p.decode_upload(upload([response()]))
    p.check_sender("kiosk-1", checked.upload)
    with pytest.raises(p.ProtocolError, match="claims device 'kiosk-1'"):
        p.check_sender("kiosk-2", checked.upload)


def test_turkish_text_survives_the_wire():
    status = p.Status(v=1, device_id="kiosk-1", online=True, software="nabız/0.2", reason="bağlandı")
    assert p.decode("status", p.encode(status)) == status


@pytest.mark.parametrize("channel", ["status", "health", "ack"])
def test_other_channels_are_strict_too(channel):
    with pytest.raises(p.ProtocolError, match=f"invalid {channel} payload"):
        p.decode(channel, b'{"v": 1, "surprise": true}')


def test_a_big_ack_is_split_into_acks_a_kiosk_accepts():
    stored = [uuid.uuid4() for _ in range(p.MAX_ACK_UUIDS * 2 + 5)]
    refused = [p.Refusal(uuid.uuid4(), "x" * 200) for _ in range(p.MAX_ACK_REFUSALS + 1)]
    parts = p.split_ack(p.Ack(v=1, stored=stored + stored[:10], refused=refused, at=5.0))
    assert [len(a.stored) for a in parts] == [p.MAX_ACK_UUIDS, p.MAX_ACK_UUIDS, 5]
    assert [u for a in parts for u in a.stored] == stored, "each once, in order"
    assert sum(len(a.refused) for a in parts) == len(refused)
    for part in parts:
        assert p.decode("ack", p.encode(part)) == part, "within the kiosk's limits"
    assert p.split_ack(p.Ack(v=1, stored=[], refused=[], at=1.0)) == [p.Ack(v=1, stored=[], refused=[], at=1.0)]
