"""QR codes on the kiosk's screen: the call-back page, the site's own page.

A phone camera reads a QR code from a screen only if every module is a crisp square of whole
pixels with a light quiet zone around it (ISO/IEC 18004 asks four modules). So the code is
made once per address with segno, as one pixel per module, and the screen scales it up by a
whole number without smoothing (``kiosk.screen``). ``module_px`` says how large a module can
be in the space given; below MIN_MODULE_PX a camera at arm's length struggles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

QUIET_ZONE = 4  # modules of light border on each side
MIN_MODULE_PX = 4
DARK = (0, 0, 0)
LIGHT = (255, 255, 255)


@dataclass(frozen=True)
class QrCode:
    """A QR code as rows of modules (True = dark), its quiet zone included."""

    rows: tuple[tuple[bool, ...], ...]
    version: int

    @property
    def size(self) -> int:
        """Modules along a side, quiet zone included."""
        return len(self.rows)

    def rgb(self) -> bytes:
        """One RGB pixel per module, row by row: what a screen scales up."""
        dark, light = bytes(DARK), bytes(LIGHT)
        return b"".join(dark if module else light for row in self.rows for module in row)


@lru_cache(maxsize=16)
def encode(text: str) -> QrCode:
    """*text* as a QR code (never a Micro QR: phones do not read those), error correction M or
    better where it costs no extra size. Made once per text: encoding takes milliseconds."""
    import segno

    code = segno.make(text, error="m", micro=False)
    rows = tuple(tuple(bool(module) for module in row) for row in code.matrix_iter(scale=1, border=QUIET_ZONE))
    return QrCode(rows, int(code.version))


def module_px(code: QrCode, side: int) -> int:
    """The largest whole number of pixels per module at which *code* fits in *side* pixels."""
    return side // code.size
