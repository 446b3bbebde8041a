"""The wire contract, tested as paho tests its topic matching: parametrised tables."""

from __future__ import annotations

import json
import uuid

import pytest

from kiosk.contract import protocol as p
from tests.protocol_factories import response, upload


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


# --- the channel table: everything that publishes, subscribes or authorises reads it ------------


@pytest.mark.parametrize(
    "channel, direction, qos, retain",
    [
        ("responses", "up", 1, False), ("status", "up", 1, True), ("health", "up", 0, False), ("ack", "down", 1, False), ("help", "down", 1, True),
        ("survey", "down", 1, True), ("survey_report", "up", 1, False),
    ],
)
def test_each_channel_is_published_as_the_table_says(channel, direction, qos, retain):
    assert p.publish_options(channel) == {"qos": qos, "retain": retain}
    assert (channel in p.UPSTREAM, channel in p.DOWNSTREAM) == (direction == "up", direction == "down")


def test_the_directions_split_the_table_and_every_channel_has_a_topic_and_a_decoder():
    assert sorted(p.UPSTREAM + p.DOWNSTREAM) == sorted(spec.name for spec in p.CHANNELS) == sorted(p.CHANNEL)
    for spec in p.CHANNELS:
        assert p.parse_topic(p.topic("kiosk-1", spec.name)) == p.Topic("kiosk-1", spec.name)
        with pytest.raises(p.ProtocolError, match=f"invalid {spec.name} payload"):
            p.decode(spec.name, b'{"v": 2}')


def test_a_kiosk_subscribes_to_its_own_downstream_channels():
    assert p.device_subscriptions("kiosk-1") == [("nabiz/kiosk-1/ack", 1), ("nabiz/kiosk-1/help", 1), ("nabiz/kiosk-1/survey", 1)]
    with pytest.raises(p.ProtocolError, match="lowercase"):
        p.device_subscriptions("+")


def test_the_fleet_subscribes_to_every_upstream_channel_alone_or_in_a_shared_group():
    assert p.fleet_subscriptions() == [("nabiz/+/responses", 1), ("nabiz/+/status", 1), ("nabiz/+/health", 0), ("nabiz/+/survey_report", 1)]
    assert p.fleet_subscriptions("nabiz-fleet") == [
        ("$share/nabiz-fleet/nabiz/+/responses", 1), ("$share/nabiz-fleet/nabiz/+/status", 1), ("$share/nabiz-fleet/nabiz/+/health", 0),
        ("$share/nabiz-fleet/nabiz/+/survey_report", 1),
    ]


# --- the help channel -----------------------------------------------------------------------

HELP = {"v": 2, "alert_id": 17, "response_uuid": "560d4543-c907-46e9-b94a-bd95674a79c5", "state": "coming", "at": 1_796_026_241.25}


def test_a_help_update_round_trips_with_its_defaults():
    update = p.decode("help", json.dumps(HELP | {"staff": "Ayşe Çağlar", "eta_minutes": 2}).encode())
    assert isinstance(update, p.HelpUpdate) and update.staff == "Ayşe Çağlar" and update.eta_minutes == 2
    assert (update.wait_s, update.callback_url) == (45.0, "")
    assert p.decode("help", p.encode(update)) == update


