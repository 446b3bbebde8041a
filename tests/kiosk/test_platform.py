"""The small platform edges: clocks without an RTC, systemd's notify socket, configuration."""

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kiosk import systemd
from kiosk.clock import SystemClock, boot_id, kernel_clock_synced
from kiosk.config import ConfigError, KioskConfig, default_data_dir, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_boot_id_is_the_kernels():
    assert uuid.UUID(boot_id()) == uuid.UUID(Path("/proc/sys/kernel/random/boot_id").read_text().strip())


def test_kernel_sync_state_is_read_without_error():
    assert kernel_clock_synced() in (True, False, None)


def test_system_clock_gives_all_three_readings():
    now = SystemClock().now()
    later = SystemClock().now()
    assert later.monotonic >= now.monotonic and now.wall > 1_700_000_000
    assert isinstance(now.clock_synced, bool)


def test_config_defaults_and_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("NABIZ_KIOSK_CONFIG", raising=False)
    monkeypatch.setattr("kiosk.config.SYSTEM_CONFIG", tmp_path / "absent.toml")
    defaults = load_config(None)
    assert defaults.panel.profile == "arcade-4" and defaults.outbox.reserve_mb == 100 and defaults.device_id is None
    path = tmp_path / "kiosk.toml"
    path.write_text('device_id = "ank-esenboga-3"\ndata_dir = "/srv/k"\n[panel]\nkind = "gpio"\nprofile = "arcade-5"\n[screen]\nwidth = 1920\nheight = 1080\n')
    config = load_config(path)
    assert config.device_id == "ank-esenboga-3" and config.panel.profile == "arcade-5" and config.screen.height == 1080
    assert isinstance(config, KioskConfig)


@pytest.mark.parametrize(
    "text, message",
    [
        ('[panel]\nkind = "usb"\n', "panel.kind: Invalid enum value 'usb'"),
        ("[screen]\nwidth = 100\n", "use at least 320x240"),
        ("device_id = \n", "not a valid UTF-8 TOML file"),
    ],
)
def test_config_errors(tmp_path, text, message):
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value) and "fix:" in str(caught.value)


def test_a_directory_given_as_config_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path)


def test_data_dir_follows_systemds_state_directory(monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/nabiz-kiosk")
    assert default_data_dir() == Path("/var/lib/nabiz-kiosk")


def test_notify_without_systemd_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False


def test_watchdog_interval_is_half_of_systemds(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert systemd.watchdog_interval() is None


def test_the_kiosk_tells_systemd_it_is_ready_and_alive(tmp_path):
    """A real notify socket, as systemd gives a Type=notify service with WatchdogSec."""
    address = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(address)
    server.settimeout(20)
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"}
    kiosk = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run", "--headless", "--panel", "stdin", "--data-dir", str(tmp_path / "d")],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )
    # WATCHDOG_PID is unset, so the kiosk pings: it cannot know systemd's pid check otherwise.
    try:
        messages = [server.recv(100).decode() for _ in range(4)]
        assert messages[0] == "READY=1"
        assert messages[1:] == ["WATCHDOG=1"] * 3
        kiosk.stdin.close()  # end of input: a clean stop
        assert server.recv(100).decode() in ("WATCHDOG=1", "STOPPING=1")
        assert kiosk.wait(20) == 0
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
        server.close()


def test_sigterm_mid_survey_saves_the_response_and_exits_cleanly(tmp_path):
    import json
    import signal

    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    data = tmp_path / "d"
    kiosk = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run", "--headless", "--panel", "stdin", "--data-dir", str(data), "--log-format", "json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
    )
    kiosk.stdin.write("1\nscreenshot " + str(tmp_path / "mid.png") + "\n")
    kiosk.stdin.flush()
    for line in kiosk.stdout:
        if json.loads(line)["msg"] == "screenshot saved":
            break
    kiosk.send_signal(signal.SIGUSR1)  # a technician's screenshot over SSH
    for line in kiosk.stdout:
        if json.loads(line)["msg"] == "screenshot saved":
            break
    kiosk.send_signal(signal.SIGTERM)
    assert kiosk.wait(20) == 0
    assert (tmp_path / "mid.png").exists() and list((data / "screenshots").glob("screen-*.png"))
    rows = subprocess.run([sys.executable, "-m", "kiosk", "responses", "--data-dir", str(data)], capture_output=True, text=True, cwd=ROOT).stdout
    (row,) = [json.loads(r) for r in rows.splitlines()]
    assert row["status"] == "abandoned" and row["end_reason"] == "shutdown"


def test_the_config_template_is_a_valid_config(tmp_path):
    """What setup-pi.sh writes (and fleet device add extends): loads as written, Turkish intact."""
    from kiosk.contract.deployment import config_template

    path = tmp_path / "kiosk.toml"
    path.write_text(config_template("ist-kadikoy-01", 'Kadıköy "çıkış"'), encoding="utf-8")
    config = load_config(path)
    assert config.device_id == "ist-kadikoy-01" and config.site == 'Kadıköy "çıkış"'
    assert config.panel.kind == "gpio" and config.screen.mode == "fullscreen" and config.fleet.broker is None
