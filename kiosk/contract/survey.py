"""Survey documents: the file head office writes, checked before any kiosk shows it.

A survey is a TOML file (see ``docs/survey-format.md`` and ``kiosk/surveys/default.toml``).
This module parses and validates it into immutable objects the flow can trust, so the
flow itself never has to guard against a missing translation or a dangling ``next``.

It imports nothing heavy (no pygame, no GPIO, no database): the fleet server imports it
too, to validate a survey before pushing it to kiosks.
"""

from __future__ import annotations

import difflib
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

#: Where a question's ``next`` may point besides another question: the survey ends.
END = "end"

MIN_OPTIONS = 2
MAX_OPTIONS = 5
MAX_BUTTON = 9

#: How a question's options look. A scale runs from the worst answer (button 1 side) to the
#: best and shows valence colours and faces; a choice (reasons, topics) shows one neutral
#: colour and, optionally, an icon per option.
QuestionKind = Literal["scale", "choice"]
#: The icons a choice option may name (drawn by kiosk/faces.py, also on the button caps).
ICON_NAMES = ("clock", "person", "sparkle", "tag", "check", "cross", "question")

#: Survey, question and option ids: what a topic level, a file name and a database key all take.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ID = re.compile(ID_PATTERN)
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")

DEFAULT_SURVEY_PATH = Path(__file__).parents[1] / "surveys" / "default.toml"  # kiosk/surveys: the kiosk ships it

DEFAULT_HANDOVER_SECONDS = 1.5
#: After "yes", how long the kiosk waits for the fleet to confirm that its request raised an
#: alert (a ``waiting`` HelpUpdate) before it shows the site's own contact instead. The request
#: goes ahead of any backlog and the fleet answers in well under a second (benchmark (g): p99
#: press → webhook ≤ 1 s), so 10 s is ten times the bar: silence that long means nobody is told.
DEFAULT_CONFIRM_SECONDS = 10.0

#: The words of the screens that follow an offer of help, built in for these languages. A survey
#: in another language writes them under ``[help_offer.screens]`` (and may reword these). Each
#: ``{name}`` is filled in on the kiosk; HELP_PLACEHOLDERS says which a text must have.
HELP_SCREEN_TEXTS: dict[str, dict[str, str]] = {
    "waiting": {"tr": "Bir çalışma arkadaşımıza haber verildi…", "en": "A colleague has been told…"},
    "please_wait": {"tr": "Lütfen biraz bekleyin", "en": "Please wait a moment"},
    "sending": {"tr": "İsteğiniz iletiliyor…", "en": "Sending your request…"},
    "coming": {"tr": "{staff} yanınıza geliyor, lütfen biraz bekleyin", "en": "{staff} is on the way, please wait a moment"},
    "coming_unnamed": {"tr": "Bir çalışma arkadaşımız yanınıza geliyor, lütfen biraz bekleyin", "en": "A colleague is on the way, please wait a moment"},
    "eta": {"tr": "Yaklaşık {minutes} dakika", "en": "About {minutes} min"},
    "call_back": {"tr": "Tarayın, sizi geri arayalım", "en": "Scan and we will call you back"},
    "call_us": {"tr": "Bizi arayın: {phone}", "en": "Call us: {phone}"},
    "scan_us": {"tr": "Bize ulaşmak için tarayın", "en": "Scan to reach us"},
    "ask_staff": {"tr": "Lütfen kasadaki arkadaşımıza söyleyin", "en": "Please tell a colleague at the till"},
}
#: Texts added after surveys in other languages were written: such a survey that lacks one shows
#: its own text of the key named here instead, so it stays valid ("sending" came with issue 8's
#: confirmation; a survey's "please wait" is as neutral).
HELP_SCREEN_STAND_INS: dict[str, str] = {"sending": "please_wait"}
HELP_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "coming": frozenset({"staff"}),
    "eta": frozenset({"minutes"}),
    "call_us": frozenset({"phone"}),
}


class SurveyError(ValueError):
    """A survey document that cannot be shown; the message names the file, the place and the fix."""

    def __init__(self, source: str, place: str, problem: str, fix: str) -> None:
        self.source = source
        self.place = place
        self.problem = problem
        self.fix = fix
        where = f"{source}: {place}: " if place else f"{source}: "
        super().__init__(f"{where}{problem}\n  fix: {fix}")


