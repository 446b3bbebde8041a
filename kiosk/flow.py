"""The survey flow: a pure state machine.

    attract ──press──▶ asking ──last answer──▶ thank-you ──time──▶ attract
       ▲                 │ idle timeout                │ presses here are misuse
       └─────────────────┘ (saved as abandoned)        └ (saved, flagged, never counted)

``step(state, event)`` returns the next state and a list of effects for the edges to carry
out (save a response, light or flash button LEDs). It does no I/O and reads no clock:
every event carries the moment it happened, so tests can walk every transition instantly
and the kiosk can replay what it did.

The attract screen already shows the first question: a customer walking out answers with
one press instead of "press to start" and then a press to answer. Its language alternates
(if the survey has several) and the language showing at the first press is kept for the
rest of the response.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Union

from kiosk.clock import Instant
from kiosk.survey import Question, Survey

Status = Literal["completed", "abandoned"]


# --- events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pressed:
    button: int
    at: Instant


@dataclass(frozen=True)
class Tick:
    at: Instant


@dataclass(frozen=True)
class NextLanguage:
    at: Instant


@dataclass(frozen=True)
class SurveyReplaced:
    survey: Survey
    at: Instant


@dataclass(frozen=True)
class Shutdown:
    """The kiosk is stopping: a response in progress is saved as abandoned, not lost."""

    at: Instant


Event = Union[Pressed, Tick, NextLanguage, SurveyReplaced, Shutdown]


# --- what a response is ------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    question: str
    option: str
    button: int
    negative: bool
    elapsed_ms: int  # since the response's first press


@dataclass(frozen=True)
class ResponseRecord:
    survey_id: str
    survey_version: int
    language: str
    status: Status
    misuse: bool
    answers: tuple[Answer, ...]
    presses: tuple[int, ...]  # every button pressed, in order, including ones no option uses
    negative: bool
    started: Instant
    finished: Instant
    end_reason: Literal["completed", "idle", "shutdown", "misuse"]


# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveResponse:
    record: ResponseRecord


@dataclass(frozen=True)
class LightButtons:
    """Light the LEDs of exactly these buttons: the ones that answer what is on screen."""

    buttons: frozenset[int]


@dataclass(frozen=True)
class FlashButton:
    """A press counted: blink that button's LED so the customer knows it registered."""

    button: int


Effect = Union[SaveResponse, LightButtons, FlashButton]


# --- phases and state --------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    language: str
    started: Instant
    last_press: float  # monotonic
    answers: tuple[Answer, ...] = ()
    presses: tuple[int, ...] = ()


@dataclass(frozen=True)
class Attract:
    language: str
    since: float  # monotonic moment this language was shown


@dataclass(frozen=True)
class Asking:
    question_id: str
    draft: Draft


@dataclass(frozen=True)
class ThankYou:
    language: str
    negative: bool
    until: float  # monotonic; pushed later by every misuse press


Phase = Union[Attract, Asking, ThankYou]


@dataclass(frozen=True)
class KioskState:
    survey: Survey
    phase: Phase
    pending_survey: Survey | None = None  # a replacement waiting for the current response to end


def start(survey: Survey, at: Instant) -> tuple[KioskState, list[Effect]]:
    state = KioskState(survey=survey, phase=Attract(survey.default_language, at.monotonic))
    return state, [LightButtons(frozenset(survey.first.buttons))]


def step(state: KioskState, event: Event) -> tuple[KioskState, list[Effect]]:
    phase = state.phase
    if isinstance(event, SurveyReplaced):
        return _replace_survey(state, event)
    if isinstance(event, Shutdown):
        if isinstance(phase, Asking):
            return _to_attract(state, event.at, [SaveResponse(_record(state.survey, phase.draft, event.at, "abandoned", "shutdown"))])
        return state, []
    if isinstance(event, NextLanguage):
        return _next_language(state, event.at), []
    if isinstance(event, Tick):
        return _tick(state, event.at)
    if isinstance(event, Pressed):
        return _press(state, event.button, event.at)
    raise TypeError(f"not a flow event: {event!r}")


def next_deadline(state: KioskState) -> float | None:
    """The monotonic moment the state changes by itself (so the main loop can sleep until then)."""
    phase, survey = state.phase, state.survey
    if isinstance(phase, Asking):
        return phase.draft.last_press + survey.idle_timeout_seconds
    if isinstance(phase, ThankYou):
        return phase.until
    if survey.attract_rotate_seconds > 0 and len(survey.languages) > 1:
        return phase.since + survey.attract_rotate_seconds
    return None


def current_question(state: KioskState) -> Question:
    """The question on screen (the attract screen shows the first one)."""
    if isinstance(state.phase, Asking):
        return state.survey.question(state.phase.question_id)
    return state.survey.first


# --- transitions -------------------------------------------------------------------------