@pytest.mark.parametrize(
    "changes, where",
    [
        ({"alert_id": 0}, "$.alert_id"),
        ({"state": "accepted"}, "$.state"),
        ({"response_uuid": ""}, "$.response_uuid"),
        ({"response_uuid": "u" * 65}, "$.response_uuid"),
        ({"at": 1.7e12}, "$.at"),
        ({"staff": "s" * 65}, "$.staff"),
        ({"staff": "a\x00b"}, "$.staff"),
        ({"eta_minutes": 241}, "$.eta_minutes"),
        ({"eta_minutes": -1}, "$.eta_minutes"),
        ({"wait_s": 3601}, "$.wait_s"),
        ({"callback_url": "ftp://fleet.example.com/x"}, "$.callback_url"),
        ({"callback_url": "javascript:alert(1)"}, "$.callback_url"),
        ({"callback_url": "https://fleet.example.com/a b"}, "$.callback_url"),
        ({"callback_url": "https://fleet.example.com/" + "x" * 500}, "$.callback_url"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_help_update_beyond_its_limits_is_refused_with_where(changes, where):
    with pytest.raises(p.ProtocolError, match="invalid help payload") as refused:
        p.decode("help", json.dumps(HELP | changes).encode())
    assert where in str(refused.value)


def test_help_requested_is_optional_and_travels():
    checked = p.decode_upload(upload([response(help_requested=True), response(help_requested=False), response()]))
    assert [r.help_requested for r in checked.upload.responses] == [True, False, None]


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
        (b'{"v": 3, "device_id": "kiosk-1"}', "unknown protocol version 3"),
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


@pytest.mark.parametrize("channel", ["status", "health", "ack", "help", "survey", "survey_report"])
def test_other_channels_are_strict_too(channel):
    with pytest.raises(p.ProtocolError, match=f"invalid {channel} payload"):
        p.decode(channel, b'{"v": 1, "surprise": true}')


def test_a_big_ack_is_split_into_acks_a_kiosk_accepts():
    stored = [str(uuid.uuid4()) for _ in range(p.MAX_ACK_UUIDS * 2 + 5)]
    refused = [p.Refusal(str(uuid.uuid4()), "x" * 200) for _ in range(p.MAX_ACK_REFUSALS + 1)]
    parts = p.split_ack(p.Ack(v=1, stored=stored + stored[:10], refused=refused, at=5.0))
    assert [len(a.stored) for a in parts] == [p.MAX_ACK_UUIDS, p.MAX_ACK_UUIDS, 5]
    assert [u for a in parts for u in a.stored] == stored, "each once, in order"
    assert sum(len(a.refused) for a in parts) == len(refused)
    for part in parts:
        assert p.decode("ack", p.encode(part)) == part, "within the kiosk's limits"
    assert p.split_ack(p.Ack(v=1, stored=[], refused=[], at=1.0)) == [p.Ack(v=1, stored=[], refused=[], at=1.0)]


def test_an_ack_never_carries_a_reason_the_kiosk_would_refuse():
    """A reason built from a store's error may hold anything: the Ack a kiosk gets must still decode."""
    (part,) = p.split_ack(p.Ack(v=2, stored=[], refused=[p.Refusal("a" * 36, "bad\u0000value " + "x" * 500)], at=1.0))
    assert p.decode("ack", p.encode(part)).refused[0].reason.startswith("bad\\x00value x")


# --- hardening: what an untrusted sender can put in a payload (issue 7) ---------------------

NEST = 1000  # the depth that killed `fleet serve` (msgspec raised RecursionError)


def nested(depth: int = NEST) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(f'{{"v":1,"x":{nested()}}}'.encode(), id="unknown-field"),
        pytest.param(f'{{"x":{nested()},"v":1}}'.encode(), id="before-the-version"),
        pytest.param(f'{{"v":{nested()}}}'.encode(), id="as-the-version"),
        pytest.param(nested().encode(), id="bare"),
        pytest.param(upload([response(answers=json.loads(nested(200)))])[:-2] + f',"x":{nested()}}}'.encode(), id="after-the-responses"),
    ],
)
@pytest.mark.parametrize("channel", ["responses", "status", "health", "ack"])
def test_deep_nesting_is_refused_with_a_reason_on_every_channel(channel, payload):
    decoder = p.decode_upload if channel == "responses" else lambda raw: p.decode(channel, raw)
    with pytest.raises(p.ProtocolError) as refused:
        decoder(payload)
    assert str(refused.value)


def test_deep_nesting_inside_a_response_field():
    """Too deep anywhere: the whole message is refused (no kiosk writes such a thing). Less
    deep, a response with a nested value where a field wants a number is refused alone, by
    uuid, as any other bad response is."""
    good = response()
    for field in ("presses", "answers", "started", "survey_id", "uuid"):
        deep = upload([good, response(**{field: json.loads(nested(NEST // 4))})])
        deep = deep.replace(b"[" * (NEST // 4), b"[" * NEST).replace(b"]" * (NEST // 4), b"]" * NEST)
        with pytest.raises(p.ProtocolError, match="nested too deeply"):
            p.decode_upload(deep)
    shallow = upload([good, response(presses=json.loads(nested(12)))])
    checked = p.decode_upload(shallow)
    assert [str(r.uuid) for r in checked.upload.responses] == [good["uuid"]] and len(checked.refused) == 1


@pytest.mark.parametrize("stack", [0, 200, 500])
def test_deep_nesting_is_refused_wherever_the_decoder_runs(stack):
    """However little of Python's stack is left where a decoder runs (the fleet's bisecting
    server, the kiosk's sync thread), deep nesting is a refusal with a reason, never RecursionError."""

    def at_depth(levels: int) -> list[str]:
        if levels:
            return at_depth(levels - 1)
        reasons = []
        for payload in (f'{{"v":1,"x":{nested()}}}'.encode(), f'{{"v":1,"x":{nested(40)}}}'.encode(), f'{{"x":{nested(20_000)}}}'.encode()):
            with pytest.raises(p.ProtocolError) as refused:
                p.decode("status", payload)
            reasons.append(str(refused.value))
        return reasons

    deep, shallow, deeper = at_depth(stack)
    assert deep == deeper == p.NESTED_TOO_DEEP
    assert "unknown field `x`" in shallow


# Times: a Pi's wall clock may be 1970 until NTP answers, so that is accepted; a number no clock
# gives (milliseconds, 1e300, a date past 2100) is refused, and with it the row that would have
# stopped every export.
@pytest.mark.parametrize(
    "bad, where",
    [
        ({"finished": {"wall": 1_790_000_002_000.0, "monotonic": 12.0}}, "finished.wall"),  # JavaScript's Date.now()
        ({"started": {"wall": 1_790_000_000.0, "monotonic": 1e300}}, "started.monotonic"),
        ({"finished": {"wall": 4_200_000_000.0, "monotonic": 12.0}}, "finished.wall"),  # 2103
        ({"finished": {"wall": -1.0, "monotonic": 12.0}}, "finished.wall"),
        ({"answers": [{"question": "q", "option": "o", "button": 1, "negative": False, "elapsed_ms": 2**31}]}, "elapsed_ms"),
    ],
)
def test_a_time_no_clock_gives_is_refused_with_the_response(bad, where):
    good, broken = response(), response(**bad)
    checked = p.decode_upload(upload([good, broken]))
    assert [str(r.uuid) for r in checked.refused] == [broken["uuid"]]
    assert where.split(".")[-1] in checked.refused[0].reason


@pytest.mark.parametrize(
    "sent",
    [
        {"wall": 1_790_000_010.0, "monotonic": 1e300, "clock_synced": False, "boot_id": "b"},
        {"wall": 1_790_000_010_000.0, "monotonic": 20.0, "clock_synced": True, "boot_id": "b"},
        {"wall": 1e300, "monotonic": 20.0, "clock_synced": False, "boot_id": "b"},
    ],
)
def test_a_sending_clock_no_kiosk_has_refuses_the_upload(sent):
    with pytest.raises(p.ProtocolError, match="invalid responses payload"):
        p.decode_upload(upload([response()], sent=sent))


def test_an_unsynced_pi_dated_1970_is_accepted():
    early = response(clock_synced=False, started={"wall": 0.0, "monotonic": 0.0}, finished={"wall": 86.5, "monotonic": 86.5})
    checked = p.decode_upload(upload([early], sent={"wall": 90.0, "monotonic": 90.0, "clock_synced": False, "boot_id": "boot-1"}))
    assert len(checked.upload.responses) == 1 and not checked.refused


@pytest.mark.parametrize("field, value", [("uptime_s", 1e300), ("oldest_unsent_age_s", 1e300), ("cpu_temp_c", 1e300)])
def test_health_numbers_are_bounded(field, value):
    health = {
        "v": 2, "device_id": "kiosk-1", "sent": {"wall": 1_790_000_010.0, "monotonic": 20.0, "clock_synced": True, "boot_id": "b"},
        "software": "s", "survey_id": "exit-default", "survey_version": 1, "backlog": 0, "oldest_unsent_age_s": None,
        "unsaved": 0, "refused": 0, "disk_free_bytes": 1, "cpu_temp_c": 50.0, "uptime_s": 10.0,
    }
    assert p.decode("health", json.dumps(health).encode())
    with pytest.raises(p.ProtocolError, match=field):
        p.decode("health", json.dumps(health | {field: value}).encode())


def test_an_ack_time_is_bounded_too():
    with pytest.raises(p.ProtocolError, match="at"):
        p.decode("ack", b'{"v": 2, "stored": [], "at": 1e300}')


# UUIDs: echoed exactly as sent (the fleet stores the lowercase form), so a kiosk comparing
# strings sees its own uuid in the Ack.
def test_a_uuid_in_capitals_is_accepted_and_kept_as_sent():
    shouting = response(uuid=str(uuid.uuid4()).upper())
    checked = p.decode_upload(upload([shouting]))
    (kept,) = checked.upload.responses
    assert kept.uuid == shouting["uuid"] and p.canonical_uuid(kept.uuid) == shouting["uuid"].lower()


@pytest.mark.parametrize("text", ["nope", uuid.uuid4().hex, "{" + str(uuid.uuid4()) + "}", "urn:uuid:" + str(uuid.uuid4())])
def test_a_uuid_in_another_form_is_refused_by_that_text(text):
    """Refused *by the text as sent*, so even a kiosk with a strange uuid stops resending it."""
    checked = p.decode_upload(upload([response(uuid=text)], v=2))
    assert [r.uuid for r in checked.refused] == [text] and "8-4-4-4-12" in checked.refused[0].reason


# Protocol version 2: each response says which device it was recorded under.
def test_version_2_responses_carry_the_device_they_were_recorded_under():
    mine = response(device_id="kiosk-1")
    checked = p.decode_upload(upload([mine], v=2))
    assert checked.upload.v == 2 and checked.upload.responses[0].device_id == "kiosk-1" and not checked.refused


def test_an_answer_recorded_under_another_device_is_refused_naming_both():
    mine, theirs = response(device_id="kiosk-1"), response(device_id="kiosk-ist-001")
    long_ids = p.decode_upload(upload([response(device_id="kiosk-ist-kadikoy")], v=2, device_id="kiosk-ist-besiktas")).refused[0].reason
    assert long_ids.endswith("fix: run the kiosk with the config of 'kiosk-ist-kadikoy'"), "the whole reason fits for ids of 16 characters"
    checked = p.decode_upload(upload([mine, theirs], v=2))
    assert [str(r.uuid) for r in checked.upload.responses] == [mine["uuid"]]
    (refusal,) = checked.refused
    assert str(refusal.uuid) == theirs["uuid"]
    assert "'kiosk-ist-001'" in refusal.reason and "'kiosk-1'" in refusal.reason and "kiosk responses" in refusal.reason
    assert len(refusal.reason) <= 200


def test_a_version_2_response_must_name_its_device():
    checked = p.decode_upload(upload([response()], v=2))
    assert checked.upload.responses == [] and "device_id" in checked.refused[0].reason


def test_version_1_uploads_still_decode():
    checked = p.decode_upload(upload([response()], v=1))
    assert checked.upload.v == 1 and checked.upload.responses[0].device_id is None and not checked.refused


@pytest.mark.parametrize("version, accepted", [(0, False), (1, True), (2, True), (3, False)])
def test_both_sides_accept_versions_1_and_2(version, accepted):
    ack = f'{{"v": {version}, "stored": ["{uuid.uuid4()}"], "at": 1790000000.0}}'.encode()
    status = f'{{"v": {version}, "device_id": "kiosk-1", "online": true}}'.encode()
    for channel, payload in (("ack", ack), ("status", status)):
        if accepted:
            assert p.decode(channel, payload).v == version
        else:
            with pytest.raises(p.ProtocolError, match=f"unknown protocol version {version}"):
                p.decode(channel, payload)
