"""fleet.toml as a whole: the example is valid, every section's problems come at once, the
sources win in their order (option > environment > file > default), secrets never show."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet import settings
from fleet.settings import Override, load, load_file
from fleet.tomltext import dumps
from fleet.validate import ConfigProblems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / settings.EXAMPLE_NAME


def write(folder: Path, text: str, name: str = "fleet.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(call) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Key path → what is wrong there and its fix (one line each)."""
    with pytest.raises(ConfigProblems) as caught:
        call()
    found: dict[str, str] = {}
    for problem in caught.value.problems:
        found[problem.path] = "\n".join(filter(None, [found.get(problem.path), f"{problem.problem} | fix: {problem.fix}"]))
    return found


def test_the_documented_example_is_valid_alone_and_with_the_escalation_sections(fleet_toml, tmp_path):
    alone = load_file(EXAMPLE)
    assert alone.kiosks.public_host == "fleet.example.com" and alone.web.public_url == "https://fleet.example.com"
    assert alone.escalation.notifications.public_url == "https://fleet.example.com", "the ack links take the web's address"
    config = load_file(fleet_toml)
    assert [site.id for site in config.escalation.sites] == ["kadikoy", "airport-g4"]
    assert (config.broker.port, config.serve.workers, config.serve.inactivity_seconds, config.web.port) == (1883, 1, 180.0, 8080)
    assert config.broker.managed and config.source == str(tmp_path / "fleet.toml")


def test_every_sections_problems_at_once_with_path_fix_and_did_you_mean(fleet_toml, tmp_path):
    text = fleet_toml.read_text(encoding="utf-8")
    text = text.replace("[serve]\nworkers = 1", "[serve]\nworkerz = 2")  # unknown key in our section
    text = text.replace('log_level = "INFO"', 'log_level = "LOUD"')
    text = text.replace("port = 8080 ", "port = 70000 ")  # the web's section
    text = text.replace('"json://hooks.example.com/nabiz/cleaning"', '"jsn://hooks.example.com/nabiz/cleaning"')  # bad apprise URL
    text = text.replace("percent = 50\nminutes = 15", "percent = 50\nminutes = 0")  # window of 0
    text = text.replace('sites = ["*"] ', 'sites = ["kadikoi"] ')  # unknown site
    text = text.replace('[[policies]]\nid = "cleaning"\n  [[policies.stages]]\n  roles = ["cleaning"]', '[[policies]]\nid = "cleaning"\n  [[policies.stages]]\n  contacts = ["cleanin"]')
    text += '\n[kiosk]\npublic_host = "x"\n'  # unknown section
    found = problems_of(lambda: load_file(write(tmp_path, text)))
    assert 'unknown key "workerz" (did you mean "workers"?)' in found["serve → workerz"]
    assert '"DEBUG", "INFO"' in found["serve → log_level"]
    assert "0 for no web server" in found["web → port"]
    assert 'did you mean "json"' in found['contacts[2] "cleaning" → urls[1]']
    assert "a window of 0 minutes" in found['rules[3] "mood" → minutes']
    assert 'unknown site "kadikoi" (did you mean "kadikoy"?)' in found['contacts[3] "tech" → sites']
    assert 'unknown contact "cleanin" (did you mean "cleaning"?)' in found['policies[2] "cleaning" → stages[1] → contacts']
    assert 'unknown section "kiosk" (did you mean "kiosks"?)' in found["kiosk"]
    assert len(found) == 8, list(found)
    assert all(" | fix: " in line and not line.endswith("fix: ") for text in found.values() for line in text.splitlines())


def test_keys_that_go_together_are_checked_beside_other_problems(tmp_path):
    found = problems_of(lambda: load_file(write(tmp_path, '[store]\nurl = "mysql://root:hunter2@db/nabiz"\n[broker]\nprot = 1\ntls_cert = "missing.pem"\nca_file = "ca.pem"\n')))
    assert "neither sqlite:/// nor postgresql://" in found["store → url"] and "hunter2" not in found["store → url"]
    assert "go together" in found["broker → tls_key"]
    assert f"{tmp_path}/missing.pem does not exist" in found["broker → tls_cert"], "relative to the file"
    assert "--broker mqtts://" in found["broker → ca_file"] and f"{tmp_path}/ca.pem does not exist" in found["broker → ca_file"]
    assert 'did you mean "port"' in found["broker → prot"]


