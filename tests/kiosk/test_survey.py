"""Survey documents: the default one is right, and every mistake names its place and fix."""

import pytest

from kiosk.contract.survey import DEFAULT_SURVEY_PATH, SurveyError, load_survey, parse_survey

GOOD = """
id = "exit"
version = 1
languages = ["tr", "en"]
welcome = { tr = "Hoş geldiniz", en = "Welcome" }
thank_you = { tr = "Teşekkürler", en = "Thanks" }

[[questions]]
id = "q1"
text = { tr = "Memnun musunuz?", en = "Are you happy?" }
  [[questions.options]]
  id = "no"
  button = 1
  negative = true
  next = "why"
  label = { tr = "Hayır", en = "No" }
  [[questions.options]]
  id = "yes"
  button = 2
  label = { tr = "Evet", en = "Yes" }

[[questions]]
id = "why"
follow_up = true
text = { tr = "Neden?", en = "Why?" }
  [[questions.options]]
  id = "slow"
  button = 1
  label = { tr = "Yavaş", en = "Slow" }
  [[questions.options]]
  id = "rude"
  button = 2
  label = { tr = "Kaba", en = "Rude" }
"""


def test_default_survey_is_turkish_and_english(survey):
    assert survey.languages == ("tr", "en")
    assert survey.first.text["tr"] == "Ziyaretiniz nasıldı?"
    assert survey.question("recommend").text["tr"] == "Bizi tavsiye eder misiniz?"
    assert survey.buttons == frozenset({1, 2, 3, 4})


def test_branching_follows_next_then_file_order_skipping_follow_ups(survey):
    first = survey.first
    assert survey.after(first, first.option_for(1)).id == "what-went-wrong"
    assert survey.after(first, first.option_for(3)).id == "recommend"
    follow_up = survey.question("what-went-wrong")
    assert survey.after(follow_up, follow_up.option_for(1)).id == "recommend"
    last = survey.question("recommend")
    assert survey.after(last, last.option_for(4)) is None


def test_good_document_parses_and_end_is_reached():
    survey = parse_survey(GOOD)
    why = survey.question("why")
    assert survey.after(why, why.option_for(1)) is None
    assert survey.thank_you_negative == survey.thank_you  # defaults to the plain thank-you


def test_byte_order_mark_is_accepted():
    assert parse_survey(b"\xef\xbb\xbf" + GOOD.encode()).id == "exit"


def test_negative_threshold(survey):
    assert survey.is_negative(1, 2) and not survey.is_negative(1, 3) and not survey.is_negative(0, 0)


def broken(old, new, count=1):
    assert old in GOOD, old
    return GOOD.replace(old, new, count)


