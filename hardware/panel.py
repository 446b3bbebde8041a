"""The interface every button panel offers, and the events it reports.

A panel reports what a person (or a script) did by calling one *sink* with a
``PanelEvent``. It may call it from any thread (gpiozero calls from its own), so the sink
must only hand the event over (the kiosk puts it on a queue); the kiosk's main loop owns
the flow, the screen and the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hardware.profiles import Profile


@dataclass(frozen=True)
class ButtonPress:
    button: int


@dataclass(frozen=True)
class LanguagePress:
    pass


@dataclass(frozen=True)
class ScreenshotRequest:
    path: str


@dataclass(frozen=True)
class InputEnded:
    """The panel will report nothing more: end of script, ``quit``, or a bad line (*error*)."""

    error: str | None = None


PanelEvent = ButtonPress | LanguagePress | ScreenshotRequest | InputEnded
Sink = Callable[[PanelEvent], None]


class Panel(Protocol):
    profile: Profile

    def start(self, sink: Sink) -> None:
        """Begin reporting events to *sink*."""

    def light(self, buttons: frozenset[int]) -> None:
        """Light exactly these buttons' LEDs (the ones that answer what is on screen)."""

    def flash(self, button: int) -> None:
        """Acknowledge a counted press on this button."""

    def hint(self, buttons: frozenset[int]) -> None:
        """A press that is not an option: a subtle cue on the buttons that are."""

    def close(self) -> None:
        """Release pins and threads; safe to call twice."""


class WithoutLeds:
    """For panels with no LEDs to drive (a keyboard, a script): lighting and flashing do nothing."""

    def light(self, buttons: frozenset[int]) -> None:
        pass

    def flash(self, button: int) -> None:
        pass

    def hint(self, buttons: frozenset[int]) -> None:
        pass


class RepeatGuard:
    """Counts a button once when it is pressed again within *window* seconds.

    The GPIO driver filters contact bounce (milliseconds); this filters the double tap and
    the worn switch that chatters for a few hundred milliseconds, which would otherwise
    answer the next question too.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()

    def accept(self, button: int) -> bool:
        now = self._clock()
        with self._lock:
            last = self._last.get(button)
            self._last[button] = now
        return last is None or now - last >= self._window
