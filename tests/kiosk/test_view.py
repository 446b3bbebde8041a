"""Views: what each state puts into words, without a display."""

from dataclasses import replace

from kiosk import flow
from kiosk.contract.clock import Instant
from kiosk.flow import Answer, Asking, Attract, Draft, KioskState, ThankYou
from kiosk.view import OptionView, SecondaryText, view_of

MOMENT = Instant(0.0, 0.0, True)


def test_attract_shows_welcome_first_question_and_language_names(survey):
    view = view_of(KioskState(survey, Attract("en")), 0.0)
    assert view.kind == "attract" and view.heading == "Your opinion matters to us"
    assert view.text == "How was your visit?"
    assert view.languages == ("Türkçe", "English")
    assert view.options[0] == OptionView(1, "Very bad")
    assert view.step == 0


def test_attract_is_bilingual_and_the_language_button_swaps_which_is_primary(survey, clock):
    state, _ = flow.start(survey, clock.now())
    view = view_of(state, clock.monotonic)
    assert (view.language, view.heading) == ("tr", "Görüşünüz bizim için değerli")
    assert view.secondary == SecondaryText(
        "en",
        "Your opinion matters to us",
        "How was your visit?",
        (OptionView(1, "Very bad"), OptionView(2, "Bad"), OptionView(3, "Good"), OptionView(4, "Very good")),
    )
    state, _ = flow.step(state, flow.NextLanguage(clock.advance(1)))
    swapped = view_of(state, clock.monotonic)
    assert (swapped.language, swapped.text) == ("en", "How was your visit?")
    assert swapped.secondary is not None and swapped.secondary.language == "tr"


def test_nothing_on_the_start_screen_changes_by_itself(survey, clock):
    state, _ = flow.start(survey, clock.now())
    first = view_of(state, clock.monotonic)
    assert flow.next_wakeup(state, clock.monotonic) is None
    state, _ = flow.step(state, flow.Tick(clock.advance(3600)))
    assert view_of(state, clock.monotonic) == first


def test_question_progress_counts_the_longest_remaining_branch(survey):
    first = Draft("tr", MOMENT, 0.0, answers=(Answer("satisfaction", "happy", 3, False, 0),))
    view = view_of(KioskState(survey, Asking("recommend", first)), 0.0)
    assert (view.step, view.steps) == (2, 2)
    assert view.secondary is None
    unhappy = Draft("tr", MOMENT, 0.0, answers=(Answer("satisfaction", "unhappy", 2, True, 0),))
    view = view_of(KioskState(survey, Asking("what-went-wrong", unhappy)), 0.0)
    assert (view.step, view.steps) == (2, 3)
    assert view.text == "Ne ters gitti?" and [o.label for o in view.options] == ["Sıra", "Çalışan", "Hijyen", "Fiyat"]


def test_thank_you_texts(survey):
    assert view_of(KioskState(survey, ThankYou("tr", False, 0.0)), 0.0).text == "Teşekkür ederiz! İyi günler dileriz."
    sorry = view_of(KioskState(survey, ThankYou("en", True, 0.0)), 0.0)
    assert sorry.negative and sorry.text.startswith("We are sorry.")


def test_thank_you_says_when_the_next_customer_may_start(survey):
    assert not view_of(KioskState(survey, ThankYou("tr", False, 0.0)), 0.0).next_ready
    assert view_of(KioskState(survey, ThankYou("tr", False, 0.0, ready=True)), 0.0).next_ready


def test_the_chosen_card_stays_on_the_answered_screen_until_the_feedback_ends(survey, clock):
    state, _ = flow.start(survey, clock.now())
    state, _ = flow.step(state, flow.Pressed(3, clock.advance(1)))
    view = view_of(state, clock.monotonic)
    assert (view.kind, view.chosen_button) == ("attract", 3)  # the very next frame: the start screen, card 3 lit
    assert isinstance(state.phase, Asking)  # while the flow has already moved on
    state, _ = flow.step(state, flow.Tick(clock.advance(survey.feedback_seconds)))
    view = view_of(state, clock.monotonic)
    assert (view.kind, view.text, view.chosen_button) == ("question", "Bizi tavsiye eder misiniz?", None)


def test_a_button_that_is_not_an_option_gets_a_cue_on_the_same_screen(survey, clock):
    state, _ = flow.start(survey, clock.now())
    state, _ = flow.step(state, flow.Pressed(3, clock.advance(1)))
    state, _ = flow.step(state, flow.Pressed(2, clock.advance(2)))  # recommend uses 1 and 4
    view = view_of(state, clock.monotonic)
    assert (view.kind, view.not_an_option_button, view.chosen_button) == ("question", 2, None)
    state, _ = flow.step(state, flow.Tick(clock.advance(flow.NOT_AN_OPTION_SECONDS)))
    assert view_of(state, clock.monotonic).not_an_option_button is None


def test_the_idle_countdown_shows_whole_seconds_only_at_the_end(survey, clock):
    state, _ = flow.start(survey, clock.now())
    state, _ = flow.step(state, flow.Pressed(3, clock.now()))
    pressed = clock.monotonic
    state, _ = flow.step(state, flow.Tick(clock.advance(survey.feedback_seconds)))  # the chosen card's moment ends
    idle, shown = survey.idle_timeout_seconds, survey.countdown_seconds
    assert view_of(state, pressed + idle - shown - 0.01).countdown is None
    assert view_of(state, pressed + idle - shown).countdown == 4
    assert view_of(state, pressed + idle - 3.5).countdown == 4
    assert view_of(state, pressed + idle - 0.2).countdown == 1
    # The main loop wakes for each change of the number, not more often.
    assert flow.next_wakeup(state, pressed + 1) == pressed + idle - shown
    assert flow.next_wakeup(state, pressed + idle - 3.5) == pressed + idle - 3


def test_equal_states_give_equal_views(survey):
    # The screen redraws only on change, so the same state must map to an equal view.
    assert view_of(KioskState(survey, Attract("tr")), 1.0) == view_of(KioskState(survey, Attract("tr")), 2.0)
    draft = Draft("tr", MOMENT, 0.0)
    assert view_of(KioskState(survey, Asking("recommend", draft)), 1.0) == view_of(KioskState(survey, Asking("recommend", replace(draft))), 1.2)


def test_views_say_how_answers_look_scale_or_choice_with_icons(survey):
    attract = view_of(KioskState(survey, Attract("tr")), 0.0)
    assert attract.question_kind == "scale" and all(o.icon is None for o in attract.options)
    unhappy = Draft("en", MOMENT, 0.0, answers=(Answer("satisfaction", "unhappy", 2, True, 0),))
    reasons = view_of(KioskState(survey, Asking("what-went-wrong", unhappy)), 0.0)
    assert reasons.question_kind == "choice"
    assert [(o.label, o.icon) for o in reasons.options] == [("Queue", "clock"), ("Staff", "person"), ("Mess", "sparkle"), ("Price", "tag")]
