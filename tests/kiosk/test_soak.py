"""Soak: a long scripted day through a real kiosk process; every response stored once, memory flat."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from tests.kiosk.test_faults import fast_survey

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
RESPONSES = 3000


def test_three_thousand_customers(tmp_path):
    survey = fast_survey(tmp_path)
    data = tmp_path / "data"
    # Happy (2 answers), unhappy (3 answers) and a stray button, in turn; a screenshot midway.
    day = []
    for i in range(RESPONSES):
        day.append(["3", "4"] if i % 3 else ["1", "2", "3", "1"])  # "3" on "recommend" is a stray press
        if i == RESPONSES // 2:
            day.append([f"screenshot {tmp_path / 'midday.png'}"])
    script = "\n".join(line for chunk in day for line in chunk) + "\n"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run", "--headless", "--panel", "stdin", "--survey", str(survey), "--data-dir", str(data), "--log-format", "json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "SDL_VIDEODRIVER": "dummy"}, cwd=ROOT,
    )
    process = psutil.Process(proc.pid)

    def feed():
        proc.stdin.write(script)  # blocks while the pipe is full: the kiosk sets the pace
        proc.stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    rss = []
    saved = 0
    for line in proc.stdout:
        if json.loads(line)["msg"] == "response saved":
            saved += 1
            if saved % 300 == 0:
                rss.append(process.memory_info().rss)
    writer.join(10)
    assert proc.wait(60) == 0
    assert saved == RESPONSES
    rows = subprocess.run([sys.executable, "-m", "kiosk", "responses", "--data-dir", str(data)], capture_output=True, text=True, cwd=ROOT).stdout.splitlines()
    rows = [json.loads(r) for r in rows]
    assert len(rows) == RESPONSES == len({r["uuid"] for r in rows})
    assert all(r["status"] == "completed" for r in rows)
    assert sum(r["negative"] for r in rows) == RESPONSES // 3
    assert rows[0]["presses"] == [1, 2, 3, 1] and rows[1]["presses"] == [3, 4]
    assert (tmp_path / "midday.png").exists()
    growth = (rss[-1] - rss[1]) / 1024 / 1024
    assert growth < 5, f"RSS grew {growth:.1f} MB over the day: a leak"
