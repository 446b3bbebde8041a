"""The survey flow: a pure state machine.

    attract ──press──▶ asking ──last answer──▶ thank-you ──time──▶ attract
       ▲                 │ │ idle timeout                │ presses before the handover are
       │                 │ └ (saved as abandoned)        │ misuse; after it, the next customer
       │                 │ burst                         │ starts at once
       │                 ▼                               │
       └──── quiet ── burst (saved as misuse) ◀──────────┘

``step(state, event)`` returns the next state and a list of effects for the edges to carry
out (save a response, light or flash button LEDs). It does no I/O and reads no clock:
every event carries the moment it happened, so tests can walk every transition instantly
and the kiosk can replay what it did.

One customer, one response (the thresholds are survey keys, chosen and explained in
docs/survey-format.md, "One customer, one response"):

* **Idle.** No press for ``idle_timeout_seconds`` mid-survey: the response is saved as
  abandoned and the start screen returns. The last ``countdown_seconds`` are counted down on
  screen, so a slow reader sees the reset coming and a newcomer sees a survey that is ending.
* **Pause.** A gap of ``pause_seconds`` or more between two presses of one response is where a
  customer who walked away and the next one who arrived cannot be told apart from one slow
  reader. The response is kept whole (a slow reader is never split) but marked ``suspect``:
  never negative, and its thank-you screen is the neutral one.
* **Unread.** A press sooner than ``read_seconds`` after a question appeared cannot be an
  answer to it (nobody reads that fast): it is kept in the trail, not answered.
* **Burst.** ``burst_presses`` presses within ``burst_window_seconds``, or a second press
  nobody could have read (or a response grown to ``MAX_PRESSES_PER_ROW``) is a child on the buttons: the whole response becomes one misuse
  row (no answers, never negative, never completed); the LEDs go dark and the start screen
  returns, and presses go on into that row until ``burst_window_seconds`` pass without one.
* **Last answer.** The complete response is saved *held* (``HoldResponse``: durable, not sent)
  as soon as the last answer is given, and the last chosen card's moment
  (``feedback_seconds + read_seconds``) begins; presses in that moment are unread, join it and
  extend it, so a burst that began with a plausible last answer is still caught (the held row
  is rewritten as misuse at once, ``AmendResponse``, and never sent as an answer). When the
  moment ends "thank you" shows and the row is released (``ReleaseResponse``): the response
  was durable 0.8 s before the customer is thanked, so the thank-you never waits on the card.
* **Thank-you handover.** Presses in the first ``handover_seconds`` of the thank-you screen are
  misuse (each its own row); after that a press is the next customer's first answer.

Offering help (docs/survey-format.md, "Offering help"), when the survey has a ``help_offer``::

    last answer of a negative response ──saved, held──▶ help offer ──yes──▶ helping ──▶ attract
      (link to the fleet up)                              │ │ no ─▶ thank-you      sending → waiting → coming
                                                          │ └ time, burst ─▶ attract    │        or → call-back
      (link down, the site has a contact) ──saved──▶ thank-you with the site's phone / QR ◀─┘ not confirmed

* The response is saved *held* before the offer shows (nothing is lost if the customer walks
  away or the power goes), and *released* with the answer (``help_requested``) and the presses
  made on the offer: the fleet stores a response once, so it must not be sent before it is whole.
* Help is offered only while the link to the fleet is up (``LinkChanged``): no one could be told
  otherwise. The link going down during the offer withdraws it (``help_requested`` None).
* Presses on the offer follow the response's rules (unread, burst); a burst there is a child: the
  response goes without a request for help and the presses become a misuse row.
* Only promise what can happen. After "yes" the screen says only that the request is being sent
  (*sending*) until the fleet confirms it (a ``HelpHeard`` for this response: it stored the
  request and raised an alert), and "a colleague is being told" only then. Without that word
  within ``confirm_seconds`` of "yes", nobody can be counted on: the kiosk shows what it shows
  when the link is down (the site's phone / QR, or "ask at the till") and says so
  (``HelpNotConfirmed``).
* Presses on the help screens are the waiting customer's (or a child's): each is kept as its own
  misuse row and the screen stays. The help screens end ``help_seconds`` after "yes" whatever
  happens, so the next customer waits at most that long; ``HelpHeard`` for another response (an
  earlier customer's, retained by the broker) or after the screen ended is dropped and logged.

Every press ends up in exactly one saved row, with its offset from the row's first press.

Writes no screen waits for. ``HoldResponse``, ``AmendResponse`` and ``ReleaseResponse``
(``WRITTEN_AFTER_THE_FRAME``) rewrite or create a row that nothing on screen depends on yet: the
kiosk draws the frame first and commits them right after, in the same step (see each one's
docstring for why that is safe). ``SaveResponse`` is committed before the frame, as ever.

A new survey (``SurveyReplaced``: one head office pushed, see ``kiosk.survey_push``) goes on
screen only at the start screen: at once if it is showing, else when the response in progress,
the burst, the offer of help or the help screens end (``SurveyApplied`` says when). A response
is recorded entirely under the survey it started on.

The start screen already shows the first question: a customer walking out answers with
one press instead of "press to start" and then a press to answer. Nothing on it changes by
itself: it shows the primary language large and another one smaller (see ``kiosk.view``),
and the language button swaps which is primary.

Press feedback is state with a deadline: for ``feedback_seconds`` after an answer the screen
still shows the question with the chosen card highlighted (the flow has already moved on:
the LEDs show the next question's buttons); a press of a button the screen does not offer
gets a "not an option" cue for ``NOT_AN_OPTION_SECONDS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from kiosk.contract.clock import Instant
from kiosk.contract.protocol import HelpUpdate, canonical_uuid
from kiosk.contract.survey import Survey

Status = Literal["completed", "abandoned"]
EndReason = Literal["completed", "idle", "shutdown", "misuse", "burst"]

#: How long the "not an option" cue stays on a button the screen does not offer.
NOT_AN_OPTION_SECONDS = 0.6
#: A response with this many presses is misuse whatever their pace; it also bounds a burst's row.
MAX_PRESSES_PER_ROW = 500
#: A response with this many presses nobody could have read is a burst: one is a double tap.
UNREAD_PRESSES_FOR_BURST = 2
#: Once the fleet confirmed the request, the call-back QR shows when no one acknowledged within
#: this long after "yes", unless the fleet's ``waiting`` update names the site's own wait
#: (HelpUpdate.wait_s, which always does: this is only the start value of ``call_back_at``).
DEFAULT_HELP_WAIT_SECONDS = 45.0


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


@dataclass(frozen=True)
class LinkChanged:
    """The kiosk's link to the fleet came up or went down: help is offered only while it is up."""

    up: bool
    at: Instant