CASES = [
    # (document, expected place, words in the problem, words in the fix)
    (broken('version = 1', 'version = "1"'), "version", "Expected int, got str", "whole number"),
    (broken('version = 1', 'version = 0'), "version", "must be from 1 to 2147483647", "raise the version"),
    (broken('version = 1', 'version = 20261124093000'), "version", "must be from 1 to 2147483647", "not a date or a timestamp"),
    (broken('id = "exit"', 'id = "Çıkış Anketi"'), "id", "not a valid survey id", "lowercase"),
    (broken('languages = ["tr", "en"]', 'languages = ["TR", "en"]'), "languages", "not a language code", "ISO 639-1"),
    (broken('welcome = { tr = "Hoş geldiniz", en = "Welcome" }', 'welcome = { tr = "Hoş geldiniz" }'), "welcome", 'no "en" text', 'add en = '),
    (broken('text = { tr = "Neden?", en = "Why?" }', 'text = { tr = "Neden?", en = "  " }'), 'questions[2] "why" → text', "empty", "write the text"),
    (broken('label = { tr = "Kaba", en = "Rude" }', 'label = { tr = "Kaba", en = "Rude", de = "Grob" }'), 'options[2] "rude" → label', '"de", which is not in `languages`', "add"),
    (broken('  button = 2\n  label = { tr = "Evet"', '  button = 1\n  label = { tr = "Evet"'), 'questions[1] "q1" → options[2] "yes"', "button 1 is already used", "its own button"),
    (broken('  button = 2\n  label = { tr = "Evet"', '  button = 12\n  label = { tr = "Evet"'), 'options[2] "yes"', "button 12 does not exist", "1 (leftmost)"),
    (broken('next = "why"', 'next = "nedeen"'), 'questions[1] "q1" → options "no" → next', 'no question has the id "nedeen"', "why"),
    (broken('  negative = true\n  next', '  negatif = true\n  next'), 'questions[1] "q1" → options[1] "no"', 'unknown field "negatif"', "typo"),
    (broken('next = "why"', 'next = "q1"'), 'questions[1] "q1" → options "no" → next', "leads to itself", "later question"),
    (broken('  next = "why"\n', ''), 'questions[2] "why"', "no answer ever leads to this question", "next"),
    (broken('[[questions]]\nid = "q1"', '[[questions]]\nid = "q1"\nfollow_up = true'), 'questions[1] "q1"', "first question is marked follow_up", "move the follow-up"),
    ('id = "x"\nversion = 1\n', "", 'missing required field "languages"', 'add "languages"'),
    (broken('id = "q1"\n', 'id = "q1"\nkind = "skala"\n'), 'questions[1] "q1" → kind', "Invalid enum value 'skala'", '"scale"'),
    (broken('  id = "yes"\n', '  id = "yes"\n  icon = "clock"\n'), 'options[2] "yes" → icon', "a scale question shows faces, not icons", 'kind = "choice"'),
    (broken('id = "why"\n', 'id = "why"\nkind = "choice"\n').replace('  id = "rude"\n', '  id = "rude"\n  icon = "thumbs"\n'), 'options[2] "rude" → icon', 'no icon called "thumbs"', "clock, person"),
    (broken('  id = "yes"\n  button = 2\n', '  id = "yes"\n  button = 2\n  negative = true\n').replace('  id = "no"\n  button = 1\n  negative = true\n', '  id = "no"\n  button = 1\n'),
     'questions[1] "q1" → options "yes"', "a scale runs from the worst answer on the left", 'kind = "choice"'),
    ('id = "x"\nversion = 1\nlanguages = [\n', "", "not valid TOML", "double quotes"),
]


@pytest.mark.parametrize("document, place, problem, fix", CASES)
def test_mistakes_name_the_place_and_the_fix(document, place, problem, fix):
    with pytest.raises(SurveyError) as caught:
        parse_survey(document, "anket.toml")
    error = caught.value
    message = str(error)
    assert message.startswith("anket.toml: ")
    assert place in error.place, message
    assert problem in error.problem, message
    assert fix in error.fix, message


def test_idle_timeout_out_of_range():
    with pytest.raises(SurveyError, match="idle_timeout_seconds: 2 is out of range"):
        parse_survey("idle_timeout_seconds = 2\n" + GOOD)


@pytest.mark.parametrize(
    "line, place, fix",
    [
        ("burst_presses = 1", "burst_presses", "from 2 to 50, or 0"),
        ("read_seconds = 3", "read_seconds", "from 0 to 2"),
        ("feedback_seconds = 2", "feedback_seconds", "from 0 to 1"),
        ("pause_seconds = 0", "pause_seconds", "from 1 to 600"),
        ("countdown_seconds = 12", "countdown_seconds", "at most the whole idle timeout"),
        ("handover_seconds = 5", "handover_seconds", "at most thank_you_seconds"),
        ("misuse_window_seconds = 5", "misuse_window_seconds", "at most thank_you_seconds"),
        ("handover_seconds = 1\nmisuse_window_seconds = 1", "misuse_window_seconds", "remove misuse_window_seconds"),
    ],
)
def test_timing_keys_out_of_range_name_the_key_and_the_fix(line, place, fix):
    with pytest.raises(SurveyError) as caught:
        parse_survey(line + "\n" + GOOD)
    assert caught.value.place == place and fix in caught.value.fix


