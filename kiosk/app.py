"""The kiosk's main loop: the one thread that owns the flow, the screen and the outbox.

Panels (gpiozero's thread, the script reader) and signal handlers only put events on a
``SimpleQueue`` (its ``put`` is safe even inside a signal handler). The loop blocks on
that queue until an event arrives or the flow's next deadline (idle timeout and its
countdown, end of press feedback, the thank-you handover and end, the end of a burst) is due: no busy loop, no sleep-polling of buttons.
A desktop window is the one exception: its key presses arrive through SDL, which must be
looked at, so the loop wakes every ``WINDOW_POLL`` seconds while a window is open.

The fleet sync's thread reports the link going up or down (``link_changed``), each
HelpUpdate (``help_heard``) and each survey assignment (``survey_pushed``) the same way: as
events on the queue. An assignment is checked and saved here (``kiosk.survey_push``) and handed
to the flow, which puts it on screen at a safe point (``SurveyApplied``).
"""

from __future__ import annotations

import logging
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hardware.keyboard import KeyboardPanel
from hardware.panel import ButtonPress, InputEnded, LanguagePress, Panel, PanelEvent, ScreenshotRequest
from kiosk import flow, qr, systemd
from kiosk.contract.clock import Clock, Instant
from kiosk.contract.protocol import HelpUpdate
from kiosk.contract.survey import Survey
from kiosk.outbox import Outbox
from kiosk.screen import Key, Quit, Screen
from kiosk.survey_push import SurveyPush
from kiosk.view import view_of

log = logging.getLogger(__name__)

WINDOW_POLL = 0.01  # seconds between looks at a desktop window's keyboard
QUIET_WAKE = 5.0  # the longest the loop sleeps with nothing due (SDL housekeeping, retries)


@dataclass(frozen=True)
class Stop:
    reason: str
    exit_code: int = 0


@dataclass(frozen=True)
class Snapshot:
    """Save what the screen shows now (SIGUSR1, for a technician over SSH)."""


@dataclass(frozen=True)
class LinkState:
    """The link to the fleet came up or went down (from the sync's thread)."""

    up: bool


@dataclass(frozen=True)
class PushedSurvey:
    """What arrived on this kiosk's survey topic (from the sync's thread), not yet looked at."""

    payload: bytes


@dataclass(frozen=True)
class Stamped:
    event: PanelEvent | Stop | Snapshot | LinkState | HelpUpdate | PushedSurvey
    at: Instant