@dataclass(frozen=True)
class Held:
    """The edge saved a held row under *uuid*: the response the offer of help is about (the fleet's
    updates name it), or the complete response held for its last answer's moment."""

    uuid: str
    at: Instant


@dataclass(frozen=True)
class HelpHeard:
    """The fleet says where a request for help stands (the ``help`` channel)."""

    update: HelpUpdate
    at: Instant


Event = Pressed | Tick | NextLanguage | SurveyReplaced | Shutdown | LinkChanged | Held | HelpHeard


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
    end_reason: EndReason
    press_ms: tuple[int, ...] = ()  # each press's offset from the first one, parallel to presses
    suspect: bool = False  # a pause inside it: possibly two customers (never negative then)
    help_requested: bool | None = None  # the answer to the offer of help; None: not offered (or withdrawn)


# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveResponse:
    """Commit *record* durably. *held*: it waits for the answer to the offer of help and is not
    sent before ``ReleaseResponse`` (a power cut meanwhile loses nothing: the kiosk releases it
    at its next start)."""

    record: ResponseRecord
    held: bool = False


HoldReason = Literal["offer", "moment"]


@dataclass(frozen=True)
class HoldResponse:
    """The last answer was given: commit the complete *record* durably now, held (not sent) for
    its moment (``last_answer_hold``); the edge answers with ``Held``. A power cut meanwhile
    loses nothing: the kiosk releases it, as it is, at its next start.

    Written after the frame (the chosen card) is drawn: nothing thanks the customer before the
    moment ends, ``feedback_seconds + read_seconds`` later, and by then the row is on the card."""

    record: ResponseRecord


@dataclass(frozen=True)
class AmendResponse:
    """Rewrite the held row *uuid* to *record*, still held, now *for*: a burst caught in the last
    answer's moment (a misuse row from now on, even after a power cut), or the offer of help that
    follows a negative response (with the presses made in the moment).

    Written after the frame: the response is already on the card; this only changes what it
    will say once released."""

    uuid: str
    record: ResponseRecord
    held_for: HoldReason


@dataclass(frozen=True)
class ReleaseResponse:
    """The held response is whole: update it to *record* (the answer to the offer, the presses
    made on it or in the last answer's moment, a burst's) and send it; a request for help goes
    before any backlog.

    Written after the frame: the row is already on the card, so "thank you" may show first. The
    answer to the offer is committed in the same step, before the help screen follows it
    (``feedback_seconds`` later)."""

    uuid: str | None
    record: ResponseRecord


@dataclass(frozen=True)
class DropHelpUpdate:
    """A HelpUpdate no help screen is waiting for: not shown, only logged with *reason*."""

    update: HelpUpdate
    reason: str


@dataclass(frozen=True)
class HelpNotConfirmed:
    """After "yes", the fleet did not confirm the request for help within ``confirm_seconds``: no
    one may have been told, so the site's own contact shows instead. Logged as a warning (it means
    the link or the fleet is slow or down, or the fleet dropped the request)."""

    response_uuid: str | None
    confirm_seconds: float


@dataclass(frozen=True)
class LightButtons:
    """Light the LEDs of exactly these buttons: the ones that answer what is on screen."""

    buttons: frozenset[int]


