"""The flow is pure, so it is walked here exhaustively with an injected clock."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import flow
from kiosk.contract.clock import Instant
from kiosk.contract.survey import parse_survey
from kiosk.flow import AmendResponse, Asking, Attract, Burst, FlashButton, HintButtons, HoldResponse, LightButtons, ReleaseResponse, SaveResponse, ThankYou
from tests import scenarios
from tests.dummy_clock import FakeClock

ALL = frozenset({1, 2, 3, 4})
#: A customer's pace between presses in these tests: well above read_seconds + the chosen feedback.
PACE = 1.0


class Run:
    """Drives a flow like the kiosk does, collecting effects; its rows are kept as the outbox
    keeps them (``scenarios.Rows``: a held save answered with Held at once)."""

    def __init__(self, survey, clock):
        self.clock = clock
        self.state, self.effects = flow.start(survey, clock.now())
        self.outbox = scenarios.Rows()

    def send(self, event):
        self.state, effects = flow.step(self.state, event)
        self.outbox.apply(effects, self._held, self.clock.now)
        self.effects = effects
        return effects

    def _held(self, event):
        self.state, effects = flow.step(self.state, event)
        assert effects == []

    @property
    def saved(self):
        """The rows as the fleet will get them: held ones are not sent yet."""
        return self.outbox.sendable

    @property
    def held(self):
        return [self.outbox.rows[index] for index in self.outbox.held.values()]

    def press(self, button, after=PACE):
        return self.send(flow.Pressed(button, self.clock.advance(after)))

    def wait(self, seconds):
        return self.send(flow.Tick(self.clock.advance(seconds)))

    def language(self, after=0.1):
        return self.send(flow.NextLanguage(self.clock.advance(after)))

    def finish(self, *buttons):
        """Answer with *buttons* at PACE and let the last answer's moment pass (it is saved then)."""
        for button in buttons:
            self.press(button)
        return self.wait(flow.last_answer_hold(self.state.survey))

    @property
    def phase(self):
        return self.state.phase


@pytest.fixture
def run(survey, clock):
    return Run(survey, clock)


def test_starts_on_the_attract_screen_with_the_first_questions_buttons_lit(run):
    assert run.phase == Attract("tr")
    assert run.effects == [LightButtons(ALL)]


def test_happy_path_answers_two_questions_then_thanks(run, survey):
    effects = run.press(3)
    assert isinstance(run.phase, Asking) and run.phase.question_id == "recommend"
    assert effects == [FlashButton(3), LightButtons(frozenset({1, 4}))]
    effects = run.press(4, after=1.2)
    assert isinstance(run.phase, ThankYou) and not run.phase.negative
    hold = HoldResponse(run.held[0])
    assert effects == [FlashButton(4), LightButtons(frozenset()), hold]  # on the card now, 0.8 s before "thank you"
    assert run.saved == [] and run.held[0].status == "completed"  # held for the last chosen card's moment: a burst may still follow
    effects = run.wait(flow.last_answer_hold(survey))
    assert effects == [ReleaseResponse(run.outbox.uuids[0], hold.record)]  # nothing pressed in the moment: released as it was held
    (record,) = run.saved
    assert record.status == "completed" and not record.misuse and not record.negative and not record.suspect
    assert [(a.question, a.option, a.button) for a in record.answers] == [("satisfaction", "happy", 3), ("recommend", "yes", 4)]
    assert record.answers[1].elapsed_ms == 1200
    assert record.presses == (3, 4) and record.press_ms == (0, 1200)
    assert record.language == "tr"
    assert record.survey_id == "exit-default" and record.survey_version == 3
    assert record.finished.monotonic - record.started.monotonic == pytest.approx(1.2)  # the last answer, not the save


def test_unhappy_branches_to_the_follow_up_then_rejoins(run):
    run.press(1)
    assert run.phase.question_id == "what-went-wrong"
    run.press(2)
    assert run.phase.question_id == "recommend"
    run.finish(1)
    (record,) = run.saved
    assert [a.question for a in record.answers] == ["satisfaction", "what-went-wrong", "recommend"]
    assert record.negative
    assert isinstance(run.phase, ThankYou) and run.phase.negative


