"""The offer of help in a survey document and the site's fallback contact in the kiosk config:
the default survey's offer is right, and every mistake names its place and fix."""

from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config
from kiosk.contract.survey import HELP_SCREEN_TEXTS, SurveyError, parse_survey

SURVEY = """
id = "exit"
version = 1
languages = ["tr", "en"]
welcome = { tr = "Hoş geldiniz", en = "Welcome" }
thank_you = { tr = "Teşekkürler", en = "Thanks" }

[help_offer]
text = { tr = "Bir arkadaşımız gelsin mi?", en = "Shall a colleague come?" }
yes = { button = 2, label = { tr = "Evet", en = "Yes" } }
no = { button = 1, label = { tr = "Hayır", en = "No" } }

[[questions]]
id = "q1"
text = { tr = "Memnun musunuz?", en = "Are you happy?" }
  [[questions.options]]
  id = "no"
  button = 1
  negative = true
  label = { tr = "Hayır", en = "No" }
  [[questions.options]]
  id = "yes"
  button = 2
  label = { tr = "Evet", en = "Yes" }
"""


def test_the_default_survey_offers_a_colleague_yes_on_4_and_no_on_1(survey):
    offer = survey.help_offer
    assert offer.text == {"tr": "Bir çalışma arkadaşımız hemen yanınıza gelsin mi?", "en": "Shall a colleague come to you right now?"}
    assert (offer.yes_button, offer.no_button) == (4, 1)
    assert (offer.yes_label["tr"], offer.no_label["tr"]) == ("Evet", "Hayır")
    assert offer.words("coming", "tr", staff="Ayşe") == "Ayşe yanınıza geliyor, lütfen biraz bekleyin"
    assert offer.words("coming", "en", staff="Ayşe") == "Ayşe is on the way, please wait a moment"
    assert offer.words("call_back", "en") == "Scan and we will call you back"


def test_an_offer_is_optional_and_its_timings_have_defaults():
    assert parse_survey(SURVEY.replace(SURVEY[SURVEY.index("[help_offer]") : SURVEY.index("[[questions]]")], "")).help_offer is None
    offer = parse_survey(SURVEY).help_offer
    assert (offer.timeout_seconds, offer.help_seconds, offer.fallback_seconds, offer.confirm_seconds) == (10, 90, 15, 10)
    short = parse_survey(broken("[help_offer]\n", "[help_offer]\nhelp_seconds = 12\n")).help_offer
    assert short.confirm_seconds == 6, "half the help screens' time when that is shorter: the fallback still fits"
    assert parse_survey(broken("[help_offer]\n", "[help_offer]\nconfirm_seconds = 4.5\n")).help_offer.confirm_seconds == 4.5
    assert offer.screens == {key: {"tr": texts["tr"], "en": texts["en"]} for key, texts in HELP_SCREEN_TEXTS.items()}


def test_its_buttons_must_be_on_the_panel_like_the_questions():
    survey = parse_survey(SURVEY.replace("yes = { button = 2", "yes = { button = 5"))
    assert survey.buttons == frozenset({1, 2, 5})


def test_a_survey_in_another_language_writes_the_help_screens_itself():
    german = (
        SURVEY.replace('languages = ["tr", "en"]', 'languages = ["de"]')
        .replace('tr = "Hoş geldiniz", en = "Welcome"', 'de = "Willkommen"')
        .replace('tr = "Teşekkürler", en = "Thanks"', 'de = "Danke"')
        .replace('tr = "Bir arkadaşımız gelsin mi?", en = "Shall a colleague come?"', 'de = "Soll jemand kommen?"')
        .replace('tr = "Memnun musunuz?", en = "Are you happy?"', 'de = "Zufrieden?"')
        .replace('tr = "Evet", en = "Yes"', 'de = "Ja"')
        .replace('tr = "Hayır", en = "No"', 'de = "Nein"')
    )
    with pytest.raises(SurveyError) as caught:
        parse_survey(german, "anket.toml")
    assert caught.value.place == "help_offer → screens → waiting"
    assert 'no "de" text (the kiosk has it built in only for tr, en)' in caught.value.problem and "screens.waiting.de" in caught.value.fix
    screens = "\n".join(f'screens.{key}.de = "{texts["en"]} (de)"' for key, texts in HELP_SCREEN_TEXTS.items())
    survey = parse_survey(german.replace('no = { button = 1, label = { de = "Nein" } }', 'no = { button = 1, label = { de = "Nein" } }\n' + screens))
    assert survey.help_offer.words("coming", "de", staff="Jan") == "Jan is on the way, please wait a moment (de)"
    older = "\n".join(line for line in screens.splitlines() if not line.startswith("screens.sending."))
    survey = parse_survey(german.replace('no = { button = 1, label = { de = "Nein" } }', 'no = { button = 1, label = { de = "Nein" } }\n' + older))
    assert survey.help_offer.words("sending", "de") == "Please wait a moment (de)", "a survey written before 'sending' existed stays valid"


