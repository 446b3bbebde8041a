"""Fuzzing ingest on the real store (SQLite and PostgreSQL): whatever a logged-in kiosk
publishes, ``Ingest.process`` stores the good messages beside it and never raises, and every
Ack it builds is one the kiosk accepts.

The decoders alone are fuzzed in tests/kiosk/test_protocol_fuzz.py; here the whole path runs,
so what the protocol lets through and a store refuses (a NUL in PostgreSQL text, a number its
column cannot hold) is found too. Strategies: tests/fuzzing.py; a long run: ``make fuzz``.
"""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from fleet import devices
from fleet.ingest import Ingest, Received
from fleet.store import StoredResponse
from kiosk.contract.protocol import Ack, decode, encode, split_ack
from tests.fuzzing import fuzz_settings, payloads, topics
from tests.protocol_factories import response, upload

NOW = 1_790_000_100.0

channels = st.sampled_from(["responses", "responses", "status", "health", "ack"])
messages = st.one_of(
    channels.flatmap(lambda channel: payloads(channel, "kiosk-1").map(lambda payload: (f"nabiz/kiosk-1/{channel}", payload))),
    st.tuples(topics(), payloads("responses")),
)


def test_no_message_makes_ingest_raise(store):
    devices.add_device("kiosk-1", "İzmir Alsancak", now=NOW - 1000)
    devices.add_device("kiosk-2", "Ankara Çankaya", now=NOW - 1000)
    ingest = Ingest(clock=lambda: NOW)
    seen = {"stored": 0, "refused": 0, "rejected": 0}

    @fuzz_settings(100)
    @given(st.lists(messages, min_size=1, max_size=4))
    def fuzz(batch):
        good = response(device_id="kiosk-2", uuid=str(uuid.uuid4()))
        received = [Received(topic, payload, NOW) for topic, payload in batch]
        received.append(Received("nabiz/kiosk-2/responses", upload([good], v=2, device_id="kiosk-2"), NOW))
        outcome = ingest.process(received)
        assert good["uuid"] in outcome.acks["kiosk-2"].stored, "what others send never holds a good answer back"
        assert StoredResponse.select().where(StoredResponse.uuid == good["uuid"]).count() == 1
        for ack in outcome.acks.values():
            for part in split_ack(ack):
                assert isinstance(decode("ack", encode(part)), Ack), "an Ack the kiosk refuses would make it resend forever"
        seen["stored"] += outcome.stored - 1
        seen["refused"] += outcome.refused
        seen["rejected"] += outcome.rejected

    fuzz()
    assert all(seen.values()), f"the fuzzer must reach storing, refusing and rejecting: {seen}"
