"""The colour maths the screen is judged by, checked against published reference values."""

import pytest

from kiosk.colour import NEAR_BLACK, SIMULATED, WHITE, contrast, delta_e_2000, difference, ink_for, parse_hex, simulate, simulate_pixels, to_lab

# Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Table 1 (a selection).
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0009), 7.1792),
    ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0011), 7.2195),
    ((50.0, -0.0010, 2.4900), (50.0, 0.0009, -2.4900), 4.8045),
    ((50.0, -0.0010, 2.4900), (50.0, 0.0011, -2.4900), 4.7461),
    ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((50.0, 2.5, 0.0), (58.0, 24.0, 15.0), 19.4535),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_ciede2000_matches_sharmas_test_data(lab1, lab2, expected):
    assert delta_e_2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert delta_e_2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)  # symmetric


def test_cielab_of_known_colours():
    assert to_lab(WHITE) == pytest.approx((100.0, 0.0, 0.0), abs=0.01)
    assert to_lab((0, 0, 0)) == pytest.approx((0.0, 0.0, 0.0), abs=0.01)
    assert to_lab((255, 0, 0)) == pytest.approx((53.24, 80.09, 67.20), abs=0.05)  # sRGB red, D65


def test_wcag_contrast_reference_values():
    assert contrast(WHITE, (0, 0, 0)) == pytest.approx(21.0)
    assert contrast((0x76, 0x76, 0x76), WHITE) == pytest.approx(4.54, abs=0.01)  # the lightest grey passing AA on white
    assert contrast((0xF5, 0x7C, 0x00), WHITE) == pytest.approx(2.70, abs=0.01)  # issue 9: white on the old orange


def test_ink_is_chosen_by_contrast_not_by_a_threshold():
    assert ink_for((0xF5, 0x7C, 0x00)) == NEAR_BLACK  # the old orange: dark text 7.1 : 1, white only 2.7 : 1
    assert ink_for((0x1B, 0x5E, 0x20)) == WHITE
    for grey in range(0, 256, 5):
        chosen = ink_for((grey, grey, grey))
        assert contrast(chosen, (grey, grey, grey)) == max(contrast(WHITE, (grey, grey, grey)), contrast(NEAR_BLACK, (grey, grey, grey)))


def test_simulations_keep_greys_and_merge_what_they_should():
    for vision in SIMULATED:
        for grey in (0, 64, 128, 255):
            assert max(abs(a - b) for a, b in zip(simulate((grey, grey, grey), vision), (grey, grey, grey))) <= 2, vision
    # Issue 9's measurements of the old buttons, reproduced: red and dark green merge for a deuteranope.
    red, dark_green = (0xD3, 0x2F, 0x2F), (0x2E, 0x7D, 0x32)
    assert difference(red, dark_green) > 40
    assert difference(red, dark_green, "deuteranopia") == pytest.approx(9.06, abs=0.05)
    assert contrast(red, dark_green) == pytest.approx(1.03, abs=0.005)
    # Tritanopes confuse blue with green, not red with green.
    assert difference((0x00, 0x72, 0xB2), (0x00, 0x9E, 0x73), "tritanopia") < difference((0x00, 0x72, 0xB2), (0x00, 0x9E, 0x73))
    assert difference(red, dark_green, "tritanopia") > 25


def test_simulating_pixels_is_the_same_as_simulating_each():
    pixels = bytes([211, 47, 47, 46, 125, 50, 211, 47, 47, 255, 255, 255])
    out = simulate_pixels(pixels, "protanopia")
    assert [tuple(out[i : i + 3]) for i in range(0, 12, 3)] == [simulate((211, 47, 47), "protanopia"), simulate((46, 125, 50), "protanopia"), simulate((211, 47, 47), "protanopia"), simulate(WHITE, "protanopia")]


def test_hex_colours():
    assert parse_hex("#B71C1C") == (0xB7, 0x1C, 0x1C)
    assert parse_hex(" #9ccc65 ") == (0x9C, 0xCC, 0x65)
    assert parse_hex("red") is None and parse_hex("#fff") is None and parse_hex("#gggggg") is None
