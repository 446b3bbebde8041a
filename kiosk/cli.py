"""The ``kiosk`` command: run the kiosk, check its wiring or config, read its buffer, check a
survey, take screenshots.

Errors a person can fix (a bad survey, a wrong pin, a missing font) print what is wrong
and how to fix it, and exit with status 2 before anything is written. Each command parses
its options and calls one function (``kiosk.launch``, ``kiosk.preflight``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from hardware.errors import HardwareError
from hardware.profiles import available_profiles, load_profile
from kiosk import __version__, preflight
from kiosk.config import ConfigError, default_data_dir, load_config
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, SurveyError, load_survey
from kiosk.legibility import DEFAULT_PANEL, PANELS, check

if TYPE_CHECKING:
    from kiosk.outbox import Outbox

USAGE_ERROR = 2


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(USAGE_ERROR)


def parse_size(value: str) -> tuple[int, int]:
    try:
        return preflight.parse_size(value)
    except preflight.StartupError as exc:
        fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk")
def main() -> None:
    """Nabız kiosk: a feedback survey answered with physical buttons."""


DISPLAY_OPTIONS = [
    click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Kiosk config file (default /etc/nabiz/kiosk.toml if present)."),
    click.option("--panel", type=click.Choice(["gpio", "keyboard", "stdin"]), help="Buttons: GPIO (default on a Pi), keys 1-9 in the window, or a script on stdin."),
    click.option("--profile", help=f"Pin profile name or file ({', '.join(available_profiles())})."),
    click.option("--headless", is_flag=True, help="No display: draw off-screen (SDL dummy driver)."),
    click.option("--window", is_flag=True, help="A desktop window instead of full screen."),
    click.option("--size", help="Window or headless size, WIDTHxHEIGHT (default 800x480)."),
    click.option("--data-dir", type=click.Path(file_okay=False), help="The kiosk's data directory (default: systemd's StateDirectory or /var/lib/nabiz-kiosk)."),
    click.option("--log-format", type=click.Choice(["text", "json"]), help="Log line format."),
]


def display_options(command):  # type: ignore[no-untyped-def]
    """The options ``run`` and ``wiring-check`` share: which config, panel, screen and data directory."""
    for option in reversed(DISPLAY_OPTIONS):
        command = option(command)
    return command


@main.command()
@display_options
@click.option("--survey", "survey_path", type=click.Path(dir_okay=False), help="Survey file (default: the bundled Turkish/English survey).")
@click.option("--device-id", help="This kiosk's id (default: kiosk-<hostname>).")
@click.option(
    "--error-hold", type=click.FloatRange(min=0), default=preflight.DEFAULT_ERROR_HOLD, show_default=True,
    help="Seconds an error that stops the start stays on a visible screen before exiting with status 2 (0: exit at once).",
)
def run(config_path, panel, profile, headless, window, size, data_dir, log_format, survey_path, device_id, error_hold) -> None:  # type: ignore[no-untyped-def]
    """Run the survey on screen and buttons until stopped."""
    from kiosk.launch import run_kiosk

    options = preflight.RunOptions(
        config_path=config_path, survey_path=survey_path, panel=panel, profile=profile, headless=headless, window=window, size=size,
        data_dir=data_dir, device_id=device_id, log_format=log_format, error_hold=error_hold,
    )
    sys.exit(run_kiosk(options))


@main.command("wiring-check")
@display_options
@click.option("--timeout", type=click.FloatRange(min=0), default=preflight.WIRING_CHECK_TIMEOUT, show_default=True, help="End by itself after this many seconds (0: only Ctrl-C).")
def wiring_check(config_path, panel, profile, headless, window, size, data_dir, log_format, timeout) -> None:  # type: ignore[no-untyped-def]
    """Test mode for technicians: each press shows its button and GPIO and flashes its LED.

    Nothing is recorded: no outbox is opened, nothing is sent. Exit status 0 when every
    button reported a press, 1 when one never did, 2 on an error.
    """
    from kiosk.launch import run_wiring_check

    options = preflight.RunOptions(
        config_path=config_path, panel=panel, profile=profile, headless=headless, window=window, size=size, data_dir=data_dir, log_format=log_format
    )
    sys.exit(run_wiring_check(options, timeout or None))


@main.command("check-config")
@click.argument("config_file", type=click.Path(dir_okay=False))
def check_config(config_file) -> None:  # type: ignore[no-untyped-def]
    """Check a kiosk config as `kiosk run` would (survey, profile, fonts, CA file), without starting.

    Run it as the kiosk's user: what that user cannot read, the kiosk cannot use.
    """
    try:
        lines = preflight.check_config(config_file)
    except preflight.StartupError as exc:
        fail(str(exc))
    click.echo("\n".join(lines))


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


@main.command()
@click.option("--data-dir", type=click.Path(file_okay=False), help="The kiosk's data directory.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Kiosk config file.")
def survey(data_dir, config_path) -> None:  # type: ignore[no-untyped-def]
    """Show the survey this kiosk shows: id and version, where it came from, whether it is verified."""
    from kiosk.survey_push import describe

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
    directory = Path(data_dir) if data_dir else Path(config.data_dir or default_data_dir())
    try:
        lines = describe(config, directory)
    except (SurveyError, HardwareError) as exc:
        fail(str(exc))
    click.echo("\n".join(lines))


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
