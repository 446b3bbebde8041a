"""Colour maths the screen is judged by: WCAG contrast, colour-vision simulation, CIEDE2000.

Pure functions on 8-bit sRGB triples, no pygame and no numpy, so the kiosk picks its text
colour by the same formula the tests measure it with, and the palette's claims ("neighbours
stay apart for a deuteranope") are checked by code anyone can read.

* WCAG 2.x relative luminance and contrast ratio (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio).
* Dichromacy simulated with the matrices of Machado, Oliveira and Fernandes (2009), severity
  1.0, applied to linear sRGB; "greyscale" keeps only relative luminance.
* CIELAB (D65) and the CIEDE2000 colour difference (Sharma, Wu and Dalal 2005).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Literal

RGB = tuple[int, int, int]
Vision = Literal["normal", "deuteranopia", "protanopia", "tritanopia", "greyscale"]
VISIONS: tuple[Vision, ...] = ("normal", "deuteranopia", "protanopia", "tritanopia", "greyscale")
SIMULATED: tuple[Vision, ...] = ("deuteranopia", "protanopia", "tritanopia", "greyscale")

WHITE: RGB = (255, 255, 255)
#: Text colour on light cards: near-black, softer than #000 yet ≥ 4.5 : 1 wherever white fails.
NEAR_BLACK: RGB = (17, 17, 17)

#: Machado et al. (2009), severity 1.0, rows act on linear (R, G, B).
_MACHADO: dict[str, tuple[tuple[float, float, float], ...]] = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}

_HEX = re.compile(r"#([0-9a-fA-F]{6})")


def parse_hex(value: str) -> RGB | None:
    """``"#rrggbb"`` as a triple, or None if it is not written that way."""
    match = _HEX.fullmatch(value.strip())
    if not match:
        return None
    digits = match.group(1)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def to_hex(colour: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


# --- sRGB transfer and WCAG ------------------------------------------------------------------


@lru_cache(maxsize=256)
def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _encode(value: float) -> int:
    v = min(max(value, 0.0), 1.0)
    encoded = 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055
    return round(encoded * 255)


def relative_luminance(colour: RGB) -> float:
    r, g, b = (_linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio, from 1 (same luminance) to 21 (black on white)."""
    low, high = sorted((relative_luminance(a), relative_luminance(b)))
    return (high + 0.05) / (low + 0.05)


def ink_for(background: RGB, candidates: tuple[RGB, ...] = (WHITE, NEAR_BLACK)) -> RGB:
    """The candidate text colour with the highest WCAG contrast on *background*.

    Why not an RGB threshold: white on orange looks fine to a threshold and measures 2.7 : 1.
    """
    return max(candidates, key=lambda ink: contrast(ink, background))


# --- colour-vision simulation ----------------------------------------------------------------


def simulate(colour: RGB, vision: Vision) -> RGB:
    """How *colour* looks to someone with *vision* (a full dichromacy, or luminance only)."""
    if vision == "normal":
        return colour
    linear = [_linear(c) for c in colour]
    if vision == "greyscale":
        grey = _encode(0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2])
        return grey, grey, grey
    matrix = _MACHADO[vision]
    r, g, b = (_encode(sum(row[i] * linear[i] for i in range(3))) for row in matrix)
    return r, g, b


def simulate_pixels(rgb: bytes, vision: Vision) -> bytes:
    """Simulate every pixel of packed 8-bit RGB data.

    A screenshot has a few thousand distinct colours among its million pixels: each is
    simulated once, then the pixels are looked up in C (``map`` over a dict), not in a Python loop.
    """
    if vision == "normal":
        return rgb
    pixels = list(zip(rgb[0::3], rgb[1::3], rgb[2::3]))
    table = {colour: bytes(simulate(colour, vision)) for colour in set(pixels)}
    return b"".join(map(table.__getitem__, pixels))


# --- CIELAB and CIEDE2000 --------------------------------------------------------------------

_WHITE_D65 = (0.95047, 1.0, 1.08883)


def to_lab(colour: RGB) -> tuple[float, float, float]:
    r, g, b = (_linear(c) for c in colour)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / _WHITE_D65[0]
    y = (0.2126729 * r + 0.7151522 * g + 0.0721750 * b) / _WHITE_D65[1]
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / _WHITE_D65[2]

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e_2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """CIEDE2000 (kL = kC = kH = 1): about 1 is a just-noticeable difference, 20+ is obvious."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0

    dl = l2 - l1
    dc = c2p - c1p
    if c1p * c2p == 0:
        dh = 0.0
    else:
        dh = h2p - h1p
        if dh > 180:
            dh -= 360
        elif dh < -180:
            dh += 360
    dh_big = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh) / 2)

    l_mean = (l1 + l2) / 2
    cp_mean = (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        h_mean = (h1p + h2p + 360) / 2
    else:
        h_mean = (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_mean - 30))
        + 0.24 * math.cos(math.radians(2 * h_mean))
        + 0.32 * math.cos(math.radians(3 * h_mean + 6))
        - 0.20 * math.cos(math.radians(4 * h_mean - 63))
    )
    rotation = 30 * math.exp(-(((h_mean - 275) / 25) ** 2))
    rc = 2 * math.sqrt(cp_mean**7 / (cp_mean**7 + 25**7))
    sl = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    sc = 1 + 0.045 * cp_mean
    sh = 1 + 0.015 * cp_mean * t
    rt = -math.sin(math.radians(2 * rotation)) * rc
    return math.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dh_big / sh) ** 2 + rt * (dc / sc) * (dh_big / sh))


def difference(a: RGB, b: RGB, vision: Vision = "normal") -> float:
    """CIEDE2000 between *a* and *b* as seen with *vision*."""
    return delta_e_2000(to_lab(simulate(a, vision)), to_lab(simulate(b, vision)))
