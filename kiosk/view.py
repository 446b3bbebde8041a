"""What the screen should show for a flow state, as plain data.

The screen draws a ``View`` and knows nothing of surveys or flow phases; the flow knows
nothing of pixels. Keeping this translation pure lets tests check every screen's words
without a display, and lets the screen redraw only when the view really changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from kiosk.flow import Asking, Attract, KioskState, ThankYou, current_question
from kiosk.survey import Question, Survey

#: How each language names itself, for the language hint on the start screen.
LANGUAGE_NAMES = {
    "tr": "Türkçe",
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "ru": "Русский",
    "es": "Español",
    "it": "Italiano",
    "nl": "Nederlands",
    "el": "Ελληνικά",
    "bg": "Български",
    "uk": "Українська",
}


@dataclass(frozen=True)
class OptionView:
    button: int
    label: str


@dataclass(frozen=True)
class View:
    kind: Literal["attract", "question", "thank_you"]
    language: str
    heading: str
    text: str
    options: tuple[OptionView, ...] = ()
    languages: tuple[str, ...] = ()  # names of the survey's languages, shown on the start screen
    step: int = 0  # questions answered so far + 1 (0 where no progress is shown)
    steps: int = 0  # step + the longest remaining path
    negative: bool = False


def view_of(state: KioskState) -> View:
    phase, survey = state.phase, state.survey
    if isinstance(phase, ThankYou):
        texts = survey.thank_you_negative if phase.negative else survey.thank_you
        return View(kind="thank_you", language=phase.language, heading="", text=texts[phase.language], negative=phase.negative)

    question = current_question(state)
    if isinstance(phase, Attract):
        language = phase.language
        names = tuple(LANGUAGE_NAMES.get(code, code.upper()) for code in survey.languages) if len(survey.languages) > 1 else ()
        return View(
            kind="attract",
            language=language,
            heading=survey.welcome[language],
            text=question.text[language],
            options=_options(question, language),
            languages=names,
        )

    assert isinstance(phase, Asking)
    language = phase.draft.language
    answered = len(phase.draft.answers)
    return View(
        kind="question",
        language=language,
        heading="",
        text=question.text[language],
        options=_options(question, language),
        step=answered + 1,
        steps=answered + _longest_path(survey, question.id),
    )


def _options(question: Question, language: str) -> tuple[OptionView, ...]:
    return tuple(OptionView(option.button, option.label[language]) for option in question.options)


@lru_cache(maxsize=256)
def _longest_path(survey: Survey, question_id: str) -> int:
    """Questions left including this one on the longest branch (the survey is acyclic)."""
    question = survey.question(question_id)
    longest = 0
    for option in question.options:
        following = survey.after(question, option)
        if following is not None:
            longest = max(longest, _longest_path(survey, following.id))
    return 1 + longest
