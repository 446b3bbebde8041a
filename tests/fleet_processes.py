"""The real ``fleet`` command in tests: one-shot commands, and a ``fleet serve`` kept running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.mqtt_helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]

#: Variables a test's fleet must not inherit from the shell that runs the tests.
FLEET_VARIABLES = ("NABIZ_FLEET_DATA", "NABIZ_FLEET_DB", "NABIZ_FLEET_BROKER", "NABIZ_FLEET_BROKER_ADMIN", "NABIZ_FLEET_PUBLIC_HOST", "NABIZ_FLEET_CONFIG", "NABIZ_FLEET_HTTP_PORT")


def fleet_env(data_dir: Path | None = None, db: str | None = None, **variables: str) -> dict[str, str]:
    """The environment of a test's ``fleet``: none of the shell's fleet variables, and no web
    pages unless the test asks (``--http-port N``, or NABIZ_FLEET_HTTP_PORT in *variables*):
    the default port 8080 may be taken on a shared machine."""
    env = {key: value for key, value in os.environ.items() if key not in FLEET_VARIABLES} | {"NABIZ_FLEET_HTTP_PORT": "0"}
    if data_dir is not None:
        env["NABIZ_FLEET_DATA"] = str(data_dir)
    if db:
        env["NABIZ_FLEET_DB"] = db
    return {**env, **variables}


def run_fleet(*args: str, env: dict[str, str], timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleet", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd or ROOT)


class ServingFleet:
    """``fleet serve ARGS`` in the background, its output in *log*; ``start`` returns once it
    says "fleet serving" (or has exited: check ``returncode``)."""

    def __init__(self, *args: str, env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ServingFleet:
        with self.log.open("w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "fleet", "serve", *self.args], stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)
        wait_until(lambda: "fleet serving" in self.output() or self.process.poll() is not None, timeout=timeout, what="fleet serve to start")
        return self

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    @property
    def returncode(self) -> int | None:
        assert self.process is not None
        return self.process.poll()

    def stop(self, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def staff_on_call(url: str, help_wait_seconds: int | None = None, help_severity: str | None = None) -> str:
    """fleet.toml tables the escalation tests share: one site (Kadıköy; *help_wait_seconds*, if
    given), Ayşe on its staff reached at *url*, a policy that calls the staff at once, and a rule
    ``help-request`` that raises an alert (*help_severity*, if given) on every request for help."""
    wait = "" if help_wait_seconds is None else f"help_wait_seconds = {help_wait_seconds}\n"
    severity = "" if help_severity is None else f'severity = "{help_severity}"\n'
    return (
        f'[[sites]]\nid = "kadikoy"\nname = "Kadıköy"\n{wait}\n'
        f'[[contacts]]\nid = "ayse"\nname = "Ayşe Yılmaz"\nsites = ["kadikoy"]\nroles = ["staff"]\nurls = ["{url}"]\n\n'
        '[[policies]]\nid = "staff-now"\n  [[policies.stages]]\n  roles = ["staff"]\n\n'
        f'[[rules]]\nid = "help-request"\nkind = "response"\non = "help"\n{severity}policy = "staff-now"\n'
    )