def test_thank_you_ends_after_its_time_and_attract_returns(run, survey):
    run.press(4)
    run.finish(4)
    run.wait(survey.thank_you_seconds - 0.1)
    assert isinstance(run.phase, ThankYou)
    effects = run.wait(0.2)
    assert isinstance(run.phase, Attract)
    assert effects == [LightButtons(ALL)]


# --- idle, countdown --------------------------------------------------------------------------


def test_idle_mid_survey_saves_the_partial_response_as_abandoned(run, survey):
    run.press(1)
    run.wait(survey.idle_timeout_seconds - 1)
    assert isinstance(run.phase, Asking) and not run.saved
    run.wait(1)
    assert isinstance(run.phase, Attract)
    (record,) = run.saved
    assert record.status == "abandoned" and record.end_reason == "idle"
    assert [a.option for a in record.answers] == ["very-unhappy"]
    assert record.negative  # walked away after "very unhappy": still a signal worth escalating


def test_each_press_restarts_the_idle_timer(run, survey):
    run.press(1)
    run.press(2, after=survey.pause_seconds - 1)
    run.wait(survey.idle_timeout_seconds - 1)
    assert isinstance(run.phase, Asking)


def test_countdown_only_in_the_last_seconds_before_the_reset(run, survey):
    run.press(3)
    pressed = run.clock.monotonic
    assert flow.countdown(run.state, pressed + 1) is None
    assert flow.countdown(run.state, pressed + survey.idle_timeout_seconds - 2.5) == 3
    assert flow.countdown(run.state, pressed + survey.idle_timeout_seconds) is None  # reset, not "0"
    run.wait(survey.feedback_seconds)
    assert flow.countdown(run.state, pressed + survey.idle_timeout_seconds - 1) == 1


def test_a_late_press_after_the_idle_timeout_starts_a_new_response(run, survey):
    run.press(3)
    effects = run.press(4, after=survey.idle_timeout_seconds + 5)  # no tick ran in between
    abandoned, = run.saved
    assert abandoned.status == "abandoned" and [a.option for a in abandoned.answers] == ["happy"]
    assert run.phase.question_id == "recommend" and [a.option for a in run.phase.draft.answers] == ["very-happy"]
    assert effects[0] == SaveResponse(abandoned)


# --- one customer, one response ---------------------------------------------------------------


def test_a_press_after_a_pause_keeps_the_response_whole_but_suspect_and_never_negative(run, survey):
    run.press(1)  # very unhappy …
    run.press(4, after=survey.pause_seconds)  # … then "price" after a pause: the same person, or the next?
    run.finish(4)
    (record,) = run.saved
    assert record.suspect and not record.negative and record.status == "completed"
    assert [a.option for a in record.answers] == ["very-unhappy", "price", "yes"]
    assert record.press_ms == (0, survey.pause_seconds * 1000, survey.pause_seconds * 1000 + PACE * 1000)
    assert not run.phase.negative  # the neutral thank-you: the person there may be happy


def test_a_language_press_after_a_pause_marks_the_response_too(run, survey):
    run.press(3)
    run.language(after=survey.pause_seconds)
    run.finish(4)
    assert run.saved[0].suspect and run.saved[0].language == "en"


def test_just_under_the_pause_nothing_is_flagged(run, survey):
    run.press(1)
    run.press(2, after=survey.pause_seconds - 0.01)
    run.finish(1)
    assert not run.saved[0].suspect and run.saved[0].negative


def test_a_press_sooner_than_anyone_reads_the_new_question_is_kept_but_no_answer(run, survey):
    run.press(3)  # → "recommend?"
    effects = run.press(4, after=0.15)  # a double tap: still showing the chosen card
    assert effects == [] and run.phase.question_id == "recommend" and len(run.phase.draft.answers) == 1
    run.press(1, after=survey.feedback_seconds + survey.read_seconds)  # read, then answered
    run.wait(flow.last_answer_hold(survey))
    (record,) = run.saved
    assert record.presses == (3, 4, 1) and [a.option for a in record.answers] == ["happy", "no"]


