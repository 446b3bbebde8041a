"""The pages in a real browser: Debian's Chromium driven by Playwright, phone-sized, against
the real app served by uvicorn over the test's store (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging

import httpx
import pytest

from fleet.escalation import alerts
from fleet.escalation.tables import Notification, UsedToken
from fleet.web.callbacks import CallbackRequest
from fleet.web.settings import WebSettings
from tests.web_helpers import WebRig, web_config

pytestmark = pytest.mark.browser


def test_open_the_link_confirm_and_the_alert_is_acknowledged(web, phone_page):
    alert_id, link = web.help_alert()
    events_before = len(alerts.history(alert_id))
    phone_page.goto(link)
    assert phone_page.locator("h1").inner_text() == "Bir müşteri yardım istiyor"
    assert "kiosk-1" in phone_page.locator("dl").inner_text()
    assert phone_page.input_value("#name") == "Ayşe Yılmaz"
    phone_page.reload()  # opening it again (as a chat app's preview would) changes nothing either
    assert alerts.get_alert(alert_id).state == "open" and len(alerts.history(alert_id)) == events_before
    assert UsedToken.select().count() == 0

    phone_page.fill("#eta", "2")
    phone_page.fill("#comment", "Kasadayım, geliyorum")
    web.clock.advance(20)
    phone_page.click("#acknowledge")
    assert phone_page.locator("#done").inner_text() == f"Teşekkürler Ayşe Yılmaz. Uyarı #{alert_id} 21.09.2026 17:13 itibarıyla sizde."
    assert "Ayşe Yılmaz üstlendi" in phone_page.locator("#state").inner_text()

    row = alerts.get_alert(alert_id)
    assert (row.state, row.acknowledged_by, row.eta_minutes) == ("acknowledged", "Ayşe Yılmaz", 2)
    trail = alerts.history(alert_id)[-1]
    assert (trail.action, trail.by, trail.channel, trail.comment) == ("acknowledged", "Ayşe Yılmaz", "link", "Kasadayım, geliyorum (ETA 2 min)")
    assert [r.id for r in web.acknowledged] == [alert_id]

    phone_page.goto(link)  # the same link again
    assert phone_page.locator("h1").inner_text() == "Bu bağlantı zaten kullanıldı"
    assert "Ayşe Yılmaz üstlendi" in phone_page.locator("#detail").inner_text()


@pytest.mark.parametrize("spoil", ["forged", "expired", "reused"])
def test_a_bad_link_shows_the_403_page_and_changes_nothing(web, phone_page, spoil):
    alert_id, link = web.help_alert()
    if spoil == "forged":
        link = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    elif spoil == "expired":
        web.clock.advance(web.config.notifications.link_valid_minutes * 60 + 1)
    else:
        assert httpx.post(link, data={"name": "Mehmet Kaya"}).status_code == 200  # used once already
    before = (alerts.get_alert(alert_id).state, len(alerts.history(alert_id)))
    response = phone_page.goto(link + "?lang=en")
    assert response.status == 403
    headline = {"forged": "This link is not valid", "expired": "This link has expired", "reused": "This link has already been used"}[spoil]
    assert phone_page.locator("h1").inner_text() == headline
    assert "Nothing was changed" in phone_page.locator("#message").inner_text()
    assert phone_page.locator("#fix").inner_text()
    assert phone_page.locator("form").count() == 0
    assert (alerts.get_alert(alert_id).state, len(alerts.history(alert_id))) == before


def test_call_back_form_bad_number_then_good_number(web, phone_page, caplog):
    alert_id, _ = web.help_alert()
    phone_page.goto(web.callback_link(alert_id))
    assert phone_page.locator("h1").inner_text() == "Sizi arayalım"
    assert "30 gün sonra silinir" in phone_page.locator("details.notice").inner_text()
    phone_page.fill("#phone", "0532 12")
    phone_page.check("#consent")
    phone_page.click("#call-me")
    assert "Numara eksik görünüyor" in phone_page.locator("#phone-error").inner_text()
    assert phone_page.input_value("#phone") == "0532 12", "what they typed is kept"
    assert phone_page.is_checked("#consent")
    assert CallbackRequest.select().count() == 0

    phone_page.fill("#phone", "0532 123 45 67")
    with caplog.at_level(logging.INFO, logger="fleet.web"):
        phone_page.click("#call-me")
        assert phone_page.locator("#done").inner_text() == "Teşekkürler. Sizi +90 532 123 45 67 numarasından arayacağız."
    assert CallbackRequest.get().phone == "+905321234567"
    (queued,) = Notification.select().where(Notification.contact == "callcentre")
    assert "+90 532 123 45 67" in queued.body and queued.state == "pending"
    logged = [record for record in caplog.records if record.getMessage() == "call-back requested"]
    assert logged and logged[0].phone == "+90 5** *** ** 67"
    assert "123 45" not in caplog.text and "1234567" not in caplog.text


def test_flooding_shows_the_429_page(store, clock, phone_page):
    rig = WebRig(web_config(), clock, settings=WebSettings(pages_per_minute=3)).start()
    try:
        _, link = rig.help_alert()
        statuses = [phone_page.goto(link + "?lang=en").status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert phone_page.locator("h1").inner_text() == "Too many requests"
        assert phone_page.locator("#fix").inner_text() == "Wait a minute and try again."
    finally:
        rig.stop()
