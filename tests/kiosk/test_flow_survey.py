"""A pushed survey reaches the screen only at a safe point: the flow's ``SurveyReplaced`` and
``SurveyApplied``, walked with an injected clock (the kiosk process's side: tests/test_survey_push_end_to_end.py).

Safe means: never under a customer's feet (a response is recorded entirely under the survey it
started on), never during the offer of help or the help screens, and not a moment later than
the next start screen.
"""

from __future__ import annotations

import json
import tomllib

from hypothesis import given
from hypothesis import strategies as st

from kiosk import flow
from kiosk.contract.protocol import PROTOCOL_VERSION, HelpUpdate
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, survey_from_dict
from kiosk.flow import Asking, Attract, Burst, Helping, OfferingHelp, SurveyApplied, ThankYou
from tests import scenarios
from tests.dummy_clock import FakeClock
from tests.fuzzing import fuzz_settings

DEFAULT = tomllib.loads(DEFAULT_SURVEY_PATH.read_text(encoding="utf-8"))


def renamed(prefix: str, version: int) -> dict:
    """The default survey under another id, with every question id prefixed: an answer recorded
    under the wrong survey shows at once."""
    document = json.loads(json.dumps(DEFAULT))
    document["id"], document["version"] = f"{prefix}exit", version
    for question in document["questions"]:
        question["id"] = prefix + question["id"]
        if question.get("next") not in (None, "end"):
            question["next"] = prefix + question["next"]
        for option in question["options"]:
            if option.get("next") not in (None, "end"):
                option["next"] = prefix + option["next"]
    return document


SURVEYS = [survey_from_dict(DEFAULT), survey_from_dict(renamed("b-", 1)), survey_from_dict(renamed("c-", 2))]
QUESTIONS = {(s.id, s.version): {q.id for q in s.questions} for s in SURVEYS}
#: The unhappy path of the default survey, then "yes" to the offer of help.
UNHAPPY_YES = [1, 2, 1, 4]


class Driver:
    """Steps the flow as the main loop does (a held save is answered with its uuid: ``scenarios.Rows``) and checks
    the safe-point rules after every step."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.state, _ = flow.start(SURVEYS[0], self.clock.now())
        self.outbox = scenarios.Rows(first_uuid=1)  # as the outbox keeps them
        self.applied: list[flow.Survey] = []
        self.waited: set[str] = set()  # the phases a replacement waited through

    def send(self, event: flow.Event) -> list[flow.Effect]:
        """As the main loop's ``handle``: deadlines that passed first (a Tick), then the event."""
        if not isinstance(event, (flow.Tick, flow.Held)):
            self._step(flow.Tick(event.at))
        return self._step(event)

    def _step(self, event: flow.Event) -> list[flow.Effect]:
        before = self.state
        self.state, effects = flow.step(before, event)
        applied = [e.survey for e in effects if isinstance(e, SurveyApplied)]
        self.applied += applied
        self.outbox.apply(effects, self._step, self.clock.now)
        self.check(before, self.state, applied)
        if self.state.pending_survey is not None:
            self.waited.add(type(self.state.phase).__name__)
        return effects

    @property
    def records(self) -> list[flow.ResponseRecord]:
        return self.outbox.rows

    def check(self, before: flow.KioskState, after: flow.KioskState, applied: list) -> None:
        if after.survey is not before.survey:
            assert applied and applied[-1] is after.survey, "a survey changes only with SurveyApplied"
            assert not (isinstance(before.phase, (Helping, OfferingHelp)) and isinstance(after.phase, (Helping, OfferingHelp))), "never during the help screens"
            same_customer = isinstance(before.phase, Asking) and isinstance(after.phase, Asking) and before.phase.draft.started == after.phase.draft.started
            assert not same_customer, "never under a customer's feet"
            assert not isinstance(after.phase, (Helping, OfferingHelp, Burst)) and not (isinstance(after.phase, ThankYou)), after.phase

    def hear(self, state: str) -> None:
        update = HelpUpdate(v=PROTOCOL_VERSION, alert_id=1, response_uuid=(self.outbox.offers or ["00000000-0000-4000-8000-000000000000"])[-1], state=state, at=self.clock.wall)
        self.send(flow.HelpHeard(update, self.clock.now()))


def test_on_the_start_screen_a_new_survey_applies_at_once():
    kiosk = Driver()
    effects = kiosk.send(flow.SurveyReplaced(SURVEYS[1], kiosk.clock.advance(1)))
    assert kiosk.state.survey is SURVEYS[1] and effects[0] == SurveyApplied(SURVEYS[1])


