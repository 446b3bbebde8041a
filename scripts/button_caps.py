"""Printable button-cap artwork that matches the screen: `make button-caps`.

Each physical button gets the colour and the face its card has on a scale question (the
bundled survey's first question), so a customer who looks down sees what they saw on screen,
and a colour-blind customer still has the face. One A4 sheet per panel profile and button
size, as SVG (vector, for a print shop) and PNG at 300 dpi (for an office printer), drawn
from the same geometry as the screen (kiosk/faces.py, kiosk/palette.py).

    python scripts/button_caps.py --out hardware/button-caps

Sizes (print at 100 %, check the 50 mm scale bar, cut on the dashed line):
  30 mm buttons: a 24 mm disc, the insert under the clear cap of "clear-top" 30 mm buttons;
  60 mm buttons: a 52 mm disc, the insert under the clear dome of 60 mm "massive" buttons.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hardware.profiles import available_profiles, load_profile  # noqa: E402
from kiosk.colour import RGB, ink_for, to_hex  # noqa: E402
from kiosk.faces import DISC, mark, svg  # noqa: E402
from kiosk.palette import scale_steps  # noqa: E402

A4_MM = (210.0, 297.0)
DPI = 300
MARGIN_MM = 15.0
GAP_MM = 10.0
BLEED_MM = 1.0  # colour runs this far past the cut line, so a slightly off cut shows no white edge
FACE_SHARE = 0.72  # the face's width as a share of the disc


@dataclass(frozen=True)
class CapSize:
    name: str  # the button's nominal size
    disc_mm: float  # the artwork's diameter (the cut line)


SIZES = (CapSize("30mm", 24.0), CapSize("60mm", 52.0))


@dataclass(frozen=True)
class Cap:
    button: int
    colour: RGB
    face: str
    centre_mm: tuple[float, float]


def layout(buttons: int, size: CapSize) -> list[Cap]:
    """Caps in rows across an A4 sheet, left to right in button order."""
    steps = scale_steps(buttons)
    pitch = size.disc_mm + 2 * BLEED_MM + GAP_MM
    per_row = max(1, int((A4_MM[0] - 2 * MARGIN_MM + GAP_MM) // pitch))
    caps = []
    for index, (colour, face) in enumerate(steps):
        row, column = divmod(index, per_row)
        x = MARGIN_MM + size.disc_mm / 2 + BLEED_MM + column * pitch
        y = MARGIN_MM + 12 + size.disc_mm / 2 + BLEED_MM + row * (pitch + 6)
        caps.append(Cap(index + 1, colour, face, (x, y)))
    return caps


def title(profile_name: str, size: CapSize) -> str:
    return f"Nabız button caps: {profile_name}, {size.name} buttons ({size.disc_mm:g} mm discs). Print at 100 %, cut on the dashed line."


def sheet_svg(profile_name: str, caps: list[Cap], size: CapSize) -> str:
    width, height = A4_MM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}mm" height="{height:g}mm" viewBox="0 0 {width:g} {height:g}">',
        f'<text x="{MARGIN_MM:g}" y="{MARGIN_MM:g}" font-family="DejaVu Sans, sans-serif" font-size="4" fill="#000">{title(profile_name, size)}</text>',
    ]
    radius = size.disc_mm / 2
    for cap in caps:
        cx, cy = cap.centre_mm
        ink = to_hex(ink_for(cap.colour))
        parts.append(f'<g id="button-{cap.button}">')
        parts.append(f'<circle cx="{cx:.3f}" cy="{cy:.3f}" r="{radius + BLEED_MM:.3f}" fill="{to_hex(cap.colour)}"/>')
        parts.append(svg(mark(cap.face), ink, (cx, cy), size.disc_mm * FACE_SHARE))
        parts.append(f'<circle cx="{cx:.3f}" cy="{cy:.3f}" r="{radius:.3f}" fill="none" stroke="#555" stroke-width="0.2" stroke-dasharray="1 1" class="cut"/>')
        parts.append(
            f'<text x="{cx:.3f}" y="{cy + radius + BLEED_MM + 5:.3f}" font-family="DejaVu Sans, sans-serif" font-size="3.5" text-anchor="middle" fill="#000">button {cap.button}</text>'
        )
        parts.append("</g>")
    bar_y = height - MARGIN_MM
    parts.append(f'<line x1="{MARGIN_MM:g}" y1="{bar_y:g}" x2="{MARGIN_MM + 50:g}" y2="{bar_y:g}" stroke="#000" stroke-width="0.4"/>')
    parts.append(f'<text x="{MARGIN_MM:g}" y="{bar_y - 2:g}" font-family="DejaVu Sans, sans-serif" font-size="3.5" fill="#000">50 mm: measure this to check the print scale</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def sheet_png(profile_name: str, caps: list[Cap], size: CapSize, path: Path) -> Path:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    from kiosk.screen import draw_mark

    def px(mm: float) -> int:
        return round(mm * DPI / 25.4)

    pygame.font.init()
    sheet = pygame.Surface((px(A4_MM[0]), px(A4_MM[1])))
    sheet.fill((255, 255, 255))
    font = pygame.font.Font(None, px(5))
    sheet.blit(font.render(title(profile_name, size), True, (0, 0, 0)), (px(MARGIN_MM), px(MARGIN_MM) - px(4)))
    for cap in caps:
        cx, cy = cap.centre_mm
        outer = px(size.disc_mm + 2 * BLEED_MM)
        sheet.blit(draw_mark(DISC, outer, cap.colour), (px(cx) - outer // 2, px(cy) - outer // 2))
        face = px(size.disc_mm * FACE_SHARE)
        sheet.blit(draw_mark(mark(cap.face), face, ink_for(cap.colour)), (px(cx) - face // 2, px(cy) - face // 2))
        _dashed_circle(sheet, (px(cx), px(cy)), px(size.disc_mm / 2))
        label = font.render(f"button {cap.button}", True, (0, 0, 0))
        sheet.blit(label, (px(cx) - label.get_width() // 2, px(cy + size.disc_mm / 2 + BLEED_MM + 2)))
    bar_y = px(A4_MM[1] - MARGIN_MM)
    pygame.draw.line(sheet, (0, 0, 0), (px(MARGIN_MM), bar_y), (px(MARGIN_MM + 50), bar_y), max(1, px(0.4)))
    sheet.blit(font.render("50 mm: measure this to check the print scale", True, (0, 0, 0)), (px(MARGIN_MM), bar_y - px(6)))
    path.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(sheet, str(path))
    return path


def _dashed_circle(surface, centre: tuple[int, int], radius: int) -> None:  # type: ignore[no-untyped-def]
    import math

    import pygame

    steps = max(24, int(2 * math.pi * radius / 12))
    for i in range(0, steps, 2):
        a, b = 2 * math.pi * i / steps, 2 * math.pi * (i + 1) / steps
        pygame.draw.line(surface, (85, 85, 85), (centre[0] + radius * math.cos(a), centre[1] + radius * math.sin(a)), (centre[0] + radius * math.cos(b), centre[1] + radius * math.sin(b)), 2)


def write_all(out: Path, profiles: list[str] | None = None) -> list[Path]:
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for name in profiles or available_profiles():
        buttons = len(load_profile(name).buttons)
        for size in SIZES:
            caps = layout(buttons, size)
            stem = f"{name}-{size.name}"
            svg_path = out / f"{stem}.svg"
            svg_path.write_text(sheet_svg(name, caps, size), encoding="utf-8")
            written += [svg_path, sheet_png(name, caps, size, out / f"{stem}.png")]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "hardware" / "button-caps")
    parser.add_argument("--profile", action="append", help="only this pin profile (repeatable; default: every bundled one)")
    args = parser.parse_args(argv)
    for path in write_all(args.out, args.profile):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
