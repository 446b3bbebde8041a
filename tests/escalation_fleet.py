"""A real ``fleet serve`` with the escalation on, for tests of the whole loop (and benchmarks).

``EscalatingFleet`` writes a fleet.toml (one site, Kadıköy; Ayşe on duty there, reached at the
webhook URL given; a help rule, and a negative rule at the device), registers devices, starts
``fleet serve`` with its managed Mosquitto and its web pages on free ports (JSON logs kept),
runs ``fleet alert ...`` as separate processes, and logs in as a kiosk to send responses the
way a kiosk does and hear its ``help`` channel.
"""

from __future__ import annotations

import json
import queue
import subprocess
import time
import uuid as uuidlib
from pathlib import Path

from kiosk.contract.protocol import PROTOCOL_VERSION, AnswerPayload, HelpUpdate, Moment, ResponsePayload, SenderClock, Upload, decode, encode, topic
from tests.fleet_processes import ServingFleet, fleet_env, run_fleet, staff_on_call
from tests.mqtt_helpers import Client, free_port, wait_for_login, wait_until

SITE = "kadikoy"

WEB = """\
[web]
public_url = "http://127.0.0.1:{http_port}"
privacy_controller = "Örnek Akaryakıt A.Ş."
privacy_contact = "kvkk@example.com"

"""

#: After ``staff_on_call``: a rule at the device too, and quick retries.
NEGATIVE_AND_NOTIFICATIONS = """
[[rules]]
id = "negative"
kind = "response"
on = "negative"
policy = "staff-now"

[notifications]
public_url = "http://127.0.0.1:{http_port}"
send_timeout_seconds = 5
retry_first_seconds = 0.2
retry_max_seconds = 1
"""


class EscalatingFleet:
    def __init__(self, root: Path, webhook_url: str, store_url: str | None = None, http: bool = True, extra_config: str = "") -> None:
        self.root = root
        self.data = root / "fleet"
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.http_port = free_port() if http else 0
        self.config = root / "fleet.toml"
        http_port = self.http_port or 8080
        text = WEB.format(http_port=http_port) + staff_on_call(webhook_url, help_wait_seconds=30, help_severity="urgent") + NEGATIVE_AND_NOTIFICATIONS.format(http_port=http_port)
        self.config.write_text(text + extra_config, encoding="utf-8")
        self.env = fleet_env(self.data, db=store_url, NABIZ_FLEET_CONFIG=str(self.config))
        self.passwords: dict[str, str] = {}
        self.serving: ServingFleet | None = None

    # --- the fleet's commands -------------------------------------------------------------------

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_fleet(*args, env=self.env)

    def add(self, device_id: str, site: str = SITE) -> str:
        out = self.root / f"{device_id}.kiosk.toml"
        result = self.cli("device", "add", device_id, "--site", site, "--out", str(out), "--broker-url", f"mqtt://127.0.0.1:{self.port}", "--allow-loopback")
        assert result.returncode == 0, result.stderr
        self.passwords[device_id] = json.loads(out.read_text().split("password = ", 1)[1].splitlines()[0])
        return self.passwords[device_id]

    def start(self, *args: str, timeout: float = 40) -> EscalatingFleet:
        serve_args = ["--bind", "127.0.0.1", "--port", str(self.port), "--http-port", str(self.http_port), "--log-format", "json", *args]
        self.serving = ServingFleet(*serve_args, env=self.env, log=self.root / f"fleet-{time.monotonic_ns()}.log").start(timeout)
        assert self.serving.returncode is None, self.serving.output()
        for device_id, password in self.passwords.items():
            wait_for_login(self.port, device_id, password)
        return self

    def stop(self) -> int:
        assert self.serving is not None
        return self.serving.stop()

    def logged(self, message: str, **fields: object) -> list[dict]:
        assert self.serving is not None
        found = []
        for line in self.serving.output().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("msg", "").startswith(message) and all(event.get(k) == v for k, v in fields.items()):
                found.append(event)
        return found

    def alerts(self, *args: str) -> list[dict]:
        result = self.cli("alert", "list", "--format", "json", *args)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def wait_for_alerts(self, count: int, timeout: float = 15.0, *args: str) -> list[dict]:
        wait_until(lambda: len(self.alerts(*args)) >= count, timeout, interval=0.2, what=f"{count} alert(s)")
        return self.alerts(*args)

    # --- as a kiosk --------------------------------------------------------------------------------

    def kiosk(self, device_id: str) -> Kiosk:
        return Kiosk(self.port, device_id, self.passwords[device_id])


class Kiosk:
    """A kiosk's own broker login: it sends responses and hears its ``help`` channel (no screen)."""

    def __init__(self, port: int, device_id: str, password: str) -> None:
        self.device_id = device_id
        self.client = Client(port, device_id, password, client_id=device_id).connect()
        assert self.client.accepted, self.client.reason
        granted = self.client.subscribe(topic(device_id, "help"))
        assert not granted[0].is_failure, granted

    def send(self, negative: bool = True, help_requested: bool | None = None, response_uuid: str | None = None) -> str:
        """Publish one response (as a kiosk's Upload); returns its uuid. The same uuid again is a resend."""
        now = time.time()
        uuid = response_uuid or str(uuidlib.uuid4())
        option, button = ("very-unhappy", 1) if negative else ("happy", 3)
        response = ResponsePayload(
            uuid=uuid, survey_id="exit-default", survey_version=1, language="tr", status="completed", misuse=False, negative=negative, end_reason="completed",
            answers=[AnswerPayload(question="satisfaction", option=option, button=button, negative=negative, elapsed_ms=800)],
            presses=[button] + ([4] if help_requested else []), started=Moment(now - 3, 100.0), finished=Moment(now - 1, 102.0), boot_id="boot-test",
            clock_synced=True, device_id=self.device_id, help_requested=help_requested,
        )
        payload = encode(Upload(v=PROTOCOL_VERSION, device_id=self.device_id, sent=SenderClock(now, 103.0, True, "boot-test"), responses=[response]))
        reason = self.client.publish(topic(self.device_id, "responses"), payload)
        assert reason is not None and not reason.is_failure, reason
        return uuid

    def hear(self, state: str, timeout: float = 10.0, **fields: object) -> HelpUpdate:
        """The next HelpUpdate on the help channel in *state* (and with *fields*); earlier ones are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.device_id} heard no {state!r} help update with {fields} in {timeout} s")
            try:
                message = self.client.get(timeout=left)
            except queue.Empty:
                continue
            if not message.topic.endswith("/help") or not message.payload:
                continue
            update = decode("help", message.payload)
            assert isinstance(update, HelpUpdate)
            if update.state == state and all(getattr(update, k) == v for k, v in fields.items()):
                return update

    def close(self) -> None:
        self.client.close()
