"""The kiosk command as a technician runs it: real processes, real files, exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.survey import DEFAULT_SURVEY_PATH

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
