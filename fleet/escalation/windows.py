"""Window counts for the escalation: the store's responses, kept up to date by reading only its tail.

``Windows`` keeps a ``counter.WindowCounter`` in step with the store. It starts from one read
of the longest window (``observe.window_seed``); after that, each count first reads the rows
stored since (``id > high``, every worker process's, by the primary key) and tallies them, so
a count costs the rows that are new, not the rows in the window. On SQLite the store groups
that tail itself (``observe.tail_tallies``: one row per kiosk and second). The response feed
(``fleet.escalation.feed``) calls it from its thread and the tick from the worker's: a lock
keeps them in turn. ``take_touched`` tells the feed which scopes got responses.

So a window still counts what the STORE holds, as ``observe.count_windows`` did, only to the
second (see ``counter``). PostgreSQL hands out ids before commit, so a row can commit after
one with a higher id was read: every ``settle_seconds`` the ids since the settle before the
previous one are read again (ids already counted are skipped), so a row whose id was handed
out before a settle still counts if it commits before the next one. (A transaction that
stays open longer, or one open while the counter starts, is missed until it leaves the
window.) SQLite has one writer and commits in id order: there the tail is read once, grouped.
"""

from __future__ import annotations

import math
import threading

from fleet.escalation import observe
from fleet.escalation.counter import Touched, WindowCounter, note_scope
from fleet.escalation.rules import WindowCount, WindowQuery


class Windows:
    def __init__(self, horizon_seconds: float, settle_seconds: float = 15.0, late_commits: bool | None = None) -> None:
        self.horizon_seconds = horizon_seconds
        self.settle_seconds = settle_seconds
        self.late_commits = late_commits  # None: as the store does (PostgreSQL yes, SQLite no)
        self._counter: WindowCounter | None = None
        self._settled_at = 0.0
        self._marks = (0, 0)  # the highest id at the last two settles: a settle reads again from the older
        self._lock = threading.Lock()

    def count(self, queries: list[WindowQuery], now: float) -> list[WindowCount]:
        with self._lock:
            counter = self._catch_up(now)
            return [WindowCount(query, *counter.count(query.scope, query.since, now)) for query in queries]

    def negative_scopes(self, since: float, now: float) -> list[tuple[str, str]]:
        with self._lock:
            return self._catch_up(now).negative_scopes(since, now)

    def take_touched(self) -> Touched:
        """The scopes (``site:…``, ``device:…``) with countable responses tallied since the last
        call, each as (site, device or None, whether a negative one came): the windows new
        responses may have moved (a fourth happy answer can make 2 of 4 negative)."""
        with self._lock:
            if self._counter is None:
                return {}
            touched, self._counter.touched = self._counter.touched, {}
            return touched

    def give_back(self, touched: Touched) -> None:
        """Scopes taken by ``take_touched`` that the feed could not count (the store failed):
        they are taken again at the next call."""
        with self._lock:
            if self._counter is None:
                return
            for scope, (site, device_id, negative) in touched.items():
                note_scope(self._counter.touched, scope, site, device_id, negative)

    def rewind(self, high: int) -> None:
        """The store's highest id went back (its newest rows deleted): read from *high* again."""
        with self._lock:
            if self._counter is not None:
                self._counter.rewind(high)
                self._marks = (min(self._marks[0], high), min(self._marks[1], high))

    def catch_up(self, now: float) -> None:
        """Tally what the store has stored since the last count."""
        with self._lock:
            self._catch_up(now)

    def _catch_up(self, now: float) -> WindowCounter:
        counter = self._counter
        if counter is None:
            counter = WindowCounter(self.horizon_seconds)
            high, tallies = observe.window_seed(math.floor(now) - counter.horizon)  # whole seconds, as counted
            counter.add_tallies(tallies, now)
            counter.high = high
            counter.settle(high)  # the seed's ids are never read again
            if self.late_commits is None:
                self.late_commits = observe.ids_commit_late()
            self._counter, self._marks, self._settled_at = counter, (high, high), now
            return counter
        if not self.late_commits:
            # Ids commit in order: the tail since ``high`` is read once, grouped by the store.
            high, tallies = observe.tail_tallies(counter.high)
            counter.add_tallies(tallies, now)
            counter.high = high
            counter.settle(high)
            if now - self._settled_at >= self.settle_seconds:
                counter.forget_old(now)
                self._settled_at = now
        elif now - self._settled_at < self.settle_seconds:
            counter.apply(observe.countable_rows(counter.high), now)
        else:
            # A row whose id is at most the previous settle's high has had a whole settle
            # interval to commit: read from the settle before it, once more.
            older, previous = self._marks
            counter.apply(observe.countable_rows(older), now)
            counter.settle(previous)
            self._marks, self._settled_at = (previous, counter.high), now
            counter.forget_old(now)
        return counter