@dataclass(frozen=True)
class FlashButton:
    """A press counted: blink that button's LED so the customer knows it registered."""

    button: int


@dataclass(frozen=True)
class HintButtons:
    """A press that is not an option: briefly pulse the lit buttons, the ones that are."""

    buttons: frozenset[int]


@dataclass(frozen=True)
class SurveyApplied:
    """A survey sent by ``SurveyReplaced`` is on screen now: it waited for a safe point (the start
    screen: no customer mid-response, no help screen). A pushed survey is reported ``applied`` on this."""

    survey: Survey


Effect = SaveResponse | HoldResponse | AmendResponse | ReleaseResponse | DropHelpUpdate | HelpNotConfirmed | LightButtons | FlashButton | HintButtons | SurveyApplied

#: Durable writes of rows no frame depends on yet: the kiosk draws first and commits them after.
WRITTEN_AFTER_THE_FRAME = (HoldResponse, AmendResponse, ReleaseResponse)


# --- phases and state --------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A response in progress (or a burst being collected)."""

    language: str
    started: Instant
    last_press: float  # monotonic moment of the last activity (a press or the language button)
    answers: tuple[Answer, ...] = ()
    presses: tuple[int, ...] = ()
    press_ms: tuple[int, ...] = ()
    suspect: bool = False
    unread: int = 0  # presses that came sooner than anyone could read the screen they were on


@dataclass(frozen=True)
class Attract:
    language: str


@dataclass(frozen=True)
class Asking:
    question_id: str
    draft: Draft
    shown_at: float = -math.inf  # monotonic moment the question became visible (after the chosen feedback)


@dataclass(frozen=True)
class ThankYou:
    """The response is complete. For a moment after the last answer (*pending*) it is saved but
    held (*held*: its row's uuid): presses that follow at once join it, so a child's burst that
    began with a plausible last answer is still caught. It is released when the thank-you text
    is shown (*shown_at*)."""

    language: str
    negative: bool
    shown_at: float  # monotonic moment the thank-you text becomes visible
    ready: bool = False  # the handover has passed: a press now starts the next customer
    pending: Draft | None = None  # the complete response, until it is saved at shown_at
    answered: Instant | None = None  # when its last answer was given (the record's finish)
    fallback: bool = False  # no staff could be told: the site's phone or QR shows, for fallback_seconds
    held: str | None = None  # the row *pending* is saved in, held (the Held event), until shown_at


@dataclass(frozen=True)
class OfferingHelp:
    """ "Shall a colleague come to you right now?" after a negative response, which is saved
    and held (``record``) until the answer. Presses on it are kept in *presses* until then."""

    language: str
    record: ResponseRecord
    shown_at: float
    response_uuid: str | None = None  # as the outbox saved it (the Held event)
    presses: Draft | None = None


HelpStage = Literal["sending", "waiting", "coming", "call_back"]


@dataclass(frozen=True)
class Helping:
    """The customer asked for help. *sending* until the fleet confirms the request (any update for
    it; none within ``confirm_seconds``: the site's contact instead, see ``HelpNotConfirmed``);
    then *waiting* (staff are being told) until someone acknowledges (*coming*) or
    ``call_back_at`` passes (*call_back*: a QR to the call-back page, or the site's phone); over
    at ``since + help_seconds`` whatever happens."""

    language: str
    response_uuid: str | None
    since: float  # monotonic moment of "yes"
    call_back_at: float
    stage: HelpStage = "sending"
    alert_id: int | None = None
    staff: str = ""
    eta_minutes: int | None = None
    callback_url: str = ""
    heard: float = -1.0  # the fleet's clock on the newest update shown: an older one is ignored


@dataclass(frozen=True)
class Burst:
    """Presses too fast to be answers: collected into one misuse row until they stop."""

    language: str  # of the start screen shown meanwhile
    draft: Draft
    held: str | None = None  # the held row it was caught in (a last answer's moment): its presses go there


Phase = Attract | Asking | ThankYou | Burst | OfferingHelp | Helping


@dataclass(frozen=True)
class Contact:
    """The site's own number and web address (the kiosk config's ``[help]``), shown when no
    staff can be told: the link to the fleet is down, or no one came and no call-back page is known."""

    phone: str = ""
    url: str = ""


@dataclass(frozen=True)
class Feedback:
    """What the screen shows about the last press until *until* (monotonic).

    "chosen": the screen still shows *shown* (the phase the answer was given on) with the
    chosen card highlighted. "not_an_option": the current screen with a cue on *button*.
    """

    kind: Literal["chosen", "not_an_option"]
    button: int
    until: float
    shown: Phase | None = None


@dataclass(frozen=True)
class KioskState:
    survey: Survey
    phase: Phase
    pending_survey: Survey | None = None  # a replacement waiting for the current response to end
    feedback: Feedback | None = None
    link_up: bool = False  # the link to the fleet, as last reported (help is offered only while up)
    contact: Contact | None = None
    helped: str | None = None  # the response of the latest request for help (to say why a late update is dropped)


