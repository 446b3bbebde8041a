"""The acknowledge link in a staff notification: GET shows, POST acts.

GET /ack/{token} checks the token (genuine, unexpired, not used) and shows the alert with a
confirmation form. It changes nothing: chat apps fetch links to draw a preview, and a
preview must not take an alert in someone's name. POST /ack/{token} redeems the token and
acknowledges the alert in ONE transaction (channel "link"): either the alert is taken and
the token used up, or neither. A refused token, a cross-site form, an alert someone else
took: a page that says which, and nothing changed.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from fleet.escalation import alerts, tokens
from fleet.escalation.alerts import AlertRow, AlertStateError
from fleet.store import writing
from fleet.web import callbacks
from fleet.web.context import Refused, WebContext, client, local_time, log, page, refusal, refuse_if_used, same_origin, token_alert, token_pages
from fleet.web.text import TEXT

MAX_NAME = 128
MAX_COMMENT = 500


def ack_page(token: str, request: Request, web: WebContext) -> Template:
    lang = web.language(request)
    try:
        claims, alert = token_alert(web, token, "ack")
        lang = web.language(request, web.site_of(alert).language)
        refuse_if_used(claims, alert)
    except Refused as refused:
        return _refused(request, web, lang, refused)
    contact = next((c for c in web.escalation.contacts if c.id == claims.contact), None)
    form = {"name": contact.name if contact else "", "eta": "", "comment": ""}
    return _form_page(web, lang, alert, form, {})


def ack_submit(token: str, request: Request, web: WebContext, data: dict[str, str]) -> Template:
    lang = web.form_language(request, data)
    try:
        if not same_origin(request, web.settings):
            raise Refused("cross_site")
        claims, alert = token_alert(web, token, "ack")
        form = {key: (data.get(key) or "").strip() for key in ("name", "eta", "comment")}
        errors = _check(form, alerts.eta_limit(alert.id))
        if errors:
            return _form_page(web, lang, alert, form, errors, status_code=400)
        eta = int(form["eta"]) if form["eta"] else None
        now = web.clock()
        try:
            with writing():
                tokens.redeem(web.key, token, now)
                acknowledged = alerts.acknowledge(alert.id, form["name"], now, "link", eta, form["comment"])
        except tokens.TokenError as exc:  # used (or expired) since the check above
            raise Refused(exc.reason, alert) from None
        except AlertStateError:
            raise Refused("state", alerts.get_alert(alert.id), status_code=409) from None
    except Refused as refused:
        return _refused(request, web, lang, refused)
    log.info("alert acknowledged by link", extra={"alert": alert.id, "by": form["name"], "contact": claims.contact, "eta_minutes": eta})
    _tell(web, acknowledged)
    words = TEXT[lang]["ack"]
    return page(
        "ack_done.html",
        lang,
        alert=_view(web, acknowledged, lang),
        done=words["done"].format(name=form["name"], id=acknowledged.id, time=local_time(web.site_of(acknowledged), now, lang)),
        done_help=words["done_help"] if _is_help(acknowledged) else "",
    )


def _tell(web: WebContext, row: AlertRow) -> None:
    """The hook runs after the commit; its failure must not turn a done acknowledgement into an error page."""
    try:
        web.on_acknowledged(row)
    except Exception:  # noqa: BLE001 -- the acknowledgement is committed; a failing follow-up is logged, not shown as a failure
        log.exception("the on_acknowledged hook failed for alert %s (the alert IS acknowledged)", row.id)


def _check(form: dict[str, str], max_eta: int) -> dict[str, str]:
    """Which fields are wrong, as keys of the page's error texts (*max_eta*: ``alerts.eta_limit``)."""
    errors = {}
    if not form["name"] or len(form["name"]) > MAX_NAME:
        errors["name"] = "name"
    if form["eta"] and not (form["eta"].isascii() and form["eta"].isdigit() and int(form["eta"]) <= max_eta):
        errors["eta"] = "eta"
    if len(form["comment"]) > MAX_COMMENT:
        errors["comment"] = "comment"
    return errors


def _form_page(web: WebContext, lang: str, alert: AlertRow, form: dict[str, str], errors: dict[str, str], status_code: int = 200) -> Template:
    words = TEXT[lang]["ack"]
    max_eta = alerts.eta_limit(alert.id)
    return page(
        "ack.html",
        lang,
        status_code,
        alert=_view(web, alert, lang),
        form=form,
        errors={field: words["errors"][key].format(max_eta=max_eta) for field, key in errors.items()},
        button=words["button_help"] if _is_help(alert) else words["button"],
        max_eta=max_eta,
    )


def _refused(request: Request, web: WebContext, lang: str, refused: Refused) -> Template:
    alert = refused.alert
    log.warning("acknowledge link refused", extra={"reason": refused.reason, "alert": alert.id if alert else None, "client": client(request)})
    texts = TEXT[lang]["refused"]["ack"].get(refused.reason, TEXT[lang]["refused"]["ack"]["forged"])
    return refusal(lang, texts, refused.status_code, detail=_state(alert, web.site_of(alert), lang) if alert else "")


def _is_help(alert: AlertRow) -> bool:
    return alert.kind == "response" and bool(alert.facts.get("help_requested"))


def _view(web: WebContext, alert: AlertRow, lang: str) -> dict[str, Any]:
    """The alert as the page shows it: what happened, where, when, what the customer asked for, its state."""
    words = TEXT[lang]
    site = web.site_of(alert)
    facts = alert.facts
    rows = [(words["labels"]["site"], site.name)]
    if alert.device_id:
        rows.append((words["labels"]["kiosk"], alert.device_id))
    rows.append((words["labels"]["time"], local_time(site, float(facts.get("occurred_at") or alert.opened_at), lang)))
    if alert.kind == "response":
        answers = "; ".join(f"{question}: {option}" for question, option in facts.get("answers", []))
        rows.append((words["labels"]["answers"], answers or "-"))
        rows.append((words["labels"]["asked"], words["asked_help"] if _is_help(alert) else words["asked_nothing"]))
    elif alert.kind == "window":
        rows.append(
            (
                words["labels"]["what"],
                words["window"].format(
                    minutes=float(facts.get("minutes", 0)), total=facts.get("total"), negative=facts.get("negative"), percent=facts.get("percent")
                ),
            )
        )
    elif alert.kind == "offline":
        rows.append((words["labels"]["what"], words["offline"].format(minutes=float(facts.get("after_minutes", 0)))))
    elif alert.kind == "health":
        rows.append((words["labels"]["what"], ", ".join(words["health"].get(problem, problem) for problem in facts.get("problems", []))))
    left = callbacks.listing(alert.id)
    return {
        "id": alert.id,
        "headline": words["kinds"]["help" if _is_help(alert) else alert.kind],
        "urgent": _is_help(alert),
        "rows": rows,
        "open": alert.state == "open",
        "state": _state(alert, site, lang),
        "callback": words["callback_left"].format(time=local_time(site, left[0]["created_at"], lang)) if left else "",
    }


def _state(alert: AlertRow, site, lang: str) -> str:
    states = TEXT[lang]["states"]
    if alert.state == "acknowledged":
        text = states["acknowledged"].format(by=alert.acknowledged_by, time=local_time(site, alert.acknowledged_at or alert.updated_at, lang))
        return text + (" " + states["eta"].format(eta=alert.eta_minutes) if alert.eta_minutes is not None else "")
    if alert.state in ("resolved", "expired"):
        return states[alert.state].format(time=local_time(site, alert.closed_at or alert.updated_at, lang))
    return states["open"]


AckPages = token_pages("/ack", ack_page, ack_submit)
