"""Window counts kept in memory: per-second tallies of the store's responses, per scope.

A pure core (no store, no clock): the edge (``fleet.escalation.windows``) feeds it the rows it
reads from the store's tail and asks it for counts. Counting a window then sums at most one
tally per second of the window (900 for 15 minutes) instead of reading every response in it.

Semantics, to the second: a response is in the window [since, now] when the whole second it
occurred in is, i.e. ``floor(since) <= floor(occurred_at) <= floor(now)``. (A window's edges
move by less than a second against an exact count; nothing a 15-minute rule can tell apart.)

Rows are applied by their store id, each once: the edge may read a row again (PostgreSQL
commits ids out of order, so the edge re-reads a short tail of ids on each tick) and the
counter skips the ids it has applied above ``floor`` (``settle`` raises it and forgets the
ids below). A row older than ``horizon`` seconds when applied can never be in a window again
and is not kept; tallies are forgotten as they leave the horizon (``forget_old``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from fleet.escalation.rules import scope_of

#: Window scopes that got responses: scope → (site, the device or None for the site's scope,
#: whether a negative one came). The counter notes them as it tallies; the feed takes them.
Touched = dict[str, tuple[str, str | None, bool]]


def note_scope(touched: Touched, scope: str, site: str, device_id: str | None, negative: bool) -> None:
    """Note that *scope* got responses; once a negative one is noted there, it stays noted."""
    seen = touched.get(scope)
    if seen is None or (negative and not seen[2]):
        touched[scope] = (site, device_id, negative)


def touch(touched: Touched, site: str, device_id: str, negative: bool) -> None:
    """Note a kiosk's responses in both its window scopes: its site's and its own."""
    note_scope(touched, scope_of("site", site, None), site, None, negative)
    note_scope(touched, scope_of("device", site, device_id), site, device_id, negative)


class CountedRow(NamedTuple):
    """A countable response as the counter takes it (the edge leaves out misuse and suspect rows)."""

    id: int
    site: str
    device_id: str
    occurred_at: float
    negative: bool


class WindowCounter:
    def __init__(self, horizon_seconds: float) -> None:
        self.horizon = math.ceil(horizon_seconds)  # the longest window: older seconds are never asked for
        self.high = 0  # the highest row id applied
        self.floor = 0  # ids at or below: never applied again (rows the edge reads again are skipped)
        self._seen: set[int] = set()  # ids applied above floor
        self._tallies: dict[str, dict[int, list[int]]] = {}  # scope → second → [total, negative]
        self._site_of: dict[str, str] = {}  # device → site, for the device scopes a tick looks at
        # Sliding sums: scope → window length (seconds) → [first, last, total, negative], the last
        # window counted of that length, moved on by the seconds that passed since, and kept up
        # to date by apply: a count costs the seconds the window moved, not the window's length.
        self._sums: dict[str, dict[int, list[int]]] = {}
        self.touched: Touched = {}  # the scopes tallied since the edge last took them

    def apply(self, rows: Iterable[CountedRow], now: float) -> int:
        """Tally *rows* not applied before; returns how many were new."""
        oldest = math.floor(now) - self.horizon
        new = 0
        for row in rows:
            if row.id <= self.floor or row.id in self._seen:
                continue
            self._seen.add(row.id)
            if row.id > self.high:
                self.high = row.id
            new += 1
            second = math.floor(row.occurred_at)
            if second >= oldest:  # else an old row from a drained backlog: in no window any more
                self._add(row.site, row.device_id, second, 1, int(row.negative))
        return new

    def add_tallies(self, tallies: Iterable[tuple[str, str, int, int, int]], now: float) -> None:
        """Add (site, device, second, total, negative) tallies the store grouped: the seed, or
        a stretch of the tail whose ids the edge reads once (SQLite commits ids in order), so
        no id is kept to be skipped later; the edge moves ``high`` and ``floor`` past them."""
        oldest = math.floor(now) - self.horizon
        for site, device_id, second, total, negative in tallies:
            if second >= oldest:
                self._add(site, device_id, second, total, negative)

    def _add(self, site: str, device_id: str, second: int, total: int, negative: int) -> None:
        """Tally *total* responses (*negative* of them negative) at *second*, in the site's and
        the kiosk's scope, and in every sliding sum whose window holds that second."""
        self._site_of[device_id] = site
        for scope, device in ((scope_of("site", site, None), None), (scope_of("device", site, device_id), device_id)):
            note_scope(self.touched, scope, site, device, negative > 0)
            tally = self._tallies.setdefault(scope, {}).setdefault(second, [0, 0])
            tally[0] += total
            tally[1] += negative
            for window in self._sums.get(scope, {}).values():
                if window[0] <= second <= window[1]:
                    window[2] += total
                    window[3] += negative

    def count(self, scope: str, since: float, now: float) -> tuple[int, int]:
        """(total, negative) of *scope*'s responses in the window [since, now], to the second."""
        first, last = math.floor(since), math.floor(now)
        tallies = self._tallies.get(scope)
        if not tallies:
            return 0, 0
        windows = self._sums.setdefault(scope, {})
        window = windows.get(last - first)
        if window is not None and window[0] <= first <= window[1] + 1 and window[1] <= last:
            for second in range(window[0], first):  # the seconds the window left
                tally = tallies.get(second)
                if tally is not None:
                    window[2] -= tally[0]
                    window[3] -= tally[1]
            for second in range(max(window[1] + 1, first), last + 1):  # the seconds it entered
                tally = tallies.get(second)
                if tally is not None:
                    window[2] += tally[0]
                    window[3] += tally[1]
            window[0], window[1] = first, last
            return window[2], window[3]
        total, negative = self._sum(tallies, first, last)
        windows[last - first] = [first, last, total, negative]
        return total, negative

    @staticmethod
    def _sum(tallies: dict[int, list[int]], first: int, last: int) -> tuple[int, int]:
        total = negative = 0
        if last - first + 1 < len(tallies):
            for second in range(first, last + 1):
                tally = tallies.get(second)
                if tally is not None:
                    total += tally[0]
                    negative += tally[1]
        else:
            for second, tally in tallies.items():
                if first <= second <= last:
                    total += tally[0]
                    negative += tally[1]
        return total, negative

    def negative_scopes(self, since: float, now: float) -> list[tuple[str, str]]:
        """(site, device) pairs with a negative response in [since, now]: the windows a tick counts."""
        first, last = math.floor(since), math.floor(now)
        pairs = []
        for device_id, site in self._site_of.items():
            tallies = self._tallies.get(scope_of("device", site, device_id), {})
            if any(tally[1] and first <= second <= last for second, tally in tallies.items()):
                pairs.append((site, device_id))
        return pairs

    def settle(self, floor: int) -> None:
        """Ids at or below *floor* will not be read again: forget them."""
        if floor > self.floor:
            self.floor = floor
            self._seen = {row_id for row_id in self._seen if row_id > floor}

    def rewind(self, high: int) -> None:
        """The store's highest id went back to *high* (its newest rows were deleted; SQLite hands
        those ids out again): rows above it are new again. The tallies of deleted rows stay
        until they leave the horizon."""
        if high < self.high:
            self.high = high
            self.floor = min(self.floor, high)
            self._seen = {row_id for row_id in self._seen if row_id <= high}

    def forget_old(self, now: float) -> None:
        """Drop tallies older than the horizon (and devices with none left)."""
        oldest = math.floor(now) - self.horizon
        for scope in list(self._tallies):
            tallies = self._tallies[scope]
            for second in [second for second in tallies if second < oldest]:
                del tallies[second]
            if not tallies:
                del self._tallies[scope]
        for scope in list(self._sums):  # a sum over forgotten seconds cannot be moved on: made again
            windows = self._sums[scope]
            for length in [length for length, window in windows.items() if window[0] < oldest or scope not in self._tallies]:
                del windows[length]
            if not windows:
                del self._sums[scope]
        self._site_of = {device: site for device, site in self._site_of.items() if scope_of("device", site, device) in self._tallies}
