"""The wiring check (test mode): its pure core, and its loop on gpiozero's MockFactory.

Issue 7, defect 8: presses made while installing must never become customers' answers. The
check has no flow and no outbox; these tests prove it still shows exactly what the wiring
does: which button reported, on which GPIO, and that every LED lights.
"""

import queue
import threading

import pygame
from hypothesis import given
from hypothesis import strategies as st

from hardware.gpio import GpioPanel
from hardware.keyboard import KeyboardPanel
from hardware.panel import ButtonPress, LanguagePress
from kiosk import outbox, wiring
from kiosk.screen import Screen
from kiosk.technician import WiringCheck
from kiosk.technician_screen import HAZARD, TEST_BANNER

presses = st.lists(st.one_of(st.integers(min_value=1, max_value=4).map(ButtonPress), st.just(LanguagePress())), max_size=60)


def test_the_check_starts_with_every_led_lit_and_nothing_counted(profile):
    state, effects = wiring.start(profile)
    assert effects == [wiring.Light(frozenset({1, 2, 3, 4}))]
    assert state.never_pressed == (1, 2, 3, 4) and state.language_presses == 0 and state.last is None


@given(events=presses)
def test_every_press_is_counted_on_its_own_button_and_flashes_only_its_led(profile, events):
    state, _ = wiring.start(profile)
    for event in events:
        before = state
        state, effects = wiring.step(state, event)
        if isinstance(event, ButtonPress):
            assert effects == [wiring.Flash(event.button)] and state.last == event.button
            assert state.count(event.button) == before.count(event.button) + 1
        else:
            assert effects == [] and state.last == wiring.LANGUAGE  # the language button has no LED
    buttons = [e.button for e in events if isinstance(e, ButtonPress)]
    assert dict(state.counts) == {n: buttons.count(n) for n in (1, 2, 3, 4)}
    assert state.language_presses == sum(isinstance(e, LanguagePress) for e in events)
    assert state.never_pressed == tuple(n for n in (1, 2, 3, 4) if n not in buttons)
    report = "\n".join(wiring.report(state, profile))
    assert ("fix:" in report) == bool(state.never_pressed)


def test_a_button_the_profile_lacks_changes_nothing(profile):
    state, _ = wiring.start(profile)
    assert wiring.step(state, ButtonPress(7)) == (state, [])


def test_on_gpio_each_press_shows_its_pin_and_flashes_its_led_with_all_others_lit(mock_factory, profile):
    screen = Screen(profile, (800, 480), "headless")
    panel = GpioPanel(profile, pin_factory=mock_factory)
    frames: queue.Queue = queue.Queue()
    check = WiringCheck(profile, screen, panel, "gpio", on_drawn=lambda state, drawn: frames.put((state, drawn)))
    finished: dict = {}
    runner = threading.Thread(target=lambda: finished.update(state=check.run()))
    runner.start()
    try:
        state, drawn = frames.get(timeout=10)
        assert drawn.blocks["banner"].lines == TEST_BANNER
        assert drawn.blocks["pressed"].lines == ("Bir düğmeye basın", "Press a button")
        leds = {spec.number: mock_factory.pin(spec.led) for spec in profile.buttons}
        assert [leds[n].state for n in (1, 2, 3, 4)] == [1, 1, 1, 1], "every LED lit before any press"

        mock_factory.pin(13).drive_low()  # button 3, header pin 33
        mock_factory.pin(13).drive_high()
        state, drawn = frames.get(timeout=10)
        assert state.last == 3 and state.count(3) == 1
        assert drawn.blocks["pressed"].lines == ("Düğme 3 · Button 3", "GPIO13 (header pin 33)", "LED GPIO20 (header pin 38)")
        assert panel.settle(5)
        # Button 1's LED went dark for the flash and came back; button 3's stayed lit throughout.
        assert [s.state for s in leds[1].states] == [0, 1, 0, 1]
        assert [s.state for s in leds[3].states] == [0, 1]
        assert screen.surface.get_at((2, 240))[:3] == HAZARD, "framed as test mode"
    finally:
        check.stop()
        runner.join(10)
        panel.close()
        screen.close()
    assert not runner.is_alive() and finished["state"].count(3) == 1
    assert outbox.Outbox._open_instance is None, "no outbox was opened"


def test_keys_in_a_window_stand_in_for_the_buttons_until_escape(profile):
    """The desktop path: keys 1-9 through the window's events (SDL's dummy driver here)."""
    screen = Screen(profile, (800, 480), "window")
    try:
        check = WiringCheck(profile, screen, KeyboardPanel(profile), "keyboard")
        for key in (pygame.K_2, pygame.K_4, pygame.K_4, pygame.K_l, pygame.K_ESCAPE, pygame.K_1):
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
        state = check.run(timeout=30)
    finally:
        screen.close()
    assert dict(state.counts) == {1: 0, 2: 1, 3: 0, 4: 2}, "keys typed after Escape are not counted"
    assert state.language_presses == 1 and state.last == wiring.LANGUAGE
