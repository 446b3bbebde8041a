"""Views: what each state puts into words, without a display."""

from kiosk.clock import Instant
from kiosk.flow import Answer, Asking, Attract, Draft, KioskState, ThankYou
from kiosk.view import OptionView, view_of

MOMENT = Instant(0.0, 0.0, True)


def test_attract_shows_welcome_first_question_and_language_names(survey):
    view = view_of(KioskState(survey, Attract("en", 0.0)))
    assert view.kind == "attract" and view.heading == "Your opinion matters to us"
    assert view.text == "Were you satisfied with our service today?"
    assert view.languages == ("Türkçe", "English")
    assert view.options[0] == OptionView(1, "Very unhappy")
    assert view.step == 0


def test_question_progress_counts_the_longest_remaining_branch(survey):
    first = Draft("tr", MOMENT, 0.0, answers=(Answer("satisfaction", "happy", 3, False, 0),))
    view = view_of(KioskState(survey, Asking("recommend", first)))
    assert (view.step, view.steps) == (2, 2)
    unhappy = Draft("tr", MOMENT, 0.0, answers=(Answer("satisfaction", "unhappy", 2, True, 0),))
    view = view_of(KioskState(survey, Asking("what-went-wrong", unhappy)))
    assert (view.step, view.steps) == (2, 3)
    assert view.text == "Ne ters gitti?" and [o.label for o in view.options] == ["Bekleme süresi", "Personel ilgisi", "Temizlik", "Fiyat"]


def test_thank_you_texts(survey):
    assert view_of(KioskState(survey, ThankYou("tr", False, 0.0))).text == "Teşekkür ederiz! İyi günler dileriz."
    sorry = view_of(KioskState(survey, ThankYou("en", True, 0.0)))
    assert sorry.negative and sorry.text.startswith("We are sorry.")


def test_equal_states_give_equal_views(survey):
    # The screen redraws only on change, so the same state must map to an equal view.
    assert view_of(KioskState(survey, Attract("tr", 1.0))) == view_of(KioskState(survey, Attract("tr", 2.0)))
