"""Scripted people at the kiosk, through the real flow: who pressed what and when, and which
stored row each press ended up in.

Shared by the scenario tests (tests/kiosk/test_scenarios.py) and the scenario table in
``make bench`` (benchmarks/bench_scenarios.py), so the table reports exactly what the tests
check. Nothing here decides an outcome: ``play`` runs the flow as the kiosk's main loop does
(ticking at every moment the flow asks to be woken) and traces each press to its row by the
row's own start time and ``press_ms``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from kiosk import flow
from kiosk.contract.clock import Instant
from kiosk.contract.protocol import PROTOCOL_VERSION, HelpUpdate
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, Survey
from kiosk.flow import ResponseRecord
from tests.dummy_clock import FakeClock

#: Timings for scripts that press as fast as a machine, to test something else (faults, soak,
#: backlogs): no reading time, no feedback moment, no burst or pause rules, no handover, and
#: the thank-you over in a second. A press on thank-you starts the next customer at once.
MACHINE_SPEED = {
    "idle_timeout_seconds": 20,
    "pause_seconds": 600,
    "read_seconds": 0,
    "feedback_seconds": 0,
    "burst_presses": 0,
    "thank_you_seconds": 1,
    "handover_seconds": 0,
}

#: How long each scripted person takes to read a question and press (a brisk customer).
BRISK = 1.5
#: Where a first customer can walk away on the default survey: the presses made before.
WALK_AWAYS: dict[str, tuple[int, ...]] = {
    "what-went-wrong": (1,),  # very unhappy, then gone at the follow-up
    "recommend (after happy)": (3,),  # happy, then gone at the last question
    "recommend (after a reason)": (2, 1),  # unhappy, waiting time, then gone at the last question
}
#: What a second customer presses, not knowing the screen is someone else's survey.
SECOND_CUSTOMERS: dict[str, tuple[int, ...]] = {
    "very happy twice": (4, 4),
    "unhappy customer": (2, 3, 1),
}
GAPS = (3.0, 6.0, 10.0, 15.0)
#: The default survey's paths a slow reader may take.
READER_PATHS: dict[str, tuple[int, ...]] = {"happy": (3, 4), "unhappy": (1, 2, 1), "very happy, no": (4, 1)}
READER_PACES = (4.0, 5.0, 6.0, 7.0, 8.0)
#: A child on the buttons: 15 presses 0.1 s apart.
BURST_PRESSES, BURST_INTERVAL = 15, 0.1
BURST_BUTTONS: dict[str, tuple[int, ...]] = {
    **{f"button {b}": (b,) for b in (1, 2, 3, 4)},
    "mixed 1-2-3-4": (1, 2, 3, 4),
    "mixed 4-1-3-2": (4, 1, 3, 2),
}
#: What was pressed before the child came, to reach each screen (then a pause of BRISK).
BURST_AT: dict[str, tuple[int, ...]] = {
    "satisfaction (start screen)": (),
    "what-went-wrong": (1,),
    "recommend (after happy)": (3,),
    "recommend (after a reason)": (2, 1),
    "thank-you": (3, 4),
}

Outcome = Literal["merged", "flagged", "split"]


#: A "button" number in scripts for the language button (it is no press of an answer button).
LANGUAGE = 0


class Rows:
    """The outbox as the flow's effects leave it, without a disk: every row in the order it was
    first saved, a held row rewritten in place by its amendment and release. A held save is
    answered with ``Held`` at once (through *send*), as the kiosk's main loop does right after
    the frame. *first_uuid* numbers the held rows' uuids."""

    def __init__(self, first_uuid: int = 0) -> None:
        self.rows: list[ResponseRecord] = []
        self.held: dict[str, int] = {}  # uuid → index in rows, while held
        self.held_for: dict[str, flow.HoldReason] = {}
        self.uuids: list[str] = []  # every held row's uuid, in order
        self.offers: list[str] = []  # the uuids of the rows held for an answer to the offer of help, in order
        self.index: dict[str, int] = {}  # every held row's uuid → its index in rows (kept after release)
        self._next = first_uuid

    def apply(self, effects: Iterable[flow.Effect], send: Callable[[flow.Event], object], now: Callable[[], Instant]) -> None:
        for effect in effects:
            if isinstance(effect, (flow.SaveResponse, flow.HoldResponse)):
                self.rows.append(effect.record)
                held_for = "moment" if isinstance(effect, flow.HoldResponse) else "offer" if effect.held else None
                if held_for is not None:
                    uuid = f"00000000-0000-4000-8000-{self._next:012d}"
                    self._next += 1
                    self.uuids.append(uuid)
                    self.held[uuid], self.held_for[uuid] = len(self.rows) - 1, held_for
                    self.index[uuid] = len(self.rows) - 1
                    if held_for == "offer":
                        self.offers.append(uuid)
                    send(flow.Held(uuid, now()))
            elif isinstance(effect, flow.AmendResponse):
                assert effect.uuid in self.held, f"amends {effect.uuid}, which is not held"
                self.rows[self.held[effect.uuid]] = effect.record
                if effect.held_for == "offer" and self.held_for[effect.uuid] != "offer":
                    self.offers.append(effect.uuid)
                self.held_for[effect.uuid] = effect.held_for
            elif isinstance(effect, flow.ReleaseResponse):
                assert effect.uuid in self.held, f"releases {effect.uuid}, which is not held"
                self.rows[self.held.pop(effect.uuid)] = effect.record
                del self.held_for[effect.uuid]

    def row(self, uuid: str) -> ResponseRecord:
        """The row saved held under *uuid*, as it is now (held or released)."""
        return self.rows[self.index[uuid]]

    @property
    def sendable(self) -> list[ResponseRecord]:
        """The rows the sync may send (not held)."""
        held = set(self.held.values())
        return [row for index, row in enumerate(self.rows) if index not in held]


