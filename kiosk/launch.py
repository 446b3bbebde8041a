"""Starting the kiosk, or its wiring check, from command-line options.

Checks come first (``kiosk.preflight``), then the data directory's lock (one kiosk per
outbox), the screen, the panel and the outbox, in that order. When something a person must
fix stops the start, the reason goes to stderr and the log, and — when a display can open —
on the screen too, in large type with its fix, held there for ``error_hold`` seconds: a
technician at the kiosk sees why instead of a black screen, and systemd is not made to
restart a kiosk every two seconds that cannot start. The exit status is 2 either way.
"""

from __future__ import annotations

import logging
import sys
from contextlib import ExitStack
from pathlib import Path

from hardware.errors import HardwareError
from hardware.panel import Panel
from hardware.profiles import DEFAULT_PROFILE, Profile, load_profile
from kiosk import __version__
from kiosk.config import KioskConfig, PanelKind, ScreenMode, default_screen_mode
from kiosk.lock import DataDirBusy, DataDirError, DataDirLock
from kiosk.preflight import (
    Display,
    RunOptions,
    StartupError,
    config_of,
    data_dir_of,
    device_of,
    display_of,
    panel_kind_of,
    profile_of,
    survey_of,
)
from kiosk.technician_screen import TEST_BANNER

log = logging.getLogger("kiosk")

USAGE_ERROR = 2


class _Startup:
    """What a start has resolved and opened so far, closed in reverse order by *stack*.

    The error screen reuses the display if it is already open, and the config if it loaded.
    """

    def __init__(self, options: RunOptions, stack: ExitStack) -> None:
        self.options = options
        self.stack = stack
        self.config: KioskConfig | None = None
        self.screen = None

    def settings(self) -> tuple[KioskConfig, Profile]:
        from kiosk.contract.logs import setup_logging

        self.config = config = config_of(self.options)
        setup_logging(self.options.log_format or config.log_format, config.log_level)
        return config, profile_of(self.options, config)

    def hardware(self, config: KioskConfig, profile: Profile, holder: str) -> tuple[Display, PanelKind, Path, Panel]:
        """The lock on the data directory first (a second kiosk must not grab the display), then screen and panel."""
        display = display_of(self.options, config)
        kind = panel_kind_of(self.options, config, display.mode)
        directory = data_dir_of(self.options, config)
        self.stack.callback(_lock(directory, holder).release)
        self.screen = _open_screen(profile, display)
        self.stack.callback(self.screen.close)
        panel = _open_panel(kind, profile, directory)
        self.stack.callback(panel.close)
        return display, kind, directory, panel


def run_kiosk(options: RunOptions) -> int:
    """The survey on screen and buttons until stopped; the process's exit status."""
    from kiosk.contract.logs import setup_logging

    setup_logging(options.log_format or "text", "INFO")  # until the config names its own
    with ExitStack() as stack:
        start = _Startup(options, stack)
        try:
            config, profile = start.settings()
            survey = survey_of(options, config, profile)
            device = device_of(options, config)
            _, _, directory, panel = start.hardware(config, profile, "kiosk run")
            outbox = _open_outbox(config, device, directory)
            stack.callback(outbox.close)
        except StartupError as exc:
            return _cannot_start(exc, options, start.config, start.screen)
        file = options.survey_path or config.survey_file
        return _serve(config, survey=survey, from_file=bool(file), screen=start.screen, panel=panel, outbox=outbox, directory=directory)


