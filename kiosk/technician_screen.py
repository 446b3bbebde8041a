"""What a technician sees instead of the survey: the wiring check's test screen, and the
error that keeps the kiosk from starting.

Both must be unmistakable from a step away: the test screen is framed in amber and says in
Turkish and English that nothing is recorded (nobody may take it for the survey), the error
screen has a red heading in both languages and then the exact error and its fix, as large as
they fit. Each drawing returns what it drew where, so tests check words and pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hardware.profiles import Profile, describe_pin
from kiosk.screen import BACKGROUND, MUTED, TEXT
from kiosk.wiring import LANGUAGE, WiringState

HAZARD = (255, 193, 7)  # amber: "test", on every edge of the test screen
ALARM = (183, 28, 28)  # the error heading's band (white text on it: contrast 6.6 : 1)
FIX = (165, 214, 167)  # the fix, apart from the error (contrast on BACKGROUND > 10 : 1)
INK = (20, 20, 20)  # dark text on amber

TEST_BANNER = ("TEST MODU — hiçbir şey kaydedilmez", "TEST MODE — nothing is recorded")
ERROR_HEADING = ("Kiosk başlatılamadı", "The kiosk cannot start")
MIN_PX = 14  # the smallest text drawn: still readable at arm's length on the 7" display


@dataclass(frozen=True)
class Block:
    rect: tuple[int, int, int, int]  # what the lines cover
    lines: tuple[str, ...]
    px: int


@dataclass
class Drawn:
    size: tuple[int, int]
    blocks: dict[str, Block] = field(default_factory=dict)


class Fonts:
    """pygame fonts by pixel size, from one file (None: pygame's own, which has Turkish letters)."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._cache: dict[int, object] = {}

    def __call__(self, px: int):  # type: ignore[no-untyped-def]
        import pygame

        font = self._cache.get(px)
        if font is None:
            font = self._cache[px] = pygame.font.Font(self._path, px)
        return font


def draw_wiring_check(surface, state: WiringState, profile: Profile, panel_kind: str, fonts: Fonts, footer: str) -> Drawn:  # type: ignore[no-untyped-def]
    import pygame

    width, height = surface.get_size()
    unit = min(width / 800, height / 480)
    drawn = Drawn((width, height))
    surface.fill(BACKGROUND)
    frame = max(6, round(12 * unit))
    pygame.draw.rect(surface, HAZARD, (0, 0, width, height), frame)
    band = round(height * 0.2)
    pygame.draw.rect(surface, HAZARD, (0, 0, width, band))
    inner = (frame * 2, 0, width - frame * 4, band)
    drawn.blocks["banner"] = _text(surface, "\n".join(TEST_BANNER), inner, round(40 * unit), INK, fonts)

    middle = (frame * 2, band + round(height * 0.03), width - frame * 4, round(height * 0.3))
    if state.last is None:
        drawn.blocks["pressed"] = _text(surface, "Bir düğmeye basın\nPress a button", middle, round(44 * unit), TEXT, fonts)
    elif state.last == LANGUAGE:
        where = describe_pin(profile.language_pin) if profile.language_pin is not None else ""
        drawn.blocks["pressed"] = _text(surface, f"Dil düğmesi · Language button\n{where}", middle, round(44 * unit), TEXT, fonts)
    else:
        spec = profile.button(state.last)
        if panel_kind != "gpio":
            pins = f"{panel_kind}: not the GPIO wiring"
        else:
            pins = (describe_pin(spec.pin) if spec.pin is not None else "no pin") + "\n" + (f"LED {describe_pin(spec.led)}" if spec.led is not None else "no LED")
        drawn.blocks["pressed"] = _text(surface, f"Düğme {state.last} · Button {state.last}\n{pins}", middle, round(44 * unit), _lighter(spec.colour), fonts)

    cards_top = round(height * 0.58)
    card_h = round(height * 0.26)
    card_w = round(min(width / len(profile.buttons) * 0.85, width * 0.28))
    for number, presses in state.counts:
        spec = profile.button(number)
        left = min(max(round(spec.position * width) - card_w // 2, frame), width - frame - card_w)
        rect = pygame.Rect(left, cards_top, card_w, card_h)
        if presses:  # filled once it has reported: the ones still outlined are left to test
            pygame.draw.rect(surface, spec.colour, rect, border_radius=round(12 * unit))
        else:
            pygame.draw.rect(surface, spec.colour, rect, max(3, round(5 * unit)), border_radius=round(12 * unit))
        if state.last == number:
            pygame.draw.rect(surface, TEXT, rect.inflate(frame, frame), max(3, round(4 * unit)), border_radius=round(14 * unit))
        ink = _ink_on(spec.colour) if presses else TEXT
        drawn.blocks[f"button {number}"] = _text(surface, f"{number}\n×{presses}", rect.inflate(-card_w // 8, -card_h // 8), round(44 * unit), ink, fonts)
    drawn.blocks["footer"] = _text(surface, footer, (frame * 2, cards_top + card_h + frame, width - frame * 4, height - cards_top - card_h - 2 * frame), round(22 * unit), MUTED, fonts)
    return drawn


def draw_startup_error(surface, message: str, footer: str, fonts: Fonts) -> Drawn:  # type: ignore[no-untyped-def]
    """The heading in both languages, then *message*'s problem and its ``fix:`` apart."""
    import pygame

    width, height = surface.get_size()
    unit = min(width / 800, height / 480)
    drawn = Drawn((width, height))
    surface.fill(BACKGROUND)
    band = round(height * 0.22)
    pygame.draw.rect(surface, ALARM, (0, 0, width, band))
    margin = round(width * 0.04)
    column = width - 2 * margin
    drawn.blocks["heading"] = _text(surface, "\n".join(ERROR_HEADING), (margin, 0, column, band), round(48 * unit), TEXT, fonts)
    problem, fix = split_fix(message)
    top = band + round(height * 0.03)
    bottom = round(height * 0.86)
    if fix:
        split = top + round((bottom - top) * 0.55)
        drawn.blocks["error"] = _text(surface, problem, (margin, top, column, split - top), round(34 * unit), TEXT, fonts, align="left")
        drawn.blocks["fix"] = _text(surface, f"Çözüm / fix: {fix}", (margin, split, column, bottom - split), round(32 * unit), FIX, fonts, align="left")
    else:
        drawn.blocks["error"] = _text(surface, problem, (margin, top, column, bottom - top), round(34 * unit), TEXT, fonts, align="left")
    drawn.blocks["footer"] = _text(surface, footer, (margin, bottom, column, height - bottom), round(22 * unit), MUTED, fonts, align="left")
    return drawn


def split_fix(message: str) -> tuple[str, str]:
    """``"what\\n  fix: how"`` (the form of every error a person can fix) → (what, how)."""
    problem, marker, fix = message.partition("\n  fix: ")
    if not marker and message.startswith("fix: "):
        return "", message[5:].strip()
    return problem.strip(), " ".join(fix.split())


def _text(surface, value: str, box: tuple[int, int, int, int], max_px: int, colour, fonts: Fonts, align: str = "center") -> Block:  # type: ignore[no-untyped-def]
    """*value* as large as it fits in *box*, down to a size still readable at arm's length."""
    x, y, w, h = box
    px = max_px
    while True:
        lines = _lines(value, w, fonts(px))
        if len(lines) * fonts(px).get_linesize() <= h or px <= MIN_PX:
            break
        px = max(MIN_PX, int(px * 0.92))
    step = fonts(px).get_linesize()
    lines = lines[: max(1, h // step)]  # at the smallest size, what does not fit is cut (the journal has it all)
    cursor = y + max((h - len(lines) * step) // 2, 0)
    covered = None
    for line in lines:
        image = fonts(px).render(line, True, colour)
        left = x if align == "left" else x + (w - image.get_width()) // 2
        area = surface.blit(image, (left, cursor))
        covered = area if covered is None else covered.union(area)
        cursor += step
    rect = (covered.x, covered.y, covered.w, covered.h) if covered is not None else (x, y, 0, 0)
    return Block(rect, tuple(lines), px)


def _lines(value: str, width: int, font) -> list[str]:  # type: ignore[no-untyped-def]
    """Lines no wider than *width*, broken after a space or a slash (error texts are full of
    paths); a piece wider than a line is cut where it must. No hyphens: the text stays exact."""
    out: list[str] = []
    for paragraph in value.split("\n"):
        line = ""
        for piece in re.split(r"(?<=[ /])", paragraph):
            if line and font.size((line + piece).rstrip())[0] > width:
                out.append(line.rstrip())
                line = ""
            line += piece
            while len(line) > 1 and font.size(line.rstrip())[0] > width:
                cut = max(n for n in range(1, len(line)) if n == 1 or font.size(line[:n])[0] <= width)
                out.append(line[:cut])
                line = line[cut:]
        out.append(line.rstrip())
    return out


def _lighter(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """A button's colour lifted toward white, legible as text on the dark background."""
    return tuple(round(c + (255 - c) * 0.35) for c in colour)  # type: ignore[return-value]


def _ink_on(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = colour
    return INK if 0.2126 * r + 0.7152 * g + 0.0722 * b > 150 else TEXT
