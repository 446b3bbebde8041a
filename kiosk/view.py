"""What the screen should show for a flow state, as plain data.

The screen draws a ``View`` and knows nothing of surveys or flow phases; the flow knows
nothing of pixels. Keeping this translation pure lets tests check every screen's words
without a display, and lets the screen redraw only when the view really changed.

A view holds no timing: the flow decides how long press feedback lasts and clears it at a
deadline, and ``view_of`` takes the current (monotonic) time only to say how many whole
seconds an idle countdown has left, so the view changes once a second at most.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from kiosk.contract.survey import HelpOffer, Question, QuestionKind, Survey
from kiosk.flow import Attract, Burst, Contact, Helping, KioskState, OfferingHelp, Phase, ThankYou, countdown

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
    icon: str | None = None  # choice questions only (a scale shows faces by position)


@dataclass(frozen=True)
class SecondaryText:
    """The start screen's words in a second language, drawn smaller under the primary ones."""

    language: str
    heading: str
    text: str
    options: tuple[OptionView, ...]


HelpStage = Literal["sending", "waiting", "coming", "call_back", "contact"]


@dataclass(frozen=True)
class HelpView:
    """What a help screen shows beside its main text (``View.text``).

    sending: "yes" was pressed and the fleet has not confirmed yet (nothing is promised);
    waiting: the fleet confirmed, staff are being told; coming: *staff* is on the way; call_back: no one came in
    time (a QR to the call-back page, else the site's phone); contact: the negative thank-you
    when no staff could be told, with the site's phone and QR."""

    stage: HelpStage
    lines: tuple[str, ...] = ()  # smaller lines under the main text: please wait, the ETA, the phone
    qr: str = ""  # a web address shown as a QR code
    qr_text: str = ""  # what scanning it does, under the main text
    alert_id: int | None = None
    staff: str = ""


@dataclass(frozen=True)
class View:
    kind: Literal["attract", "question", "thank_you", "help_offer", "help"]
    language: str  # the primary language: everything above is in it
    heading: str
    text: str
    options: tuple[OptionView, ...] = ()
    languages: tuple[str, ...] = ()  # names of the survey's languages, shown on the start screen
    step: int = 0  # questions answered so far + 1 (0 where no progress is shown)
    steps: int = 0  # step + the longest remaining path
    negative: bool = False
    #: The card of this button is highlighted as just chosen (this view is the screen it was chosen on).
    chosen_button: int | None = None
    #: This button was pressed but is not an option on this screen: a subtle "not an option" cue.
    not_an_option_button: int | None = None
    #: Whole seconds left before a mid-survey reset, only during its last few seconds; else None.
    countdown: int | None = None
    #: Start screen only: the same words in a second language (None with a one-language survey).
    secondary: SecondaryText | None = None
    #: Thank-you only: the handover has passed and the first question's buttons are lit again,
    #: so a press now is the next customer's first answer.
    next_ready: bool = False
    #: How the options look: "scale" (valence colours and faces, worst on the left) or
    #: "choice" (one neutral colour, optional icons).
    question_kind: QuestionKind = "scale"
    #: Help screens (and the thank-you with the site's contact): what they show besides the text.
    help: HelpView | None = None


def view_of(state: KioskState, now: float) -> View:
    """The view of *state* at monotonic time *now* (used only for the countdown)."""
    feedback = state.feedback
    if feedback is not None and feedback.kind == "chosen" and feedback.shown is not None:
        # For a moment the answered screen stays, with the chosen card lit; the flow has moved on.
        return replace(_phase_view(state, feedback.shown), chosen_button=feedback.button)
    view = _phase_view(state, state.phase)
    if feedback is not None and feedback.kind == "not_an_option":
        view = replace(view, not_an_option_button=feedback.button)
    left = countdown(state, now)
    return view if left is None else replace(view, countdown=left)