@dataclass(frozen=True)
class Press:
    at: float  # seconds from the start of the scenario
    button: int  # LANGUAGE for the language button
    who: str


def person(who: str, buttons: Sequence[int], start: float, pace: float | Sequence[float] = BRISK) -> list[Press]:
    """*who* presses *buttons*, the first at *start*, then one every *pace* seconds (or after each gap in it)."""
    gaps = [pace] * len(buttons) if isinstance(pace, (int, float)) else list(pace)
    presses, at = [], start
    for index, button in enumerate(buttons):
        if index:
            at += gaps[index - 1]
        presses.append(Press(round(at, 6), button, who))
    return presses


def burst(who: str, buttons: Sequence[int], start: float, count: int = BURST_PRESSES, interval: float = BURST_INTERVAL) -> list[Press]:
    return [Press(round(start + i * interval, 6), buttons[i % len(buttons)], who) for i in range(count)]


#: What the fleet's side does in a script: the link goes up or down, or the fleet sends a
#: HelpUpdate (``waiting``, ``coming``, ``closed``) about the latest request for help, or a
#: ``stale`` one about an earlier customer's.
FleetEvent = Literal["link_up", "link_down", "waiting", "coming", "closed", "stale"]


@dataclass(frozen=True)
class Fleet:
    at: float
    event: FleetEvent


@dataclass
class Played:
    rows: list[ResponseRecord]
    owners: list[tuple[str, ...]]  # per row: who made each of its presses, in order
    lost: list[Press] = field(default_factory=list)  # presses found in no row
    unexplained: int = 0  # presses in rows that match no scripted press
    offered_with_link: list[bool] = field(default_factory=list)  # per offer of help: was the link up, as the script had it
    held_at_end: int = 0  # rows still held for an answer to the offer when the kiosk stopped

    def rows_with(self, who: str) -> list[tuple[ResponseRecord, tuple[str, ...]]]:
        return [(row, owners) for row, owners in zip(self.rows, self.owners) if who in owners]

    def mixed(self, a: str, b: str) -> list[ResponseRecord]:
        return [row for row, owners in zip(self.rows, self.owners) if a in owners and b in owners]


def play(survey: Survey, presses: Iterable[Press], settle: float = 120.0, fleet: Iterable[Fleet] = (), contact: flow.Contact | None = None) -> Played:
    """Run *presses* (and the *fleet*'s events) through the flow as the main loop would, then let
    it settle and stop. Rows are kept as the outbox keeps them: a held row is replaced by its release."""
    clock = FakeClock()
    origin = clock.monotonic
    state, _ = flow.start(survey, clock.now(), contact)
    outbox = Rows()
    rows, uuids = outbox.rows, outbox.offers
    link = [False]
    offered: list[bool] = []

    def send(event: flow.Event) -> None:
        nonlocal state
        state, effects = flow.step(state, event)
        for effect in effects:
            if (isinstance(effect, flow.SaveResponse) and effect.held) or (isinstance(effect, flow.AmendResponse) and effect.held_for == "offer"):
                offered.append(link[0])
        outbox.apply(effects, send, clock.now)

    def fleet_event(kind: FleetEvent) -> flow.Event:
        if kind in ("link_up", "link_down"):
            link[0] = kind == "link_up"
            return flow.LinkChanged(link[0], clock.now())
        uuid = (uuids[-2] if len(uuids) > 1 else "11111111-1111-4111-8111-111111111111") if kind == "stale" else (uuids[-1] if uuids else "")
        state_name = "waiting" if kind == "stale" else kind
        update = HelpUpdate(v=PROTOCOL_VERSION, alert_id=len(uuids) or 1, response_uuid=uuid or "none", state=state_name, at=clock.wall, staff="Ayşe", wait_s=30.0)  # type: ignore[arg-type]
        return flow.HelpHeard(update, clock.now())

    def run_until(moment: float) -> None:
        while (wake := flow.next_wakeup(state, clock.monotonic)) is not None and wake <= moment:
            clock.advance(max(wake - clock.monotonic, 0.0))
            send(flow.Tick(clock.now()))
        clock.advance(max(moment - clock.monotonic, 0.0))

    script = sorted(presses, key=lambda p: p.at)
    timeline = sorted([(p.at, 1, p) for p in script] + [(f.at, 0, f) for f in fleet], key=lambda item: (item[0], item[1]))
    for at, _, item in timeline:
        run_until(origin + at)
        if isinstance(item, Fleet):
            send(fleet_event(item.event))
        else:
            send(flow.NextLanguage(clock.now()) if item.button == LANGUAGE else flow.Pressed(item.button, clock.now()))
    run_until(clock.monotonic + settle)
    send(flow.Shutdown(clock.now()))
    played = _trace(rows, [p for p in script if p.button != LANGUAGE], origin)
    played.offered_with_link, played.held_at_end = offered, len(outbox.held)
    return played


