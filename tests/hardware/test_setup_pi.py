"""setup-pi.sh's config step, run for real: a config is checked as the kiosk's user before it
is installed, a bad one is refused with the reason and the installed one stays (issue 7,
defect 11: a bad file used to be installed first, and the kiosk then looped on exit 2).

The step is ``hardware/install-config.sh``, the very file setup-pi.sh runs, here with a
temporary target and the kiosk command of this checkout instead of /etc/nabiz and /opt/nabiz.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hardware" / "install-config.sh"
SETUP = ROOT / "hardware" / "setup-pi.sh"
#: The kiosk command the checks run. Another user must be able to run it for the last test: where
#: this venv's Python sits in root's home, point NABIZ_TEST_KIOSK_COMMAND at one in a venv that
#: user can enter (as /opt/nabiz/venv is on a Pi).
KIOSK = Path(os.environ.get("NABIZ_TEST_KIOSK_COMMAND") or Path(sys.executable).with_name("kiosk"))

GOOD = 'device_id = "ist-kadikoy-01"\ndata_dir = "/var/lib/nabiz-kiosk"\n[panel]\nkind = "gpio"\nprofile = "arcade-4"\n'
NEWER = GOOD.replace("arcade-4", "arcade-5")


def install(new: Path, target: Path, user: str | None = None) -> subprocess.CompletedProcess:
    user = user or pwd.getpwuid(os.getuid()).pw_name
    return subprocess.run(["sh", str(SCRIPT), str(new), str(target), user, str(KIOSK)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def etc(tmp_path):
    """An /etc/nabiz with a working config installed."""
    directory = tmp_path / "etc-nabiz"
    directory.mkdir()
    (directory / "kiosk.toml").write_text(GOOD)
    return directory


@pytest.mark.parametrize(
    "text, reason",
    [
        (GOOD + '[screen]\ncolour = "red"\n', "screen: Object contains unknown field colour"),
        (GOOD.replace("arcade-4", "arcade-9"), "no pin profile named 'arcade-9'"),
        ('survey = "/nonexistent/anket.toml"\n' + GOOD, "file not found"),
        ('device_id = "Kiosk 1"\n[fleet]\nbroker = "mqtts://fleet.example.com"\n', "lowercase"),
        ('device_id = "k1"\n[fleet]\nbroker = "mqtts://fleet.example.com"\nca_file = "/nonexistent/ca.pem"\n', "fleet.ca_file /nonexistent/ca.pem does not exist"),
        ('device_id = "k1"\n[fleet]\nbroker = "mqtts://fleet.example.com"\nca_file = "/etc/hostname"\n', "fleet.ca_file /etc/hostname is not a PEM certificate"),
    ],
)
def test_a_bad_config_is_refused_with_the_reason_and_the_installed_one_stays(etc, tmp_path, text, reason):
    new = tmp_path / "from-head-office.toml"
    new.write_text(text)
    result = install(new, etc / "kiosk.toml")
    assert result.returncode == 2, result.stdout + result.stderr
    assert reason in result.stderr and "fix:" in result.stderr
    assert f"{new} is not installed" in result.stderr and f"{etc / 'kiosk.toml'} is unchanged" in result.stderr
    assert ".kiosk.toml." not in result.stderr, "the reason names the technician's file, not the staged copy"
    assert (etc / "kiosk.toml").read_text() == GOOD
    assert [p.name for p in etc.iterdir()] == ["kiosk.toml"], "no staged copy or backup left behind"


def test_a_good_config_replaces_the_old_one_in_one_rename_and_keeps_a_backup(etc, tmp_path):
    new = tmp_path / "from-head-office.toml"
    new.write_text(NEWER)
    before = (etc / "kiosk.toml").stat().st_ino
    result = install(new, etc / "kiosk.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: {etc / 'kiosk.toml'}: device ist-kadikoy-01, panel 'arcade-5'" in result.stdout
    assert (etc / "kiosk.toml").read_text() == NEWER and (etc / "kiosk.toml.bak").read_text() == GOOD
    installed = (etc / "kiosk.toml").stat()
    assert stat.S_IMODE(installed.st_mode) == 0o640, "it holds the broker password"
    assert installed.st_ino != before, "a new file renamed over the old, never rewritten in place"
    assert sorted(p.name for p in etc.iterdir()) == ["kiosk.toml", "kiosk.toml.bak"]


def test_a_first_install_creates_the_config_directory(tmp_path):
    new = tmp_path / "kiosk.toml"
    new.write_text(GOOD)
    target = tmp_path / "etc" / "nabiz" / "kiosk.toml"
    assert install(new, target).returncode == 0
    assert target.read_text() == GOOD and not (target.parent / "kiosk.toml.bak").exists()


def test_setup_pi_installs_and_restarts_only_after_the_check():
    """The script has no other way to write /etc/nabiz/kiosk.toml than the checking step."""
    text = SETUP.read_text(encoding="utf-8")
    raw_writes = [line for line in text.splitlines() if '"$CONFIG"' in line and re.search(r"(^|\s)(install|cp|mv|tee)\s|>\s*\"\$CONFIG\"", line)]
    assert raw_writes == [], "writes the config without checking it first"
    assert 'sh "$INSTALL_CONFIG" "$NEW_CONFIG" "$CONFIG" "$USER_NAME"' in text
    assert text.index('sh "$INSTALL_CONFIG"') < text.index("systemctl restart nabiz-kiosk")
    assert subprocess.run(["sh", "-n", str(SETUP)]).returncode == 0
    if shutil.which("dash"):  # /bin/sh on Raspberry Pi OS
        assert subprocess.run(["dash", "-n", str(SCRIPT)]).returncode == 0


def runs_as(user: str) -> bool:
    return subprocess.run(["runuser", "-u", user, "--", str(KIOSK), "--version"], capture_output=True).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="checking as another user needs root (runuser), as setup-pi.sh has")
@pytest.mark.skipif(not shutil.which("openssl") or not shutil.which("runuser"), reason="needs openssl and runuser")
def test_the_config_is_checked_as_the_kiosk_user_who_must_read_the_ca_file():
    if not runs_as("nobody"):
        pytest.skip(f"user 'nobody' cannot run {KIOSK} (its Python is in a directory only root may enter): set NABIZ_TEST_KIOSK_COMMAND")
    base = Path(tempfile.mkdtemp(prefix="nabiz-setup-"))  # not under pytest's 0700 tmp: 'nobody' must reach it
    try:
        base.chmod(0o755)
        ca = base / "ca.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Nabiz test CA", "-keyout", str(base / "ca.key"), "-out", str(ca)],
            check=True, capture_output=True,
        )
        ca.chmod(0o600)  # root's only: what a careless `cp` leaves behind
        new = base / "new.toml"
        new.write_text(f'device_id = "k1"\n[fleet]\nbroker = "mqtts://fleet.example.com"\nca_file = "{ca}"\n')
        new.chmod(0o644)
        etc = base / "etc"
        result = install(new, etc / "kiosk.toml", user="nobody")
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"fleet.ca_file {ca} is not readable by the kiosk's user" in result.stderr and "as user nobody" in result.stderr
        assert not (etc / "kiosk.toml").exists()
        ca.chmod(0o644)
        result = install(new, etc / "kiosk.toml", user="nobody")
        assert result.returncode == 0, result.stdout + result.stderr
        installed = (etc / "kiosk.toml").stat()
        assert stat.S_IMODE(installed.st_mode) == 0o640 and installed.st_uid == 0
        assert installed.st_gid == pwd.getpwnam("nobody").pw_gid, "readable by the kiosk's group"
    finally:
        shutil.rmtree(base)
