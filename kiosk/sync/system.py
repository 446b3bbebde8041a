"""Readings of the board itself for the health report: temperature and uptime.

Each returns None (temperature) or a best effort where the board has no such file, so the
same code runs on a Pi, a desktop and in CI.
"""

from __future__ import annotations

import time
from pathlib import Path

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
PROC_UPTIME = Path("/proc/uptime")


def cpu_temperature_c(path: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature in °C (a Pi throttles at 80-85 °C; a kiosk in the sun gets there)."""
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def uptime_s(path: Path = PROC_UPTIME) -> float:
    """Seconds since the board booted (a kiosk that reboots every night shows it here)."""
    try:
        return float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return time.monotonic()
