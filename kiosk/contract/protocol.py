"""The wire contract between kiosks and the fleet: topics, payloads, limits.

Both sides import this module and nothing else of each other, so it stays small and pure:
msgspec and the standard library only, no sockets, no database. ``docs/protocol.md`` is its
human-readable twin; change both together.

Topics: one namespace per device, ``nabiz/<device>/<channel>``. The channels are declared once,
in ``CHANNELS`` (name, direction, QoS, retained, payload); the broker's ACL (``fleet.dynsec``),
both sides' subscriptions and publishing options, and the topic table of docs/protocol.md
(``scripts/channel_docs.py``) are all made from it.

Every payload is a JSON object whose ``v`` is the protocol version. A receiver refuses
versions it does not know and decodes the whole object strictly (unknown fields, wrong types
and out-of-range values are errors, not guesses).

Everything arriving here is untrusted: a decoder returns a message or raises ProtocolError
with the reason, whatever the bytes (deep nesting, huge numbers, bad UTF-8), never anything
else. The fuzz tests (``tests/kiosk/test_protocol_fuzz.py``, ``make fuzz``) hold it to that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

import msgspec

from kiosk.contract.survey import ID_PATTERN as SURVEY_ID_PATTERN

#: The version this side writes. Version 2 added ``device_id`` to each response.
PROTOCOL_VERSION = 2
#: The versions this side reads: the fleet takes payloads of both (a kiosk not yet upgraded
#: keeps working), a kiosk takes Acks of both. The fleet answers in the version it was sent.
ACCEPTED_VERSIONS = (1, 2)
ROOT = "nabiz"

#: The largest payload either side accepts; the kiosk sizes its batches below it.
MAX_PAYLOAD_BYTES = 256 * 1024
#: Responses in one Upload. One when live; up to this many when draining a backlog.
MAX_BATCH = 200
MAX_ANSWERS = 64
#: Entries in one Ack. A fleet batch can acknowledge more for one device (redelivered and
#: resent messages pile up while the fleet is down): it sends them as several Acks.
MAX_ACK_UUIDS = MAX_BATCH * 8
#: Refusals in one Ack: each has a reason of up to 200 characters, so 200 of them and
#: MAX_ACK_UUIDS stored uuids stay under MAX_PAYLOAD_BYTES.
MAX_ACK_REFUSALS = MAX_BATCH
MAX_PRESSES = 1024
#: Deep nesting. The typed decoders read no deeper than the schema: a real payload nests 5
#: levels (Upload, responses, response, answers, answer), and a value of the wrong shape is
#: refused where it starts. Only a value that is skipped unread (an unknown field on the way to
#: ``v``, a response checked on its own) is walked deeper, by msgspec, which gives up with
#: RecursionError near Python's recursion limit (some 1,000 levels): refused with this reason.
#: Measuring every payload's depth beforehand would cost more than decoding it (a 256 KiB
#: payload of brackets took 50-150 ms to scan in Python, against about 1 ms to refuse).
NESTED_TOO_DEEP = "arrays and objects nested too deeply to decode (a real payload nests 5 levels)"

#: Wall clocks: seconds since 1970-01-01 UTC, at most 2100-01-01. 0 (1970) is allowed: a Pi's
#: clock reads 1970 until NTP answers. A milliseconds timestamp (1.7e12) is far past the bound.
LATEST_WALL = 4_102_444_800.0
#: Monotonic clocks (seconds since the kiosk booted): at most ten years of uptime.
MAX_MONOTONIC = 315_576_000.0

#: Device ids double as broker usernames and topic levels: no wildcards, no slashes, no spaces.
DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
#: Broker usernames the fleet keeps for itself; no device may take them.
RESERVED_IDS = frozenset({"fleet", "admin", "root"})

#: The channels' names; ``CHANNELS`` (below the payloads) says everything else about each.
Channel = Literal["responses", "status", "health", "ack", "help", "survey", "survey_report"]


class ProtocolError(ValueError):
    """A topic or payload that breaks the contract; the message says exactly how."""


# --- topics ------------------------------------------------------------------------------


def device_id_problem(device_id: str) -> str | None:
    """Why *device_id* cannot be used, or None if it can."""
    if not _DEVICE_ID.match(device_id):
        return f"device id {device_id!r} must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
    if device_id in RESERVED_IDS:
        return f"device id {device_id!r} is reserved for the fleet's own broker accounts"
    return None


def topic(device_id: str, channel: Channel) -> str:
    problem = device_id_problem(device_id)
    if problem:
        raise ProtocolError(problem)
    return f"{ROOT}/{device_id}/{channel}"


def subscription(channel: Channel) -> str:
    """The fleet's filter for one channel of every device."""
    return f"{ROOT}/+/{channel}"


