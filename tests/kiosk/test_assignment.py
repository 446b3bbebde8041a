"""Signed survey assignments (kiosk/contract/assignment.py): a kiosk takes a document only as
head office signed it, for itself, newer than the last one, and a valid survey; anything else is
refused with the reason, and ``verify`` never raises.

Keys are made here with ``cryptography`` directly, as ``fleet survey keygen`` makes them.
"""

from __future__ import annotations

import base64
import tomllib

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from kiosk.contract import assignment as a
from kiosk.contract import protocol as p
from kiosk.contract.survey import DEFAULT_SURVEY_PATH
from tests.fuzzing import fuzz_settings

ISSUED = 1_790_000_000.25
HEAD_OFFICE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NEXT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
STRANGER = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
DEFAULT = tomllib.loads(DEFAULT_SURVEY_PATH.read_text(encoding="utf-8"))


def text_of(key: Ed25519PrivateKey) -> str:
    return a.public_key_text(a.raw_public_key(key))


TRUSTED = a.trusted_keys([text_of(HEAD_OFFICE), text_of(NEXT_KEY)])


def document(**changes) -> str:
    return a.canonical_document(DEFAULT | changes)


def assignment(key: Ed25519PrivateKey = HEAD_OFFICE, **changes) -> p.SurveyAssignment:
    fields = {"survey_id": DEFAULT["id"], "version": DEFAULT["version"], "rollout": 3, "seq": 7, "target": "kiosk-1", "document": document(), "issued_at": ISSUED}
    return a.sign(key, **(fields | changes))


def verdict(given_assignment: p.SurveyAssignment, device: str = "kiosk-1", last_seq: int = 0) -> a.Verdict:
    return a.verify(given_assignment, TRUSTED, device, last_seq)


# --- the good path ------------------------------------------------------------------------------


def test_a_signed_assignment_travels_and_is_accepted_with_its_survey():
    signed = assignment()
    received = p.decode("survey", p.encode(signed))
    assert received == signed
    result = verdict(received)
    assert result.accepted and result.reason == ""
    assert (result.survey.id, result.survey.version) == (DEFAULT["id"], DEFAULT["version"])
    assert result.survey.welcome["tr"] == DEFAULT["welcome"]["tr"], "Turkish text survives signing and the wire"
    assert signed.key_id == a.key_id(a.raw_public_key(HEAD_OFFICE)) and len(signed.key_id) == 16
    assert len(base64.b64decode(signed.signature)) == 64


def test_either_of_two_trusted_keys_will_do_so_a_key_can_be_rotated():
    assert verdict(assignment(NEXT_KEY)).accepted
    assert a.verify(assignment(NEXT_KEY), a.trusted_keys([text_of(HEAD_OFFICE)]), "kiosk-1", 0).reason == f"unknown key {a.key_id(a.raw_public_key(NEXT_KEY))}"


def test_the_canonical_document_is_one_text_for_one_survey():
    shuffled = dict(reversed(list(DEFAULT.items())))
    assert a.canonical_document(shuffled) == a.canonical_document(DEFAULT) == document()
    assert document().startswith('{"burst_presses":4,"burst_window_seconds":2,'), "keys sorted, no spaces"
    assert DEFAULT["welcome"]["tr"] in document(), "Turkish as UTF-8, not \\u escapes"


def test_signed_bytes_are_the_documented_layout():
    """The byte layout is the contract the fleet signs to: a domain tag, then each field with a
    4-byte big-endian length (docstring of kiosk/contract/assignment.py)."""
    got = a.signed_bytes("exit", 2, 3, 4, "kiosk-1", '{"x":"ş"}', issued_at=1.5, v=2)
    want = b"nabiz-survey-assignment-v1\0" + b"".join(
        len(f).to_bytes(4, "big") + f for f in (b"2", b"exit", b"2", b"3", b"4", b"kiosk-1", b"1.5", '{"x":"ş"}'.encode())
    )
    assert got == want
    # Length prefixes: moving a character from one field to the next changes what is signed.
    assert a.signed_bytes("ab", 1, 1, 1, "c", "d", issued_at=0.0) != a.signed_bytes("a", 1, 1, 1, "bc", "d", issued_at=0.0)


