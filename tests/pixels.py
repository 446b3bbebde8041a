"""Reading screenshots back as pixels: what the screen tests measure colours and contrast on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pygame

from kiosk.colour import RGB, Vision, simulate_pixels


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rgb: bytes

    @classmethod
    def load(cls, path: str | Path) -> Image:
        surface = pygame.image.load(str(path))
        width, height = surface.get_size()
        return cls(width, height, pygame.image.tobytes(surface, "RGB"))

    def pixel(self, x: int, y: int) -> RGB:
        i = 3 * (y * self.width + x)
        return self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]

    def colours(self, rect: tuple[int, int, int, int]) -> Counter[RGB]:
        """How often each colour occurs inside *rect*."""
        x, y, w, h = rect
        counts: Counter[RGB] = Counter()
        for row in range(max(y, 0), min(y + h, self.height)):
            start = 3 * (row * self.width + max(x, 0))
            line = self.rgb[start : start + 3 * (min(x + w, self.width) - max(x, 0))]
            counts.update(zip(line[0::3], line[1::3], line[2::3]))
        return counts

    def qr_texts(self) -> list[str]:
        """Every QR code a real decoder (ZXing's C++ port) reads in the image, as a phone would."""
        import zxingcpp

        grey = memoryview(bytes(self.rgb[1::3])).cast("B", (self.height, self.width))  # green: the brightest channel
        return [code.text for code in zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)]

    def dominant(self, rect: tuple[int, int, int, int]) -> RGB:
        return self.colours(rect).most_common(1)[0][0]

    def crop(self, rect: tuple[int, int, int, int]) -> Image:
        x, y, w, h = rect
        rows = [self.rgb[3 * (row * self.width + x) : 3 * (row * self.width + x + w)] for row in range(y, y + h)]
        return Image(w, h, b"".join(rows))

    def simulated(self, vision: Vision) -> Image:
        return Image(self.width, self.height, simulate_pixels(self.rgb, vision))


def far_from(colour: RGB, reference: RGB, tolerance: int = 60) -> bool:
    return sum(abs(a - b) for a, b in zip(colour, reference)) > tolerance


def ink_of(image: Image, rect: tuple[int, int, int, int], background: RGB) -> RGB:
    """The text colour inside *rect*: the commonest colour clearly unlike the background.

    Antialiased edges come in many shades, each rare; the solid inside of the letters is one
    colour, so it is the commonest of the rest.
    """
    counts = image.colours(rect)
    inks = [(n, c) for c, n in counts.items() if far_from(c, background)]
    assert inks, f"no text drawn in {rect}"
    return max(inks)[1]


def mask(image: Image, rect: tuple[int, int, int, int], ink: RGB, background: RGB) -> set[tuple[int, int]]:
    """Pixels of *rect* (relative to its corner) nearer to *ink* than to *background*: a drawing's shape."""
    x, y, w, h = rect
    shape = set()
    for dy in range(h):
        for dx in range(w):
            p = image.pixel(x + dx, y + dy)
            if sum(abs(a - b) for a, b in zip(p, ink)) < sum(abs(a - b) for a, b in zip(p, background)):
                shape.add((dx, dy))
    return shape
