"""Keys 1–9 in the kiosk's desktop window stand in for the physical buttons.

For development, demos and technicians without a panel. The window belongs to the screen,
so the screen hands key presses to this panel (``key``); L switches language, F12 saves a
screenshot. A keyboard has no LEDs: ``light`` and ``flash`` do nothing.
"""

from __future__ import annotations

import logging

from hardware.panel import ButtonPress, LanguagePress, PanelEvent, ScreenshotRequest, Sink, WithoutLeds
from hardware.profiles import Profile

log = logging.getLogger(__name__)


class KeyboardPanel(WithoutLeds):
    def __init__(self, profile: Profile, screenshot_dir: str = ".") -> None:
        self.profile = profile
        self._screenshot_dir = screenshot_dir
        self._sink: Sink | None = None
        self._shots = 0

    def start(self, sink: Sink) -> None:
        self._sink = sink

    def key(self, name: str) -> None:
        """A key went down in the window; *name* as pygame names it ("1", "l", "f12")."""
        event: PanelEvent | None = None
        if name.isdigit() and len(name) == 1:
            number = int(name)
            if number in self.profile.numbers:
                event = ButtonPress(number)
            else:
                log.warning("key %s is not a button on panel %s", name, self.profile.name)
        elif name == "l":
            event = LanguagePress()
        elif name == "f12":
            self._shots += 1
            event = ScreenshotRequest(f"{self._screenshot_dir}/screenshot-{self._shots}.png")
        if event is not None and self._sink is not None:
            self._sink(event)

    def close(self) -> None:
        self._sink = None
