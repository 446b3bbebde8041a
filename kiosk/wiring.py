"""The technician's wiring check as a pure state machine: presses in, LED effects out.

A press during installation is not a customer's answer, so the wiring check has no survey,
no flow and no outbox: it only counts which physical button reported, and lights LEDs so
each one is seen to work. Nothing here can save a response, by construction. Like
``kiosk.flow`` it does no I/O, so it is tested exhaustively; ``kiosk.technician`` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hardware.panel import ButtonPress, LanguagePress
from hardware.profiles import Profile, describe_pin

#: ``WiringState.last`` when the last press was the language button.
LANGUAGE = 0


@dataclass(frozen=True)
class Light:
    """Light exactly these buttons' LEDs."""

    buttons: frozenset[int]


@dataclass(frozen=True)
class Flash:
    """Only this button's LED, briefly (the panel then lights the last ``Light`` again)."""

    button: int


Effect = Light | Flash
Event = ButtonPress | LanguagePress


@dataclass(frozen=True)
class WiringState:
    counts: tuple[tuple[int, int], ...]  # (button number, presses counted), left to right
    language_presses: int | None  # None: the profile has no language button
    last: int | None = None  # the button pressed last, LANGUAGE for the language button

    def count(self, button: int) -> int:
        return dict(self.counts)[button]

    @property
    def never_pressed(self) -> tuple[int, ...]:
        return tuple(number for number, presses in self.counts if presses == 0)


def start(profile: Profile) -> tuple[WiringState, list[Effect]]:
    """Every LED on at once: a dark one is a wiring fault before any button is pressed."""
    state = WiringState(tuple((spec.number, 0) for spec in profile.buttons), 0 if profile.language_pin is not None else None)
    return state, [Light(profile.numbers)]


def step(state: WiringState, event: Event) -> tuple[WiringState, list[Effect]]:
    if isinstance(event, LanguagePress):
        presses = (state.language_presses or 0) + 1
        return replace(state, language_presses=presses, last=LANGUAGE), []
    if event.button not in dict(state.counts):
        return state, []  # panels report only their profile's buttons; nothing else to count
    counts = tuple((number, presses + (number == event.button)) for number, presses in state.counts)
    return replace(state, counts=counts, last=event.button), [Flash(event.button)]


def button_wiring(profile: Profile, button: int) -> str:
    """Where a technician finds this button on the header: its pin, and its LED's."""
    spec = profile.button(button)
    where = f"button {button} on {describe_pin(spec.pin)}" if spec.pin is not None else f"button {button} (no pin in the profile)"
    return where + (f", LED {describe_pin(spec.led)}" if spec.led is not None else ", no LED")


def report(state: WiringState, profile: Profile) -> list[str]:
    """What was counted per button, then the fix for any never pressed."""
    lines = [f"  {button_wiring(profile, number)}: {_presses(presses)}" for number, presses in state.counts]
    if state.language_presses is not None and profile.language_pin is not None:
        lines.append(f"  language button on {describe_pin(profile.language_pin)}: {_presses(state.language_presses)}" + (" (optional)" if not state.language_presses else ""))
    missing = state.never_pressed
    if missing:
        lines.append(
            f"fix: button {', '.join(map(str, missing))} never reported a press: check its wire to the GPIO above and to GND, "
            "and the profile's BCM numbers (docs/hardware.md, Wiring); then run the check again"
        )
    return lines


def _presses(count: int) -> str:
    return "never pressed" if count == 0 else f"{count} press" if count == 1 else f"{count} presses"