def test_a_burst_becomes_one_misuse_row_with_every_press_and_the_leds_go_dark(run, survey):
    run.press(2)  # a plausible first answer …
    run.press(3, after=0.1)  # … a press nobody could have read: a double tap, perhaps …
    assert isinstance(run.phase, Asking)
    effects = run.press(3, after=0.1)  # … and a second one: a child
    assert isinstance(run.phase, Burst) and effects == [LightButtons(frozenset())]
    run.press(3, after=0.1)
    for _ in range(10):  # the child goes on: nothing flashes, nothing is saved yet
        assert run.press(1, after=0.1) == []
    run.wait(survey.burst_window_seconds - 0.01)
    assert isinstance(run.phase, Burst)
    effects = run.wait(0.01)
    assert isinstance(run.phase, Attract) and effects[-1] == LightButtons(ALL)
    (record,) = run.saved
    assert record.misuse and record.end_reason == "burst" and record.status == "abandoned"
    assert record.answers == () and not record.negative
    assert record.presses == (2,) + (3,) * (survey.burst_presses - 1) + (1,) * 10
    assert record.press_ms[-1] == 100 * (len(record.presses) - 1)


def test_presses_that_could_each_be_read_are_a_burst_when_too_many_come_too_fast(run, survey):
    run.press(1)  # → "what went wrong?", readable after feedback_seconds + read_seconds
    readable = survey.feedback_seconds + survey.read_seconds
    run.press(5, after=readable)  # not an option …
    run.press(5, after=0.5)  # … not an option …
    assert isinstance(run.phase, Asking)
    run.press(5, after=2 - readable - 0.5 - 0.01)  # … the fourth press within 2 s
    assert isinstance(run.phase, Burst)


def test_a_burst_that_starts_with_a_plausible_last_answer_is_still_caught(run, survey):
    run.press(3)  # → "recommend?"
    run.press(1, after=2)  # "no" … a completed negative response, held for its moment, unless:
    (held,) = run.held
    assert held.status == "completed" and held.negative
    effects = []
    for _ in range(survey.burst_presses - 1):
        effects += run.press(4, after=0.1)
    assert isinstance(run.phase, Burst) and run.saved == []
    # The held row is a misuse row from the moment the burst is caught: a power cut now never
    # sends it as a completed negative response.
    (amend,) = [e for e in effects if isinstance(e, AmendResponse)]
    assert amend.record.misuse and not amend.record.negative and amend.held_for == "moment"
    (held,) = run.held
    assert held.misuse
    run.press(2, after=0.3)  # the child goes on: into the same row
    run.wait(survey.burst_window_seconds)
    (record,) = run.saved
    assert record.misuse and not record.negative and record.status == "abandoned" and record.presses == (3, 1, 4, 4, 4, 2)
    assert run.held == [] and len(run.outbox.rows) == 1, "the burst went into the held row, not a second one"


def test_the_complete_response_is_held_from_its_last_answer_and_released_when_thanked(run, survey):
    run.press(3)
    effects = run.press(4)
    (hold,) = [e for e in effects if isinstance(e, HoldResponse)]
    assert hold.record.status == "completed" and hold.record.finished == run.clock.now()
    assert run.phase.held == run.outbox.uuids[0], "the Held event names the row"
    run.press(2, after=0.2)  # unread: joins the trail, extends the moment, writes nothing
    assert run.effects == [] and run.saved == []
    effects = run.wait(flow.last_answer_hold(survey))
    (release,) = [e for e in effects if isinstance(e, ReleaseResponse)]
    assert release.uuid == run.outbox.uuids[0] and release.record.presses == (3, 4, 2) and release.record.finished == hold.record.finished
    assert isinstance(run.phase, ThankYou) and run.phase.pending is None and run.phase.held is None


def test_stopping_during_the_moment_releases_the_held_row_completed(run, survey):
    run.press(3)
    run.press(4)
    effects = run.send(flow.Shutdown(run.clock.advance(0.1)))
    assert [type(e) for e in effects] == [ReleaseResponse]
    (record,) = run.saved
    assert record.status == "completed" and run.held == []


def test_written_after_the_frame_are_only_rows_already_on_the_card_or_not_yet_thanked():
    assert set(flow.WRITTEN_AFTER_THE_FRAME) == {HoldResponse, AmendResponse, ReleaseResponse}
    assert SaveResponse not in flow.WRITTEN_AFTER_THE_FRAME


def test_one_extra_press_after_the_last_answer_joins_its_trail(run, survey):
    run.press(3)
    run.press(4)
    run.press(4, after=0.2)
    assert run.saved == []  # the thank-you waits for the chosen card's moment after that press
    run.wait(flow.last_answer_hold(survey))
    (record,) = run.saved
    assert record.status == "completed" and record.presses == (3, 4, 4) and len(record.answers) == 2


