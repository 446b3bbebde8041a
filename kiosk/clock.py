"""Time on a board without a real-time clock.

A Raspberry Pi boots with whatever time it had when it last shut down (or 1970) and only
learns the real time when NTP answers, which may be hours later on a kiosk with no network.
So every moment we record carries three things: the wall clock (possibly wrong), the
monotonic clock (right, but only within one boot) and whether the wall clock was
synchronised. Together with the boot id, the fleet can later re-date a response made
before synchronisation: real_time = wall_at_sync - (monotonic_at_sync - monotonic_then).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
import uuid
from pathlib import Path

from kiosk.contract.clock import Instant

#: systemd-timesyncd touches this file once the clock is synchronised.
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
_TIME_ERROR = 5  # adjtimex(2) return value when the kernel considers the clock unsynchronised


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>: we only read the return value, but the kernel
    # writes the whole structure, so it must be full-sized (it has 11 reserved ints at the end).
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("reserved", ctypes.c_int * 11),
    ]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """libc, looked up once: ``find_library`` runs ``ldconfig -p`` in a child process each call,
    and the clock is re-checked every 30 s on the main loop until NTP answers."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None


def kernel_clock_synced() -> bool | None:
    """Ask the kernel (adjtimex) whether NTP disciplines the clock; None if we cannot ask.

    This works with any NTP client (timesyncd, chrony, ntpd), unlike checking one daemon.
    """
    libc = _libc()
    if libc is None:
        return None
    try:
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


def clock_synced() -> bool:
    if TIMESYNCD_FLAG.exists():
        return True
    return bool(kernel_clock_synced())


def boot_id() -> str:
    """The kernel's id of this boot: monotonic times are only comparable within one."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return f"unknown-{uuid.uuid4()}"


class SystemClock:
    """The real clocks. Synchronisation is re-checked at most every *recheck* seconds."""

    def __init__(self, recheck: float = 30.0) -> None:
        self._recheck = recheck
        self._synced = False
        self._checked_at = float("-inf")

    def now(self) -> Instant:
        mono = time.monotonic()
        if not self._synced and mono - self._checked_at >= self._recheck:
            # Once synchronised it stays so for this boot; until then, look again now and then.
            self._synced = clock_synced()
            self._checked_at = mono
        return Instant(monotonic=mono, wall=time.time(), clock_synced=self._synced)

