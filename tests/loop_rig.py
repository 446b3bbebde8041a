"""The whole escalation loop as real processes, for the return path's fault tests and benchmarks.

    fleet = LoopFleet(tmp_path, procs, managed=False)   # managed=False: the test runs Mosquitto itself
    fleet.configure([webhook.url()], retry_first_seconds=1)
    kiosk_toml = fleet.add_device("kiosk-1", tmp_path / "kiosk.toml")
    fleet.start_broker(); fleet.serve()
    kiosk = LoopKiosk(procs, kiosk_toml, tmp_path / "kiosk").start()
    kiosk.press(UNHAPPY_THEN_YES)
    ...
    fleet.alerts()          # `fleet alert list --format json`, parsed
    fleet.deliveries()      # the delivery log, read from the store (read-only)

Everything is the real thing: ``fleet serve`` with a fleet.toml that names a local receiver as
the staff's apprise URL, Mosquitto (the fleet's own, or one started here from the files the
fleet generates, so a test decides when it is down), ``kiosk run`` headless with its buttons
on stdin, and the ``fleet`` CLI. Every process runs in its own process group; ``Processes``
kills them all at teardown, whatever happened. Waits poll a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid as uuidlib
from pathlib import Path

from fleet.broker import BrokerFiles, find_mosquitto, render_config
from tests.mqtt_helpers import Client, free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
FLEET = str(Path(sys.executable).parent / "fleet")
# The tests choose every address and directory themselves: no NABIZ_* setting of the machine leaks in.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("NABIZ_")} | {"SDL_VIDEODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}

SITE = "lab"
STAFF = "Ayşe Yılmaz"
#: Very unhappy, staff, would not recommend; then "yes" (button 4) to the offer of help: a
#: customer at a person's pace (a second to read each question, longer for the offer).
UNHAPPY_THEN_YES = "1\nwait 1\n2\nwait 1\n1\nwait 2\n4\n"
#: Kiosk sync timings for tests: reconnect within a second of the broker's return.
FAST_SYNC = {"reconnect_max_s": 1, "health_interval_s": 5}


class Proc:
    """A child in its own process group; a thread collects its output (JSON log lines parsed)."""

    def __init__(self, name: str, args: list[str], stdin: bool = False, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.lines: list[str] = []
        self.events: list[dict] = []
        self.popen = subprocess.Popen(
            args, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env or ENV, cwd=ROOT, start_new_session=True,
        )
        self.pid = self.popen.pid
        self.reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith("{"):
                try:
                    self.events.append(json.loads(line))
                except json.JSONDecodeError:
                    pass

    def logged(self, message: str, **fields: object) -> list[dict]:
        """Log entries whose message starts with *message* and whose fields have these values."""
        return [e for e in list(self.events) if str(e.get("msg", "")).startswith(message) and all(e.get(k) == v for k, v in fields.items())]

    def wait_for(self, message: str, timeout: float = 20.0, count: int = 1, **fields: object) -> dict:
        """The *count*-th entry logged with *message* (and *fields*), waited for; fails if the process ends first."""
        wait_until(lambda: len(self.logged(message, **fields)) >= count or not self.running, timeout, 0.02, f"{self.name} to log {message!r} {fields}")
        found = self.logged(message, **fields)
        assert len(found) >= count, f"{self.name} ended before logging {message!r}:\n{self.tail()}"
        return found[count - 1]

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def send(self, text: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(text)
        self.popen.stdin.flush()

    def kill(self, sig: int = signal.SIGKILL, group: bool = True) -> int:
        """*sig* to the process (group=False) or its whole group; waits for the process to end."""
        try:
            if group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
        code = self.popen.wait(15)
        self.reader.join(5)
        return code

    def wait_exit(self, timeout: float = 15.0) -> int:
        """The exit code, once the process ends by itself (``quit`` on its stdin, say)."""
        code = self.popen.wait(timeout)
        self.reader.join(5)
        return code

    def tail(self, count: int = 30) -> str:
        return f"--- last lines of {self.name} (pid {self.pid}) ---\n" + "\n".join(self.lines[-count:])


class Processes:
    """Every process a test started; ``kill_all`` at teardown (their groups: a managed broker too).
    *env*: the environment of every process started without one of its own (default ``ENV``)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.started: list[Proc] = []
        self.env = env

    def start(self, name: str, args: list[str], stdin: bool = False, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, args, stdin, env or self.env)
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in reversed(self.started):
            try:  # the group, even if its leader is gone: a managed broker may outlive a killed fleet
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.popen.wait(10)
            except subprocess.TimeoutExpired:
                pass
            if proc.popen.stdin:
                try:
                    proc.popen.stdin.close()
                except OSError:
                    pass

    def tails(self) -> str:
        return "\n".join(p.tail() for p in self.started)


