"""The [web] section: typed, defaults that work, every mistake reported at once with its path."""

from __future__ import annotations

from fleet.web.settings import WebSettings, check_section


def test_defaults_and_the_public_origin():
    settings, problems = check_section(None)
    assert problems == [] and settings == WebSettings()
    assert (settings.port, settings.pages_per_minute, settings.forms_per_minute, settings.callback_roles) == (8080, 60, 10, ["call-centre"])
    assert WebSettings(public_url="https://Fleet.Example.com:8443/nabiz").public_origin == "https://fleet.example.com:8443"


def test_every_problem_at_once_with_its_path_and_fix():
    settings, problems = check_section({"public_url": "fleet.example.com", "port": 70000, "phone_regoin": "TR", "forms_per_minute": 0}, "web")
    assert settings is None
    shown = "\n".join(str(problem) for problem in problems)
    assert len(problems) == 4, shown
    assert 'web → phone_regoin: unknown key "phone_regoin" (did you mean "phone_region"?)' in shown
    assert "web → public_url" in shown and "https://fleet.example.com" in shown
    assert "web → port" in shown and "0 for no web server" in shown
    assert "web → forms_per_minute" in shown