def _serve(config: KioskConfig, *, survey, from_file: bool, screen, panel, outbox, directory: Path) -> int:  # type: ignore[no-untyped-def]
    """Wire the kiosk's running parts (the fleet sync, the survey loop, pushed surveys) from what the start opened."""
    from kiosk import survey_push
    from kiosk.app import Kiosk, Stop
    from kiosk.clock import SystemClock
    from kiosk.contract.assignment import trusted_keys
    from kiosk.flow import Contact

    clock = SystemClock()
    keys = trusted_keys(config.trusted_keys)  # checked with the config
    store, reports = survey_push.SurveyStore(directory), survey_push.ReportQueue(directory)
    buttons, panel_name = panel.profile.numbers, f"panel profile {panel.profile.name!r}"
    fallback = survey_push.ActiveSurvey(survey, "file" if from_file else "default")
    active, owed = survey_push.at_start(store, fallback, keys, outbox.device_id, buttons, panel_name, clock.now().wall)
    for item in owed:
        reports.add(item)
    log.info("survey", extra={"survey_id": active.survey.id, "version": active.survey.version, "source": active.source, "verified": active.verified})
    push = survey_push.SurveyPush(store, reports, keys, outbox.device_id, buttons, panel_name, active, min_seq=config.survey_min_seq)
    contact = Contact(config.help.fallback_phone, config.help.fallback_url) if config.help.configured else None
    kiosk = Kiosk(survey=active.survey, screen=screen, panel=panel, outbox=outbox, clock=clock, data_dir=directory, contact=contact, push=push)
    sync = None
    if config.fleet.broker:
        from kiosk.config import ConfigError
        from kiosk.sync.worker import FleetSync

        try:
            sync = FleetSync(
                settings=config.fleet, device_id=outbox.device_id, outbox=outbox, clock=SystemClock(), boot_id=outbox.boot_id,
                software=f"nabiz-kiosk/{__version__}", survey=(active.survey.id, active.survey.version), on_help=kiosk.help_heard, on_link=kiosk.link_changed,
                on_survey=kiosk.survey_pushed, reports=reports, survey_origin=(active.source, active.verified),
            )
            kiosk.on_saved = sync.saved
            push.on_report = sync.report_queued
            push.on_active = lambda now: _tell_sync(sync, now)
        except ConfigError as exc:
            # Offline is normal: a missing or unreadable CA file must not stop the kiosk taking
            # answers. They wait in the outbox until the file is fixed and the kiosk restarted.
            log.critical("fleet sync is OFF, answers stay in the outbox: %s", exc)
    kiosk.install_signal_handlers()
    if sync is not None:
        sync.on_fatal = lambda reason: kiosk.submit(Stop(reason, exit_code=1))
        sync.start()
    else:
        log.info("no fleet broker configured: answers stay in the outbox (set [fleet] broker in the config)")
    try:
        return kiosk.run()
    finally:
        if sync is not None:
            sync.stop()


def _tell_sync(sync, active) -> None:  # type: ignore[no-untyped-def]
    """What Health says about the survey on screen (read by the sync's thread: tuples, replaced whole)."""
    sync.survey = (active.survey.id, active.survey.version)
    sync.survey_origin = (active.source, active.verified)


def run_wiring_check(options: RunOptions, timeout: float | None) -> int:
    """Test mode: 0 when every button reported a press, 1 when one never did, 2 on an error."""
    from kiosk.contract.logs import setup_logging
    from kiosk.technician import WiringCheck
    from kiosk.wiring import report

    setup_logging(options.log_format or "text", "INFO")
    with ExitStack() as stack:
        start = _Startup(options, stack)
        try:
            config, profile = start.settings()
            display, kind, _, panel = start.hardware(config, profile, "wiring check")
        except StartupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return USAGE_ERROR
        screen = start.screen
        print(f"{TEST_BANNER[1]} ({TEST_BANNER[0]}): presses here are never stored or sent.", flush=True)
        print(f"Press every button of panel {profile.name!r} ({kind}); Ctrl-C ends the check{_ends_after(timeout)}.", flush=True)
        check = WiringCheck(profile, screen, panel, kind, display.font)
        restore = check.loop.handle_signals()
        try:
            limit = f"  ·  {_duration(timeout)}" if timeout else ""
            state = check.run(timeout, footer=f"Ctrl-C: bitir / end{limit}  ·  panel {profile.name} ({kind})")
        finally:
            restore()
    print(f"{TEST_BANNER[1]}: panel {profile.name!r} ({kind}):")
    print("\n".join(report(state, profile)))
    if check.input_error:
        print(f"error: {check.input_error}", file=sys.stderr)
        return USAGE_ERROR
    return 1 if state.never_pressed else 0


