"""``[survey] min_seq``: what ``fleet device add`` / ``credentials`` write so that a freshly imaged
kiosk (nothing saved) refuses an older assignment genuinely signed for it, and still takes the one
the fleet retains for it."""

from __future__ import annotations

from fleet import devices
from fleet.surveys import rollouts, versions
from fleet.surveys.tables import Assignment
from kiosk import survey_push as push
from kiosk.config import load_config
from kiosk.contract.assignment import trusted_keys
from kiosk.contract.protocol import decode
from tests.fleet.surveys.conftest import survey_file


def test_the_floor_is_below_the_retained_and_waiting_assignments_and_a_fresh_kiosk_refuses_older_ones(store, tmp_path, signing_key):
    for n in range(3):
        devices.add_device(f"kiosk-{n}", "Ankara")
    versions.add(survey_file(tmp_path, 3, "Görüşünüz bizim için değerli"))
    versions.add(survey_file(tmp_path, 4))
    first = rollouts.push(rollouts.PushRequest("exit-default", 3, rollouts.parse_target("all")), signing_key)
    Assignment.update(published_at=1.0).execute()
    second = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all")), signing_key)
    Assignment.update(published_at=2.0).where(Assignment.published_at.is_null()).execute()
    old, retained = rollouts.payloads(first.rollout, ["kiosk-0"])["kiosk-0"], rollouts.payloads(second.rollout, ["kiosk-0"])["kiosk-0"]
    floor = rollouts.replay_floor("kiosk-0")
    assert floor == decode("survey", retained.encode()).seq - 1 == 3

    # What a freshly imaged kiosk does with the config the fleet writes now.
    path = tmp_path / "kiosk-0.kiosk.toml"
    path.write_text(devices.kiosk_config("kiosk-0", "Ankara", "mqtt://127.0.0.1:1883", "pw", trusted_keys=[signing_key.public_text], min_seq=floor), encoding="utf-8")
    config = load_config(path)
    assert config.survey_min_seq == 3
    keys = trusted_keys(config.trusted_keys)
    refused = push.consider(old.encode(), None, keys, "kiosk-0", frozenset({1, 2, 3, 4}), min_seq=config.survey_min_seq)
    assert isinstance(refused, push.Refuse) and refused.reason == "replayed: sequence 1 ≤ 3, the lowest this kiosk's config accepts ([survey] min_seq)"
    assert isinstance(push.consider(old.encode(), None, keys, "kiosk-0", frozenset({1, 2, 3, 4})), push.Accept), "without the floor the replay would be taken"
    assert isinstance(push.consider(retained.encode(), None, keys, "kiosk-0", frozenset({1, 2, 3, 4}), min_seq=floor), push.Accept)

    # A rollout not sent yet: the floor stays below it; once sent, it rises to just below it.
    third = rollouts.push(rollouts.PushRequest("exit-default", 3, rollouts.parse_target("device:kiosk-0"), kind="rollback"), signing_key)
    assert rollouts.replay_floor("kiosk-0") == 3
    Assignment.update(published_at=3.0).where(Assignment.rollout == third.rollout.id).execute()
    assert rollouts.replay_floor("kiosk-0") == list(third.seqs)[0] - 1 == 6
    # A device with no assignment: everything issued so far is below it.
    devices.add_device("kiosk-new", "Ankara")
    assert rollouts.replay_floor("kiosk-new") == 7