def test_a_very_long_response_is_misuse_and_a_burst_row_is_bounded(run):
    run.press(3)
    for _ in range(flow.MAX_PRESSES_PER_ROW - 1):
        run.press(2, after=0.7)  # not an option on "recommend?", slower than a burst
    assert isinstance(run.phase, Burst)
    run.press(2, after=0.05)
    run.wait(10)
    first, second = run.saved
    assert len(first.presses) == flow.MAX_PRESSES_PER_ROW and second.presses == (2,)
    assert first.misuse and second.misuse


def test_without_a_feedback_moment_the_next_screen_and_the_save_come_at_once(survey, clock):
    run = Run(replace(survey, feedback_seconds=0), clock)
    assert run.press(3) == [FlashButton(3), LightButtons(frozenset({1, 4}))]
    assert run.state.feedback is None
    effects = run.press(4)
    assert [type(e) for e in effects] == [FlashButton, SaveResponse, LightButtons] and run.saved[0].status == "completed"


def test_burst_detection_can_be_turned_off(survey, clock):
    run = Run(replace(survey, burst_presses=0), clock)
    run.press(3)
    for _ in range(10):
        run.press(2, after=0.05)
    assert isinstance(run.phase, Asking)


# --- feedback ---------------------------------------------------------------------------------


def test_the_chosen_card_is_state_with_a_deadline(run, survey):
    run.press(3)
    assert run.state.feedback == flow.Feedback("chosen", 3, run.clock.monotonic + survey.feedback_seconds, shown=Attract("tr"))
    assert flow.next_deadline(run.state) == run.clock.monotonic + survey.feedback_seconds
    run.wait(survey.feedback_seconds)
    assert run.state.feedback is None


def test_a_button_the_question_does_not_use_is_kept_in_the_trail_with_a_cue(run):
    run.press(4)  # → recommend, which uses buttons 1 and 4
    effects = run.press(2)
    assert effects == [HintButtons(frozenset({1, 4}))] and run.phase.question_id == "recommend"
    assert run.state.feedback.kind == "not_an_option" and run.state.feedback.button == 2
    run.finish(1)
    (record,) = run.saved
    assert record.presses == (4, 2, 1)
    assert [a.button for a in record.answers] == [4, 1]


def test_a_button_the_start_screen_does_not_use_is_its_own_misuse_row(clock):
    two_buttons = parse_survey(TWO_QUESTIONS)
    run = Run(two_buttons, clock)
    effects = run.press(2)
    assert isinstance(run.phase, Attract)
    (record,) = run.saved
    assert record.misuse and record.presses == (2,) and record.press_ms == (0,) and record.end_reason == "misuse"
    assert effects[1:] == [HintButtons(frozenset({1, 3}))]
    assert run.state.feedback.kind == "not_an_option"


# --- thank-you and the next customer ------------------------------------------------------------


def test_presses_before_the_handover_are_misuse_and_do_not_hold_the_next_customer_back(run, survey):
    run.press(4)
    run.finish(4)
    for _ in range(10):  # a child on the buttons during the thank-you
        run.press(2, after=survey.handover_seconds / 20)
    completed, *misuse = run.saved
    assert completed.status == "completed" and len(misuse) == 10
    assert all(r.misuse and r.answers == () and r.presses == (2,) and r.end_reason == "misuse" and not r.negative for r in misuse)
    assert not any(isinstance(e, FlashButton) for e in run.effects)
    assert run.state.feedback.kind == "not_an_option"
    effects = run.wait(survey.handover_seconds / 2)  # the handover counts from the thank-you, not from the last press
    assert run.phase.ready and effects == [LightButtons(ALL)]
    run.press(3, after=0.1)  # the next customer
    assert isinstance(run.phase, Asking) and run.phase.draft.answers[0].option == "happy"


def test_after_the_handover_a_press_answers_the_first_question(run, survey):
    run.press(4)
    run.finish(4)
    run.wait(survey.handover_seconds)
    assert isinstance(run.phase, ThankYou) and run.phase.ready
    run.press(1, after=0.2)
    assert run.phase.question_id == "what-went-wrong"
    assert len(run.saved) == 1


def test_without_a_handover_the_next_press_starts_at_once(survey, clock):
    run = Run(replace(survey, handover_seconds=0), clock)
    run.press(4)
    run.finish(4)
    run.press(3, after=0.01)
    assert isinstance(run.phase, Asking) and run.phase.draft.answers[0].option == "happy"


def test_a_late_tick_applies_every_deadline_in_order(run, survey):
    run.press(4)
    run.press(4)
    effects = run.wait(60)  # the loop was busy: the release, then straight past the thank-you
    assert [type(e) for e in effects] == [ReleaseResponse, LightButtons]
    assert isinstance(run.phase, Attract)


# --- language ---------------------------------------------------------------------------------


def test_the_start_screen_never_changes_by_itself(run):
    assert flow.next_deadline(run.state) is None and flow.next_wakeup(run.state, run.clock.monotonic) is None
    run.wait(3600)
    assert run.phase == Attract("tr")


def test_language_button_switches_everywhere_and_resets_on_attract(run, survey):
    run.language()
    assert run.phase.language == "en"
    run.press(3)
    run.language()
    assert run.phase.draft.language == "tr"
    run.language()
    run.finish(4)
    assert run.saved[0].language == "en"
    run.language()
    assert run.phase.language == "tr"
    run.wait(survey.thank_you_seconds + 1)
    assert run.phase == Attract("tr")


def test_language_button_mid_survey_counts_as_activity(run, survey):
    run.press(3)
    run.language(after=survey.idle_timeout_seconds - 1)
    run.wait(survey.idle_timeout_seconds - 1)
    assert isinstance(run.phase, Asking)


# --- survey replacement, shutdown ---------------------------------------------------------------


def test_survey_replaced_on_attract_applies_at_once(run, clock):
    new = parse_survey(TWO_QUESTIONS)
    effects = run.send(flow.SurveyReplaced(new, clock.now()))
    assert run.state.survey is new
    assert effects == [flow.SurveyApplied(new), LightButtons(frozenset({1, 3}))]


def test_survey_replaced_mid_response_waits_for_the_response_to_end(run, survey, clock):
    run.press(3)
    new = parse_survey(TWO_QUESTIONS)
    run.send(flow.SurveyReplaced(new, clock.now()))
    assert run.state.survey is survey and run.state.pending_survey is new
    run.finish(4)
    assert run.saved[0].survey_id == "exit-default"
    run.wait(survey.thank_you_seconds)
    assert run.state.survey is new and run.state.pending_survey is None
    assert isinstance(run.phase, Attract)


def test_survey_replaced_then_idle_abandon_applies_it(run, survey, clock):
    run.press(3)
    new = parse_survey(TWO_QUESTIONS)
    run.send(flow.SurveyReplaced(new, clock.now()))
    run.wait(survey.idle_timeout_seconds)
    assert run.saved[0].survey_id == "exit-default" and run.saved[0].status == "abandoned"
    assert run.state.survey is new


def test_survey_replaced_during_a_burst_applies_when_it_ends(run, survey, clock):
    for _ in range(survey.burst_presses):
        run.press(1, after=0.1)
    new = parse_survey(TWO_QUESTIONS)
    run.send(flow.SurveyReplaced(new, clock.now()))
    assert isinstance(run.phase, Burst) and run.state.survey is survey
    run.wait(survey.burst_window_seconds)
    assert run.state.survey is new and run.saved[0].survey_id == "exit-default"


def test_shutdown_mid_response_saves_it_as_abandoned(run):
    run.press(1)
    run.send(flow.Shutdown(run.clock.advance(1)))
    (record,) = run.saved
    assert record.status == "abandoned" and record.end_reason == "shutdown"


def test_shutdown_right_after_the_last_answer_saves_it_completed(run):
    run.press(3)
    run.press(4)
    run.send(flow.Shutdown(run.clock.advance(0.05)))
    (record,) = run.saved
    assert record.status == "completed" and len(record.answers) == 2


def test_shutdown_during_a_burst_saves_it(run, survey):
    for _ in range(survey.burst_presses):
        run.press(1, after=0.1)
    run.send(flow.Shutdown(run.clock.advance(0.1)))
    (record,) = run.saved
    assert record.end_reason == "burst" and len(record.presses) == survey.burst_presses


@pytest.mark.parametrize("phase_setup", ["attract", "thank_you"])
def test_shutdown_outside_a_response_saves_nothing(run, phase_setup):
    if phase_setup == "thank_you":
        run.press(4)
        run.finish(4)
    before = len(run.saved)
    assert run.send(flow.Shutdown(run.clock.advance(1))) == []
    assert len(run.saved) == before


def test_records_carry_wall_monotonic_and_sync_state(run):
    run.clock.synced = False
    run.press(4)
    run.clock.synced = True
    run.finish(4)
    (record,) = run.saved
    assert not record.started.clock_synced and record.finished.clock_synced
    assert record.finished.monotonic - record.started.monotonic == pytest.approx(PACE)
    assert record.finished.wall - record.started.wall == pytest.approx(PACE)


def test_next_deadline_per_phase(run, survey, clock):
    assert flow.next_deadline(run.state) is None
    run.press(3)
    assert flow.next_deadline(run.state) == clock.monotonic + survey.feedback_seconds
    run.wait(survey.feedback_seconds)
    assert flow.next_deadline(run.state) == clock.monotonic - survey.feedback_seconds + survey.idle_timeout_seconds
    run.finish(4)
    assert flow.next_deadline(run.state) == clock.monotonic + survey.handover_seconds
    run.wait(survey.handover_seconds)
    assert flow.next_deadline(run.state) == clock.monotonic - survey.handover_seconds + survey.thank_you_seconds


def test_early_ticks_change_nothing(run, survey):
    run.press(3)
    run.wait(survey.feedback_seconds)
    state = run.state
    assert run.send(flow.Tick(run.clock.advance(0.01))) == []
    assert run.state is state


def test_unknown_event_is_a_type_error(run):
    with pytest.raises(TypeError):
        flow.step(run.state, object())


TWO_QUESTIONS = """
id = "two"
version = 2
languages = ["tr"]
welcome.tr = "Merhaba"
thank_you.tr = "Teşekkürler"
[[questions]]
id = "q1"
text.tr = "Memnun musunuz?"
  [[questions.options]]
  id = "no"
  button = 1
  negative = true
  label.tr = "Hayır"
  [[questions.options]]
  id = "yes"
  button = 3
  label.tr = "Evet"
[[questions]]
id = "q2"
text.tr = "Tekrar gelir misiniz?"
  [[questions.options]]
  id = "no"
  button = 1
  label.tr = "Hayır"
  [[questions.options]]
  id = "yes"
  button = 3
  label.tr = "Evet"
"""


# --- properties over random people ---------------------------------------------------------------

#: Gaps between presses: bursts, double taps, brisk and slow readers, walk-aways.
gaps = st.one_of(st.floats(0.01, 0.35), st.floats(0.35, 3), st.floats(3, 10), st.floats(10, 30))
buttons = st.integers(min_value=scenarios.LANGUAGE, max_value=5)  # 5: a button no question uses
scripts = st.lists(st.tuples(gaps, buttons), max_size=60)


def timeline(script, who="someone", start=0.0):
    presses, at = [], start
    for gap, button in script:
        at += gap
        presses.append(scenarios.Press(round(at, 3), button, who))
    return presses


def check_record(survey, record):
    assert record.finished.monotonic >= record.started.monotonic
    assert len(record.press_ms) == len(record.presses) and list(record.press_ms) == sorted(record.press_ms)
    assert not (record.suspect and record.negative)
    if record.misuse:
        assert record.answers == () and record.status == "abandoned" and not record.negative
        return
    # The answers follow the survey's own branching, each one a press of the response.
    question = survey.first
    for answer in record.answers:
        assert answer.question == question.id
        option = question.option_for(answer.button)
        assert option is not None and option.id == answer.option
        assert answer.elapsed_ms in record.press_ms
        question = survey.after(question, option)
    assert (record.status == "completed") == (question is None)


def has_burst(survey, record):
    n, window = survey.burst_presses, survey.burst_window_seconds * 1000
    return any(record.press_ms[i + n - 1] - record.press_ms[i] < window for i in range(len(record.press_ms) - n + 1))


@settings(max_examples=300, deadline=None)
@given(scripts, st.sampled_from([0.0, 120.0]))
def test_every_press_ends_up_in_exactly_one_valid_row(survey, script, settle):
    played = scenarios.play(survey, timeline(script), settle=settle)
    assert played.lost == [] and played.unexplained == 0
    for record in played.rows:
        check_record(survey, record)


@settings(max_examples=300, deadline=None)
@given(scripts, scripts, st.integers(4, 20), st.floats(0.01, 0.66), st.lists(st.integers(1, 5), min_size=1, max_size=4))
def test_a_burst_is_never_a_completed_or_negative_response(survey, before, after, count, interval, mashed):
    assert survey.burst_presses <= 4  # every child here presses at least that often …
    assert survey.feedback_seconds >= 0.3  # … and faster than the last answer's moment lasts
    lead = timeline(before)
    start = (lead[-1].at if lead else 0.0) + 0.5
    child = scenarios.burst("child", mashed, start, count=count, interval=interval)
    tail = timeline(after, start=child[-1].at + 0.5)
    played = scenarios.play(survey, lead + child + tail)
    assert played.lost == [] and played.unexplained == 0
    for record, owners in zip(played.rows, played.owners):
        if has_burst(survey, record) or owners.count("child") >= survey.burst_presses:
            assert record.misuse and not record.negative and record.status != "completed"


@settings(max_examples=200, deadline=None)
@given(scripts, st.lists(st.floats(0.0, 0.999), max_size=10), st.floats(0, 10), st.sampled_from([1, 2, 3, 4]))
def test_the_next_customer_is_never_held_back_longer_than_the_handover(survey, before, misuse, wait, button):
    clock = FakeClock()
    run = Run(survey, clock)
    for gap, pressed in before:  # whatever happened before …
        run.send(flow.NextLanguage(clock.advance(gap)) if pressed == scenarios.LANGUAGE else flow.Pressed(pressed, clock.advance(gap)))
    run.wait(120)  # … has settled
    run.finish(3, 4)  # a customer is done: "thank you" shows from now
    shown = clock.monotonic
    for fraction in sorted(misuse):  # presses before the handover, as many and as fast as you like
        run.send(flow.Pressed(2, clock.advance(max(shown + fraction * survey.handover_seconds - clock.monotonic, 0))))
    run.press(button, after=shown + survey.handover_seconds + wait - clock.monotonic)
    assert isinstance(run.phase, Asking), "the next customer's press must start their response"
    assert run.phase.draft.presses == (button,) and [a.question for a in run.phase.draft.answers] == [survey.first.id]


@settings(max_examples=300, deadline=None)
@given(scripts, st.sampled_from([0.0, 120.0]))
def test_nothing_is_sent_before_its_hold_ends_and_nothing_sent_changes(survey, script, settle):
    """A complete response becomes sendable only once its last answer's moment is over (never
    while a burst could still make it misuse), and a row once sendable is never rewritten
    (``scenarios.Rows`` refuses to amend or release a row that is not held)."""
    clock = FakeClock()
    run = Run(survey, clock)
    sent: dict[int, object] = {}
    hold = flow.last_answer_hold(survey)

    def check():
        held = set(run.outbox.held.values())
        for index, row in enumerate(run.outbox.rows):
            if index in held:
                continue
            if index in sent:
                assert sent[index] is row, "a sent row was rewritten"
                continue
            sent[index] = row
            if row.status == "completed" and row.end_reason == "completed":
                last = row.started.monotonic + row.press_ms[-1] / 1000
                assert clock.monotonic >= last + hold - 1e-9, "sent before its last answer's moment ended"

    for at, button in ((p.at, p.button) for p in timeline(script)):
        while (wake := flow.next_wakeup(run.state, clock.monotonic)) is not None and wake <= at:
            run.send(flow.Tick(clock.advance(max(wake - clock.monotonic, 0.0))))
            check()
        clock.advance(max(at - clock.monotonic, 0.0))
        run.send(flow.NextLanguage(clock.now()) if button == scenarios.LANGUAGE else flow.Pressed(button, clock.now()))
        check()
    run.wait(settle)
    check()


@settings(max_examples=200, deadline=None)
@given(scripts)
def test_the_flow_is_deterministic(survey, script):
    def replay():
        played = scenarios.play(survey, timeline(script), settle=0)
        return played.rows, played.owners

    assert replay() == replay()


def test_instant_is_plain_data():
    assert Instant(1.0, 2.0, True) == Instant(1.0, 2.0, True)