def start(survey: Survey, at: Instant, contact: Contact | None = None) -> tuple[KioskState, list[Effect]]:
    state = KioskState(survey=survey, phase=Attract(survey.default_language), contact=contact)
    return state, [LightButtons(frozenset(survey.first.buttons))]


def step(state: KioskState, event: Event) -> tuple[KioskState, list[Effect]]:
    if isinstance(event, SurveyReplaced):
        return _replace_survey(state, event)
    if isinstance(event, Tick):
        return _tick(state, event.at)
    if isinstance(event, Held):
        phase = state.phase
        if isinstance(phase, OfferingHelp) and phase.response_uuid is None:
            return replace(state, phase=replace(phase, response_uuid=event.uuid)), []
        if isinstance(phase, ThankYou) and phase.pending is not None and phase.held is None:
            return replace(state, phase=replace(phase, held=event.uuid)), []
        return state, []
    if not isinstance(event, (Pressed, NextLanguage, Shutdown, LinkChanged, HelpHeard)):
        raise TypeError(f"not a flow event: {event!r}")
    # Deadlines that passed before this event apply first, whoever sends it: a press after
    # the idle timeout starts a new response, it does not extend the old one.
    state, effects = _tick(state, event.at)
    if isinstance(event, LinkChanged):
        state, more = _link_changed(state, event.up, event.at)
    elif isinstance(event, HelpHeard):
        state, more = _help_heard(state, event.update, event.at)
        state, later = _tick(state, event.at)  # an update can make a deadline due (a short wait_s)
        more += later
    elif isinstance(event, Shutdown):
        state, more = _shutdown(state, event.at)
    elif isinstance(event, NextLanguage):
        state, more = _next_language(state, event.at), []
    else:
        state, more = _press(state, event.button, event.at)
    return state, effects + more


def next_deadline(state: KioskState) -> float | None:
    """The monotonic moment the state changes by itself (so the main loop can sleep until then)."""
    moments = [m for m in (_phase_deadline(state), state.feedback.until if state.feedback else None) if m is not None]
    return min(moments, default=None)


def next_wakeup(state: KioskState, now: float) -> float | None:
    """The next moment the state *or what it shows* changes by itself: a deadline or a countdown step."""
    moments = [next_deadline(state)]
    idle = _idle_deadline(state)
    seconds = state.survey.countdown_seconds
    if idle is not None and seconds > 0:
        # The number shown changes when ceil(idle - now) does: at idle - k for whole k below
        # the countdown's length, and it first appears at idle - countdown_seconds.
        steps = [idle - seconds] + [idle - k for k in range(1, math.ceil(seconds))]
        moments.append(min((m for m in steps if m > now), default=None))
    return min((m for m in moments if m is not None), default=None)


def countdown(state: KioskState, now: float) -> int | None:
    """Whole seconds left before an idle reset, during its last ``countdown_seconds``; else None."""
    idle = _idle_deadline(state)
    if idle is None:
        return None
    left = idle - now
    if left <= 0 or left > state.survey.countdown_seconds:
        return None
    return math.ceil(left)


# --- transitions -------------------------------------------------------------------------


def _press(state: KioskState, button: int, at: Instant) -> tuple[KioskState, list[Effect]]:
    phase, survey = state.phase, state.survey
    now = at.monotonic
    if isinstance(phase, Burst):
        return _burst_press(state, phase, button, at)
    if isinstance(phase, OfferingHelp):
        return _offer_press(state, phase, button, at)
    if isinstance(phase, Helping):
        # The waiting customer's (or a child's): no answer to anything, and the screen stays for them.
        record = _single_press_record(survey, phase.language, button, at)
        return _not_an_option(state, button, now), [SaveResponse(record)]
    if isinstance(phase, ThankYou) and phase.pending is not None:
        return _hold_press(state, phase, phase.pending, button, at)
    if isinstance(phase, ThankYou):
        if not phase.ready:
            record = _single_press_record(survey, phase.language, button, at)
            return _not_an_option(state, button, now), [SaveResponse(record)]
        state, effects = _to_attract(state, [])
        return _with_effects(_press(state, button, at), effects)
    if isinstance(phase, Attract):
        if survey.first.option_for(button) is None:
            # Not part of any response: kept as its own misuse row, with a cue on screen.
            record = _single_press_record(survey, phase.language, button, at)
            return _not_an_option(state, button, now), [SaveResponse(record), HintButtons(frozenset(survey.first.buttons))]
        draft = Draft(language=phase.language, started=at, last_press=now)
        return _take(state, Asking(survey.first.id, draft), button, at, shown=phase)
    assert isinstance(phase, Asking)
    if now - phase.draft.last_press >= survey.pause_seconds:
        phase = replace(phase, draft=replace(phase.draft, suspect=True))
    return _take(state, phase, button, at, shown=phase)


