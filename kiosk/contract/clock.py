"""A moment on a board without a real-time clock, as both sides record and read it.

A Raspberry Pi boots with whatever time it had when it last shut down (or 1970) and only
learns the real time when NTP answers. So every moment carries the wall clock (possibly
wrong), the monotonic clock (right within one boot) and whether the wall clock was
synchronised; the fleet re-dates from these (``fleet.timefix``). ``kiosk.clock`` reads them
on the Pi; the simulator makes its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Instant:
    monotonic: float
    wall: float
    clock_synced: bool


class Clock(Protocol):
    def now(self) -> Instant: ...
