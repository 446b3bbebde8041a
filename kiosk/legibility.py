"""Is every question and answer large enough to read from 2 m, on this panel?

A kiosk is read while walking past, from about two metres. What matters is the height of a
capital letter on the glass, seen as an angle: ISO 9241-303 asks at least 16′ of arc for
reading, which at 2 m is 9.3 mm; answer labels, a word or two each, get at least 10′ (5.8 mm).
A panel turns millimetres into pixels by its pixel pitch, so the minimum in pixels depends on
the panel (``PANELS``). On the official 7" display they are 48 px (questions) and 30 px
(labels) of cap height.

The check lays the survey out exactly as the kiosk will (``kiosk.screen``, headless) and reads
the sizes the layout chose: text that is too long is shrunk to fit, and that is what gets
reported, with the words to shorten. ``kiosk validate --profile …`` prints the findings.

The smaller second language on the start screen is not checked: it is there for the
customer who presses the language button, which makes it the large one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hardware.profiles import Profile
from kiosk.contract.survey import Survey

VIEWING_DISTANCE_MM = 2000
QUESTION_ARCMIN = 16  # ISO 9241-303's minimum character height for reading
LABEL_ARCMIN = 10  # one or two words, recognised rather than read


@dataclass(frozen=True)
class Panel:
    name: str
    description: str
    pixels: tuple[int, int]
    active_width_mm: float  # from the panel's datasheet

    @property
    def pitch_mm(self) -> float:
        """Millimetres per pixel along the width (the official 7" panel's pixels are 7 % taller than wide)."""
        return self.active_width_mm / self.pixels[0]

    def minimum_px(self, arcmin: float, distance_mm: float = VIEWING_DISTANCE_MM) -> int:
        height_mm = 2 * distance_mm * math.tan(math.radians(arcmin / 60) / 2)
        return round(height_mm / self.pitch_mm)

    @property
    def question_px(self) -> int:
        return self.minimum_px(QUESTION_ARCMIN)

    @property
    def label_px(self) -> int:
        return self.minimum_px(LABEL_ARCMIN)


PANELS: dict[str, Panel] = {
    panel.name: panel
    for panel in (
        Panel("pi-7in", 'Raspberry Pi Touch Display 7", 800x480', (800, 480), 154.08),
        Panel("10in-1280x800", '10.1" HDMI panel, 1280x800', (1280, 800), 216.96),
        Panel("15in-1920x1080", '15.6" HDMI panel, 1920x1080', (1920, 1080), 344.16),
        Panel("22in-1920x1080", '21.5" monitor, 1920x1080', (1920, 1080), 476.06),
    )
}
DEFAULT_PANEL = "pi-7in"


@dataclass(frozen=True)
class Finding:
    """One text that would be drawn smaller than the panel's minimum."""

    screen: str  # e.g. "question-satisfaction-en"
    what: str  # "question" or "label"
    language: str
    text: str
    cap_px: int
    minimum_px: int
    letters_per_line: int  # about how many letters fit a line at the minimum size

    def message(self, panel: Panel) -> str:
        return (
            f'{self.screen}: {self.what} "{self.text}" would be drawn with capitals {self.cap_px} px high; '
            f"{panel.name} needs at least {self.minimum_px} px to be read from {VIEWING_DISTANCE_MM / 1000:g} m\n"
            f"  fix: shorten it to about {self.letters_per_line} letters per line"
            + (" (two lines at most)" if self.what == "label" else "")
        )


def check(survey: Survey, profile: Profile, panel: Panel) -> list[Finding]:
    """Every question and answer label of *survey* drawn below *panel*'s minimum, in every language."""
    from kiosk.screen import Screen
    from kiosk.screenshots import all_views

    screen = Screen(profile, panel.pixels, "headless")
    findings: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    try:
        for name, view in all_views(survey, feedback=False):
            if view.kind == "thank_you":
                continue
            layout = screen.scene(view).layout

            def letters(px: int, width: int) -> int:
                average = screen.font(px).size("abcdefghijklmnopqrstuvwxyz")[0] / 26
                return max(1, int(width / average))

            question_font = _font_for_cap(screen, panel.question_px)
            if layout.text_cap_px < panel.question_px and ("question", view.language, view.text) not in seen:
                seen.add(("question", view.language, view.text))
                width = layout.text_box[2] if layout.text_box else panel.pixels[0]
                findings.append(Finding(name, "question", view.language, view.text, layout.text_cap_px, panel.question_px, letters(question_font, width)))
            label_font = _font_for_cap(screen, panel.label_px)
            for option in view.options:
                own_cap = screen.cap_height(layout.label_fit_px[option.button])
                if own_cap < panel.label_px and ("label", view.language, option.label) not in seen:
                    seen.add(("label", view.language, option.label))
                    width = layout.label_box_width
                    findings.append(Finding(name, "label", view.language, option.label, own_cap, panel.label_px, letters(label_font, width)))
    finally:
        screen.close()
    return findings


def _font_for_cap(screen, cap_px: int) -> int:  # type: ignore[no-untyped-def]
    """The smallest type size whose capitals are at least *cap_px* high."""
    px = cap_px
    while screen.cap_height(px) < cap_px:
        px += 1
    return px
