"""``kiosk run`` as a test drives it: headless (SDL's dummy driver), buttons scripted on its stdin,
JSON log lines kept; the broker it talks to and the test as the fleet on the other side; and
a screen as the kiosk's own Screen draws it, to compare screenshots."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fleet.broker import BrokerFiles, ManagedBroker, hash_password
from fleet.dynsec import FLEET_USER
from hardware.profiles import load_profile
from kiosk.contract.protocol import topic
from kiosk.flow import Helping, KioskState
from kiosk.screen import Screen
from kiosk.view import view_of
from tests.mqtt_helpers import Client, free_port, wait_until
from tests.pixels import Image

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("NABIZ_")} | {"SDL_VIDEODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
#: Very unhappy, staff, would not recommend; then "yes" (button 4) to the offer of help.
UNHAPPY_THEN_YES = "1\nwait 1\n2\nwait 1\n1\nwait 2\n4\n"


class KioskProcess:
    """``kiosk run``: presses written to its stdin as the test goes, its JSON log lines kept."""

    def __init__(self, config: Path, data_dir: Path, survey: Path | None = None) -> None:
        command = [sys.executable, "-m", "kiosk", "run", "--config", str(config), "--headless", "--panel", "stdin", "--data-dir", str(data_dir), "--log-format", "json"]
        if survey is not None:
            command += ["--survey", str(survey)]
        self.popen = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, cwd=ROOT, start_new_session=True)
        self.events: list[dict] = []
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line)
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass

    def press(self, script: str) -> None:
        self.popen.stdin.write(script)
        self.popen.stdin.flush()

    def logged(self, message: str, **fields) -> list[dict]:
        return [e for e in list(self.events) if e.get("msg", "").startswith(message) and all(e.get(k) == v for k, v in fields.items())]

    def wait_for(self, message: str, timeout: float = 20.0, count: int = 1, **fields) -> dict:
        """The last entry logged with *message* (and *fields*), once there are *count* of them; fails if the kiosk stops first."""
        wait_until(lambda: len(self.logged(message, **fields)) >= count or self.popen.poll() is not None, timeout, what=f"the kiosk to log {message!r} {fields}")
        found = self.logged(message, **fields)
        assert len(found) >= count, "the kiosk stopped:\n" + "".join(self.lines[-30:])
        return found[-1]

    def screenshot(self, path: Path) -> Image:
        self.press(f"screenshot {path}\n")
        self.wait_for("screenshot saved", path=str(path))
        return Image.load(path)

    def kill(self) -> None:
        """SIGKILL to its whole process group: no shutdown code of its own runs."""
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> int:
        self.press("quit\n")
        try:
            return self.popen.wait(20)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()


@contextmanager
def kiosk_broker(directory: Path, device_id: str, password: str) -> Iterator[ManagedBroker]:
    """A Mosquitto of the fleet's own (its files in *directory*, a free port) that lets in the
    fleet and this one kiosk; stopped on leaving."""
    files = BrokerFiles(directory)
    files.write_auth([(device_id, hash_password(password))])
    managed = ManagedBroker(files, "127.0.0.1", free_port())
    managed.start()
    try:
        yield managed
    finally:
        managed.stop()


class FleetSide:
    """The test as the fleet: logged in with the fleet's own account, subscribed to *channels* of
    one kiosk; a thread hands every message to ``heard(channel, payload)`` (which subclasses
    define), so the test can wait on what arrived while it drives the kiosk."""

    def __init__(self, broker: ManagedBroker, device_id: str, channels: list[str], client_id: str) -> None:
        self.client = Client(broker.port, FLEET_USER, broker.files.fleet_password(), client_id=client_id).connect()
        for channel in channels:
            self.client.subscribe(topic(device_id, channel))
        self._lock = threading.Lock()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        while True:
            try:
                message = self.client.get(timeout=3600)
            except queue.Empty:
                continue
            self.heard(message.topic.rsplit("/", 1)[1], message.payload)

    def heard(self, channel: str, payload: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.client.close()


def kiosk_config(tmp_path: Path, port: int, device_id: str, password: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'device_id = "{device_id}"\n'
        "[fleet]\n"
        f'broker = "mqtt://127.0.0.1:{port}"\n'
        f'password = "{password}"\n'
        "ack_timeout_s = 300\n"  # nothing is sent twice in these tests: the fleet is slow on purpose, not gone
        "reconnect_max_s = 1\n"
        "[help]\n"
        'fallback_phone = "0212 555 01 23"\n',
        encoding="utf-8",
    )
    return path


def drawn(state: KioskState, path: Path) -> tuple[Image, str]:
    """*state* as the kiosk's own Screen draws it (arcade-4, 800×480, headless): the picture,
    saved at *path*, and its text. A kiosk's screenshot of that state must be the same pixels."""
    screen = Screen(load_profile("arcade-4"), (800, 480), "headless")
    try:
        screen.show(view_of(state, 0.0), force=True)
        return Image.load(screen.save(path)), " ".join(screen.layout.text_lines)
    finally:
        screen.close()


def expected_coming(tmp_path: Path, survey, uuid: str, staff: str, eta: int | None, alert_id: int = 42) -> Image:
    """The help screen as this test's own Screen draws it: the kiosk's screenshot must be the same pixels."""
    helping = Helping("tr", uuid, since=0.0, call_back_at=0.0, stage="coming", staff=staff, eta_minutes=eta, alert_id=alert_id)
    image, text = drawn(KioskState(survey, helping), tmp_path / f"expected-{staff}.png")
    assert text.startswith(f"{staff} yanınıza geliyor"), "the name, first, in large type"
    return image
