"""Screenshots of the fleet's web pages, phone-sized, for docs/web/ (``make screenshots``).

The real app over a scratch SQLite store, served by uvicorn, photographed by Debian's Chromium
through Playwright: a help request's acknowledge link (confirmation, done, used again), the
call-back page (form, a mistake, done) and the page a flood gets. The clock is fixed, so
the pictures change only when the pages do.

    .venv/bin/python scripts/web_screenshots.py docs/web
"""

from __future__ import annotations

import re
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from fleet.escalation.config import check_document  # noqa: E402
from fleet.escalation.rules import NewResponse  # noqa: E402
from fleet.escalation.service import Escalation  # noqa: E402
from fleet.escalation.tables import Notification  # noqa: E402
from fleet.store import close_database, open_database  # noqa: E402
from fleet.web.app import create_app  # noqa: E402
from fleet.web.callbacks import callback_token  # noqa: E402
from fleet.web.server import WebServer  # noqa: E402
from fleet.web.settings import WebSettings  # noqa: E402
from tests.web_helpers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (the browser tests' launch, the same Chromium)

NOW = 1_790_000_000.0  # Monday 2026-09-21 17:13 in Istanbul
CONFIG = {
    "sites": [{"id": "kadikoy", "name": "Kadıköy İstasyonu", "language": "tr"}],
    "contacts": [
        {"id": "ayse", "name": "Ayşe Yılmaz", "sites": ["kadikoy"], "roles": ["staff"], "urls": ["json://127.0.0.1:9/ayse"]},
        {"id": "callcentre", "name": "Çağrı Merkezi", "sites": ["*"], "roles": ["call-centre"], "urls": ["json://127.0.0.1:9/callcentre"]},
    ],
    "policies": [{"id": "staff-now", "stages": [{"roles": ["staff"]}]}],
    "rules": [{"id": "help", "kind": "response", "on": "help", "policy": "staff-now", "severity": "urgent"}],
}
SETTINGS = WebSettings(privacy_controller="Örnek Akaryakıt A.Ş.", privacy_contact="kvkk@ornek-akaryakit.com.tr")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="nabiz-web-shots-"))
    open_database(f"sqlite:///{work / 'fleet.sqlite3'}")
    config = check_document(CONFIG, "screenshots")
    key = secrets.token_bytes(32)
    server = WebServer(create_app(SETTINGS, config, key, clock=lambda: NOW + 60), "127.0.0.1", 0)
    flooded = WebServer(create_app(WebSettings(pages_per_minute=1), config, key, clock=lambda: NOW + 60), "127.0.0.1", 0)
    server.start()
    flooded.start()
    try:
        escalation = Escalation(config, key, clock=lambda: NOW)
        answers = (("satisfaction", "very-unhappy"), ("what-went-wrong", "cleanliness"))
        (raised,) = escalation.on_responses_stored(
            [NewResponse("6f1c0c4e-0000-4000-8000-000000000001", "pompa-3", "kadikoy", NOW - 20, True, answers, help_requested=True)]
        )
        token = re.search(r"/ack/(\S+)", Notification.get(Notification.alert == raised.alert_id).body).group(1)
        ack, callback = f"{server.url}/ack/{token}", f"{server.url}/callback/{callback_token(key, raised.alert_id, NOW, 30)}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="tr-TR", is_mobile=True).new_page()

            def shot(name: str) -> None:
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                print(out / f"{name}.png")

            page.goto(ack)
            shot("ack")
            page.fill("#eta", "2")
            page.click("#acknowledge")
            page.wait_for_selector("#done")
            shot("ack-done")
            page.goto(ack + "?lang=en")
            shot("ack-used-en")
            page.goto(callback)
            shot("callback")
            page.fill("#phone", "0532 12")
            page.click("#call-me")
            page.wait_for_selector("#phone-error")
            shot("callback-mistakes")
            page.fill("#phone", "0532 123 45 67")
            page.check("#consent")
            page.click("#call-me")
            page.wait_for_selector("#done")
            shot("callback-done")
            page.goto(f"{flooded.url}/ack/x")
            page.goto(f"{flooded.url}/ack/x")
            shot("too-many")
            browser.close()
    finally:
        server.stop()
        flooded.stop()
        close_database()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "web")
