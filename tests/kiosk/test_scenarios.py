"""One customer, one response: scripted people through the real flow (and once through the
real kiosk process), on the default survey and its default thresholds.

The same scripts print the gap → outcome table in ``make bench`` (benchmarks/bench_scenarios.py).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import scenarios
from tests.scenarios import BURST_AT, BURST_BUTTONS, GAPS, READER_PACES, READER_PATHS, SECOND_CUSTOMERS, WALK_AWAYS

ROOT = Path(__file__).resolve().parents[2]


def every_press_in_one_row(played):
    assert played.lost == [] and played.unexplained == 0


@pytest.mark.parametrize("gap", GAPS)
@pytest.mark.parametrize("second", SECOND_CUSTOMERS)
@pytest.mark.parametrize("walk_away", WALK_AWAYS)
def test_a_customer_who_walks_away_is_not_merged_with_the_next_one(survey, walk_away, second, gap):
    played = scenarios.two_customers(survey, WALK_AWAYS[walk_away], SECOND_CUSTOMERS[second], gap)
    every_press_in_one_row(played)
    outcome = scenarios.two_customer_outcome(played)
    if gap >= survey.idle_timeout_seconds:
        # Split: the first customer's answers alone, abandoned; the second one's own response.
        assert outcome == "split"
        (first, _), (second_row, _) = played.rows_with("first")[0], played.rows_with("second")[0]
        assert first.status == "abandoned" and first.end_reason == "idle" and len(first.answers) == len(WALK_AWAYS[walk_away])
        assert second_row.answers[0].question == survey.first.id and not second_row.suspect
    elif gap >= survey.pause_seconds:
        # Kept whole (a slow reader looks the same) but flagged: never negative, neutral thank-you.
        assert outcome == "flagged"
        (merged,) = played.mixed("first", "second")
        assert merged.suspect and not merged.negative
    else:
        # 3 s: nobody can tell a newcomer from a reader who took 3 s; the documented limit.
        assert outcome == "merged"


def test_the_issues_case_a_happy_second_customer_is_no_longer_told_we_are_sorry(survey):
    from kiosk import flow
    from tests.dummy_clock import FakeClock

    clock = FakeClock()
    state, _ = flow.start(survey, clock.now())
    state, _ = flow.step(state, flow.Pressed(1, clock.now()))  # very unhappy; walks away at "what went wrong?"
    state, _ = flow.step(state, flow.Pressed(4, clock.advance(6)))  # 6 s later: "very happy" (price)
    state, _ = flow.step(state, flow.Pressed(4, clock.advance(1.5)))  # and again (yes)
    assert isinstance(state.phase, flow.ThankYou) and not state.phase.negative


@pytest.mark.parametrize("pace", READER_PACES + ((4.0, 8.0), (8.0, 4.0), (8.0, 8.0)))
@pytest.mark.parametrize("path", READER_PATHS)
def test_a_slow_reader_is_never_split(survey, path, pace):
    buttons = READER_PATHS[path]
    played = scenarios.slow_reader(survey, buttons, pace)
    every_press_in_one_row(played)
    (row,) = played.rows
    assert row.status == "completed" and len(row.answers) == len(buttons)
    gaps = pace[: len(buttons) - 1] if isinstance(pace, tuple) else (pace,)
    slowest = max(gaps)
    assert row.suspect == (slowest >= survey.pause_seconds)


@pytest.mark.parametrize("buttons", BURST_BUTTONS)
@pytest.mark.parametrize("where", BURST_AT)
def test_a_childs_burst_is_flagged_never_negative_never_completed(survey, where, buttons):
    played = scenarios.child_burst(survey, BURST_AT[where], BURST_BUTTONS[buttons])
    every_press_in_one_row(played)
    assert scenarios.child_outcome(played) == "flagged"
    rows = played.rows_with("child")
    assert rows
    for row, _ in rows:
        assert row.misuse and not row.negative and row.status != "completed" and row.answers == ()
    if where != "thank-you":
        # The response the child took over is one misuse row with every press in it, timed.
        ((row, owners),) = rows
        assert row.end_reason == "burst" and owners.count("child") == scenarios.BURST_PRESSES
        assert list(row.press_ms) == sorted(row.press_ms)
    else:
        # The customer before was done: their response stays as it was, the child's presses are misuse.
        (completed,) = [(row, owners) for row, owners in zip(played.rows, played.owners) if row.status == "completed"]
        assert set(completed[1]) == {"lead"} and len(completed[0].answers) == 2


# --- the same, through the real kiosk process: stdin panel, main loop, SQLite outbox ------------


@pytest.mark.slow
def test_the_kiosk_process_keeps_customers_apart_and_flags_a_burst(tmp_path):
    """Timings are the default survey's, scaled down (same rules) so the real-time script stays short."""
    survey = tmp_path / "scaled.toml"
    survey.write_text(scenarios.survey_text(idle_timeout_seconds=5, countdown_seconds=2, pause_seconds=2.5, thank_you_seconds=1.5, handover_seconds=0.5), encoding="utf-8")
    script = "\n".join(
        [
            "1", "wait 3", "4", "wait 1", "4",  # walks away at the follow-up; another customer 3 s later (> pause)
            "wait 2",  # thank-you over
            "3", "wait 6", "4", "wait 1", "4",  # walks away at "recommend"; the next one 6 s later (> idle)
            "wait 2",
            *[line for _ in range(15) for line in ("2", "wait 0.1")],  # a child
            "wait 3",
        ]
    ) + "\n"
    data = tmp_path / "data"
    environment = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    run = [sys.executable, "-m", "kiosk", "run", "--headless", "--panel", "stdin", "--data-dir", str(data), "--device-id", "scenario", "--survey", str(survey)]
    result = subprocess.run(run, input=script, capture_output=True, text=True, timeout=120, env=environment, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = subprocess.run([sys.executable, "-m", "kiosk", "responses", "--data-dir", str(data)], capture_output=True, text=True, timeout=60, env=environment, cwd=ROOT, check=False)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    merged, first, second, child = rows
    assert merged["presses"] == [1, 4, 4] and merged["suspect"] and not merged["negative"] and merged["status"] == "completed"
    assert 2500 <= merged["press_ms"][1] < 5000 and merged["press_ms"][2] - merged["press_ms"][1] >= 900
    assert (first["presses"], first["status"], first["end_reason"]) == ([3], "abandoned", "idle")
    assert (second["presses"], second["status"], second["suspect"]) == ([4, 4], "completed", False)
    assert child["misuse"] and child["end_reason"] == "burst" and child["presses"] == [2] * 15 and not child["negative"]
    assert len(child["press_ms"]) == 15 and child["press_ms"][-1] < 3000


def test_the_thank_you_screen_is_announced_once_per_response_after_its_save(profile, survey, clock, tmp_path, caplog):
    """The log line the fault tests count: once per response, although the thank-you view
    changes (a "not an option" cue, the handover), and never before the response is saved."""
    import logging

    from hardware.panel import ButtonPress
    from hardware.scripted import ScriptedPanel
    from kiosk import flow
    from kiosk.app import Kiosk, Stamped
    from kiosk.outbox import Outbox
    from kiosk.screen import Screen

    screen = Screen(profile, (800, 480), "headless")
    outbox = Outbox("kiosk-1", "boot").open(tmp_path)
    try:
        kiosk = Kiosk(survey, screen, ScriptedPanel(profile, []), outbox, clock, tmp_path)
        caplog.set_level(logging.INFO, logger="kiosk.app")
        for button in (3, 4):
            kiosk.handle(Stamped(ButtonPress(button), clock.advance(1)))
        assert not [r for r in caplog.records if r.msg == "thank-you shown"]
        # On the card since the last answer, held (not sent) for its moment: a burst may still follow.
        assert [row["status"] for row in outbox.responses()] == ["completed"] and outbox.pending(0, 10) == []
        clock.advance(flow.last_answer_hold(survey))
        kiosk.tick()
        kiosk.handle(Stamped(ButtonPress(2), clock.advance(0.2)))  # misuse: a cue on the thank-you screen
        clock.advance(survey.handover_seconds)
        kiosk.tick()  # the handover: the next customer may start
        shown = [r for r in caplog.records if r.msg == "thank-you shown"]
        completed = [row["uuid"] for row in outbox.responses() if row["status"] == "completed"]
        assert [r.uuid for r in shown] == completed and len(completed) == 1
    finally:
        outbox.close()
        screen.close()
