"""Presses on a kiosk become rows in the fleet's store, exactly once: every part real.

``fleet serve`` (with its managed Mosquitto) and ``kiosk run`` (headless, buttons scripted
on stdin) run as the processes they are in the field; only the display (SDL's dummy driver)
and the buttons (stdin instead of GPIO) are stand-ins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mqtt_helpers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]


def run(*args, env, timeout=60, stdin=None):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, input=stdin)


@pytest.fixture
def fleet_env(tmp_path, store_url):
    return {**os.environ, "NABIZ_FLEET_DATA": str(tmp_path / "fleet"), "NABIZ_FLEET_DB": store_url, "SDL_VIDEODRIVER": "dummy", "NABIZ_FLEET_HTTP_PORT": "0"}


@pytest.fixture
def fleet_server(fleet_env, tmp_path):
    port = free_port()
    log = open(tmp_path / "fleet.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "fleet", "serve", "--bind", "127.0.0.1", "--port", str(port), "--log-level", "DEBUG"], stdout=log, stderr=subprocess.STDOUT, env=fleet_env, cwd=ROOT)
    wait_until(lambda: "fleet connected to the broker" in (tmp_path / "fleet.log").read_text() or server.poll() is not None, timeout=20, what="fleet serve")
    assert server.poll() is None, (tmp_path / "fleet.log").read_text()
    yield port
    server.terminate()
    assert server.wait(15) == 0, "fleet serve stops cleanly on SIGTERM"
    log.close()


def test_presses_reach_the_fleet_store_exactly_once(fleet_server, fleet_env, tmp_path):
    config = tmp_path / "kiosk.toml"
    added = run("fleet", "device", "add", "kiosk-e2e", "--site", "Gaziantep Şahinbey", "--out", str(config), "--broker-url", f"mqtt://127.0.0.1:{fleet_server}", "--allow-loopback", env=fleet_env)
    assert added.returncode == 0, added.stderr
    # A happy customer, a child on the thank-you screen, an unhappy customer (people press a second apart).
    script = "3\nwait 1\n4\nwait 1\n2\n2\nwait 4.5\n1\nwait 1\n1\nwait 1\n1\nwait 2\n"
    kiosk = run("kiosk", "run", "--config", str(config), "--headless", "--panel", "stdin", "--data-dir", str(tmp_path / "kiosk"), stdin=script, env=fleet_env)
    assert kiosk.returncode == 0, kiosk.stdout + kiosk.stderr

    on_kiosk = [json.loads(line) for line in run("kiosk", "responses", "--data-dir", str(tmp_path / "kiosk"), env=fleet_env).stdout.splitlines()]
    assert len(on_kiosk) == 4 and sum(r["misuse"] for r in on_kiosk) == 2
    assert all(r["sent_at"] is not None for r in on_kiosk), "every response acknowledged before the kiosk stopped"

    exported = run("fleet", "responses", env=fleet_env)
    in_fleet = [json.loads(line) for line in exported.stdout.splitlines()]
    assert sorted(r["uuid"] for r in in_fleet) == sorted(r["uuid"] for r in on_kiosk), "every answer once, nothing else"
    unhappy = next(r for r in in_fleet if r["negative"])
    assert unhappy["site"] == "Gaziantep Şahinbey" and unhappy["device_id"] == "kiosk-e2e"
    assert [a["option"] for a in unhappy["answers"]][0] == "very-unhappy"

    listing = [json.loads(line) for line in run("fleet", "device", "list", "--format", "json", env=fleet_env).stdout.splitlines()]
    assert listing[0]["device_id"] == "kiosk-e2e" and listing[0]["state"] == "offline" and listing[0]["software"].startswith("nabiz-kiosk/")