@dataclass(frozen=True)
class Topic:
    device_id: str
    channel: Channel


def parse_topic(name: str) -> Topic:
    """``nabiz/<device>/<channel>`` → Topic; anything else is a ProtocolError."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != ROOT:
        raise ProtocolError(f"topic {name!r} is not {ROOT}/<device>/<channel>")
    device_id, channel = parts[1], parts[2]
    problem = device_id_problem(device_id)
    if problem:
        raise ProtocolError(f"topic {name!r}: {problem}")
    if channel not in UPSTREAM and channel not in DOWNSTREAM:
        raise ProtocolError(f"topic {name!r}: unknown channel {channel!r}")
    return Topic(device_id, channel)  # type: ignore[arg-type]


# --- payloads ----------------------------------------------------------------------------

# Bounds are the stores' too: a value the fleet's database cannot hold (a 64-bit number in an
# INTEGER column, a NUL in PostgreSQL text) must be refused here, not fail the insert.
_NO_NUL = r"^[^\x00]*$"
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=_NO_NUL)]
Text64 = Annotated[str, msgspec.Meta(max_length=64, pattern=_NO_NUL)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Bytes = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
DeviceId = Annotated[str, msgspec.Meta(pattern=DEVICE_ID_PATTERN)]
# Every number that is a time is bounded: an unbounded one (1e300, a time in milliseconds) was
# stored once and then stopped every export. No bound admits inf or NaN.
WallClock = Annotated[float, msgspec.Meta(ge=0, le=LATEST_WALL)]
Monotonic = Annotated[float, msgspec.Meta(ge=0, le=MAX_MONOTONIC)]
#: A span of time: at most the difference of two wall clocks (a backlog's age can be that).
Seconds = Annotated[float, msgspec.Meta(ge=0, le=LATEST_WALL)]
Celsius = Annotated[float, msgspec.Meta(ge=-273.15, le=1000)]
#: A response's uuid as the kiosk wrote it: the 8-4-4-4-12 hex form, either case. The fleet
#: stores ``canonical_uuid`` of it and echoes it in the Ack exactly as it came.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)
#: How an Ack names a response: the uuid text exactly as the kiosk sent it.
EchoedUuid = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=_NO_NUL)]
MAX_REASON = 200
Reason = Annotated[str, msgspec.Meta(max_length=MAX_REASON, pattern=_NO_NUL)]


def canonical_uuid(text: str) -> str:
    """The form the fleet stores (and deduplicates on): one response sent in two cases is one."""
    return text.lower()


class Moment(msgspec.Struct, forbid_unknown_fields=True):
    """One instant on a clock-less board: wall time (maybe wrong) and monotonic time (right within a boot)."""

    wall: WallClock
    monotonic: Monotonic


class SenderClock(msgspec.Struct, forbid_unknown_fields=True):
    """The kiosk's clocks when it sent a message: lets the fleet re-date unsynchronised times."""

    wall: WallClock
    monotonic: Monotonic
    clock_synced: bool
    boot_id: ShortText


#: Answer texts are stored inside JSON (re-encoded, so a NUL stays an escape): no pattern to pay for.
AnswerText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class AnswerPayload(msgspec.Struct, forbid_unknown_fields=True):
    question: AnswerText
    option: AnswerText
    button: Annotated[int, msgspec.Meta(ge=1, le=9)]
    negative: bool
    elapsed_ms: Count