def _take(state: KioskState, asking: Asking, button: int, at: Instant, shown: Phase) -> tuple[KioskState, list[Effect]]:
    """Add a press to the response on *asking*, then read it as an answer if it can be one."""
    survey, now = state.survey, at.monotonic
    unread = now < asking.shown_at + survey.read_seconds
    draft = _with_press(asking.draft, button, at, unread)
    if _is_burst(survey, draft):
        return _to_burst(state, draft)
    question = survey.question(asking.question_id)
    asking = replace(asking, draft=draft)
    if unread:
        # Sooner than anyone can read the question: kept in the trail, not an answer, no cue.
        return replace(state, phase=asking), []
    option = question.option_for(button)
    if option is None:
        # A button this question does not use: kept in the trail, and it proves someone is there.
        return _not_an_option(replace(state, phase=asking), button, now), [HintButtons(frozenset(question.buttons))]

    elapsed_ms = draft.press_ms[-1]
    draft = replace(draft, answers=draft.answers + (Answer(question.id, option.id, button, option.negative, elapsed_ms),))
    visible = now + survey.feedback_seconds
    chosen = Feedback("chosen", button, visible, shown=shown) if survey.feedback_seconds > 0 else None
    following = survey.after(question, option)
    if following is not None:
        next_phase = Asking(following.id, draft, shown_at=visible)
        return replace(state, phase=next_phase, feedback=chosen), [FlashButton(button), LightButtons(frozenset(following.buttons))]

    if chosen is None:  # no moment to wait for: saved at once
        record = _record(survey, draft, at, "completed", "completed")
        state, effects = _completed(replace(state, feedback=None), record, draft.language, now)
        lights = [] if isinstance(state.phase, OfferingHelp) else [LightButtons(frozenset())]
        return state, [FlashButton(button), *effects, *lights]
    # Saved (held) now, while the chosen card shows: by the time "thank you" is due it is on the card.
    hold = now + last_answer_hold(survey)
    thanks = ThankYou(language=draft.language, negative=_negative(survey, draft), shown_at=hold, pending=draft, answered=at)
    record = _record(survey, draft, at, "completed", "completed")
    return replace(state, phase=thanks, feedback=replace(chosen, until=hold)), [FlashButton(button), LightButtons(frozenset()), HoldResponse(record)]


def _completed(state: KioskState, record: ResponseRecord, language: str, shown: float, held: str | None = None) -> tuple[KioskState, list[Effect]]:
    """A complete response is on the card before anything thanks the customer for it: saved now,
    or already saved *held* (the row *held*) and released now. After a negative one the survey's
    offer of help follows while the fleet can be told (the row stays held for its answer); without
    the link, the site's own phone or QR (if the config has one) instead of an offer that could not be kept."""
    offer = state.survey.help_offer
    save: Effect = SaveResponse(record) if held is None else ReleaseResponse(held, record)
    if offer is not None and record.negative:
        if state.link_up:
            phase = OfferingHelp(language=language, record=record, shown_at=shown, response_uuid=held)
            hold: Effect = SaveResponse(record, held=True) if held is None else AmendResponse(held, record, "offer")
            return replace(state, phase=phase), [hold, LightButtons(frozenset(offer.buttons))]
        if state.contact is not None:
            return replace(state, phase=ThankYou(language, True, shown, fallback=True)), [save]
    return replace(state, phase=ThankYou(language, record.negative, shown)), [save]


def _offer_press(state: KioskState, phase: OfferingHelp, button: int, at: Instant) -> tuple[KioskState, list[Effect]]:
    """Yes or no to the offer of help, under the response's rules: a press nobody could have read
    is no answer, and a burst is a child, whose presses become a misuse row of their own."""
    survey, now = state.survey, at.monotonic
    offer = survey.help_offer
    assert offer is not None
    unread = now < phase.shown_at + survey.read_seconds
    presses = _with_press(phase.presses or Draft(language=phase.language, started=at, last_press=now), button, at, unread)
    if _is_burst(survey, presses):
        burst, effects = _to_burst(state, presses)
        return burst, [_release(phase, False, with_presses=False), *effects]
    phase = replace(phase, presses=presses)
    if unread:
        return replace(state, phase=phase), []
    if button not in offer.buttons:
        return _not_an_option(replace(state, phase=phase), button, now), [HintButtons(frozenset(offer.buttons))]
    requested = button == offer.yes_button
    visible = now + survey.feedback_seconds
    chosen = Feedback("chosen", button, visible, shown=phase) if survey.feedback_seconds > 0 else None
    effects: list[Effect] = [FlashButton(button), _release(phase, requested), LightButtons(frozenset())]
    if not requested:
        return replace(state, phase=ThankYou(phase.language, True, visible), feedback=chosen), effects
    helping = Helping(phase.language, phase.response_uuid, since=now, call_back_at=now + DEFAULT_HELP_WAIT_SECONDS, stage="sending")
    return replace(state, phase=helping, feedback=chosen, helped=phase.response_uuid), effects


