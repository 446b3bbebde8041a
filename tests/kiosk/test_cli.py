"""The kiosk command as a technician runs it: real processes, real files, exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.contract.survey import DEFAULT_SURVEY_PATH

ROOT = Path(__file__).resolve().parents[2]


def kiosk(*args, stdin="", env=None, timeout=60):
    environment = {**os.environ, "SDL_VIDEODRIVER": "dummy", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=environment, cwd=ROOT
    )


def run_script(data_dir, script, *extra):
    return kiosk("run", "--headless", "--panel", "stdin", "--data-dir", str(data_dir), "--device-id", "test-kiosk", *extra, stdin=script)


def responses(data_dir, *extra):
    result = kiosk("responses", "--data-dir", str(data_dir), *extra)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_validate_a_good_survey():
    result = kiosk("validate", str(DEFAULT_SURVEY_PATH), "--profile", "arcade-4")
    assert result.returncode == 0
    assert "ok:" in result.stdout and "what-went-wrong  (follow-up): choice" in result.stdout
    assert "legible on pi-7in" in result.stdout and "warning" not in result.stderr


def test_validate_warns_about_words_too_small_to_read_and_names_them(tmp_path):
    wordy = tmp_path / "wordy.toml"
    wordy.write_text(DEFAULT_SURVEY_PATH.read_text().replace('label.en = "Bad"', 'label.en = "Rather disappointing"').replace('text.tr = "Ne ters gitti?"', 'text.tr = "Bugün ziyaretiniz sırasında ne ters gitti, lütfen söyleyin?"'))
    result = kiosk("validate", str(wordy), "--profile", "arcade-4", "--display", "pi-7in", "--display", "22in-1920x1080")
    assert result.returncode == 0, "too small is a warning, not an error"
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr
    question, label = sorted(warnings, key=lambda w: "label" in w)
    assert 'question-what-went-wrong-tr: question "Bugün ziyaretiniz sırasında ne ters gitti, lütfen söyleyin?"' in question and "pi-7in needs at least 48 px" in question
    assert 'attract-en: label "Rather disappointing"' in label and "pi-7in needs at least 30 px" in label
    assert result.stderr.count("fix: shorten it to about") == 2
    assert "legible on 22in-1920x1080" in result.stdout  # the same words are large enough on a bigger panel


def test_validate_display_needs_a_profile():
    result = kiosk("validate", str(DEFAULT_SURVEY_PATH), "--display", "pi-7in")
    assert result.returncode == 2 and "--display needs --profile" in result.stderr


def test_validate_a_broken_survey_names_file_place_and_fix(tmp_path):
    broken = tmp_path / "anket.toml"
    broken.write_text(DEFAULT_SURVEY_PATH.read_text().replace('next = "what-went-wrong"', 'next = "ne-oldu"', 1))
    result = kiosk("validate", str(broken))
    assert result.returncode == 2
    assert f"{broken}: " in result.stderr
    assert 'questions[1] "satisfaction" → options "very-unhappy" → next' in result.stderr
    assert 'no question has the id "ne-oldu"' in result.stderr and "fix:" in result.stderr


def test_validate_against_a_panel_with_too_few_buttons(tmp_path):
    duo = tmp_path / "duo.toml"
    duo.write_text('name = "duo"\n[[buttons]]\nnumber = 1\npin = 5\ncolour = "#ff0000"\n[[buttons]]\nnumber = 2\npin = 6\ncolour = "#00ff00"\n')
    result = kiosk("validate", str(DEFAULT_SURVEY_PATH), "--profile", str(duo))
    assert result.returncode == 2 and "has buttons 1, 2" in result.stderr


def test_a_scripted_session_is_buffered_and_printed_as_json_lines(tmp_path):
    data = tmp_path / "data"
    result = run_script(data, "3\nwait 1\n4\nwait 1\n1\n1\n")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = responses(data)
    assert [(r["status"], r["misuse"]) for r in rows] == [("completed", False), ("abandoned", True), ("abandoned", True)]
    assert rows[0]["device_id"] == "test-kiosk" and [a["option"] for a in rows[0]["answers"]] == ["happy", "yes"]
    assert len(responses(data, "--limit", "1")) == 1
    health = json.loads(kiosk("health", "--data-dir", str(data)).stdout)
    assert health["unsent"] == 3 and health["storage_ok"] is True


def test_end_of_input_mid_survey_saves_it_as_abandoned(tmp_path):
    data = tmp_path / "data"
    assert run_script(data, "1\nwait 1\n2\n").returncode == 0
    (row,) = responses(data)
    assert row["status"] == "abandoned" and row["end_reason"] == "shutdown" and len(row["answers"]) == 2


def test_an_unknown_button_in_a_script_stops_with_status_2_and_writes_nothing_for_it(tmp_path):
    data = tmp_path / "data"
    result = run_script(data, "3\nwait 1\n4\nwait 0.1\nwait 5\n7\n")
    assert result.returncode == 2
    assert "line 6: button 7 is not on panel 'arcade-4'" in result.stdout
    rows = responses(data)
    assert len(rows) == 1 and rows[0]["status"] == "completed"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--survey", "{broken}"], "not valid TOML"),
        (["--survey", "{missing}"], "file not found"),
        (["--profile", "arcade-9"], "no pin profile named 'arcade-9'"),
        (["--profile", "{duo}"], "uses button 3, 4"),
        (["--size", "big"], "is not WIDTHxHEIGHT"),
        (["--config", "{config}"], "screen: Object contains unknown field colour"),
        (["--config", "{fontconfig}"], "font file /yok/font.ttf not found"),
    ],
)
def test_bad_input_exits_2_before_anything_is_written(tmp_path, args, message):
    files = {
        "broken": tmp_path / "broken.toml",
        "missing": tmp_path / "missing.toml",
        "duo": tmp_path / "duo.toml",
        "config": tmp_path / "kiosk.toml",
        "fontconfig": tmp_path / "font.toml",
    }
    files["fontconfig"].write_text('[screen]\nfont = "/yok/font.ttf"\n')
    files["broken"].write_text('id = "x"\nversion = [\n')
    files["duo"].write_text('name = "duo"\n[[buttons]]\nnumber = 1\npin = 5\ncolour = "#ff0000"\n[[buttons]]\nnumber = 2\npin = 6\ncolour = "#00ff00"\n')
    files["config"].write_text('device_id = "x"\n[screen]\ncolour = "red"\n')
    data = tmp_path / "data"
    result = run_script(data, "1\n", *[a.format(**files) for a in args])
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "fix:" in result.stderr
    assert not data.exists(), "nothing written"


def test_keyboard_panel_without_a_window_is_refused(tmp_path):
    result = kiosk("run", "--headless", "--panel", "keyboard", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2 and "--panel stdin" in result.stderr


def test_gpio_panel_off_a_pi_explains_itself(tmp_path):
    result = kiosk("run", "--headless", "--panel", "gpio", "--data-dir", str(tmp_path / "d"), env={"GPIOZERO_PIN_FACTORY": "lgpio"})
    assert result.returncode == 2
    assert "fix:" in result.stderr and "--panel keyboard or --panel stdin" in result.stderr


def test_responses_without_an_outbox(tmp_path):
    result = kiosk("responses", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "no outbox" in result.stderr


def test_screenshot_command(tmp_path):
    result = kiosk("screenshot", "--size", "800x480", "--out", str(tmp_path))
    assert result.returncode == 0
    assert (tmp_path / "800x480" / "attract-tr.png").exists() and (tmp_path / "800x480" / "thank-you-negative-en.png").exists()


def test_profiles_command_lists_pins():
    result = kiosk("profiles")
    assert "arcade-4" in result.stdout and "1:GPIO5/LED GPIO12" in result.stdout


@pytest.mark.parametrize(
    "toml, expected",
    [
        ('device_id = "k1"\n[fleet]\nbroker = "http://fleet.example.com"\n', ["fleet.broker", "mqtts://"]),
        ('device_id = "Kiosk 1"\n[fleet]\nbroker = "mqtt://fleet.example.com"\n', ["lowercase", "fleet device add"]),
        ('device_id = "k1"\n[fleet]\nbroker = "mqtt://fleet.example.com"\nbatch_size = 5000\n', ["batch_size"]),
    ],
)
def test_a_bad_fleet_section_is_explained_before_anything_opens(tmp_path, toml, expected):
    config = tmp_path / "kiosk.toml"
    config.write_text(toml)
    result = kiosk("run", "--config", str(config), "--headless", "--panel", "stdin", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2 and all(text in result.stderr for text in expected), result.stderr
    assert not (tmp_path / "d").exists(), "nothing was written"


def test_a_missing_ca_file_keeps_the_kiosk_taking_answers_without_sync(tmp_path):
    """Offline is normal: a deleted CA file must not take the survey off the screen."""
    config = tmp_path / "kiosk.toml"
    config.write_text('device_id = "k1"\n[fleet]\nbroker = "mqtts://127.0.0.1:1"\nca_file = "/nonexistent/ca.pem"\n')
    result = kiosk("run", "--config", str(config), "--headless", "--panel", "stdin", "--data-dir", str(tmp_path / "d"), stdin="3\n4\nwait 0.2\n")
    assert result.returncode == 0, result.stderr
    assert "fleet sync is OFF" in result.stdout and "/nonexistent/ca.pem" in result.stdout
    assert len(responses(tmp_path / "d", "--unsent")) == 1


# --- the technician's wiring check: presses prove the wiring and are never recorded (issue 7, defect 8) ---


def first_pixel(png: Path) -> tuple[int, int, int]:
    import pygame

    return tuple(pygame.image.load(str(png)).get_at((4, 4)))[:3]


def test_wiring_check_presses_are_never_recorded_and_the_next_kiosk_run_is_unaffected(tmp_path):
    data = tmp_path / "data"
    shot = tmp_path / "test-mode.png"
    result = kiosk("wiring-check", "--headless", "--panel", "stdin", "--data-dir", str(data), stdin=f"1\n2\n3\n4\nlang\n3\nscreenshot {shot}\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TEST MODE" in result.stdout and "nothing is recorded" in result.stdout
    assert "button 3 on GPIO13 (header pin 33), LED GPIO20 (header pin 38): 2 presses" in result.stdout
    assert "language button on GPIO17 (header pin 11): 1 press" in result.stdout
    assert not (data / "outbox.sqlite3").exists(), "the wiring check never opens the outbox"
    assert "no outbox" in kiosk("responses", "--data-dir", str(data)).stderr
    from kiosk.technician_screen import HAZARD

    assert first_pixel(shot) == HAZARD, "the test screen is marked as such from its edge"
    # The service's normal run on the same data directory records real answers, and only those.
    assert run_script(data, "3\nwait 1\n4\nwait 1\n").returncode == 0
    (row,) = responses(data)
    assert [a["option"] for a in row["answers"]] == ["happy", "yes"] and row["presses"] == [3, 4]


def test_wiring_check_names_the_buttons_never_pressed(tmp_path):
    result = kiosk("wiring-check", "--headless", "--panel", "stdin", "--data-dir", str(tmp_path / "d"), stdin="1\n2\n")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "button 3 on GPIO13 (header pin 33), LED GPIO20 (header pin 38): never pressed" in result.stdout
    assert "fix:" in result.stdout and "docs/hardware.md" in result.stdout


def test_a_dropped_ssh_session_ends_the_wiring_check_cleanly_with_its_summary(tmp_path):
    import signal

    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    check = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "wiring-check", "--headless", "--panel", "stdin", "--data-dir", str(tmp_path / "d"), "--log-format", "json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    try:
        check.stdin.write("2\n")
        check.stdin.flush()
        assert any("wiring check press" in line for line in check.stdout)
        check.send_signal(signal.SIGHUP)
        assert check.wait(20) == 1, "a button was never pressed"
    finally:
        if check.poll() is None:
            check.kill()
    summary = check.stdout.read()
    assert "button 2 on GPIO6 (header pin 31), LED GPIO16 (header pin 36): 1 press" in summary and "never pressed" in summary


def test_the_wiring_check_the_docs_and_setup_script_give_records_nothing(tmp_path):
    """The command technicians are told to run exists, and runs in the mode that records nothing."""
    import re
    import shlex

    commands = set()
    for source in (ROOT / "hardware" / "setup-pi.sh", ROOT / "docs" / "hardware.md"):
        found = re.findall(r"kiosk wiring-check[^;\n`]*", source.read_text(encoding="utf-8"))
        assert found, f"{source.name} does not tell the technician to use `kiosk wiring-check`"
        commands.update(c.strip() for c in found)
    assert "each answers" not in (ROOT / "hardware" / "setup-pi.sh").read_text(), "setup-pi.sh still has presses answer the live survey"
    for command in sorted(commands):
        args = shlex.split(command)[1:]
        data = tmp_path / str(len(args))
        result = kiosk(*args, "--headless", "--panel", "stdin", "--data-dir", str(data), stdin="1\n2\n3\n4\n")
        assert result.returncode == 0, command + "\n" + result.stdout + result.stderr
        assert not (data / "outbox.sqlite3").exists()


def read_until(process, message):
    """Read the process's JSON log until *message*; False if it ended first."""
    return any(json.loads(line)["msg"] == message for line in process.stdout)


