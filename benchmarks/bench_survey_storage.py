"""What a rollout costs the fleet's store (issue 10): ``python benchmarks/bench_survey_storage.py [--devices N] [--rollouts K]``.

Pushes the demo survey (``docs/surveys/demo-survey.toml``) K times to N registered devices on a
real SQLite store (and PostgreSQL when ``$NABIZ_TEST_POSTGRES`` or localhost answers), and measures
how much the store grew per device per rollout: SQLite's pages in use after a checkpoint,
PostgreSQL's ``pg_total_relation_size`` of the assignments table. The limit, measured in the same
run, is the size of the document itself: an assignment row that copies it can never be under it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import table

ROOT = Path(__file__).resolve().parent.parent
DEMO_SURVEY = ROOT / "docs" / "surveys" / "demo-survey.toml"


def sqlite_bytes(db) -> int:  # type: ignore[no-untyped-def]
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0] - db.execute_sql("PRAGMA freelist_count").fetchone()[0]
    return pages * db.execute_sql("PRAGMA page_size").fetchone()[0]


def postgres_bytes(db) -> int:  # type: ignore[no-untyped-def]
    return db.execute_sql("SELECT pg_total_relation_size('survey_assignments')").fetchone()[0]


def measure(url: str, measure_bytes, devices_count: int, rollouts_count: int, key_dir: Path) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    from fleet import devices
    from fleet.store import close_database, open_database
    from fleet.surveys import keys, rollouts, versions

    db = open_database(url)
    try:
        key = keys.generate(key_dir)
        for n in range(devices_count):
            devices.add_device(f"bench-kiosk-{n:05d}", f"site-{n % 20}")
        stored = versions.add(DEMO_SURVEY).version
        before = measure_bytes(db)
        for _ in range(rollouts_count):
            rollouts.push(rollouts.PushRequest(stored.survey_id, stored.version, rollouts.parse_target("all")), key)
        grown = measure_bytes(db) - before
        return grown / devices_count / rollouts_count, len(stored.document.encode())
    finally:
        close_database()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rollouts", type=int, default=3)
    args = parser.parse_args()
    cells, missed, judged = [], [], 0
    with tempfile.TemporaryDirectory() as scratch:
        stores = [("SQLite", f"sqlite:///{scratch}/fleet.sqlite3", sqlite_bytes)]
        pg = os.environ.get("NABIZ_TEST_POSTGRES", "postgresql://postgres@localhost:5432/postgres")
        try:
            import psycopg2

            admin = psycopg2.connect(pg, connect_timeout=3)
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute("DROP DATABASE IF EXISTS nabiz_bench_storage")
                cursor.execute("CREATE DATABASE nabiz_bench_storage")
            stores.append(("PostgreSQL", pg.rsplit("/", 1)[0] + "/nabiz_bench_storage", postgres_bytes))
        except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: SQLite alone, and say so
            admin = None
            print(f"PostgreSQL not measured: {str(exc).strip().splitlines()[0]}")
        for name, url, how in stores:
            per_device, document = measure(url, how, args.devices, args.rollouts, Path(scratch) / f"keys-{name}")
            judged += 1
            ok = per_device < document
            if not ok:
                missed.append(f"{name}: {per_device:,.0f} B ≥ the document's {document:,} B")
            cells.append((name, f"{args.devices:,}", str(args.rollouts), f"{per_device:,.0f}", f"{document:,}", f"{per_device / document:.3f}", "PASS" if ok else "FAIL", "bar: below one copy of the document"))
        if admin is not None:
            with admin.cursor() as cursor:
                cursor.execute("DROP DATABASE IF EXISTS nabiz_bench_storage WITH (FORCE)")
            admin.close()
    table.print_table(
        "survey rollouts: bytes the store grew per device per rollout (the demo survey)",
        ("store", "devices", "rollouts", "B/device/rollout", "document B", "ratio", "verdict", "notes"),
        cells, {0, 6}, missed, judged,
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