def broken(old, new):
    assert old in SURVEY, old
    return SURVEY.replace(old, new, 1)


CASES = [
    (broken("yes = { button = 2", "yes = { button = 1"), "help_offer → no → button", "button 1 is the yes button too", "yes = 4, no = 1"),
    (broken("yes = { button = 2", "yes = { button = 10"), "help_offer → yes → button", "button 10 does not exist", "from 1 (leftmost)"),
    (broken('en = "Shall a colleague come?"', 'de = "Soll jemand kommen?"'), "help_offer → text", 'no "en" text', "every language"),
    (broken('label = { tr = "Hayır", en = "No" } }', 'label = { tr = "Hayır" } }'), "help_offer → no → label", 'no "en" text', "add en ="),
    (broken("[help_offer]\n", "[help_offer]\ntimeout_seconds = 1\n"), "help_offer → timeout_seconds", "1 is out of range", "from 3 to 60"),
    (broken("[help_offer]\n", "[help_offer]\nhelp_seconds = 5000\n"), "help_offer → help_seconds", "5000 is out of range", "from 10 to 600"),
    (broken("[help_offer]\n", "handover_seconds = 3\n[help_offer]\nfallback_seconds = 2\n"), "help_offer → fallback_seconds", "shorter than the handover", "at least handover_seconds"),
    (broken("[help_offer]\n", '[help_offer]\nscreens.comming.en = "x"\n'), "help_offer → screens → comming", 'no help screen text is called "comming"', 'did you mean "coming"'),
    (broken("[help_offer]\n", '[help_offer]\nscreens.coming.en = "Someone is on the way"\n'), "help_offer → screens → coming", "lacks {staff}", "{staff} is on the way"),
    (broken("[help_offer]\n", '[help_offer]\nscreens.eta.en = "{name} min"\n'), "help_offer → screens → eta", "{name}, which the kiosk does not fill in", "{minutes}"),
    (broken("[help_offer]\n", '[help_offer]\nscreens.waiting.en = "Told {"\n'), "help_offer → screens → waiting", "broken {…}", "in pairs"),
    (broken("[help_offer]\n", '[help_offer]\nscreens.waiting.fr = "Prévenu"\n'), "help_offer → screens → waiting", '"fr", which is not in `languages`', 'add "fr"'),
    (broken("[help_offer]\n", "[help_offer]\nwait = 3\n"), "help_offer", 'unknown field "wait"', "typo"),
    (broken("[help_offer]\n", "[help_offer]\nconfirm_seconds = 0.5\n"), "help_offer → confirm_seconds", "0.5 is out of range", "from 1 to 30"),
    (
        broken("[help_offer]\n", "[help_offer]\nconfirm_seconds = 10\nhelp_seconds = 11\n"), "help_offer → confirm_seconds",
        "(10 s) and the handover (1.5 s) outlast the help screens (11 s)", "make confirm_seconds shorter",
    ),
]


@pytest.mark.parametrize("document, place, problem, fix", CASES)
def test_mistakes_in_the_offer_name_the_place_and_the_fix(document, place, problem, fix):
    with pytest.raises(SurveyError) as caught:
        parse_survey(document, "anket.toml")
    error = caught.value
    assert place in error.place and problem in error.problem and fix in error.fix, str(error)


# --- the kiosk config's [help] --------------------------------------------------------------------


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f"[help]\n{text}\n", encoding="utf-8")
    return path


def test_the_sites_phone_and_page_load(tmp_path):
    loaded = load_config(config(tmp_path, 'fallback_phone = "+90 (212) 555-01-23"\nfallback_url = "https://example.com/iletisim?k=1"'))
    assert loaded.help.fallback_phone == "+90 (212) 555-01-23" and loaded.help.configured
    assert not load_config(None).help.configured


def test_every_mistake_in_help_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(config(tmp_path, 'fallback_phone = "call us"\nfallback_url = "www.example.com"'))
    message = str(caught.value)
    assert "help.fallback_phone: 'call us' is not a phone number" in message and '"0212 555 01 23"' in message
    assert "help.fallback_url: 'www.example.com' is not a web address" in message and "starting with https://" in message


@pytest.mark.parametrize(
    "line, problem",
    [
        ('fallback_phone = "12"', "is not a phone number"),
        ('fallback_url = "https://example.com/' + "x" * 200 + '"', "too dense to scan"),
        ('fallback_url = "ftp://example.com"', "is not a web address"),
        ("phone = 1", "unknown field"),
    ],
)
def test_a_bad_help_value_is_refused_with_its_fix(tmp_path, line, problem):
    with pytest.raises(ConfigError, match=problem):
        load_config(config(tmp_path, line))
