"""Draws a ``View`` with pygame: full screen on the Pi (KMS/DRM, no X), a window on a
desktop, or off-screen with SDL's dummy driver for tests and benchmarks.

The screen knows views and the panel's layout (where each physical button sits), nothing
else. It never waits for input itself: the kiosk's main loop decides when to look (``pump``).

Why it is fast enough on a Pi at 1080p:

* A view becomes a *scene*: a list of opaque pieces (text lines, a card's flat fills and its
  small antialiased corners, arrow and face, the thank-you badge), each rendered once and kept
  (within PIECE_BYTES). Pieces are opaque (text is antialiased against the colour it sits on),
  so painting is fills and straight copies, never alpha blending.
* A new view is compared piece by piece with what is on screen, and only the rectangles that
  changed are repainted and sent to the display: the chosen card's ring repaints one card.
* While the customer looks at the chosen card, the kiosk has the screen paint the next one
  off-screen (``prepare_next``); when it is due, showing it is a copy of the whole screen, a
  quarter of the cost of painting it.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hardware.profiles import Profile
from kiosk.colour import RGB, ink_for, parse_hex
from kiosk.faces import DISC, DOT, HEART, NO_ENTRY, OPEN_DOT, POINTER, RING, Circle, Mark, mark
from kiosk.palette import BACKGROUND, CHOICE, HELP_COMING, HELP_WAITING, MUTED, SORRY, TEXT, THANKS, scale_steps
from kiosk.qr import MIN_MODULE_PX, encode, module_px
from kiosk.view import LANGUAGE_NAMES, View

if TYPE_CHECKING:
    from kiosk.config import BrandingConfig

log = logging.getLogger(__name__)

Mode = Literal["fullscreen", "window", "headless"]
Rect = tuple[int, int, int, int]

#: Fonts tried in order: Raspberry Pi OS and Debian ship DejaVu (fonts-dejavu-core).
#: pygame's bundled FreeSans Bold is the last resort; it also covers İ ı ş ğ ç ö ü.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)
TURKISH_LETTERS = "İıŞşĞğÇçÖöÜü"

#: Sizes on the official 7" 800×480 panel; other panels scale by min(width/800, height/480).
QUESTION_PX = 66  # cap height 48 px with DejaVu Sans Bold: 16′ of arc at 2 m on the 7" panel
LABEL_PX = 46  # largest label size; the legibility floor is 30 px cap height (41 px type)
SECONDARY_QUESTION_PX = 30
SECONDARY_LABEL_PX = 22
HEADING_PX = 28
MARK_PX = 64  # face or icon diameter on a card
SUPERSAMPLE = 4  # marks and card corners are drawn this much larger, then smoothly scaled down

#: When this much of the screen changes, it is repainted whole: filling the whole surface is
#: one contiguous write, several times faster per byte than filling the gaps between pieces.
WHOLE_SCREEN_SHARE = 0.4
#: Rendered pieces are kept up to this many bytes (a survey's screens need a few MB at 1080p),
#: and this many laid-out scenes (a survey has a few dozen views, with their feedback moments).
PIECE_BYTES = 16 * 1024 * 1024
SCENE_CACHE = 64


@dataclass
class Layout:
    """Where things were drawn, in pixels: what tests, technicians and ``kiosk validate`` check."""

    size: tuple[int, int]
    heading: Rect | None = None
    text: Rect | None = None
    text_lines: tuple[str, ...] = ()
    text_font_px: int = 0
    text_cap_px: int = 0
    secondary_text: Rect | None = None
    secondary_lines: tuple[str, ...] = ()
    secondary_cap_px: int = 0
    text_box: Rect | None = None  # the space the question was fitted into
    label_font_px: int = 0
    label_cap_px: int = 0
    label_fit_px: dict[int, int] = field(default_factory=dict)  # button → the size its label alone would get
    label_box_width: int = 0
    cards: dict[int, Rect] = field(default_factory=dict)  # button → rect
    card_colours: dict[int, RGB] = field(default_factory=dict)
    card_lines: dict[int, tuple[str, ...]] = field(default_factory=dict)
    label_rects: dict[int, Rect] = field(default_factory=dict)  # button → where its label's lines are
    label_ink: dict[int, RGB] = field(default_factory=dict)
    secondary_card_lines: dict[int, tuple[str, ...]] = field(default_factory=dict)
    marks: dict[int, str | None] = field(default_factory=dict)  # button → face or icon name
    mark_rects: dict[int, Rect] = field(default_factory=dict)
    languages: Rect | None = None
    logo: Rect | None = None
    accent: Rect | None = None
    chosen: Rect | None = None  # the highlighted card's ring
    not_an_option: Rect | None = None
    countdown: Rect | None = None
    next_ready: tuple[Rect, ...] = ()
    help_lines: tuple[tuple[str, ...], ...] = ()  # help screens: each smaller line as it was wrapped
    help_lines_cap_px: int = 0
    help_badge: Rect | None = None
    qr: Rect | None = None  # the QR code with its quiet zone
    qr_module_px: int = 0


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


@dataclass(frozen=True)
class Piece:
    """One opaque rectangle of a scene: *key* says exactly what it shows. It is either a cached
    *surface* copied in, or (with no surface) a plain *colour* filled in: a card's flat middle
    costs no memory."""

    key: Hashable
    rect: Rect
    surface: Any = None
    colour: RGB | None = None


@dataclass
class Scene:
    pieces: list[Piece]
    layout: Layout
    kind: str


class Screen:
    def __init__(
        self, profile: Profile, size: tuple[int, int] = (800, 480), mode: Mode = "window", font: str | None = None, branding: BrandingConfig | None = None
    ) -> None:
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
        self._fonts: dict[int, Any] = {}
        self._pieces: OrderedDict[Hashable, Any] = OrderedDict()
        self._piece_bytes = 0
        self._scenes: OrderedDict[View, Scene] = OrderedDict()
        self._accent = parse_hex(branding.accent) if branding and branding.accent else None
        self._logo = self._load_logo(branding.logo) if branding and branding.logo else None
        self._drawn: Scene | None = None
        self._last: View | None = None
        self._back: Any = None  # where prepare_next paints ahead
        self._next_view: View | None = None
        self.layout = Layout(self.size)
        self.frames = 0
        self.frame_ns = 0  # perf_counter_ns when the last frame reached the display: what a customer waits for ends there
        self.repainted: list[Rect] = []  # what the last frame sent to the display
        self.copied = False  # whether the last frame was copied from what prepare_next painted
        missing = self.missing_glyphs(TURKISH_LETTERS)
        if missing:
            log.error("the screen font lacks Turkish letters %s; install fonts-dejavu-core", missing)
        log.info("screen ready", extra={"driver": pygame.display.get_driver(), "size": f"{self.size[0]}x{self.size[1]}", "font": self._font_path or "pygame default"})

    # --- public -----------------------------------------------------------------------

    @property
    def shown(self) -> View | None:
        """The view on screen now."""
        return self._last

    @property
    def needs_pumping(self) -> bool:
        """Whether input arrives through SDL (a desktop window) and so must be looked at often."""
        return self.mode == "window"

    def show(self, view: View, force: bool = False) -> bool:
        """Draw *view* if it differs from what is on screen; returns whether a frame was drawn."""
        if view == self._last and not force:
            return False
        scene = self.scene(view)
        whole = (0, 0, *self.size)
        if force or self._drawn is None:
            self._paint_all(self.surface, scene)
            self.repainted, self.copied = [whole], False
        else:
            rects = self._changes(self._drawn, scene)
            ahead = self.scene(self._next_view) if self._next_view is not None else None
            rest = self._changes(ahead, scene) if ahead is not None else []
            # Start from what was painted ahead when it is nearer to this view than the screen
            # is (the next question as planned; the start screen a queueing customer pressed on).
            self.copied = ahead is not None and _area(rest) < _area(rects)
            if self.copied:
                copied = self._changes(self._drawn, ahead)
                self._copy_prepared(copied)
                if rest:
                    self._paint_changes(scene, rest)
                rects = [(0, 0, *self.size)] if whole in copied + rest else _merged(copied + rest)
            elif rects:
                self._paint_changes(scene, rects)
            self.repainted = rects
        self._next_view = None
        if self.repainted == [whole]:
            self._pg.display.flip()
        elif self.repainted:
            self._pg.display.update([self._pg.Rect(r) for r in self.repainted])
        self.frame_ns = time.perf_counter_ns()
        self.layout = scene.layout
        self._drawn = scene
        self._last = view
        self.frames += 1
        return True

    def prepare(self, views: list[View]) -> None:
        """Render these views' pieces now, while nobody waits, so their first frame is as fast as any."""
        for view in views:
            self.scene(view)

    def prepare_next(self, view: View) -> None:
        """Paint *view* off-screen now, while nothing is due, so showing it later is a copy.

        The kiosk calls this between events with the view the flow will show at its next
        deadline (the next question once the chosen card's moment ends, the thank-you). At
        1080p a copy of the whole screen is a quarter of the cost of painting it; if something
        else is shown first, the painting is simply not used."""
        if view in (self._last, self._next_view):
            return
        if self._back is None:
            self._back = self._pg.Surface(self.size).convert()  # the display's format: copies are straight
        self._paint_all(self._back, self.scene(view))
        self._next_view = view

    def scene(self, view: View) -> Scene:
        scene = self._scenes.get(view)
        if scene is None:
            scene = _SceneBuilder(self, view).build()
            self._scenes[view] = scene
            if len(self._scenes) > SCENE_CACHE:
                self._scenes.popitem(last=False)
        else:
            self._scenes.move_to_end(view)
        return scene

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
        font = self.font(32)
        metrics = font.metrics(text)
        return "".join(ch for ch, metric in zip(text, metrics) if metric is None)

    def cap_height(self, px: int) -> int:
        """Height of a capital letter at *px*: what legibility at a distance depends on."""
        return self.font(px).metrics("H")[0][3]

    def close(self) -> None:
        self._pg.display.quit()

    # --- painting ---------------------------------------------------------------------

    def _paint_all(self, target: Any, scene: Scene) -> None:
        """The whole of *scene* onto *target*: one fill of the background (a single contiguous
        write, the fastest there is), then every piece."""
        target.fill(BACKGROUND)
        for piece in scene.pieces:
            if piece.surface is None:
                target.fill(piece.colour, piece.rect)
            else:
                target.blit(piece.surface, piece.rect[:2])

    def _changes(self, before: Scene, after: Scene) -> list[Rect]:
        """Where a piece appeared, moved, changed or went away: the rectangles to repaint
        (the whole screen once that is most of it)."""
        old = {(p.key, p.rect) for p in before.pieces}
        new = {(p.key, p.rect) for p in after.pieces}
        dirty = [p.rect for p in before.pieces if (p.key, p.rect) not in new] + [p.rect for p in after.pieces if (p.key, p.rect) not in old]
        rects = _merged(dirty)
        if _area(rects) > WHOLE_SCREEN_SHARE * self.size[0] * self.size[1]:
            return [(0, 0, *self.size)]
        return rects

    def _paint_changes(self, scene: Scene, rects: list[Rect]) -> None:
        if rects == [(0, 0, *self.size)]:
            self._paint_all(self.surface, scene)
        else:
            self._paint(scene, rects)

    def _copy_prepared(self, rects: list[Rect]) -> None:
        for rect in rects:
            self.surface.blit(self._back, rect[:2], rect)

    def _paint(self, scene: Scene, rects: list[Rect]) -> None:
        """Paint *scene* inside *rects*: background only where no piece lands, then the pieces.

        Every pixel is written about once: on a Pi at 1080p, memory bandwidth is the frame's cost.
        """
        pg = self._pg
        surface = self.surface
        for rect in rects:
            clip = pg.Rect(rect)
            pieces = [p for p in scene.pieces if clip.colliderect(p.rect)]
            surface.set_clip(clip)
            for bare in _uncovered(rect, [p.rect for p in pieces]):
                surface.fill(BACKGROUND, bare)
            for piece in pieces:
                if piece.surface is None:
                    surface.fill(piece.colour, piece.rect)
                else:
                    surface.blit(piece.surface, piece.rect[:2])
        surface.set_clip(None)

    # --- pieces (cached) --------------------------------------------------------------

    def font(self, px: int) -> Any:
        font = self._fonts.get(px)
        if font is None:
            font = self._pg.font.Font(self._font_path, px)
            self._fonts[px] = font
        return font

    def piece(self, key: Hashable, make: Any, convert: bool = True) -> Any:
        """The surface for *key*, made by *make()* the first time and kept while the pieces
        together stay within PIECE_BYTES (least recently used go first)."""
        surface = self._pieces.get(key)
        if surface is None:
            surface = make()
            if convert:
                surface = surface.convert()  # the display's format: a straight copy when painted
            self._pieces[key] = surface
            self._piece_bytes += _bytes(surface)
            while self._piece_bytes > PIECE_BYTES and len(self._pieces) > 1:
                _, old = self._pieces.popitem(last=False)
                self._piece_bytes -= _bytes(old)
        else:
            self._pieces.move_to_end(key)
        return surface

    def text(self, value: str, px: int, ink: RGB, background: RGB) -> Any:
        """A line of text antialiased against *background*: opaque, so copied, never blended.

        Kept as SDL_ttf renders it, 8 bits a pixel with a palette: a quarter of the memory of
        the display's format, for a blit that is still a fraction of a millisecond."""
        return self.piece(("text", value, px, ink, background), lambda: self.font(px).render(value, True, ink, background), convert=False)

    def _load_logo(self, path: str) -> Any:
        try:
            return self._pg.image.load(path)
        except (self._pg.error, OSError) as exc:
            # The config check read the PNG header; a file that still fails to decode is shown without its logo.
            log.error("cannot load the logo %s (%s); the screens are drawn without it", path, exc)
            return None

    @property
    def logo(self) -> Any:
        return self._logo

    @property
    def accent(self) -> RGB | None:
        return self._accent


