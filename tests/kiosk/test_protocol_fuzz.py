"""Fuzzing every decoder of untrusted input: accepted, or refused with a reason, never anything else.

The fleet runs these on whatever a logged-in kiosk publishes; a kiosk runs the Ack decoder on
what arrives on its ack topic. An exception other than ProtocolError here once let one 2 KB
message stop ``fleet serve`` for good (issue 7). Strategies: ``tests/fuzzing.py``; a long
random run: ``make fuzz``.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.contract import assignment as a
from kiosk.contract import protocol as p
from tests.fuzzing import TRUSTED_KEYS, fuzz_settings, payloads, survey_assignments, topics


def refused_or_accepted(decoder, payload):
    """The decoder's result, or None if it refused with a reason; any other exception fails the test."""
    try:
        return decoder(payload)
    except p.ProtocolError as exc:
        assert str(exc).strip(), "a refusal says why"
        return None


@fuzz_settings(300)
@given(topics())
def test_topic_parsing(name):
    where = refused_or_accepted(p.parse_topic, name)
    if where is not None:
        assert p.topic(where.device_id, where.channel) == name


@pytest.mark.parametrize("channel", ["status", "health", "ack", "survey", "survey_report"])
@fuzz_settings(120)
@given(data=st.data())
def test_whole_message_decoders(channel, data):
    payload = data.draw(payloads(channel))
    message = refused_or_accepted(lambda raw: p.decode(channel, raw), payload)
    if message is not None:
        assert message.v in p.ACCEPTED_VERSIONS
        assert p.decode(channel, p.encode(message)) == message, "what was accepted survives being sent on"


def test_upload_decoder_and_the_ack_it_leads_to():
    outcomes: set[str] = set()

    @fuzz_settings(250)
    @given(payloads("responses"))
    def fuzz(payload):
        checked = refused_or_accepted(p.decode_upload, payload)
        if checked is None:
            with pytest.raises(p.ProtocolError) as refused:
                p.decode_upload(payload)
            outcomes.add(str(refused.value).split(":")[0])
            return
        upload = checked.upload
        assert upload.v in p.ACCEPTED_VERSIONS
        for response in upload.responses:
            assert p.response_problem(response, upload.device_id, upload.v) is None
        outcomes.add("stored and refused" if upload.responses and checked.refused else "accepted")
        # The Ack the fleet sends for it must be one the kiosk accepts, or the kiosk resends forever.
        ack = p.Ack(v=upload.v, stored=[r.uuid for r in upload.responses], refused=checked.refused, at=1_790_000_000.0)
        for part in p.split_ack(ack):
            assert p.decode("ack", p.encode(part)) == part

    fuzz()
    # The strategies are worth running: they get past the first checks and into each corner.
    corners = {"accepted", "stored and refused", "not JSON", "invalid responses payload", p.NESTED_TOO_DEEP}
    assert corners <= outcomes, f"the fuzzer never reached {corners - outcomes}"


def test_a_kiosk_believes_only_assignments_signed_for_it():
    """What arrives on a kiosk's survey topic goes through the decoder, then ``verify``: neither
    raises, whatever the bytes, and what is accepted is exactly what head office signed for it."""
    outcomes: set[str] = set()

    intact = survey_assignments("kiosk-1").map(lambda body: json.dumps(body).encode())  # so that each check is reached, not only the decoder's

    @fuzz_settings(250)
    @given(st.one_of(payloads("survey", "kiosk-1"), intact), st.one_of(st.just(0), st.just(2**63 - 1), st.integers(0, 2**63 - 1)))
    def fuzz(payload, last_seq):
        assignment = refused_or_accepted(lambda raw: p.decode("survey", raw), payload)
        if assignment is None:
            outcomes.add("not an assignment")
            return
        verdict = a.verify(assignment, TRUSTED_KEYS, "kiosk-1", last_seq)
        assert verdict.reason or verdict.accepted
        if not verdict.accepted:
            outcomes.add(verdict.reason.split(" ")[0].rstrip(":"))
            return
        outcomes.add("accepted")
        assert assignment.target == "kiosk-1" and assignment.seq > last_seq
        assert (verdict.survey.id, verdict.survey.version) == (assignment.survey_id, assignment.version)
        signature = base64.b64decode(assignment.signature)
        TRUSTED_KEYS[assignment.key_id].verify(signature, a.assignment_signed_bytes(assignment))  # raises if not genuine

    fuzz()
    corners = {"accepted", "not an assignment", "unsigned", "unknown", "bad", "replayed"}
    assert corners <= outcomes, f"the fuzzer never reached {corners - outcomes}"
