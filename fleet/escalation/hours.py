"""Weekly hours in a site's own time zone: when a site is open, when a contact is on duty.

Written the way a shop manager says it: ``"mon-fri 07:00-22:00"``, ``"sat,sun 09:00-18:00"``,
``"daily 22:00-06:00"`` (a span past midnight belongs to the day it starts), ``"daily
00:00-24:00"``. No spans at all means always. Pure: the moment comes in as a number and the
zone as an object, so tests walk weeks in microseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


class HoursError(ValueError):
    """A span that cannot be read; the message says what and how to write it."""


@dataclass(frozen=True)
class Span:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after midnight
    end: int  # minutes after the start day's midnight; past 1440 when it runs into the next day

    def contains(self, weekday: int, minute: int) -> bool:
        if weekday in self.days and self.start <= minute < min(self.end, 1440):
            return True
        return self.end > 1440 and (weekday - 1) % 7 in self.days and minute < self.end - 1440


Hours = tuple[Span, ...]
EXAMPLE = '"mon-fri 07:00-22:00" or "daily 00:00-24:00"'


def parse_span(text: str) -> Span:
    match = _SPAN.match(text.lower())
    if not match:
        raise HoursError(f"{text!r} is not DAYS HH:MM-HH:MM (e.g. {EXAMPLE})")
    days = _days(match.group("days"), text)
    start, end = _minute(match.group("start"), text), _minute(match.group("end"), text)
    if start >= 1440:
        raise HoursError(f"{text!r} starts at 24:00 or later; a span starts at 00:00-23:59")
    if start == end:
        raise HoursError(f"{text!r} is a window of 0 minutes (it starts when it ends)")
    if end < start:
        end += 1440  # runs past midnight into the next day
    return Span(days, start, end)


def parse_hours(spans: list[str] | tuple[str, ...]) -> Hours:
    return tuple(parse_span(text) for text in spans)


def is_within(hours: Hours, zone: ZoneInfo, at: float) -> bool:
    """Whether the epoch moment *at* falls in *hours* read in *zone*; no hours means always."""
    if not hours:
        return True
    local = datetime.fromtimestamp(at, zone)
    weekday, minute = local.weekday(), local.hour * 60 + local.minute
    return any(span.contains(weekday, minute) for span in hours)


def _days(text: str, whole: str) -> frozenset[int]:
    if text in ("daily", "everyday", "all"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise HoursError(f"{whole!r}: {part!r} is not a day or a range of days (use {', '.join(DAYS)}, e.g. mon-fri or sat,sun, or daily)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def _minute(text: str, whole: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        raise HoursError(f"{whole!r}: {text} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes
