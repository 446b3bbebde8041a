"""The flow is pure, so it is walked here exhaustively with an injected clock."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import flow
from kiosk.clock import Instant
from kiosk.flow import Asking, Attract, FlashButton, LightButtons, SaveResponse, ThankYou
from kiosk.survey import parse_survey


class Run:
    """Drives a flow like the kiosk does, collecting effects."""

    def __init__(self, survey, clock):
        self.clock = clock
        self.state, self.effects = flow.start(survey, clock.now())
        self.saved = []

    def send(self, event):
        self.state, effects = flow.step(self.state, event)
        self.effects = effects
        self.saved += [e.record for e in effects if isinstance(e, SaveResponse)]
        return effects

    def press(self, button, after=0.5):
        return self.send(flow.Pressed(button, self.clock.advance(after)))

    def wait(self, seconds):
        return self.send(flow.Tick(self.clock.advance(seconds)))

    @property
    def phase(self):
        return self.state.phase


@pytest.fixture
def run(survey, clock):
    return Run(survey, clock)


def test_starts_on_the_attract_screen_with_the_first_questions_buttons_lit(run):
    assert isinstance(run.phase, Attract)
    assert run.phase.language == "tr"
    assert run.effects == [LightButtons(frozenset({1, 2, 3, 4}))]


def test_happy_path_answers_two_questions_then_thanks(run):
    effects = run.press(3)
    assert isinstance(run.phase, Asking) and run.phase.question_id == "recommend"
    assert effects == [FlashButton(3), LightButtons(frozenset({1, 4}))]
    effects = run.press(4, after=1.2)
    assert isinstance(run.phase, ThankYou) and not run.phase.negative
    assert [type(e) for e in effects] == [FlashButton, SaveResponse, LightButtons]
    (record,) = run.saved
    assert record.status == "completed" and not record.misuse and not record.negative
    assert [(a.question, a.option, a.button) for a in record.answers] == [("satisfaction", "happy", 3), ("recommend", "yes", 4)]
    assert record.answers[1].elapsed_ms == 1200
    assert record.presses == (3, 4)
    assert record.language == "tr"
    assert record.survey_id == "exit-default" and record.survey_version == 1


def test_unhappy_branches_to_the_follow_up_then_rejoins(run):
    run.press(1)
    assert run.phase.question_id == "what-went-wrong"
    run.press(2)
    assert run.phase.question_id == "recommend"
    run.press(1)
    (record,) = run.saved
    assert [a.question for a in record.answers] == ["satisfaction", "what-went-wrong", "recommend"]
    assert record.negative
    assert isinstance(run.phase, ThankYou) and run.phase.negative


def test_thank_you_ends_after_its_time_and_attract_returns(run, survey):
    run.press(4)
    run.press(4)
    run.wait(survey.thank_you_seconds - 0.1)
    assert isinstance(run.phase, ThankYou)
    effects = run.wait(0.2)
    assert isinstance(run.phase, Attract)
    assert effects == [LightButtons(frozenset({1, 2, 3, 4}))]


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
    run.press(2, after=survey.idle_timeout_seconds - 1)
    run.wait(survey.idle_timeout_seconds - 1)
    assert isinstance(run.phase, Asking)


def test_presses_on_the_thank_you_screen_are_saved_as_misuse_and_extend_it(run, survey):
    run.press(4)
    run.press(4)
    for _ in range(20):  # a child on the buttons
        run.press(2, after=0.1)
    completed, *misuse = run.saved
    assert completed.status == "completed"
    assert len(misuse) == 20
    assert all(r.misuse and r.answers == () and r.presses == (2,) and r.end_reason == "misuse" for r in misuse)
    assert isinstance(run.phase, ThankYou)
    # The screen stays until the window has passed since the *last* press.
    run.wait(survey.misuse_window_seconds - 0.1)
    assert isinstance(run.phase, ThankYou)
    run.wait(0.2)
    assert isinstance(run.phase, Attract)
    run.press(3)
    assert isinstance(run.phase, Asking)  # the next customer counts again


def test_misuse_presses_get_no_led_flash(run):
    run.press(4)
    run.press(4)
    effects = run.press(1)
    assert not any(isinstance(e, FlashButton) for e in effects)


def test_without_a_misuse_window_a_press_on_thank_you_starts_the_next_response(survey, clock):
    run = Run(replace(survey, misuse_window_seconds=0), clock)
    run.press(4)
    run.press(4)
    run.press(3, after=0.2)
    assert isinstance(run.phase, Asking) and run.phase.draft.answers[0].option == "happy"
    assert len(run.saved) == 1


def test_a_button_the_question_does_not_use_is_kept_in_the_trail_not_answered(run):
    run.press(4)  # → recommend, which uses buttons 1 and 4
    effects = run.press(2)
    assert effects == [] and run.phase.question_id == "recommend"
    run.press(1)
    (record,) = run.saved
    assert record.presses == (4, 2, 1)
    assert [a.button for a in record.answers] == [4, 1]


def test_a_button_the_start_screen_does_not_use_starts_nothing(clock):
    two_buttons = parse_survey(TWO_QUESTIONS)
    run = Run(two_buttons, clock)
    effects = run.press(2)
    assert effects == [] and isinstance(run.phase, Attract)


def test_attract_rotates_languages_and_the_first_press_keeps_the_shown_one(run, survey):
    run.wait(survey.attract_rotate_seconds)
    assert run.phase.language == "en"
    run.wait(survey.attract_rotate_seconds)
    assert run.phase.language == "tr"
    run.wait(survey.attract_rotate_seconds)
    run.press(4, after=0.1)
    run.wait(survey.attract_rotate_seconds)  # no rotation mid-survey
    run.press(4)
    assert run.saved[0].language == "en"
    assert run.phase.language == "en"


def test_language_button_switches_everywhere_and_resets_on_attract(run, survey):
    run.send(flow.NextLanguage(run.clock.advance(0.1)))
    assert run.phase.language == "en"
    run.press(3)
    run.send(flow.NextLanguage(run.clock.advance(0.1)))
    assert run.phase.draft.language == "tr"
    run.send(flow.NextLanguage(run.clock.advance(0.1)))
    run.press(4)
    assert run.saved[0].language == "en"
    run.send(flow.NextLanguage(run.clock.advance(0.1)))
    assert run.phase.language == "tr"
    run.wait(survey.thank_you_seconds + 1)
    assert run.phase == Attract("tr", run.clock.monotonic)


def test_language_button_mid_survey_counts_as_activity(run, survey):
    run.press(3)
    run.send(flow.NextLanguage(run.clock.advance(survey.idle_timeout_seconds - 1)))
    run.wait(survey.idle_timeout_seconds - 1)
    assert isinstance(run.phase, Asking)


def test_single_language_survey_never_rotates(clock):
    run = Run(parse_survey(TWO_QUESTIONS), clock)
    assert flow.next_deadline(run.state) is None
    run.wait(3600)
    assert run.phase.language == "tr"


def test_survey_replaced_on_attract_applies_at_once(run, clock):
    new = parse_survey(TWO_QUESTIONS)
    effects = run.send(flow.SurveyReplaced(new, clock.now()))
    assert run.state.survey is new
    assert effects == [LightButtons(frozenset({1, 3}))]


def test_survey_replaced_mid_response_waits_for_the_response_to_end(run, survey, clock):
    run.press(3)
    new = parse_survey(TWO_QUESTIONS)
    run.send(flow.SurveyReplaced(new, clock.now()))
    assert run.state.survey is survey and run.state.pending_survey is new
    run.press(4)
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


def test_shutdown_mid_response_saves_it_as_abandoned(run):
    run.press(1)
    run.send(flow.Shutdown(run.clock.advance(1)))
    (record,) = run.saved
    assert record.status == "abandoned" and record.end_reason == "shutdown"


@pytest.mark.parametrize("phase_setup", ["attract", "thank_you"])
def test_shutdown_outside_a_response_saves_nothing(run, phase_setup):
    if phase_setup == "thank_you":
        run.press(4)
        run.press(4)
    before = len(run.saved)
    assert run.send(flow.Shutdown(run.clock.advance(1))) == []
    assert len(run.saved) == before


def test_records_carry_wall_monotonic_and_sync_state(run):
    run.clock.synced = False
    run.press(4)
    run.clock.synced = True
    run.press(4)
    (record,) = run.saved
    assert not record.started.clock_synced and record.finished.clock_synced
    assert record.finished.monotonic - record.started.monotonic == pytest.approx(0.5)
    assert record.finished.wall - record.started.wall == pytest.approx(0.5)


def test_next_deadline_per_phase(run, survey, clock):
    assert flow.next_deadline(run.state) == clock.monotonic + survey.attract_rotate_seconds
    run.press(3)
    assert flow.next_deadline(run.state) == clock.monotonic + survey.idle_timeout_seconds
    run.press(4)
    assert flow.next_deadline(run.state) == clock.monotonic + max(survey.thank_you_seconds, survey.misuse_window_seconds)


def test_early_ticks_change_nothing(run):
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


# --- properties over random customers ---------------------------------------------------

events = st.lists(
    st.one_of(
        st.tuples(st.just("press"), st.integers(min_value=1, max_value=5), st.floats(min_value=0, max_value=30)),
        st.tuples(st.just("tick"), st.just(0), st.floats(min_value=0, max_value=30)),
        st.tuples(st.just("lang"), st.just(0), st.floats(min_value=0, max_value=5)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_every_started_response_is_saved_exactly_once_and_valid(survey, script):
    from tests.dummy_clock import FakeClock

    clock = FakeClock()
    run = Run(survey, clock)
    starts = 0
    for kind, button, delay in script:
        before = run.phase
        if kind == "press":
            run.press(button, after=delay)
            if isinstance(before, Attract) and isinstance(run.phase, Asking | ThankYou):
                starts += 1
        elif kind == "tick":
            run.wait(delay)
        else:
            run.send(flow.NextLanguage(clock.advance(delay)))
    if isinstance(run.phase, Asking):
        run.send(flow.Shutdown(clock.advance(0)))
    real = [r for r in run.saved if not r.misuse]
    assert len(real) == starts
    for record in run.saved:
        assert record.finished.monotonic >= record.started.monotonic
        if record.misuse:
            assert record.answers == () and record.status == "abandoned"
            continue
        assert record.answers, "a real response has at least the first answer"
        # The answers follow the survey's own branching.
        question = survey.first
        for answer in record.answers:
            assert answer.question == question.id
            option = question.option_for(answer.button)
            assert option is not None and option.id == answer.option
            question = survey.after(question, option)
        assert (record.status == "completed") == (question is None)
        assert [a.elapsed_ms for a in record.answers] == sorted(a.elapsed_ms for a in record.answers)


@settings(max_examples=200, deadline=None)
@given(events)
def test_the_flow_is_deterministic(survey, script):
    from tests.dummy_clock import FakeClock

    def replay():
        clock = FakeClock()
        run = Run(survey, clock)
        for kind, button, delay in script:
            if kind == "press":
                run.press(button, after=delay)
            elif kind == "tick":
                run.wait(delay)
            else:
                run.send(flow.NextLanguage(clock.advance(delay)))
        return run.state, run.saved

    assert replay() == replay()


def test_instant_is_plain_data():
    assert Instant(1.0, 2.0, True) == Instant(1.0, 2.0, True)
