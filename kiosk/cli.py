"""The ``kiosk`` command: run the kiosk, read its buffer, check a survey, take screenshots.

Errors a person can fix (a bad survey, a wrong pin, a missing font) print what is wrong
and how to fix it, and exit with status 2 before anything is written.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NoReturn

import click

from hardware.errors import HardwareError
from hardware.profiles import available_profiles, load_profile
from kiosk import __version__
from kiosk.config import (
    ConfigError,
    KioskConfig,
    default_data_dir,
    default_device_id,
    default_panel,
    default_screen_mode,
    load_config,
)
from kiosk.legibility import DEFAULT_PANEL, PANELS, check
from kiosk.protocol import device_id_problem
from kiosk.survey import DEFAULT_SURVEY_PATH, SurveyError, load_survey

if TYPE_CHECKING:
    from kiosk.outbox import Outbox

USAGE_ERROR = 2


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(USAGE_ERROR)


def parse_size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        fail(f"size {value!r} is not WIDTHxHEIGHT\n  fix: write it like 800x480 or 1920x1080")
    if width < 320 or height < 240:
        fail(f"size {value} is too small\n  fix: use at least 320x240")
    return width, height


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk")
def main() -> None:
    """Nabız kiosk: a feedback survey answered with physical buttons."""


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Kiosk config file (default /etc/nabiz/kiosk.toml if present).")
@click.option("--survey", "survey_path", type=click.Path(dir_okay=False), help="Survey file (default: the bundled Turkish/English survey).")
@click.option("--panel", type=click.Choice(["gpio", "keyboard", "stdin"]), help="Buttons: GPIO (default on a Pi), keys 1-9 in the window, or a script on stdin.")
@click.option("--profile", help=f"Pin profile name or file ({', '.join(available_profiles())}).")
@click.option("--headless", is_flag=True, help="No display: draw off-screen (SDL dummy driver).")
@click.option("--window", is_flag=True, help="A desktop window instead of full screen.")
@click.option("--size", help="Window or headless size, WIDTHxHEIGHT (default 800x480).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where the outbox lives (default: systemd's StateDirectory or /var/lib/nabiz-kiosk).")
@click.option("--device-id", help="This kiosk's id (default: kiosk-<hostname>).")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log line format.")
def run(config_path, survey_path, panel, profile, headless, window, size, data_dir, device_id, log_format) -> None:  # type: ignore[no-untyped-def]
    """Run the survey on screen and buttons until stopped."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
    sys.exit(run_kiosk(config, survey_path, panel, profile, headless, window, size, data_dir, device_id, log_format))


