"""``fleet serve --workers N``: several ingest processes on one machine, one shared subscription.

One CPython process spends about half its time in paho parsing MQTT packets and the other
half storing them, under one GIL; on a machine with more cores, more processes ingest more
(``benchmarks/bench_fleet.py`` measures both). The parent keeps the managed broker; each
worker is an ordinary ``fleet serve --broker ... --shared-group G --client-id ID-n``, so the
broker spreads the kiosks' messages over them (DESIGN.md principle 6: scale by
configuration, the same code path). A worker that dies is started again; what it held
unacknowledged, kiosks resend after their ack timeout.

Each worker reads the same fleet.toml (its path is on the command line, so the escalation
hooks see the same rules), and is told on its command line whatever the supervisor resolved
from its own options; secrets (the broker's and the store's URLs) go in its environment,
never in argv, where every local user could read them.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleet.link import BrokerURL
    from fleet.settings import FleetConfig

log = logging.getLogger(__name__)

#: Set in a worker's environment: the file descriptor on which it says it is ready.
READY_FD_ENV = "NABIZ_FLEET_READY_FD"


def announce_ready() -> bool:
    """In a worker: tell the parent the broker accepted us and we are taking messages.
    False when this process is not a worker."""
    fd = os.environ.pop(READY_FD_ENV, None)
    if fd is None:
        return False
    try:
        os.write(int(fd), b"ready\n")
        os.close(int(fd))
    except (OSError, ValueError):
        pass
    return True


def worker_command() -> list[str]:
    """How to start a ``fleet`` process that imports this installation's package whatever the
    working directory holds. ``python -m`` puts the current directory first on ``sys.path``, so
    a folder named ``fleet`` there (the natural ``--data-dir fleet``) was imported instead of the
    package (issue 7, defect 5). ``-P`` (Python 3.11) leaves it out."""
    return [sys.executable, "-P", "-m", "fleet"]


def worker_launch(config: FleetConfig, broker: BrokerURL, group: str) -> tuple[list[str], dict[str, str]]:
    """The ``fleet serve`` options and environment that make a worker of *config*'s fleet on
    *broker*, sharing the subscriptions under *group*. (``WorkerPool`` adds each one's client id.)"""
    serve = config.serve
    arguments = ["--worker", "--data-dir", str(config.data_dir), "--shared-group", group, "--inactivity", str(serve.inactivity_seconds), "--log-format", serve.log_format, "--log-level", serve.log_level, "--http-port", str(config.web.port)]
    if config.source:
        arguments += ["--config", config.source]
    if config.broker.ca_file:
        arguments += ["--ca-file", config.broker.ca_file]
    environment = {**os.environ, "NABIZ_FLEET_BROKER": broker.with_password(), "NABIZ_FLEET_DB": config.db_url}
    return arguments, environment


@dataclass
class _Worker:
    number: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


class WorkerPool:
    def __init__(self, count: int, arguments: list[str], environment: dict[str, str], client_id: str) -> None:
        self.count = count
        self.arguments = arguments  # common `fleet serve` options (no secrets: those go in environment)
        self.environment = environment
        self.client_id = client_id
        self.workers: dict[int, _Worker] = {}
        self.restarts = 0

    def start(self, timeout: float = 30.0) -> None:
        for number in range(1, self.count + 1):
            self.workers[number] = self._spawn(number, timeout)

    def supervise(self, stop: threading.Event) -> None:
        delay = 1.0
        while not stop.wait(0.5):
            for number, worker in list(self.workers.items()):
                status = worker.process.poll()
                if status is None:
                    continue
                log.error("fleet worker exited; starting it again", extra={"worker": number, "status": status, "in_s": delay})
                if stop.wait(delay):
                    return
                try:
                    self.workers[number] = self._spawn(number, 30.0)
                    self.restarts += 1
                    delay = 1.0 if time.monotonic() - worker.started > 60 else min(delay * 2, 30.0)
                except RuntimeError as exc:
                    log.error("fleet worker did not come back: %s", exc)
                    delay = min(delay * 2, 30.0)

    def stop(self, timeout: float = 20.0) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for worker in self.workers.values():
            try:
                worker.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()

    def _spawn(self, number: int, timeout: float) -> _Worker:
        read_end, write_end = os.pipe()
        environment = {**self.environment, READY_FD_ENV: str(write_end)}
        command = [*worker_command(), "serve", *self.arguments, "--client-id", f"{self.client_id}-{number}"]
        try:
            process = subprocess.Popen(command, env=environment, pass_fds=(write_end,), cwd=Path.cwd())
        finally:
            os.close(write_end)
        try:
            ready, _, _ = select.select([read_end], [], [], timeout)
            said = os.read(read_end, 64) if ready else b""
        finally:
            os.close(read_end)
        if not said.startswith(b"ready"):
            if process.poll() is None:
                process.kill()
            process.wait()
            raise RuntimeError(f"worker {number} did not start (status {process.returncode}); its errors are above")
        log.info("fleet worker running", extra={"worker": number, "pid": process.pid})
        return _Worker(number, process)
