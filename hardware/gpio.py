"""Buttons and LEDs on the Pi's GPIO header, through gpiozero.

The pin factory is injected (tests pass ``MockFactory()``); left as None, gpiozero picks
its default (lgpio on Raspberry Pi OS Bookworm) or the one named by GPIOZERO_PIN_FACTORY.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from gpiozero import LED, PWMLED, Button, Device
from gpiozero.exc import GPIOZeroError

from hardware.errors import PanelError
from hardware.panel import ButtonPress, LanguagePress, PanelEvent, RepeatGuard, Sink
from hardware.profiles import Profile, describe_pin

log = logging.getLogger(__name__)

#: How long a counted press keeps only its own LED lit before the next screen's LEDs show.
FLASH_SECONDS = 0.3
#: How long the lit buttons go dark after a press of a button that is not an option.
HINT_SECONDS = 0.15
#: Brightness of a lit (answerable) button when LEDs are PWM-dimmed; a pressed one goes to full.
LIT_BRIGHTNESS = 0.6


class GpioPanel:
    def __init__(self, profile: Profile, pin_factory: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.profile = profile
        self._factory = pin_factory
        self._guard = RepeatGuard(profile.repeat_guard_ms / 1000, clock)
        self._sink: Sink | None = None
        self._buttons: dict[int, Button] = {}
        self._leds: dict[int, LED | PWMLED] = {}
        self._language: Button | None = None
        self._lit: frozenset[int] = frozenset()
        self._lock = threading.Lock()
        self._restore: threading.Timer | None = None
        self._open()

    def _open(self) -> None:
        profile = self.profile
        for spec in profile.buttons:  # checked before any pin is claimed
            if spec.pin is None:
                raise PanelError(f"profile {profile.name!r}: button {spec.number} has no pin\n  fix: add pin = <BCM GPIO> to the button in the profile")
        bounce = profile.bounce_ms / 1000 or None
        led_class = PWMLED if profile.led_pwm else LED
        role = ""
        try:
            for spec in profile.buttons:
                role = f"button {spec.number} on {describe_pin(spec.pin)}"
                button = Button(spec.pin, pull_up=profile.pull_up, bounce_time=bounce, pin_factory=self._factory)
                button.when_pressed = partial(self._pressed, spec.number)
                self._buttons[spec.number] = button
                if spec.led is not None:
                    role = f"LED of button {spec.number} on {describe_pin(spec.led)}"
                    self._leds[spec.number] = led_class(spec.led, pin_factory=self._factory)
            if profile.language_pin is not None:
                role = f"language button on {describe_pin(profile.language_pin)}"
                self._language = Button(profile.language_pin, pull_up=profile.pull_up, bounce_time=bounce, pin_factory=self._factory)
                self._language.when_pressed = self._language_pressed
        except Exception as exc:  # gpiozero's, the driver's (lgpio.error 'GPIO busy') or a missing driver
            self.close()  # release the pins already claimed
            raise PanelError(_explain(role, exc)) from exc

    def start(self, sink: Sink) -> None:
        self._sink = sink

    def _emit(self, event: PanelEvent) -> None:
        sink = self._sink
        if sink is not None:
            sink(event)

    def _pressed(self, number: int) -> None:
        if self._guard.accept(number):
            self._emit(ButtonPress(number))
        else:
            log.debug("repeat press ignored", extra={"button": number})

    def _language_pressed(self) -> None:
        if self._guard.accept(0):
            self._emit(LanguagePress())

    def is_pressed(self, number: int) -> bool:
        return self._buttons[number].is_pressed

    def led_value(self, number: int) -> float:
        return float(self._leds[number].value)

    def light(self, buttons: frozenset[int]) -> None:
        with self._lock:
            self._lit = buttons
            if self._restore is None:
                self._show(buttons)

    def flash(self, button: int) -> None:
        """Only the pressed button stays lit (at full brightness) for a moment, then the lit set returns."""
        with self._lock:
            if self._restore is not None:
                self._restore.cancel()
            for number, led in self._leds.items():
                led.value = 1 if number == button else 0
            self._restore_after(FLASH_SECONDS)

    def hint(self, buttons: frozenset[int]) -> None:
        """The lit buttons blink off once, briefly: subtler than a flash, and it points at the options."""
        with self._lock:
            if self._restore is not None:
                return  # a counted press's flash is showing: it wins
            for number, led in self._leds.items():
                if number in buttons:
                    led.value = 0
            self._restore_after(HINT_SECONDS)

    def _restore_after(self, seconds: float) -> None:
        self._restore = threading.Timer(seconds, self._end_flash)
        self._restore.daemon = True
        self._restore.start()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until a press flash has ended and the lit set shows again (for tests and shutdown)."""
        timer = self._restore
        if timer is not None:
            timer.join(timeout)
            return not timer.is_alive()
        return True

    def _end_flash(self) -> None:
        with self._lock:
            self._restore = None
            self._show(self._lit)

    def _show(self, buttons: frozenset[int]) -> None:
        on = LIT_BRIGHTNESS if self.profile.led_pwm else 1
        for number, led in self._leds.items():
            if not led.closed:
                led.value = on if number in buttons else 0

    def close(self) -> None:
        with self._lock:
            if self._restore is not None:
                self._restore.cancel()
                self._restore = None
        self._sink = None
        devices: list[Device] = [*self._buttons.values(), *self._leds.values()]
        if self._language is not None:
            devices.append(self._language)
        for device in devices:
            device.close()
        self._buttons.clear()
        self._leds.clear()
        self._language = None


def _explain(role: str, exc: Exception) -> str:
    """What failed opening a pin, and the fix a technician can act on."""
    if isinstance(exc, ImportError):  # gpiozero's BadPinFactory is one too
        return (
            f"no GPIO driver for the {role}: {exc}\n"
            "  fix: on a Raspberry Pi install python3-lgpio (apt) or the 'pi' extra; off a Pi use --panel keyboard or --panel stdin"
        )
    if isinstance(exc, GPIOZeroError):
        fix = (
            "check the wiring and the profile's BCM numbers; on a Pi, the user needs the 'gpio' group "
            "and no other program may hold the pin; off a Pi use --panel keyboard or --panel stdin"
        )
    else:
        fix = "another program or a device-tree overlay holds this GPIO (check with `pinctrl get N`); stop it or choose a free pin in the profile"
    return f"cannot open the {role}: {exc.__class__.__name__}: {exc}\n  fix: {fix}"