def start_kiosk(data_dir, *extra):
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run", "--headless", "--panel", "stdin", "--data-dir", str(data_dir), "--log-format", "json", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    assert read_until(process, "kiosk running"), f"the kiosk did not start: {process.stderr.read()}"
    return process


def test_a_second_kiosk_on_the_same_data_dir_is_refused_with_who_holds_it(tmp_path):
    """A technician's manual run beside the service must not record into the same outbox."""
    data = tmp_path / "data"
    service = start_kiosk(data)
    try:
        second = run_script(data, "1\n2\n")
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"another kiosk is already running on {data} (pid {service.pid}, kiosk run)" in second.stderr
        assert "fix:" in second.stderr and "systemctl stop nabiz-kiosk" in second.stderr
        check = kiosk("wiring-check", "--headless", "--panel", "stdin", "--data-dir", str(data), stdin="1\n")
        assert check.returncode == 2 and f"pid {service.pid}" in check.stderr
        # Not even a window opens for the error: the other kiosk has the display.
        windowed = kiosk("run", "--window", "--error-hold", "30", "--data-dir", str(data), timeout=20)
        assert windowed.returncode == 2 and "another kiosk is already running" in windowed.stderr
        service.stdin.write("3\nwait 1\n4\nwait 1\n")
        service.stdin.close()
        assert service.wait(20) == 0
    finally:
        if service.poll() is None:
            service.kill()
    (row,) = responses(data)
    assert row["presses"] == [3, 4], "only the first kiosk's presses were recorded"
    assert run_script(data, "3\n4\n").returncode == 0, "the lock goes with the process that held it"


