"""The response feed: the escalation follows the store's tail, so ingest does none of its work.

Ingest stores responses and acknowledges them; that is all it does (the bar: ingest drops at
most 5 % with the escalation on, ``benchmarks/bench_fleet.py``). The escalation runs once per
fleet, in the process that runs the services (the single one, or the supervisor of
``--workers N``), on this feed's thread. Each ``poll``:

1. reads the highest response id stored, then from the store the responses stored since the
   last poll that a response rule may take (``observe.candidate_rows``: negative ones if a
   rule takes them, help requests, answers a rule names; each once, by id): a few in a hundred;
2. brings the window tallies up to date (``Windows.catch_up``: on SQLite the store groups the
   same tail per kiosk and second) and takes the scopes that got responses, and whether a
   negative one was among them;
3. hands both to ``Escalation.on_responses_stored``, which raises or attaches alerts and wakes
   the notifier and the help announcer.

So a response no rule takes costs the escalation no Python at all: the store filters and groups it.

**When.** In the single process, ingest wakes the feed after each commit (a hook that only sets
an event: ``wake``), so a help request is read at once; otherwise the feed polls every
``poll_seconds`` (a supervisor's workers are other processes). After a read of at least
``busy_rows`` new rows (some 2,000 responses a second and more) it waits ``gather_seconds``
before the next, so a busy fleet reads its tail in batches of hundreds of rows, not one per
ingest commit, and pays each read's fixed cost (its queries, the window counts, the alerts'
transaction) that much less often; a fleet at a normal rate reads at once.

**Exactly once, across restarts.** A redelivered or resent response is not stored again, so it
never reaches the feed twice. The feed starts ``replay_seconds`` back (the responses received
in the last 10 minutes go through the rules once more): a fleet killed between a commit and
the feed's next poll still raises their alerts, and alerts are idempotent per rule and
response (``alert_responses``), so those already handled raise nothing. (A response rule
takes nothing older than its ``max_age_minutes`` anyway: that customer has gone.)

**Failures.** The store unavailable (peewee's OperationalError, InterfaceError): nothing is
taken as read, the window scopes it learned of are given back, the next poll reads the same
responses again. The rules failing otherwise on a read: its responses are handed again one by
one, so only the one the rules cannot take is skipped (logged with its uuid).

**PostgreSQL** hands out ids before commit, so a response can commit after one with a higher id
was read. Every ``settle_seconds`` (2) the feed reads again the ids of the last
``late_seconds`` (15), skipping those it handed already: a response committing up to 15 s after
its id was handed out is read, at most one settle late; one committing later still is missed
(an ingest transaction lasts milliseconds). ``stop`` settles once more. SQLite commits ids in
order. **Deleted rows:** SQLite hands the highest id out again after the newest rows are
deleted (a device removed with its answers); a feed that finds the highest id below its cursor
reads again from the responses received since shortly before its last read (logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import peewee

from fleet.escalation import observe
from fleet.escalation.alerts import Raised
from fleet.escalation.config import ResponseRule, WindowRule
from fleet.escalation.counter import Touched
from fleet.escalation.service import Escalation

log = logging.getLogger(__name__)

#: The responses received this long before the feed started go through the rules once more.
REPLAY_SECONDS = 600.0
#: After the newest rows were deleted, the responses received this long before the last read are read again.
REWIND_MARGIN_SECONDS = 5.0


class ResponseFeed:
    def __init__(
        self,
        escalation: Escalation,
        clock: Callable[[], float] = time.time,
        poll_seconds: float = 0.25,
        gather_seconds: float = 0.05,
        busy_rows: int = 100,
        settle_seconds: float = 2.0,
        late_seconds: float = 15.0,
        replay_seconds: float = REPLAY_SECONDS,
        late_commits: bool | None = None,
    ) -> None:
        self.escalation = escalation
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.gather_seconds = gather_seconds
        self.busy_rows = busy_rows
        self.settle_seconds = settle_seconds
        self.late_seconds = late_seconds
        self.replay_seconds = replay_seconds
        self.late_commits = late_commits  # None: as the store does (PostgreSQL yes, SQLite no)
        rules = [rule for rule in escalation.config.rules if rule.enabled]
        taking = [rule for rule in rules if isinstance(rule, ResponseRule)]
        options = tuple(sorted({option for rule in taking if rule.on == "answer" for option in rule.options}))
        self._wanted = observe.Wanted(any(rule.on == "negative" for rule in taking), any(rule.on == "help" for rule in taking), options)
        windows = [rule.minutes * 60 for rule in rules if isinstance(rule, WindowRule) and rule.minutes > 0]
        self._counts_windows = bool(windows)
        self.needed = self._counts_windows or any(isinstance(rule, ResponseRule) for rule in rules)  # else offline/health rules only: the tick's
        # A response older than every response rule's max_age escalates nothing (that customer has gone).
        self._reach = max((rule.max_age_minutes * 60 for rule in taking), default=0.0)
        self.cursor: int | None = None  # the highest id read
        self._marks: list[tuple[float, int]] = []  # (when, cursor) at each settle of the last late_seconds (late commits)
        self._settled_at = 0.0
        self._read_at = 0.0  # when the last read was taken
        self._handed: set[int] = set()  # ids handed above the oldest mark (late commits)
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.handed = 0  # responses handed to the rules
        self.polls = 0

    # --- one read of the tail ----------------------------------------------------------------

    def poll(self, settle: bool = False) -> list[Raised]:
        """Hand what the store stored since the last poll to the escalation; on the calling
        thread. *settle*: read the last ``late_seconds`` again now (PostgreSQL; ``stop`` does)."""
        now = self.clock()
        if self.cursor is None:
            self._start(now)
            raised = self._poll(now, settle)
            if self.handed:
                log.info("escalation replayed recent responses", extra={"responses": self.handed, "alerts_raised": sum(result.created for result in raised), "since_s": self.replay_seconds})
            return raised
        return self._poll(now, settle)

    def _poll(self, now: float, settle: bool) -> list[Raised]:
        assert self.cursor is not None
        self.polls += 1
        high = observe.highest_id()
        if high < self.cursor:
            self._rewind(high)
        settling = bool(self.late_commits) and (settle or now - self._settled_at >= self.settle_seconds)
        after = self._oldest_mark() if settling else self.cursor
        rows = observe.candidate_rows(after, high, self._wanted, now - self._reach) if high > after else []
        if self.late_commits:
            rows = [(row_id, response) for row_id, response in rows if row_id not in self._handed]
        touched: Touched = {}
        if self._counts_windows:
            self.escalation.windows.catch_up(now)
            touched = self.escalation.windows.take_touched()
        responses = [response for _, response in rows]
        try:
            raised = self.escalation.on_responses_stored(responses, touched=touched) if rows or touched else []
        except (peewee.OperationalError, peewee.InterfaceError):
            self.escalation.windows.give_back(touched)
            raise  # nothing taken as read: the next poll reads them again
        except Exception:
            log.exception("escalation feed: the rules failed on a read; handing its responses one by one", extra={"after_id": after, "up_to_id": high, "responses": len(responses)})
            raised = self._one_by_one(responses, touched)
        self._read(rows, high, settling, now)
        return raised

    def _one_by_one(self, responses: list, touched: Touched) -> list[Raised]:
        """After a read the rules failed on: each response alone (and the windows alone), so
        only the one the rules cannot take is left out. The store failing here is the caller's."""
        raised: list[Raised] = []
        for part, scopes in [([response], {}) for response in responses] + [([], touched)]:
            if not part and not scopes:
                continue
            try:
                raised += self.escalation.on_responses_stored(part, touched=scopes)
            except (peewee.OperationalError, peewee.InterfaceError):
                raise
            except Exception:
                log.exception("escalation feed: the rules cannot take this response; it stays stored, no alert", extra={"response": part[0].uuid if part else None, "windows": len(scopes)})
        return raised

    def _rewind(self, high: int) -> None:
        """The store's highest id went below the cursor: its newest rows were deleted, and SQLite
        hands their ids out again, maybe already to rows stored since. Read again from the first
        response received since shortly before the last read: those handed twice raise nothing
        twice (alerts are idempotent per rule and response); a window may count the few of them
        it had tallied twice, until they leave it."""
        back = min(high, observe.id_before(self._read_at - REWIND_MARGIN_SECONDS))
        log.warning("escalation feed: the store's highest response id went back (the newest responses were deleted); reading again from the responses received since the last read", extra={"cursor": self.cursor, "highest_id": high, "from_id": back})
        self.cursor = back
        self._marks = [(when, min(mark, back)) for when, mark in self._marks]
        self.escalation.windows.rewind(back)

    def _oldest_mark(self) -> int:
        return self._marks[0][1] if self._marks else self.cursor or 0

    def _read(self, rows: list, high: int, settling: bool, now: float) -> None:
        """Take the responses up to *high* as read."""
        if self.late_commits:
            self._handed.update(row_id for row_id, _ in rows)
        if settling:
            # Each settle reads again from the cursor as it was late_seconds ago: ids below that
            # mark are never read again, so their handed ids are forgotten.
            self._marks.append((now, high))
            while len(self._marks) > 1 and self._marks[1][0] <= now - self.late_seconds:
                self._marks.pop(0)
            floor = self._oldest_mark()
            self._handed = {row_id for row_id in self._handed if row_id > floor}
            self._settled_at = now
        self.cursor = high
        self.handed += len(rows)
        self._read_at = now

    def _start(self, now: float) -> None:
        if self.late_commits is None:
            self.late_commits = observe.ids_commit_late()
        self.cursor = observe.id_before(now - self.replay_seconds)
        self._marks, self._settled_at = [(now, self.cursor)], now
        log.info("escalation feed starts", extra={"after_id": self.cursor, "replay_s": self.replay_seconds, "highest_id": observe.highest_id()})

    # --- the thread --------------------------------------------------------------------------

    def wake(self) -> None:
        """Responses were stored: read them now (ingest's post-commit hook in this process)."""
        self._woken.set()

    def start(self) -> ResponseFeed:
        """The first poll (the replay, and the window counter's seed) on the calling thread,
        before the fleet starts ingesting; then the feed's own thread."""
        try:
            self._poll_once()
        except (peewee.OperationalError, peewee.InterfaceError) as exc:
            log.error("escalation feed: the store is unavailable at start (%s); the feed's thread retries", str(exc).strip()[:200])
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="escalation-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Read what was stored until now, then end the thread."""
        if self._thread is None:
            return
        self._stopping.set()
        self._woken.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the escalation feed did not stop in time", extra={"timeout_s": timeout})
        self._thread = None

    def _run(self) -> None:
        delay = 1.0
        try:
            while True:
                stopping = self._stopping.is_set()
                self._woken.clear()
                try:
                    found = self._poll_once(settle=stopping)  # the last read settles once more
                    delay = 1.0
                except (peewee.OperationalError, peewee.InterfaceError) as exc:
                    log.error("escalation feed: the store is unavailable (%s); retrying in %.0f s", str(exc).strip()[:200], delay)
                    found, delay = 0, min(delay * 2, 30.0)
                    if not stopping:
                        self._stopping.wait(delay)
                except Exception:  # the feed must outlive any one read: log, wait, read again
                    log.exception("escalation feed: a read failed; retrying in %.0f s", delay)
                    found, delay = 0, min(delay * 2, 30.0)
                    if not stopping:
                        self._stopping.wait(delay)
                if stopping:
                    return
                if found >= self.busy_rows:
                    self._stopping.wait(self.gather_seconds)  # busy: let the next rows gather into one read
                self._woken.wait(self.poll_seconds)
        finally:
            from fleet.store import close_database

            close_database()  # peewee's connection is per thread: this one's goes with it

    def _poll_once(self, settle: bool = False) -> int:
        """One poll; how many ids it read past. The store's failures are the caller's."""
        before = self.cursor or 0
        self.poll(settle)
        return (self.cursor or 0) - before