def _release(phase: OfferingHelp, requested: bool | None, with_presses: bool = True) -> ReleaseResponse:
    """The held response with the answer to the offer, and (unless they became a misuse row) the
    presses made on the offer, timed from the response's first press like its own."""
    record, presses = phase.record, phase.presses
    if with_presses and presses is not None:
        shift = round((presses.started.monotonic - record.started.monotonic) * 1000)
        record = replace(record, presses=record.presses + presses.presses, press_ms=record.press_ms + tuple(shift + ms for ms in presses.press_ms))
    return ReleaseResponse(phase.response_uuid, replace(record, help_requested=requested))


def _link_changed(state: KioskState, up: bool, at: Instant) -> tuple[KioskState, list[Effect]]:
    state = replace(state, link_up=up)
    phase = state.phase
    if up or not isinstance(phase, OfferingHelp):
        return state, []
    # No one could be told any more: the offer is taken back before it is answered.
    fallback = state.contact is not None and state.survey.help_offer is not None
    thanks = ThankYou(phase.language, True, at.monotonic, fallback=fallback)
    return replace(state, phase=thanks, feedback=None), [_release(phase, None), LightButtons(frozenset())]


def _help_heard(state: KioskState, update: HelpUpdate, at: Instant) -> tuple[KioskState, list[Effect]]:
    phase = state.phase
    uuid = canonical_uuid(update.response_uuid)
    if not (isinstance(phase, Helping) and phase.response_uuid is not None and canonical_uuid(phase.response_uuid) == uuid):
        if state.helped is not None and canonical_uuid(state.helped) == uuid:
            return state, [DropHelpUpdate(update, "its help screen has ended (timed out or closed)")]
        return state, [DropHelpUpdate(update, "no help screen for this response (an earlier customer's, kept by the broker)")]
    if update.at < phase.heard:
        return state, [DropHelpUpdate(update, "older than the update on screen")]
    heard = replace(phase, heard=update.at, alert_id=update.alert_id, callback_url=update.callback_url or phase.callback_url)
    if update.state == "closed":
        return _to_attract(state, [])
    if update.state == "coming":
        return replace(state, phase=replace(heard, stage="coming", staff=update.staff, eta_minutes=update.eta_minutes)), []
    if phase.stage not in ("sending", "waiting"):
        return replace(state, phase=heard), []  # someone is coming, or the call-back shows: never back to waiting
    # Confirmed: the fleet stored the request and raised an alert (wait_s 0: it could tell nobody).
    return replace(state, phase=replace(heard, stage="waiting", call_back_at=phase.since + update.wait_s)), []


def last_answer_hold(survey: Survey) -> float:
    """How long the last answer stays highlighted, saved but held (not sent): long enough that a
    child's presses right after it (sooner than anyone could read "thank you") are caught as a burst."""
    return survey.feedback_seconds + survey.read_seconds


def _hold_press(state: KioskState, phase: ThankYou, draft: Draft, button: int, at: Instant) -> tuple[KioskState, list[Effect]]:
    """A press right after the last answer: part of that response's trail, and it holds the
    thank-you back a little longer (a burst is caught within a few such presses)."""
    draft = _with_press(draft, button, at, unread=True)
    if _is_burst(state.survey, draft):
        if phase.held is None:
            return _to_burst(state, draft)
        # Never sent as an answer, even if the power goes now: the held row is a misuse row from here.
        burst, effects = _to_burst(state, draft, held=phase.held)
        return burst, [AmendResponse(phase.held, _burst_record(state.survey, draft, at), "moment"), *effects]
    hold = at.monotonic + last_answer_hold(state.survey)
    feedback = replace(state.feedback, until=hold) if state.feedback is not None and state.feedback.kind == "chosen" else state.feedback
    return replace(state, phase=replace(phase, pending=draft, shown_at=hold), feedback=feedback), []


def _to_burst(state: KioskState, draft: Draft, held: str | None = None) -> tuple[KioskState, list[Effect]]:
    """The start screen returns with every LED dark: nothing rewards the presses that follow."""
    return replace(state, phase=Burst(language=state.survey.default_language, draft=draft, held=held), feedback=None), [LightButtons(frozenset())]


def _burst_press(state: KioskState, phase: Burst, button: int, at: Instant) -> tuple[KioskState, list[Effect]]:
    effects: list[Effect] = []
    draft = phase.draft
    if len(draft.presses) >= MAX_PRESSES_PER_ROW:
        effects.append(_burst_saved(phase, _burst_record(state.survey, draft, at)))
        draft = Draft(language=draft.language, started=at, last_press=at.monotonic)
        phase = replace(phase, held=None)
    return replace(state, phase=replace(phase, draft=_with_press(draft, button, at))), effects


def _burst_saved(phase: Burst, record: ResponseRecord) -> Effect:
    """A burst's row: new, or the held row of the last answer it was caught after (released now)."""
    return SaveResponse(record) if phase.held is None else ReleaseResponse(phase.held, record)