def accepts(port: int) -> bool:
    """Something listens on this local port (a broker up, or not yet down)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_broker(procs: Processes, files: BrokerFiles, port: int) -> Proc:
    """Our own Mosquitto with the fleet's generated config, passwords and ACL (the same port every
    time), so a test decides when the broker is down; returns once it listens."""
    (files.directory / "persistence").mkdir(parents=True, exist_ok=True)
    files.config.write_text(render_config(files, "127.0.0.1", port))
    broker = procs.start("mosquitto", [find_mosquitto(), "-c", str(files.config)])
    wait_until(lambda: accepts(port) or not broker.running, 10, 0.02, "mosquitto to listen")
    assert broker.running, broker.tail()
    return broker


def add_device(data_dir: Path, device_id: str, site: str, config: Path, port: int, sync: dict[str, object], env: dict[str, str] | None = None) -> str:
    """``fleet device add`` on *data_dir*: writes the kiosk's *config* (broker on this local *port*),
    adds *sync* settings to its [fleet] table, and returns the device's broker password."""
    result = subprocess.run(
        [FLEET, "device", "add", device_id, "--site", site, "--out", str(config), "--data-dir", str(data_dir),
         "--broker-url", f"mqtt://127.0.0.1:{port}", "--allow-loopback"],
        capture_output=True, text=True, timeout=60, env=env or ENV, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = config.read_text()
    assert [line for line in text.splitlines() if line.startswith("[")][-1] == "[fleet]", "[fleet] must be the config's last table"
    config.write_text(text + "".join(f"{key} = {_toml(value)}\n" for key, value in sync.items()))
    return json.loads(text.split("password = ", 1)[1].splitlines()[0])


def _toml(value: object) -> str:
    """A TOML value for strings, numbers, booleans and lists of them (JSON spells those the same)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


class LoopFleet:
    """A fleet data directory with a fleet.toml for the loop, its devices, its server, and
    (``managed=False``) a Mosquitto run here from the files the fleet generates."""

    def __init__(self, root: Path, procs: Processes, managed: bool = True) -> None:
        self.dir = root / "fleet"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.procs = procs
        self.managed = managed
        self.port = free_port()
        self.http_port = free_port()
        self.files = BrokerFiles(self.dir / "broker")
        self.config = self.dir / "fleet.toml"
        self.server: Proc | None = None
        self.broker: Proc | None = None
        self.servers: list[Proc] = []
        self.passwords: dict[str, str] = {}  # device id → its broker password (from its kiosk config)

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def configure(self, urls: list[str], help_wait_seconds: int = 45, rules: str = "", web: dict[str, object] | None = None, **notifications: object) -> Path:
        """fleet.toml: this broker and web port (*web*: more [web] keys), one site (``lab``), its
        staff (Ayşe) reached at *urls*, a help rule (urgent: at once), *rules* (more [[rules]]
        tables, as TOML) and *notifications* settings (retries, timeouts)."""
        broker = f'bind = "127.0.0.1"\nport = {self.port}\n' if self.managed else f'url = "mqtt://fleet:{self.files.fleet_password()}@127.0.0.1:{self.port}"\n'
        settings = {"public_url": self.public_url, **notifications}
        text = (
            "# written by tests/loop_rig.py\n"
            f"[broker]\n{broker}\n"
            f'[web]\nhost = "127.0.0.1"\nport = {self.http_port}\npublic_url = "{self.public_url}"\n'
            + "".join(f"{key} = {_toml(value)}\n" for key, value in (web or {}).items()) + "\n"
            f'[[sites]]\nid = "{SITE}"\nname = "Fault Lab"\ntime_zone = "Europe/Istanbul"\nlanguage = "tr"\nhelp_wait_seconds = {help_wait_seconds}\n\n'
            f'[[contacts]]\nid = "ayse"\nname = "{STAFF}"\nsites = ["{SITE}"]\nroles = ["staff"]\nurls = {_toml(urls)}\n\n'
            '[[policies]]\nid = "staff-now"\n  [[policies.stages]]\n  roles = ["staff"]\n\n'
            '[[rules]]\nid = "help"\nkind = "response"\non = "help"\nseverity = "urgent"\npolicy = "staff-now"\n\n'
            f"{rules}"
            "[notifications]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in settings.items())
        )
        self.config.write_text(text, encoding="utf-8")
        self.config.chmod(0o600)
        return self.config

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A ``fleet`` command on this data directory (it reads fleet.toml there)."""
        return subprocess.run([FLEET, *args, "--data-dir", str(self.dir)], capture_output=True, text=True, timeout=timeout, env=ENV, cwd=ROOT)

    def add_device(self, device_id: str, config: Path, **sync: object) -> Path:
        """``fleet device add``: its kiosk config, with *sync* settings added to its [fleet] table."""
        self.passwords[device_id] = add_device(self.dir, device_id, SITE, config, self.port, {**FAST_SYNC, **sync})
        return config

    def start_broker(self) -> Proc:
        """Our own Mosquitto (``start_broker``)."""
        assert not self.managed
        self.broker = start_broker(self.procs, self.files, self.port)
        return self.broker

    def stop_broker(self) -> None:
        """Mosquitto stopped (SIGTERM: it saves its persistence file, as a service stop does)."""
        assert self.broker is not None
        self.broker.kill(signal.SIGTERM, group=False)
        wait_until(lambda: not accepts(self.port), 10, 0.02, "mosquitto to stop listening")

    def serve(self, timeout: float = 30) -> Proc:
        args = [FLEET, "serve", "--data-dir", str(self.dir), "--config", str(self.config), "--log-format", "json"]
        server = self.server = self.procs.start("fleet", args)
        self.servers.append(server)
        wait_until(lambda: any(line.startswith("fleet serving") for line in server.lines) or not server.running, timeout, 0.02, "fleet serve to start")
        assert server.running, server.tail()
        return server

    def kill_server(self) -> None:
        """SIGKILL ``fleet serve`` alone: no shutdown code of its own runs."""
        assert self.server is not None
        self.server.kill(signal.SIGKILL, group=False)

    def stop(self) -> int:
        assert self.server is not None
        return self.server.kill(signal.SIGTERM, group=False)

    def all_logged(self, message: str, **fields: object) -> list[dict]:
        return [e for server in self.servers for e in server.logged(message, **fields)]

    # --- what the fleet knows -------------------------------------------------------------------

    def alerts(self) -> list[dict]:
        """``fleet alert list --format json``: one object per alert."""
        result = self.cli("alert", "list", "--format", "json")
        assert result.returncode == 0, result.stdout + result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]

    def rows(self, sql: str, *parameters: object) -> list[tuple]:
        """Rows of the fleet's store, read-only (the fleet may be running or dead)."""
        path = self.dir / "fleet.sqlite3"
        if not path.exists():
            return []
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            connection.close()

    def notifications(self) -> list[dict]:
        rows = self.rows("SELECT id, alert_id, contact, target_shown, state, attempts, idempotency_key FROM notifications ORDER BY id")
        return [dict(zip(("id", "alert", "contact", "target", "state", "attempts", "key"), row)) for row in rows]

    def deliveries(self) -> list[dict]:
        """The delivery log: every attempt, oldest first."""
        rows = self.rows("SELECT notification_id, attempt, started_at, finished_at, outcome, detail FROM notification_deliveries ORDER BY id")
        return [dict(zip(("notification", "attempt", "started_at", "finished_at", "outcome", "detail"), row)) for row in rows]


