"""The acknowledge link over real HTTP: uvicorn on a free port, the store on SQLite and
PostgreSQL, requests with httpx. GET changes nothing; POST acknowledges once; every refusal is
a page that says why, and leaves the store as it was."""

from __future__ import annotations

import httpx
import pytest

from fleet.escalation import alerts, tokens
from fleet.escalation.tables import AlertEvent, UsedToken


def snapshot(alert_id: int) -> tuple:
    """Everything an acknowledgement could change."""
    row = alerts.get_alert(alert_id)
    return (row.state, row.acknowledged_by, row.eta_minutes, len(alerts.history(alert_id)), UsedToken.select().count())


def form(link: str, **fields) -> httpx.Response:
    return httpx.post(link, data={"name": "Ayşe Yılmaz", "eta": "", "comment": "", **fields}, headers={"Accept-Language": "tr"})


def test_health(web):
    reply = httpx.get(f"{web.base}/healthz")
    assert reply.status_code == 200 and reply.text == "ok"


def test_get_shows_the_alert_and_changes_nothing(web):
    alert_id, link = web.help_alert()
    before = snapshot(alert_id)
    for _ in range(3):  # a chat app's preview, then the person, then a reload
        page = httpx.get(link, headers={"Accept-Language": "tr-TR,tr;q=0.9"})
        assert page.status_code == 200
    assert snapshot(alert_id) == before and before[0] == "open"
    html = page.text
    assert "Bir müşteri yardım istiyor" in html and "Kadıköy" in html and "kiosk-1" in html
    assert "satisfaction: very-unhappy" in html and "kioskun yanında bekliyor" in html
    assert "21.09.2026" in html, "the time is shown in the site's zone and the page's language"
    assert 'value="Ayşe Yılmaz"' in html, "the name is prefilled from the token's contact"
    assert '<form method="post"' in html and "Geliyorum" in html
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_post_acknowledges_once_with_the_audit_row_and_the_hook(web):
    alert_id, link = web.help_alert()
    web.clock.advance(30)
    reply = form(link, eta="3", comment="geliyorum")
    assert reply.status_code == 200, reply.text
    assert f"Teşekkürler Ayşe Yılmaz. Uyarı #{alert_id}" in reply.text
    row = alerts.get_alert(alert_id)
    assert (row.state, row.acknowledged_by, row.eta_minutes, row.acknowledged_at) == ("acknowledged", "Ayşe Yılmaz", 3, web.now())
    last = alerts.history(alert_id)[-1]
    assert (last.action, last.by, last.channel, last.comment) == ("acknowledged", "Ayşe Yılmaz", "link", "geliyorum (ETA 3 min)")
    assert [r.id for r in web.acknowledged] == [alert_id], "the hook that tells the kiosk ran once, after the commit"

    again = form(link)
    assert again.status_code == 403 and "zaten kullanıldı" in again.text
    assert "Ayşe Yılmaz üstlendi" in again.text, "the refusal says who took it and when"
    assert len(alerts.history(alert_id)) == len(AlertEvent.select().where(AlertEvent.alert == alert_id)) and alerts.history(alert_id)[-1] == last
    assert len(web.acknowledged) == 1
    page = httpx.get(link)
    assert page.status_code == 403 and "Ayşe Yılmaz" in page.text


