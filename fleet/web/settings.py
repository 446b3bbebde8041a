"""The web part's settings: the ``[web]`` section of fleet.toml, typed like the rest of it.

Secrets are not here: the link-signing key lives in its own file in the data directory and
is handed to ``create_app`` beside these settings (as is the clock, which tests move).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from fleet.validate import Problem, Walker

DEFAULT_PORT = 8080

PerMinute = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class WebSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Where phones reach these pages: links in notifications and the kiosk's QR code start
    # with it, and a form POST is accepted only from this origin or the page's own.
    public_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s?#]+(/[^\s?#]*)?$")] = f"http://localhost:{DEFAULT_PORT}"
    host: str = "0.0.0.0"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = DEFAULT_PORT  # 0: no web server at all
    # Per client address. Pages are what a phone opens; forms are what it sends (POST).
    pages_per_minute: PerMinute = 60
    forms_per_minute: PerMinute = 10
    # Behind a reverse proxy: the proxies' addresses, whose X-Forwarded-For is believed (else
    # every phone looks like the proxy and shares one rate limit).
    trusted_proxies: list[str] = []
    # The call-back page: who hears of a number left, how long the kiosk's QR code works,
    # which country a number without +code belongs to, and whom the privacy notice names.
    callback_roles: list[str] = msgspec.field(default_factory=lambda: ["call-centre"])
    callback_valid_minutes: Annotated[float, msgspec.Meta(gt=0, le=24 * 60)] = 30.0
    phone_region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] = "TR"
    privacy_controller: str = ""  # the data controller, e.g. "Örnek Akaryakıt A.Ş."
    privacy_contact: str = ""  # where a customer asks about their data, e.g. "kvkk@example.com"

    @property
    def public_origin(self) -> str:
        scheme, rest = self.public_url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}".lower()


HINTS = {
    "public_url": 'the address phones reach the fleet at, e.g. "https://fleet.example.com"',
    "port": "a port from 1 to 65535, or 0 for no web server",
    "pages_per_minute": "a whole number of requests, 1 or more",
    "forms_per_minute": "a whole number of requests, 1 or more",
    "phone_region": 'a two-letter country code in capitals, e.g. "TR"',
    "trusted_proxies": 'a list of proxy addresses, e.g. ["127.0.0.1"]',
    "callback_roles": 'a list of contact roles, e.g. ["call-centre"]',
}


def check_section(section: Any, path: str = "web") -> tuple[WebSettings | None, list[Problem]]:
    """The ``[web]`` table as WebSettings, and every problem in it (key path, fix, did you mean),
    for ``fleet config check`` to list with the other sections' problems."""
    walker = Walker(HINTS)
    settings = walker.struct({} if section is None else section, WebSettings, path)
    return (settings if not walker.problems else None), walker.problems
