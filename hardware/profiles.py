"""Pin profiles: which GPIO each physical button and LED is wired to, and what it looks like.

A profile is a small TOML file (see ``hardware/profiles/*.toml``). The screen uses it too:
each answer's card is drawn above its physical button. ``colour`` records the cap's colour
(the printable caps in ``hardware/button-caps`` match the screen's scale colours). Pins are
BCM GPIO numbers, as gpiozero takes them; errors name the header pin as well, because that
is what a technician with a screwdriver sees.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import msgspec

from hardware.errors import ProfileError

PROFILES_DIR = Path(__file__).with_name("profiles")
DEFAULT_PROFILE = "arcade-4"
MAX_BUTTONS = 9

#: BCM GPIO number → physical pin on the 40-pin header (all Pi models since the B+).
HEADER_PIN = {
    2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 5: 29, 6: 31, 13: 33,
    19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 12: 32,
    16: 36, 20: 38, 21: 40,
}
#: GPIO 0 and 1 are the HAT ID EEPROM bus; the firmware owns them.
RESERVED_PINS = {0: "reserved for the HAT ID EEPROM (header pins 27 and 28)", 1: "reserved for the HAT ID EEPROM (header pins 27 and 28)"}


def describe_pin(pin: int) -> str:
    header = HEADER_PIN.get(pin)
    return f"GPIO{pin} (header pin {header})" if header else f"GPIO{pin}"


class _RawButton(msgspec.Struct, forbid_unknown_fields=True):
    number: int
    colour: str
    pin: int | None = None
    led: int | None = None
    position: float | None = None


class _RawLanguageButton(msgspec.Struct, forbid_unknown_fields=True):
    pin: int


class _RawProfile(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    buttons: list[_RawButton]
    description: str = ""
    bounce_ms: int = 20
    repeat_guard_ms: int = 250
    pull_up: bool = True
    led_pwm: bool = False
    language_button: _RawLanguageButton | None = None


@dataclass(frozen=True)
class ButtonSpec:
    number: int
    colour: tuple[int, int, int]
    position: float  # centre of the button across the screen, 0 = left edge, 1 = right edge
    pin: int | None
    led: int | None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    buttons: tuple[ButtonSpec, ...]
    bounce_ms: int
    repeat_guard_ms: int
    pull_up: bool
    led_pwm: bool
    language_pin: int | None

    @property
    def numbers(self) -> frozenset[int]:
        return frozenset(b.number for b in self.buttons)

    def button(self, number: int) -> ButtonSpec:
        for spec in self.buttons:
            if spec.number == number:
                return spec
        raise KeyError(number)

    def check_buttons(self, needed: frozenset[int], what: str) -> None:
        """Refuse a survey (or script) that needs a button this panel does not have."""
        missing = sorted(needed - self.numbers)
        if missing:
            have = ", ".join(str(n) for n in sorted(self.numbers))
            raise ProfileError(
                f"{what} uses button {', '.join(map(str, missing))}, but panel profile {self.name!r} has buttons {have}\n"
                f"  fix: choose a profile with enough buttons (kiosk profiles) or change the survey's button numbers"
            )


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a bundled profile by name (``arcade-4``) or any profile file by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = PROFILES_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ProfileError(f"no pin profile named {str(name_or_path)!r}\n  fix: use one of {', '.join(available_profiles())}, or the path of a .toml profile")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{path}: file not found\n  fix: check the path") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not UTF-8 text\n  fix: save the file as UTF-8") from None
    return parse_profile(text, str(path))


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    def fail(problem: str, fix: str) -> ProfileError:
        return ProfileError(f"{source}: {problem}\n  fix: {fix}")

    try:
        raw = msgspec.convert(tomllib.loads(text), _RawProfile)
    except tomllib.TOMLDecodeError as exc:
        raise fail(f"not valid TOML: {exc}", "compare with hardware/profiles/arcade-4.toml") from None
    except msgspec.ValidationError as exc:
        problem, _, where = str(exc).partition(" - at `$")
        where = where.rstrip("`").lstrip(".")
        raise fail(f"{where + ': ' if where else ''}{problem.replace('`', '')}", "compare with hardware/profiles/arcade-4.toml") from None

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", raw.name):
        raise fail(f"name {raw.name!r} is not valid", "use lowercase letters, digits, - and _")
    if not 2 <= len(raw.buttons) <= MAX_BUTTONS:
        raise fail(f"{len(raw.buttons)} buttons", f"a panel has 2 to {MAX_BUTTONS} buttons")
    if not 0 <= raw.bounce_ms <= 500 or not 0 <= raw.repeat_guard_ms <= 5000:
        raise fail("bounce_ms or repeat_guard_ms out of range", "use 0–500 for bounce_ms and 0–5000 for repeat_guard_ms")

    used: dict[int, str] = {}

    def claim(pin: int | None, role: str) -> None:
        if pin is None:
            return
        if pin in RESERVED_PINS:
            raise fail(f"{role}: GPIO{pin} is {RESERVED_PINS[pin]}", f"use a free GPIO from {sorted(HEADER_PIN)}")
        if pin not in HEADER_PIN:
            raise fail(f"{role}: GPIO{pin} is not on the 40-pin header", f"use a BCM GPIO number from 2 to 27 (not the header pin number); free ones here: {sorted(set(HEADER_PIN) - set(used))}")
        if pin in used:
            raise fail(f"{role}: {describe_pin(pin)} is already used by {used[pin]}", "give every button and LED its own GPIO")
        used[pin] = role

    numbers = sorted(b.number for b in raw.buttons)
    if numbers != list(range(1, len(numbers) + 1)):
        raise fail(f"button numbers {numbers}", f"number the buttons 1 to {len(numbers)} from left to right, each once")

    buttons = []
    for index, rb in enumerate(sorted(raw.buttons, key=lambda b: b.number)):
        claim(rb.pin, f"button {rb.number}")
        claim(rb.led, f"LED of button {rb.number}")
        position = rb.position if rb.position is not None else (index + 0.5) / len(raw.buttons)
        if not 0 <= position <= 1:
            raise fail(f"button {rb.number}: position {position}", "use a fraction of the screen width from 0 (left) to 1 (right)")
        buttons.append(ButtonSpec(rb.number, _colour(rb.colour, f"button {rb.number}", fail), position, rb.pin, rb.led))
    language_pin = raw.language_button.pin if raw.language_button else None
    claim(language_pin, "the language button")
    return Profile(raw.name, raw.description, tuple(buttons), raw.bounce_ms, raw.repeat_guard_ms, raw.pull_up, raw.led_pwm, language_pin)


def _colour(value: str, role: str, fail) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    match = re.fullmatch(r"#([0-9a-fA-F]{6})", value)
    if not match:
        raise fail(f"{role}: colour {value!r}", 'write the colour as "#rrggbb", e.g. "#d32f2f"')
    h = match.group(1)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