def help_request(device_id: str) -> tuple[bytes, str]:
    """An Upload as a kiosk publishes it right after its customer said yes to the offer of help
    (very unhappy, then button 4), and the response's uuid."""
    from kiosk.contract.protocol import PROTOCOL_VERSION, AnswerPayload, Moment, ResponsePayload, SenderClock, Upload, encode

    now, uuid = time.time(), str(uuidlib.uuid4())
    response = ResponsePayload(
        uuid=uuid, survey_id="exit-default", survey_version=3, language="tr", status="completed", misuse=False, negative=True, end_reason="completed",
        answers=[AnswerPayload(question="satisfaction", option="very-unhappy", button=1, negative=True, elapsed_ms=0)], presses=[1, 4], press_ms=[0, 1600],
        started=Moment(now - 2, time.monotonic() - 2), finished=Moment(now - 1, time.monotonic() - 1), boot_id="boot-test", clock_synced=True,
        device_id=device_id, help_requested=True,
    )
    upload = Upload(v=PROTOCOL_VERSION, device_id=device_id, sent=SenderClock(now, time.monotonic(), True, "boot-test"), responses=[response])
    return encode(upload), uuid


def ask_for_help(fleet: LoopFleet, device_id: str) -> str:
    """Publish a help request as the device does (its own login, its own topic); the fleet's Ack
    is awaited, so the response is stored when this returns. The response's uuid."""
    from kiosk.contract.protocol import topic

    client = Client(fleet.port, device_id, fleet.passwords[device_id], client_id=device_id).connect()
    try:
        assert client.accepted, f"the broker refused {device_id}'s login"
        client.subscribe(topic(device_id, "ack"))
        payload, uuid = help_request(device_id)
        assert str(client.publish(topic(device_id, "responses"), payload)) == "Success"
        wait_until(lambda: uuid.encode() in client.get(timeout=20).payload, 20, 0.0, "the fleet's Ack of the help request")
        return uuid
    finally:
        client.close()