def _with_press(draft: Draft, button: int, at: Instant, unread: bool = False) -> Draft:
    offset = round((at.monotonic - draft.started.monotonic) * 1000)
    return replace(
        draft, presses=draft.presses + (button,), press_ms=draft.press_ms + (offset,), last_press=at.monotonic, unread=draft.unread + unread
    )


def _is_burst(survey: Survey, draft: Draft) -> bool:
    if len(draft.presses) >= MAX_PRESSES_PER_ROW:
        return True
    count = survey.burst_presses
    if count == 0:
        return False  # burst detection is off
    if draft.unread >= UNREAD_PRESSES_FOR_BURST:
        return True
    if len(draft.press_ms) < count:
        return False
    return draft.press_ms[-1] - draft.press_ms[-count] < survey.burst_window_seconds * 1000


def _not_an_option(state: KioskState, button: int, now: float) -> KioskState:
    if state.feedback is not None and state.feedback.kind == "chosen":
        return state  # the answer just given stays highlighted for its moment
    return replace(state, feedback=Feedback("not_an_option", button, now + NOT_AN_OPTION_SECONDS))


def _with_effects(result: tuple[KioskState, list[Effect]], before: list[Effect]) -> tuple[KioskState, list[Effect]]:
    state, effects = result
    return state, before + effects


def _tick(state: KioskState, at: Instant) -> tuple[KioskState, list[Effect]]:
    """Apply every deadline due by *at*, in order (the loop may have woken late)."""
    now = at.monotonic
    if state.feedback is not None and now >= state.feedback.until:
        state = replace(state, feedback=None)
    effects: list[Effect] = []
    while (deadline := _phase_deadline(state)) is not None and now >= deadline:
        state, more = _deadline_passed(state, at)
        effects += more
    return state, effects


def _deadline_passed(state: KioskState, at: Instant) -> tuple[KioskState, list[Effect]]:
    ended = _save_open_response(state, at, "idle")  # a complete one is saved before "thank you" shows
    if ended is not None:
        return ended
    phase, survey = state.phase, state.survey
    if isinstance(phase, Helping):
        if phase.stage == "sending" and at.monotonic < _help_ends(survey, phase):
            return _not_confirmed(state, phase)
        if phase.stage == "waiting" and at.monotonic < _help_ends(survey, phase):
            return replace(state, phase=replace(phase, stage="call_back")), []  # no one came in time
        return _to_attract(state, [])
    assert isinstance(phase, ThankYou)
    if not phase.ready and at.monotonic < phase.shown_at + _thank_you_seconds(survey, phase):
        # The handover has passed: the next customer may start; their buttons light up.
        return replace(state, phase=replace(phase, ready=True)), [LightButtons(frozenset(survey.first.buttons))]
    return _to_attract(state, [])


def _phase_deadline(state: KioskState) -> float | None:
    phase, survey = state.phase, state.survey
    if isinstance(phase, Asking):
        return phase.draft.last_press + survey.idle_timeout_seconds
    if isinstance(phase, Burst):
        return phase.draft.last_press + survey.burst_window_seconds
    if isinstance(phase, ThankYou):
        if phase.pending is not None:
            return phase.shown_at
        seconds = _thank_you_seconds(survey, phase)
        if not phase.ready and survey.handover_seconds < seconds:
            return phase.shown_at + survey.handover_seconds
        return phase.shown_at + seconds
    if isinstance(phase, OfferingHelp):
        assert survey.help_offer is not None
        return phase.shown_at + survey.help_offer.timeout_seconds
    if isinstance(phase, Helping):
        ends = _help_ends(survey, phase)
        if phase.stage == "sending":
            return min(_confirm_by(survey, phase), ends)
        return min(phase.call_back_at, ends) if phase.stage == "waiting" else ends
    return None


def _thank_you_seconds(survey: Survey, phase: ThankYou) -> float:
    return survey.help_offer.fallback_seconds if phase.fallback and survey.help_offer is not None else survey.thank_you_seconds


def _confirm_by(survey: Survey, phase: Helping) -> float:
    """The fleet confirms a request it stored in well under a second: silence until then means
    nobody can be counted on to come."""
    assert survey.help_offer is not None
    return phase.since + survey.help_offer.confirm_seconds


def _not_confirmed(state: KioskState, phase: Helping) -> tuple[KioskState, list[Effect]]:
    """No word from the fleet: the screen the link being down shows (the site's phone / QR, or
    "ask at the till"), for ``fallback_seconds`` from the moment the wait ended, with the
    thank-you's handover. An update heard later is dropped (its help screen has ended)."""
    offer = state.survey.help_offer
    assert offer is not None
    thanks = ThankYou(phase.language, True, _confirm_by(state.survey, phase), fallback=True)
    return replace(state, phase=thanks, feedback=None), [HelpNotConfirmed(phase.response_uuid, offer.confirm_seconds)]


def _help_ends(survey: Survey, phase: Helping) -> float:
    """The help screens end then whatever happens: the next customer never waits longer."""
    assert survey.help_offer is not None
    return phase.since + survey.help_offer.help_seconds


