"""The palette's promises, checked on the colours themselves (test_screen.py checks them again on
rendered screenshots): for every scale length, neighbouring options stay apart for every kind of
colour vision, and every card's text has WCAG AA contrast."""

import pytest

from kiosk.colour import contrast, difference, ink_for
from kiosk.faces import FACES
from kiosk.palette import BACKGROUND, CHOICE, MUTED, SORRY, STEPS, TEXT, THANKS, scale_steps

#: The thresholds this kiosk holds itself to (see kiosk/palette.py).
MIN_DELTA_E = 20.0  # CIEDE2000 between neighbouring options, normal vision and each dichromacy
MIN_GREY_CONTRAST = 1.8  # luminance contrast between neighbours in greyscale
MIN_TEXT_CONTRAST = 4.5  # WCAG AA for label text


@pytest.mark.parametrize("count", [2, 3, 4, 5])
@pytest.mark.parametrize("vision", ["normal", "deuteranopia", "protanopia", "tritanopia"])
def test_neighbours_stay_apart(count, vision):
    colours = [colour for colour, _ in scale_steps(count)]
    for left, right in zip(colours, colours[1:]):
        assert difference(left, right, vision) >= MIN_DELTA_E, (count, vision, left, right)


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_neighbours_stay_apart_in_greyscale(count):
    colours = [colour for colour, _ in scale_steps(count)]
    for left, right in zip(colours, colours[1:]):
        assert contrast(left, right) >= MIN_GREY_CONTRAST, (count, left, right)


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_each_option_has_its_own_face_from_worst_to_best(count):
    faces = [face for _, face in scale_steps(count)]
    assert len(set(faces)) == count and all(face in FACES for face in faces)
    order = [face for _, face in STEPS]
    assert faces == sorted(faces, key=order.index)
    assert faces[0] == "very-sad" and faces[-1] == "very-happy"


def test_every_card_and_badge_colour_carries_aa_text():
    for colour in [c for c, _ in STEPS] + [CHOICE, THANKS, SORRY]:
        assert contrast(ink_for(colour), colour) >= MIN_TEXT_CONTRAST, colour
    assert contrast(TEXT, BACKGROUND) >= MIN_TEXT_CONTRAST and contrast(MUTED, BACKGROUND) >= MIN_TEXT_CONTRAST


def test_a_scale_has_two_to_five_options():
    with pytest.raises(ValueError, match="2 to 5"):
        scale_steps(6)