def run_kiosk(config: KioskConfig, survey_path, panel_kind, profile_name, headless, window, size, data_dir, device_id, log_format) -> int:  # type: ignore[no-untyped-def]
    """Check everything a person could get wrong first, then open hardware and storage."""
    from kiosk.logs import setup_logging

    setup_logging(log_format or config.log_format, config.log_level)
    survey_file = survey_path or config.survey or DEFAULT_SURVEY_PATH
    try:
        survey = load_survey(survey_file)
        profile = load_profile(profile_name or config.panel.profile)
        profile.check_buttons(survey.buttons, f"survey {survey.id!r}")
    except (SurveyError, HardwareError) as exc:
        fail(str(exc))

    device = device_id or config.device_id or default_device_id()
    problem = device_id_problem(device)
    if problem and config.fleet.broker:
        fail(f"{problem}\n  fix: set device_id in the kiosk config to the id given by `fleet device add`")
    kind = panel_kind or config.panel.kind or default_panel()
    mode = "headless" if headless else "window" if window else (config.screen.mode or default_screen_mode())
    if kind == "keyboard" and mode == "headless":
        fail("--panel keyboard needs a window to type into\n  fix: run on a desktop (or under Xvfb), or use --panel stdin with --headless")
    width, height = parse_size(size) if size else (config.screen.width, config.screen.height)
    directory = Path(data_dir or config.data_dir or default_data_dir())

    from kiosk.app import Kiosk
    from kiosk.clock import SystemClock, boot_id
    from kiosk.outbox import Outbox, OutboxError
    from kiosk.screen import Screen, find_font

    try:
        find_font(config.screen.font)
    except FileNotFoundError as exc:
        fail(str(exc))
    try:
        panel = _open_panel(kind, profile, directory)
    except HardwareError as exc:
        fail(str(exc))
    try:
        screen = Screen(profile, (width, height), mode, config.screen.font, config.branding)
    except Exception as exc:  # pygame.error has no finer type; say what failed and how to fix it
        panel.close()
        fail(f"cannot open the display ({mode}): {exc}\n  fix: on a Pi console use SDL_VIDEODRIVER=kmsdrm and the 'video' and 'render' groups; use --headless to run without a display")
    try:
        outbox = Outbox(device, boot_id(), config.outbox.max_rows, config.outbox.reserve_mb * 1024 * 1024).open(directory)
    except OutboxError as exc:
        panel.close()
        screen.close()
        fail(str(exc))
    sync = None
    if config.fleet.broker:
        from kiosk.app import Stop
        from kiosk.sync.worker import FleetSync

        try:
            sync = FleetSync(config.fleet, outbox.device_id, outbox, SystemClock(), outbox.boot_id, f"nabiz-kiosk/{__version__}", (survey.id, survey.version))
        except ConfigError as exc:
            # Offline is normal: a missing or unreadable CA file must not stop the kiosk taking
            # answers. They wait in the outbox until the file is fixed and the kiosk restarted.
            logging.getLogger("kiosk").critical("fleet sync is OFF, answers stay in the outbox: %s", exc)
    kiosk = Kiosk(survey, screen, panel, outbox, SystemClock(), directory, on_saved=sync.saved if sync else None)
    kiosk.install_signal_handlers()
    if sync is not None:
        sync.on_fatal = lambda reason: kiosk.submit(Stop(reason, exit_code=1))
        sync.start()
    else:
        logging.getLogger("kiosk").info("no fleet broker configured: answers stay in the outbox (set [fleet] broker in the config)")
    try:
        return kiosk.run()
    finally:
        if sync is not None:
            sync.stop()
        outbox.close()
        screen.close()


def _open_panel(kind: str, profile, directory: Path):  # type: ignore[no-untyped-def]
    if kind == "gpio":
        from hardware.gpio import GpioPanel

        return GpioPanel(profile)
    if kind == "keyboard":
        from hardware.keyboard import KeyboardPanel

        return KeyboardPanel(profile, str(directory / "screenshots"))
    from hardware.scripted import ScriptedPanel

    return ScriptedPanel(profile, sys.stdin)


@main.command()
@click.option("--data-dir", type=click.Path(file_okay=False), help="The kiosk's data directory.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Kiosk config file.")
@click.option("--unsent", is_flag=True, help="Only responses the fleet has not acknowledged.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many, oldest first.")
def responses(data_dir, config_path, unsent, limit) -> None:  # type: ignore[no-untyped-def]
    """Print buffered responses as JSON lines (oldest first)."""
    with _existing_outbox(data_dir, config_path) as outbox:
        for row in outbox.responses(unsent_only=unsent, limit=limit):
            click.echo(json.dumps(row, ensure_ascii=False))


@main.command()
@click.option("--data-dir", type=click.Path(file_okay=False), help="The kiosk's data directory.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Kiosk config file.")
def health(data_dir, config_path) -> None:  # type: ignore[no-untyped-def]
    """Print the outbox's health (backlog, refused misuse, disk) as JSON."""
    from dataclasses import asdict

    with _existing_outbox(data_dir, config_path) as outbox:
        click.echo(json.dumps(asdict(outbox.health()), indent=2))


@contextmanager
def _existing_outbox(data_dir: str | None, config_path: str | None) -> Iterator[Outbox]:
    """The outbox a kiosk has written (a technician's tools never create an empty one)."""
    from kiosk.outbox import DB_FILENAME, Outbox, OutboxError

    directory = _data_dir(data_dir, config_path)
    if not (directory / DB_FILENAME).exists():
        fail(f"no outbox in {directory}\n  fix: pass the kiosk's --data-dir (the service uses /var/lib/nabiz-kiosk)")
    try:
        outbox = Outbox("", "").open(directory)
    except OutboxError as exc:
        fail(str(exc))
    try:
        yield outbox
    finally:
        outbox.close()


