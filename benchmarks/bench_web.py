"""Web benchmarks: the acknowledge link's share of "staff acknowledgement → help screen".

    (h-web) POST /ack/{token} → the alert acknowledged in the store, read by another connection
            (and → the on_acknowledged hook, where the fleet tells the kiosk; and → the response)
    floor   GET /healthz on the same server and connection: HTTP alone, the limit measured in this run
    page    GET /ack/{token}: the confirmation page a phone opens first

The app runs as ``fleet serve`` will run it: ``create_app`` served by ``WebServer`` (uvicorn in
a thread of this process) over a real store: SQLite in a temporary directory, and PostgreSQL
when one answers (NABIZ_TEST_POSTGRES, default localhost:5432; a scratch database, dropped
after). Alerts are raised the way the fleet raises them (``Escalation.on_responses_stored`` with a
help request) and each is acknowledged through the link its staff notification carries, by
httpx on one keep-alive connection, as a phone would.

For the lead's end-to-end (h): ``time_acknowledgements`` is the reusable part. Give it links,
a way to read the alert's state, and the hook timestamps the app records; add the kiosk's
"help shown" time to the hook's and (h) is the sum.

Timing is measured here, never asserted in tests: the script prints a table, writes
benchmarks/results/web.json and exits 0 whether or not a bar is met.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import table  # noqa: E402  (benchmarks/table.py, beside this script)

from fleet.escalation import alerts  # noqa: E402
from fleet.escalation.config import check_document  # noqa: E402
from fleet.escalation.rules import NewResponse  # noqa: E402
from fleet.escalation.service import Escalation  # noqa: E402
from fleet.escalation.tables import Notification  # noqa: E402
from fleet.store import close_database, open_database  # noqa: E402
from fleet.web.app import create_app  # noqa: E402
from fleet.web.server import WebServer  # noqa: E402
from fleet.web.settings import WebSettings  # noqa: E402

BAR_S = 1.0  # DESIGN.md: staff acknowledgement → help screen drawn on the kiosk, p99 ≤ 1 s
GOAL_S = 0.1
POSTGRES_ADMIN_URL = os.environ.get("NABIZ_TEST_POSTGRES", "postgresql://postgres@localhost:5432/postgres")

CONFIG = {
    "sites": [{"id": "kadikoy", "name": "Kadıköy", "language": "tr"}],
    "contacts": [{"id": "ayse", "name": "Ayşe Yılmaz", "sites": ["kadikoy"], "roles": ["staff"], "urls": ["json://127.0.0.1:9/ayse"]}],
    "policies": [{"id": "staff-now", "stages": [{"roles": ["staff"]}]}],
    "rules": [{"id": "help", "kind": "response", "on": "help", "policy": "staff-now", "severity": "urgent"}],
}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def time_acknowledgements(
    client: httpx.Client, links: list[tuple[int, str]], is_acknowledged: Callable[[int], bool], hooked: dict[int, float], name: str = "Ayşe Yılmaz"
) -> dict[str, list[float]]:
    """POST each acknowledge link and time it to: the response; the hook (*hooked*: alert id →
    perf_counter the app's on_acknowledged saw); the store showing it (*is_acknowledged*, read
    on the caller's own connection, polled until true). Seconds, one sample per link."""
    samples: dict[str, list[float]] = {"answered": [], "hooked": [], "stored": []}
    for alert_id, link in links:
        started = time.perf_counter()
        reply = client.post(link, data={"name": name, "eta": "2"})
        answered = time.perf_counter()
        if reply.status_code != 200:
            raise RuntimeError(f"acknowledging alert {alert_id} answered {reply.status_code}")
        while not is_acknowledged(alert_id):
            if time.perf_counter() - started > 10:
                raise RuntimeError(f"alert {alert_id} was not acknowledged in the store 10 s after the POST")
        seen = time.perf_counter()
        samples["answered"].append(answered - started)
        samples["hooked"].append(hooked[alert_id] - started)
        samples["stored"].append(seen - started)
    return samples


def time_gets(client: httpx.Client, urls: list[str]) -> list[float]:
    samples = []
    for url in urls:
        started = time.perf_counter()
        reply = client.get(url)
        samples.append(time.perf_counter() - started)
        if reply.status_code != 200:
            raise RuntimeError(f"GET answered {reply.status_code}")
    return samples


def run_store(label: str, url: str, count: int) -> dict:
    open_database(url)
    config = check_document(CONFIG, "bench")
    key = secrets.token_bytes(32)
    hooked: dict[int, float] = {}
    app = create_app(
        WebSettings(pages_per_minute=100_000, forms_per_minute=100_000), config, key, on_acknowledged=lambda row: hooked.setdefault(row.id, time.perf_counter())
    )
    server = WebServer(app, "127.0.0.1", 0)
    server.start()
    try:
        escalation = Escalation(config, key)
        now = time.time()
        links = []
        for number in range(count):
            response = NewResponse(
                uuid=secrets.token_hex(16),
                device_id=f"kiosk-{number}",
                site="kadikoy",
                occurred_at=now,
                negative=True,
                answers=(("satisfaction", "unhappy"),),
                help_requested=True,
            )
            (raised,) = escalation.on_responses_stored([response])
            body = Notification.get(Notification.alert == raised.alert_id).body
            token = re.search(r"/ack/(\S+)", body).group(1)
            links.append((raised.alert_id, f"{server.url}/ack/{token}"))
        with httpx.Client() as client:
            floor = time_gets(client, [f"{server.url}/healthz"] * count)
            page = time_gets(client, [link for _, link in links])
            acks = time_acknowledgements(client, links, lambda alert_id: alerts.get_alert(alert_id).state == "acknowledged", hooked)
        return {"store": label, "count": count, "floor": floor, "page": page, **acks}
    finally:
        server.stop()
        close_database()


def postgres_url() -> tuple[str | None, Callable[[], None]]:
    try:
        import psycopg2

        admin = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 -- any reason: the table says PostgreSQL was not measured, and why
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, lambda: print(f"PostgreSQL not measured: {why}")
    admin.autocommit = True
    name = f"nabiz_bench_web_{os.getpid()}"
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()

    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}", drop


