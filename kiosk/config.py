"""The kiosk's configuration: one typed, validated place, with defaults that are right on a Pi.

Sources, later ones winning: built-in defaults, the config file (``--config``, else
``$NABIZ_KIOSK_CONFIG``, else ``/etc/nabiz/kiosk.toml`` if present), command-line options.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from kiosk.colour import contrast, parse_hex, to_hex
from kiosk.contract import deployment
from kiosk.contract.deployment import service_data_dir
from kiosk.contract.transport import AddressError, BrokerAddress
from kiosk.palette import BACKGROUND

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


class BrandingConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The business's own look on the start and thank-you screens (both optional)."""

    logo: str | None = None  # a PNG file, drawn in the top-left corner
    accent: str | None = None  # "#rrggbb": a stripe along the top edge


#: Logo limits: big enough to be sharp on a 1080p panel, small enough to load fast on a Pi.
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 4096
LOGO_MIN_PIXELS = 32
#: An accent darker than this against the screen's background would not be seen.
ACCENT_MIN_CONTRAST = 3.0
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class OutboxConfig(msgspec.Struct, forbid_unknown_fields=True):
    max_rows: int = 500_000
    reserve_mb: int = 100


class SyncSettings(msgspec.Struct, forbid_unknown_fields=True):
    """How a kiosk reaches the fleet (the ``[fleet]`` table of the kiosk config)."""

    broker: str | None = None  # mqtt://HOST[:PORT] or mqtts://HOST[:PORT]; None: no sync, answers stay on the card
    username: str | None = None  # defaults to the device id
    password: str | None = None
    ca_file: str | None = None  # PEM of the CA that signed the broker's certificate (mqtts)
    keepalive_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    health_interval_s: Annotated[float, msgspec.Meta(ge=1)] = 60.0
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=200)] = 100  # responses per message when draining a backlog
    window: Annotated[int, msgspec.Meta(ge=1, le=64)] = 4  # batches awaiting the fleet's Ack at once
    ack_timeout_s: Annotated[float, msgspec.Meta(ge=1)] = 30.0  # send again when the fleet is this quiet
    reconnect_max_s: Annotated[float, msgspec.Meta(ge=1)] = 300.0
    # An Upload the broker could not deliver this long (the fleet was down) is dropped and sent
    # again with fresh clocks, so a kiosk without synced time is dated at most this far off.
    upload_expiry_s: Annotated[int, msgspec.Meta(ge=1, le=86400)] = 300

    def __repr__(self) -> str:
        shown = {f: getattr(self, f) for f in self.__struct_fields__}
        if shown["password"]:
            shown["password"] = "***"
        return "SyncSettings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


class HelpConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The site's own number and web page (``[help]``): what the kiosk shows after a negative
    response when no staff can be told (the link to the fleet is down), and when no one came
    and the fleet sent no call-back page. Either, both or neither."""

    fallback_phone: str = ""  # as customers dial it, e.g. "0212 555 01 23" or "+90 212 555 01 23"
    fallback_url: str = ""  # http(s)://…, shown as a QR code

    @property
    def configured(self) -> bool:
        return bool(self.fallback_phone or self.fallback_url)


class SurveyConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The ``[survey]`` table: which keys may sign the surveys head office pushes, and the
    technician's override.

    *trusted_keys*: head office's Ed25519 public keys, ``"ed25519:<base64>"`` (``fleet device add``
    writes them): a pushed survey is taken only when one of them signed it. Several, so head
    office can rotate its key. None: this kiosk takes no pushed survey at all.
    *file*: a survey file a technician put on this kiosk; it is shown instead of any pushed one,
    and reported as ``survey_source = "file"`` (docs/operations.md, "Pushed surveys on the kiosk").
    *min_seq*: assignments with this sequence or lower are refused as replays even by a kiosk that
    has taken none yet (freshly imaged); ``fleet device add`` / ``credentials`` write it."""

    trusted_keys: list[str] = []
    file: str | None = None
    min_seq: Annotated[int, msgspec.Meta(ge=0)] = 0


