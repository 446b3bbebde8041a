"""Draws a ``View`` with pygame: full screen on the Pi (KMS/DRM, no X), a window on a
desktop, or off-screen with SDL's dummy driver for tests and benchmarks.

The screen knows views and the panel's layout (where each physical button sits and its
colour), nothing else. It redraws only when the view changes, and it never waits for
input itself: the kiosk's main loop decides when to look (``pump``).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hardware.profiles import Profile
from kiosk.view import View

log = logging.getLogger(__name__)

Mode = Literal["fullscreen", "window", "headless"]

#: Fonts tried in order: Raspberry Pi OS and Debian ship DejaVu (fonts-dejavu-core).
#: pygame's bundled FreeSans Bold is the last resort; it also covers İ ı ş ğ ç ö ü.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)
TURKISH_LETTERS = "İıŞşĞğÇçÖöÜü"

BACKGROUND = (16, 21, 31)
TEXT = (245, 247, 250)
MUTED = (128, 138, 156)
THANKS = (67, 160, 71)
SORRY = (255, 179, 0)


@dataclass
class Layout:
    """Where things were drawn, in pixels: what tests and technicians check against the panel."""

    size: tuple[int, int]
    heading: tuple[int, int, int, int] | None = None
    text: tuple[int, int, int, int] | None = None
    text_lines: tuple[str, ...] = ()
    text_font_px: int = 0
    cards: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)  # button → rect
    card_colours: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    card_lines: dict[int, tuple[str, ...]] = field(default_factory=dict)
    languages: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Quit:
    pass


ScreenInput = Key | Quit


def find_font(configured: str | None = None) -> str | None:
    """The font file to use; None means pygame's bundled default."""
    if configured:
        if not Path(configured).is_file():
            raise FileNotFoundError(f"font file {configured} not found\n  fix: install fonts-dejavu-core or set screen.font to an existing .ttf")
        return configured
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def prepare_environment(mode: Mode) -> None:
    """SDL settings that must be in place before the display starts."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    # We install our own SIGTERM/SIGINT handlers; SDL's would turn them into window events.
    os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")
    # Desktop window managers (and xdotool) find the window by this class.
    os.environ.setdefault("SDL_VIDEO_X11_WMCLASS", "nabiz-kiosk")
    if mode == "headless":
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    elif mode == "fullscreen" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # A Pi console without a desktop: draw straight to the display through KMS/DRM.
        os.environ.setdefault("SDL_VIDEODRIVER", "kmsdrm")


def _expose_events() -> tuple[int, ...]:
    import pygame

    # WINDOWEXPOSED arrived in pygame 2.0.1; Bookworm's 2.1.2 has it, older ones only VIDEOEXPOSE.
    return tuple(getattr(pygame, name) for name in ("WINDOWEXPOSED", "VIDEOEXPOSE") if hasattr(pygame, name))


class Screen:
    def __init__(self, profile: Profile, size: tuple[int, int] = (800, 480), mode: Mode = "window", font: str | None = None) -> None:
        prepare_environment(mode)
        import pygame  # imported here: nothing opens a display at import time

        self._pg = pygame
        self._expose = _expose_events()
        self.profile = profile
        self.mode = mode
        pygame.display.init()
        pygame.font.init()
        if mode == "fullscreen":
            self.surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
            pygame.mouse.set_visible(False)
        else:
            self.surface = pygame.display.set_mode(size)
        pygame.display.set_caption("Nabız")
        self.size = self.surface.get_size()
        self._font_path = find_font(font)
        self._fonts: dict[int, object] = {}
        self._texts: OrderedDict[tuple[str, int, tuple[int, int, int]], object] = OrderedDict()
        self._last: View | None = None
        self.layout = Layout(self.size)
        self.frames = 0
        missing = self.missing_glyphs(TURKISH_LETTERS)
        if missing:
            log.error("the screen font lacks Turkish letters %s; install fonts-dejavu-core", missing)
        log.info("screen ready", extra={"driver": pygame.display.get_driver(), "size": f"{self.size[0]}x{self.size[1]}", "font": self._font_path or "pygame default"})

    # --- public -----------------------------------------------------------------------

    @property
    def needs_pumping(self) -> bool:
        """Whether input arrives through SDL (a desktop window) and so must be looked at often."""
        return self.mode == "window"

    def show(self, view: View, force: bool = False) -> bool:
        """Draw *view* if it differs from what is on screen; returns whether a frame was drawn."""
        if view == self._last and not force:
            return False
        self.layout = render(self.surface, view, self.profile, self._font, self._text)
        self._pg.display.flip()
        self._last = view
        self.frames += 1
        return True

    def pump(self) -> list[ScreenInput]:
        pg = self._pg
        inputs: list[ScreenInput] = []
        for event in pg.event.get():
            if event.type == pg.QUIT:
                inputs.append(Quit())
            elif event.type == pg.KEYDOWN:
                if event.key == pg.K_ESCAPE and self.mode == "window":
                    inputs.append(Quit())
                else:
                    inputs.append(Key(pg.key.name(event.key)))
            elif event.type in self._expose and self._last is not None:
                self.show(self._last, force=True)
        return inputs

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pg.image.save(self.surface, str(path))
        return path

    def missing_glyphs(self, text: str) -> str:
        font = self._font(32)
        metrics = font.metrics(text)  # type: ignore[attr-defined]
        return "".join(ch for ch, metric in zip(text, metrics) if metric is None)

    def close(self) -> None:
        self._pg.display.quit()

    # --- caches -----------------------------------------------------------------------

    def _font(self, px: int):  # type: ignore[no-untyped-def]
        font = self._fonts.get(px)
        if font is None:
            font = self._pg.font.Font(self._font_path, px)
            self._fonts[px] = font
        return font

    def _text(self, text: str, px: int, colour: tuple[int, int, int]):  # type: ignore[no-untyped-def]
        key = (text, px, colour)
        surface = self._texts.get(key)
        if surface is None:
            surface = self._font(px).render(text, True, colour)
            self._texts[key] = surface
            if len(self._texts) > 512:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(key)
        return surface


# --- drawing --------------------------------------------------------------------------


def render(surface, view: View, profile: Profile, font, text) -> Layout:  # type: ignore[no-untyped-def]
    """Draw one view onto *surface*; *font(px)* and *text(str, px, colour)* are cached makers."""
    import pygame

    width, height = surface.get_size()
    layout = Layout((width, height))
    surface.fill(BACKGROUND)
    margin = round(width * 0.04)
    unit = min(width / 800, height / 480)  # 1.0 on the official 7" display

    top = round(height * 0.04)
    band = round(height * 0.13)
    if view.heading:
        rect = _draw_fitted(surface, view.heading, (margin, top, width - 2 * margin - round(width * 0.28 if view.languages else 0), band), round(38 * unit), MUTED, font, text, align="left")
        layout.heading = rect.rect
    if view.languages:
        layout.languages = _draw_languages(surface, view, (width - margin, top + band // 2), round(26 * unit), font, text)
    if view.steps > 1:
        _draw_progress(surface, view.step, view.steps, (margin, top + band // 2), unit)

    if view.kind == "thank_you":
        colour = SORRY if view.negative else THANKS
        centre = (width // 2, round(height * 0.30))
        radius = round(min(width, height) * 0.12)
        pygame.draw.circle(surface, colour, centre, radius)
        if view.negative:
            # A heart says "we heard you" without pretending the visit went well.
            _draw_heart(surface, centre, radius * 0.55)
        else:
            _draw_tick(surface, centre, radius * 0.55)
        fitted = _draw_fitted(surface, view.text, (margin, round(height * 0.48), width - 2 * margin, round(height * 0.44)), round(64 * unit), TEXT, font, text)
        layout.text, layout.text_lines, layout.text_font_px = fitted.rect, fitted.lines, fitted.px
        return layout

    text_top = top + band + round(height * 0.02)
    cards_top = round(height * 0.62)
    fitted = _draw_fitted(surface, view.text, (margin, text_top, width - 2 * margin, cards_top - text_top - round(height * 0.03)), round(60 * unit), TEXT, font, text)
    layout.text, layout.text_lines, layout.text_font_px = fitted.rect, fitted.lines, fitted.px

    slots = len(profile.buttons)
    card_width = round(min(width / slots * 0.9, width * 0.3))
    card_height = round(height * 0.27)
    arrow = round(height * 0.045)
    pad = round(card_width * 0.07)
    # One size for every label, the largest at which all fit: equal answers look equal.
    label_px = min((_fit(o.label, card_width - 2 * pad, card_height - 2 * pad, round(34 * unit), font)[1] for o in view.options), default=10)
    for option in view.options:
        spec = profile.button(option.button)
        centre_x = round(spec.position * width)
        left = min(max(centre_x - card_width // 2, 0), width - card_width)
        rect = pygame.Rect(left, cards_top, card_width, card_height)
        pygame.draw.rect(surface, spec.colour, rect, border_radius=round(14 * unit))
        ink = _ink_for(spec.colour)
        label = _draw_fitted(surface, option.label, (rect.x + pad, rect.y + pad, rect.w - 2 * pad, rect.h - 2 * pad), label_px, ink, font, text)
        tip_y = min(height - 2, rect.bottom + arrow)
        pygame.draw.polygon(surface, spec.colour, [(centre_x - arrow, rect.bottom + 2), (centre_x + arrow, rect.bottom + 2), (centre_x, tip_y)])
        layout.cards[option.button] = (rect.x, rect.y, rect.w, rect.h)
        layout.card_colours[option.button] = spec.colour
        layout.card_lines[option.button] = label.lines
    return layout


@dataclass(frozen=True)
class _Fitted:
    rect: tuple[int, int, int, int]
    lines: tuple[str, ...]
    px: int


def _fit(value: str, width: int, height: int, max_px: int, font) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    """The largest size (≤ max_px) at which *value*, wrapped on spaces, fits the box."""
    px = max(max_px, 10)
    while True:
        lines, broken = _wrap(value, width, font(px))
        # Shrink rather than hyphenate; break words only once the text would get too small.
        if (len(lines) * font(px).get_linesize() <= height and (not broken or px <= max_px // 2)) or px <= 10:
            return lines, px
        px = max(10, int(px * 0.9))


def _draw_fitted(surface, value: str, box: tuple[int, int, int, int], max_px: int, colour, font, text, align: str = "center") -> _Fitted:  # type: ignore[no-untyped-def]
    """Draw *value* as large as fits in *box* (at most *max_px*), centred vertically."""
    x, y, w, h = box
    lines, px = _fit(value, w, h, max_px, font)
    line_height = font(px).get_linesize()
    total = len(lines) * line_height
    cursor = y + max((h - total) // 2, 0)
    left_edge, right_edge, top_edge = x + w, x, cursor
    for line in lines:
        rendered = text(line, px, colour)
        lw = rendered.get_width()
        lx = x if align == "left" else x + (w - lw) // 2
        surface.blit(rendered, (lx, cursor))
        left_edge, right_edge = min(left_edge, lx), max(right_edge, lx + lw)
        cursor += line_height
    return _Fitted((left_edge, top_edge, max(right_edge - left_edge, 0), cursor - top_edge), tuple(lines), px)


def _wrap(value: str, width: int, font) -> tuple[list[str], bool]:  # type: ignore[no-untyped-def]
    """Lines of *value* no wider than *width*, and whether a word had to be broken."""
    lines: list[str] = []
    broken = False
    for paragraph in value.split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if font.size(candidate)[0] <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while font.size(word)[0] > width and len(word) > 1:
                # A single word wider than the box (long compound words): break it.
                cut = len(word) - 1
                while cut > 1 and font.size(word[:cut] + "-")[0] > width:
                    cut -= 1
                lines.append(word[:cut] + "-")
                word = word[cut:]
                broken = True
            current = word
        lines.append(current)
    return lines, broken


def _draw_languages(surface, view: View, right_middle: tuple[int, int], px: int, font, text) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    from kiosk.view import LANGUAGE_NAMES

    current = LANGUAGE_NAMES.get(view.language, view.language.upper())
    parts = [text(name, px, TEXT if name == current else MUTED) for name in view.languages]
    gap = px
    total = sum(p.get_width() for p in parts) + gap * (len(parts) - 1)
    x = right_middle[0] - total
    top = right_middle[1] - parts[0].get_height() // 2
    for part in parts:
        surface.blit(part, (x, top))
        x += part.get_width() + gap
    return (right_middle[0] - total, top, total, parts[0].get_height())


def _draw_progress(surface, step: int, steps: int, left_middle: tuple[int, int], unit: float) -> None:  # type: ignore[no-untyped-def]
    import pygame

    radius = max(4, round(8 * unit))
    for index in range(steps):
        colour = TEXT if index < step else MUTED
        centre = (left_middle[0] + radius + index * radius * 3, left_middle[1])
        pygame.draw.circle(surface, colour, centre, radius, 0 if index < step else max(1, radius // 3))


def _draw_tick(surface, centre: tuple[int, int], size: float) -> None:  # type: ignore[no-untyped-def]
    import pygame

    cx, cy = centre
    points = [(cx - size * 0.6, cy), (cx - size * 0.15, cy + size * 0.45), (cx + size * 0.65, cy - size * 0.45)]
    pygame.draw.lines(surface, TEXT, False, points, max(3, round(size * 0.22)))


def _draw_heart(surface, centre: tuple[int, int], size: float) -> None:  # type: ignore[no-untyped-def]
    import pygame

    cx, cy = centre
    r = size * 0.42
    pygame.draw.circle(surface, TEXT, (round(cx - r * 0.95), round(cy - r * 0.35)), round(r))
    pygame.draw.circle(surface, TEXT, (round(cx + r * 0.95), round(cy - r * 0.35)), round(r))
    pygame.draw.polygon(surface, TEXT, [(cx - r * 1.9, cy - r * 0.1), (cx + r * 1.9, cy - r * 0.1), (cx, cy + size * 0.85)])


def _ink_for(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Dark text on light buttons (yellow), white on dark ones: legible on every cap colour."""
    r, g, b = colour
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return (20, 20, 20) if luminance > 150 else (255, 255, 255)
