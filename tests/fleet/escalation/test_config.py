"""fleet.toml's escalation sections: the example is valid; a broken file lists EVERY problem."""

from __future__ import annotations

import tomllib

import pytest

from fleet.escalation.config import EXAMPLE_PATH, EscalationConfigError, check_document, load_file, shown
from fleet.escalation.targets import mask_phone_numbers, url_problem, with_timeouts


def example() -> dict:
    return tomllib.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))


def test_the_bundled_example_is_valid_and_typed():
    config = load_file(EXAMPLE_PATH)
    assert [site.id for site in config.sites] == ["kadikoy", "airport-g4"]
    assert config.site("kadikoy").help_wait_seconds == 45 and config.site("kadikoy").language == "tr"
    mood = config.rule_by_id["mood"]
    assert (mood.percent, mood.minutes, mood.min_responses) == (50, 15, 4)
    assert config.policy_by_id["staff-now"].repeat == 2


def test_every_problem_is_reported_at_once_with_path_fix_and_did_you_mean():
    document = example()
    document["contacts"][0]["urlz"] = document["contacts"][0].pop("urls")  # unknown key (and so a missing one)
    document["contacts"][1]["urls"] = ["jsn://hooks.example.com/x"]  # not an apprise scheme
    document["rules"][2]["minutes"] = 0  # a window of 0
    document["rules"][1]["policy"] = "cleanin"  # unknown policy
    document["contacts"][2]["sites"] = ["kadikoi"]  # unknown site
    document["policies"][0]["stages"][0]["contacts"] = ["ayshe"]  # unknown contact
    document["sites"][0]["help_wait_seconds"] = "45"  # wrong type
    with pytest.raises(EscalationConfigError) as caught:
        check_document(document, "fleet.toml")
    text = str(caught.value)
    problems = {(p.path, p.problem) for p in caught.value.problems}
    assert text.startswith("fleet.toml: 8 problems")
    assert ('contacts[1] "ayse" → urlz', 'unknown key "urlz" (did you mean "urls"?)') in problems
    assert ('contacts[1] "ayse"', 'missing key "urls"') in problems
    assert ('contacts[2] "cleaning" → urls[1]', '"jsn://" is not a kind of URL apprise knows (did you mean "json"?)') in problems
    assert ('rules[3] "mood" → minutes', "a window of 0 minutes never holds a response") in problems
    assert ('rules[2] "cleanliness" → policy', 'unknown policy "cleanin" (did you mean "cleaning"?)') in problems
    assert ('contacts[3] "tech" → sites', 'unknown site "kadikoi" (did you mean "kadikoy"?)') in problems
    assert ('policies[1] "staff-now" → stages[1] → contacts', 'unknown contact "ayshe" (did you mean "ayse"?)') in problems
    assert any(path == 'sites[1] "kadikoy" → help_wait_seconds' and "Expected `int`".replace("`", "") in problem for path, problem in problems)
    assert all(problem.fix for problem in caught.value.problems)
    assert text.count("\n  fix: ") == 8


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d.update(sitez=[]), "sitez", 'did you mean "sites"'),
        (lambda d: d["rules"][0].update(kind="respons"), 'rules[1] "help-request" → kind', 'did you mean "response"'),
        (lambda d: d["sites"][0].update(time_zone="Europe/Istanbl"), 'sites[1] "kadikoy" → time_zone', "not a time zone"),
        (lambda d: d["sites"][0].update(opening_hours=["mon-fri 08:00-08:00"]), 'sites[1] "kadikoy" → opening_hours[1]', "a window of 0"),
        (lambda d: d["contacts"][0].update(active_hours=["weekdays 08:00-17:00"]), 'contacts[1] "ayse" → active_hours[1]', "not a day"),
        (lambda d: d["rules"][3].update(after_minutes=0), 'rules[4] "kiosk-offline" → after_minutes', "a window of 0"),
        (lambda d: d["rules"][2].update(percent=0), 'rules[3] "mood" → percent', "Expected"),
        (lambda d: d["policies"][0]["stages"].append({"after_minutes": 5}), 'policies[1] "staff-now" → stages[3]', "notifies nobody"),
        (lambda d: d["rules"][1].update(options=[]), 'rules[2] "cleanliness"', 'on = "answer" needs'),
        (lambda d: d["sites"].append(dict(d["sites"][0])), 'sites[3] "kadikoy"', "used more than once"),
        (lambda d: d["contacts"][0].update(urls=["json://"]), 'contacts[1] "ayse" → urls[1]', "apprise cannot read"),
    ],
)
def test_each_kind_of_mistake_is_named(change, path, words):
    document = example()
    change(document)
    with pytest.raises(EscalationConfigError) as caught:
        check_document(document, "fleet.toml")
    assert any(p.path == path and words in p.problem for p in caught.value.problems), [str(p) for p in caught.value.problems]