def _press(state: KioskState, button: int, at: Instant) -> tuple[KioskState, list[Effect]]:
    phase, survey = state.phase, state.survey
    if isinstance(phase, ThankYou):
        if survey.misuse_window_seconds > 0:
            return _misuse(state, phase, button, at)
        state, _ = _to_attract(state, at, [])
        phase = state.phase
        survey = state.survey
    if isinstance(phase, Attract):
        question = survey.first
        if question.option_for(button) is None:
            return state, []  # a button the start screen does not offer starts nothing
        draft = Draft(language=phase.language, started=at, last_press=at.monotonic)
    else:
        assert isinstance(phase, Asking)
        draft = phase.draft
        question = survey.question(phase.question_id)

    draft = replace(draft, presses=draft.presses + (button,), last_press=at.monotonic)
    option = question.option_for(button)
    if option is None:
        # A button this question does not use: kept in the trail, and it proves someone is there.
        return replace(state, phase=Asking(question.id, draft)), []

    elapsed_ms = round((at.monotonic - draft.started.monotonic) * 1000)
    answer = Answer(question.id, option.id, button, option.negative, elapsed_ms)
    draft = replace(draft, answers=draft.answers + (answer,))
    following = survey.after(question, option)
    if following is not None:
        return replace(state, phase=Asking(following.id, draft)), [FlashButton(button), LightButtons(frozenset(following.buttons))]

    record = _record(survey, draft, at, "completed", "completed")
    until = at.monotonic + max(survey.thank_you_seconds, survey.misuse_window_seconds)
    thanks = ThankYou(language=draft.language, negative=record.negative, until=until)
    return replace(state, phase=thanks), [FlashButton(button), SaveResponse(record), LightButtons(frozenset())]


def _misuse(state: KioskState, phase: ThankYou, button: int, at: Instant) -> tuple[KioskState, list[Effect]]:
    survey = state.survey
    record = ResponseRecord(
        survey_id=survey.id,
        survey_version=survey.version,
        language=phase.language,
        status="abandoned",
        misuse=True,
        answers=(),
        presses=(button,),
        negative=False,
        started=at,
        finished=at,
        end_reason="misuse",
    )
    until = max(phase.until, at.monotonic + survey.misuse_window_seconds)
    return replace(state, phase=replace(phase, until=until)), [SaveResponse(record)]


def _tick(state: KioskState, at: Instant) -> tuple[KioskState, list[Effect]]:
    phase, survey = state.phase, state.survey
    deadline = next_deadline(state)
    if deadline is None or at.monotonic < deadline:
        return state, []
    if isinstance(phase, Asking):
        record = _record(survey, phase.draft, at, "abandoned", "idle")
        return _to_attract(state, at, [SaveResponse(record)])
    if isinstance(phase, ThankYou):
        return _to_attract(state, at, [])
    return replace(state, phase=Attract(_language_after(survey, phase.language), at.monotonic)), []


def _next_language(state: KioskState, at: Instant) -> KioskState:
    phase, survey = state.phase, state.survey
    if isinstance(phase, Attract):
        # Restart the rotation timer: the customer chose this language and is reading it.
        return replace(state, phase=Attract(_language_after(survey, phase.language), at.monotonic))
    if isinstance(phase, Asking):
        draft = replace(phase.draft, language=_language_after(survey, phase.draft.language), last_press=at.monotonic)
        return replace(state, phase=replace(phase, draft=draft))
    return replace(state, phase=replace(phase, language=_language_after(survey, phase.language)))


def _replace_survey(state: KioskState, event: SurveyReplaced) -> tuple[KioskState, list[Effect]]:
    if isinstance(state.phase, Attract):
        return start(event.survey, event.at)
    # Never swap questions under a customer's feet: apply once this response is over.
    return replace(state, pending_survey=event.survey), []


def _to_attract(state: KioskState, at: Instant, effects: list[Effect]) -> tuple[KioskState, list[Effect]]:
    survey = state.pending_survey or state.survey
    new_state = KioskState(survey=survey, phase=Attract(survey.default_language, at.monotonic))
    return new_state, effects + [LightButtons(frozenset(survey.first.buttons))]


def _language_after(survey: Survey, language: str) -> str:
    languages = survey.languages
    if language not in languages:
        return survey.default_language
    return languages[(languages.index(language) + 1) % len(languages)]


def _record(survey: Survey, draft: Draft, at: Instant, status: Status, reason: Literal["completed", "idle", "shutdown"]) -> ResponseRecord:
    negatives = sum(1 for answer in draft.answers if answer.negative)
    return ResponseRecord(
        survey_id=survey.id,
        survey_version=survey.version,
        language=draft.language,
        status=status,
        misuse=False,
        answers=draft.answers,
        presses=draft.presses,
        negative=survey.is_negative(negatives, len(draft.answers)),
        started=draft.started,
        finished=at,
        end_reason=reason,
    )
