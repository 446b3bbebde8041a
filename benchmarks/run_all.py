"""Run every benchmark (``make bench``); extra arguments go to each, e.g. ``--quick``."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_kiosk.py"]

if __name__ == "__main__":
    status = 0
    for name in BENCHMARKS:
        status |= subprocess.call([sys.executable, str(HERE / name), *sys.argv[1:]])
    sys.exit(status)