@pytest.mark.parametrize(
    "tamper, words",
    [
        (lambda link: link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"), "Bu bağlantı geçersiz"),
        (lambda link: link.rsplit(".", 1)[0], "Bu bağlantı eksik"),
        (lambda link: link.rsplit("/", 1)[0] + "/" + "x" * 600, "Bu bağlantı eksik"),
    ],
    ids=["forged", "cut", "garbage"],
)
def test_a_forged_or_broken_token_gets_a_403_page_and_nothing_changes(web, tamper, words):
    alert_id, link = web.help_alert()
    before = snapshot(alert_id)
    for reply in (httpx.get(tamper(link), headers={"Accept-Language": "tr"}), form(tamper(link))):
        assert reply.status_code == 403 and words in reply.text and "Hiçbir şey değişmedi" in reply.text
        assert "Ne yapmalı" in reply.text
    assert snapshot(alert_id) == before


def test_a_token_signed_with_another_key_is_forged(web):
    alert_id, _ = web.help_alert()
    other = tokens.sign(b"k" * 32, tokens.new_claims(alert_id, "ayse", web.now(), 60))
    reply = form(f"{web.base}/ack/{other}")
    assert reply.status_code == 403 and "bu sistemce üretilmemiş" in reply.text
    assert alerts.get_alert(alert_id).state == "open"


def test_an_expired_token_gets_a_403_page_and_nothing_changes(web):
    alert_id, link = web.help_alert()
    web.clock.advance(web.config.notifications.link_valid_minutes * 60 + 1)
    before = snapshot(alert_id)
    for reply in (httpx.get(link, params={"lang": "en"}), form(link, lang="en")):
        assert reply.status_code == 403 and "This link has expired" in reply.text and "newest notification" in reply.text
    assert snapshot(alert_id) == before


def test_a_call_back_token_does_not_acknowledge(web):
    alert_id, _ = web.help_alert()
    token = web.callback_link(alert_id).rsplit("/", 1)[1]
    reply = form(f"{web.base}/ack/{token}")
    assert reply.status_code == 403 and "onay bağlantısı değil" in reply.text
    assert alerts.get_alert(alert_id).state == "open"


def test_a_post_from_another_site_is_refused(web):
    alert_id, link = web.help_alert()
    before = snapshot(alert_id)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        reply = httpx.post(link, data={"name": "Ayşe"}, headers={**headers, "Accept-Language": "tr"})
        assert reply.status_code == 403 and "başka bir siteden" in reply.text
    assert snapshot(alert_id) == before
    ok = httpx.post(link, data={"name": "Ayşe"}, headers={"Origin": web.base, "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 200 and alerts.get_alert(alert_id).state == "acknowledged"


def test_a_bad_form_keeps_what_was_typed_and_the_token(web):
    alert_id, link = web.help_alert()
    before = snapshot(alert_id)
    reply = form(link, name="  ", eta="on beş", comment="x" * 501)
    assert reply.status_code == 400
    assert "Adınızı yazın" in reply.text and "0 ile 240" in reply.text and "en çok 500" in reply.text, "a help request's ETA: what the kiosk can show"
    assert form(link, eta="241").status_code == 400 and snapshot(alert_id) == before, "more than the kiosk shows is refused, not dropped on the way"
    assert 'value="on beş"' in reply.text, "what they typed is kept"
    assert snapshot(alert_id) == before, "the token is not used up by a form that was refused"
    assert form(link, eta="5").status_code == 200


def test_an_alert_taken_elsewhere_shows_who_and_when(web):
    alert_id, link = web.help_alert()
    alerts.acknowledge(alert_id, "Mehmet Kaya", web.now() + 60, "cli", eta_minutes=2)
    page = httpx.get(link, params={"lang": "en"})
    assert page.status_code == 200 and "Taken by Mehmet Kaya" in page.text and "Expected in 2 minutes" in page.text
    assert "<form" not in page.text
    before = snapshot(alert_id)
    reply = form(link, lang="en")
    assert reply.status_code == 409 and "can no longer be taken" in reply.text and "Mehmet Kaya" in reply.text
    assert snapshot(alert_id) == before, "the refused acknowledgement did not use the token up either"


def test_a_closed_alert_says_so(web):
    alert_id, link = web.help_alert()
    alerts.resolve(alert_id, "Mehmet", web.now() + 5, "cli")
    page = httpx.get(link, params={"lang": "en"})
    assert page.status_code == 200 and "Closed (" in page.text and "<form" not in page.text


def test_language_follows_the_query_then_the_browser_then_the_site(web):
    _, link = web.help_alert()
    assert "A customer is asking for help" in httpx.get(link, params={"lang": "en"}, headers={"Accept-Language": "tr"}).text
    assert "A customer is asking for help" in httpx.get(link, headers={"Accept-Language": "en-GB,en;q=0.8"}).text
    assert "Bir müşteri yardım istiyor" in httpx.get(link, headers={"Accept-Language": "de-DE"}).text, "the site (Kadıköy) speaks Turkish"


def test_unknown_pages_are_a_page_too(web):
    reply = httpx.get(f"{web.base}/nothing/here", headers={"Accept-Language": "en"})
    assert reply.status_code == 404 and "Page not found" in reply.text and reply.headers["content-type"].startswith("text/html")
    assert reply.headers["x-frame-options"] == "DENY" and reply.headers["referrer-policy"] == "no-referrer"