def _trace(rows: list[ResponseRecord], script: list[Press], origin: float) -> Played:
    """Whose press is each press in each row: matched by time (the row's start + press_ms) and button."""
    waiting = {(round((p.at) * 1000), p.button): p for p in script}
    owners: list[tuple[str, ...]] = []
    unexplained = 0
    for row in rows:
        start_ms = round((row.started.monotonic - origin) * 1000)
        who = []
        for button, offset in zip(row.presses, row.press_ms, strict=True):
            found = next((waiting.pop(key) for key in ((start_ms + offset + d, button) for d in (0, -1, 1)) if key in waiting), None)
            if found is None:
                unexplained += 1
                who.append("?")
            else:
                who.append(found.who)
        owners.append(tuple(who))
    return Played(rows, owners, lost=sorted(waiting.values(), key=lambda p: p.at), unexplained=unexplained)


def survey_text(**keys: float) -> str:
    """The default survey's TOML with these top-level timing keys set to other values."""
    lines = DEFAULT_SURVEY_PATH.read_text(encoding="utf-8").splitlines()
    for key, value in keys.items():
        matches = [i for i, line in enumerate(lines) if line.startswith(f"{key} =")]
        assert len(matches) == 1, f"the default survey has no single {key} line"
        lines[matches[0]] = f"{key} = {value}"
    return "\n".join(lines) + "\n"


def machine_speed_survey_text() -> str:
    """The default survey at MACHINE_SPEED and without its offer of help: a script pressing as
    fast as a machine to test something else (faults, soak, backlogs) answers no offer."""
    text = survey_text(**MACHINE_SPEED)
    start = text.index("[help_offer]")
    return text[:start] + text[text.index("[[questions]]", start) :]


# --- the scenarios the issue asks for ---------------------------------------------------------


def two_customers(survey: Survey, walk_away: Sequence[int], second: Sequence[int], gap: float) -> Played:
    """A first customer presses *walk_away* and leaves; *gap* s after their last press a second one starts."""
    first = person("first", walk_away, 0.0)
    return play(survey, first + person("second", second, first[-1].at + gap))


def two_customer_outcome(played: Played) -> Outcome:
    """merged: one row holds both customers' presses and nothing marks it; flagged: such rows are
    all marked suspect or misuse; split: no row holds both."""
    mixed = played.mixed("first", "second")
    if not mixed:
        return "split"
    return "flagged" if all(row.suspect or row.misuse for row in mixed) else "merged"


def slow_reader(survey: Survey, path: Sequence[int], paces: float | Sequence[float]) -> Played:
    return play(survey, person("reader", path, 0.0, paces))


def child_burst(survey: Survey, before: Sequence[int], buttons: Sequence[int], interval: float = BURST_INTERVAL) -> Played:
    """Someone presses *before* at a brisk pace to reach a screen; a BRISK later the child mashes."""
    lead = person("lead", before, 0.0) if before else []
    start = lead[-1].at + BRISK if lead else 0.0
    return play(survey, lead + burst("child", buttons, start, interval=interval))


def child_outcome(played: Played) -> Literal["flagged", "merged"]:
    """flagged: every row with the child's presses is misuse (no answers, never negative, never
    completed); merged: some of them were stored as answers."""
    rows = [row for row, _ in played.rows_with("child")]
    wrong = any(not row.misuse or row.negative or row.status == "completed" or row.answers for row in rows)
    return "merged" if wrong else "flagged"