class KioskConfig(msgspec.Struct, forbid_unknown_fields=True):
    device_id: str | None = None
    site: str = ""
    data_dir: str | None = None
    # A path (``survey = "/etc/nabiz/survey.toml"``, the old spelling, still read) or the
    # ``[survey]`` table. TOML cannot hold both: with trusted keys, write the path as ``[survey] file``.
    survey: str | SurveyConfig | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    panel: PanelConfig = msgspec.field(default_factory=PanelConfig)
    screen: ScreenConfig = msgspec.field(default_factory=ScreenConfig)
    outbox: OutboxConfig = msgspec.field(default_factory=OutboxConfig)
    fleet: SyncSettings = msgspec.field(default_factory=SyncSettings)
    branding: BrandingConfig = msgspec.field(default_factory=BrandingConfig)
    help: HelpConfig = msgspec.field(default_factory=HelpConfig)

    @property
    def survey_file(self) -> str | None:
        """The technician's survey file, however it was written (``survey = …`` or ``[survey] file``)."""
        return self.survey.file if isinstance(self.survey, SurveyConfig) else self.survey

    @property
    def trusted_keys(self) -> list[str]:
        return list(self.survey.trusted_keys) if isinstance(self.survey, SurveyConfig) else []

    @property
    def survey_min_seq(self) -> int:
        return self.survey.min_seq if isinstance(self.survey, SurveyConfig) else 0


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
    if config.fleet.broker:
        try:
            BrokerAddress.parse(config.fleet.broker)
        except AddressError as exc:
            raise ConfigError(f"{path}: fleet.broker: {exc}") from None
    if config.screen.width < 320 or config.screen.height < 240:
        raise ConfigError(f"{path}: screen is {config.screen.width}x{config.screen.height}\n  fix: use at least 320x240 (the official display is 800x480)")
    problems = branding_problems(config.branding, path.parent) + help_problems(config.help) + trusted_key_problems(config.trusted_keys)
    if problems:
        raise ConfigError("\n".join(f"{path}: {problem}" for problem in problems))
    if config.branding.logo:
        # Relative to the config file, so a config and its logo can be copied together.
        config.branding.logo = str(path.parent / config.branding.logo)
    return config


def branding_problems(branding: BrandingConfig, base: Path) -> list[str]:
    """Every mistake in the ``[branding]`` table at once, each with its fix."""
    problems = []
    if branding.accent is not None:
        colour = parse_hex(branding.accent)
        if colour is None:
            problems.append(f'branding.accent: {branding.accent!r} is not a colour\n  fix: write it as "#rrggbb", e.g. accent = "#e30a17"')
        elif contrast(colour, BACKGROUND) < ACCENT_MIN_CONTRAST:
            problems.append(
                f"branding.accent: {branding.accent} is too dark to see on the screen's background {to_hex(BACKGROUND)} "
                f"({contrast(colour, BACKGROUND):.1f} : 1)\n  fix: use a lighter colour (at least {ACCENT_MIN_CONTRAST:g} : 1, e.g. your logo's brightest colour)"
            )
    if branding.logo is not None:
        problem = _logo_problem(base / branding.logo)
        if problem:
            problems.append(f"branding.logo: {problem}")
    return problems


def help_problems(help: HelpConfig) -> list[str]:
    """Every mistake in the ``[help]`` table at once, each with its fix (the rules are the
    contract's: the fleet checks a site's values with them before writing them here)."""
    keys = {"phone": "help.fallback_phone", "url": "help.fallback_url"}
    return [f"{keys[which]}: {problem}\n  fix: {fix}" for which, problem, fix in deployment.help_problems(help.fallback_phone, help.fallback_url)]


def trusted_key_problems(texts: list[str]) -> list[str]:
    """Every badly written key of ``[survey] trusted_keys`` at once, each by its place and with the fix."""
    from kiosk.contract.assignment import KeyTextError, parse_public_key

    problems = []
    for number, text in enumerate(texts, start=1):
        try:
            parse_public_key(text)
        except KeyTextError as exc:
            problems.append(f"survey.trusted_keys[{number}]: {exc}")
    if len(set(texts)) != len(texts):
        problems.append("survey.trusted_keys: a key is listed twice\n  fix: list each key once")
    return problems


def _logo_problem(path: Path) -> str | None:
    """Why *path* cannot be the logo, or None. Reads only the PNG header: no pygame needed."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            header = file.read(24)
    except FileNotFoundError:
        return f"{path} not found\n  fix: give the path of a PNG file (relative paths are relative to the config file)"
    except IsADirectoryError:
        return f"{path} is a directory\n  fix: give the path of a PNG file"
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror})\n  fix: make it readable by the kiosk's user"
    if size > LOGO_MAX_BYTES:
        return f"{path} is {size / 1024 / 1024:.1f} MB\n  fix: export it at most {LOGO_MAX_BYTES // 1024 // 1024} MB (a few hundred pixels high is plenty)"
    if header[:8] != _PNG_SIGNATURE or header[12:16] != b"IHDR":
        return f"{path} is not a PNG file\n  fix: export the logo as PNG (a transparent background looks best)"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    if not (LOGO_MIN_PIXELS <= width <= LOGO_MAX_PIXELS and LOGO_MIN_PIXELS <= height <= LOGO_MAX_PIXELS):
        return f"{path} is {width}x{height} pixels\n  fix: use {LOGO_MIN_PIXELS} to {LOGO_MAX_PIXELS} pixels on each side"
    return None


def is_raspberry_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="replace")
    except OSError:
        return False


def has_desktop() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def default_data_dir() -> Path:
    return service_data_dir("nabiz-kiosk")


def default_device_id() -> str:
    return "kiosk-" + socket.gethostname().split(".")[0].lower()


def default_panel() -> PanelKind:
    return "gpio" if is_raspberry_pi() else "keyboard"


def default_screen_mode() -> ScreenMode:
    if is_raspberry_pi():
        return "fullscreen"
    return "window" if has_desktop() else "headless"
