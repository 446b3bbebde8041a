"""The loops behind the technician's two screens: the wiring check (test mode) and the
error that keeps the kiosk from starting, held on screen.

Like the kiosk's own loop, one thread owns the screen: the panel's thread and signal
handlers only put events on a queue, and the loop blocks on it (waking only for a desktop
window's keys and systemd's watchdog). Neither loop has an outbox to write to.
"""

from __future__ import annotations

import logging
import queue
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hardware.keyboard import KeyboardPanel
from hardware.panel import ButtonPress, InputEnded, LanguagePress, Panel, PanelEvent, ScreenshotRequest
from hardware.profiles import Profile
from kiosk import systemd, wiring
from kiosk.app import QUIET_WAKE, WINDOW_POLL, Snapshot, Stop
from kiosk.screen import Key, Quit, Screen
from kiosk.technician_screen import Drawn, Fonts, draw_startup_error, draw_wiring_check, split_fix

log = logging.getLogger(__name__)

LoopEvent = PanelEvent | Stop | Snapshot


class ScreenLoop:
    """Events for a technician's screen, until a deadline; systemd's watchdog is kept fed."""

    def __init__(self, screen: Screen, panel: Panel | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.screen = screen
        self.panel = panel
        self.clock = clock
        self.inbox: queue.SimpleQueue[LoopEvent] = queue.SimpleQueue()

    def submit(self, event: LoopEvent) -> None:
        self.inbox.put(event)

    def handle_signals(self) -> Callable[[], None]:
        """SIGTERM/SIGINT/SIGHUP (a dropped SSH session) stop, SIGUSR1 takes a screenshot;
        returns what puts the old handlers back."""
        handlers = {number: lambda number, _: self.submit(Stop(signal.Signals(number).name)) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        handlers[signal.SIGUSR1] = lambda *_: self.submit(Snapshot())
        previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}

        def restore() -> None:
            for number, handler in previous.items():
                signal.signal(number, handler)

        return restore

    def events(self, deadline: float | None) -> Iterator[LoopEvent]:
        watchdog = systemd.watchdog_interval()
        while deadline is None or self.clock() < deadline:
            limits = [QUIET_WAKE] + ([deadline - self.clock()] if deadline is not None else []) + ([watchdog] if watchdog else [])
            if self.screen.needs_pumping:
                limits.append(WINDOW_POLL)
            try:
                yield self.inbox.get(timeout=max(min(limits), 0.0))
            except queue.Empty:
                pass
            for item in self.screen.pump():  # through the inbox, in the order they were typed
                if isinstance(item, Quit):
                    self.submit(Stop("window closed"))
                elif isinstance(item, Key) and isinstance(self.panel, KeyboardPanel):
                    self.panel.key(item.name)
            if watchdog:
                systemd.notify("WATCHDOG=1")


class WiringCheck:
    """Test mode: each press shows its button and pin and flashes its LED; nothing is stored."""

    def __init__(self, profile: Profile, screen: Screen, panel: Panel, panel_kind: str, font: str | None = None, on_drawn: Callable[[wiring.WiringState, Drawn], None] | None = None) -> None:
        self.profile = profile
        self.screen = screen
        self.panel = panel
        self.panel_kind = panel_kind
        self.fonts = Fonts(font)
        self.on_drawn = on_drawn
        self.loop = ScreenLoop(screen, panel)
        self.input_error: str | None = None  # a scripted panel's bad line

    def stop(self, reason: str = "stopped") -> None:
        self.loop.submit(Stop(reason))

    def run(self, timeout: float | None = None, footer: str = "") -> wiring.WiringState:
        self.panel.start(self.loop.submit)
        state, effects = wiring.start(self.profile)
        self._apply(effects)
        self._draw(state, footer)
        deadline = self.loop.clock() + timeout if timeout else None
        try:
            for event in self.loop.events(deadline):
                if isinstance(event, (ButtonPress, LanguagePress)):
                    state, effects = wiring.step(state, event)
                    self._apply(effects)
                    self._draw(state, footer)
                    log.info("wiring check press", extra={"button": "language" if state.last == wiring.LANGUAGE else state.last})
                elif isinstance(event, ScreenshotRequest):
                    log.info("screenshot saved", extra={"path": str(self.screen.save(event.path))})
                elif isinstance(event, InputEnded):
                    self.input_error = event.error
                    break
                elif isinstance(event, Stop):
                    break
        finally:
            self.panel.light(frozenset())
        return state

    def _apply(self, effects: list[wiring.Effect]) -> None:
        for effect in effects:
            if isinstance(effect, wiring.Light):
                self.panel.light(effect.buttons)
            else:
                self.panel.flash(effect.button)

    def _draw(self, state: wiring.WiringState, footer: str) -> None:
        import pygame

        drawn = draw_wiring_check(self.screen.surface, state, self.profile, self.panel_kind, self.fonts, footer)
        pygame.display.flip()
        if self.on_drawn is not None:
            self.on_drawn(state, drawn)


def hold_startup_error(screen: Screen, message: str, hold: float, footer: str, font: str | None = None, screenshot_dir: Path | None = None) -> Drawn:
    """Show why the kiosk cannot start until stopped or *hold* seconds pass.

    Under systemd it reports READY (a start that is not left hanging) and the error as the
    unit's STATUS, and feeds the watchdog; the caller then exits with status 2.
    """
    import pygame

    loop = ScreenLoop(screen)
    restore = loop.handle_signals()
    try:
        drawn = draw_startup_error(screen.surface, message, footer, Fonts(font))
        pygame.display.flip()
        problem = split_fix(message)[0].splitlines()
        systemd.notify("READY=1\nSTATUS=cannot start: " + (problem[0] if problem else message.strip()))
        log.info("startup error shown", extra={"hold_s": hold})
        for event in loop.events(loop.clock() + hold):
            if isinstance(event, Stop):
                break
            if isinstance(event, Snapshot) and screenshot_dir is not None:
                try:
                    path = screen.save(screenshot_dir / time.strftime("screen-%Y%m%d-%H%M%S.png"))
                except (OSError, pygame.error) as exc:
                    log.error("cannot save the screenshot: %s", exc)
                else:
                    log.info("screenshot saved", extra={"path": str(path)})
        return drawn
    finally:
        restore()
