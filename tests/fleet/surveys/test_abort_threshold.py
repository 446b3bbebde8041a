"""``--abort-if-failed`` without ``--min-devices``: one kiosk alone (a stolen one) cannot stop a fleet's rollout.

A kiosk can report only on its own assignment, so a stolen one can refuse one survey per rollout.
Judged from the first device to finish (the old default, 1), that one refusal was 100 % and
stopped the rollout everywhere."""

from __future__ import annotations

import pytest

from fleet import devices
from fleet.surveys import rollouts, versions
from fleet.surveys.planner import DeviceState, plan
from tests.fleet.surveys.conftest import survey_file


@pytest.mark.parametrize(("targets", "judged_from"), [(1, 1), (3, 3), (5, 5), (20, 5), (500, 5), (1000, 10), (5000, 50)])
def test_the_default_is_max_5_and_1_percent_never_more_than_the_targets(targets, judged_from):
    assert rollouts.default_min_devices(targets) == judged_from


def test_one_refusing_kiosk_does_not_stop_a_rollout_to_twenty(store, tmp_path, signing_key):
    ids = [f"kiosk-{n:02d}" for n in range(20)]
    for device_id in ids:
        devices.add_device(device_id, "Ankara")
    versions.add(survey_file(tmp_path, 4))
    pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all"), abort_failed_pct=20.0), signing_key)
    assert pushed.rollout.abort_min_devices == 5
    policy = rollouts.policy_of(pushed.rollout)
    states = [DeviceState(d, n, "pending", 1.0) for n, d in enumerate(ids)]
    states[0] = DeviceState(ids[0], 0, "refused", 1.0)  # the stolen kiosk answers first
    assert plan(policy, states, now=2.0).abort is None
    for n in range(1, 4):  # three more finish well: 1 of 4 refused, still not judged
        states[n] = DeviceState(ids[n], n, "applied", 1.0)
    assert plan(policy, states, now=2.0).abort is None
    states[4] = DeviceState(ids[4], 4, "applied", 1.0)  # judged from 5: 1 of 5 = 20 % ≥ 20 %, the operator's own choice
    assert "judged from 5 devices" in (plan(policy, states, now=2.0).abort or "")


def test_an_explicit_min_devices_is_kept(store, tmp_path, signing_key):
    for n in range(3):
        devices.add_device(f"kiosk-{n}", "Ankara")
    versions.add(survey_file(tmp_path, 4))
    pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all"), abort_failed_pct=50.0, abort_min_devices=1), signing_key)
    assert pushed.rollout.abort_min_devices == 1