def _phase_view(state: KioskState, phase: Phase) -> View:
    survey = state.survey
    if isinstance(phase, ThankYou):
        texts = survey.thank_you_negative if phase.negative else survey.thank_you
        view = View(kind="thank_you", language=phase.language, heading="", text=texts[phase.language], negative=phase.negative, next_ready=phase.ready)
        if phase.fallback and survey.help_offer is not None:  # no staff could be told: the site's own contact instead
            text, help = _contact_view(survey.help_offer, state.contact, phase.language, "contact")
            view = replace(view, text=text, help=help)
        return view

    if isinstance(phase, OfferingHelp):
        offer = survey.help_offer
        assert offer is not None
        language = phase.language
        options = (OptionView(offer.no_button, offer.no_label[language], "cross"), OptionView(offer.yes_button, offer.yes_label[language], "check"))
        return View(kind="help_offer", language=language, heading="", text=offer.text[language], options=tuple(sorted(options, key=lambda o: o.button)), question_kind="choice")

    if isinstance(phase, Helping):
        return _helping_view(survey, state.contact, phase)

    if isinstance(phase, (Attract, Burst)):
        question = survey.first
        language = phase.language
        names = tuple(LANGUAGE_NAMES.get(code, code.upper()) for code in survey.languages) if len(survey.languages) > 1 else ()
        return View(
            kind="attract",
            language=language,
            heading=survey.welcome[language],
            text=question.text[language],
            options=_options(question, language),
            languages=names,
            secondary=_secondary(survey, question, language),
            question_kind=question.kind,
        )

    question = survey.question(phase.question_id)
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
        question_kind=question.kind,
    )


def _helping_view(survey: Survey, contact: Contact | None, phase: Helping) -> View:
    offer = survey.help_offer
    assert offer is not None
    language = phase.language

    def words(key: str, **values: object) -> str:
        return offer.words(key, language, **values)

    if phase.stage == "coming":
        text = words("coming", staff=phase.staff) if phase.staff else words("coming_unnamed")
        lines = (words("eta", minutes=max(1, phase.eta_minutes)),) if phase.eta_minutes is not None else ()
        help = HelpView("coming", lines, alert_id=phase.alert_id, staff=phase.staff)
    elif phase.stage == "call_back" and phase.callback_url:
        lines = (words("call_us", phone=_unbroken(contact.phone)),) if contact is not None and contact.phone else ()
        text, help = words("call_back"), HelpView("call_back", lines, qr=phase.callback_url, alert_id=phase.alert_id)
    elif phase.stage == "call_back":
        text, help = _contact_view(offer, contact, language, "call_back")
        help = replace(help, alert_id=phase.alert_id)
    elif phase.stage == "waiting":
        text, help = words("waiting"), HelpView("waiting", (words("please_wait"),), alert_id=phase.alert_id)
    else:  # not confirmed yet: say only what the kiosk knows, that the request is on its way
        text, help = words("sending"), HelpView("sending", (words("please_wait"),))
    return View(kind="help", language=language, heading="", text=text, help=help)


def _contact_view(offer: HelpOffer, contact: Contact | None, language: str, stage: Literal["call_back", "contact"]) -> tuple[str, HelpView]:
    """The site's own number, large, and its page as a QR code (the kiosk config's [help]), for
    when no staff can be told; without either, a word to ask at the till."""
    if contact is None or not (contact.phone or contact.url):
        return offer.words("ask_staff", language), HelpView(stage)
    scan = offer.words("scan_us", language) if contact.url else ""
    if not contact.phone:
        return scan, HelpView(stage, qr=contact.url)
    return offer.words("call_us", language, phone=_unbroken(contact.phone)), HelpView(stage, qr=contact.url, qr_text=scan)


def _unbroken(phone: str) -> str:
    """A phone number never wrapped across lines: its spaces become no-break spaces."""
    return phone.replace(" ", "\u00a0")


def _secondary_language(survey: Survey, primary: str) -> str | None:
    """The language shown small beside *primary*: the survey's default one, or after it the second."""
    if len(survey.languages) < 2:
        return None
    return survey.languages[1] if primary == survey.default_language else survey.default_language


def _secondary(survey: Survey, question: Question, primary: str) -> SecondaryText | None:
    language = _secondary_language(survey, primary)
    if language is None:
        return None
    return SecondaryText(language, survey.welcome[language], question.text[language], _options(question, language))


def _options(question: Question, language: str) -> tuple[OptionView, ...]:
    return tuple(OptionView(option.button, option.label[language], option.icon) for option in question.options)


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