class ResponsePayload(msgspec.Struct, forbid_unknown_fields=True):
    uuid: str  # UUID_PATTERN, checked after decoding so that a bad one is refused by its own text
    survey_id: ShortText
    survey_version: Count
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}$")]
    status: Literal["completed", "abandoned"]
    misuse: bool
    negative: bool
    end_reason: Literal["completed", "idle", "shutdown", "misuse", "burst"]
    answers: Annotated[list[AnswerPayload], msgspec.Meta(max_length=MAX_ANSWERS)]
    presses: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=99)]], msgspec.Meta(max_length=MAX_PRESSES)]
    started: Moment
    finished: Moment
    boot_id: ShortText
    clock_synced: bool
    # Version 2: the device id the response was recorded under. The fleet stores it only under
    # that device (the topic's) and refuses it otherwise: answers never move to another device.
    device_id: DeviceId | None = None
    # One customer, one response (protocol 2; a version-1 kiosk sends neither): each press's
    # offset in ms from the response's first press, parallel to `presses`; and whether a pause
    # inside the response means it may hold two customers' answers (never negative then).
    press_ms: Annotated[list[Count], msgspec.Meta(max_length=MAX_PRESSES)] = []
    suspect: bool = False
    # The customer's answer to the kiosk's offer of help after a negative response: True (yes,
    # send someone), False (no), None (not offered: not negative, no offer in the survey, or the
    # link to the fleet was down so no one could have been told).
    help_requested: bool | None = None

    def __post_init__(self) -> None:
        if self.press_ms and len(self.press_ms) != len(self.presses):
            raise ValueError(f"press_ms has {len(self.press_ms)} entries for {len(self.presses)} presses (it must have one per press, or none)")


