"""Faces and icons as plain geometry, drawn the same on the screen and on the button caps.

A *mark* is a few shapes (circles and polylines, stroked or filled) in a box from -1 to 1 on
both axes, y pointing down. The screen rasterises marks with pygame (``kiosk.screen``), the
printable button caps write them as SVG (``svg``), so the face above a button on screen and
the face printed on that button are one drawing.

Faces carry a scale's meaning by shape alone: the mouth goes from a deep frown to an open
smile, so options differ for someone who cannot tell their colours apart. Icons mark the
options of a choice question (``icon = "clock"`` in a survey: see docs/survey-format.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True)
class Circle:
    centre: Point
    radius: float
    width: float | None = None  # stroke width; None fills the disc


@dataclass(frozen=True)
class Line:
    points: tuple[Point, ...]
    width: float | None = None  # stroke width (round caps and joins); None fills the polygon


Shape = Circle | Line
Mark = tuple[Shape, ...]

STROKE = 0.13  # outline and mouth width: about 1/15 of the face, bold enough to read at 2 m


def quadratic(start: Point, control: Point, end: Point, segments: int = 16) -> tuple[Point, ...]:
    """Points along a quadratic Bézier curve (a mouth, a smile's lower edge)."""
    points = []
    for i in range(segments + 1):
        t = i / segments
        u = 1 - t
        points.append((u * u * start[0] + 2 * u * t * control[0] + t * t * end[0], u * u * start[1] + 2 * u * t * control[1] + t * t * end[1]))
    return tuple(points)


def _rotated(points: tuple[Point, ...], degrees: float) -> tuple[Point, ...]:
    a = math.radians(degrees)
    return tuple((x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)) for x, y in points)


def _star(centre: Point, size: float) -> Line:
    cx, cy = centre
    unit = ((0, -1), (0.22, -0.22), (1, 0), (0.22, 0.22), (0, 1), (-0.22, 0.22), (-1, 0), (-0.22, -0.22))
    return Line(tuple((cx + x * size, cy + y * size) for x, y in unit))


_HEAD = Circle((0, 0), 0.88, STROKE)
_EYES = (Circle((-0.32, -0.24), 0.12), Circle((0.32, -0.24), 0.12))

FACES: dict[str, Mark] = {
    # Brows raised in the middle and a deep frown: the only face with brows, so it stands out.
    "very-sad": (
        _HEAD, *_EYES,
        Line(((-0.52, -0.44), (-0.17, -0.58)), 0.1), Line(((0.52, -0.44), (0.17, -0.58)), 0.1),
        Line(quadratic((-0.42, 0.56), (0, 0.02), (0.42, 0.56)), STROKE),
    ),
    "sad": (_HEAD, *_EYES, Line(quadratic((-0.38, 0.5), (0, 0.24), (0.38, 0.5)), STROKE)),
    "neutral": (_HEAD, *_EYES, Line(((-0.38, 0.4), (0.38, 0.4)), STROKE)),
    "happy": (_HEAD, *_EYES, Line(quadratic((-0.42, 0.26), (0, 0.62), (0.42, 0.26)), STROKE)),
    # An open smile, filled: the only face with a solid mouth.
    "very-happy": (_HEAD, *_EYES, Line(quadratic((-0.5, 0.16), (0, 0.98), (0.5, 0.16)))),
}

ICONS: dict[str, Mark] = {
    "clock": (Circle((0, 0), 0.86, STROKE), Line(((0, -0.52), (0, 0), (0.4, 0.22)), STROKE)),
    "person": (
        Circle((0, -0.42), 0.32),
        Line(tuple((0.68 * math.cos(a), 0.92 - 0.78 * math.sin(a)) for a in (math.pi * i / 16 for i in range(17)))),
    ),
    "sparkle": (_star((-0.12, 0.1), 0.8), _star((0.62, -0.6), 0.3)),
    "tag": (
        Line(_rotated(((-0.85, -0.38), (0.3, -0.38), (0.8, 0), (0.3, 0.38), (-0.85, 0.38)), -45) + _rotated(((-0.85, -0.38),), -45), STROKE),
        Circle(_rotated(((0.3, 0),), -45)[0], 0.11),
    ),
    "check": (Line(((-0.62, 0.02), (-0.16, 0.5), (0.66, -0.48)), 0.2),),
    "cross": (Line(((-0.55, -0.55), (0.55, 0.55)), 0.2), Line(((0.55, -0.55), (-0.55, 0.55)), 0.2)),
    "question": (
        Line(quadratic((-0.38, -0.38), (-0.38, -0.85), (0.05, -0.82)) + quadratic((0.05, -0.82), (0.5, -0.78), (0.38, -0.3))[1:]
             + quadratic((0.38, -0.3), (0.02, -0.1), (0.02, 0.28))[1:], 0.18),
        Circle((0.02, 0.68), 0.13),
    ),
}
#: Marks the screen draws for itself rather than for an option.
HEART: Mark = (Circle((-0.36, -0.22), 0.4), Circle((0.36, -0.22), 0.4), Line(((-0.75, -0.1), (0.75, -0.1), (0, 0.8))))  # thank-you, negative
NO_ENTRY: Mark = (Circle((0, 0), 0.8, 0.16), Line(((-0.56, 0.56), (0.56, -0.56)), 0.16))  # a button that is not an option
POINTER: Mark = (Line(((-0.8, -0.45), (0.8, -0.45), (0, 0.65))),)  # thank-you: the next customer may press
DISC: Mark = (Circle((0, 0), 1.0),)
RING: Mark = (Circle((0, 0), 0.9, 0.12),)
DOT: Mark = (Circle((0, 0), 0.9),)
OPEN_DOT: Mark = (Circle((0, 0), 0.78, 0.22),)


def mark(name: str) -> Mark:
    """The face or icon called *name*."""
    return FACES.get(name) or ICONS[name]


# --- SVG -------------------------------------------------------------------------------------


def svg(shapes: Mark, colour: str, centre: Point, size: float) -> str:
    """SVG elements drawing *shapes* in *colour*, the mark's box (-1..1) scaled to *size* wide at *centre*."""
    cx, cy = centre
    half = size / 2

    def at(point: Point) -> str:
        return f"{cx + point[0] * half:.3f},{cy + point[1] * half:.3f}"

    elements = []
    for shape in shapes:
        if isinstance(shape, Circle):
            x, y = at(shape.centre).split(",")
            if shape.width is None:
                elements.append(f'<circle cx="{x}" cy="{y}" r="{shape.radius * half:.3f}" fill="{colour}"/>')
            else:
                elements.append(f'<circle cx="{x}" cy="{y}" r="{shape.radius * half:.3f}" fill="none" stroke="{colour}" stroke-width="{shape.width * half:.3f}"/>')
        else:
            points = " ".join(at(p) for p in shape.points)
            if shape.width is None:
                elements.append(f'<polygon points="{points}" fill="{colour}"/>')
            else:
                elements.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{shape.width * half:.3f}" stroke-linecap="round" stroke-linejoin="round"/>'
                )
    return "\n".join(elements)
