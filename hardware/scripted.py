"""A panel driven by text: one button number per line, for scripted demos and soak runs.

    # comments and blank lines are skipped
    1            press button 1
    wait 2.5     wait 2.5 seconds before the next line
    lang         press the language button
    screenshot /tmp/shot.png   save what the screen shows once earlier lines are handled
    quit         stop the kiosk (end of input does the same)

A line that is none of these, or a button the panel does not have, stops the kiosk with
the line number and the reason (exit status 2): a typo in a soak script must not run for
hours doing something else than intended.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TextIO

from hardware.errors import ScriptError
from hardware.panel import ButtonPress, InputEnded, LanguagePress, PanelEvent, ScreenshotRequest, Sink, WithoutLeds
from hardware.profiles import Profile

MAX_WAIT_SECONDS = 24 * 3600


def parse_line(line: str, number: int, profile: Profile) -> PanelEvent | float | None:
    """One script line → an event, a wait in seconds, or None for nothing to do."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    words = text.split()
    head = words[0].lower()
    if head.isdigit() and len(words) == 1:
        button = int(head)
        if button not in profile.numbers:
            have = ", ".join(str(n) for n in sorted(profile.numbers))
            raise ScriptError(f"line {number}: button {button} is not on panel {profile.name!r} (it has buttons {have})")
        return ButtonPress(button)
    if head == "wait" and len(words) == 2:
        try:
            seconds = float(words[1])
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= MAX_WAIT_SECONDS:
            raise ScriptError(f"line {number}: 'wait {words[1]}' needs a number of seconds from 0 to {MAX_WAIT_SECONDS}")
        return seconds
    if head == "lang" and len(words) == 1:
        return LanguagePress()
    if head == "screenshot" and len(words) == 2:
        return ScreenshotRequest(words[1])
    if head == "quit" and len(words) == 1:
        return InputEnded()
    raise ScriptError(f"line {number}: {text!r} is not a button number, 'wait SECONDS', 'lang', 'screenshot PATH' or 'quit'")


class ScriptedPanel(WithoutLeds):
    def __init__(self, profile: Profile, lines: TextIO | Iterable[str]) -> None:
        self.profile = profile
        self._lines = lines
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def start(self, sink: Sink) -> None:
        self._thread = threading.Thread(target=self._read, args=(sink,), name="scripted-panel", daemon=True)
        self._thread.start()

    def _read(self, sink: Sink) -> None:
        try:
            for number, line in enumerate(self._lines, start=1):
                if self._closed.is_set():
                    return
                item = parse_line(line, number, self.profile)
                if isinstance(item, float):
                    if self._closed.wait(item):
                        return
                elif item is not None:
                    sink(item)
                    if isinstance(item, InputEnded):
                        return
        except ScriptError as exc:
            sink(InputEnded(error=str(exc)))
            return
        except UnicodeDecodeError as exc:
            sink(InputEnded(error=f"the script is not UTF-8 text: {exc}"))
            return
        sink(InputEnded())

    def wait_finished(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        self._closed.set()