# --- the raw document, as written by hand (structure only) --------------------------


class _RawOption(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    button: int
    label: dict[str, str]
    negative: bool = False
    next: str | None = None
    icon: str | None = None


class _RawQuestion(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    text: dict[str, str]
    options: list[_RawOption]
    follow_up: bool = False
    next: str | None = None
    kind: QuestionKind = "scale"


class _RawHelpButton(msgspec.Struct, forbid_unknown_fields=True):
    button: int
    label: dict[str, str]


class _RawHelpOffer(msgspec.Struct, forbid_unknown_fields=True):
    text: dict[str, str]
    yes: _RawHelpButton
    no: _RawHelpButton
    timeout_seconds: float = 10.0
    help_seconds: float = 90.0
    fallback_seconds: float = 15.0
    confirm_seconds: float | None = None  # None: DEFAULT_CONFIRM_SECONDS, or half of help_seconds if that is shorter
    screens: dict[str, dict[str, str]] = {}


class _RawSurvey(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    version: int
    languages: list[str]
    welcome: dict[str, str]
    thank_you: dict[str, str]
    questions: list[_RawQuestion]
    thank_you_negative: dict[str, str] | None = None
    # Timing: one customer, one response (docs/survey-format.md explains each value).
    idle_timeout_seconds: float = 9.0
    countdown_seconds: float = 4.0
    pause_seconds: float = 5.0
    read_seconds: float = 0.5
    feedback_seconds: float = 0.3
    burst_presses: int = 4
    burst_window_seconds: float = 2.0
    thank_you_seconds: float = 4.0
    handover_seconds: float | None = None  # 1.5 unless given (or given by its old name)
    misuse_window_seconds: float | None = None  # the old name of handover_seconds, still read
    attract_rotate_seconds: float | None = None  # no longer used: the start screen shows two languages at once
    negative_threshold: float = 0.5
    help_offer: _RawHelpOffer | None = None


# --- the validated survey ------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    id: str
    button: int
    label: dict[str, str]
    negative: bool
    next: str | None
    icon: str | None = None


@dataclass(frozen=True)
class Question:
    id: str
    text: dict[str, str]
    options: tuple[Option, ...]
    follow_up: bool
    next: str | None
    kind: QuestionKind = "scale"

    def option_for(self, button: int) -> Option | None:
        for option in self.options:
            if option.button == button:
                return option
        return None

    @property
    def buttons(self) -> tuple[int, ...]:
        return tuple(option.button for option in self.options)


@dataclass(frozen=True)
class HelpOffer:
    """After a negative response: "shall a colleague come to you right now?" (docs/survey-format.md,
    "Offering help"). *screens* holds every help screen's words in every language of the survey."""

    text: dict[str, str]
    yes_button: int
    no_button: int
    yes_label: dict[str, str]
    no_label: dict[str, str]
    timeout_seconds: float  # the offer waits this long for an answer
    help_seconds: float  # after "yes", the help screens stay at most this long
    fallback_seconds: float  # the site's phone or QR (when no staff can be told) stays this long
    screens: dict[str, dict[str, str]]
    confirm_seconds: float = 10.0  # after "yes", the fleet's word that staff are being told is awaited this long

    @property
    def buttons(self) -> tuple[int, int]:
        return (self.no_button, self.yes_button)

    def words(self, key: str, language: str, **values: object) -> str:
        """A help screen's text in *language*, its placeholders filled with *values*."""
        return self.screens[key][language].format(**values)


@dataclass(frozen=True, eq=False)
class Survey:
    """A validated survey. Compared and hashed by identity: one loaded document, one survey."""

    id: str
    version: int
    languages: tuple[str, ...]
    welcome: dict[str, str]
    thank_you: dict[str, str]
    thank_you_negative: dict[str, str]
    questions: tuple[Question, ...]
    idle_timeout_seconds: float
    countdown_seconds: float
    pause_seconds: float
    read_seconds: float
    feedback_seconds: float
    burst_presses: int
    burst_window_seconds: float
    thank_you_seconds: float
    handover_seconds: float
    negative_threshold: float
    help_offer: HelpOffer | None = None

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def first(self) -> Question:
        return self.questions[0]

    @property
    def buttons(self) -> frozenset[int]:
        """Every physical button some question (or the offer of help) needs: the panel must have all of them."""
        offer = self.help_offer.buttons if self.help_offer is not None else ()
        return frozenset(b for q in self.questions for b in q.buttons) | frozenset(offer)

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def after(self, question: Question, option: Option) -> Question | None:
        """The question shown after *option* is chosen on *question*, or None at the end.

        An option's ``next`` wins over its question's ``next``; without either, the survey
        goes on with the next main (non-follow-up) question in file order, so a follow-up
        placed right after its parent rejoins the main line naturally.
        """
        target = option.next or question.next
        if target == END:
            return None
        if target is not None:
            return self.question(target)
        index = self.questions.index(question)
        for candidate in self.questions[index + 1 :]:
            if not candidate.follow_up:
                return candidate
        return None

    def is_negative(self, negative_answers: int, answers: int) -> bool:
        return answers > 0 and negative_answers / answers >= self.negative_threshold


# --- loading -------------------------------------------------------------------------


def load_survey(path: str | Path) -> Survey:
    """Read and validate a survey file; raise SurveyError naming the place and the fix."""
    path = Path(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SurveyError(source, "", "file not found", "check the path, or run `kiosk validate` on the file you meant") from None
    except OSError as exc:
        raise SurveyError(source, "", f"cannot read the file ({exc.strerror})", "check the file's permissions") from None
    return parse_survey(data, source)


def parse_survey(data: bytes | str, source: str = "<survey>") -> Survey:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")  # Notepad's UTF-8 adds a byte-order mark; accept it.
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise SurveyError(
                source,
                f"line {line}",
                "the file is not UTF-8 text (Turkish Windows editors often save as Windows-1254)",
                "save the file as UTF-8 (in Notepad: Save As → Encoding: UTF-8)",
            ) from None
    else:
        text = data
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SurveyError(source, "", f"not valid TOML: {exc}", "compare with kiosk/surveys/default.toml; strings need double quotes") from None
    return survey_from_dict(document, source)


def survey_from_dict(document: dict[str, Any], source: str = "<survey>") -> Survey:
    try:
        raw = msgspec.convert(document, _RawSurvey)
    except msgspec.ValidationError as exc:
        raise _structure_error(exc, document, source) from None
    return _Checker(raw, source).check()


_FIELD_HINTS = {
    "id": 'a short lowercase name such as "exit-default"',
    "version": "a whole number, raised by one on every change",
    "languages": 'a list of language codes such as ["tr", "en"]; the first is the default',
    "button": "the physical button number, 1 for the leftmost",
    "negative": "true or false",
    "follow_up": "true or false",
    "kind": '"scale" (faces and valence colours, worst answer on button 1) or "choice" (one neutral colour, optional icons)',
    "icon": f"one of {', '.join(ICON_NAMES)}",
}


def _structure_error(exc: msgspec.ValidationError, document: dict[str, Any], source: str) -> SurveyError:
    message = str(exc)
    problem, _, path = message.partition(" - at `")
    path = path.rstrip("`")
    place = _human_place(path, document)
    field = re.findall(r"[A-Za-z_]+", path.split(".")[-1])
    if problem.startswith("Object contains unknown field"):
        name = problem.split("`")[1]
        fix = f'remove or correct "{name}" (a typo?); see docs/survey-format.md for the allowed fields'
        problem = f'unknown field "{name}"'
    elif problem.startswith("Object missing required field"):
        name = problem.split("`")[1]
        fix = f'add "{name}" here' + (f": {_FIELD_HINTS[name]}" if name in _FIELD_HINTS else "")
        problem = f'missing required field "{name}"'
    else:
        hint = _FIELD_HINTS.get(field[-1]) if field else None
        fix = f"write {hint}" if hint else "correct the value's type (text needs double quotes, numbers none)"
        problem = problem.replace("`", "")
    return SurveyError(source, place, problem, fix)


def _human_place(path: str, document: dict[str, Any]) -> str:
    """Turn msgspec's ``$.questions[0].options[1]`` into ``questions[1] "satisfaction" → options[2]``.

    Head office counts from one and recognises questions by id, not by index.
    """
    parts = [p for p in path.removeprefix("$").split(".") if p]
    out: list[str] = []
    node: Any = document
    for part in parts:
        match = re.fullmatch(r"([^\[]+)((?:\[\d+\])*)", part)
        if not match:
            out.append(part)
            continue
        name, indexes = match.group(1), [int(i) for i in re.findall(r"\[(\d+)\]", match.group(2))]
        node = node.get(name) if isinstance(node, dict) else None
        label = name
        for index in indexes:
            node = node[index] if isinstance(node, list) and index < len(node) else None
            label += f"[{index + 1}]"
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                label += f' "{node["id"]}"'
        out.append(label)
    return " → ".join(out)


class _Checker:
    """The rules beyond structure: ids, translations, buttons, branching, ranges."""

    def __init__(self, raw: _RawSurvey, source: str) -> None:
        self.raw = raw
        self.source = source

    def fail(self, place: str, problem: str, fix: str) -> SurveyError:
        return SurveyError(self.source, place, problem, fix)

    def check(self) -> Survey:
        raw = self.raw
        if not _ID.match(raw.id):
            raise self.fail("id", f'"{raw.id}" is not a valid survey id', "use lowercase letters, digits, - and _ (at most 64), e.g. \"exit-default\"")
        if not 1 <= raw.version <= 2**31 - 1:
            raise self.fail("version", f"version {raw.version} must be from 1 to 2147483647", "raise the version by one on every change (not a date or a timestamp)")
        self.check_languages()
        self.check_ranges()
        for name in ("welcome", "thank_you"):
            self.check_text(name, getattr(raw, name))
        if raw.thank_you_negative is not None:
            self.check_text("thank_you_negative", raw.thank_you_negative)
        questions = self.check_questions()
        self.check_branching(questions)
        help_offer = self.check_help_offer(raw.help_offer) if raw.help_offer is not None else None
        return Survey(
            id=raw.id,
            version=raw.version,
            languages=tuple(raw.languages),
            welcome=dict(raw.welcome),
            thank_you=dict(raw.thank_you),
            thank_you_negative=dict(raw.thank_you_negative or raw.thank_you),
            questions=questions,
            idle_timeout_seconds=raw.idle_timeout_seconds,
            countdown_seconds=raw.countdown_seconds,
            pause_seconds=raw.pause_seconds,
            read_seconds=raw.read_seconds,
            feedback_seconds=raw.feedback_seconds,
            burst_presses=raw.burst_presses,
            burst_window_seconds=raw.burst_window_seconds,
            thank_you_seconds=raw.thank_you_seconds,
            handover_seconds=self.handover_seconds(),
            negative_threshold=raw.negative_threshold,
            help_offer=help_offer,
        )

    def check_languages(self) -> None:
        languages = self.raw.languages
        if not languages:
            raise self.fail("languages", "no languages given", 'list at least one, e.g. languages = ["tr", "en"]')
        for code in languages:
            if not _LANGUAGE.match(code):
                raise self.fail("languages", f'"{code}" is not a language code', 'use lowercase ISO 639-1 codes such as "tr" and "en"')
        if len(set(languages)) != len(languages):
            raise self.fail("languages", "a language is listed twice", "list each language once")

    def check_ranges(self) -> None:
        raw = self.raw
        ranges = {
            "idle_timeout_seconds": (5, 600),
            "countdown_seconds": (0, 30),
            "pause_seconds": (1, 600),
            "read_seconds": (0, 2),
            "feedback_seconds": (0, 1),
            "burst_window_seconds": (0.1, 10),
            "thank_you_seconds": (1, 60),
            "handover_seconds": (0, 60),
            "misuse_window_seconds": (0, 60),
            "attract_rotate_seconds": (0, 600),
            "negative_threshold": (0.01, 1),
        }
        for name, (low, high) in ranges.items():
            value = getattr(raw, name)
            if value is not None and not low <= value <= high:
                raise self.fail(name, f"{value:g} is out of range", f"use a value from {low:g} to {high:g}")
        if raw.burst_presses != 0 and not 2 <= raw.burst_presses <= 50:
            raise self.fail("burst_presses", f"{raw.burst_presses} is out of range", "use a whole number from 2 to 50, or 0 to turn burst detection off")
        if raw.countdown_seconds > raw.idle_timeout_seconds:
            raise self.fail("countdown_seconds", f"the countdown ({raw.countdown_seconds:g} s) is longer than idle_timeout_seconds ({raw.idle_timeout_seconds:g} s)", "count down at most the whole idle timeout; 4 is usual")
        if raw.handover_seconds is not None and raw.misuse_window_seconds is not None:
            raise self.fail("misuse_window_seconds", "both handover_seconds and its old name misuse_window_seconds are given", "keep handover_seconds and remove misuse_window_seconds")
        handover = self.handover_seconds()
        name = "misuse_window_seconds" if raw.misuse_window_seconds is not None else "handover_seconds"
        if handover > raw.thank_you_seconds:
            raise self.fail(name, f"the handover ({handover:g} s) is longer than the thank-you screen ({raw.thank_you_seconds:g} s)", "make it at most thank_you_seconds; 1.5 is usual")

    def handover_seconds(self) -> float:
        raw = self.raw
        given = raw.handover_seconds if raw.handover_seconds is not None else raw.misuse_window_seconds
        return DEFAULT_HANDOVER_SECONDS if given is None else given

    def check_text(self, place: str, text: dict[str, str]) -> None:
        for language in self.raw.languages:
            value = text.get(language)
            if value is None:
                raise self.fail(place, f'no "{language}" text', f'add {language} = "…" (every text needs every language in `languages`)')
            if not value.strip():
                raise self.fail(place, f'the "{language}" text is empty', "write the text, or remove the language from `languages`")
        extra = sorted(set(text) - set(self.raw.languages))
        if extra:
            raise self.fail(place, f'text in "{extra[0]}", which is not in `languages`', f'add "{extra[0]}" to `languages` or remove this text')

    def check_questions(self) -> tuple[Question, ...]:
        raw_questions = self.raw.questions
        if not raw_questions:
            raise self.fail("questions", "the survey has no questions", "add at least one [[questions]] block")
        seen: set[str] = set()
        questions = []
        for qi, rq in enumerate(raw_questions, start=1):
            place = f'questions[{qi}] "{rq.id}"'
            if not _ID.match(rq.id):
                raise self.fail(f"questions[{qi}]", f'"{rq.id}" is not a valid question id', "use lowercase letters, digits, - and _")
            if rq.id == END:
                raise self.fail(place, f'"{END}" is reserved for `next = "{END}"`', "choose another id")
            if rq.id in seen:
                raise self.fail(place, f'question id "{rq.id}" is used twice', "give every question its own id")
            seen.add(rq.id)
            self.check_text(f"{place} → text", rq.text)
            if not MIN_OPTIONS <= len(rq.options) <= MAX_OPTIONS:
                raise self.fail(place, f"{len(rq.options)} options", f"give each question {MIN_OPTIONS} to {MAX_OPTIONS} options, one per physical button")
            options = []
            option_ids: set[str] = set()
            buttons: set[int] = set()
            for oi, ro in enumerate(rq.options, start=1):
                oplace = f'{place} → options[{oi}] "{ro.id}"'
                if not _ID.match(ro.id):
                    raise self.fail(f"{place} → options[{oi}]", f'"{ro.id}" is not a valid option id', "use lowercase letters, digits, - and _")
                if ro.id in option_ids:
                    raise self.fail(oplace, f'option id "{ro.id}" is used twice in this question', "give every option of a question its own id")
                option_ids.add(ro.id)
                if not 1 <= ro.button <= MAX_BUTTON:
                    raise self.fail(oplace, f"button {ro.button} does not exist", f"use a button number from 1 (leftmost) to {MAX_BUTTON}")
                if ro.button in buttons:
                    raise self.fail(oplace, f"button {ro.button} is already used by another option of this question", "give every option of a question its own button")
                buttons.add(ro.button)
                self.check_text(f"{oplace} → label", ro.label)
                self.check_icon(oplace, rq.kind, ro.icon)
                options.append(Option(ro.id, ro.button, dict(ro.label), ro.negative, ro.next, ro.icon))
            options.sort(key=lambda option: option.button)
            if rq.kind == "scale":
                self.check_scale_order(place, options)
            questions.append(Question(rq.id, dict(rq.text), tuple(options), rq.follow_up, rq.next, rq.kind))
        if questions[0].follow_up:
            raise self.fail(f'questions[1] "{questions[0].id}"', "the first question is marked follow_up", "the survey starts with its first question; move the follow-up after its parent")
        return tuple(questions)

    def check_help_offer(self, raw: _RawHelpOffer) -> HelpOffer:
        place = "help_offer"
        self.check_text(f"{place} → text", raw.text)
        for name, button in (("yes", raw.yes), ("no", raw.no)):
            if not 1 <= button.button <= MAX_BUTTON:
                raise self.fail(f"{place} → {name} → button", f"button {button.button} does not exist", f"use a button number from 1 (leftmost) to {MAX_BUTTON}")
            self.check_text(f"{place} → {name} → label", button.label)
        if raw.yes.button == raw.no.button:
            raise self.fail(f"{place} → no → button", f"button {raw.no.button} is the yes button too", "give yes and no their own buttons (the default survey: yes = 4, no = 1)")
        ranges = {"timeout_seconds": (3, 60), "help_seconds": (10, 600), "fallback_seconds": (1, 120)}
        for name, (low, high) in ranges.items():
            value = getattr(raw, name)
            if not low <= value <= high:
                raise self.fail(f"{place} → {name}", f"{value:g} is out of range", f"use a value from {low:g} to {high:g}")
        confirm = raw.confirm_seconds if raw.confirm_seconds is not None else min(DEFAULT_CONFIRM_SECONDS, raw.help_seconds / 2)
        if raw.confirm_seconds is not None and not 1 <= raw.confirm_seconds <= 30:
            raise self.fail(f"{place} → confirm_seconds", f"{raw.confirm_seconds:g} is out of range", "use a value from 1 to 30 (the fleet answers in well under a second)")
        if confirm + self.handover_seconds() > raw.help_seconds:
            # Unconfirmed, the site's contact follows with the thank-you's handover: the next
            # customer must still be able to start within help_seconds of "yes".
            raise self.fail(
                f"{place} → confirm_seconds",
                f"the wait for the fleet's confirmation ({confirm:g} s) and the handover ({self.handover_seconds():g} s) outlast the help screens ({raw.help_seconds:g} s)",
                f"make confirm_seconds shorter (the default is {DEFAULT_CONFIRM_SECONDS:g}), or help_seconds longer",
            )
        if raw.fallback_seconds < self.handover_seconds():
            raise self.fail(
                f"{place} → fallback_seconds", f"the fallback screen ({raw.fallback_seconds:g} s) is shorter than the handover ({self.handover_seconds():g} s)",
                "show it at least handover_seconds; 15 leaves time to note a number or scan a code",
            )
        return HelpOffer(
            text=dict(raw.text), yes_button=raw.yes.button, no_button=raw.no.button, yes_label=dict(raw.yes.label), no_label=dict(raw.no.label),
            timeout_seconds=raw.timeout_seconds, help_seconds=raw.help_seconds, fallback_seconds=raw.fallback_seconds,
            screens=self.check_help_screens(raw.screens), confirm_seconds=confirm,
        )

    def check_help_screens(self, given: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        """Every help screen's words in every language: the survey's own, else the built-in ones."""
        for key in given:
            if key not in HELP_SCREEN_TEXTS:
                close = difflib.get_close_matches(key, HELP_SCREEN_TEXTS, n=1)
                hint = f'did you mean "{close[0]}"? ' if close else ""
                raise self.fail(f"help_offer → screens → {key}", f'no help screen text is called "{key}"', f"{hint}use one of {', '.join(HELP_SCREEN_TEXTS)}")
        screens = {}
        for key, built_in in HELP_SCREEN_TEXTS.items():
            place = f"help_offer → screens → {key}"
            own = given.get(key, {})
            extra = sorted(set(own) - set(self.raw.languages))
            if extra:
                raise self.fail(place, f'text in "{extra[0]}", which is not in `languages`', f'add "{extra[0]}" to `languages` or remove this text')
            texts = {}
            for language in self.raw.languages:
                text = own.get(language, built_in.get(language))
                if text is None and key in HELP_SCREEN_STAND_INS:
                    stand_in = HELP_SCREEN_STAND_INS[key]
                    text = given.get(stand_in, {}).get(language, HELP_SCREEN_TEXTS[stand_in].get(language))
                if text is None:
                    raise self.fail(
                        place, f'no "{language}" text (the kiosk has it built in only for {", ".join(built_in)})',
                        f'add screens.{key}.{language} = "…" under [help_offer] (docs/survey-format.md, "Offering help")',
                    )
                if not text.strip():
                    raise self.fail(place, f'the "{language}" text is empty', "write the text, or leave it out to use the built-in one")
                texts[language] = text
                self.check_placeholders(place, language, key, text)
            screens[key] = texts
        return screens

    def check_placeholders(self, place: str, language: str, key: str, text: str) -> None:
        wanted = HELP_PLACEHOLDERS.get(key, frozenset())
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as exc:
            raise self.fail(place, f'the "{language}" text has a broken {{…}}: {exc}', "write {{ and }} in pairs around a name, e.g. {staff}") from None
        unknown = sorted(used - wanted)
        if unknown:
            allowed = ", ".join(f"{{{name}}}" for name in sorted(wanted)) or "none"
            raise self.fail(place, f'the "{language}" text has {{{unknown[0]}}}, which the kiosk does not fill in', f"use only {allowed} here")
        missing = sorted(wanted - used)
        if missing:
            raise self.fail(place, f'the "{language}" text lacks {{{missing[0]}}}', f"put {{{missing[0]}}} where it belongs, e.g. {HELP_SCREEN_TEXTS[key]['en']!r}")

    def check_icon(self, place: str, kind: str, icon: str | None) -> None:
        if icon is None:
            return
        if kind == "scale":
            raise self.fail(f"{place} → icon", "a scale question shows faces, not icons", 'remove the icon, or make the question kind = "choice"')
        if icon not in ICON_NAMES:
            raise self.fail(f"{place} → icon", f'no icon called "{icon}"', f"use one of {', '.join(ICON_NAMES)}, or leave icon out")

    def check_scale_order(self, place: str, options: list[Option]) -> None:
        """A scale is drawn worst (left) to best (right): a negative answer right of a
        positive one would get a happier face and colour than it means."""
        for left, right in zip(options, options[1:]):
            if right.negative and not left.negative:
                raise self.fail(
                    f'{place} → options "{right.id}"',
                    f'"{right.id}" (button {right.button}) is negative but "{left.id}" left of it (button {left.button}) is not: a scale runs from the worst answer on the left to the best',
                    'put the negative answers on the lowest buttons, or write kind = "choice" if no answer is better than another',
                )

    def check_branching(self, questions: tuple[Question, ...]) -> None:
        ids = {q.id for q in questions}
        for qi, question in enumerate(questions, start=1):
            place = f'questions[{qi}] "{question.id}"'
            targets = [(f"{place} → next", question.next)]
            targets += [(f'{place} → options "{o.id}" → next', o.next) for o in question.options]
            for target_place, target in targets:
                if target is None or target == END:
                    continue
                if target not in ids:
                    raise self.fail(target_place, f'no question has the id "{target}"', f'use one of: {", ".join(sorted(ids))}, or "{END}"')
                if target == question.id:
                    raise self.fail(target_place, "the question leads to itself", "point next at a later question or \"end\"")
        survey_stub = Survey(
            id="", version=1, languages=(), welcome={}, thank_you={}, thank_you_negative={}, questions=questions,
            idle_timeout_seconds=0, countdown_seconds=0, pause_seconds=0, read_seconds=0, feedback_seconds=0, burst_presses=0, burst_window_seconds=0,
            thank_you_seconds=0, handover_seconds=0, negative_threshold=1,
        )
        reached = {questions[0].id}
        self.walk(survey_stub, questions[0], [questions[0].id], reached, set())
        for qi, question in enumerate(questions, start=1):
            if question.id not in reached:
                fix = "point an option's next at it, or remove follow_up = true" if question.follow_up else "check the next fields that skip over it"
                raise self.fail(f'questions[{qi}] "{question.id}"', "no answer ever leads to this question", fix)

    def walk(self, survey: Survey, question: Question, path: list[str], reached: set[str], finished: set[str]) -> None:
        """Depth-first over the answer graph: finds loops (a survey must end) and unreachable questions."""
        for option in question.options:
            following = survey.after(question, option)
            if following is None or following.id in finished:
                continue
            if following.id in path:
                loop = " → ".join(path[path.index(following.id) :] + [following.id])
                raise self.fail(f'questions "{question.id}"', f"the answers loop: {loop}", 'every path must reach the end; point a next forward or at "end"')
            reached.add(following.id)
            self.walk(survey, following, path + [following.id], reached, finished)
        finished.add(question.id)
