"""A tiny webhook receiver for `make demo`: it stands in for a staff member's phone.

The demo's fleet.toml gives the staff contact the apprise URL json://127.0.0.1:PORT/staff;
apprise POSTs each notification there as JSON ({"title", "message", "type"}). This appends
every POST as one JSON line to FILE, with the time it arrived and the path, and answers 200:

    python scripts/webhook_receiver.py --port 18831 --out demo-data/webhook.jsonl

It prints "webhook receiver listening on 127.0.0.1:PORT" once it accepts, and runs until
SIGTERM or SIGINT. Standard library only: the demo needs nothing more to show the loop.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_handler(out: Path, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {"unreadable": body.decode("utf-8", "replace")}
            entry = {"received_at": round(time.time(), 6), "path": self.path, **payload}
            with lock, out.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass  # the file is the log

    return Handler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="append each POST here, one JSON line each")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = ThreadingHTTPServer((args.host, args.port), make_handler(args.out, threading.Lock()))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror}); fix: choose another port", file=sys.stderr)
        return 2
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"webhook receiver listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
