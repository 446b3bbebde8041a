"""Where the fleet keeps its things, and how times given on the command line are read.

Sources, later ones winning: built-in defaults, environment variables (``NABIZ_FLEET_DATA``,
``NABIZ_FLEET_DB``, ``NABIZ_FLEET_BROKER``), command-line options.
"""

from __future__ import annotations

import re
import socket
import time
from datetime import datetime
from pathlib import Path

from kiosk.config import service_data_dir


class FleetConfigError(ValueError):
    pass


def default_data_dir() -> Path:
    return service_data_dir("nabiz-fleet")


def public_broker_url(data_dir: Path, tls: bool = False, host: str | None = None) -> str:
    """What kiosks should dial: this host's name and the managed broker's port."""
    port = 8883 if tls else 1883
    config = data_dir / "broker" / "mosquitto.conf"
    try:
        # Each listener is a block: "listener PORT ADDRESS", then its settings; TLS ones have a certfile.
        for block in re.split(r"^(?=listener )", config.read_text(), flags=re.MULTILINE)[1:]:
            if ("\ncertfile " in block) == tls:
                port = int(block.split()[1])
                break
    except (OSError, ValueError, IndexError):
        pass
    return f"{'mqtts' if tls else 'mqtt'}://{host or socket.getfqdn()}:{port}"


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: float | None = None) -> float:
    """'2026-11-24', '2026-11-24T09:30', '2026-11-24T09:30+03:00' (local time unless a zone is
    given) or a span back from now: '90m', '12h', '7d'."""
    now = time.time() if now is None else now
    match = _RELATIVE.match(text.strip().lower())
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FleetConfigError(f"time {text!r} is not a date, a date and time, or a span\n  fix: e.g. 2026-11-24, 2026-11-24T09:30, 12h or 7d") from None
    return moment.timestamp()
