"""Print the escalation's delivery log: every attempt to notify someone, per alert, oldest first.

    python scripts/delivery_log.py [--data-dir DIR]   (default: $NABIZ_FLEET_DATA, as every `fleet` command)

`make demo` prints it in its summary. One line per attempt: when it started, the alert, the
notification and its idempotency key, the contact and target (apprise's privacy form), the
attempt's number, its outcome (delivered | failed | timeout), how long it took and what the
receiving side said. Read-only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.escalation import alerts, notifier  # noqa: E402
from fleet.settings import Override, load  # noqa: E402
from fleet.store import close_database, open_database  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="the fleet's data directory (default: $NABIZ_FLEET_DATA)")
    args = parser.parse_args(argv)
    overrides = [Override("store", "data_dir", args.data_dir, "--data-dir")] if args.data_dir else []
    config = load(None, overrides)
    open_database(config.db_url)
    try:
        count = 0
        for alert in reversed(alerts.list_alerts(limit=100_000)):
            for attempt in notifier.deliveries(alert.id):
                count += 1
                started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(attempt["started_at"]))
                took = (attempt["finished_at"] - attempt["started_at"]) * 1000
                print(
                    f"{started}  alert {alert.id}  notification {attempt['notification']} [{attempt['key']}]  {attempt['contact']} {attempt['target']}"
                    f"  attempt {attempt['attempt']}: {attempt['outcome']} in {took:.0f} ms ({attempt['detail']})"
                )
        print(f"{count} attempt(s)")
    finally:
        close_database()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