# --- a kiosk that cannot start says why on its screen, not only in the journal (issue 7, defect 12) ---


def notify_socket(tmp_path):
    """The datagram socket systemd gives a Type=notify service."""
    import socket

    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(tmp_path / "notify.sock"))
    server.settimeout(20)
    return server


def test_a_kiosk_that_cannot_start_shows_why_on_screen_until_stopped_and_exits_2(tmp_path):
    import signal

    config = tmp_path / "kiosk.toml"
    config.write_text('device_id = "k1"\n[fleet]\nbroker = "http://fleet.example.com"\n')
    data = tmp_path / "data"
    server = notify_socket(tmp_path)
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "200000"}
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run", "--config", str(config), "--window", "--data-dir", str(data), "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    try:
        ready = server.recv(1000).decode()
        # systemd's start returns (no 90 s hang), and `systemctl status` shows the reason.
        assert ready.startswith("READY=1\nSTATUS=cannot start: ") and "fleet.broker" in ready, ready
        assert server.recv(100).decode() == "WATCHDOG=1", "the watchdog is fed while the error is shown"
        process.send_signal(signal.SIGUSR1)  # a technician's screenshot over SSH
        assert read_until(process, "screenshot saved")
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 2
    finally:
        if process.poll() is None:
            process.kill()
        server.close()
    stderr = process.stderr.read()
    assert "error: " in stderr and "is not mqtt://HOST[:PORT]" in stderr and "fix:" in stderr
    (shot,) = (data / "screenshots").glob("screen-*.png")
    from kiosk.technician_screen import ALARM

    assert first_pixel(shot) == ALARM
    assert not (data / "outbox.sqlite3").exists()


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--config", "{config}"], {}, "screen: Object contains unknown field colour"),
        (["--profile", "arcade-9"], {}, "no pin profile named 'arcade-9'"),
        (["--survey", "{broken}"], {}, "not valid TOML"),
        (["--panel", "gpio"], {"GPIOZERO_PIN_FACTORY": "lgpio"}, "no GPIO driver for the button 1 on GPIO5 (header pin 29)"),
    ],
    ids=["config", "profile", "survey", "pin"],
)
def test_each_reason_a_kiosk_cannot_start_is_shown_then_it_exits_2_by_itself(tmp_path, args, env, message):
    (tmp_path / "kiosk.toml").write_text('device_id = "x"\n[screen]\ncolour = "red"\n')
    (tmp_path / "broken.toml").write_text('id = "x"\nversion = [\n')
    files = {"config": tmp_path / "kiosk.toml", "broken": tmp_path / "broken.toml"}
    result = kiosk(
        "run", "--window", "--data-dir", str(tmp_path / "d"), "--log-format", "json", "--error-hold", "0.3", *[a.format(**files) for a in args], env=env
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "fix:" in result.stderr
    logged = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(e["msg"] == "kiosk cannot start" and message in e["error"] for e in logged), "the journal has it too"
    assert any(e["msg"] == "startup error shown" for e in logged)


def test_headless_or_error_hold_0_exits_at_once_and_shows_nothing(tmp_path):
    result = kiosk("run", "--window", "--error-hold", "0", "--profile", "arcade-9", "--data-dir", str(tmp_path / "d"), "--log-format", "json")
    assert result.returncode == 2 and "startup error shown" not in result.stdout
    result = kiosk("run", "--headless", "--profile", "arcade-9", "--data-dir", str(tmp_path / "d"), "--log-format", "json", timeout=20)
    assert result.returncode == 2 and "startup error shown" not in result.stdout
