"""Fault test: the kiosk process is killed with SIGKILL in the middle of a stream of presses.

Every response whose thank-you screen was drawn must be in the outbox, exactly once, and
the database must stay consistent and keep working after the restart. (SIGKILL loses the
process, not the kernel's page cache; power loss is what synchronous=FULL is for, and
cannot be pulled here.)
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.outbox import DB_FILENAME
from tests import scenarios

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def fast_survey(tmp_path: Path) -> Path:
    """The default survey at machine speed: a press on thank-you starts the next response."""
    path = tmp_path / "fast.toml"
    path.write_text(scenarios.machine_speed_survey_text(), encoding="utf-8")
    return path


class KioskProcess:
    def __init__(self, data_dir: Path, survey: Path) -> None:
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "run", "--headless", "--panel", "stdin", "--survey", str(survey), "--data-dir", str(data_dir), "--log-format", "json"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
        )
        self.thanked: list[str] = []
        self.lines: list[str] = []
        self.running = threading.Event()
        self.thank_you = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("msg") == "kiosk running":
                self.running.set()
            if entry.get("msg") == "thank-you shown":
                with self.thank_you:
                    self.thanked.append(entry["uuid"])
                    self.thank_you.notify_all()

    def send(self, text: str) -> None:
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def wait_thanks(self, count: int, timeout: float = 30) -> bool:
        with self.thank_you:
            return self.thank_you.wait_for(lambda: len(self.thanked) >= count, timeout)


def stored(data_dir: Path) -> list[tuple]:
    conn = sqlite3.connect(data_dir / DB_FILENAME)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT uuid, status, answers, misuse FROM responses ORDER BY id").fetchall()
    finally:
        conn.close()


def test_sigkill_mid_stream_loses_no_thanked_response(tmp_path):
    rng = random.Random(20261123)
    survey = fast_survey(tmp_path)
    data = tmp_path / "data"
    all_thanked: list[str] = []
    for cycle in range(3):
        kiosk = KioskProcess(data, survey)
        assert kiosk.running.wait(30), "".join(kiosk.lines)
        target = rng.randint(15, 40)
        pressed = 0
        # Stream presses (2-3 per response, some partial) until enough thank-yous, then keep
        # pressing while the kill lands so it hits the middle of work, not an idle kiosk.
        while len(kiosk.thanked) < target:
            seen = len(kiosk.thanked)
            kiosk.send(rng.choice(["3\n4\n", "1\n2\n1\n", "4\n1\n", "2\n"]))
            kiosk.wait_thanks(seen + 1, timeout=0.3)  # paces the stream at the kiosk's speed
            pressed += 1
            assert pressed < 500, "".join(kiosk.lines[-20:])
        kiosk.send("3\n4\n1\n" * 20)
        kiosk.proc.send_signal(signal.SIGKILL)
        kiosk.proc.wait(10)
        kiosk.reader.join(10)
        assert kiosk.proc.returncode == -signal.SIGKILL
        all_thanked += kiosk.thanked

        rows = stored(data)
        uuids = [row[0] for row in rows]
        assert len(uuids) == len(set(uuids)), "no response stored twice"
        missing = set(all_thanked) - set(uuids)
        assert not missing, f"cycle {cycle}: {len(missing)} thanked responses lost"
        for _, status, answers, _ in rows:
            assert status in ("completed", "abandoned") and isinstance(json.loads(answers), list)

    # After three kills the kiosk still starts, works and appends.
    before = len(stored(data))
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "run", "--headless", "--panel", "stdin", "--survey", str(survey), "--data-dir", str(data)],
        input="3\n4\n", capture_output=True, text=True, timeout=60, env={**os.environ, "SDL_VIDEODRIVER": "dummy"}, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(stored(data)) == before + 1


def moment_survey(tmp_path: Path) -> Path:
    """The default survey without its offer of help, with a long last-answer moment (2.5 s), so a
    kill is sure to land inside it."""
    path = tmp_path / "moment.toml"
    text = scenarios.survey_text(feedback_seconds=1, read_seconds=1.5)
    start = text.index("[help_offer]")
    path.write_text(text[:start] + text[text.index("[[questions]]", start) :], encoding="utf-8")
    return path


def held_rows(data_dir: Path) -> list[tuple]:
    conn = sqlite3.connect(data_dir / DB_FILENAME)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT uuid, status, misuse, negative, presses, held FROM responses ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("after_the_last_answer", "expected"),
    [
        ("", ("completed", 0, [3, 4])),  # killed in the moment: the customer's answer is on the card
        ("4\n4\n", ("abandoned", 1, [3, 4, 4, 4])),  # a child's burst caught in it: never an answer, even now
    ],
)
def test_sigkill_during_the_last_answers_moment_loses_nothing_and_sends_it_once_at_the_next_start(tmp_path, after_the_last_answer, expected):
    survey = moment_survey(tmp_path)
    data = tmp_path / "data"
    kiosk = KioskProcess(data, survey)
    assert kiosk.running.wait(30), "".join(kiosk.lines)
    kiosk.send("3\nwait 2.6\n4\n" + after_the_last_answer)  # happy, then (read in time) "yes, I'd recommend"
    wanted = "response amended" if after_the_last_answer else "response saved"
    deadline = 30.0
    while not any(json.loads(line).get("msg") == wanted for line in list(kiosk.lines) if line.startswith("{")):
        assert deadline > 0 and kiosk.proc.poll() is None, "".join(kiosk.lines[-20:])
        threading.Event().wait(0.02)
        deadline -= 0.02
    kiosk.proc.send_signal(signal.SIGKILL)  # well inside the 2.5 s moment: no thank-you yet
    kiosk.proc.wait(10)
    kiosk.reader.join(10)
    assert kiosk.thanked == []
    ((uuid, status, misuse, negative, presses, held),) = held_rows(data)
    assert (status, misuse, json.loads(presses)) == expected and held == 2 and not negative, "on the card, held for its moment"

    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "run", "--headless", "--panel", "stdin", "--survey", str(survey), "--data-dir", str(data), "--log-format", "json"],
        input="quit\n", capture_output=True, text=True, timeout=60, env={**os.environ, "SDL_VIDEODRIVER": "dummy"}, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "responses held for their last answer's moment are sent as they are" in result.stdout
    ((again, status, misuse, _, presses, held),) = held_rows(data)
    assert again == uuid and (status, misuse, json.loads(presses)) == expected and held == 0, "released once, as it was"