def _ends_after(timeout: float | None) -> str:
    return f", or it ends by itself after {_duration(timeout)}" if timeout else ""


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _lock(directory: Path, holder: str) -> DataDirLock:
    try:
        return DataDirLock.acquire(directory, holder)
    except DataDirBusy as exc:
        raise StartupError(str(exc), on_screen=False) from None  # the other kiosk has the display
    except DataDirError as exc:
        raise StartupError(str(exc)) from None


def _open_screen(profile: Profile, display: Display):  # type: ignore[no-untyped-def]
    from kiosk.screen import Screen

    try:
        return Screen(profile, display.size, display.mode, display.font, display.branding)
    except Exception as exc:  # noqa: BLE001 -- pygame.error has no finer type; say what failed and how to fix it
        raise StartupError(
            f"cannot open the display ({display.mode}): {exc}\n"
            "  fix: on a Pi console use SDL_VIDEODRIVER=kmsdrm and the 'video' and 'render' groups; use --headless to run without a display",
            on_screen=False,
        ) from None


def _open_panel(kind: PanelKind, profile: Profile, directory: Path):  # type: ignore[no-untyped-def]
    try:
        if kind == "gpio":
            from hardware.gpio import GpioPanel

            return GpioPanel(profile)
    except HardwareError as exc:
        raise StartupError(str(exc)) from None
    if kind == "keyboard":
        from hardware.keyboard import KeyboardPanel

        return KeyboardPanel(profile, str(directory / "screenshots"))
    from hardware.scripted import ScriptedPanel

    return ScriptedPanel(profile, sys.stdin)


def _open_outbox(config: KioskConfig, device: str, directory: Path):  # type: ignore[no-untyped-def]
    from kiosk.clock import boot_id
    from kiosk.outbox import Outbox, OutboxError

    try:
        return Outbox(device, boot_id(), config.outbox.max_rows, config.outbox.reserve_mb * 1024 * 1024).open(directory)
    except OutboxError as exc:
        raise StartupError(str(exc)) from None


def _cannot_start(exc: StartupError, options: RunOptions, config: KioskConfig | None, screen) -> int:  # type: ignore[no-untyped-def]
    """Say why on stderr and in the log, then on the screen if one can show it; always status 2."""
    message = str(exc)
    print(f"error: {message}", file=sys.stderr, flush=True)
    log.critical("kiosk cannot start", extra={"error": message})
    if not exc.on_screen or options.error_hold <= 0:
        return USAGE_ERROR
    display = _error_display(options, config)
    if display.mode == "headless":
        return USAGE_ERROR  # nobody would see it
    from kiosk.technician import hold_startup_error

    with ExitStack() as stack:
        if screen is None:  # the error came before the kiosk's own screen opened
            try:
                screen = _open_screen(load_profile(DEFAULT_PROFILE), display)
            except StartupError as failed:
                log.error("the error cannot be shown: %s", failed)
                return USAGE_ERROR
            stack.callback(screen.close)
        hold = _duration(options.error_hold)
        print(f"the error stays on the screen for {hold} (or until stopped), then the kiosk exits with status 2", file=sys.stderr, flush=True)
        footer = f"journalctl -u nabiz-kiosk -b  ·  düzeltince / after the fix: sudo systemctl restart nabiz-kiosk  ·  yeniden deneme / retry: {hold}"
        hold_startup_error(screen, message, options.error_hold, footer, display.font, data_dir_of(options, config) / "screenshots")
    return USAGE_ERROR


def _error_display(options: RunOptions, config: KioskConfig | None) -> Display:
    """The display the kiosk would have used, as far as it is known; safe defaults past that."""
    try:
        return display_of(options, config or KioskConfig())
    except StartupError:  # the size or the font was the problem: draw with the defaults
        mode: ScreenMode = "headless" if options.headless else "window" if options.window else ((config.screen.mode if config else None) or default_screen_mode())
        return Display(mode, (800, 480), None)
