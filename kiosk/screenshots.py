"""Every screen a survey can show, rendered off-screen to PNG files.

Head office reviews a new survey's wording and layout before pushing it; technicians
compare a kiosk's screen with the expected one; the docs show them.
"""

from __future__ import annotations

from pathlib import Path

from hardware.profiles import Profile
from kiosk.clock import Instant
from kiosk.flow import Answer, Asking, Attract, Draft, KioskState, ThankYou
from kiosk.screen import Screen
from kiosk.survey import Survey
from kiosk.view import View, view_of


def all_views(survey: Survey) -> list[tuple[str, View]]:
    """(name, view) for the start screen, each question and both thank-you screens, per language."""
    moment = Instant(0.0, 0.0, True)
    views: list[tuple[str, View]] = []
    for language in survey.languages:
        views.append((f"attract-{language}", view_of(KioskState(survey, Attract(language)), 0.0)))
        for question in survey.questions:
            draft = Draft(language=language, started=moment, last_press=0.0, answers=_answers_leading_to(survey, question.id))
            views.append((f"question-{question.id}-{language}", view_of(KioskState(survey, Asking(question.id, draft)), 0.0)))
        views.append((f"thank-you-{language}", view_of(KioskState(survey, ThankYou(language, False, 0.0)), 0.0)))
        views.append((f"thank-you-negative-{language}", view_of(KioskState(survey, ThankYou(language, True, 0.0)), 0.0)))
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


def render_all(survey: Survey, profile: Profile, size: tuple[int, int], out_dir: Path) -> list[Path]:
    screen = Screen(profile, size, "headless")
    paths = []
    try:
        for name, view in all_views(survey):
            screen.show(view)
            paths.append(screen.save(out_dir / f"{size[0]}x{size[1]}" / f"{name}.png"))
    finally:
        screen.close()
    return paths
