"""Run every benchmark (``make bench``); extra arguments go to each, e.g. ``--quick``.

Each benchmark runs in its own interpreter so one's pygame display, SQLite handles and
threads cannot colour another's numbers. A missed bar still exits 0 (read the tables);
a benchmark that crashes makes this exit non-zero.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "bench_kiosk.py",
    "bench_scenarios.py",
    "bench_fleet.py",
    "bench_escalation.py",
    "bench_web.py",
    "bench_return_path.py",
    "bench_survey_verify.py",
    "bench_survey_push.py",
)


def main(argv: list[str]) -> int:
    crashed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.call([sys.executable, str(HERE / name), *argv]) != 0:
            crashed.append(name)
    if crashed:
        print(f"benchmarks that did not run to the end: {', '.join(crashed)}", file=sys.stderr)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
