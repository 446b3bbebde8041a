"""Pin profiles: the bundled ones are sound, and wiring mistakes are caught before any pin moves."""

import pytest

from hardware.errors import HardwareError, ProfileError
from hardware.profiles import available_profiles, load_profile, parse_profile


def test_bundled_profiles_have_four_and_five_buttons():
    assert {"arcade-4", "arcade-5"} <= set(available_profiles())
    assert load_profile("arcade-4").numbers == frozenset({1, 2, 3, 4})
    assert load_profile("arcade-5").numbers == frozenset({1, 2, 3, 4, 5})


def test_buttons_are_spread_evenly_left_to_right_with_their_colours():
    profile = load_profile("arcade-4")
    assert [b.position for b in profile.buttons] == [0.125, 0.375, 0.625, 0.875]
    assert profile.button(1).colour == (0xB7, 0x1C, 0x1C)
    assert profile.language_pin == 17


def test_bundled_profiles_record_the_printed_caps_colours():
    """The caps in hardware/button-caps carry the screen's scale colours; the profiles say so."""
    from kiosk.palette import scale_steps

    for name in ("arcade-4", "arcade-5"):
        profile = load_profile(name)
        assert [b.colour for b in profile.buttons] == [colour for colour, _ in scale_steps(len(profile.buttons))]


def test_profile_can_be_loaded_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    assert load_profile(path).name == "duo"


def test_profile_errors_are_both_ours_and_value_errors():
    assert issubclass(ProfileError, HardwareError) and issubclass(ProfileError, ValueError)


GOOD = """
name = "duo"
[[buttons]]
number = 1
pin = 5
led = 12
colour = "#ff0000"
[[buttons]]
number = 2
pin = 6
colour = "#00ff00"
position = 0.9
"""


@pytest.mark.parametrize(
    "change, message",
    [
        (("pin = 6", "pin = 5"), "button 2: GPIO5 (header pin 29) is already used by button 1"),
        (("led = 12", "led = 6"), "button 2: GPIO6 (header pin 31) is already used by LED of button 1"),
        (("pin = 6", "pin = 40"), "GPIO40 is not on the 40-pin header"),
        (("pin = 6", "pin = 1"), "reserved for the HAT ID EEPROM"),
        (("pin = 6", 'pin = "6"'), "Expected `int | null`, got `str`".replace("`", "")),
        (("number = 2", "number = 3"), "button numbers [1, 3]"),
        (('colour = "#00ff00"', 'colour = "green"'), "colour 'green'"),
        (("position = 0.9", "position = 1.5"), "position 1.5"),
        (('name = "duo"', 'name = "Duo Panel"'), "name 'Duo Panel' is not valid"),
        (("led = 12", "lde = 12"), "unknown field lde"),
    ],
)
def test_bad_profiles_name_the_problem_and_the_fix(change, message):
    old, new = change
    with pytest.raises(ProfileError) as caught:
        parse_profile(GOOD.replace(old, new, 1), "panel.toml")
    text = str(caught.value)
    assert text.startswith("panel.toml: ") and message in text and "fix:" in text


def test_single_button_profile_is_refused():
    with pytest.raises(ProfileError, match="1 buttons"):
        parse_profile('name = "one"\n[[buttons]]\nnumber = 1\npin = 5\ncolour = "#ffffff"\n')


def test_unknown_profile_name_lists_the_choices():
    with pytest.raises(ProfileError, match="arcade-4, arcade-5"):
        load_profile("arcade-7")


def test_survey_needing_more_buttons_than_the_panel_is_refused(survey):
    duo = parse_profile(GOOD)
    with pytest.raises(ProfileError, match=r"uses button 3, 4, but panel profile 'duo' has buttons 1, 2"):
        duo.check_buttons(survey.buttons, "survey 'exit-default'")