def _data_dir(data_dir: str | None, config_path: str | None) -> Path:
    if data_dir:
        return Path(data_dir)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
    return Path(config.data_dir or default_data_dir())


@main.command()
@click.argument("survey_file", type=click.Path(dir_okay=False))
@click.option("--profile", help="Also check the survey's buttons exist on this pin profile, and that its words are large enough to read.")
@click.option(
    "--display", "displays", multiple=True, type=click.Choice(sorted(PANELS)), show_default=True,
    help=f"Panel to check legibility on (repeatable; default {DEFAULT_PANEL}). Needs --profile.",
)
def validate(survey_file, profile, displays) -> None:  # type: ignore[no-untyped-def]
    """Check a survey file; print a summary, or what is wrong and how to fix it.

    With --profile, also lay out every screen as the kiosk will and warn about any question
    or label that would be drawn too small to read from 2 m (it stays valid: a warning)."""
    try:
        survey = load_survey(survey_file)
        pin_profile = load_profile(profile) if profile else None
        if pin_profile is not None:
            pin_profile.check_buttons(survey.buttons, f"survey {survey.id!r}")
    except (SurveyError, HardwareError) as exc:
        fail(str(exc))
    if displays and pin_profile is None:
        fail("--display needs --profile (where the buttons, and so the answers, are)\n  fix: add --profile arcade-4 (or your panel's profile)")
    click.echo(f"ok: {survey_file}: survey {survey.id!r} version {survey.version}, languages {', '.join(survey.languages)}")
    for question in survey.questions:
        marker = "  (follow-up)" if question.follow_up else ""
        options = ", ".join(f"{o.button}={o.id}{'*' if o.negative else ''}" for o in question.options)
        click.echo(f"  {question.id}{marker}: {question.kind} {options}")
    click.echo("  (* = negative answer)")
    if pin_profile is not None:
        _warn_illegible(survey, pin_profile, displays or (DEFAULT_PANEL,))


def _warn_illegible(survey, profile, displays) -> None:  # type: ignore[no-untyped-def]
    for name in displays:
        panel = PANELS[name]
        try:
            findings = check(survey, profile, panel)
        except ImportError as exc:  # a fleet-only install has no pygame
            click.echo(f"warning: legibility not checked ({exc})\n  fix: pip install 'nabiz[kiosk]'", err=True)
            return
        for finding in findings:
            click.echo(f"warning: {finding.message(panel)}", err=True)
        if not findings:
            click.echo(f"  legible on {panel.name} ({panel.description}): questions ≥ {panel.question_px} px, labels ≥ {panel.label_px} px cap height")


@main.command()
def profiles() -> None:
    """List the bundled pin profiles."""
    for name in available_profiles():
        profile = load_profile(name)
        pins = ", ".join(f"{b.number}:GPIO{b.pin}" + (f"/LED GPIO{b.led}" if b.led is not None else "") for b in profile.buttons)
        click.echo(f"{name}: {profile.description}\n  {pins}" + (f"\n  language button: GPIO{profile.language_pin}" if profile.language_pin else ""))


@main.command()
@click.option("--survey", "survey_path", type=click.Path(dir_okay=False), help="Survey file (default: the bundled one).")
@click.option("--profile", default="arcade-4", show_default=True, help="Pin profile (button positions and colours).")
@click.option("--size", "sizes", multiple=True, help="WIDTHxHEIGHT; repeat for several (default 800x480 and 1920x1080).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="screenshots", show_default=True)
def screenshot(survey_path, profile, sizes, out_dir) -> None:  # type: ignore[no-untyped-def]
    """Render every screen of a survey to PNG files (for docs, reviews and technicians)."""
    from kiosk.screenshots import render_all

    try:
        survey = load_survey(survey_path or DEFAULT_SURVEY_PATH)
        pin_profile = load_profile(profile)
        pin_profile.check_buttons(survey.buttons, f"survey {survey.id!r}")
    except (SurveyError, HardwareError) as exc:
        fail(str(exc))
    for size in sizes or ("800x480", "1920x1080"):
        for path in render_all(survey, pin_profile, parse_size(size), Path(out_dir)):
            click.echo(str(path))
