"""The call-back page the kiosk's QR code opens when nobody came in time.

GET shows the form: a phone number, the privacy notice (KVKK / GDPR: who, what, why, how
long, whom to ask) and a consent box; it changes nothing. POST checks the number and the
consent; a mistake comes back on the same page with a message that says what to fix and the
number as typed. A good one is stored, audited and sent to the call centre in one
transaction (``callbacks.request_callback``), and the token is used up: one QR code, one
number.
"""

from __future__ import annotations

from litestar import Request
from litestar.response import Template

from fleet.escalation import alerts, tokens
from fleet.escalation.alerts import AlertNotFound
from fleet.web import callbacks, phones, text
from fleet.web.context import Refused, WebContext, client, log, page, refusal, refuse_if_used, same_origin, token_alert, token_pages
from fleet.web.text import TEXT


def callback_page(token: str, request: Request, web: WebContext) -> Template:
    lang = web.language(request)
    try:
        claims, alert = token_alert(web, token, callbacks.PURPOSE)
        lang = web.language(request, web.site_of(alert).language)
        refuse_if_used(claims, alert)
    except Refused as refused:
        return _refused(request, lang, refused)
    return _form_page(web, lang, alert, phone="", consent=False, errors=[])


def callback_submit(token: str, request: Request, web: WebContext, data: dict[str, str]) -> Template:
    lang = web.form_language(request, data)
    try:
        if not same_origin(request, web.settings):
            raise Refused("cross_site")
        _, alert = token_alert(web, token, callbacks.PURPOSE)
        typed = (data.get("phone") or "")[: phones.MAX_TYPED * 2]
        consent = data.get("consent") == "yes"
        errors = []
        try:
            phone = phones.parse(typed, web.settings.phone_region)
        except phones.PhoneError as exc:
            errors.append(exc.reason)
        if not consent:
            errors.append("consent")
        if errors:
            return _form_page(web, lang, alert, typed, consent, errors, status_code=400)
        sentences, agreed = _notice(web, lang, alert)
        try:
            requested = callbacks.request_callback(
                web.escalation, web.key, token, phone, lang, text.notice_version(sentences, agreed), web.settings.callback_roles, web.clock()
            )
        except tokens.TokenError as exc:  # used (or expired) since the check above
            raise Refused(exc.reason) from None
        except AlertNotFound:
            raise Refused("missing", status_code=404) from None
    except Refused as refused:
        return _refused(request, lang, refused)
    if requested.notified:
        web.wake()
    words = TEXT[lang]["callback"]
    return page("callback_done.html", lang, title=words["done_title"], done=words["done"].format(phone=phone.international), more=words["done_more"])


def _notice(web: WebContext, lang: str, alert: alerts.AlertRow) -> tuple[list[str], str]:
    site = web.site_of(alert)
    settings = web.settings
    return text.notice(lang, settings.privacy_controller, settings.privacy_contact, site.retention_days), TEXT[lang]["callback"]["consent"]


def _form_page(web: WebContext, lang: str, alert: alerts.AlertRow, phone: str, consent: bool, errors: list[str], status_code: int = 200) -> Template:
    words = TEXT[lang]["callback"]
    sentences, agreed = _notice(web, lang, alert)
    return page(
        "callback.html",
        lang,
        status_code,
        title=words["title"],
        intro=words["intro"].format(site=web.site_of(alert).name),
        notice=sentences,
        agree=agreed,
        phone=phone,
        consent=consent,
        phone_error=next((words["errors"][e] for e in errors if e != "consent"), ""),
        consent_error=words["errors"]["consent"] if "consent" in errors else "",
    )


def _refused(request: Request, lang: str, refused: Refused) -> Template:
    log.warning("call-back link refused", extra={"reason": refused.reason, "client": client(request)})
    texts = TEXT[lang]["refused"]["callback"]
    return refusal(lang, texts.get(refused.reason, texts["forged"]), refused.status_code)


CallbackPages = token_pages("/callback", callback_page, callback_submit)
