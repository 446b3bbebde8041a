"""One customer, one response: the scenario table (``make bench``).

The scripted people of tests/scenarios.py, through the real flow with the default survey's
thresholds, counted by outcome:

    two customers   a first one walks away at each question; a second one starts GAP s after
                    the first one's last press. merged: one unflagged row holds both;
                    flagged: that row is marked suspect (or misuse); split: no row holds both.
                    Bar: from 6 s on, merged = 0.
    slow reader     one person taking PACE s per question. merged: one row, unflagged;
                    flagged: one row, suspect; split: more than one row. Bar: split = 0.
    child burst     15 presses 0.1 s apart, on one button or mixed, during each screen; then
                    slower children on every screen. merged: a row with the child's presses
                    stored as answers (or negative, or completed); flagged: misuse rows only.
                    Bar: merged = 0 while burst_presses fit in burst_window_seconds.

These are counts, not timings: the same on every machine. The flow's own cost per event is
printed too (it is pure; the press → frame bar is in bench_kiosk.py). Exits 0 whether or not
a bar is met (read the table); non-zero only if a scenario could not run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import table  # noqa: E402  (benchmarks/table.py, beside this script)

from kiosk import flow  # noqa: E402
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, Survey, load_survey  # noqa: E402
from tests import scenarios  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "scenarios.json"
TABLE_GAPS = (3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0)
NO_MERGE_FROM = 6.0  # the bar: from this gap on, never one unflagged merged response
CHILD_PACES = (0.3, 0.5, 0.65, 0.8)


@dataclass
class Line:
    scenario: str
    setting: str
    runs: int
    merged: int
    flagged: int
    split: int
    bar: str  # what must hold; "" where the row is only reported
    notes: str = ""

    @property
    def met(self) -> bool:
        if self.bar == "merged = 0":
            return self.merged == 0
        if self.bar == "split = 0":
            return self.split == 0
        return True


def two_customer_lines(survey: Survey) -> list[Line]:
    lines = []
    for gap in TABLE_GAPS:
        counts = {"merged": 0, "flagged": 0, "split": 0}
        for walk_away in scenarios.WALK_AWAYS.values():
            for second in scenarios.SECOND_CUSTOMERS.values():
                played = scenarios.two_customers(survey, walk_away, second, gap)
                _check_traced(played)
                counts[scenarios.two_customer_outcome(played)] += 1
        bar = "merged = 0" if gap >= NO_MERGE_FROM else ""
        note = "cannot tell a newcomer from a reader" if counts["merged"] else ""
        lines.append(Line("two customers", f"gap {gap:g} s", sum(counts.values()), **counts, bar=bar, notes=note))
    return lines


def slow_reader_lines(survey: Survey) -> list[Line]:
    lines = []
    for pace in scenarios.READER_PACES:
        counts = {"merged": 0, "flagged": 0, "split": 0}
        negatives_lost = 0
        for path in scenarios.READER_PATHS.values():
            played = scenarios.slow_reader(survey, path, pace)
            _check_traced(played)
            if len(played.rows) > 1:
                counts["split"] += 1
            elif played.rows[0].suspect:
                counts["flagged"] += 1
                negatives_lost += any(a.negative for a in played.rows[0].answers)
            else:
                counts["merged"] += 1
        note = f"{negatives_lost} with negative answers not escalated (suspect)" if negatives_lost else ""
        lines.append(Line("slow reader", f"{pace:g} s/question", sum(counts.values()), **counts, bar="split = 0", notes=note))
    return lines


def burst_lines(survey: Survey) -> list[Line]:
    lines = []
    for where, before in scenarios.BURST_AT.items():
        lines.append(_burst_line(survey, f"during {where}", [before], scenarios.BURST_INTERVAL, bar="merged = 0"))
    # Slower children, on every screen: caught while burst_presses fit in burst_window_seconds.
    fits = survey.burst_window_seconds / (survey.burst_presses - 1)
    for interval in CHILD_PACES:
        bar = "merged = 0" if interval < fits else ""
        lines.append(_burst_line(survey, f"{interval:g} s apart, every screen", list(scenarios.BURST_AT.values()), interval, bar))
    return lines


def _burst_line(survey: Survey, setting: str, screens: list[tuple[int, ...]], interval: float, bar: str) -> Line:
    counts = {"merged": 0, "flagged": 0, "split": 0}
    for before in screens:
        for mashed in scenarios.BURST_BUTTONS.values():
            played = scenarios.child_burst(survey, before, mashed, interval)
            _check_traced(played)
            counts[scenarios.child_outcome(played)] += 1
    note = "as slow as a brisk person: not told apart" if counts["merged"] else ""
    return Line("child burst", setting, sum(counts.values()), **counts, bar=bar, notes=note)


def _check_traced(played: scenarios.Played) -> None:
    if played.lost or played.unexplained:
        raise RuntimeError(f"a press is in no row or in the wrong one: lost {played.lost}, unexplained {played.unexplained}")


def flow_cost(survey: Survey, rounds: int) -> dict[str, float]:
    """Microseconds per flow.step over a busy scripted day (bursts included)."""
    from tests.dummy_clock import FakeClock

    clock = FakeClock()
    state, _ = flow.start(survey, clock.now())
    day = [(0.1 if i % 40 < 15 else 1.1, 1 + i % 4) for i in range(rounds)]
    samples = []
    for gap, button in day:
        event = flow.Pressed(button, clock.advance(gap))
        start = time.perf_counter_ns()
        state, _ = flow.step(state, event)
        samples.append(time.perf_counter_ns() - start)
    ordered = sorted(samples)
    return {"n": len(samples), "p50_us": ordered[len(ordered) // 2] / 1000, "p99_us": ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] / 1000}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="accepted for make bench; the table is the same (it is counts)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results file (default {DEFAULT_OUT.relative_to(ROOT)})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    survey = load_survey(DEFAULT_SURVEY_PATH)
    lines = two_customer_lines(survey) + slow_reader_lines(survey) + burst_lines(survey)
    cost = flow_cost(survey, 2000 if args.quick else 20000)
    header = (
        f"Nabız scenarios, default survey: idle {survey.idle_timeout_seconds:g} s (countdown {survey.countdown_seconds:g}), "
        f"pause {survey.pause_seconds:g} s, read {survey.read_seconds:g} s, burst {survey.burst_presses} presses in {survey.burst_window_seconds:g} s, "
        f"handover {survey.handover_seconds:g} s"
    )
    cells = [(ln.scenario, ln.setting, str(ln.runs), str(ln.merged), str(ln.flagged), str(ln.split), ln.bar, ("PASS" if ln.met else "FAIL") if ln.bar else "", ln.notes) for ln in lines]
    judged = [ln for ln in lines if ln.bar]
    missed = [f"{ln.scenario} {ln.setting}" for ln in judged if not ln.met]
    table.print_table(header, ("scenario", "setting", "runs", "merged", "flagged", "split", "bar", "verdict", "notes"), cells, {0, 1, 6, 7}, missed, len(judged))
    print(f"flow.step: p50 {cost['p50_us']:.1f} µs, p99 {cost['p99_us']:.1f} µs per event over {cost['n']} presses (pure; no I/O)")
    results: dict[str, Any] = {"lines": [{**ln.__dict__, "met": ln.met} for ln in lines], "flow_step": cost}
    table.save_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