class Upload(msgspec.Struct, forbid_unknown_fields=True):
    v: int
    device_id: DeviceId
    sent: SenderClock
    responses: Annotated[list[ResponsePayload], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class Status(msgspec.Struct, forbid_unknown_fields=True):
    """Birth message (online) on connect; the same shape, offline, is the Last Will."""

    v: int
    device_id: DeviceId
    online: bool
    software: Text64 = ""
    boot_id: Text64 = ""
    reason: Text64 = ""  # connected | lost (the will) | shutdown


class Health(msgspec.Struct, forbid_unknown_fields=True):
    v: int
    device_id: DeviceId
    sent: SenderClock
    software: Text64
    survey_id: Text64
    survey_version: Count
    backlog: Count
    oldest_unsent_age_s: Seconds | None
    unsaved: Count  # answers waiting in memory for a full disk
    refused: Count  # answers the fleet refused for good, kept on the card
    disk_free_bytes: Bytes
    cpu_temp_c: Celsius | None
    uptime_s: Seconds
    misuse_refused: Count = 0
    # Where the survey on screen came from (issue 10; a kiosk before it sends neither, read as
    # "default", unverified): the survey shipped with the kiosk, a file a technician configured
    # (``survey = "…"`` in kiosk.toml, an override head office did not sign), or the assignment
    # head office pushed, whose signature the kiosk checked (``survey_verified``).
    survey_source: Literal["default", "file", "pushed"] = "default"
    survey_verified: bool = False


class Refusal(msgspec.Struct, forbid_unknown_fields=True):
    uuid: EchoedUuid
    reason: Reason


class Ack(msgspec.Struct, forbid_unknown_fields=True):
    """The fleet has *stored* these responses (or refused them for good): the kiosk may stop sending them.

    Each uuid is exactly the text the kiosk sent, so a kiosk that compares strings finds it."""

    v: int
    stored: Annotated[list[EchoedUuid], msgspec.Meta(max_length=MAX_ACK_UUIDS)]
    refused: Annotated[list[Refusal], msgspec.Meta(max_length=MAX_ACK_UUIDS)] = []
    at: WallClock = 0.0  # the fleet's wall clock when it stored them


def reason_text(text: str, limit: int = MAX_REASON) -> str:
    """*text* as a reason a kiosk and a store accept: a reason built from an error may quote the
    input (an unknown key, say), NUL included, which neither PostgreSQL nor an Ack can carry."""
    return text.replace("\x00", "\\x00")[:limit]


def split_ack(ack: Ack) -> list[Ack]:
    """*ack* as Acks a kiosk accepts: each uuid once, at most MAX_ACK_UUIDS stored and
    MAX_ACK_REFUSALS refused in each (so each is also under MAX_PAYLOAD_BYTES), reasons
    within their limits."""
    stored = list(dict.fromkeys(ack.stored))
    refused = [Refusal(uuid=r.uuid, reason=reason_text(r.reason)) for r in {r.uuid: r for r in ack.refused}.values()]
    parts = max(-(-len(stored) // MAX_ACK_UUIDS), -(-len(refused) // MAX_ACK_REFUSALS), 1)
    return [
        Ack(v=ack.v, stored=stored[i * MAX_ACK_UUIDS : (i + 1) * MAX_ACK_UUIDS], refused=refused[i * MAX_ACK_REFUSALS : (i + 1) * MAX_ACK_REFUSALS], at=ack.at)
        for i in range(parts)
    ]


class HelpUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """The fleet tells a kiosk where a customer's request for help stands (retained, per device).

    ``waiting``: the alert is raised and staff are being told; ``coming``: a person
    acknowledged (``staff``, maybe an ``eta_minutes``); ``closed``: resolved, expired or
    cancelled. The kiosk shows it only while the customer who asked (``response_uuid``) is
    still on its help screen: a retained update for an earlier customer is dropped and logged.
    ``callback_url`` is a short-lived signed link to the fleet's call-back page, shown as a QR
    when nobody has come within ``wait_s``."""

    v: int
    alert_id: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    response_uuid: EchoedUuid
    state: Literal["waiting", "coming", "closed"]
    at: WallClock  # the fleet's wall clock when the state changed
    staff: Text64 = ""
    eta_minutes: Annotated[int, msgspec.Meta(ge=0, le=240)] | None = None
    wait_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 45.0
    callback_url: Annotated[str, msgspec.Meta(max_length=512, pattern=r"^(https?://[^\x00-\x20]+)?$")] = ""


# --- survey push (issue 10): the assignment head office signs, the kiosk's report -------------

#: The largest survey document head office can push: the whole assignment must fit in
#: MAX_PAYLOAD_BYTES, and JSON writes a document's quotes and backslashes twice (``\"``), so a
#: document of this many UTF-8 bytes always fits, however it is written.
#: ``kiosk.contract.assignment.document_problem`` says exactly, for one document.
MAX_DOCUMENT_BYTES = 120 * 1024
#: Rollouts and sequence numbers: a database's BIGINT.
Serial = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
SurveyId = Annotated[str, msgspec.Meta(pattern=SURVEY_ID_PATTERN)]
#: A report's reason: a survey's error names the place and the fix, so it gets more room than an Ack's.
MAX_SURVEY_REASON = 500
SurveyReason = Annotated[str, msgspec.Meta(max_length=MAX_SURVEY_REASON, pattern=_NO_NUL)]


class SurveyAssignment(msgspec.Struct, forbid_unknown_fields=True):
    """Head office's signed "show this survey" for one kiosk (retained on its ``survey`` topic).

    Made and checked by ``kiosk.contract.assignment`` (``sign``, ``verify``): the signature
    covers every field but ``key_id`` (which only picks the key) and itself, so a kiosk takes a
    document only as head office signed it, for itself (``target``), and newer than the last one
    it took (``seq``). The decoder checks shapes and bounds only; whether to believe it is
    ``verify``'s job, which refuses with the reason (unsigned, unknown key, tampered, …)."""

    v: int
    rollout: Serial
    seq: Serial  # the fleet's rollout sequence: strictly increasing across all rollouts of the fleet
    survey_id: SurveyId
    version: Count
    target: DeviceId  # the one kiosk it is for
    document: Annotated[str, msgspec.Meta(max_length=MAX_PAYLOAD_BYTES)]  # canonical JSON, exactly as signed
    key_id: Annotated[str, msgspec.Meta(max_length=64, pattern=_NO_NUL)]  # "" when unsigned
    signature: Annotated[str, msgspec.Meta(max_length=128, pattern=_NO_NUL)]  # base64 Ed25519; "" when unsigned
    issued_at: WallClock


class SurveyReport(msgspec.Struct, forbid_unknown_fields=True):
    """A kiosk tells the fleet what became of an assignment: ``delivered`` (verified and saved),
    ``applied`` (on screen), ``refused`` (with the reason; the old survey stays) or ``failed``
    (verified, but the kiosk could not save or show it).

    ``rollout`` and ``seq`` are the assignment's; 0 only when the kiosk could not even read them
    (a payload that is not an assignment at all, refused with the decoder's reason): the fleet
    then knows something reached the device's retained topic that its rollouts did not put there."""

    v: int
    device_id: DeviceId
    rollout: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    survey_id: Text64
    version: Count
    status: Literal["delivered", "applied", "refused", "failed"]
    reason: SurveyReason  # "" when all is well
    at: WallClock  # the kiosk's wall clock when it happened


Message = Upload | Status | Health | Ack | HelpUpdate | SurveyAssignment | SurveyReport


# --- channels: declared once ---------------------------------------------------------------


@dataclass(frozen=True)
class ChannelSpec:
    """One channel of every device's namespace: the broker's ACL, both sides' subscriptions,
    the fleet's dispatch and the topic table in docs/protocol.md are all made from these."""

    name: Channel
    direction: Literal["up", "down"]  # up: kiosk → fleet; down: fleet → kiosk
    qos: int
    retained: bool
    payload: type
    purpose: str


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("responses", "up", 1, False, Upload, "1 to 200 responses: one after each saved response, a backlog in batches; the fleet answers with an Ack once it has stored them"),
    ChannelSpec("status", "up", 1, True, Status, "birth message (online) on every connect, goodbye (offline) on a clean stop; the same shape, offline, is the Last Will the broker publishes when the kiosk vanishes"),
    ChannelSpec("health", "up", 0, False, Health, "versions, survey, backlog, disk, temperature, uptime: on every connect, then every `health_interval_s` (60 s)"),
    ChannelSpec("ack", "down", 1, False, Ack, "which uuids the fleet has stored (committed), or refused for good"),
    ChannelSpec("help", "down", 1, True, HelpUpdate, "where a customer's request for help stands: waiting, who is coming, or closed; retained, so a kiosk that reconnects hears the last one"),
    ChannelSpec("survey", "down", 1, True, SurveyAssignment, "head office's signed survey for this one kiosk (rollout, sequence, document); retained, so a kiosk offline during a push gets it when it is back"),
    ChannelSpec("survey_report", "up", 1, False, SurveyReport, "what became of an assignment: delivered (verified and saved), applied (on screen), refused or failed, with the reason; sent again after a reconnect until the kiosk has sent it"),
)
CHANNEL: dict[str, ChannelSpec] = {spec.name: spec for spec in CHANNELS}
UPSTREAM: tuple[Channel, ...] = tuple(spec.name for spec in CHANNELS if spec.direction == "up")
DOWNSTREAM: tuple[Channel, ...] = tuple(spec.name for spec in CHANNELS if spec.direction == "down")
_EXPECTED: dict[Channel, type] = {spec.name: spec.payload for spec in CHANNELS}


class PublishOptions(TypedDict):
    qos: int
    retain: bool


def publish_options(channel: Channel) -> PublishOptions:
    """How every message on *channel* is published (paho's ``publish(topic, payload, **options)``):
    the table's QoS and retained flag, so no publisher picks its own."""
    spec = CHANNEL[channel]
    return {"qos": spec.qos, "retain": spec.retained}


def device_subscriptions(device_id: str) -> list[tuple[str, int]]:
    """What a kiosk subscribes to: each downstream channel of its own namespace, at the table's QoS."""
    return [(topic(device_id, name), CHANNEL[name].qos) for name in DOWNSTREAM]


def fleet_subscriptions(shared_group: str | None = None) -> list[tuple[str, int]]:
    """What the fleet subscribes to: each upstream channel of every device, at the table's QoS;
    with *shared_group*, as a member of that shared subscription (workers split the traffic)."""
    prefix = f"$share/{shared_group}/" if shared_group else ""
    return [(prefix + subscription(name), CHANNEL[name].qos) for name in UPSTREAM]


def channel_table() -> str:
    """The topic table of docs/protocol.md (``scripts/channel_docs.py`` writes it there, and a
    test fails when the docs differ). Each payload links to its section, titled
    "<Payload> (`nabiz/<device>/<channel>`)"."""
    rows = ["| topic | direction | QoS | retained | payload | what |", "| --- | --- | --- | --- | --- | --- |"]
    for spec in CHANNELS:
        direction = "kiosk → fleet" if spec.direction == "up" else "fleet → kiosk"
        payload = spec.payload.__name__
        link = f"[`{payload}`](#{payload.lower()}-{ROOT}device{spec.name})"
        rows.append(f"| `{ROOT}/<device>/{spec.name}` | {direction} | {spec.qos} | {'**yes**' if spec.retained else 'no'} | {link} | {spec.purpose} |")
    return "\n".join(rows) + "\n"


def subscription_table() -> str:
    """Who subscribes to what (docs/protocol.md, written like ``channel_table``): a kiosk to its
    own downstream channels, the fleet to every device's upstream ones, each at the table's QoS."""
    rows = ["| who | subscribes to | QoS |", "| --- | --- | --- |"]
    rows += [f"| kiosk | `{ROOT}/<its own id>/{name}` | {CHANNEL[name].qos} |" for name in DOWNSTREAM]
    rows += [f"| fleet | `{subscription(name)}`, or `$share/<group>/{subscription(name)}` with `fleet serve --shared-group` | {CHANNEL[name].qos} |" for name in UPSTREAM]
    return "\n".join(rows) + "\n"


class _Envelope(msgspec.Struct):
    v: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class _LooseUpload(msgspec.Struct, forbid_unknown_fields=True):
    """An Upload whose responses are checked one by one: one bad answer must not block the batch."""

    v: int
    device_id: DeviceId
    sent: SenderClock
    responses: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class _UuidOnly(msgspec.Struct):
    uuid: str


@dataclass(frozen=True)
class CheckedUpload:
    """An Upload after validation: the responses that passed, and the ones refused with why."""

    upload: Upload
    refused: list[Refusal]
    unidentified: int  # refused responses without even a readable uuid (cannot be acknowledged)


_envelope = msgspec.json.Decoder(_Envelope)
_decoders = {channel: msgspec.json.Decoder(kind) for channel, kind in _EXPECTED.items()}
_loose_upload = msgspec.json.Decoder(_LooseUpload)
_response = msgspec.json.Decoder(ResponsePayload)
_uuid_only = msgspec.json.Decoder(_UuidOnly)
_encoder = msgspec.json.Encoder()


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def _decode(decoder: msgspec.json.Decoder, payload: bytes, invalid: str):  # type: ignore[no-untyped-def]
    """*decoder* on untrusted *payload*: whatever it raises becomes a ProtocolError whose reason
    starts with *invalid* (the schema's complaint) or says the bytes are not JSON."""
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"{invalid}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    except RecursionError:  # msgspec gave up on a value skipped unread (see NESTED_TOO_DEEP)
        raise ProtocolError(NESTED_TOO_DEEP) from None
    except Exception as exc:  # noqa: BLE001 - any other failure on foreign bytes is a refusal too, with its reason
        raise ProtocolError(f"{invalid}: {type(exc).__name__}: {exc}") from None


def _check_size(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")


def _check_version(version: int) -> None:
    if version not in ACCEPTED_VERSIONS:
        raise ProtocolError(f"unknown protocol version {version} (this side reads {' and '.join(map(str, ACCEPTED_VERSIONS))})")


def _refuse_undecodable(payload: bytes) -> None:
    """The typed decode failed: raise the clearest reason that needs no schema (not JSON, too
    deep, no or an unknown version); return if it is the schema that the payload breaks."""
    _check_version(_decode(_envelope, payload, "no protocol version").v)


def decode(channel: Channel, payload: bytes) -> Message:
    """Decode and validate a whole payload arriving on *channel*; ProtocolError says what is wrong."""
    _check_size(payload)
    try:  # the usual case, a good payload, in one pass
        message = _decoders[channel].decode(payload)
    except Exception:  # noqa: BLE001 - the slow path below says what is wrong
        _refuse_undecodable(payload)
        message = _decode(_decoders[channel], payload, f"invalid {channel} payload")
    _check_version(message.v)
    return message


def decode_upload(payload: bytes) -> CheckedUpload:
    """Decode an Upload, keeping the valid responses and refusing the invalid ones by uuid.

    The envelope (version, device, clocks, batch size) must be right or the whole message is
    refused; inside it, a response that breaks the contract is refused alone, so a kiosk bug
    in one answer cannot hold back the rest of its backlog forever.
    """
    _check_size(payload)
    try:  # the usual case, all valid, in one pass
        upload = _decoders["responses"].decode(payload)
    except Exception:  # noqa: BLE001 - the slow path below says what is wrong
        upload = None
    if upload is not None:
        _check_version(upload.v)
        return _checked(upload, [], 0)
    _refuse_undecodable(payload)
    loose = _decode(_loose_upload, payload, "invalid responses payload")
    good: list[ResponsePayload] = []
    refused: list[Refusal] = []
    unidentified = 0
    for raw in loose.responses:
        try:
            good.append(_decode(_response, raw, "invalid response"))
        except ProtocolError as exc:
            uuid = _uuid_text(raw)
            if uuid is not None and _echoable(uuid, loose.v):
                refused.append(Refusal(uuid=uuid, reason=reason_text(str(exc).removeprefix("invalid response: "))))
            else:
                unidentified += 1
    # Constraints apply when decoding, not constructing: an all-refused batch is an empty Upload here.
    upload = Upload(v=loose.v, device_id=loose.device_id, sent=loose.sent, responses=good)
    return _checked(upload, refused, unidentified)


def _uuid_text(raw: msgspec.Raw) -> str | None:
    try:
        return _uuid_only.decode(raw).uuid
    except Exception:  # noqa: BLE001 - no readable uuid
        return None


def _echoable(uuid: str, version: int) -> bool:
    """Whether an Ack may name a response by *uuid*, its text as sent. A version-1 kiosk reads
    Ack uuids as UUIDs, so for it only a text in the UUID form is echoed."""
    return 0 < len(uuid) <= 64 and "\x00" not in uuid and (version >= 2 or _UUID.match(uuid) is not None)


def _checked(upload: Upload, refused: list[Refusal], unidentified: int) -> CheckedUpload:
    """The rules a schema cannot say: the uuid's form (refused by its own text) and, from
    version 2, the device each response was recorded under."""
    sender, unnamed_ok, match = upload.device_id, upload.v == 1, _UUID.match
    if all(match(r.uuid) and (r.device_id == sender or (unnamed_ok and r.device_id is None)) for r in upload.responses):
        return CheckedUpload(upload=upload, refused=refused, unidentified=unidentified)  # the usual case, in one pass
    good = []
    for response in upload.responses:
        problem = response_problem(response, upload.device_id, upload.v)
        if problem is None:
            good.append(response)
        elif _echoable(response.uuid, upload.v):
            refused.append(Refusal(uuid=response.uuid, reason=reason_text(problem)))
        else:
            unidentified += 1
    if len(good) != len(upload.responses):
        upload = Upload(v=upload.v, device_id=upload.device_id, sent=upload.sent, responses=good)
    return CheckedUpload(upload=upload, refused=refused, unidentified=unidentified)


def response_problem(response: ResponsePayload, sender: str, version: int) -> str | None:
    """Why *response*, sent by device *sender*, cannot be stored, or None."""
    if not _UUID.match(response.uuid):
        return f"uuid {response.uuid[:40]!r} is not a UUID in the 8-4-4-4-12 hex form"
    recorded = response.device_id
    if recorded is None:
        return "a version 2 response must name the device it was recorded under (device_id)" if version >= 2 else None
    if recorded != sender:
        return (  # within MAX_REASON for ids of up to 16 characters; the ids come first
            f"recorded under device {recorded!r}, sent by {sender!r}: never moved to another device; kept on the kiosk"
            f" (kiosk responses). fix: run the kiosk with the config of {recorded!r}"
        )
    return None


def check_sender(topic_device: str, message: object) -> None:
    """The device named in a payload must be the device whose topic (and login) carried it."""
    claimed = getattr(message, "device_id", topic_device)
    if claimed != topic_device:
        raise ProtocolError(f"payload claims device {claimed!r} but arrived on {topic_device!r}'s topic")
