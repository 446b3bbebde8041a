"""Headless screenshots of every screen at both supported resolutions, checked for content:
the words are drawn in full, each answer sits above its physical button in its colour,
and Turkish letters are real glyphs."""

import pygame
import pytest

from hardware.profiles import load_profile
from kiosk.screen import BACKGROUND, Key, Screen
from kiosk.screenshots import all_views, render_all
from kiosk.survey import DEFAULT_SURVEY_PATH, load_survey
from kiosk.view import View

SIZES = [(800, 480), (1920, 1080)]


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def screen(request):
    screen = Screen(load_profile("arcade-4"), request.param, "headless")
    yield screen
    screen.close()


def pixels_unlike(surface, rect, colour, tolerance=40):
    """How many pixels in *rect* differ clearly from *colour*: drawn text shows up here."""
    x, y, w, h = rect
    count = 0
    for px in range(x, x + w, 2):
        for py in range(y, y + h, 2):
            r, g, b, _ = surface.get_at((px, py))
            if abs(r - colour[0]) + abs(g - colour[1]) + abs(b - colour[2]) > tolerance:
                count += 1
    return count


def inside(rect, size):
    x, y, w, h = rect
    return x >= 0 and y >= 0 and x + w <= size[0] and y + h <= size[1]


@pytest.mark.parametrize("name, view", all_views(load_survey(DEFAULT_SURVEY_PATH)), ids=lambda v: v if isinstance(v, str) else "")
def test_every_screen_draws_its_words_and_labels_above_the_buttons(screen, name, view, tmp_path):
    assert screen.show(view, force=True)
    path = screen.save(tmp_path / f"{name}.png")
    image = pygame.image.load(str(path))
    layout = screen.layout
    width, height = screen.size
    assert image.get_size() == (width, height)

    # The main text: all of it, inside the screen, and really drawn.
    assert " ".join(layout.text_lines).split() == view.text.split()
    assert inside(layout.text, screen.size)
    assert pixels_unlike(image, layout.text, BACKGROUND) > 50
    assert layout.text_font_px >= (24 if height == 480 else 48), "legible from a step away"

    if view.kind == "thank_you":
        assert layout.cards == {}
        return

    # Each option: a card in its button's colour, centred above that physical button.
    profile = screen.profile
    assert set(layout.cards) == {o.button for o in view.options}
    rects = sorted(layout.cards.values())
    for left, right in zip(rects, rects[1:]):
        assert left[0] + left[2] <= right[0], "cards do not overlap"
    for option in view.options:
        x, y, w, h = layout.cards[option.button]
        spec = profile.button(option.button)
        assert abs((x + w / 2) - spec.position * width) <= w / 2
        assert y >= layout.text[1] + layout.text[3], "answers sit below the question, nearest the buttons"
        assert y + h > height * 0.8
        assert tuple(image.get_at((x + 4, y + h // 2)))[:3] == spec.colour
        assert " ".join(layout.card_lines[option.button]).replace("- ", "").split() == option.label.split()
        assert pixels_unlike(image, (x, y, w, h), spec.colour) > 20, "the label is drawn on the card"
    if view.kind == "attract":
        assert layout.heading is not None and inside(layout.heading, screen.size)
        assert layout.languages is not None and inside(layout.languages, screen.size)


def test_turkish_letters_are_real_glyphs(screen):
    assert screen.missing_glyphs("İıŞşĞğÇçÖöÜü") == ""
    font = screen._font(64)
    for turkish, latin in [("İ", "I"), ("ı", "i"), ("ş", "s"), ("ğ", "g"), ("ç", "c"), ("ö", "o"), ("ü", "u")]:
        a = pygame.image.tobytes(font.render(turkish, True, (255, 255, 255), (0, 0, 0)), "RGB")
        b = pygame.image.tobytes(font.render(latin, True, (255, 255, 255), (0, 0, 0)), "RGB")
        assert a != b, f"{turkish} must not be drawn like {latin}"


def test_redraws_only_when_the_view_changes(screen):
    view = View(kind="thank_you", language="tr", heading="", text="Teşekkürler")
    screen.show(view, force=True)
    frames = screen.frames
    assert not screen.show(View(kind="thank_you", language="tr", heading="", text="Teşekkürler"))
    assert screen.frames == frames
    assert screen.show(View(kind="thank_you", language="en", heading="", text="Thank you"))
    assert screen.frames == frames + 1


def test_long_text_shrinks_to_fit_and_keeps_every_word(screen):
    text = "Bugün mağazamızdaki alışveriş deneyiminizi, kasadaki bekleme süresini ve personelimizin ilgisini nasıl değerlendirirsiniz?"
    screen.show(View(kind="question", language="tr", heading="", text=text, options=()), force=True)
    assert " ".join(screen.layout.text_lines).split() == text.split()
    assert inside(screen.layout.text, screen.size)


def test_key_presses_arrive_through_pump(screen):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_3, mod=0, unicode="3", scancode=0))
    assert Key("3") in screen.pump()


def test_render_all_writes_every_screen(survey, profile, tmp_path):
    paths = render_all(survey, profile, (800, 480), tmp_path)
    assert len(paths) == len(all_views(survey)) == 2 * (1 + len(survey.questions) + 2)
    assert all(p.stat().st_size > 1000 for p in paths)
