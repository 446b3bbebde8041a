"""Screenshots of every screen at both supported resolutions, saved as PNG and measured on their
pixels: the words are drawn in full above the right buttons, scale answers differ by face as well
as colour, neighbouring colours stay apart under colour-blindness simulation, text contrast meets
WCAG AA, and letters are large enough to read from 2 m."""

from dataclasses import replace

import pygame
import pytest

from hardware.profiles import load_profile
from kiosk.colour import contrast, difference
from kiosk.config import BrandingConfig
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, load_survey, parse_survey
from kiosk.faces import FACES
from kiosk.palette import BACKGROUND, CHOICE, MUTED, scale_steps
from kiosk.screen import Key, Screen
from kiosk.screenshots import all_views, help_views, render_all
from kiosk.view import View
from tests.pixels import Image, far_from, ink_of, mask

SIZES = [(800, 480), (1920, 1080)]
VIEWS = all_views(load_survey(DEFAULT_SURVEY_PATH))
SCALE_VIEWS = [(name, view) for name, view in all_views(load_survey(DEFAULT_SURVEY_PATH), feedback=False) if view.options and view.question_kind == "scale"]
ids = lambda v: v if isinstance(v, str) else ""

# The bars of issue 9 (kiosk/palette.py and kiosk/legibility.py say why).
MIN_DELTA_E = 20.0
MIN_GREY_CONTRAST = 1.8
MIN_TEXT_CONTRAST = 4.5
MIN_QUESTION_CAP_800 = 48
MIN_LABEL_CAP_800 = 30


class Screens:
    """One display at a time (pygame has one): the screen asked for, reused while it stays the same."""

    def __init__(self):
        self.current = None
        self.made_with = None

    def get(self, size, profile="arcade-4", branding=None):
        if self.made_with != (size, profile, branding):
            self.close()
            self.current, self.made_with = Screen(load_profile(profile), size, "headless", branding=branding), (size, profile, branding)
        return self.current

    def close(self):
        if self.current is not None:
            self.current.close()
        self.current = self.made_with = None


@pytest.fixture(scope="module")
def screens():
    screens = Screens()
    yield screens
    screens.close()