def _area(rects: list[Rect]) -> int:
    return sum(w * h for _, _, w, h in rects)


def _bytes(surface: Any) -> int:
    return surface.get_bytesize() * surface.get_width() * surface.get_height()


def _uncovered(area: Rect, covers: list[Rect]) -> list[Rect]:
    """The parts of *area* that none of *covers* overlaps, as rectangles."""
    left = [area]
    for cx, cy, cw, ch in covers:
        pieces = []
        for x, y, w, h in left:
            if cx >= x + w or cx + cw <= x or cy >= y + h or cy + ch <= y:
                pieces.append((x, y, w, h))
                continue
            top, bottom = max(y, cy), min(y + h, cy + ch)
            if top > y:
                pieces.append((x, y, w, top - y))  # above the cover
            if bottom < y + h:
                pieces.append((x, bottom, w, y + h - bottom))  # below it
            if cx > x:
                pieces.append((x, top, cx - x, bottom - top))  # to its left
            if cx + cw < x + w:
                pieces.append((cx + cw, top, x + w - cx - cw, bottom - top))  # to its right
        left = pieces
    return left


def _merged(rects: list[Rect]) -> list[Rect]:
    """Overlapping rectangles joined, so no area is painted (or sent) twice."""
    import pygame

    pending = [pygame.Rect(r) for r in rects]
    merged = []
    while pending:
        rect = pending.pop()
        while True:
            hits = rect.collidelistall(pending)  # a loop in C: a scene has a hundred pieces
            if not hits:
                break
            for index in reversed(hits):
                rect.union_ip(pending.pop(index))
        merged.append((rect.x, rect.y, rect.w, rect.h))
    return merged