def test_timing_defaults_and_the_old_key_names():
    survey = parse_survey(GOOD)
    assert (survey.idle_timeout_seconds, survey.countdown_seconds, survey.pause_seconds) == (9, 4, 5)
    assert (survey.read_seconds, survey.feedback_seconds, survey.burst_presses, survey.burst_window_seconds) == (0.5, 0.3, 4, 2)
    assert (survey.thank_you_seconds, survey.handover_seconds) == (4, 1.5)
    # A survey written for an older kiosk still loads: the old name of the handover, and the
    # start screen's language rotation, which no longer exists, read and ignored.
    old = parse_survey("misuse_window_seconds = 3\nattract_rotate_seconds = 6\n" + GOOD)
    assert old.handover_seconds == 3 and not hasattr(old, "attract_rotate_seconds")


def test_the_bundled_survey_states_every_timing_key_at_its_default():
    bundled, defaults = load_survey(DEFAULT_SURVEY_PATH), parse_survey(GOOD)
    for key in ("idle_timeout_seconds", "countdown_seconds", "pause_seconds", "read_seconds", "feedback_seconds", "burst_presses", "burst_window_seconds", "thank_you_seconds", "handover_seconds"):
        assert getattr(bundled, key) == getattr(defaults, key), key
        assert f"\n{key} = " in DEFAULT_SURVEY_PATH.read_text(encoding="utf-8"), key


def test_too_many_options():
    options = "".join(f'\n  [[questions.options]]\n  id = "o{i}"\n  button = {i}\n  label = {{ tr = "a", en = "b" }}\n' for i in range(3, 7))
    document = broken('  label = { tr = "Evet", en = "Yes" }\n', '  label = { tr = "Evet", en = "Yes" }\n' + options)
    with pytest.raises(SurveyError, match="6 options") as caught:
        parse_survey(document)
    assert "2 to 5" in caught.value.fix


def test_loops_are_refused():
    document = broken('id = "why"\nfollow_up = true', 'id = "why"\nfollow_up = true\nnext = "q1"')
    with pytest.raises(SurveyError, match="the answers loop: q1 → why → q1"):
        parse_survey(document)


def test_windows_1254_file_is_explained(tmp_path):
    path = tmp_path / "anket.toml"
    path.write_bytes(GOOD.encode("cp1254"))
    with pytest.raises(SurveyError) as caught:
        load_survey(path)
    assert "not UTF-8" in caught.value.problem and "Windows-1254" in caught.value.problem
    assert caught.value.place == "line 5"


def test_missing_file(tmp_path):
    with pytest.raises(SurveyError, match="file not found"):
        load_survey(tmp_path / "yok.toml")


def test_default_path_points_inside_the_package():
    assert DEFAULT_SURVEY_PATH.is_file()


def test_question_kinds_and_icons(survey):
    assert [q.kind for q in survey.questions] == ["scale", "choice", "scale"]
    reasons = survey.question("what-went-wrong")
    assert [o.icon for o in reasons.options] == ["clock", "person", "sparkle", "tag"]
    assert all(o.icon is None for o in survey.first.options)


def test_kind_defaults_to_scale_and_a_choice_may_mix_negative_answers():
    assert [q.kind for q in parse_survey(GOOD).questions] == ["scale", "scale"]
    mixed = broken('id = "why"\n', 'id = "why"\nkind = "choice"\n').replace('  id = "rude"\n', '  id = "rude"\n  negative = true\n  icon = "person"\n')
    why = parse_survey(mixed).question("why")
    assert why.kind == "choice" and [o.negative for o in why.options] == [False, True] and why.options[1].icon == "person"


def test_every_icon_a_survey_may_name_has_a_drawing():
    from kiosk.contract.survey import ICON_NAMES
    from kiosk.faces import ICONS

    assert set(ICONS) == set(ICON_NAMES)
