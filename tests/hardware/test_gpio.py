"""The GPIO panel over gpiozero's MockFactory: presses reach the flow, LEDs follow the screen."""

from pathlib import Path

import pytest

from hardware.errors import PanelError
from hardware.gpio import FLASH_SECONDS, HINT_SECONDS, LIT_BRIGHTNESS, GpioPanel
from hardware.panel import ButtonPress, LanguagePress
from hardware.profiles import load_profile, parse_profile
from kiosk.app import Kiosk
from kiosk.flow import Asking, Attract, ThankYou, last_answer_hold
from kiosk.outbox import Outbox
from kiosk.screen import Screen


class Ticks:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def press(factory, pin, ticks=None, advance=1.0):
    if ticks is not None:
        ticks.now += advance
    factory.pin(pin).drive_low()
    factory.pin(pin).drive_high()


def test_a_press_on_each_button_reports_its_number(mock_factory, profile):
    panel = GpioPanel(profile, pin_factory=mock_factory)
    events = []
    panel.start(events.append)
    for spec in profile.buttons:
        press(mock_factory, spec.pin)
    press(mock_factory, profile.language_pin)
    assert events == [ButtonPress(1), ButtonPress(2), ButtonPress(3), ButtonPress(4), LanguagePress()]
    panel.close()


def test_buttons_read_pressed_while_held(mock_factory, profile):
    panel = GpioPanel(profile, pin_factory=mock_factory)
    mock_factory.pin(5).drive_low()
    assert panel.is_pressed(1)
    mock_factory.pin(5).drive_high()
    assert not panel.is_pressed(1)
    panel.close()


def test_chatter_and_double_taps_count_once(mock_factory, profile):
    ticks = Ticks()
    panel = GpioPanel(profile, pin_factory=mock_factory, clock=ticks)
    events = []
    panel.start(events.append)
    press(mock_factory, 5, ticks, advance=1.0)
    for _ in range(5):  # a worn switch chattering for 100 ms
        press(mock_factory, 5, ticks, advance=0.02)
    press(mock_factory, 6, ticks, advance=0.02)  # another button is not blocked
    press(mock_factory, 5, ticks, advance=profile.repeat_guard_ms / 1000 + 0.01)
    assert events == [ButtonPress(1), ButtonPress(2), ButtonPress(1)]
    panel.close()


def test_light_and_flash(mock_factory, profile):
    panel = GpioPanel(profile, pin_factory=mock_factory)
    panel.light(frozenset({1, 4}))
    assert [panel.led_value(n) for n in (1, 2, 3, 4)] == [1, 0, 0, 1]
    panel.flash(2)
    assert [panel.led_value(n) for n in (1, 2, 3, 4)] == [0, 1, 0, 0]
    panel.light(frozenset({3}))  # the next screen's buttons show once the flash ends
    assert panel.led_value(2) == 1
    assert panel.settle(FLASH_SECONDS * 10)
    assert [panel.led_value(n) for n in (1, 2, 3, 4)] == [0, 0, 1, 0]
    panel.close()


def test_a_hint_blinks_the_lit_buttons_off_once_and_never_cuts_a_flash_short(mock_factory, profile):
    panel = GpioPanel(profile, pin_factory=mock_factory)
    panel.light(frozenset({1, 4}))
    panel.hint(frozenset({1, 4}))
    assert [panel.led_value(n) for n in (1, 2, 3, 4)] == [0, 0, 0, 0]
    assert panel.settle(HINT_SECONDS * 20)
    assert [panel.led_value(n) for n in (1, 2, 3, 4)] == [1, 0, 0, 1]
    panel.flash(4)
    panel.hint(frozenset({1, 4}))
    assert [panel.led_value(n) for n in (1, 2, 3, 4)] == [0, 0, 0, 1]
    panel.close()


def test_pwm_leds_dim_the_lit_buttons(mock_factory):
    panel = GpioPanel(load_profile("arcade-5"), pin_factory=mock_factory)
    panel.light(frozenset({1, 5}))
    assert panel.led_value(1) == pytest.approx(LIT_BRIGHTNESS) and panel.led_value(2) == 0
    panel.flash(5)
    assert panel.led_value(5) == 1
    panel.close()


def test_a_pin_another_device_holds_is_a_clear_error_and_releases_the_rest(mock_factory, profile):
    from gpiozero import LED

    squatter = LED(13, pin_factory=mock_factory)
    with pytest.raises(PanelError, match=r"button 3 on GPIO13 \(header pin 33\)") as caught:
        GpioPanel(profile, pin_factory=mock_factory)
    assert "fix:" in str(caught.value)
    squatter.close()
    GpioPanel(profile, pin_factory=mock_factory).close()  # nothing was left reserved