def test_a_broker_url_is_checked_without_showing_its_password(tmp_path):
    found = problems_of(lambda: load_file(write(tmp_path, '[broker]\nurl = "http://fleet:hunter2@broker"\nadmin_url = "mqtt://fleet:hunter3@broker"\n[kiosks]\npublic_host = "mqtt://fleet.example.com"\nbroker_url = "mqtt://k:pw@fleet.example.com"\n')))
    assert "is not mqtt[s]://" in found["broker → url"]
    assert "fleet-admin" in found["broker → admin_url"]
    assert "not a host name" in found["kiosks → public_host"] and "no login" in found["kiosks → broker_url"]
    assert not any(secret in line for line in found.values() for secret in ("hunter2", "hunter3", ":pw@"))


def test_sources_win_in_order_option_environment_file_default(tmp_path):
    path = write(tmp_path, '[broker]\nport = 1884\nbind = "127.0.0.1"\n[serve]\nlog_level = "DEBUG"\nworkers = 3\n[kiosks]\npublic_host = "from-file.example.com"\n')
    environ = {"NABIZ_FLEET_DATA": str(tmp_path / "env-data"), "NABIZ_FLEET_PUBLIC_HOST": "from-env.example.com", "NABIZ_FLEET_BROKER_ADMIN": ""}
    config = load(path, [Override("broker", "port", 1885, "--port"), Override("serve", "workers", 2, "--workers")], environ=environ)
    assert config.broker.port == 1885 and config.serve.workers == 2, "the option over the file"
    assert config.kiosks.public_host == "from-env.example.com", "the environment over the file"
    assert config.broker.bind == "127.0.0.1" and config.serve.log_level == "DEBUG", "the file over the default"
    assert config.serve.inactivity_seconds == 180.0 and config.broker.admin_url is None, "the default (an empty variable is unset)"
    assert config.data_dir == tmp_path / "env-data" and config.db_url == f"sqlite:///{tmp_path / 'env-data' / 'fleet.sqlite3'}"
    assert [(o.path, o.source) for o in config.applied] == [
        ("store → data_dir", "$NABIZ_FLEET_DATA"), ("kiosks → public_host", "$NABIZ_FLEET_PUBLIC_HOST"), ("broker → port", "--port"), ("serve → workers", "--workers"),
    ]