# --- refused, with the reason -------------------------------------------------------------------


def test_unsigned_is_refused():
    bare = msgspec.structs.replace(assignment(), signature="", key_id="")
    assert verdict(bare).reason == "unsigned"
    assert verdict(msgspec.structs.replace(assignment(), signature="")).reason == "unsigned"


def test_a_key_the_kiosk_does_not_trust_is_refused_by_its_id():
    forged = assignment(STRANGER)
    assert verdict(forged) == a.Verdict(accepted=False, reason=f"unknown key {a.key_id(a.raw_public_key(STRANGER))}")


def test_signed_by_a_stranger_under_a_trusted_key_id_is_a_bad_signature():
    forged = msgspec.structs.replace(assignment(STRANGER), key_id=assignment().key_id)
    assert verdict(forged).reason == "bad signature (tampered?)"


def flip(text: str, at: int) -> str:
    """*text* with the character at *at* changed to another one of the same kind."""
    ch = text[at]
    other = "A" if ch != "A" else "B"
    return text[:at] + other + text[at + 1 :]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: {"document": s.document.replace("Ziyaretiniz", "Ziyaretinız", 1)}, id="document-one-character"),
        pytest.param(lambda s: {"document": s.document.replace('"id":"exit-default"', '"id":"exit-default" ')}, id="document-one-space"),
        pytest.param(lambda s: {"signature": flip(s.signature, 10)}, id="signature"),
        pytest.param(lambda s: {"signature": s.signature[:-4] + "AAA="}, id="signature-end"),
        pytest.param(lambda s: {"signature": "!" + s.signature[1:]}, id="signature-not-base64"),
        pytest.param(lambda s: {"signature": base64.b64encode(base64.b64decode(s.signature)[:63]).decode()}, id="signature-short"),
        pytest.param(lambda s: {"survey_id": "exit-defaulu"}, id="survey_id"),
        pytest.param(lambda s: {"version": s.version + 1}, id="version"),
        pytest.param(lambda s: {"rollout": s.rollout + 1}, id="rollout"),
        pytest.param(lambda s: {"seq": s.seq + 1}, id="seq"),
        pytest.param(lambda s: {"target": "kiosk-2"}, id="target"),
        pytest.param(lambda s: {"issued_at": s.issued_at + 1}, id="issued_at"),
        pytest.param(lambda s: {"v": 1}, id="v"),
    ],
)
def test_any_changed_field_is_a_bad_signature(change):
    signed = assignment()
    tampered = msgspec.structs.replace(signed, **change(signed))
    assert tampered != signed, "the change changed something"
    # Verified by the device it now names: a retargeted document fails on its signature.
    assert a.verify(tampered, TRUSTED, tampered.target, 0).reason == "bad signature (tampered?)"


def test_a_changed_key_id_finds_no_key():
    signed = assignment()
    assert verdict(msgspec.structs.replace(signed, key_id=flip(signed.key_id, 0))).reason.startswith("unknown key ")


def test_meant_for_another_kiosk_is_refused():
    theirs = assignment(target="kiosk-2")
    assert verdict(theirs, device="kiosk-1").reason == "meant for kiosk-2, not kiosk-1"
    assert verdict(theirs, device="kiosk-2").accepted


@pytest.mark.parametrize("seq, last", [(7, 7), (7, 8), (1, 2**40)])
def test_an_older_or_the_same_sequence_is_a_replay(seq, last):
    assert verdict(assignment(seq=seq), last_seq=last).reason == f"replayed: sequence {seq} ≤ last accepted {last}"


def test_a_newer_sequence_after_the_last_is_accepted():
    assert verdict(assignment(seq=8), last_seq=7).accepted


