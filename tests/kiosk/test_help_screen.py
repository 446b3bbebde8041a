"""The help screens at 800x480 and 1080p, saved as PNG and measured on their pixels: the words
in full and readable from 2 m, the QR code crisp and read back by a real decoder (ZXing)."""

import pytest

from hardware.profiles import load_profile
from kiosk import qr
from kiosk.colour import contrast
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, load_survey
from kiosk.flow import Contact, Helping, KioskState
from kiosk.legibility import PANELS
from kiosk.palette import BACKGROUND
from kiosk.screen import Screen
from kiosk.screenshots import SAMPLE_CALLBACK_URL, SAMPLE_CONTACT, help_views
from kiosk.view import view_of
from tests.pixels import Image, far_from, ink_of

SIZES = {(800, 480): PANELS["pi-7in"], (1920, 1080): PANELS["15in-1920x1080"]}
SURVEY = load_survey(DEFAULT_SURVEY_PATH)
HELP_VIEWS = [(name, view) for language in SURVEY.languages for name, view in help_views(SURVEY, language)]
ids = lambda v: v if isinstance(v, str) else ""


@pytest.fixture(scope="module", params=list(SIZES), ids=lambda s: f"{s[0]}x{s[1]}")
def screen(request):
    screen = Screen(load_profile("arcade-4"), request.param, "headless")
    yield screen
    screen.close()


def shot(screen, view, path):
    assert screen.show(view, force=True)
    return Image.load(screen.save(path))


@pytest.mark.parametrize("name, view", HELP_VIEWS, ids=ids)
def test_every_help_screen_shows_its_words_in_full_readable_from_two_metres(screen, name, view, tmp_path):
    image = shot(screen, view, tmp_path / f"{name}.png")
    layout, panel = screen.layout, SIZES[screen.size]
    assert " ".join(layout.text_lines).split() == view.text.split()
    assert far_from(ink_of(image, layout.text, BACKGROUND), BACKGROUND)
    assert contrast(ink_of(image, layout.text, BACKGROUND), BACKGROUND) >= 4.5
    if view.kind == "help_offer":
        assert set(layout.cards) == {1, 4}, "no on button 1, yes on button 4"
        assert layout.marks == {1: "cross", 4: "check"}
        assert layout.text_cap_px >= panel.question_px and layout.label_cap_px >= panel.label_px
        return
    if view.help.stage == "contact":
        assert layout.text_cap_px >= panel.label_px, "the site's number, at least as large as an answer"
    else:
        assert layout.text_cap_px >= panel.question_px, "what happens now, as large as a question"
    if view.help.lines or view.help.qr_text:
        assert layout.help_lines_cap_px >= panel.label_px
        drawn = [" ".join(lines).split() for lines in layout.help_lines]
        assert drawn == [line.split() for line in (*view.help.lines, view.help.qr_text) if line]


@pytest.mark.parametrize("name, view", [(n, v) for n, v in HELP_VIEWS if v.help and v.help.qr], ids=ids)
def test_the_qr_code_is_crisp_and_a_real_decoder_reads_it(screen, name, view, tmp_path):
    image = shot(screen, view, tmp_path / f"{name}.png")
    assert image.qr_texts() == [view.help.qr]
    layout = screen.layout
    module = layout.qr_module_px
    assert module >= qr.MIN_MODULE_PX
    x, y, side, _ = layout.qr
    assert side == qr.encode(view.help.qr).size * module, "whole pixels per module"
    quiet = qr.QUIET_ZONE * module
    assert set(image.colours((x, y, side, quiet))) == {qr.LIGHT} and set(image.colours((x, y, quiet, side))) == {qr.LIGHT}, "a light quiet zone"
    assert set(image.colours(layout.qr)) == {qr.DARK, qr.LIGHT}, "only black and white: no smoothing between modules"


@pytest.mark.parametrize("length", [60, 120, 200])
def test_a_call_back_link_as_long_as_the_fleets_is_scannable_on_the_small_panel(length, tmp_path):
    url = ("https://nabiz.example.com/callback/" + "Ab9_-" * 60)[:length]
    screen = Screen(load_profile("arcade-4"), (800, 480), "headless")
    try:
        helping = Helping("tr", "uuid", since=0.0, call_back_at=0.0, stage="call_back", callback_url=url)
        image = shot(screen, view_of(KioskState(SURVEY, helping), 0.0), tmp_path / "call-back.png")
        assert screen.layout.qr_module_px >= qr.MIN_MODULE_PX and image.qr_texts() == [url]
    finally:
        screen.close()


def test_the_qr_code_is_made_once_not_in_every_frame(tmp_path):
    screen = Screen(load_profile("arcade-4"), (800, 480), "headless")
    try:
        url = SAMPLE_CALLBACK_URL + "?once"
        helping = Helping("en", "uuid", since=0.0, call_back_at=0.0, stage="call_back", callback_url=url)
        call_back = view_of(KioskState(SURVEY, helping, contact=SAMPLE_CONTACT), 0.0)
        waiting = view_of(KioskState(SURVEY, Helping("en", "uuid", since=0.0, call_back_at=45.0)), 0.0)
        before = qr.encode.cache_info()
        for _ in range(3):
            screen.show(call_back)
            screen.show(waiting)
        after = qr.encode.cache_info()
        assert after.misses - before.misses == 1, "encoded once"
        pieces = [key for key in screen._pieces if isinstance(key, tuple) and key[:2] == ("qr", url)]
        assert len(pieces) == 1, "scaled and kept once"
    finally:
        screen.close()


def test_without_a_call_back_link_or_a_site_number_the_customer_is_sent_to_the_till(tmp_path):
    helping = Helping("en", "uuid", since=0.0, call_back_at=0.0, stage="call_back")
    assert view_of(KioskState(SURVEY, helping), 0.0).text == "Please tell a colleague at the till"
    assert view_of(KioskState(SURVEY, helping, contact=Contact(url="https://example.com/c")), 0.0).text == "Scan to reach us"
    assert view_of(KioskState(SURVEY, helping, contact=Contact(phone="0212 555 01 23")), 0.0).text == "Call us: 0212\u00a0555\u00a001\u00a023"
