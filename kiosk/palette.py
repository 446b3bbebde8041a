"""The screen's colours: what an answer looks like, chosen to survive colour blindness.

A *scale* question (worst answer on the left button, best on the right) gives each option a
valence colour AND a face, so neighbours differ in shape as well as colour. The colours
alternate dark and light along the scale (dark red, amber, grey, dark green, light green),
so neighbours stay apart in lightness, which every kind of colour vision keeps, not only in
hue, which red-green colour blindness loses. A *choice* question (reasons, topics: none
better than another) paints every option one neutral colour.

Measured by tests/kiosk/test_palette.py and on rendered screenshots (test_screen.py), for
every option count from 2 to 5, between neighbouring options:

* CIEDE2000 ≥ 20 in normal vision and simulated deuteranopia, protanopia and tritanopia
  (the old red → green buttons: 9.0 between red and dark green for a deuteranope);
* luminance contrast ≥ 1.8 : 1 in greyscale (the old ones: 1.03 : 1 red : green);
* label text (white or near-black, whichever contrasts more) ≥ 4.5 : 1 on every card.
"""

from __future__ import annotations

from kiosk.colour import RGB

BACKGROUND: RGB = (16, 21, 31)
TEXT: RGB = (245, 247, 250)
MUTED: RGB = (150, 160, 178)  # ≥ 4.5 : 1 on BACKGROUND: secondary language, headings, hints

VERY_NEGATIVE: RGB = (0xB7, 0x1C, 0x1C)  # dark red
NEGATIVE: RGB = (0xFF, 0xB3, 0x00)  # amber
NEUTRAL: RGB = (0x8A, 0x8A, 0x8A)  # grey
POSITIVE: RGB = (0x1B, 0x5E, 0x20)  # dark green
VERY_POSITIVE: RGB = (0x9C, 0xCC, 0x65)  # light green

#: One colour for every option of a choice question: blue-grey says "no answer is better".
CHOICE: RGB = (0x45, 0x5A, 0x64)

THANKS: RGB = VERY_POSITIVE
SORRY: RGB = NEGATIVE
#: The help screens' badges: calm blue-grey while staff are told, green once someone is coming.
HELP_WAITING: RGB = CHOICE
HELP_COMING: RGB = VERY_POSITIVE

#: The five steps of a scale, worst to best: (colour, face).
STEPS: tuple[tuple[RGB, str], ...] = (
    (VERY_NEGATIVE, "very-sad"),
    (NEGATIVE, "sad"),
    (NEUTRAL, "neutral"),
    (POSITIVE, "happy"),
    (VERY_POSITIVE, "very-happy"),
)

#: Which steps a scale of n options uses. Ends are always the extremes; a 4-option scale has
#: no neutral middle; a 3-option one is worst, neutral, best.
_STEPS_FOR = {2: (0, 4), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4)}


def scale_steps(count: int) -> tuple[tuple[RGB, str], ...]:
    """(colour, face) for each option of a scale of *count* options, left to right."""
    try:
        return tuple(STEPS[i] for i in _STEPS_FOR[count])
    except KeyError:
        raise ValueError(f"a scale has 2 to 5 options, not {count}") from None