def test_a_signed_document_that_is_not_a_valid_survey_is_refused_with_the_survey_rules_reason():
    broken = DEFAULT | {"questions": []}
    refused = verdict(assignment(document=a.canonical_document(broken)))
    assert refused.reason.startswith("document is not a valid survey: ") and "the survey has no questions" in refused.reason
    assert verdict(assignment(document="[1, 2]")).reason.startswith("document is not a valid survey: not a JSON object")
    assert verdict(assignment(document="")).reason.startswith("document is not a valid survey: not a JSON object")


def test_the_document_must_be_the_survey_and_version_the_assignment_names():
    refused = verdict(assignment(version=DEFAULT["version"] + 1))
    assert refused.reason == f"document is not a valid survey: it is survey exit-default version {DEFAULT['version']}, but the assignment names exit-default version {DEFAULT['version'] + 1}"


# --- every single-byte change to what travels is refused ----------------------------------------


def outcome(payload: bytes, original: p.SurveyAssignment) -> str:
    """"refused" (by the decoder or by verify), "same" (another spelling of the very same
    assignment: a hex digit's case in a \\u escape), or "ACCEPTED" (a failure of the contract)."""
    try:
        received = p.decode("survey", payload)
    except p.ProtocolError:
        return "refused"
    result = verdict(received)
    if not result.accepted:
        return "refused"
    return "same" if received == original else "ACCEPTED"


def test_flipping_any_one_bit_of_the_payload_is_refused():
    """Every byte of a real assignment, its lowest bit flipped: refused, each one."""
    signed = assignment()
    payload = p.encode(signed)
    results = {outcome(payload[:i] + bytes([payload[i] ^ 1]) + payload[i + 1 :], signed) for i in range(len(payload))}
    assert results == {"refused"}


@fuzz_settings(400)
@given(data=st.data())
def test_any_single_byte_mutation_is_refused(data):
    signed = assignment(document=document(welcome={"tr": "Hoş geldiniz\u0001\n\"İ\"", "en": "Welcome \\ back"}))
    payload = p.encode(signed)
    at = data.draw(st.integers(0, len(payload) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != payload[at]))
    assert outcome(payload[:at] + bytes([byte]) + payload[at + 1 :], signed) in ("refused", "same")


@fuzz_settings(200)
@given(
    st.builds(
        p.SurveyAssignment,
        v=st.integers(0, 3), rollout=st.integers(1, 2**63 - 1), seq=st.integers(1, 2**63 - 1), survey_id=st.text(max_size=70),
        version=st.integers(0, 2**31 - 1), target=st.text(max_size=70), document=st.text(max_size=300) | st.just(document()),
        key_id=st.sampled_from(["", *TRUSTED]) | st.text(max_size=20), signature=st.text(max_size=100) | st.just(assignment().signature),
        issued_at=st.floats(allow_nan=True),
    ),
    st.text(max_size=70),
    st.integers(-(2**70), 2**70),
)
def test_verify_never_raises(anything, device, last_seq):
    result = a.verify(anything, TRUSTED, device, last_seq)
    assert result.accepted is False and result.reason


# --- keys as text -------------------------------------------------------------------------------


def test_a_public_key_reads_back_from_its_text():
    text = text_of(HEAD_OFFICE)
    assert text.startswith("ed25519:") and len(text) == len("ed25519:") + 44
    assert a.raw_public_key(a.parse_public_key(text)) == a.raw_public_key(HEAD_OFFICE)
    assert a.raw_public_key(a.parse_public_key(f"  {text}\n")) == a.raw_public_key(HEAD_OFFICE), "surrounding space from a config file is fine"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "does not start with 'ed25519:'"),
        ("rsa:AAAA", "does not start with 'ed25519:'"),
        ("ed25519:not base64!", "is not valid base64"),
        ("ed25519:" + base64.b64encode(b"x" * 31).decode(), "holds 31 bytes; an Ed25519 public key has 32"),
        (42, "must be text, not int"),
    ],
)
def test_a_badly_written_key_is_a_clear_error_with_the_fix(text, problem):
    with pytest.raises(a.KeyTextError, match="fix: write it as `fleet survey keygen` printed it") as error:
        a.parse_public_key(text)
    assert problem in str(error.value)


