"""Talking to systemd: readiness and the watchdog (sd_notify), without a dependency.

With ``WatchdogSec=`` in the unit, systemd restarts a kiosk whose main loop stops pinging,
so a hung display driver or a deadlock heals itself at a shop nobody visits for months.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send *message* (e.g. ``READY=1``) to systemd; False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract socket namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """How often to ping: half of what systemd allows (``WATCHDOG_USEC``), or None if unwatched."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000 / 2
    except ValueError:
        return None
