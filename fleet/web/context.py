"""What every page handler needs: the settings, the escalation config, the key, the clock, the
hooks; and the small helpers they share (language, local time, refusal pages, origin check)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from fleet.escalation import alerts, tokens
from fleet.escalation.alerts import AlertNotFound, AlertRow
from fleet.escalation.config import EscalationConfig, Site
from fleet.escalation.tables import UsedToken
from fleet.web import language
from fleet.web.settings import WebSettings
from fleet.web.text import TEXT

log = logging.getLogger("fleet.web")

NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class WebContext:
    settings: WebSettings
    escalation: EscalationConfig
    key: bytes
    clock: Callable[[], float]
    on_acknowledged: Callable[[AlertRow], None]  # after the commit: the lead tells the kiosk
    wake: Callable[[], None]  # after a notification was queued: the notifier sends it now

    def language(self, request: Request, site_language: str | None = None) -> str:
        return language.choose(request.query_params.get("lang"), request.headers.get("accept-language"), site_language or "tr")

    def site_of(self, alert: AlertRow) -> Site:
        return self.escalation.site(alert.site)

    def form_language(self, request: Request, data: dict[str, str]) -> str:
        """A form says which language its page was in (the hidden ``lang`` field)."""
        return data["lang"] if data.get("lang") in TEXT else self.language(request)


class Refused(Exception):
    """The request cannot be served as asked; ``reason`` picks the page's words."""

    def __init__(self, reason: str, alert: AlertRow | None = None, status_code: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.alert = alert
        self.status_code = status_code


def token_alert(web: WebContext, token: str, purpose: str) -> tuple[tokens.Claims, AlertRow]:
    """The token's claims and its alert, or Refused (forged, malformed, purpose, expired, missing).
    Checks only: nothing is used up or changed."""
    try:
        claims = tokens.verify(web.key, token, web.clock(), purpose)
    except tokens.TokenError as exc:
        raise Refused(exc.reason) from None
    try:
        return claims, alerts.get_alert(claims.alert_id)
    except AlertNotFound:
        raise Refused("missing", status_code=404) from None


def refuse_if_used(claims: tokens.Claims, alert: AlertRow) -> None:
    if UsedToken.get_or_none(UsedToken.token_id == claims.nonce) is not None:
        raise Refused("used", alert)


def local_time(site: Site, at: float, lang: str) -> str:
    return datetime.fromtimestamp(at, site.zone).strftime(TEXT[lang]["date_format"])


def page(template: str, lang: str, status_code: int = 200, **context: Any) -> Template:
    """A page in *lang*, never cached (it is about one alert, one token, one customer)."""
    return Template(
        template_name=template, context={"t": TEXT[lang], "lang": lang, "languages": language.LANGUAGES, **context}, status_code=status_code, headers=NO_STORE
    )


def refusal(lang: str, texts: tuple[str, str, str], status_code: int, detail: str = "") -> Template:
    title, message, fix = texts
    return page("refused.html", lang, status_code, title=title, message=message, fix=fix, detail=detail)


def client(request: Request) -> str:
    return request.client.host if request.client else "?"


def same_origin(request: Request, settings: WebSettings) -> bool:
    """Did a browser send this form from our own page? Browsers say so on every POST: Fetch
    Metadata (Sec-Fetch-Site) where they have it, else Origin. A client that sends neither
    (curl, an old browser) is let through: what protects the form is the token (see docs)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    return origin.lower() in (own, settings.public_origin)


Web = NamedDependency[WebContext]
Form = URLEncodedBody[dict[str, str]]


def token_pages(prefix: str, show: Callable[..., Template], submit: Callable[..., Template]) -> type[Controller]:
    """The routes of a tokenised link: GET {prefix}/{token} shows *show*, POST sends to *submit*.
    A controller class, not bare handler functions: Litestar makes a controller's handlers anew
    for each app (a handler function shared by two apps is wrapped twice and breaks)."""

    class TokenPages(Controller):
        path = prefix

        @get("/{token:str}", sync_to_thread=True)
        def page(self, token: FromPath[str], request: Request, web: Web) -> Template:
            return show(token, request, web)

        @post("/{token:str}", sync_to_thread=True, status_code=200)
        def send(self, token: FromPath[str], request: Request, web: Web, data: Form) -> Template:
            return submit(token, request, web, data)

    return TokenPages