def _idle_deadline(state: KioskState) -> float | None:
    phase = state.phase
    return phase.draft.last_press + state.survey.idle_timeout_seconds if isinstance(phase, Asking) else None


def _shutdown(state: KioskState, at: Instant) -> tuple[KioskState, list[Effect]]:
    return _save_open_response(state, at, "shutdown") or (state, [])


def _save_open_response(state: KioskState, at: Instant, reason: Literal["idle", "shutdown"]) -> tuple[KioskState, list[Effect]] | None:
    """Save the row still open (a response in progress, a burst, a complete one not yet saved); None if there is none."""
    phase, survey = state.phase, state.survey
    if isinstance(phase, Asking):
        return _to_attract(state, [SaveResponse(_record(survey, phase.draft, at, "abandoned", reason))])
    if isinstance(phase, Burst):
        return _to_attract(state, [_burst_saved(phase, _burst_record(survey, phase.draft, at))])
    if isinstance(phase, ThankYou) and phase.pending is not None:
        record = _record(survey, phase.pending, phase.answered or at, "completed", "completed")
        if reason == "idle":  # its moment is over: released (or saved), and then maybe the offer of help
            return _completed(state, record, phase.language, phase.shown_at, held=phase.held)
        save: Effect = SaveResponse(record) if phase.held is None else ReleaseResponse(phase.held, record)
        return replace(state, phase=replace(phase, pending=None, answered=None, held=None)), [save]
    if isinstance(phase, OfferingHelp):  # not answered in time (or the kiosk stops): no help asked for
        return _to_attract(state, [_release(phase, False)])
    return None


def _next_language(state: KioskState, at: Instant) -> KioskState:
    phase, survey = state.phase, state.survey
    if isinstance(phase, Asking):
        draft = phase.draft
        suspect = draft.suspect or at.monotonic - draft.last_press >= survey.pause_seconds
        draft = replace(draft, language=_language_after(survey, draft.language), last_press=at.monotonic, suspect=suspect)
        return replace(state, phase=replace(phase, draft=draft))
    return replace(state, phase=replace(phase, language=_language_after(survey, phase.language)))


def _replace_survey(state: KioskState, event: SurveyReplaced) -> tuple[KioskState, list[Effect]]:
    if isinstance(state.phase, Attract):
        return _to_attract(replace(state, pending_survey=event.survey), [])
    # Never swap questions under a customer's feet: apply once this response is over.
    return replace(state, pending_survey=event.survey), []


def _to_attract(state: KioskState, effects: list[Effect]) -> tuple[KioskState, list[Effect]]:
    """Back to the start screen: the one safe point to put a waiting survey on screen (no
    customer is mid-response, no help screen is up)."""
    survey = state.pending_survey or state.survey
    new_state = replace(state, survey=survey, phase=Attract(survey.default_language), pending_survey=None, feedback=None)
    applied: list[Effect] = [SurveyApplied(survey)] if state.pending_survey is not None else []
    return new_state, effects + applied + [LightButtons(frozenset(survey.first.buttons))]


def _language_after(survey: Survey, language: str) -> str:
    languages = survey.languages
    if language not in languages:
        return survey.default_language
    return languages[(languages.index(language) + 1) % len(languages)]


def _record(survey: Survey, draft: Draft, at: Instant, status: Status, reason: Literal["completed", "idle", "shutdown"]) -> ResponseRecord:
    return ResponseRecord(
        survey_id=survey.id,
        survey_version=survey.version,
        language=draft.language,
        status=status,
        misuse=False,
        answers=draft.answers,
        presses=draft.presses,
        negative=_negative(survey, draft),
        started=draft.started,
        finished=at,
        end_reason=reason,
        press_ms=draft.press_ms,
        suspect=draft.suspect,
    )


def _negative(survey: Survey, draft: Draft) -> bool:
    # A suspect response may be two customers' answers: nobody is sent to act on it.
    negatives = sum(1 for answer in draft.answers if answer.negative)
    return not draft.suspect and survey.is_negative(negatives, len(draft.answers))


def _burst_record(survey: Survey, draft: Draft, at: Instant) -> ResponseRecord:
    """A burst keeps every press and its timing, and nothing else: no answers, never negative."""
    return ResponseRecord(
        survey_id=survey.id,
        survey_version=survey.version,
        language=draft.language,
        status="abandoned",
        misuse=True,
        answers=(),
        presses=draft.presses,
        negative=False,
        started=draft.started,
        finished=at,
        end_reason="burst",
        press_ms=draft.press_ms,
    )


def _single_press_record(survey: Survey, language: str, button: int, at: Instant) -> ResponseRecord:
    """A press that belongs to no response (the thank-you screen, a dark button on the start screen)."""
    return ResponseRecord(
        survey_id=survey.id,
        survey_version=survey.version,
        language=language,
        status="abandoned",
        misuse=True,
        answers=(),
        presses=(button,),
        negative=False,
        started=at,
        finished=at,
        end_reason="misuse",
        press_ms=(0,),
    )
