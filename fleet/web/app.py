"""``create_app``: the fleet's web app, composed from typed settings and the parts it needs.

    app = create_app(settings, escalation_config, key, clock=time.time,
                     on_acknowledged=tell_the_kiosk, wake=worker.wake)
    server = WebServer(app, settings.host, settings.port); server.start() ... server.stop()

The store is the fleet's (``fleet.store.database``, bound by ``open_database`` before the app
serves). Handlers are synchronous and run in worker threads (peewee keeps a connection per
thread), so a slow query never stalls the event loop.

Every response carries headers that keep a token where it belongs: no Referer leaves the page
(``no-referrer``; every asset is ours, none from a CDN), no other site may frame it, nothing
is cached. Public pages are rate-limited per client address, pages and forms separately.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jinja2
from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, TooManyRequestsException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope

from fleet.escalation.alerts import AlertRow
from fleet.escalation.config import EscalationConfig
from fleet.web import ack, callback, callbacks, language
from fleet.web.context import WebContext, client, log, refusal
from fleet.web.settings import WebSettings
from fleet.web.text import TEXT

HERE = Path(__file__).resolve().parent
PUBLIC_PREFIXES = ("/ack/", "/callback/")
SECURITY_HEADERS = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
]


@get("/healthz", sync_to_thread=False, media_type=MediaType.TEXT)
def healthz() -> str:
    """For load balancers and systemd checks: the web part answers (it touches no store)."""
    return "ok"


def create_app(
    settings: WebSettings,
    escalation: EscalationConfig,
    key: bytes,
    *,
    clock: Callable[[], float] = time.time,
    on_acknowledged: Callable[[AlertRow], None] | None = None,
    wake: Callable[[], None] | None = None,
) -> Litestar:
    """The app. *on_acknowledged* runs after a link acknowledgement is committed (the fleet
    tells the kiosk there); *wake* after a call-back queued notifications (the notifier sends)."""
    if not settings.privacy_controller or not settings.privacy_contact:
        log.warning("[web] privacy_controller / privacy_contact are not set: the call-back page's privacy notice names no one")
    callbacks.mask_numbers_in_query_logs()
    context = WebContext(settings, escalation, key, clock, on_acknowledged or (lambda row: None), wake or (lambda: None))
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined)
    return Litestar(
        route_handlers=[healthz, ack.AckPages, callback.CallbackPages, create_static_files_router("/static", [HERE / "static"])],
        dependencies={"web": Provide(lambda: context, use_cache=True, sync_to_thread=False)},
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
        middleware=[_rate_limit(settings.pages_per_minute, "GET", "pages"), _rate_limit(settings.forms_per_minute, "POST", "forms")],
        before_send=[_security_headers],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        logging_config=None,  # the fleet configures logging; Litestar must not reconfigure it
        openapi_config=None,
        state=State({"flood_logged": {}}),
    )


def _rate_limit(per_minute: int, method: str, name: str):
    """Per client address (uvicorn puts a trusted proxy's X-Forwarded-For there), one store each."""

    def public(request: Request) -> bool:
        return request.method == method and request.url.path.startswith(PUBLIC_PREFIXES)

    return RateLimitConfig(rate_limit=("minute", per_minute), check_throttle_handler=public, store=f"rate_limit_{name}").middleware


async def _security_headers(message: Message, scope: Scope) -> None:
    """On every response, refusals and 404s included (a before_send hook sees them all)."""
    if message["type"] == "http.response.start":
        message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]


def _language(request: Request) -> str:
    return language.choose(request.query_params.get("lang"), request.headers.get("accept-language"), "tr")


def _http_error(request: Request, exc: HTTPException) -> Response:
    lang = _language(request)
    refused = TEXT[lang]["refused"]
    if isinstance(exc, TooManyRequestsException):
        _log_flood(request)
        response = refusal(lang, refused["too_many"], 429)
        response.headers.update(exc.headers or {})
        if "RateLimit-Reset" in response.headers:
            response.headers["Retry-After"] = response.headers["RateLimit-Reset"]
        return response
    if isinstance(exc, NotFoundException):
        return refusal(lang, refused["not_found"], 404)
    return refusal(lang, refused["error"], exc.status_code, detail=str(exc.detail) if exc.status_code < 500 else "")


def _log_flood(request: Request) -> None:
    """One line per flooding client per minute, not one per refused request: a flood must not
    flood the journal too."""
    logged: dict[str, float] = request.app.state.flood_logged
    now, who = time.monotonic(), client(request)
    if now - logged.get(who, float("-inf")) < 60:
        return
    if len(logged) > 10_000:  # many addresses at once: forget the old ones
        logged.clear()
    logged[who] = now
    log.warning(
        "rate limit reached; more refusals of this client in the next minute are not logged", extra={"client": who, "path_kind": request.url.path.split("/")[1]}
    )


def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("web request failed", exc_info=exc, extra={"method": request.method, "path_kind": request.url.path.split("/")[1]})
    lang = _language(request)
    return refusal(lang, TEXT[lang]["refused"]["error"], 500)
