"""The kiosk in a real X window (Xvfb), answered with real key presses (xdotool, XTEST).

This is the desktop path technicians and developers use: SDL's x11 driver, the keyboard
panel, the main loop pumping window events. Skipped, with the reason, where Xvfb or
xdotool is missing (``make test`` installs both on Debian).
"""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.desktop,
    pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def display():
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"], pass_fds=[write_fd], stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not start"
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait(10)


class Watcher:
    """Reads the kiosk's JSON log and lets the test wait for a message without sleeping."""

    def __init__(self, stream):
        self.entries: list[dict] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                entry = {"msg": line.strip()}
            with self.changed:
                self.entries.append(entry)
                self.changed.notify_all()

    def wait_for(self, message, count=1, timeout=20):
        with self.changed:
            return self.changed.wait_for(lambda: sum(e.get("msg") == message for e in self.entries) >= count, timeout)


def xdotool(display, *args):
    return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=20, check=True).stdout


def kiosk_in_window(display, *args):
    """`kiosk run --window ARGS` on *display*, logging JSON on stdout; and a watcher of that log."""
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    env["DISPLAY"] = display
    kiosk = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run", "--window", "--log-format", "json", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    return kiosk, Watcher(kiosk.stdout)


def the_window(display, log):
    """The kiosk's real X window (not the dummy driver), found the way a window manager finds it."""
    assert any(e.get("driver") == "x11" for e in log.entries), "a real X window, not the dummy driver"
    window = xdotool(display, "search", "--sync", "--class", "nabiz-kiosk").split()[0]
    assert xdotool(display, "getwindowname", window).strip() == "Nabız"
    return window


def test_keys_in_a_real_window_answer_the_survey(display, tmp_path):
    data = tmp_path / "data"
    kiosk, log = kiosk_in_window(display, "--panel", "keyboard", "--data-dir", str(data))
    try:
        assert log.wait_for("kiosk running"), log.entries
        window = the_window(display, log)
        assert "Geometry: 800x480" in xdotool(display, "getwindowgeometry", window)
        xdotool(display, "windowfocus", "--sync", window)
        xdotool(display, "key", "--delay", "900", "l", "1", "2", "4")  # English; very unhappy → staff → yes
        assert log.wait_for("thank-you shown"), log.entries
        xdotool(display, "key", "F12")
        assert log.wait_for("screenshot saved"), log.entries
        xdotool(display, "key", "Escape")
        assert kiosk.wait(20) == 0
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
    rows = subprocess.run([sys.executable, "-m", "kiosk", "responses", "--data-dir", str(data)], capture_output=True, text=True, cwd=ROOT).stdout.splitlines()
    (row,) = [json.loads(r) for r in rows]
    assert row["language"] == "en" and row["status"] == "completed"
    assert [a["option"] for a in row["answers"]] == ["very-unhappy", "staff", "yes"]
    shot = next(e["path"] for e in log.entries if e.get("msg") == "screenshot saved")
    assert Path(shot).stat().st_size > 1000


def test_a_kiosk_that_cannot_start_shows_why_in_a_real_window(display, tmp_path):
    """Issue 7, defect 12: the reason on the screen, not a black window; Escape ends it (status 2)."""
    import signal

    import pygame

    from kiosk.technician_screen import ALARM

    config = tmp_path / "kiosk.toml"
    config.write_text('device_id = "k1"\n[panel]\nprofile = "arcade-9"\n')
    data = tmp_path / "data"
    kiosk, log = kiosk_in_window(display, "--config", str(config), "--data-dir", str(data))
    try:
        assert log.wait_for("startup error shown"), log.entries
        window = the_window(display, log)
        kiosk.send_signal(signal.SIGUSR1)
        assert log.wait_for("screenshot saved"), log.entries
        xdotool(display, "windowfocus", "--sync", window)
        xdotool(display, "key", "Escape")
        assert kiosk.wait(20) == 2
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
    error = next(e["error"] for e in log.entries if e.get("msg") == "kiosk cannot start")
    assert "no pin profile named 'arcade-9'" in error
    (shot,) = (data / "screenshots").glob("screen-*.png")
    assert pygame.image.load(str(shot)).get_at((4, 4))[:3] == ALARM
