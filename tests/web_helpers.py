"""Factories for the web tests: a config with a call centre, and a rig that serves the real app
with uvicorn on a free port over the test's store, with alerts raised the way ingest raises them."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from fleet.escalation import alerts
from fleet.escalation.config import EscalationConfig
from fleet.escalation.service import Escalation
from fleet.escalation.tables import Notification
from fleet.web.app import create_app
from fleet.web.callbacks import callback_token
from fleet.web.server import WebServer
from fleet.web.settings import WebSettings
from tests.dummy_clock import FakeClock
from tests.escalation_helpers import config, response

CALL_CENTRE = {"id": "callcentre", "name": "Çağrı Merkezi", "sites": ["*"], "roles": ["call-centre"], "urls": ["json://127.0.0.1:9/callcentre"]}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def web_config(call_centre_url: str | None = None) -> EscalationConfig:
    """The escalation helpers' config plus a call-centre contact (at *call_centre_url*)."""
    base = config()
    contacts = [msgspec.to_builtins(contact) for contact in base.contacts]
    contacts.append({**CALL_CENTRE, "urls": [call_centre_url or CALL_CENTRE["urls"][0]]})
    return config(contacts=contacts)


@dataclass
class WebRig:
    """The app served by a real uvicorn on a free port; the clock is the test's to move."""

    config: EscalationConfig
    clock: FakeClock
    settings: WebSettings = field(default_factory=lambda: WebSettings(public_url="https://fleet.example.com", pages_per_minute=10_000, forms_per_minute=10_000))
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    acknowledged: list = field(default_factory=list)
    wakes: int = 0
    also_wake: Callable[[], None] | None = None  # e.g. a real notifier worker's wake

    def start(self) -> WebRig:
        app = create_app(self.settings, self.config, self.key, clock=self.now, on_acknowledged=self.acknowledged.append, wake=self._wake)
        self.server = WebServer(app, "127.0.0.1", 0, trusted_proxies=self.settings.trusted_proxies)
        self.server.start()
        self.base = self.server.url
        # The escalation signs links with the public URL the notifications carry: this server's.
        notifications = msgspec.structs.replace(self.config.notifications, public_url=self.base)
        self.escalation = Escalation(msgspec.structs.replace(self.config, notifications=notifications), self.key, clock=self.now)
        return self

    def stop(self) -> None:
        self.server.stop()

    def now(self) -> float:
        return self.clock.wall

    def _wake(self) -> None:
        self.wakes += 1
        if self.also_wake is not None:
            self.also_wake()

    def help_alert(self, device: str = "kiosk-1") -> tuple[int, str]:
        """A customer asked for help: the alert, and the acknowledge link Ayşe's notification carries."""
        raised = self.escalation.on_responses_stored([response(device=device, at=self.now(), help_requested=True)])
        alert_id = next(r.alert_id for r in raised if alerts.get_alert(r.alert_id).rule == "help")
        return alert_id, self.link_in_notification(alert_id, "ayse")

    def link_in_notification(self, alert_id: int, contact: str) -> str:
        body = Notification.get((Notification.alert == alert_id) & (Notification.contact == contact)).body
        found = re.search(re.escape(self.base) + r"/ack/\S+", body)
        assert found, f"no acknowledge link in the notification:\n{body}"
        return found.group(0)

    def callback_link(self, alert_id: int, valid_minutes: float = 30) -> str:
        return f"{self.base}/callback/{callback_token(self.key, alert_id, self.now(), valid_minutes)}"
