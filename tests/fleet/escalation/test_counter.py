"""The window counter is pure: its per-second tallies must count exactly what a brute-force
count over the same rows gives, whatever order and batches the rows come in, read again or not."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.escalation.counter import CountedRow, WindowCounter
from tests.escalation_helpers import NOW

HORIZON = 900
SITES = {"kiosk-1": "kadikoy", "kiosk-2": "kadikoy", "kiosk-3": "airport"}


def brute_force(rows, scope, since, now):
    """The definition: a row is in [since, now] when its whole second is."""
    inside = [r for r in rows if math.floor(since) <= math.floor(r.occurred_at) <= math.floor(now) and scope in (f"site:{r.site}", f"device:{r.device_id}")]
    return len(inside), sum(r.negative for r in inside)


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(sorted(SITES)),
        # old backlog rows far outside any window, rows on the window's edges, rows a little in the future
        st.one_of(st.floats(NOW - 3 * HORIZON, NOW + 5, allow_nan=False), st.integers(-HORIZON - 2, 2).map(lambda d: NOW + d), st.just(NOW - HORIZON - 0.5)),
        st.booleans(),
    ),
    max_size=60,
).map(lambda items: [CountedRow(number + 1, SITES[device], device, at, negative) for number, (device, at, negative) in enumerate(items)])


@st.composite
def schedules(draw):
    """Rows, and the steps that deliver them: batches in any order, some rows again (a re-read),
    the clock moving forward, settles that only promise what is true (every id up to the floor
    was delivered), old tallies forgotten."""
    rows = draw(rows_strategy)
    order = draw(st.permutations(rows))
    steps, now, at = [], NOW - HORIZON, 0
    while at < len(order):
        size = draw(st.integers(1, 8))
        batch = list(order[at : at + size])
        delivered = order[: at + size]
        batch += draw(st.lists(st.sampled_from(delivered), max_size=3))  # read again
        at += size
        now += draw(st.one_of(st.floats(0, 3, allow_nan=False), st.floats(0, HORIZON / 2, allow_nan=False)))  # a window slides or jumps
        steps.append(("apply", batch, now))
        if draw(st.booleans()):
            steps.append(("settle", None, now))
        if draw(st.booleans()):  # old tallies forgotten, later than the last count
            now += draw(st.floats(0, HORIZON / 2, allow_nan=False))
            steps.append(("forget", None, now))
    return rows, steps


def delivered_floor(delivered_ids: set[int]) -> int:
    floor = 0
    while floor + 1 in delivered_ids:
        floor += 1
    return floor


@settings(max_examples=400, deadline=None)
@given(schedules(), st.data())
def test_tallies_count_what_a_brute_force_count_over_the_same_rows_gives(schedule, data):
    rows, steps = schedule
    counter = WindowCounter(HORIZON)
    delivered: dict[int, CountedRow] = {}
    for step, batch, now in steps:
        if step == "apply":
            new = counter.apply(batch, now)
            assert new == len({row.id for row in batch} - set(delivered)), "each row counted once"
            delivered.update((row.id, row) for row in batch)
        elif step == "settle":
            counter.settle(delivered_floor(set(delivered)))
        else:
            counter.forget_old(now)
        # the rules' lengths, counted again and again (the sums slide), and any window up to the horizon
        for since in (now - HORIZON, now - 60.5, now - data.draw(st.floats(0, HORIZON, allow_nan=False))):
            for scope in ("site:kadikoy", "site:airport", "device:kiosk-1", "device:kiosk-3", "site:nowhere"):
                assert counter.count(scope, since, now) == brute_force(delivered.values(), scope, since, now), (scope, since, now)
        negative = sorted({(r.site, r.device_id) for r in delivered.values() if r.negative and math.floor(since) <= math.floor(r.occurred_at) <= math.floor(now)})
        assert sorted(counter.negative_scopes(since, now)) == negative


def test_a_window_is_counted_to_the_second():
    counter = WindowCounter(HORIZON)
    now = NOW + 0.3
    counter.apply([CountedRow(1, "kadikoy", "kiosk-1", NOW - 899.9, True), CountedRow(2, "kadikoy", "kiosk-1", NOW - 900.2, True), CountedRow(3, "kadikoy", "kiosk-1", NOW + 0.9, False)], now)
    # since = NOW - 899.7: its second, NOW - 900, is in (so is the row at - 899.9), NOW - 901 is not; NOW + 0.9 is now's second
    assert counter.count("site:kadikoy", now - HORIZON, now) == (2, 1)


def test_a_row_older_than_the_horizon_is_not_kept_and_a_settled_id_is_not_counted_again():
    counter = WindowCounter(HORIZON)
    assert counter.apply([CountedRow(1, "kadikoy", "kiosk-1", NOW - 5000, True)], NOW) == 1
    assert counter.count("site:kadikoy", NOW - 10_000, NOW) == (0, 0), "outside every window: dropped"
    counter.apply([CountedRow(2, "kadikoy", "kiosk-1", NOW, True)], NOW)
    counter.settle(2)
    assert counter.apply([CountedRow(2, "kadikoy", "kiosk-1", NOW, True)], NOW) == 0
    assert counter.count("device:kiosk-1", NOW - 60, NOW) == (1, 1)
    counter.forget_old(NOW + HORIZON + 2)
    assert counter.count("device:kiosk-1", NOW, NOW + HORIZON + 2) == (0, 0) and counter.negative_scopes(NOW, NOW + HORIZON + 2) == []