def rows_of(result: dict) -> list[tuple[str, ...]]:
    def ms(samples: list[float]) -> tuple[str, str]:
        return f"{percentile(samples, 50) * 1000:.1f}", f"{percentile(samples, 99) * 1000:.1f}"

    floor_p99 = percentile(result["floor"], 99)
    rows = []
    for key, what in (
        ("floor", "GET /healthz (HTTP floor)"),
        ("page", "GET /ack/{token} (confirmation page)"),
        ("answered", "POST ack → 200 answered"),
        ("hooked", "POST ack → on_acknowledged hook"),
        ("stored", "POST ack → acknowledged in the store"),
    ):
        p50, p99 = ms(result[key])
        judged = key in ("hooked", "stored")
        p99_s = percentile(result[key], 99)
        verdict = ("PASS" if p99_s <= BAR_S else "FAIL") if judged else "info"
        note = f"{p99_s / floor_p99:.1f}x the floor's p99" if key != "floor" else "the limit measured in this run"
        if judged:
            note += f"; goal p99 ≤ {GOAL_S * 1000:.0f} ms {'met' if p99_s <= GOAL_S else 'not met'}"
        rows.append((f"{result['store']}: {what}", str(result["count"]), p50, p99, f"p99 ≤ {BAR_S * 1000:.0f} ms" if judged else "", verdict, note))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 acknowledgements per store instead of 300 (a smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "web.json")
    args = parser.parse_args(argv)
    count = 50 if args.quick else 300
    work = Path(tempfile.mkdtemp(prefix="nabiz-bench-web-"))
    logging.basicConfig(filename=work / "bench.log", level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    results = [run_store("SQLite", f"sqlite:///{work / 'fleet.sqlite3'}", count)]
    url, cleanup = postgres_url()
    try:
        if url:
            results.append(run_store("PostgreSQL", url, count))
    finally:
        cleanup()
    cells = [row for result in results for row in rows_of(result)]
    header = f"Nabız web benchmarks: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}" + (
        " (--quick: a smoke run)" if args.quick else ""
    )
    titles = ("what", "n", "p50 ms", "p99 ms", "bar", "verdict", "notes")
    table.print_table(header, titles, cells, {0, 4, 5}, [c[0] for c in cells if c[5] == "FAIL"], sum(c[5] != "info" for c in cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": platform.node(), "quick": args.quick, "results": results}, indent=1) + "\n", encoding="utf-8")
    print(f"results: {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