class Kiosk:
    def __init__(
        self,
        survey: Survey,
        screen: Screen,
        panel: Panel,
        outbox: Outbox,
        clock: Clock,
        data_dir: Path,
        on_saved: Callable[[], None] | None = None,
        contact: flow.Contact | None = None,
        push: SurveyPush | None = None,
    ) -> None:
        """*on_saved* is called (on this thread) after each response is committed or released:
        the fleet sync's ``saved``, which only queues a wake-up for the sync's own thread.
        *contact* is the site's phone and page (the config's ``[help]``), shown when no staff can be told.
        *push* takes the surveys head office pushes (``kiosk.survey_push``)."""
        panel.profile.check_buttons(survey.buttons, f"survey {survey.id!r}")
        self.on_saved = on_saved
        self.push = push
        self.screen = screen
        self.panel = panel
        self.outbox = outbox
        self.clock = clock
        self.data_dir = data_dir
        self.inbox: queue.SimpleQueue[Stamped] = queue.SimpleQueue()
        outbox.release_stale()  # an offer of help the power cut short: sent without an answer
        if contact is not None and contact.url:
            qr.encode(contact.url)  # made once, now, not in the frame that first shows it
        self.state, effects = flow.start(survey, clock.now(), contact)
        self._last_completed: str | None = None  # the response the thank-you screen is for
        self._thanked: str | None = None  # the last response whose thank-you screen was drawn
        self._help_shown: tuple[int | None, str] | None = None  # (alert, staff) last logged as "help shown"
        self._stopping: Stop | None = None
        self._after_frame: list[flow.Effect] = []  # writes of held rows, committed once the frame is drawn
        self._apply(effects)
        self.screen.show(view_of(self.state, clock.now().monotonic))

    # --- event intake (any thread) ----------------------------------------------------

    def submit(self, event: PanelEvent | Stop | Snapshot) -> None:
        self.inbox.put(Stamped(event, self.clock.now()))

    def help_heard(self, update: HelpUpdate) -> None:
        """A HelpUpdate from the fleet (the sync's thread). Its call-back QR is made here, off
        the main loop, so the frame that shows it only copies pixels."""
        if update.callback_url:
            qr.encode(update.callback_url)
        self.submit(update)

    def survey_pushed(self, payload: bytes) -> None:
        """An assignment arrived on this kiosk's survey topic (the sync's thread): checked, saved and
        handed to the flow on the main loop."""
        self.submit(PushedSurvey(payload))

    def link_changed(self, up: bool) -> None:
        """The link to the fleet is up or down (the sync's thread): help is offered only while up."""
        self.submit(LinkState(up))

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.submit(Stop("SIGTERM")))
        signal.signal(signal.SIGINT, lambda *_: self.submit(Stop("SIGINT")))
        signal.signal(signal.SIGUSR1, lambda *_: self.submit(Snapshot()))

    # --- the loop (main thread) -------------------------------------------------------

    def run(self) -> int:
        self.panel.start(self.submit)
        watchdog = systemd.watchdog_interval()
        systemd.notify("READY=1")
        log.info("kiosk running", extra={"survey": self.state.survey.id, "version": self.state.survey.version, "panel": self.panel.profile.name})
        while self._stopping is None:
            timeout = self._timeout(watchdog)
            try:
                first = self.inbox.get(timeout=timeout)
            except queue.Empty:
                first = None
            batch = [first] if first is not None else []
            while True:  # take a whole burst (a child on every button) in one wake-up
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            for item in batch:  # even after a stop request: presses already made are not dropped
                self.handle(item)
            self._pump_screen()
            self.tick()
            self.prepare_next_screen()
            if watchdog:
                systemd.notify("WATCHDOG=1")
        return self._shutdown()

    def _timeout(self, watchdog: float | None) -> float:
        limits = [QUIET_WAKE]
        now = self.clock.now().monotonic
        wakeup = flow.next_wakeup(self.state, now)
        if wakeup is not None:
            limits.append(wakeup - now)
        if self.screen.needs_pumping:
            limits.append(WINDOW_POLL)
        if watchdog:
            limits.append(watchdog)
        if self.outbox.unsaved:
            limits.append(1.0)
        return max(min(limits), 0.0)

    def handle(self, item: Stamped) -> None:
        """Process one event and draw the result (used directly by benchmarks)."""
        event, at = item.event, item.at
        # Deadlines that passed before this event (the loop woke late) apply first, so what is
        # drawn is never ahead of what is saved (a complete response is saved as its feedback ends).
        self._step(flow.Tick(at))
        if isinstance(event, ButtonPress):
            log.debug("button pressed", extra={"button": event.button})
            self._step(flow.Pressed(event.button, at))
        elif isinstance(event, LanguagePress):
            self._step(flow.NextLanguage(at))
        elif isinstance(event, HelpUpdate):
            log.info("help update heard", extra={"alert_id": event.alert_id, "uuid": event.response_uuid, "state": event.state})
            self._step(flow.HelpHeard(event, at))
        elif isinstance(event, LinkState):
            self._step(flow.LinkChanged(event.up, at))
        elif isinstance(event, PushedSurvey):
            survey = self.push.received(event.payload, at) if self.push is not None else None
            if survey is not None:
                self._step(flow.SurveyReplaced(survey, at))
        elif isinstance(event, ScreenshotRequest):
            self._draw()
            path = self.screen.save(event.path)
            log.info("screenshot saved", extra={"path": str(path)})
        elif isinstance(event, Snapshot):
            self._draw()
            path = self.screen.save(self.data_dir / "screenshots" / time.strftime("screen-%Y%m%d-%H%M%S.png"))
            log.info("screenshot saved", extra={"path": str(path)})
        elif isinstance(event, InputEnded):
            if event.error:
                log.error("panel input stopped: %s", event.error)
                self._stopping = Stop("bad panel input", exit_code=2)
            else:
                self._stopping = Stop("end of panel input")
        elif isinstance(event, Stop):
            self._stopping = event
        self._draw()

    def tick(self) -> None:
        self._step(flow.Tick(self.clock.now()))
        if self.outbox.unsaved:
            waiting = self.outbox.unsaved
            if self.outbox.retry() < waiting and self.on_saved is not None:
                self.on_saved()  # answers the full disk held back are on the card now: send them
        self._draw()

    def prepare_next_screen(self) -> None:
        """While nothing is due, have the screen paint what the flow shows at its next deadline
        (the next question after the chosen card's moment, the thank-you, a countdown step), so
        drawing it when due is a copy. The flow is pure: stepping to that moment is a prediction
        whose effects are not carried out; if a press comes first, the painting goes unused."""
        now = self.clock.now()
        wakeup = flow.next_wakeup(self.state, now.monotonic)
        if wakeup is None:
            return
        upcoming, _ = flow.step(self.state, flow.Tick(Instant(wakeup, now.wall + wakeup - now.monotonic, now.clock_synced)))
        self.screen.prepare_next(view_of(upcoming, wakeup))

    def _step(self, event: flow.Event) -> None:
        self.state, effects = flow.step(self.state, event)
        self._apply(effects)

    def _apply(self, effects: list[flow.Effect]) -> None:
        # Order matters: the response is committed before the frame that says "thank you". A
        # complete response is committed held (HoldResponse) while its last answer is highlighted,
        # 0.8 s before "thank you" is due; writes to rows already on the card (AmendResponse,
        # ReleaseResponse) and that one wait until the frame is drawn (_write_after_frame), so no
        # frame waits for the card's fsync.
        for effect in effects:
            if isinstance(effect, flow.WRITTEN_AFTER_THE_FRAME):
                self._after_frame.append(effect)
            elif isinstance(effect, flow.SaveResponse):
                uuid = self.outbox.save(effect.record, held=effect.held)
                record = effect.record
                if uuid is not None:
                    if record.status == "completed":
                        self._last_completed = uuid
                    if self.on_saved is not None and not effect.held:
                        self.on_saved()
                log.info(
                    "response saved" if uuid else "response refused",
                    extra={
                        "uuid": uuid, "status": record.status, "misuse": record.misuse, "suspect": record.suspect, "negative": record.negative,
                        "answers": len(record.answers), "presses": len(record.presses), "reason": record.end_reason, **({"held": True} if effect.held else {}),
                    },
                )
                if effect.held and uuid is not None:
                    self._step(flow.Held(uuid, self.clock.now()))  # the offer of help is about this row
            elif isinstance(effect, flow.DropHelpUpdate):
                update = effect.update
                log.info("help update dropped: %s", effect.reason, extra={"alert_id": update.alert_id, "uuid": update.response_uuid, "state": update.state})
            elif isinstance(effect, flow.HelpNotConfirmed):
                # Nobody may have been told: the customer sees the site's own contact instead.
                log.warning("help not confirmed", extra={"uuid": effect.response_uuid, "confirm_s": effect.confirm_seconds})
            elif isinstance(effect, flow.LightButtons):
                self.panel.light(effect.buttons)
            elif isinstance(effect, flow.FlashButton):
                self.panel.flash(effect.button)
            elif isinstance(effect, flow.HintButtons):
                self.panel.hint(effect.buttons)
            elif isinstance(effect, flow.SurveyApplied):
                if self.push is not None:
                    self.push.applied(effect.survey, self.clock.now())

    def _write_after_frame(self) -> None:
        """Commit the held rows' writes the flow asked for, in order, now that the frame is drawn.
        Each is on the card before this returns: before the next event, and long before any screen
        depends on it (a thank-you 0.8 s later, the help screen ``feedback_seconds`` after "yes")."""
        while self._after_frame:
            effect = self._after_frame.pop(0)
            if isinstance(effect, flow.HoldResponse):
                self._hold(effect.record)
            elif isinstance(effect, flow.AmendResponse):
                if not self.outbox.amend(effect.uuid, effect.record, effect.held_for):
                    log.error("the held response to amend was not found", extra={"uuid": effect.uuid, "held_for": effect.held_for})
                else:
                    log.info("response amended", extra={"uuid": effect.uuid, "held_for": effect.held_for, "misuse": effect.record.misuse, "presses": len(effect.record.presses)})
            elif isinstance(effect, flow.ReleaseResponse):
                self._release(effect)

    def _hold(self, record: flow.ResponseRecord) -> None:
        """The complete response, held for its last answer's moment: on the card before "thank you"."""
        uuid = self.outbox.save(record, held="moment")
        assert uuid is not None, "the outbox refuses only misuse rows"
        self._last_completed = uuid
        log.info(
            "response saved",
            extra={
                "uuid": uuid, "status": record.status, "misuse": record.misuse, "suspect": record.suspect, "negative": record.negative,
                "answers": len(record.answers), "presses": len(record.presses), "reason": record.end_reason, "held": "moment",
            },
        )
        self._step(flow.Held(uuid, self.clock.now()))

    def _release(self, effect: flow.ReleaseResponse) -> None:
        """A held row is whole: rewritten and sent (the answer to the offer of help, a last answer's moment over)."""
        record = effect.record
        released = effect.uuid is not None and self.outbox.release(effect.uuid, record)
        if not released:
            log.error("the held response was not found; its final form is not recorded", extra={"uuid": effect.uuid})
            return
        log.info("response released", extra={"uuid": effect.uuid, "help_requested": record.help_requested, "presses": len(record.presses), "misuse": record.misuse})
        if self.on_saved is not None:
            self.on_saved()

    def _draw(self) -> None:
        view = view_of(self.state, self.clock.now().monotonic)
        shown = self.screen.show(view)
        self._write_after_frame()
        if not shown:
            return
        # Logged once per response (the thank-you view changes as presses come and its handover passes).
        if view.kind == "thank_you" and self._thanked != self._last_completed:
            self._thanked = self._last_completed
            log.info("thank-you shown", extra={"uuid": self._last_completed})
        help = view.help
        if view.kind == "help" and help is not None and help.stage == "coming" and self._help_shown != (help.alert_id, help.staff):
            self._help_shown = (help.alert_id, help.staff)
            log.info("help shown", extra={"alert_id": help.alert_id, "staff": help.staff, "uuid": self.state.helped})

    def _pump_screen(self) -> None:
        for item in self.screen.pump():
            if isinstance(item, Quit):
                self._stopping = self._stopping or Stop("window closed")
            elif isinstance(item, Key) and isinstance(self.panel, KeyboardPanel):
                self.panel.key(item.name)
        if isinstance(self.panel, KeyboardPanel):
            # Key presses the panel just submitted are handled now, not after the next wait.
            while True:
                try:
                    self.handle(self.inbox.get_nowait())
                except queue.Empty:
                    break

    def _shutdown(self) -> int:
        stop = self._stopping or Stop("stopped")
        systemd.notify("STOPPING=1")
        self._step(flow.Shutdown(self.clock.now()))
        self._write_after_frame()
        self.panel.light(frozenset())
        self.panel.close()
        self.outbox.retry()
        log.info("kiosk stopped", extra={"reason": stop.reason, "exit_code": stop.exit_code})
        return stop.exit_code

