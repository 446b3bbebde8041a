"""The wire contract between kiosks and the fleet: topics, payloads, limits.

Both sides import this module and nothing else of each other, so it stays small and pure:
msgspec and the standard library only, no sockets, no database. ``docs/protocol.md`` is its
human-readable twin; change both together.

Topic tree (one namespace per device; the broker's ACL lets a device touch only its own)::

    nabiz/<device>/responses  kiosk → fleet  QoS 1            Upload: 1..MAX_BATCH responses
    nabiz/<device>/status     kiosk → fleet  QoS 1, retained  Status: birth (online) and Last Will (offline)
    nabiz/<device>/health     kiosk → fleet  QoS 0            Health: versions, backlog, disk, temperature, uptime
    nabiz/<device>/ack        fleet → kiosk  QoS 1            Ack: which uuids are stored (or refused for good)

Every payload is a JSON object whose ``v`` is the protocol version. A receiver decodes
``v`` first and refuses versions it does not know, then decodes the whole object strictly
(unknown fields, wrong types and out-of-range values are errors, not guesses).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from dataclasses import dataclass
from typing import Annotated, Literal, Union

import msgspec

PROTOCOL_VERSION = 1
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

#: Device ids double as broker usernames and topic levels: no wildcards, no slashes, no spaces.
DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
#: Broker usernames the fleet keeps for itself; no device may take them.
RESERVED_IDS = frozenset({"fleet", "admin", "root"})

Channel = Literal["responses", "status", "health", "ack"]
UPSTREAM: tuple[Channel, ...] = ("responses", "status", "health")
DOWNSTREAM: tuple[Channel, ...] = ("ack",)


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
Seconds = Annotated[float, msgspec.Meta(ge=0)]


class Moment(msgspec.Struct, forbid_unknown_fields=True):
    """One instant on a clock-less board: wall time (maybe wrong) and monotonic time (right within a boot)."""

    wall: Seconds
    monotonic: Seconds


class SenderClock(msgspec.Struct, forbid_unknown_fields=True):
    """The kiosk's clocks when it sent a message: lets the fleet re-date unsynchronised times."""

    wall: Seconds
    monotonic: Seconds
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
    uuid: uuidlib.UUID
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
    # One customer, one response (protocol 2; a version-1 kiosk sends neither): each press's
    # offset in ms from the response's first press, parallel to `presses`; and whether a pause
    # inside the response means it may hold two customers' answers (never negative then).
    press_ms: Annotated[list[Count], msgspec.Meta(max_length=MAX_PRESSES)] = []
    suspect: bool = False

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
    cpu_temp_c: float | None
    uptime_s: Seconds
    misuse_refused: Count = 0


class Refusal(msgspec.Struct, forbid_unknown_fields=True):
    uuid: uuidlib.UUID
    reason: Annotated[str, msgspec.Meta(max_length=200, pattern=_NO_NUL)]


class Ack(msgspec.Struct, forbid_unknown_fields=True):
    """The fleet has *stored* these responses (or refused them for good): the kiosk may stop sending them."""

    v: int
    stored: Annotated[list[uuidlib.UUID], msgspec.Meta(max_length=MAX_ACK_UUIDS)]
    refused: Annotated[list[Refusal], msgspec.Meta(max_length=MAX_ACK_UUIDS)] = []
    at: Seconds = 0.0  # the fleet's wall clock when it stored them


def split_ack(ack: Ack) -> list[Ack]:
    """*ack* as Acks a kiosk accepts: each uuid once, at most MAX_ACK_UUIDS stored and
    MAX_ACK_REFUSALS refused in each (so each is also under MAX_PAYLOAD_BYTES)."""
    stored = list(dict.fromkeys(ack.stored))
    refused = list({r.uuid: r for r in ack.refused}.values())
    parts = max(-(-len(stored) // MAX_ACK_UUIDS), -(-len(refused) // MAX_ACK_REFUSALS), 1)
    return [
        Ack(v=ack.v, stored=stored[i * MAX_ACK_UUIDS : (i + 1) * MAX_ACK_UUIDS], refused=refused[i * MAX_ACK_REFUSALS : (i + 1) * MAX_ACK_REFUSALS], at=ack.at)
        for i in range(parts)
    ]


Message = Union[Upload, Status, Health, Ack]
_EXPECTED: dict[Channel, type] = {"responses": Upload, "status": Status, "health": Health, "ack": Ack}


class _Envelope(msgspec.Struct):
    v: int


class _LooseUpload(msgspec.Struct, forbid_unknown_fields=True):
    """An Upload whose responses are checked one by one: one bad answer must not block the batch."""

    v: int
    device_id: DeviceId
    sent: SenderClock
    responses: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class _UuidOnly(msgspec.Struct):
    uuid: uuidlib.UUID


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


def _check_version(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    try:
        version = _envelope.decode(payload).v
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"no protocol version: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"unknown protocol version {version} (this side speaks {PROTOCOL_VERSION})")


def decode(channel: Channel, payload: bytes) -> Message:
    """Decode and validate a whole payload arriving on *channel*; ProtocolError says what is wrong."""
    _check_version(payload)
    try:
        return _decoders[channel].decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProtocolError(f"invalid {channel} payload: {exc}") from None


def decode_upload(payload: bytes) -> CheckedUpload:
    """Decode an Upload, keeping the valid responses and refusing the invalid ones by uuid.

    The envelope (version, device, clocks, batch size) must be right or the whole message is
    refused; inside it, a response that breaks the contract is refused alone, so a kiosk bug
    in one answer cannot hold back the rest of its backlog forever.
    """
    _check_version(payload)
    try:  # the usual case, all valid, in one pass
        return CheckedUpload(upload=_decoders["responses"].decode(payload), refused=[], unidentified=0)  # type: ignore[arg-type]
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    try:
        loose = _loose_upload.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProtocolError(f"invalid responses payload: {exc}") from None
    good: list[ResponsePayload] = []
    refused: list[Refusal] = []
    unidentified = 0
    for raw in loose.responses:
        try:
            good.append(_response.decode(raw))
        except msgspec.ValidationError as exc:
            try:
                refused.append(Refusal(uuid=_uuid_only.decode(raw).uuid, reason=str(exc)[:200]))
            except (msgspec.ValidationError, msgspec.DecodeError):
                unidentified += 1
    # Constraints apply when decoding, not constructing: an all-refused batch is an empty Upload here.
    upload = Upload(v=loose.v, device_id=loose.device_id, sent=loose.sent, responses=good)
    return CheckedUpload(upload=upload, refused=refused, unidentified=unidentified)


def check_sender(topic_device: str, message: object) -> None:
    """The device named in a payload must be the device whose topic (and login) carried it."""
    claimed = getattr(message, "device_id", topic_device)
    if claimed != topic_device:
        raise ProtocolError(f"payload claims device {claimed!r} but arrived on {topic_device!r}'s topic")
