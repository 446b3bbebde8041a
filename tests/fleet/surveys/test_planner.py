"""The rollout planner, pure: tables for the cases people ask about, properties for the rest."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.surveys.planner import RANK, DeviceState, Policy, advance, plan, wave_sizes

STATES = list(RANK)


def fleet(n: int, **changes: str) -> list[DeviceState]:
    return [DeviceState(f"k{i:03d}", i, changes.get(f"k{i:03d}", "pending")) for i in range(n)]


def sent(devices: list[DeviceState], ids, at: float = 0.0, status: str | None = None) -> list[DeviceState]:
    ids = set(ids)
    return [DeviceState(d.device_id, d.position, status or d.status, at) if d.device_id in ids else d for d in devices]


def test_everything_at_once_without_rate_or_waves():
    decision = plan(Policy(start_at=100), fleet(5), now=100)
    assert decision.release == ("k000", "k001", "k002", "k003", "k004")
    assert decision.abort is None and not decision.complete


def test_nothing_before_the_start_time():
    decision = plan(Policy(start_at=200), fleet(3), now=150)
    assert decision.release == () and decision.next_at == 200


def test_rate_releases_one_then_n_per_minute():
    policy = Policy(start_at=0, rate_per_min=6)
    assert plan(policy, fleet(20), now=0).release == ("k000",)
    assert len(plan(policy, fleet(20), now=30).release) == 4  # 1 + 6 × 0.5
    assert plan(policy, fleet(20), now=0).next_at == pytest.approx(10)


def test_waves_wait_for_the_wave_before():
    policy = Policy(start_at=0, waves=(10, 50, 100), wave_wait_s=600)
    devices = fleet(20)
    first = plan(policy, devices, now=0)
    assert first.release == ("k000", "k001") and first.wave == 0
    devices = sent(devices, first.release, at=0)
    assert plan(policy, devices, now=10).release == ()  # still pending: wave 1 waits
    devices = sent(devices, first.release, at=0, status="applied")
    second = plan(policy, devices, now=10)
    assert second.wave == 1 and len(second.release) == 8


def test_a_silent_kiosk_holds_a_wave_only_for_the_wait():
    policy = Policy(start_at=0, waves=(10, 100), wave_wait_s=60)
    devices = sent(fleet(10), ["k000"], at=5)
    assert plan(policy, devices, now=30).release == () and plan(policy, devices, now=30).next_at == 65
    assert len(plan(policy, devices, now=65).release) == 9


def test_abort_once_enough_devices_finished_and_too_many_failed():
    policy = Policy(start_at=0, abort_failed_pct=20, abort_min_devices=10)
    devices = sent(fleet(20), [f"k{i:03d}" for i in range(10)], status="refused")
    decision = plan(policy, devices, now=1)
    assert decision.release == () and decision.abort is not None
    assert "10 of 10 devices" in decision.abort and "20 %" in decision.abort
    # Below the minimum of finished devices, no verdict yet.
    few = sent(fleet(20), ["k000", "k001"], status="refused")
    assert plan(policy, few, now=1).abort is None


def test_complete_when_every_device_finished():
    devices = sent(fleet(3), ["k000", "k001", "k002"], status="applied")
    assert plan(Policy(start_at=0), devices, now=1).complete
    devices = sent(fleet(3), ["k000", "k001", "k002"], status="delivered")
    assert not plan(Policy(start_at=0), devices, now=1).complete


@pytest.mark.parametrize(
    ("current", "reported", "becomes"),
    [
        ("pending", "delivered", "delivered"),
        ("pending", "applied", "applied"),
        ("delivered", "applied", "applied"),
        ("delivered", "refused", "refused"),
        ("applied", "delivered", None),  # late
        ("applied", "failed", None),  # final
        ("refused", "applied", None),
        ("delivered", "delivered", None),  # repeated
        ("pending", "cancelled", None),  # only the fleet cancels
        ("pending", "bogus", None),
    ],
)
def test_advance_only_forward(current, reported, becomes):
    assert advance(current, reported) == becomes


@pytest.mark.parametrize(("waves", "total", "sizes"), [((1, 10, 50, 100), 1000, [10, 100, 500, 1000]), ((1, 10, 50, 100), 5, [1, 1, 3, 5]), ((50, 100), 0, [0, 0])])
def test_wave_sizes(waves, total, sizes):
    assert wave_sizes(waves, total) == sizes


# --- properties ---------------------------------------------------------------------------------

device_lists = st.lists(st.tuples(st.sampled_from(STATES), st.one_of(st.none(), st.floats(0, 1000))), max_size=40).map(
    lambda rows: [DeviceState(f"k{i:03d}", i, status, at) for i, (status, at) in enumerate(rows)]
)
policies = st.builds(
    Policy,
    start_at=st.floats(0, 1000),
    rate_per_min=st.one_of(st.none(), st.integers(1, 1000)),
    waves=st.one_of(st.none(), st.lists(st.floats(1, 100), min_size=1, max_size=5).map(lambda w: tuple(sorted(w)) + (100.0,))),
    wave_wait_s=st.floats(0, 1000),
    abort_failed_pct=st.one_of(st.none(), st.floats(0, 100)),
    abort_min_devices=st.integers(1, 50),
)


@settings(max_examples=400, deadline=None)
@given(policies, device_lists, st.floats(0, 3000))
def test_releases_only_waiting_devices_in_order_and_never_when_aborting(policy, devices, now):
    decision = plan(policy, devices, now)
    waiting = [d.device_id for d in devices if d.published_at is None and d.status == "pending"]
    assert set(decision.release) <= set(waiting)
    assert list(decision.release) == [d for d in waiting if d in decision.release]  # position order
    if decision.abort or now < policy.start_at or decision.complete:
        assert decision.release == ()
    if policy.rate_per_min:
        released = sum(d.published_at is not None for d in devices) + len(decision.release)
        assert len(decision.release) == 0 or released <= max(1 + policy.rate_per_min * (now - policy.start_at) / 60 + 1e-6, sum(d.published_at is not None for d in devices))


@settings(max_examples=200, deadline=None)
@given(policies.filter(lambda p: p.abort_failed_pct is None), st.integers(0, 60), st.sampled_from(["applied", "delivered", "pending"]))
def test_every_device_is_released_exactly_once_in_the_end(policy, count, reaction):
    """Run the planner as the service does: whatever devices do (apply, stay delivered, stay
    silent), every device is sent once and only once, and the rollout does not stall."""
    devices = fleet(count)
    now, sends = policy.start_at, {}
    for _ in range(10 * count + 20):
        decision = plan(policy, devices, now)
        for device_id in decision.release:
            assert device_id not in sends
            sends[device_id] = now
        devices = sent(devices, decision.release, at=now, status=reaction if decision.release else None) if decision.release else devices
        if len(sends) == count:
            break
        now = decision.next_at if decision.next_at is not None and decision.next_at > now else now + 1
    assert len(sends) == count


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(STATES), st.sampled_from(STATES))
def test_advance_never_moves_back_or_out_of_a_final_state(current, reported):
    after = advance(current, reported)
    if after is not None:
        assert RANK[after] > RANK[current] and RANK[current] < 2