class LoopKiosk:
    """``kiosk run`` headless, its buttons on stdin, its JSON log lines kept; ``start`` runs it."""

    def __init__(self, procs: Processes, config: Path, data_dir: Path, survey: Path | None = None, name: str = "kiosk", prefix: list[str] | None = None) -> None:
        """*prefix*: a command the kiosk runs under (e.g. ``../shared/tools/pi-class``)."""
        self.procs, self.config, self.data_dir, self.survey, self.name = procs, config, data_dir, survey, name
        self.prefix = prefix or []
        self.proc: Proc | None = None

    def start(self, connect: bool = True) -> LoopKiosk:
        args = [*self.prefix, sys.executable, "-m", "kiosk", "run", "--config", str(self.config), "--headless", "--panel", "stdin",
                "--data-dir", str(self.data_dir), "--log-format", "json"]
        if self.survey is not None:
            args += ["--survey", str(self.survey)]
        self.proc = self.procs.start(self.name, args, stdin=True)
        self.proc.wait_for("kiosk running", 30)
        if connect:
            self.proc.wait_for("connected to the fleet", 20)
        return self

    def press(self, script: str) -> None:
        assert self.proc is not None
        self.proc.send(script)

    def logged(self, message: str, **fields: object) -> list[dict]:
        assert self.proc is not None
        return self.proc.logged(message, **fields)

    def wait_for(self, message: str, timeout: float = 20.0, count: int = 1, **fields: object) -> dict:
        assert self.proc is not None
        return self.proc.wait_for(message, timeout, count, **fields)

    def screenshot(self, path: Path) -> Path:
        self.press(f"screenshot {path}\n")
        self.wait_for("screenshot saved", path=str(path))
        return path

    def quit(self) -> int:
        assert self.proc is not None
        self.press("quit\n")
        code = self.proc.popen.wait(20)
        self.proc.reader.join(5)
        return code
