"""The kiosk's configuration: one typed, validated place, with defaults that are right on a Pi.

Sources, later ones winning: built-in defaults, the config file (``--config``, else
``$NABIZ_KIOSK_CONFIG``, else ``/etc/nabiz/kiosk.toml`` if present), command-line options.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Literal

import msgspec

SYSTEM_CONFIG = Path("/etc/nabiz/kiosk.toml")
PanelKind = Literal["gpio", "keyboard", "stdin"]
ScreenMode = Literal["fullscreen", "window", "headless"]


class ConfigError(ValueError):
    pass


class PanelConfig(msgspec.Struct, forbid_unknown_fields=True):
    kind: PanelKind | None = None  # None: gpio on a Raspberry Pi, keyboard elsewhere
    profile: str = "arcade-4"


class ScreenConfig(msgspec.Struct, forbid_unknown_fields=True):
    mode: ScreenMode | None = None  # None: fullscreen on a Pi, a window on a desktop, else headless
    width: int = 800
    height: int = 480
    font: str | None = None


class OutboxConfig(msgspec.Struct, forbid_unknown_fields=True):
    max_rows: int = 500_000
    reserve_mb: int = 100


class KioskConfig(msgspec.Struct, forbid_unknown_fields=True):
    device_id: str | None = None
    site: str = ""
    data_dir: str | None = None
    survey: str | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    panel: PanelConfig = msgspec.field(default_factory=PanelConfig)
    screen: ScreenConfig = msgspec.field(default_factory=ScreenConfig)
    outbox: OutboxConfig = msgspec.field(default_factory=OutboxConfig)


def load_config(path: str | Path | None = None) -> KioskConfig:
    if path is None:
        env = os.environ.get("NABIZ_KIOSK_CONFIG")
        path = Path(env) if env else (SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None)
    if path is None:
        return KioskConfig()
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        config = msgspec.convert(document, KioskConfig)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found\n  fix: check the path given to --config") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})\n  fix: give a readable file (not a directory) to --config or $NABIZ_KIOSK_CONFIG") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid UTF-8 TOML file: {exc}\n  fix: see docs/operations.md for an example config") from None
    except msgspec.ValidationError as exc:
        problem, _, where = str(exc).partition(" - at `$")
        raise ConfigError(f"{path}: {where.rstrip('`').lstrip('.')}: {problem.replace('`', '')}\n  fix: see docs/operations.md for the allowed keys") from None
    if config.screen.width < 320 or config.screen.height < 240:
        raise ConfigError(f"{path}: screen is {config.screen.width}x{config.screen.height}\n  fix: use at least 320x240 (the official display is 800x480)")
    return config


def is_raspberry_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="replace")
    except OSError:
        return False


def has_desktop() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def default_data_dir() -> Path:
    """systemd's StateDirectory when run as a service, /var/lib as root, else the user's data home."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/nabiz-kiosk")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "nabiz-kiosk"


def default_device_id() -> str:
    return "kiosk-" + socket.gethostname().split(".")[0].lower()


def default_panel() -> PanelKind:
    return "gpio" if is_raspberry_pi() else "keyboard"


def default_screen_mode() -> ScreenMode:
    if is_raspberry_pi():
        return "fullscreen"
    return "window" if has_desktop() else "headless"
