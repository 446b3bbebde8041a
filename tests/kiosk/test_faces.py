"""Faces and icons are plain geometry inside their box, and write valid SVG (the button caps use it)."""

import xml.etree.ElementTree as ET

import pytest

from kiosk.faces import FACES, ICONS, Circle, mark, quadratic, svg


def extent(shape):
    if isinstance(shape, Circle):
        (x, y), r = shape.centre, shape.radius + (shape.width or 0) / 2
        return x - r, y - r, x + r, y + r
    half = (shape.width or 0) / 2
    xs, ys = [p[0] for p in shape.points], [p[1] for p in shape.points]
    return min(xs) - half, min(ys) - half, max(xs) + half, max(ys) + half


@pytest.mark.parametrize("name", sorted(FACES) + sorted(ICONS))
def test_every_mark_stays_inside_its_box_and_writes_valid_svg(name):
    for shape in mark(name):
        left, top, right, bottom = extent(shape)
        assert -1 <= left and -1 <= top and right <= 1 and bottom <= 1, (name, shape)
    element = ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{svg(mark(name), "#123456", (50, 50), 40)}</svg>')
    drawn = list(element)
    assert len(drawn) == len(mark(name))
    assert all("#123456" in (e.get("fill", "") + e.get("stroke", "")) for e in drawn)


def test_faces_differ_in_their_mouths():
    mouths = [FACES[name][-1] for name in ("very-sad", "sad", "neutral", "happy", "very-happy")]
    middles = [m.points[len(m.points) // 2][1] for m in mouths[:-1]]
    ends = [m.points[0][1] for m in mouths[:-1]]
    curvature = [end - middle for end, middle in zip(ends, middles)]  # > 0: a frown, < 0: a smile
    assert curvature == sorted(curvature, reverse=True) and curvature[0] > 0 > curvature[-1] and curvature[2] == 0
    assert mouths[-1].width is None, "the widest smile is an open, filled mouth"


def test_quadratic_curve_ends_at_its_end_points():
    points = quadratic((0, 0), (1, 2), (2, 0), segments=4)
    assert points[0] == (0, 0) and points[-1] == (2, 0) and points[2] == (1, 1)
