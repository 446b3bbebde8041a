"""Everything a person could get wrong, checked before the kiosk opens any hardware or file.

``kiosk run``, ``kiosk wiring-check`` and ``kiosk check-config`` (which ``setup-pi.sh``
runs as the kiosk's user before it installs a config) share these checks, so a config that
passes the install passes the service's start. Each failure is a ``StartupError`` whose
message says what is wrong and how to fix it.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from hardware.errors import HardwareError
from hardware.profiles import Profile, load_profile
from kiosk.config import (
    BrandingConfig,
    ConfigError,
    KioskConfig,
    PanelKind,
    ScreenMode,
    default_data_dir,
    default_device_id,
    default_panel,
    default_screen_mode,
    load_config,
)
from kiosk.contract.protocol import device_id_problem
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, Survey, SurveyError, load_survey

#: How long a kiosk that cannot start keeps its error on screen before exiting (status 2,
#: so systemd starts it again and a fix copied in meanwhile is picked up).
DEFAULT_ERROR_HOLD = 600.0
#: The wiring check ends by itself after this long: the kiosk takes no answers meanwhile.
WIRING_CHECK_TIMEOUT = 600.0


class StartupError(Exception):
    """Something a person must fix before the kiosk can start.

    *on_screen* is False where drawing the error would do harm or cannot work: another
    kiosk holds the display, or the display itself failed.
    """

    def __init__(self, message: str, on_screen: bool = True) -> None:
        super().__init__(message)
        self.on_screen = on_screen


@dataclass(frozen=True)
class RunOptions:
    """``kiosk run``'s command-line options; None leaves the choice to the config file."""

    config_path: str | None = None
    survey_path: str | None = None
    panel: PanelKind | None = None
    profile: str | None = None
    headless: bool = False
    window: bool = False
    size: str | None = None
    data_dir: str | None = None
    device_id: str | None = None
    log_format: str | None = None
    error_hold: float = DEFAULT_ERROR_HOLD


@dataclass(frozen=True)
class Display:
    mode: ScreenMode
    size: tuple[int, int]
    font: str | None  # None: pygame's bundled font
    branding: BrandingConfig | None = None  # logo and accent, checked when the config was loaded


def parse_size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise StartupError(f"size {value!r} is not WIDTHxHEIGHT\n  fix: write it like 800x480 or 1920x1080") from None
    if width < 320 or height < 240:
        raise StartupError(f"size {value} is too small\n  fix: use at least 320x240")
    return width, height


def config_of(options: RunOptions) -> KioskConfig:
    try:
        return load_config(options.config_path)
    except ConfigError as exc:
        raise StartupError(str(exc)) from None


def profile_of(options: RunOptions, config: KioskConfig) -> Profile:
    try:
        return load_profile(options.profile or config.panel.profile)
    except HardwareError as exc:
        raise StartupError(str(exc)) from None


def survey_of(options: RunOptions, config: KioskConfig, profile: Profile) -> Survey:
    try:
        survey = load_survey(options.survey_path or config.survey_file or DEFAULT_SURVEY_PATH)
        profile.check_buttons(survey.buttons, f"survey {survey.id!r}")
    except (SurveyError, HardwareError) as exc:
        raise StartupError(str(exc)) from None
    return survey


def device_of(options: RunOptions, config: KioskConfig) -> str:
    device = options.device_id or config.device_id or default_device_id()
    problem = device_id_problem(device)
    if problem and config.fleet.broker:
        raise StartupError(f"{problem}\n  fix: set device_id in the kiosk config to the id given by `fleet device add`")
    return device


def display_of(options: RunOptions, config: KioskConfig) -> Display:
    from kiosk.screen import find_font

    mode: ScreenMode = "headless" if options.headless else "window" if options.window else (config.screen.mode or default_screen_mode())
    size = parse_size(options.size) if options.size else (config.screen.width, config.screen.height)
    try:
        font = find_font(config.screen.font)
    except FileNotFoundError as exc:
        raise StartupError(str(exc)) from None
    return Display(mode, size, font, config.branding)


def panel_kind_of(options: RunOptions, config: KioskConfig, mode: ScreenMode) -> PanelKind:
    kind = options.panel or config.panel.kind or default_panel()
    if kind == "keyboard" and mode == "headless":
        raise StartupError("--panel keyboard needs a window to type into\n  fix: run on a desktop (or under Xvfb), or use --panel stdin with --headless")
    return kind


def data_dir_of(options: RunOptions, config: KioskConfig | None) -> Path:
    return Path(options.data_dir or (config.data_dir if config else None) or default_data_dir())


def check_ca_file(config: KioskConfig) -> None:
    """The fleet's CA file loads as this user would load it (the kiosk runs without sync if not)."""
    ca = config.fleet.ca_file
    if not (config.fleet.broker and ca):
        return
    try:
        ssl.create_default_context(cafile=ca)
    except FileNotFoundError:
        problem = "does not exist"
    except PermissionError:
        problem = f"is not readable by the kiosk's user (uid {os.getuid()})"
    except (OSError, ssl.SSLError) as exc:
        problem = f"is not a PEM certificate ({exc})"
    else:
        return
    raise StartupError(
        f"fleet.ca_file {ca} {problem}: the kiosk would take answers but never send them\n"
        f"  fix: copy the fleet's CA certificate (PEM) there, readable by the kiosk's user: sudo install -m 0644 CA.pem {ca}"
    )


def check_config(path: str) -> list[str]:
    """What ``kiosk run`` would check with this config, plus its CA file; a summary if good."""
    options = RunOptions(config_path=path)
    config = config_of(options)
    profile = profile_of(options, config)
    survey = survey_of(options, config, profile)
    device = device_of(options, config)
    display_of(options, config)
    check_ca_file(config)
    lines = [f"ok: {path}: device {device}, panel {profile.name!r}, survey {survey.id!r} version {survey.version}"]
    if config.fleet.broker:
        lines.append(f"   fleet: {config.fleet.broker} as {config.fleet.username or device}")
    else:
        lines.append("   no [fleet] broker: answers stay on this kiosk")
    return lines
