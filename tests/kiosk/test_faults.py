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