def test_each_on_has_its_scopes_and_a_help_rule_is_always_one_alert_per_customer():
    config = load_file(EXAMPLE_PATH)
    assert config.rule_by_id["help-request"].scope == "response", "the default for on = help"
    assert config.rule_by_id["cleanliness"].scope == "site"
    document = example()
    document["rules"].append({"id": "unhappy", "kind": "response", "on": "negative", "policy": "staff-now"})
    assert check_document(document).rule_by_id["unhappy"].scope == "device", "the default for on = negative"
    for scope in ("device", "site"):
        document = example()
        document["rules"][0]["scope"] = scope
        with pytest.raises(EscalationConfigError) as caught:
            check_document(document, "fleet.toml")
        (problem,) = caught.value.problems
        assert problem.path == 'rules[1] "help-request" → scope' and "nobody is told" in problem.problem
        assert problem.fix.startswith("remove the scope line")
    document = example()
    document["rules"][1]["scope"] = "kiosk"
    with pytest.raises(EscalationConfigError) as caught:
        check_document(document, "fleet.toml")
    (problem,) = caught.value.problems
    assert problem.path == 'rules[2] "cleanliness" → scope' and '"response" (one alert per customer)' in problem.fix


def test_sections_owned_elsewhere_are_left_to_their_owners():
    document = {**example(), "web": {"port": 8080}}
    with pytest.raises(EscalationConfigError, match='unknown section "web"'):
        check_document(document)
    assert check_document(document, other_sections=["web", "store"]).sites


def test_a_file_that_is_not_toml_or_missing(tmp_path):
    bad = tmp_path / "fleet.toml"
    bad.write_text("[[sites]\n")
    with pytest.raises(EscalationConfigError, match="not valid TOML"):
        load_file(bad)
    with pytest.raises(EscalationConfigError, match="file not found"):
        load_file(tmp_path / "nope.toml")


def test_secrets_and_phone_numbers_are_masked_when_shown():
    document = example()
    document["contacts"][0]["urls"] = ["mailto://alerts:hunter2@mail.example.com?to=ayse@example.com", "whatsapp://token123456@1234567890/+905551234567"]
    data = shown(check_document(document))
    urls = " ".join(data["contacts"][0]["urls"])
    assert "hunter2" not in urls and "token123456" not in urls and "5551234567" not in urls
    assert "+905*******67" in urls
    assert mask_phone_numbers("call +90 555 123 45 67 now") == "call +905*******67 now"
    assert mask_phone_numbers("alert 12 at 14:05") == "alert 12 at 14:05", "short numbers are not phone numbers"


def test_urls_get_apprise_timeouts_unless_they_set_their_own():
    assert url_problem("json://127.0.0.1:9/x") is None
    assert with_timeouts("json://h/x", 4, 10) == "json://h/x?cto=4&rto=10"
    assert with_timeouts("json://h/x?rto=2", 4, 10) == "json://h/x?rto=2&cto=4"