# --- building a scene ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Fitted:
    lines: tuple[str, ...]
    px: int


class _SceneBuilder:
    """Lays out one view and collects its pieces; runs once per distinct view."""

    def __init__(self, screen: Screen, view: View) -> None:
        self.screen = screen
        self.view = view
        self.width, self.height = screen.size
        self.unit = min(self.width / 800, self.height / 480)  # 1.0 on the official 7" display
        self.margin = self.px(24)
        self.pieces: list[Piece] = []
        self.layout = Layout(screen.size)

    def px(self, value: float) -> int:
        return max(1, round(value * self.unit))

    def add(self, key: Hashable, rect: Rect, surface: Any) -> Rect:
        self.pieces.append(Piece(key, rect, surface))
        return rect

    def fill(self, rect: Rect, colour: RGB) -> None:
        if rect[2] > 0 and rect[3] > 0:
            self.pieces.append(Piece(("fill", colour), rect, colour=colour))

    def rounded(self, rect: Rect, colour: RGB | None, edge: RGB | None, edge_width: int) -> None:
        """A rounded rectangle as flat fills and four small antialiased corners (no big surface).

        *colour* fills it (None: the background shows through); *edge* draws a border inside it."""
        x, y, w, h = rect
        r = min(self.px(14), w // 2, h // 2)
        if colour is not None:
            self.fill((x, y + r, w, h - 2 * r), colour)
            self.fill((x + r, y, w - 2 * r, r), colour)
            self.fill((x + r, y + h - r, w - 2 * r, r), colour)
        if edge is not None:
            t = edge_width
            self.fill((x + r, y, w - 2 * r, t), edge)
            self.fill((x + r, y + h - t, w - 2 * r, t), edge)
            self.fill((x, y + r, t, h - 2 * r), edge)
            self.fill((x + w - t, y + r, t, h - 2 * r), edge)
        key = ("corners", r, colour, edge, edge_width if edge else 0)
        disc = self.screen.piece(key, lambda: self._corners(r, colour, edge, edge_width))
        for i, (cx, cy) in enumerate(((x, y), (x + w - r, y), (x, y + h - r), (x + w - r, y + h - r))):
            qx, qy = (i % 2) * r, (i // 2) * r
            corner_key = (*key, i)
            self.add(corner_key, (cx, cy, r, r), self.screen.piece(corner_key, lambda qx=qx, qy=qy: disc.subsurface((qx, qy, r, r)).copy()))

    def arrow(self, top_middle: tuple[int, int], size: int, colour: RGB) -> None:
        """The small triangle from a card down to its button."""
        key = ("arrow", size, colour)
        surface = self.screen.piece(key, lambda: self._triangle(size, colour))
        self.add(key, (top_middle[0] - size, top_middle[1], 2 * size, size), surface)

    def build(self) -> Scene:
        view = self.view
        branded = view.kind in ("attract", "thank_you", "help")
        header_top = self.px(10)
        if branded and self.screen.accent is not None:
            stripe = self.px(6)
            self.layout.accent = self.add(("accent", self.screen.accent, self.width, stripe), (0, 0, self.width, stripe), self._filled(self.width, stripe, self.screen.accent))
            header_top += stripe
        header = (self.margin, header_top, self.width - 2 * self.margin, self.px(40))
        self.header(header, branded)
        body_top = header[1] + header[3] + self.px(6)
        if view.help is not None:
            self.help_screen(body_top)
        elif view.kind == "thank_you":
            self.thank_you(body_top)
        else:
            self.question(body_top)
        return Scene(self.pieces, self.layout, view.kind)

    # --- header ---------------------------------------------------------------------------

    def header(self, box: Rect, branded: bool) -> None:
        view, screen = self.view, self.screen
        x, y, w, h = box
        left, right = x, x + w
        if branded and screen.logo is not None:
            logo = self._logo(h)
            self.layout.logo = self.add(("logo", h), (left, y, logo.get_width(), h), logo)
            left += logo.get_width() + self.px(12)
        if view.countdown is not None:
            size = h
            right -= size
            self.layout.countdown = self.add(("countdown", view.countdown, size), (right, y, size, size), self._countdown(view.countdown, size))
            right -= self.px(12)
        if view.languages:
            right = self.languages((right, y + h // 2), self.px(24))
            right -= self.px(16)
        if view.steps > 1:
            key = ("dots", view.step, view.steps, self.unit)
            dots = self.screen.piece(key, lambda: self._dots(view.step, view.steps))
            self.add(key, (left, y + (h - dots.get_height()) // 2, dots.get_width(), dots.get_height()), dots)
            left += dots.get_width() + self.px(16)
        if view.heading and right > left:
            rect, _ = self.text_block(view.heading, (left, y, right - left, h), self.px(HEADING_PX), MUTED, max_lines=1, align="left")
            self.layout.heading = rect

    def languages(self, right_middle: tuple[int, int], px: int) -> int:
        """Language names at the top right, the primary one bright: the language button's hint."""
        current = LANGUAGE_NAMES.get(self.view.language, self.view.language.upper())
        inks = [TEXT if name == current else MUTED for name in self.view.languages]
        parts = [self.screen.text(name, px, ink, BACKGROUND) for name, ink in zip(self.view.languages, inks)]
        gap = px
        total = sum(s.get_width() for s in parts) + gap * (len(parts) - 1)
        x = right_middle[0] - total
        top = right_middle[1] - parts[0].get_height() // 2
        for name, ink, surface in zip(self.view.languages, inks, parts):
            self.add(("text", name, px, ink, BACKGROUND), (x, top, surface.get_width(), surface.get_height()), surface)
            x += surface.get_width() + gap
        self.layout.languages = (right_middle[0] - total, top, total, parts[0].get_height())
        return right_middle[0] - total

    # --- question and start screens ---------------------------------------------------------

    def question(self, top: int) -> None:
        view = self.view
        secondary = view.secondary
        slots = self.card_slots()
        card_w = slots[0][2] if slots else 0
        pad = self.px(8)
        colours, marks = self.appearance()
        has_marks = any(m is not None for m in marks)
        mark_px = min(self.px(MARK_PX), round(card_w * 0.45)) if has_marks else 0

        label_width = card_w - 2 * pad
        labels = [self.fit(o.label, label_width, self.px(LABEL_PX), max_lines=2) for o in view.options]
        self.layout.label_fit_px = {o.button: f.px for o, f in zip(view.options, labels)}
        self.layout.label_box_width = label_width
        label_px = min((f.px for f in labels), default=self.px(LABEL_PX))
        labels = [self.fit(o.label, label_width, label_px, max_lines=2) for o in view.options]  # one size for all: equal answers look equal
        label_lines = max((len(f.lines) for f in labels), default=1)
        second_labels: list[_Fitted] = []
        second_px = 0
        if secondary is not None:
            second_labels = [self.fit(o.label, label_width, self.px(SECONDARY_LABEL_PX), max_lines=1) for o in secondary.options]
            second_px = min((f.px for f in second_labels), default=self.px(SECONDARY_LABEL_PX))
            second_labels = [self.fit(o.label, label_width, second_px, max_lines=1) for o in secondary.options]

        line = self.screen.font(label_px).get_linesize()
        second_line = self.screen.font(second_px).get_linesize() if second_px else 0
        gap = self.px(4)
        card_h = pad + (mark_px + gap if has_marks else 0) + label_lines * line + (gap + second_line if second_px else 0) + pad
        arrow = self.px(14)
        cards_top = self.height - self.px(4) - arrow - card_h

        # The question fills what is left between the header and the cards.
        area_top, area_bottom = top, cards_top - self.px(10)
        second_block = 0
        second_q: _Fitted | None = None
        if secondary is not None:
            second_q = self.fit(secondary.text, self.width - 2 * self.margin, self.px(SECONDARY_QUESTION_PX), max_lines=2)
            second_block = len(second_q.lines) * self.screen.font(second_q.px).get_linesize() + self.px(4)
        question_box = (self.margin, area_top, self.width - 2 * self.margin, area_bottom - area_top - second_block)
        fitted = self.fit(view.text, question_box[2], self.px(QUESTION_PX), height=question_box[3])
        self.layout.text_box = question_box
        block = len(fitted.lines) * self.screen.font(fitted.px).get_linesize()
        offset = max((question_box[3] - block) // 2, 0)
        rect, _ = self.text_block(view.text, (question_box[0], area_top + offset, question_box[2], block), fitted.px, TEXT, fitted=fitted)
        self.layout.text, self.layout.text_lines, self.layout.text_font_px = rect, fitted.lines, fitted.px
        self.layout.text_cap_px = self.screen.cap_height(fitted.px)
        if secondary is not None and second_q is not None:
            second_top = rect[1] + rect[3] + self.px(4)
            height = second_block - self.px(4)
            srect, _ = self.text_block(secondary.text, (self.margin, second_top, self.width - 2 * self.margin, height), second_q.px, MUTED, fitted=second_q)
            self.layout.secondary_text, self.layout.secondary_lines = srect, second_q.lines
            self.layout.secondary_cap_px = self.screen.cap_height(second_q.px)

        self.layout.label_font_px, self.layout.label_cap_px = label_px, self.screen.cap_height(label_px)
        for index, option in enumerate(view.options):
            x, _, w, _ = slots[self._slot_index(option.button)]
            colour = colours[index]
            ink = ink_for(colour)
            chosen = view.chosen_button == option.button
            card = (x, cards_top, w, card_h)
            self.rounded(card, colour, ink if chosen else None, self.px(7))
            self.arrow((x + w // 2, cards_top + card_h), arrow, colour)
            cursor = cards_top + pad
            if has_marks:
                name = marks[index]
                mark_rect = (x + (w - mark_px) // 2, cursor, mark_px, mark_px)
                if name is not None:
                    key = ("mark", name, mark_px, ink, colour)
                    self.add(key, mark_rect, self.screen.piece(key, lambda name=name, ink=ink, colour=colour: self._mark(mark(name), mark_px, ink, colour)))
                self.layout.mark_rects[option.button] = mark_rect
                cursor += mark_px + gap
            label_area = label_lines * line
            lines = labels[index].lines
            label_top = cursor + (label_area - len(lines) * line) // 2
            lrect, _ = self.text_block(option.label, (x + pad, label_top, w - 2 * pad, len(lines) * line), label_px, ink, background=colour, fitted=labels[index])
            if secondary is not None:
                fitted_second = second_labels[index]
                self.text_block(
                    secondary.options[index].label, (x + pad, cursor + label_area + gap, w - 2 * pad, second_line), second_px, ink, background=colour, fitted=fitted_second
                )
                self.layout.secondary_card_lines[option.button] = fitted_second.lines
            self.layout.cards[option.button] = card
            self.layout.card_colours[option.button] = colour
            self.layout.card_lines[option.button] = lines
            self.layout.label_rects[option.button] = lrect
            self.layout.label_ink[option.button] = ink
            self.layout.marks[option.button] = marks[index]
            if chosen:
                self.layout.chosen = card
        if view.not_an_option_button is not None:
            self.not_an_option(view.not_an_option_button, (cards_top, card_h))

    def appearance(self) -> tuple[list[RGB], list[str | None]]:
        """Each option's card colour and face or icon: a scale by position, worst to best; a choice all alike."""
        options = self.view.options
        if self.view.question_kind == "scale" and options:
            steps = scale_steps(len(options))
            return [colour for colour, _ in steps], [face for _, face in steps]
        return [CHOICE] * len(options), [option.icon for option in options]

    def card_slots(self) -> list[Rect]:
        """A card's place above each physical button: centred on it, as wide as the row allows."""
        buttons = self.screen.profile.buttons
        slot = self.width / len(buttons)
        card_w = round(min(slot - self.px(8), self.width * 0.3))
        slots = []
        for spec in buttons:
            centre = round(spec.position * self.width)
            left = min(max(centre - card_w // 2, 0), self.width - card_w)
            slots.append((left, 0, card_w, 0))
        return slots

    def _slot_index(self, button: int) -> int:
        return [b.number for b in self.screen.profile.buttons].index(button)

    def not_an_option(self, button: int, cards: tuple[int, int] | None) -> None:
        """A quiet outline where the pressed button's card would be: nothing is there to choose."""
        try:
            x, _, w, _ = self.card_slots()[self._slot_index(button)]
        except ValueError:
            return  # a button this panel does not have (a scripted test): nothing to point at
        if cards is not None:
            top, h = cards
        else:
            h = self.px(56)
            top = self.height - self.px(8) - h
        self.rounded((x, top, w, h), None, MUTED, self.px(3))
        size = min(self.px(40), h - 2 * self.px(6))
        key = ("mark", "no-entry", size, MUTED, BACKGROUND)
        self.add(key, (x + (w - size) // 2, top + (h - size) // 2, size, size), self.screen.piece(key, lambda: self._mark(NO_ENTRY, size, MUTED, BACKGROUND)))
        self.layout.not_an_option = (x, top, w, h)

    # --- thank-you ---------------------------------------------------------------------------

    def thank_you(self, top: int) -> None:
        view = self.view
        radius = round(min(self.width, self.height) * 0.12)
        centre_y = top + radius + self.px(8)
        colour = SORRY if view.negative else THANKS
        badge = self.screen.piece(("thanks", view.negative, radius), lambda: self._thanks_badge(radius, colour, view.negative))
        self.add(("thanks", view.negative, radius), (self.width // 2 - radius, centre_y - radius, 2 * radius, 2 * radius), badge)
        # Room kept at the bottom for the ready pointers and the not-an-option cue, so the text
        # stays put when they appear (only they are repainted).
        bottom = self.height - self.px(76)
        box = (self.margin, centre_y + radius + self.px(16), self.width - 2 * self.margin, bottom - (centre_y + radius + self.px(16)))
        fitted = self.fit(view.text, box[2], self.px(60), height=box[3])
        rect, _ = self.text_block(view.text, box, fitted.px, TEXT, fitted=fitted)
        self.layout.text, self.layout.text_lines, self.layout.text_font_px = rect, fitted.lines, fitted.px
        self.layout.text_cap_px = self.screen.cap_height(fitted.px)
        if view.next_ready:
            self.layout.next_ready = tuple(self.ready_pointer(spec.position) for spec in self.screen.profile.buttons)
        if view.not_an_option_button is not None:
            self.not_an_option(view.not_an_option_button, None)

    # --- help ---------------------------------------------------------------------------------

    def help_screen(self, top: int) -> None:
        """A help screen: a badge (or the QR code) on the left, the words on the right, as large
        as the space allows up to the question's size; the smaller lines (please wait, the ETA,
        the phone number) at the label's size under them. The bottom is kept free for the
        "not an option" cue and the next customer's pointers, so nothing moves when they show."""
        view = self.view
        help = view.help
        assert help is not None
        bottom = self.height - self.px(68)
        body = (self.margin, top + self.px(4), self.width - 2 * self.margin, bottom - top - self.px(4))
        if help.qr:
            visual = self.qr_code(help.qr, body)
        else:
            visual = self.help_badge(body)
        gap = self.px(16)
        column = (visual[0] + visual[2] + gap, body[1], body[0] + body[2] - (visual[0] + visual[2] + gap), body[3])
        self.help_words(column)
        if view.next_ready:
            self.layout.next_ready = tuple(self.ready_pointer(spec.position) for spec in self.screen.profile.buttons)
        if view.not_an_option_button is not None:
            self.not_an_option(view.not_an_option_button, None)

    def qr_code(self, text: str, body: Rect) -> Rect:
        """The QR code as large as fits a square of the body's height (at most 45 % of the
        width), in whole pixels per module: crisp for a phone's camera. Made once per text and size."""
        code = encode(text)
        side = min(body[3], round(self.width * 0.45))
        # Modules of about 1.2 mm are read at arm's length; larger ones only take the words' room.
        module = max(min(module_px(code, side), self.px(6)), 1)
        if module < MIN_MODULE_PX:
            log.warning("the QR code gets only %d px per module at %dx%d: hard to scan", module, *self.size, extra={"chars": len(text)})
        size = code.size * module
        rect = (body[0], body[1] + (body[3] - size) // 2, size, size)
        key = ("qr", text, module)
        self.add(key, rect, self.screen.piece(key, lambda: self._qr(code.rgb(), code.size, size)))
        self.layout.qr, self.layout.qr_module_px = rect, module
        return rect

    def help_badge(self, body: Rect) -> Rect:
        """A disc with the stage's sign: a clock while staff are told, a person when one is
        coming, the thank-you's heart with the site's contact."""
        stage = self.view.help.stage if self.view.help else "waiting"
        colour, symbol = {"sending": (HELP_WAITING, "clock"), "waiting": (HELP_WAITING, "clock"), "coming": (HELP_COMING, "person")}.get(stage, (SORRY, "heart"))
        radius = self.px(52)
        rect = (body[0], body[1] + body[3] // 2 - radius, 2 * radius, 2 * radius)
        key = ("badge", symbol, colour, radius)
        self.add(key, rect, self.screen.piece(key, lambda: self._badge(radius, colour, HEART if symbol == "heart" else mark(symbol))))
        self.layout.help_badge = rect
        return rect

    def help_words(self, box: Rect) -> None:
        """The main text and the smaller lines, centred together in *box*."""
        view, help = self.view, self.view.help
        assert help is not None
        x, y, w, h = box
        extra = [line for line in (*help.lines, help.qr_text) if line]
        line_px = self.px(LABEL_PX)
        fitted_lines = [self.fit(line, w, line_px, max_lines=2) for line in extra]
        line_px = min((f.px for f in fitted_lines), default=line_px)
        fitted_lines = [self.fit(line, w, line_px, max_lines=2) for line in extra]
        line_height = self.screen.font(line_px).get_linesize()
        lines_h = sum(len(f.lines) for f in fitted_lines) * line_height + (self.px(6) if extra else 0)
        main_px = self.px(QUESTION_PX)
        fitted = self.fit(view.text, w, main_px, height=h - lines_h)
        main_h = len(fitted.lines) * self.screen.font(fitted.px).get_linesize()
        cursor = y + max((h - main_h - lines_h) // 2, 0)
        rect, _ = self.text_block(view.text, (x, cursor, w, main_h), fitted.px, TEXT, fitted=fitted, align="left")
        self.layout.text, self.layout.text_lines, self.layout.text_font_px = rect, fitted.lines, fitted.px
        self.layout.text_cap_px = self.screen.cap_height(fitted.px)
        self.layout.text_box = box
        cursor += main_h + self.px(6)
        for line, fit in zip(extra, fitted_lines):
            height = len(fit.lines) * line_height
            self.text_block(line, (x, cursor, w, height), fit.px, TEXT if line in help.lines else MUTED, fitted=fit, align="left")
            cursor += height
        self.layout.help_lines = tuple(f.lines for f in fitted_lines)
        self.layout.help_lines_cap_px = self.screen.cap_height(line_px) if extra else 0

    def ready_pointer(self, position: float) -> Rect:
        """A small arrow down at each button: the next customer may press now."""
        size = self.px(28)
        x = round(position * self.width) - size // 2
        y = self.height - self.px(8) - size
        surface = self.screen.piece(("ready", size), lambda: self._pointer(size))
        return self.add(("ready", size), (x, y, size, size), surface)

    # --- text -------------------------------------------------------------------------------

    def fit(self, value: str, width: int, max_px: int, max_lines: int | None = None, height: int | None = None) -> _Fitted:
        """The largest size (≤ max_px) at which *value*, wrapped on spaces, fits."""
        font = self.screen.font
        px = max(max_px, 10)
        while True:
            lines, broken = _wrap(value, width, font(px))
            fits_lines = max_lines is None or len(lines) <= max_lines
            fits_height = height is None or len(lines) * font(px).get_linesize() <= height
            # Shrink rather than hyphenate; break words only once the text would get too small.
            if (fits_lines and fits_height and (not broken or px <= max_px // 2)) or px <= 10:
                return _Fitted(tuple(lines), px)
            px = max(10, int(px * 0.92))

    def text_block(
        self, value: str, box: Rect, px: int, ink: RGB, background: RGB = BACKGROUND, max_lines: int | None = None, align: str = "center", fitted: _Fitted | None = None
    ) -> tuple[Rect, _Fitted]:
        """Lines of *value* as pieces, centred in *box*; returns where they went."""
        x, y, w, h = box
        fitted = fitted or self.fit(value, w, px, max_lines=max_lines, height=h)
        font = self.screen.font(fitted.px)
        line_height = font.get_linesize()
        cursor = y + max((h - len(fitted.lines) * line_height) // 2, 0)
        left_edge, right_edge, top_edge = x + w, x, cursor
        for line in fitted.lines:
            surface = self.screen.text(line, fitted.px, ink, background)
            lw = surface.get_width()
            lx = x if align == "left" else x + (w - lw) // 2
            self.add(("text", line, fitted.px, ink, background), (lx, cursor, lw, surface.get_height()), surface)
            left_edge, right_edge = min(left_edge, lx), max(right_edge, lx + lw)
            cursor += line_height
        return (left_edge, top_edge, max(right_edge - left_edge, 0), cursor - top_edge), fitted

    # --- drawings (made once per key, then cached by the screen) -------------------------------

    def _surface(self, w: int, h: int, colour: RGB = BACKGROUND) -> Any:
        import pygame

        surface = pygame.Surface((w, h))
        surface.fill(colour)
        return surface

    def _filled(self, w: int, h: int, colour: RGB) -> Any:
        return self.screen.piece(("filled", w, h, colour), lambda: self._surface(w, h, colour))

    def _corners(self, r: int, colour: RGB | None, edge: RGB | None, edge_width: int) -> Any:
        """A 2r × 2r disc whose quarters are a rounded rectangle's corners, antialiased by drawing big."""
        import pygame

        k = SUPERSAMPLE
        big = self._surface(2 * r * k, 2 * r * k)
        if colour is not None:
            pygame.draw.circle(big, colour, (r * k, r * k), r * k)
        if edge is not None:
            pygame.draw.circle(big, edge, (r * k, r * k), r * k, edge_width * k)
        return pygame.transform.smoothscale(big, (2 * r, 2 * r))

    def _triangle(self, size: int, colour: RGB) -> Any:
        import pygame

        k = SUPERSAMPLE
        big = self._surface(2 * size * k, size * k)
        pygame.draw.polygon(big, colour, [(0, 0), (2 * size * k, 0), (size * k, size * k - 1)])
        return pygame.transform.smoothscale(big, (2 * size, size))

    def _mark(self, shapes: Mark, size: int, ink: RGB, background: RGB) -> Any:
        surface = self._surface(size, size, background)
        surface.blit(draw_mark(shapes, size, ink), (0, 0))
        return surface

    def _thanks_badge(self, radius: int, colour: RGB, negative: bool) -> Any:
        return self._badge(radius, colour, HEART if negative else mark("check"))

    def _badge(self, radius: int, colour: RGB, symbol: Mark) -> Any:
        surface = self._surface(2 * radius, 2 * radius)
        surface.blit(draw_mark(DISC, 2 * radius, colour), (0, 0))
        size = round(radius * 1.1)
        surface.blit(draw_mark(symbol, size, ink_for(colour)), (radius - size // 2, radius - size // 2))
        return surface

    def _qr(self, rgb: bytes, modules: int, size: int) -> Any:
        """One pixel per module, scaled by a whole number without smoothing: every module a crisp square."""
        import pygame

        small = pygame.image.frombytes(rgb, (modules, modules), "RGB")
        return pygame.transform.scale(small, (size, size))

    def _countdown(self, seconds: int, size: int) -> Any:
        surface = self._surface(size, size)
        surface.blit(draw_mark(RING, size, TEXT), (0, 0))
        digits = self.screen.font(round(size * 0.55)).render(str(seconds), True, TEXT, BACKGROUND)
        surface.blit(digits, ((size - digits.get_width()) // 2, (size - digits.get_height()) // 2))
        return surface

    def _dots(self, step: int, steps: int) -> Any:
        """Progress: one dot per question on the longest path, filled up to this one."""
        radius = max(4, self.px(8))
        size = 2 * radius
        surface = self._surface(size * steps + radius * (steps - 1), size)
        for index in range(steps):
            done = index < step
            surface.blit(draw_mark(DOT if done else OPEN_DOT, size, TEXT if done else MUTED), (index * 3 * radius, 0))
        return surface

    def _pointer(self, size: int) -> Any:
        surface = self._surface(size, size)
        surface.blit(draw_mark(POINTER, size, MUTED), (0, 0))
        return surface

    def _logo(self, height: int) -> Any:
        def make() -> Any:
            import pygame

            logo = self.screen.logo
            width = max(1, round(logo.get_width() * height / logo.get_height()))
            width = min(width, round(self.width * 0.3))  # a very wide logo is narrowed, never covers the heading
            scaled = pygame.transform.smoothscale(logo.convert_alpha(), (width, height))
            surface = self._surface(width, height)
            surface.blit(scaled, (0, 0))
            return surface

        return self.screen.piece(("logo", height), make)


def draw_mark(shapes: Mark, size: int, colour: RGB) -> Any:
    """A mark rasterised *size* pixels wide, antialiased (drawn four times larger, then scaled down)."""
    import pygame

    k = SUPERSAMPLE
    big = pygame.Surface((size * k, size * k), pygame.SRCALPHA)
    half = size * k / 2

    def at(point: tuple[float, float]) -> tuple[float, float]:
        return half + point[0] * half, half + point[1] * half

    for shape in shapes:
        if isinstance(shape, Circle):
            centre = at(shape.centre)
            if shape.width is None:
                pygame.draw.circle(big, colour, centre, shape.radius * half)
            else:
                stroke = max(1, round(shape.width * half))
                pygame.draw.circle(big, colour, centre, shape.radius * half + stroke / 2, stroke)
        else:
            points = [at(p) for p in shape.points]
            if shape.width is None:
                pygame.draw.polygon(big, colour, points)
            else:
                _stroke(big, colour, points, shape.width * half)
    return pygame.transform.smoothscale(big, (size, size))


def _stroke(surface: Any, colour: RGB, points: list[tuple[float, float]], width: float) -> None:
    """A polyline of even *width* with round caps and joins (pygame's own thick lines thin out on diagonals)."""
    import pygame

    half = width / 2
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        length = math.hypot(x2 - x1, y2 - y1)
        if length == 0:
            continue
        nx, ny = -(y2 - y1) / length * half, (x2 - x1) / length * half
        pygame.draw.polygon(surface, colour, [(x1 + nx, y1 + ny), (x2 + nx, y2 + ny), (x2 - nx, y2 - ny), (x1 - nx, y1 - ny)])
    for point in points:
        pygame.draw.circle(surface, colour, point, half)


def _wrap(value: str, width: int, font: Any) -> tuple[list[str], bool]:
    """Lines of *value* no wider than *width*, and whether a word had to be broken."""
    lines: list[str] = []
    broken = False
    for paragraph in value.split("\n"):
        current = ""
        for word in paragraph.split(" "):  # on spaces only: a no-break space keeps a phone number whole
            if not word:
                continue
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
