"""One kiosk process per data directory.

The service and a technician's manual ``kiosk run`` on the same data directory would both
take presses into one outbox and both send it: a customer counted twice, or test presses
mixed into real answers. Whoever comes second is refused, with the holder's pid and the fix.

The lock is ``flock(2)`` on ``kiosk.lock`` in the data directory. The kernel drops it when its
process ends, however it ends (power cut, kill -9, the watchdog), so no stale lock file can
ever keep the kiosk from starting again; the file only tells the next comer who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILENAME = "kiosk.lock"


class DataDirError(RuntimeError):
    """The data directory cannot be created or locked (not: someone else holds it)."""


class DataDirBusy(DataDirError):
    """Another process holds the data directory."""


class DataDirLock:
    """Held from ``acquire`` until ``release`` or the end of the process."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, directory: str | Path, holder: str) -> DataDirLock:
        """Take the lock for *holder* (e.g. "kiosk run"), or raise saying who has it."""
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"cannot create the data directory {directory}: {exc.strerror}\n  fix: create it and give the kiosk's user write access, or pass --data-dir") from None
        path = directory / LOCK_FILENAME
        fd, writable = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            who = _holder(path)
            raise DataDirBusy(
                f"another kiosk is already running on {directory}{f' ({who})' if who else ''}: "
                "two would take the same presses into one outbox\n"
                "  fix: stop it first (the service: sudo systemctl stop nabiz-kiosk, and start it again when done), "
                "or give this run its own --data-dir"
            ) from None
        if writable:  # who holds it, for the message above; a read-only opener still locks
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, {holder}\n".encode(), 0)
        return cls(directory, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None


def _open(path: Path) -> tuple[int, bool]:
    flags = os.O_CLOEXEC | os.O_NOFOLLOW  # a child process must not inherit the lock
    try:
        return os.open(path, flags | os.O_RDWR | os.O_CREAT, 0o640), True
    except PermissionError:
        pass  # e.g. root created the file during a manual run: reading is enough to lock it
    try:
        return os.open(path, flags | os.O_RDONLY), False
    except OSError as exc:
        raise DataDirError(f"cannot open the lock file {path}: {exc.strerror}\n  fix: run as the kiosk's user (sudo -u nabiz …), or pass --data-dir") from None


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