def test_a_driver_error_such_as_gpio_busy_is_explained(mock_factory, profile):
    """lgpio raises its own error type when the kernel says the line is busy."""

    class BusyFactory(type(mock_factory)):
        def pin(self, spec, **kwargs):
            if spec == 6:
                raise OSError("GPIO busy")
            return super().pin(spec, **kwargs)

    with pytest.raises(PanelError, match=r"button 2 on GPIO6 \(header pin 31\): OSError: GPIO busy") as caught:
        GpioPanel(profile, pin_factory=BusyFactory())
    assert "pinctrl" in str(caught.value)


def test_a_profile_without_pins_cannot_drive_gpio(mock_factory):
    keyboard_only = parse_profile('name = "desk"\n[[buttons]]\nnumber = 1\ncolour = "#ffffff"\n[[buttons]]\nnumber = 2\ncolour = "#000000"\n')
    with pytest.raises(PanelError, match="button 1 has no pin"):
        GpioPanel(keyboard_only, pin_factory=mock_factory)


def test_close_twice_is_harmless(mock_factory, profile):
    panel = GpioPanel(profile, pin_factory=mock_factory)
    panel.close()
    panel.close()


# --- end to end: pins → panel → queue → flow → outbox, screen and LEDs ------------------


@pytest.fixture
def kiosk(mock_factory, profile, survey, clock, tmp_path):
    panel = GpioPanel(profile, pin_factory=mock_factory)
    screen = Screen(profile, (800, 480), "headless")
    outbox = Outbox("gpio-test", "boot").open(tmp_path)
    kiosk = Kiosk(survey, screen, panel, outbox, clock, Path(tmp_path))
    panel.start(kiosk.submit)
    yield kiosk
    panel.close()
    outbox.close()
    screen.close()


def drain(kiosk):
    while not kiosk.inbox.empty():
        kiosk.handle(kiosk.inbox.get())


def test_mock_presses_answer_the_survey_end_to_end(kiosk, mock_factory, clock):
    assert [kiosk.panel.led_value(n) for n in (1, 2, 3, 4)] == [1, 1, 1, 1]
    clock.advance(1)
    press(mock_factory, 5)  # button 1: very unhappy → what went wrong?
    drain(kiosk)
    assert isinstance(kiosk.state.phase, Asking) and kiosk.state.phase.question_id == "what-went-wrong"
    clock.advance(1)
    press(mock_factory, 6)  # button 2: staff
    drain(kiosk)
    assert kiosk.screen.layout.cards.keys() == {1, 2, 3, 4}  # for a moment the chosen card on "what went wrong?"
    clock.advance(kiosk.state.survey.feedback_seconds)
    kiosk.tick()
    assert kiosk.screen.layout.cards.keys() == {1, 4}  # "would you recommend us?": no or yes
    clock.advance(1)
    press(mock_factory, 19)  # button 4: hmm, "yes" — would recommend anyway
    drain(kiosk)
    assert isinstance(kiosk.state.phase, ThankYou)
    clock.advance(last_answer_hold(kiosk.state.survey))
    kiosk.tick()  # the chosen card's moment is over: saved, then "thank you" drawn
    (row,) = kiosk.outbox.responses()
    assert [a["option"] for a in row["answers"]] == ["very-unhappy", "staff", "yes"]
    assert row["device_id"] == "gpio-test" and row["status"] == "completed"
    kiosk.panel.settle(5)
    assert [kiosk.panel.led_value(n) for n in (1, 2, 3, 4)] == [0, 0, 0, 0]  # nothing to answer on thank-you
    clock.advance(10)
    kiosk.tick()
    assert isinstance(kiosk.state.phase, Attract)
    assert [kiosk.panel.led_value(n) for n in (1, 2, 3, 4)] == [1, 1, 1, 1]


def test_language_button_switches_the_screen(kiosk, mock_factory, profile):
    press(mock_factory, profile.language_pin)
    drain(kiosk)
    assert kiosk.state.phase.language == "en"
    assert " ".join(kiosk.screen.layout.text_lines) == "How was your visit?"


def test_a_press_after_the_idle_timeout_starts_a_new_response_even_if_the_loop_woke_late(kiosk, mock_factory, clock, survey):
    clock.advance(1)
    press(mock_factory, 13)  # happy → "recommend?"
    drain(kiosk)
    clock.advance(survey.idle_timeout_seconds + 5)  # no tick ran in between: the loop was busy
    press(mock_factory, 19)
    drain(kiosk)
    abandoned, = kiosk.outbox.responses()
    assert abandoned["status"] == "abandoned" and [a["option"] for a in abandoned["answers"]] == ["happy"]
    assert kiosk.state.phase.question_id == "recommend"  # button 4 answered the *new* first question
    assert [a.option for a in kiosk.state.phase.draft.answers] == ["very-happy"]