@pytest.fixture(params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def screen(request, screens):
    return screens.get(request.param)


@pytest.fixture
def small(screens):
    return screens.get((800, 480))


def shot(screen, view, path):
    """Draw *view* from scratch, save it as PNG and read the file back."""
    assert screen.show(view, force=True)
    return Image.load(screen.save(path))


def card_colour_seen(image, card, vision):
    """A card's colour as someone with *vision* sees it: its pixels simulated, the commonest one."""
    seen = image.crop(card).simulated(vision)
    return seen.dominant((0, 0, seen.width, seen.height))


def inside(rect, size):
    x, y, w, h = rect
    return x >= 0 and y >= 0 and x + w <= size[0] and y + h <= size[1]


@pytest.mark.parametrize("name, view", VIEWS, ids=ids)
def test_every_screen_draws_its_words_and_labels_above_the_buttons(screen, name, view, tmp_path):
    image = shot(screen, view, tmp_path / f"{name}.png")
    layout = screen.layout
    width, height = screen.size
    assert (image.width, image.height) == screen.size

    # The main text: all of it, inside the screen, and really drawn.
    assert " ".join(layout.text_lines).split() == view.text.split()
    assert inside(layout.text, screen.size)
    assert far_from(ink_of(image, layout.text, BACKGROUND), BACKGROUND)

    if view.kind in ("thank_you", "help"):
        assert layout.cards == {}
        return

    # Each option: a card centred above its physical button, in its colour, with its label.
    profile = screen.profile
    assert set(layout.cards) == {o.button for o in view.options}
    rects = sorted(layout.cards.values())
    for left, right in zip(rects, rects[1:]):
        assert left[0] + left[2] <= right[0], "cards do not overlap"
    expected = [c for c, _ in scale_steps(len(view.options))] if view.question_kind == "scale" else [CHOICE] * len(view.options)
    for option, colour in zip(view.options, expected):
        x, y, w, h = layout.cards[option.button]
        spec = profile.button(option.button)
        assert abs((x + w / 2) - spec.position * width) <= w / 2
        assert y >= layout.text[1] + layout.text[3], "answers sit below the question, nearest the buttons"
        assert y + h > height * 0.8 and inside(layout.cards[option.button], screen.size)
        assert layout.card_colours[option.button] == colour
        assert image.dominant(layout.cards[option.button]) == colour
        assert " ".join(layout.card_lines[option.button]).replace("- ", "").split() == option.label.split()
        assert inside(layout.label_rects[option.button], (x + w, y + h)), "the label is on its card"
    if view.kind == "attract":
        assert layout.heading is not None and inside(layout.heading, screen.size)
        assert layout.languages is not None and inside(layout.languages, screen.size)
        assert view.secondary is not None
        assert " ".join(layout.secondary_lines).split() == view.secondary.text.split()
        assert layout.secondary_cap_px < layout.text_cap_px, "the second language is the smaller one"
        for option in view.secondary.options:
            assert " ".join(layout.secondary_card_lines[option.button]).split() == option.label.split()


@pytest.mark.parametrize("name, view", [(n, v) for n, v in VIEWS if v.options], ids=ids)
def test_faces_on_scale_questions_and_none_on_choice_questions(screen, name, view, tmp_path):
    image = shot(screen, view, tmp_path / f"{name}.png")
    layout = screen.layout
    marks = [layout.marks[o.button] for o in view.options]
    if view.question_kind == "choice":
        assert not any(m in FACES for m in marks), "a choice has no better or worse answer: no faces"
        assert len({layout.card_colours[o.button] for o in view.options}) == 1, "one neutral colour"
        assert marks == [o.icon for o in view.options]
    else:
        assert all(m in FACES for m in marks) and len(set(marks)) == len(marks)
    shapes = []
    for option in view.options:
        if layout.marks[option.button] is None:
            continue
        rect = layout.mark_rects[option.button]
        card = layout.card_colours[option.button]
        drawn = mask(image, rect, layout.label_ink[option.button], card)
        assert len(drawn) > 0.08 * rect[2] * rect[3], f"{layout.marks[option.button]} is drawn"
        shapes.append(drawn)
    # Neighbouring faces (or icons) differ in shape, not only in colour.
    for left, right in zip(shapes, shapes[1:]):
        assert len(left ^ right) > 0.15 * max(len(left), len(right))


@pytest.mark.parametrize("vision", ["normal", "deuteranopia", "protanopia", "tritanopia", "greyscale"])
def test_neighbouring_answers_stay_apart_in_every_colour_vision(small, vision, tmp_path):
    """Simulated on the saved PNG (Machado et al. 2009, severity 1), colours read from its pixels."""
    for name, view in SCALE_VIEWS:
        image = shot(small, view, tmp_path / f"{name}.png")
        colours = [card_colour_seen(image, small.layout.cards[o.button], vision) for o in view.options]
        for left, right in zip(colours, colours[1:]):
            if vision == "greyscale":
                assert contrast(left, right) >= MIN_GREY_CONTRAST, (name, left, right)
            else:
                assert difference(left, right) >= MIN_DELTA_E, (name, left, right)


FIVE_AND_THREE = """
id = "five"
version = 1
languages = ["en"]
welcome = { en = "Hello" }
thank_you = { en = "Thanks" }
[[questions]]
id = "five"
text = { en = "How was it?" }
options = [
  { id = "a", button = 1, negative = true, label = { en = "Awful" } },
  { id = "b", button = 2, negative = true, label = { en = "Bad" } },
  { id = "c", button = 3, label = { en = "OK" } },
  { id = "d", button = 4, label = { en = "Good" } },
  { id = "e", button = 5, label = { en = "Great" } },
]
[[questions]]
id = "three"
text = { en = "And the coffee?" }
options = [
  { id = "a", button = 1, negative = true, label = { en = "Bad" } },
  { id = "c", button = 3, label = { en = "OK" } },
  { id = "e", button = 5, label = { en = "Good" } },
]
"""


def test_five_and_three_option_scales_stay_apart_too(screens, tmp_path):
    screen = screens.get((800, 480), "arcade-5")
    for name, view in all_views(parse_survey(FIVE_AND_THREE), feedback=False):
        if not view.options:
            continue
        image = shot(screen, view, tmp_path / f"{name}.png")
        for vision in ("normal", "deuteranopia", "protanopia", "tritanopia", "greyscale"):
            colours = [card_colour_seen(image, screen.layout.cards[o.button], vision) for o in view.options]
            for left, right in zip(colours, colours[1:]):
                if vision == "greyscale":
                    assert contrast(left, right) >= MIN_GREY_CONTRAST, (name, vision)
                else:
                    assert difference(left, right) >= MIN_DELTA_E, (name, vision)


@pytest.mark.parametrize("name, view", VIEWS, ids=ids)
def test_text_contrast_measured_on_pixels(small, name, view, tmp_path):
    image = shot(small, view, tmp_path / f"{name}.png")
    layout = small.layout
    assert contrast(ink_of(image, layout.text, BACKGROUND), image.dominant((0, 0, *small.size))) >= MIN_TEXT_CONTRAST
    if layout.secondary_text:
        assert contrast(ink_of(image, layout.secondary_text, BACKGROUND), BACKGROUND) >= MIN_TEXT_CONTRAST
    if layout.heading:
        assert contrast(ink_of(image, layout.heading, BACKGROUND), BACKGROUND) >= MIN_TEXT_CONTRAST
    for option in view.options:
        card = image.dominant(layout.cards[option.button])
        ink = ink_of(image, layout.label_rects[option.button], card)
        assert contrast(ink, card) >= MIN_TEXT_CONTRAST, (option.label, ink, card)


@pytest.mark.parametrize("name, view", [(n, v) for n, v in VIEWS if v.kind not in ("thank_you", "help")], ids=ids)
def test_questions_and_labels_are_large_enough_to_read_from_two_metres(small, name, view):
    """On the 7" panel: capitals ≥ 48 px for questions and ≥ 30 px for labels, in both languages."""
    small.show(view, force=True)
    layout = small.layout
    assert layout.text_cap_px >= MIN_QUESTION_CAP_800, view.text
    assert layout.label_cap_px >= MIN_LABEL_CAP_800, [o.label for o in view.options]


def test_cap_height_is_what_the_pixels_show(small):
    """The layout's cap heights come from font metrics: they match a capital H drawn at that size."""
    for px in (small.layout.label_font_px or 41, 66):
        glyph = small.font(px).render("H", True, (255, 255, 255), (0, 0, 0))
        image = Image(glyph.get_width(), glyph.get_height(), pygame.image.tobytes(glyph, "RGB"))
        rows = [y for y in range(image.height) if any(image.pixel(x, y)[0] > 127 for x in range(image.width))]
        assert abs((rows[-1] - rows[0] + 1) - small.cap_height(px)) <= 1


def test_a_changed_view_repaints_only_what_changed_and_matches_a_full_repaint(small, tmp_path):
    survey = load_survey(DEFAULT_SURVEY_PATH)
    views = dict(all_views(survey))
    sequence = [
        "attract-tr", "attract-chosen-tr", "question-what-went-wrong-tr", "question-recommend-tr", "question-recommend-not-an-option-tr",
        "question-what-went-wrong-countdown-tr", "thank-you-tr", "thank-you-ready-tr", "attract-en", "attract-chosen-en", "attract-tr",
    ]
    small.show(views[sequence[0]], force=True)
    for name in sequence[1:]:
        assert small.show(views[name])
        partial = Image.load(small.save(tmp_path / f"{name}-partial.png"))
        whole = shot(small, views[name], tmp_path / f"{name}-full.png")
        assert partial == whole, f"{name}: the partial repaint left something behind"
        small.show(views[sequence[0]], force=True)
        small.show(views[name])  # leave the partial-repaint path's state for the next step
    # The chosen card's highlight repaints the card row only, not the screen.
    small.show(views["attract-tr"], force=True)
    small.show(views["attract-chosen-tr"])
    area = sum(w * h for _, _, w, h in small.repainted)
    assert 0 < area < 0.2 * small.size[0] * small.size[1]


@pytest.mark.parametrize("button", [1, 2, 3, 4])
def test_the_chosen_card_is_ringed_in_its_text_colour(small, button, tmp_path):
    view = replace(dict(VIEWS)["attract-tr"], chosen_button=button)
    image = shot(small, view, tmp_path / "chosen.png")
    for option in view.options:
        x, y, w, h = small.layout.cards[option.button]
        edge = image.pixel(x + 4, y + h // 2)
        colour = small.layout.card_colours[option.button]
        if option.button == button:
            assert small.layout.chosen == (x, y, w, h)
            assert edge == small.layout.label_ink[option.button], "a ring in the card's text colour"
            assert contrast(edge, colour) >= MIN_TEXT_CONTRAST
        else:
            assert edge == colour


def test_a_button_that_is_not_an_option_gets_a_quiet_cue_in_its_empty_slot(small, tmp_path):
    view = dict(VIEWS)["question-recommend-not-an-option-tr"]
    image = shot(small, view, tmp_path / "cue.png")
    layout = small.layout
    cue = layout.not_an_option
    assert cue is not None and view.not_an_option_button not in layout.cards
    centre = cue[0] + cue[2] / 2
    assert abs(centre - small.profile.button(view.not_an_option_button).position * small.size[0]) <= 2
    for card in layout.cards.values():
        assert cue[0] + cue[2] <= card[0] or card[0] + card[2] <= cue[0], "beside the cards, not over them"
    # Quiet: only the background and the muted grey (and blends of the two) are drawn there.
    for colour in image.colours(cue):
        assert all(min(b, m) - 2 <= c <= max(b, m) + 2 for c, b, m in zip(colour, BACKGROUND, MUTED)), colour


def test_countdown_and_ready_for_the_next_customer(small, tmp_path):
    views = dict(VIEWS)
    image = shot(small, views["question-what-went-wrong-countdown-en"], tmp_path / "countdown.png")
    assert small.layout.countdown is not None and inside(small.layout.countdown, small.size)
    assert far_from(ink_of(image, small.layout.countdown, BACKGROUND), BACKGROUND)
    shot(small, views["thank-you-ready-en"], tmp_path / "ready.png")
    pointers = small.layout.next_ready
    assert len(pointers) == len(small.profile.buttons)
    assert not any(p[1] < small.layout.text[1] + small.layout.text[3] for p in pointers), "below the thank-you text"


def test_branding_logo_and_accent_on_start_thank_you_and_help_screens_only(screens, tmp_path):
    logo = pygame.Surface((200, 80))
    logo.fill((0x00, 0x5C, 0xA9))
    pygame.image.save(logo, str(tmp_path / "logo.png"))
    accent = (0xE3, 0x0A, 0x17)
    screen = screens.get((800, 480), branding=BrandingConfig(logo=str(tmp_path / "logo.png"), accent="#e30a17"))
    for name, view in VIEWS:
        image = shot(screen, view, tmp_path / f"{name}.png")
        layout = screen.layout
        if view.kind in ("attract", "thank_you", "help"):  # not where a question or the offer needs every eye
            assert layout.logo is not None and image.dominant(layout.logo) == (0x00, 0x5C, 0xA9), name
            assert layout.accent is not None and image.pixel(400, 1) == accent, name
            if layout.heading:
                assert layout.heading[0] >= layout.logo[0] + layout.logo[2], "the heading starts after the logo"
        else:
            assert layout.logo is None and layout.accent is None and image.pixel(400, 1) == BACKGROUND, name


def test_turkish_letters_are_real_glyphs(screen):
    assert screen.missing_glyphs("İıŞşĞğÇçÖöÜü") == ""
    font = screen.font(64)
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
    assert screen.show(replace(view, language="en", text="Thank you"))
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
    assert len(paths) == len(all_views(survey))
    help_screens = len(help_views(survey, "tr"))  # the offer and the screens after it
    assert help_screens == 10  # offer, sending, waiting, coming ×2, call-back ×3, fallback ×2
    assert len(all_views(survey, feedback=False)) == 2 * (1 + len(survey.questions) + 2 + help_screens)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_a_screen_painted_ahead_is_shown_by_a_copy_and_looks_the_same(small, tmp_path):
    views = dict(VIEWS)
    small.show(views["attract-chosen-tr"], force=True)
    small.prepare_next(views["question-recommend-tr"])
    assert small.show(views["question-recommend-tr"])
    assert small.copied and small.repainted == [(0, 0, *small.size)], "most of the screen changed: one copy of it"
    ahead = Image.load(small.save(tmp_path / "ahead.png"))
    assert ahead == shot(small, views["question-recommend-tr"], tmp_path / "fresh.png")

    # Painted ahead, but something else came first (a press): the painting is not used.
    small.show(views["question-recommend-tr"], force=True)
    small.prepare_next(views["thank-you-tr"])
    assert small.show(views["question-recommend-not-an-option-tr"]) and not small.copied
    cue = Image.load(small.save(tmp_path / "cue.png"))
    assert cue == shot(small, views["question-recommend-not-an-option-tr"], tmp_path / "cue-fresh.png")


def test_a_view_near_the_one_painted_ahead_starts_from_it(small, tmp_path):
    """On thank-you the start screen is painted ahead; a queueing customer's press shows it with
    the chosen card: a copy of the start screen and one card painted, same pixels as a fresh paint."""
    views = dict(VIEWS)
    small.show(views["thank-you-ready-tr"], force=True)
    small.prepare_next(views["attract-tr"])
    assert small.show(views["attract-chosen-tr"]) and small.copied
    near = Image.load(small.save(tmp_path / "near.png"))
    assert near == shot(small, views["attract-chosen-tr"], tmp_path / "fresh.png")
