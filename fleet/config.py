"""Where the fleet keeps its things, what kiosks dial, and how times given on the command line are read.

The settings themselves (fleet.toml, the environment, the command line, and which wins) are
``fleet.settings``'s.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from fleet.broker import configured_listeners
from kiosk.contract.deployment import service_data_dir


class FleetConfigError(ValueError):
    pass


#: The config file a data directory may hold (read when no --config is given).
CONFIG_FILE_NAME = "fleet.toml"


def default_data_dir() -> Path:
    return service_data_dir("nabiz-fleet")


def ownership_warning(directory: Path) -> str | None:
    """A warning when root is about to write into a data directory the service's user owns:
    files made now would be root's, and the service could not read them."""
    if os.geteuid() != 0 or not directory.exists() or directory.stat().st_uid == 0:
        return None
    owner = directory.owner()
    return f"running as root in {directory}, which belongs to {owner}: files made now will be root's and the service cannot read them\n  fix: sudo -u {owner} NABIZ_FLEET_DATA={directory} fleet ..."


def public_broker_url(data_dir: Path, tls: bool = False, host: str | None = None) -> str:
    """What kiosks should dial: *host* (default this machine's name) and the managed broker's port."""
    port = 8883 if tls else 1883
    try:
        port = next(listener.port for listener in configured_listeners((data_dir / "broker" / "mosquitto.conf").read_text()) if listener.tls == tls)
    except (OSError, StopIteration):
        pass
    return f"{'mqtts' if tls else 'mqtt'}://{host or socket.getfqdn()}:{port}"


#: Names that mean "this machine" wherever they are resolved (RFC 6761, Debian's /etc/hosts).
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def loopback_problem(url: str, allow_loopback: bool = False) -> str | None:
    """Why a kiosk given *url* would dial itself (or nowhere), or None.

    A kiosk config is read on the Pi: ``localhost`` or ``127.0.0.1`` there is the Pi, not the
    fleet. ``fleet device add`` took its default host from ``getfqdn()``, which is ``localhost``
    on many servers, and wrote such configs without a word (issue 7, defect 10). A kiosk on the
    fleet's own machine (a demo) is the one case for a loopback address: *allow_loopback*."""
    host = (urlparse(url).hostname or "").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        loopback = host in LOOPBACK_NAMES or host.endswith(".localhost")
        return None if allow_loopback or not loopback else f"the broker address {url} names {host!r}, which on the kiosk is the kiosk itself"
    if address.is_unspecified:
        return f"the broker address {url} is {host}, which means 'every address' to a server and nothing a kiosk can dial"
    if address.is_loopback and not allow_loopback:
        return f"the broker address {url} is a loopback address: on the kiosk it is the kiosk itself"
    return None


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
