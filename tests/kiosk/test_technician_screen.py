"""The technician's screens drawn with SDL's dummy driver: words where they belong, in pixels
that are really there, large enough to read (issue 7, defect 12: a kiosk that cannot start
showed a black screen, its reason only in the journal)."""

import pygame
import pytest

from hardware.panel import ButtonPress
from kiosk import wiring
from kiosk.screen import BACKGROUND, Screen, find_font
from kiosk.technician_screen import ALARM, ERROR_HEADING, FIX, HAZARD, TEST_BANNER, Fonts, draw_startup_error, draw_wiring_check, split_fix

CONFIG_ERROR = (
    "/etc/nabiz/kiosk.toml: fleet.broker: broker 'http://fleet.example.com' is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]\n"
    '  fix: e.g. broker = "mqtts://fleet.example.com:8883"'
)
PANEL_ERROR = (
    "cannot open the button 1 on GPIO5 (header pin 29): GPIOPinInUse: pin GPIO5 is already in use by another program\n"
    "  fix: another program or a device-tree overlay holds this GPIO (check with `pinctrl get N`); stop it or choose a free pin in the profile"
)


@pytest.fixture(params=[(800, 480), (1920, 1080)], ids=["7-inch", "hdmi"])
def screen(request, profile):
    screen = Screen(profile, request.param, "headless")
    yield screen
    screen.close()


def ink_pixels(surface, rect, background) -> int:
    """How many pixels of *rect* differ from *background* (text was drawn there)."""
    return sum(surface.get_at(point)[:3] != background for point in _grid(rect))


def words(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("message", [CONFIG_ERROR, PANEL_ERROR], ids=["config", "panel"])
def test_the_startup_error_shows_both_headings_the_exact_error_and_its_fix(screen, message, tmp_path):
    drawn = draw_startup_error(screen.surface, message, "journalctl -u nabiz-kiosk -b", Fonts(find_font()))
    path = screen.save(tmp_path / "error.png")
    image = pygame.image.load(str(path))
    width, height = image.get_size()
    unit = min(width / 800, height / 480)
    problem, fix = split_fix(message)

    assert drawn.blocks["heading"].lines == ERROR_HEADING, "Turkish and English, each on its own line"
    assert image.get_at((2, 2))[:3] == ALARM
    assert words("".join(drawn.blocks["error"].lines)) == words(problem), "the exact error, nothing cut"
    assert words("".join(drawn.blocks["fix"].lines)) == words("Çözüm / fix: " + fix)
    for name, background in (("heading", ALARM), ("error", BACKGROUND), ("fix", BACKGROUND), ("footer", BACKGROUND)):
        block = drawn.blocks[name]
        assert ink_pixels(image, block.rect, background) > 50, f"{name} is really drawn"
    assert FIX in {image.get_at((x, y))[:3] for x, y in _grid(drawn.blocks["fix"].rect)}, "the fix in its own colour"
    # Large enough to read from a step away: the heading ≥ 30 px, the error and fix ≥ 20 px on the 7" display.
    assert drawn.blocks["heading"].px >= 30 * unit and drawn.blocks["error"].px >= 20 * unit and drawn.blocks["fix"].px >= 20 * unit
    for block in drawn.blocks.values():  # everything on screen, nothing overlapping the next
        x, y, w, h = block.rect
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
    assert drawn.blocks["heading"].rect[1] + drawn.blocks["heading"].rect[3] <= drawn.blocks["error"].rect[1]
    assert drawn.blocks["error"].rect[1] + drawn.blocks["error"].rect[3] <= drawn.blocks["fix"].rect[1]


def test_a_long_path_without_spaces_is_broken_not_cut(profile):
    screen = Screen(profile, (800, 480), "headless")
    try:
        path = "/srv/" + "çok-uzun-bir-klasör-adı/" * 12 + "anket.toml"
        drawn = draw_startup_error(screen.surface, f"{path}: file not found\n  fix: check the path", "", Fonts(find_font()))
        assert words("".join(drawn.blocks["error"].lines)) == words(f"{path}: file not found")
        assert len(drawn.blocks["error"].lines) > 1
    finally:
        screen.close()


def test_the_wiring_check_screen_is_marked_as_test_mode_and_shows_what_is_left(screen, profile):
    state, _ = wiring.start(profile)
    for button in (1, 3, 3):
        state, _ = wiring.step(state, ButtonPress(button))
    drawn = draw_wiring_check(screen.surface, state, profile, "gpio", Fonts(find_font()), "Ctrl-C")
    surface = screen.surface
    width, height = surface.get_size()
    assert drawn.blocks["banner"].lines == TEST_BANNER
    assert all(surface.get_at(point)[:3] == HAZARD for point in ((1, 1), (width - 2, height // 2), (width // 2, height - 2), (1, height - 2))), "amber on every edge"
    assert drawn.blocks["pressed"].lines[1:] == ("GPIO13 (header pin 33)", "LED GPIO20 (header pin 38)")
    assert drawn.blocks["button 3"].lines == ("3", "×2") and drawn.blocks["button 4"].lines == ("4", "×0")
    # A button that has reported is filled with its colour; one still to test is only outlined.
    pressed, untested = drawn.blocks["button 1"].rect, drawn.blocks["button 4"].rect
    assert surface.get_at((pressed[0] - 2, pressed[1] + pressed[3] // 2))[:3] == profile.button(1).colour
    assert surface.get_at((untested[0] - 2, untested[1] + untested[3] // 2))[:3] == BACKGROUND


def _grid(rect):
    x, y, w, h = rect
    return [(i, j) for i in range(x, x + w, 2) for j in range(y, y + h, 2)]
