"""Every screen a survey can show, rendered off-screen to PNG files.

Head office reviews a new survey's wording and layout before pushing it; technicians
compare a kiosk's screen with the expected one; the docs show them. ``simulate`` writes how
a screenshot looks with each kind of colour blindness and in greyscale (``make screenshots``
does it for the start screen), so anyone can see the palette's claim for themselves.

    python -m kiosk.screenshots simulate docs/screenshots/800x480/attract-tr.png --out docs/screenshots/colour-vision
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from hardware.profiles import Profile
from kiosk.colour import SIMULATED, Vision, simulate_pixels
from kiosk.contract.clock import Instant
from kiosk.contract.survey import Survey
from kiosk.flow import Answer, Asking, Attract, Contact, Draft, Helping, KioskState, OfferingHelp, ResponseRecord, ThankYou
from kiosk.screen import Screen
from kiosk.view import View, view_of

#: What the help screens are shown with in screenshots and `kiosk validate`: a site's number
#: and page, a call-back link as long as the fleet's signed ones, a colleague's name.
SAMPLE_CONTACT = Contact(phone="0212 555 01 23", url="https://example.com/iletisim")
SAMPLE_CALLBACK_URL = "https://nabiz.example.com/callback/" + "eyJhIjo0MiwiYyI6ImNhbGxiYWNrIiwiZSI6MTc5MDAwMDAwMH0.Qk9Ps1uX3v9nJrLz8WkA2mYtHc"
SAMPLE_STAFF = "Ayşe"


def all_views(survey: Survey, feedback: bool = True) -> list[tuple[str, View]]:
    """(name, view) for the start screen, each question and both thank-you screens, per language;
    with *feedback*, also the moments after a press (chosen card, not-an-option cue, idle
    countdown, thank-you ready for the next customer)."""
    moment = Instant(0.0, 0.0, True)
    views: list[tuple[str, View]] = []
    for language in survey.languages:
        attract = view_of(KioskState(survey, Attract(language)), 0.0)
        views.append((f"attract-{language}", attract))
        questions = []
        for question in survey.questions:
            draft = Draft(language=language, started=moment, last_press=0.0, answers=_answers_leading_to(survey, question.id))
            view = view_of(KioskState(survey, Asking(question.id, draft)), 0.0)
            views.append((f"question-{question.id}-{language}", view))
            questions.append(view)
        thanks = view_of(KioskState(survey, ThankYou(language, False, 0.0)), 0.0)
        views.append((f"thank-you-{language}", thanks))
        views.append((f"thank-you-negative-{language}", view_of(KioskState(survey, ThankYou(language, True, 0.0)), 0.0)))
        views += help_views(survey, language)
        if feedback:
            views += _feedback_views(survey, language, attract, questions, thanks)
    return views


def help_views(survey: Survey, language: str) -> list[tuple[str, View]]:
    """The offer of help and every help screen after it, in *language* (none without an offer)."""
    if survey.help_offer is None:
        return []
    moment = Instant(0.0, 0.0, True)
    record = ResponseRecord(survey.id, survey.version, language, "completed", False, (), (), True, moment, moment, "completed")
    helping = Helping(language, "uuid", since=0.0, call_back_at=45.0, stage="waiting", alert_id=1)
    shown = [
        ("help-offer", KioskState(survey, OfferingHelp(language, record, 0.0))),
        ("help-sending", KioskState(survey, Helping(language, "uuid", since=0.0, call_back_at=45.0))),
        ("help-waiting", KioskState(survey, helping)),
        ("help-coming", KioskState(survey, replace(helping, stage="coming", staff=SAMPLE_STAFF))),
        ("help-coming-eta", KioskState(survey, replace(helping, stage="coming", staff=SAMPLE_STAFF, eta_minutes=3))),
        ("help-call-back", KioskState(survey, replace(helping, stage="call_back", callback_url=SAMPLE_CALLBACK_URL), contact=SAMPLE_CONTACT)),
        ("help-call-us", KioskState(survey, replace(helping, stage="call_back"), contact=Contact(phone=SAMPLE_CONTACT.phone))),
        ("help-ask-staff", KioskState(survey, replace(helping, stage="call_back"))),
        ("help-fallback", KioskState(survey, ThankYou(language, True, 0.0, fallback=True), contact=SAMPLE_CONTACT)),
        ("help-fallback-phone", KioskState(survey, ThankYou(language, True, 0.0, fallback=True), contact=Contact(phone=SAMPLE_CONTACT.phone))),
    ]
    return [(f"{name}-{language}", view_of(state, 0.0)) for name, state in shown]


def _feedback_views(survey: Survey, language: str, attract: View, questions: list[View], thanks: View) -> list[tuple[str, View]]:
    """What the screen shows for a moment after a press, as the flow describes it in a View."""
    views = [(f"attract-chosen-{language}", replace(attract, chosen_button=attract.options[-2].button))]
    buttons = set(survey.buttons)
    for question, view in zip(survey.questions, questions):
        unused = sorted(buttons - set(question.buttons))
        if unused:
            views.append((f"question-{question.id}-not-an-option-{language}", replace(view, not_an_option_button=unused[0])))
            break
    if len(questions) > 1:
        views.append((f"question-{survey.questions[1].id}-countdown-{language}", replace(questions[1], countdown=3)))
    views.append((f"thank-you-ready-{language}", replace(thanks, next_ready=True)))
    return views


def _answers_leading_to(survey: Survey, question_id: str) -> tuple[Answer, ...]:
    """The shortest run of answers that reaches *question_id*, so progress dots are true to life."""
    paths: dict[str, tuple[Answer, ...]] = {survey.first.id: ()}
    queue = [survey.first]
    while queue:
        question = queue.pop(0)
        for option in question.options:
            following = survey.after(question, option)
            if following is not None and following.id not in paths:
                paths[following.id] = paths[question.id] + (Answer(question.id, option.id, option.button, option.negative, 0),)
                queue.append(following)
    return paths[question_id]


def render_all(survey: Survey, profile: Profile, size: tuple[int, int], out_dir: Path, branding=None) -> list[Path]:  # type: ignore[no-untyped-def]
    screen = Screen(profile, size, "headless", branding=branding)
    paths = []
    try:
        for name, view in all_views(survey):
            screen.show(view, force=True)
            paths.append(screen.save(out_dir / f"{size[0]}x{size[1]}" / f"{name}.png"))
    finally:
        screen.close()
    return paths


def simulate(png: Path, vision: Vision, out: Path) -> Path:
    """Write *png* as seen with *vision* (Machado et al. 2009 dichromacy, or greyscale) to *out*."""
    import pygame

    image = pygame.image.load(str(png))
    size = image.get_size()
    pixels = simulate_pixels(pygame.image.tobytes(image, "RGB"), vision)
    out.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(pygame.image.frombytes(pixels, size, "RGB"), str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.screenshots", description="Colour-vision simulations of screenshots (for the docs).")
    commands = parser.add_subparsers(dest="command", required=True)
    simulate_parser = commands.add_parser("simulate", help="write a screenshot as seen with each colour-vision deficiency and in greyscale")
    simulate_parser.add_argument("png", type=Path, nargs="+")
    simulate_parser.add_argument("--out", type=Path, required=True, help="directory for NAME-VISION.png")
    args = parser.parse_args(argv)
    for png in args.png:
        if not png.is_file():
            print(f"error: {png} not found\n  fix: run `kiosk screenshot` first (make screenshots does both)", file=sys.stderr)
            return 2
        for vision in SIMULATED:
            print(simulate(png, vision, args.out / f"{png.stem}-{vision}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