def test_a_bad_key_in_a_list_is_named_by_its_place():
    with pytest.raises(a.KeyTextError, match="trusted key 2: public key 'ed25519:xx'"):
        a.trusted_keys([text_of(HEAD_OFFICE), "ed25519:xx"])


def test_key_text_needs_32_bytes():
    with pytest.raises(a.KeyTextError, match="32 bytes, not 31"):
        a.public_key_text(b"x" * 31)


# --- size: refused where it is added, not at the kiosk ------------------------------------------


def test_a_document_of_the_documented_size_always_fits_and_a_larger_one_is_refused_before_signing():
    # The worst case for its size: every byte a quote inside a string, which JSON writes as \" and
    # the assignment then as \\\": four bytes for each.
    worst = a.canonical_document({"t": '"' * ((p.MAX_DOCUMENT_BYTES - 10) // 2)})
    assert len(worst.encode()) <= p.MAX_DOCUMENT_BYTES
    assert a.document_problem(worst) is None
    fitting = assignment(document=worst)
    assert len(p.encode(fitting)) <= p.MAX_PAYLOAD_BYTES
    assert p.decode("survey", p.encode(fitting)) == fitting
    too_big = a.canonical_document({"t": '"' * (p.MAX_PAYLOAD_BYTES // 3)})
    problem = a.document_problem(too_big)
    assert problem is not None and "over the 262,144-byte payload limit" in problem
    with pytest.raises(ValueError, match="too large to push"):
        assignment(document=too_big)


@pytest.mark.parametrize("changes, problem", [({"target": "Kiosk 1"}, "lowercase"), ({"seq": 0}, "start at 1"), ({"rollout": 0}, "start at 1")])
def test_sign_refuses_what_no_kiosk_could_take(changes, problem):
    with pytest.raises(ValueError, match=problem):
        assignment(**changes)


# --- the report ---------------------------------------------------------------------------------


def test_a_report_travels_and_is_strict():
    report = p.SurveyReport(v=2, device_id="kiosk-1", rollout=3, seq=7, survey_id="exit-default", version=2, status="refused", reason="meant for kiosk-2, not kiosk-1", at=ISSUED)
    assert p.decode("survey_report", p.encode(report)) == report
    body = msgspec.json.decode(p.encode(report))
    for changes, where in [({"status": "done"}, "$.status"), ({"reason": "r" * 501}, "$.reason"), ({"seq": -1}, "$.seq"), ({"extra": 1}, "extra"), ({"device_id": "K"}, "$.device_id")]:
        with pytest.raises(p.ProtocolError, match="invalid survey_report payload") as refused:
            p.decode("survey_report", msgspec.json.encode(body | changes))
        assert where in str(refused.value)


def test_health_from_a_kiosk_before_survey_push_still_reads():
    old = {
        "v": 2, "device_id": "kiosk-1", "sent": {"wall": ISSUED, "monotonic": 1.0, "clock_synced": True, "boot_id": "b"}, "software": "nabiz/0.2",
        "survey_id": "exit-default", "survey_version": 1, "backlog": 0, "oldest_unsent_age_s": None, "unsaved": 0, "refused": 0,
        "disk_free_bytes": 1, "cpu_temp_c": None, "uptime_s": 1.0,
    }
    health = p.decode("health", msgspec.json.encode(old))
    assert (health.survey_source, health.survey_verified) == ("default", False)
    pushed = p.decode("health", msgspec.json.encode(old | {"survey_source": "pushed", "survey_verified": True}))
    assert (pushed.survey_source, pushed.survey_verified) == ("pushed", True)
    with pytest.raises(p.ProtocolError, match="survey_source"):
        p.decode("health", msgspec.json.encode(old | {"survey_source": "usb"}))