def test_mid_response_it_waits_for_the_response_to_end():
    kiosk = Driver()
    kiosk.send(flow.Pressed(3, kiosk.clock.advance(1)))
    assert kiosk.send(flow.SurveyReplaced(SURVEYS[1], kiosk.clock.advance(1))) == []
    assert kiosk.state.survey is SURVEYS[0] and kiosk.state.pending_survey is SURVEYS[1]
    kiosk.send(flow.Tick(kiosk.clock.advance(60)))  # the customer walks away: saved as abandoned, then the new one
    assert kiosk.records[-1].survey_id == "exit-default" and kiosk.records[-1].status == "abandoned"
    assert kiosk.state.survey is SURVEYS[1] and kiosk.applied == [SURVEYS[1]]


def test_during_the_help_screens_it_waits_until_they_end():
    kiosk = Driver()
    kiosk.send(flow.LinkChanged(True, kiosk.clock.now()))
    for button in UNHAPPY_YES:
        kiosk.send(flow.Pressed(button, kiosk.clock.advance(1.5)))
    kiosk.send(flow.Tick(kiosk.clock.advance(1)))
    assert isinstance(kiosk.state.phase, Helping)
    kiosk.send(flow.SurveyReplaced(SURVEYS[2], kiosk.clock.advance(1)))
    kiosk.hear("coming")
    assert kiosk.state.survey is SURVEYS[0] and isinstance(kiosk.state.phase, Helping)
    kiosk.hear("closed")
    assert kiosk.state.survey is SURVEYS[2] and isinstance(kiosk.state.phase, Attract)


def test_a_newer_replacement_supersedes_one_still_waiting():
    kiosk = Driver()
    kiosk.send(flow.Pressed(3, kiosk.clock.advance(1)))
    kiosk.send(flow.SurveyReplaced(SURVEYS[1], kiosk.clock.advance(1)))
    kiosk.send(flow.SurveyReplaced(SURVEYS[2], kiosk.clock.advance(1)))
    kiosk.send(flow.Tick(kiosk.clock.advance(60)))
    assert kiosk.applied == [SURVEYS[2]], "only the newest reaches the screen (and is reported applied)"


events = st.one_of(
    st.tuples(st.just("press"), st.integers(1, 5), st.sampled_from([0.05, 0.3, 0.8, 1.5, 4.0, 12.0])),
    st.tuples(st.just("language"), st.just(0), st.sampled_from([0.5, 2.0])),
    st.tuples(st.just("replace"), st.integers(0, len(SURVEYS) - 1), st.sampled_from([0.0, 0.4, 2.0])),
    st.tuples(st.just("link"), st.integers(0, 1), st.just(0.1)),
    st.tuples(st.just("hear"), st.integers(0, 2), st.sampled_from([0.5, 5.0])),
    st.tuples(st.just("tick"), st.just(0), st.sampled_from([0.3, 2.0, 10.0, 100.0])),
)
#: Often the unhappy path (so the offer and the help screens come up), with events between.
scripts = st.lists(st.one_of(events, st.just(("unhappy", 0, 1.5)), st.tuples(st.just("burst"), st.integers(0, len(SURVEYS) - 1), st.just(0.1))), max_size=40)


WAITED: set[str] = set()


def test_a_survey_is_never_applied_mid_customer_or_during_help():
    never_mid_customer_or_during_help()
    # The scripts are worth running: a replacement waited through every unsafe phase.
    assert {"Asking", "OfferingHelp", "Helping", "ThankYou", "Burst"} <= WAITED, WAITED


@fuzz_settings(300)
@given(scripts)
def never_mid_customer_or_during_help(script):
    kiosk = Driver()
    for kind, value, gap in script:
        at = kiosk.clock.advance(gap)
        if kind == "press":
            kiosk.send(flow.Pressed(value, at))
        elif kind == "unhappy":
            for button in UNHAPPY_YES:
                kiosk.send(flow.Pressed(button, kiosk.clock.advance(gap)))
        elif kind == "burst":  # a child on the buttons, and a survey arriving meanwhile
            for _ in range(6):
                kiosk.send(flow.Pressed(1, kiosk.clock.advance(gap)))
            kiosk.send(flow.SurveyReplaced(SURVEYS[value], kiosk.clock.advance(gap)))
        elif kind == "language":
            kiosk.send(flow.NextLanguage(at))
        elif kind == "replace":
            kiosk.send(flow.SurveyReplaced(SURVEYS[value], at))
        elif kind == "link":
            kiosk.send(flow.LinkChanged(bool(value), at))
        elif kind == "hear":
            kiosk.hear(["waiting", "coming", "closed"][value])
        else:
            kiosk.send(flow.Tick(at))
    kiosk.send(flow.Tick(kiosk.clock.advance(1000)))  # everything ends: the help screens too
    kiosk.send(flow.Tick(kiosk.clock.advance(1000)))
    assert kiosk.state.pending_survey is None, "a waiting survey reaches the screen at the next start screen"
    WAITED.update(kiosk.waited)
    for record in kiosk.records:  # one customer, one survey: every answer is a question of the survey it names
        assert {a.question for a in record.answers} <= QUESTIONS[(record.survey_id, record.survey_version)], record
