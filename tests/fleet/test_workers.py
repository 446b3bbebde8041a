"""``fleet serve --workers N``: several ingest processes share the traffic; one that dies comes back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mqtt_helpers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pool(tmp_path, store_url):
    env = {**os.environ, "NABIZ_FLEET_DATA": str(tmp_path / "fleet"), "NABIZ_FLEET_DB": store_url}
    log = tmp_path / "serve.log"
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "fleet", "serve", "--workers", "2", "--bind", "127.0.0.1", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    wait_until(lambda: "2 workers on shared group" in log.read_text() or server.poll() is not None, timeout=30, what="two workers")
    assert server.poll() is None, log.read_text()
    yield env, log, port
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0, log.read_text()
    assert "broker stopped" in log.read_text()


def simulate(env, *args) -> dict:
    result = subprocess.run([sys.executable, "-m", "fleet", "simulate", "--json", "--processes", "2", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stored(env) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "fleet", "responses"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    return [json.loads(line)["uuid"] for line in result.stdout.splitlines()]


def test_two_workers_store_every_response_once(pool):
    env, log, _ = pool
    result = simulate(env, "--devices", "20", "--responses", "50")
    assert result["acked"] == result["made"] == 1000
    uuids = stored(env)
    assert len(uuids) == len(set(uuids)) == 1000
    assert log.read_text().count("fleet connected to the broker") == 2, "both workers took part"


def test_a_second_simulation_changes_no_login(pool):
    """Simulated kiosks keep their passwords between runs: the broker's plugin rewrites its whole
    file for every login changed, so a second run must change none."""
    env, _, _ = pool
    assert simulate(env, "--devices", "5", "--responses", "1")["acked"] == 5
    saved = Path(env["NABIZ_FLEET_DATA"]) / "broker" / "dynamic-security.json"
    before = saved.stat().st_mtime_ns
    assert simulate(env, "--devices", "5", "--responses", "1")["acked"] == 5
    assert saved.stat().st_mtime_ns == before, "no dynamic-security command ran"


@pytest.mark.slow
def test_a_killed_worker_is_started_again_and_nothing_is_lost(pool):
    env, log, _ = pool
    pids = [int(line.split("pid=")[1].split()[0]) for line in log.read_text().splitlines() if "fleet worker running" in line]
    os.kill(pids[0], signal.SIGKILL)
    wait_until(lambda: "starting it again" in log.read_text() and log.read_text().count("fleet worker running") == 3, timeout=30, what="the worker's restart")
    result = simulate(env, "--devices", "10", "--responses", "30", "--backlog")
    assert result["acked"] == result["made"] == 300
    assert len(set(stored(env))) == 300


def test_workers_start_whatever_the_working_directory_holds(tmp_path):
    """`fleet serve --workers 2 --data-dir fleet` run from the folder that holds that data dir:
    workers started with `python -m fleet` imported the folder instead of the package
    (issue 7, defect 5). Run as an operator runs it: the installed `fleet` command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NABIZ_")} | {"NABIZ_FLEET_HTTP_PORT": "0"}  # no web pages: port 8080 may be taken
    (tmp_path / "fleet").mkdir()  # the natural name for the fleet's data directory
    log = tmp_path / "serve.log"
    command = [str(Path(sys.executable).parent / "fleet"), "serve", "--workers", "2", "--data-dir", "fleet", "--bind", "127.0.0.1", "--port", str(free_port())]
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        wait_until(lambda: "2 workers on shared group" in log.read_text() or server.poll() is not None, timeout=30, what="two workers")
        assert server.poll() is None, log.read_text()
        assert "ImportError" not in log.read_text() and (tmp_path / "fleet" / "fleet.sqlite3").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert server.returncode == 0, log.read_text()
