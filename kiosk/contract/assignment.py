"""Signed survey assignments: what head office signs, and how a kiosk decides to believe it.

Head office pushes a survey version to a kiosk as a ``SurveyAssignment`` (retained on the
kiosk's own ``survey`` topic, ``docs/protocol.md``). Broker accounts are not trusted with what
customers see: not the fleet's own, not a stolen kiosk's, not a man in the middle. Only head
office's Ed25519 key is. So a kiosk takes a document only when

- it is signed (``unsigned``) by a key the kiosk trusts (``unknown key <id>``: kiosks hold a
  list, ``[survey] trusted_keys``, so a key can be rotated, as Mender's ``ArtifactVerifyKeys``);
- the signature holds over every field (``bad signature (tampered?)``): one changed byte,
  anywhere, and it does not;
- it is meant for this kiosk (``meant for <target>, not <me>``): an assignment for one kiosk
  cannot be replayed onto another;
- its sequence is newer than the last one the kiosk accepted (``replayed: sequence N ≤ last
  accepted M``): an old, genuinely signed assignment cannot roll a kiosk back;
- the document is a survey by the kiosk's own rules (``document is not a valid survey: …``),
  with the id and version the assignment names.

``verify`` never raises: any assignment, any keys, any bytes end in a ``Verdict``, accepted or
refused with one of those reasons (the kiosk reports it upstream in a ``SurveyReport``).

**What is signed** (``signed_bytes``): a domain tag, ``b"nabiz-survey-assignment-v1\\0"`` (a
signature made for anything else never verifies as an assignment, and a later format gets its
own tag), then each field as UTF-8 text with a 4-byte big-endian length in front, in this
order: ``v``, ``survey_id``, ``version``, ``rollout``, ``seq``, ``target``, ``issued_at``, and
the document. Length prefixes make the split unambiguous (``("ab", "c")`` and ``("a", "bc")``
sign different bytes). Beyond the fields the brief listed (id, version, rollout, seq, target,
document), ``v`` and ``issued_at`` are signed too, so that *any* single-byte change to an
assignment is refused, not just a change that matters; nobody can make a kiosk display a
forged issue time either. ``key_id`` is not signed: it only picks the key, and a changed one
finds no key or the wrong one, whose check fails. Integers are written in decimal, ``issued_at``
as Python's ``repr`` of the float (the shortest text that reads back as the same double, which
JSON carries exactly).

**The document** is the survey as canonical JSON (``canonical_document``): the parsed TOML as
``msgspec.json.encode(parsed, order="sorted")``, decoded as UTF-8. It travels as a string, and
the bytes signed are that string's UTF-8 bytes, so no re-encoding on the way can change what
was signed. The kiosk checks it with ``kiosk.contract.survey.survey_from_dict``, the very rules
``parse_survey`` applies after reading TOML (the document is JSON, so ``parse_survey``'s TOML
step does not apply; the checks are the same code).

**Size.** An assignment is a payload like any other, at most ``MAX_PAYLOAD_BYTES`` (256 KiB).
A document of at most ``MAX_DOCUMENT_BYTES`` (120 KiB of UTF-8) always fits, whatever its
content; ``document_problem`` says exactly for a given one, so ``fleet survey add`` refuses one
that would not fit instead of a kiosk discovering it.

The payload structs live in ``kiosk.contract.protocol`` beside the other payloads (its channel
table names them; defining them here would make the two modules import each other); they are
re-exported here. This module alone imports ``cryptography``: the protocol stays msgspec and
the standard library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.contract.protocol import (
    MAX_DOCUMENT_BYTES,
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
    ProtocolError,
    SurveyAssignment,
    SurveyReport,
    device_id_problem,
    encode,
)
from kiosk.contract.survey import Survey, SurveyError, survey_from_dict

__all__ = [
    "DOMAIN_TAG",
    "MAX_DOCUMENT_BYTES",
    "KeyTextError",
    "SurveyAssignment",
    "SurveyReport",
    "Verdict",
    "canonical_document",
    "document_problem",
    "key_id",
    "parse_public_key",
    "public_key_text",
    "raw_public_key",
    "sign",
    "signed_bytes",
    "trusted_keys",
    "verify",
]

DOMAIN_TAG = b"nabiz-survey-assignment-v1\0"
KEY_PREFIX = "ed25519:"
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
#: The assignment around the largest document: every other field at its widest. A document
#: fits when its JSON string plus this is at most MAX_PAYLOAD_BYTES.
_WIDEST = SurveyAssignment(
    v=PROTOCOL_VERSION, rollout=2**63 - 1, seq=2**63 - 1, survey_id="s" * 64, version=2**31 - 1, target="t" * 64,
    document="", key_id="k" * 16, signature="s" * 88, issued_at=4_102_444_799.999999,
)
_ENVELOPE_BYTES = len(encode(_WIDEST))


class KeyTextError(ValueError):
    """A public key written wrongly (in a config file, on a command line); the message says how to write it."""


# --- keys --------------------------------------------------------------------------------------


def raw_public_key(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of *key*'s public half (RFC 8032's encoding)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes_raw()


def key_id(public_key_bytes: bytes) -> str:
    """A short fingerprint of a public key: the first 16 hex digits of SHA-256 of its 32 raw bytes.

    It names the key in an assignment and in logs; it is not a secret and not a check (the
    signature is): two keys sharing one would only mean the kiosk tries the wrong one and refuses."""
    return hashlib.sha256(public_key_bytes).hexdigest()[:16]


def public_key_text(raw32: bytes) -> str:
    """``ed25519:<base64 of the 32 raw bytes>``: how a kiosk config lists a trusted key."""
    if len(raw32) != PUBLIC_KEY_BYTES:
        raise KeyTextError(f"an Ed25519 public key is {PUBLIC_KEY_BYTES} bytes, not {len(raw32)}")
    return KEY_PREFIX + base64.b64encode(raw32).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """The key ``public_key_text`` wrote; KeyTextError says what is wrong and how to write it."""
    example = "ed25519:" + "A" * 43 + "="
    fix = f"write it as `fleet survey keygen` printed it: {example[:20]}… (\"ed25519:\" and 44 base64 characters)"
    if not isinstance(text, str):
        raise KeyTextError(f"a public key must be text, not {type(text).__name__}\n  fix: {fix}")
    stripped = text.strip()
    if not stripped.startswith(KEY_PREFIX):
        shown = stripped[:24] + ("…" if len(stripped) > 24 else "")
        raise KeyTextError(f"public key {shown!r} does not start with {KEY_PREFIX!r} (only Ed25519 keys are trusted)\n  fix: {fix}")
    body = stripped.removeprefix(KEY_PREFIX)
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise KeyTextError(f"public key {stripped[:60]!r} is not valid base64 after {KEY_PREFIX!r}\n  fix: {fix}") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise KeyTextError(f"public key {stripped[:60]!r} holds {len(raw)} bytes; an Ed25519 public key has {PUBLIC_KEY_BYTES}\n  fix: {fix}")
    return Ed25519PublicKey.from_public_bytes(raw)


def trusted_keys(texts: Iterable[str]) -> dict[str, Ed25519PublicKey]:
    """key id → key, for each ``ed25519:…`` text (a kiosk's ``[survey] trusted_keys``).
    KeyTextError names the first bad one by its place in the list (counting from 1)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for number, text in enumerate(texts, start=1):
        try:
            key = parse_public_key(text)
        except KeyTextError as exc:
            raise KeyTextError(f"trusted key {number}: {exc}") from None
        keys[key_id(raw_public_key(key))] = key
    return keys


# --- what is signed --------------------------------------------------------------------------


def canonical_document(document: dict) -> str:
    """The survey *document* (a parsed TOML file) as the one text that is signed and sent:
    JSON with keys sorted, no spaces, UTF-8 as it is. The same survey always gives the same text."""
    return msgspec.json.encode(document, order="sorted").decode("utf-8")


def _field(text: str) -> bytes:
    data = text.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def signed_bytes(
    survey_id: str, version: int, rollout: int, seq: int, target: str, document: str, *, issued_at: float, v: int = PROTOCOL_VERSION
) -> bytes:
    """The bytes head office signs for one assignment (the module's docstring says why each is there).

    *issued_at* and *v* are keyword-only: they were added to the brief's field list (so that no
    byte of an assignment can change unnoticed), and a caller written to the brief's six
    arguments fails at once instead of signing something a kiosk would refuse."""
    fields = (str(int(v)), survey_id, str(int(version)), str(int(rollout)), str(int(seq)), target, repr(float(issued_at)), document)
    return DOMAIN_TAG + b"".join(_field(text) for text in fields)


def assignment_signed_bytes(assignment: SurveyAssignment) -> bytes:
    """``signed_bytes`` of the fields *assignment* carries."""
    a = assignment
    return signed_bytes(a.survey_id, a.version, a.rollout, a.seq, a.target, a.document, issued_at=a.issued_at, v=a.v)


def document_problem(document: str) -> str | None:
    """Why an assignment carrying *document* would be over the payload limit, or None if it fits.
    ``fleet survey add`` asks this, so a survey too large to push is refused there."""
    size = len(msgspec.json.encode(document)) + _ENVELOPE_BYTES
    if size <= MAX_PAYLOAD_BYTES:
        return None
    return (
        f"the survey is too large to push: its assignment would be {size:,} bytes, over the {MAX_PAYLOAD_BYTES:,}-byte payload limit"
        f" (documents up to {MAX_DOCUMENT_BYTES:,} bytes always fit); shorten its texts or split it into two surveys"
    )


def sign(
    private_key: Ed25519PrivateKey, *, survey_id: str, version: int, rollout: int, seq: int, target: str, document: str, issued_at: float
) -> SurveyAssignment:
    """An assignment of *document* to the kiosk *target*, signed with *private_key*.

    Raises ValueError for what no kiosk could take anyway (a bad device id, a document over the
    payload limit, a rollout or sequence below 1); whether the document is a good survey is for
    the caller to check first (``survey_from_dict``), as ``verify`` will."""
    problem = device_id_problem(target)
    if problem:
        raise ValueError(problem)
    if rollout < 1 or seq < 1:
        raise ValueError(f"rollout ({rollout}) and seq ({seq}) start at 1")
    problem = document_problem(document)
    if problem:
        raise ValueError(problem)
    signature = private_key.sign(signed_bytes(survey_id, version, rollout, seq, target, document, issued_at=issued_at))
    return SurveyAssignment(
        v=PROTOCOL_VERSION, rollout=rollout, seq=seq, survey_id=survey_id, version=version, target=target, document=document,
        key_id=key_id(raw_public_key(private_key)), signature=base64.b64encode(signature).decode("ascii"), issued_at=float(issued_at),
    )


# --- believing it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` decided: accepted (with the survey, ready for the flow) or refused, and why."""

    accepted: bool
    reason: str = ""  # "" when accepted
    survey: Survey | None = None

    @classmethod
    def refuse(cls, reason: str) -> Verdict:
        return cls(accepted=False, reason=reason)


def verify(assignment: SurveyAssignment, trusted_keys: Mapping[str, Ed25519PublicKey], device_id: str, last_seq: int) -> Verdict:
    """Whether kiosk *device_id*, whose last accepted assignment had sequence *last_seq* (0 for
    none), may take *assignment*: signed by one of *trusted_keys* (key id → key), intact, meant
    for it, newer, and a valid survey. Never raises (a refusal carries the reason).

    The checks run in that order: nothing about a document is looked at before its signature
    holds, so a forger learns nothing but "bad signature". The same assignment seen again (its
    retained copy at every reconnect) is refused here as replayed: a kiosk compares it with the
    one it holds before asking (``kiosk survey`` state), and at start re-verifies the one it
    saved with ``last_seq = seq - 1``."""
    try:
        return _verify(assignment, trusted_keys, device_id, last_seq)
    except Exception as exc:  # noqa: BLE001 - verify never raises: anything unforeseen is a refusal, with what it was
        return Verdict.refuse(f"cannot check the assignment: {type(exc).__name__}: {exc}"[:300])


def _verify(assignment: SurveyAssignment, keys: Mapping[str, Ed25519PublicKey], device_id: str, last_seq: int) -> Verdict:
    if not assignment.signature or not assignment.key_id:
        return Verdict.refuse("unsigned")
    key = keys.get(assignment.key_id)
    if key is None:
        return Verdict.refuse(f"unknown key {assignment.key_id[:64]}")
    try:
        signature = base64.b64decode(assignment.signature, validate=True)
    except (binascii.Error, ValueError):
        return Verdict.refuse("bad signature (tampered?)")
    if len(signature) != SIGNATURE_BYTES:
        return Verdict.refuse("bad signature (tampered?)")
    try:
        key.verify(signature, assignment_signed_bytes(assignment))
    except (InvalidSignature, UnicodeEncodeError):  # a lone surrogate: text no signer could have encoded
        return Verdict.refuse("bad signature (tampered?)")
    if assignment.target != device_id:
        return Verdict.refuse(f"meant for {assignment.target}, not {device_id}")
    if assignment.seq <= last_seq:
        return Verdict.refuse(f"replayed: sequence {assignment.seq} ≤ last accepted {last_seq}")
    try:
        survey = _survey_of(assignment)
    except (SurveyError, ProtocolError) as exc:
        return Verdict.refuse(f"document is not a valid survey: {exc}")
    return Verdict(accepted=True, survey=survey)


_document_decoder = msgspec.json.Decoder(dict)


def _survey_of(assignment: SurveyAssignment) -> Survey:
    source = f"survey {assignment.survey_id} version {assignment.version}"
    try:
        document = _document_decoder.decode(assignment.document.encode("utf-8"))
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise ProtocolError(f"not a JSON object: {exc}") from None
    survey = survey_from_dict(document, source)
    if (survey.id, survey.version) != (assignment.survey_id, assignment.version):
        raise ProtocolError(f"it is survey {survey.id} version {survey.version}, but the assignment names {assignment.survey_id} version {assignment.version}")
    return survey