def test_the_file_in_the_data_directory_is_read_when_none_is_given(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    assert load(environ={"NABIZ_FLEET_DATA": str(data)}).source is None, "no file: the defaults"
    write(data, '[serve]\ninactivity_seconds = 60\n[store]\ndata_dir = "."\n')
    config = load(environ={"NABIZ_FLEET_DATA": str(data)})
    assert config.source == str(data / "fleet.toml") and config.serve.inactivity_seconds == 60
    write(data, '[store]\ndata_dir = "/elsewhere"\n')
    found = problems_of(lambda: load(environ={"NABIZ_FLEET_DATA": str(data)}))
    assert "names another data directory" in found["store → data_dir"]


def test_options_are_checked_by_the_same_types_and_against_the_file(tmp_path):
    found = problems_of(lambda: load(None, [Override("broker", "port", 0, "--port"), Override("serve", "log_format", "xml", "--log-format")], environ={}))
    assert "Expected int >= 1" in found["broker → port (--port)"] and '"text" or "json"' in found["serve → log_format (--log-format)"]
    cert, key = write(tmp_path, "cert", "broker.pem"), write(tmp_path, "key", "broker.key")
    path = write(tmp_path, f'[broker]\ntls_cert = "{cert.name}"\ntls_key = "{key.name}"\n')
    assert load(path, environ={}).broker.tls_cert == str(cert)
    found = problems_of(lambda: load(path, environ={"NABIZ_FLEET_BROKER": "mqtt://fleet:pw@broker.internal:1883"}))
    assert "url names another one" in found["broker → tls_cert"]
    found = problems_of(lambda: load(path, [Override("broker", "ca_file", str(cert), "--ca-file")], environ={}))
    assert "--broker mqtts://" in found["broker → ca_file (--ca-file)"]


def test_the_web_and_the_ack_links_share_one_public_address(tmp_path):
    config = load_file(write(tmp_path, '[notifications]\npublic_url = "https://fleet.example.com"\n'))
    assert config.web.public_url == "https://fleet.example.com"
    found = problems_of(lambda: load_file(write(tmp_path, '[web]\npublic_url = "https://a.example.com"\n[notifications]\npublic_url = "https://b.example.com"\n')))
    assert "differs from web → public_url" in found["notifications → public_url"]


def test_secrets_are_masked_when_shown(fleet_toml, tmp_path):
    text = fleet_toml.read_text(encoding="utf-8").replace('"ntfy://nabiz-kadikoy-staff"', '"tgram://123456789:SECRETtokenABC/987654321"')
    path = write(tmp_path, text)
    environ = {"NABIZ_FLEET_DB": "postgresql://nabiz:hunter2@db.internal/nabiz", "NABIZ_FLEET_BROKER": "mqtt://fleet:hunter3@broker.internal:1883", "NABIZ_FLEET_BROKER_ADMIN": "mqtt://fleet-admin:hunter4@broker.internal:1883"}
    shown = settings.show_text(load(path, environ=environ))
    for secret in ("hunter2", "hunter3", "hunter4", "SECRETtokenABC", "alerts:secret@"):
        assert secret not in shown
    assert "postgresql://nabiz:***@db.internal/nabiz" in shown and "# store → url: from $NABIZ_FLEET_DB" in shown
    data = tomllib.loads(shown)
    assert data["broker"]["url"] == "mqtt://fleet:***@broker.internal:1883" and data["kiosks"]["public_host"] == "fleet.example.com"
    assert [site["id"] for site in data["sites"]] == ["kadikoy", "airport-g4"]


def test_a_file_with_secrets_that_everyone_may_read_is_warned_about(fleet_toml, tmp_path):
    path = fleet_toml
    os.chmod(path, 0o644)
    assert "chmod o-r" in settings.exposure_warning(path, load_file(path))
    os.chmod(path, 0o640)
    assert settings.exposure_warning(path, load_file(path)) is None
    plain = write(tmp_path, EXAMPLE.read_text(encoding="utf-8"), "plain.toml")
    os.chmod(plain, 0o644)  # the fleet's own sections without a password hold no secret
    assert settings.exposure_warning(plain, load_file(plain)) is None


# --- the TOML writer behind `fleet config show` -----------------------------------------------

keys = st.text(min_size=1, max_size=12).filter(lambda text: not any(0xD800 <= ord(c) <= 0xDFFF for c in text))
scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), keys, st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=12)
tables = st.recursive(
    st.dictionaries(keys, values, max_size=4),
    lambda inner: st.dictionaries(keys, st.one_of(values, inner, st.lists(inner, min_size=1, max_size=3)), max_size=4),
    max_leaves=20,
)


@given(tables)
def test_what_is_written_reads_back_the_same(table):
    assert tomllib.loads(dumps(table)) == table


def test_tables_are_written_as_a_person_writes_them():
    text = dumps({"sites": [{"id": "kadikoy", "hours": ["mon 08:00-20:00"]}], "broker": {"port": 1883, "url": 'a"b'}, "policies": [{"id": "p", "stages": [{"roles": ["staff"]}]}]})
    assert '[[sites]]\nid = "kadikoy"\nhours = ["mon 08:00-20:00"]' in text
    assert '[broker]\nport = 1883\nurl = "a\\"b"' in text
    assert "[[policies]]\nid = \"p\"\n\n[[policies.stages]]\nroles = [\"staff\"]" in text
