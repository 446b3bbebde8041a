"""Weekly hours in a site's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.escalation.hours import HoursError, is_within, parse_hours, parse_span

IST = ZoneInfo("Europe/Istanbul")


def at(text: str, zone=IST) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def test_weekday_spans_in_the_sites_zone():
    hours = parse_hours(["mon-fri 07:00-22:00", "sat,sun 09:00-18:00"])
    assert is_within(hours, IST, at("2026-09-21T07:00"))  # Monday
    assert not is_within(hours, IST, at("2026-09-21T06:59"))
    assert not is_within(hours, IST, at("2026-09-21T22:00"))
    assert is_within(hours, IST, at("2026-09-26T17:59")) and not is_within(hours, IST, at("2026-09-26T08:00"))  # Saturday
    # the same instant read in London (two hours behind) is outside Istanbul's Monday 07:00
    assert not is_within(hours, ZoneInfo("Europe/London"), at("2026-09-21T07:00"))


def test_a_span_past_midnight_belongs_to_the_day_it_starts():
    hours = parse_hours(["fri 22:00-06:00"])
    assert is_within(hours, IST, at("2026-09-25T23:30"))  # Friday night
    assert is_within(hours, IST, at("2026-09-26T05:59"))  # Saturday early
    assert not is_within(hours, IST, at("2026-09-26T06:00"))
    assert not is_within(hours, IST, at("2026-09-24T23:30"))  # Thursday night
    assert parse_span("sun-mon 20:00-21:00").days == frozenset({6, 0})


@pytest.mark.parametrize("text", ["weekdays 08:00-17:00", "mon 8-17", "mon 25:00-26:00", "mon 08:00-08:00", "mon 08:61-09:00", "mon 24:00-01:00"])
def test_unreadable_spans_are_refused(text):
    with pytest.raises(HoursError):
        parse_span(text)


@given(st.floats(min_value=0, max_value=4_000_000_000))
def test_no_hours_and_the_whole_day_both_mean_always(moment):
    assert is_within((), IST, moment)
    assert is_within(parse_hours(["daily 00:00-24:00"]), IST, moment)
