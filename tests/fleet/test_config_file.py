"""fleet.toml as people use it: `fleet config check/show`, `fleet serve --config`, the file in
the data directory, the workers, `fleet device add`. Real processes, real files, exit codes."""

from __future__ import annotations

import tomllib

import psutil
import pytest

from tests.fleet_processes import ServingFleet, fleet_env, run_fleet
from tests.mqtt_helpers import free_port

#: One of each mistake the issue names, in an otherwise good file.
MISTAKES = [
    ('"json://hooks.example.com/nabiz/cleaning"', '"jsn://hooks.example.com/nabiz/cleaning"'),  # a bad apprise URL
    ("percent = 50\nminutes = 15", "percent = 50\nminutes = 0"),  # a window of 0
    ('sites = ["*"] ', 'sites = ["kadikoi"] '),  # an unknown site
    ('  after_minutes = 3                      # nobody acknowledged in 3 minutes: the shift lead too\n  roles = ["shift-lead"]', '  after_minutes = 3\n  contacts = ["ayshe"]'),  # an unknown contact
    ("[serve]\nworkers = 1", "[serve]\nworkerz = 1"),  # an unknown key
]
#: What each mistake must be reported as: the key path, then words of the problem.
REPORTED = [
    'contacts[2] "cleaning" → urls[1]: "jsn://" is not a kind of URL apprise knows (did you mean "json"?)',
    'rules[3] "mood" → minutes: a window of 0 minutes never holds a response',
    'contacts[3] "tech" → sites: unknown site "kadikoi" (did you mean "kadikoy"?)',
    'policies[1] "staff-now" → stages[2] → contacts: unknown contact "ayshe" (did you mean "ayse"?)',
    'serve → workerz: unknown key "workerz" (did you mean "workers"?)',
]


@pytest.fixture
def broken_toml(fleet_toml):
    text = fleet_toml.read_text(encoding="utf-8")
    for good, bad in MISTAKES:
        assert good in text, good
        text = text.replace(good, bad)
    fleet_toml.write_text(text, encoding="utf-8")
    return fleet_toml


def assert_every_mistake_listed(stderr: str, path) -> None:  # type: ignore[no-untyped-def]
    assert f"error: {path}: {len(REPORTED)} problems" in stderr, stderr
    for line in REPORTED:
        assert f"{path}: {line}\n  fix: " in stderr, (line, stderr)
    assert stderr.count("\n  fix: ") == len(REPORTED)


def test_config_check_passes_the_example_with_a_summary(fleet_toml, tmp_path):
    result = run_fleet("config", "check", str(fleet_toml), env=fleet_env(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok: {fleet_toml}\n")
    assert "escalation: 2 sites, 3 contacts (4 URLs), 3 policies, 5 rules" in result.stdout
    assert "web:        https://fleet.example.com, port 8080" in result.stdout and result.stderr == ""


@pytest.mark.parametrize("command", [["config", "check"], ["serve", "--port", "1", "--config"]], ids=["config check", "serve"])
def test_an_invalid_config_exits_2_listing_every_problem_with_its_path_and_fix(broken_toml, tmp_path, command):
    data = tmp_path / "data"
    result = run_fleet(*command, str(broken_toml), env=fleet_env(data))
    assert result.returncode == 2
    assert_every_mistake_listed(result.stderr, broken_toml)
    assert not data.exists(), "nothing was started or written"


def test_serve_reads_the_config_in_its_data_directory(broken_toml, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    found = broken_toml.rename(data / "fleet.toml")
    result = run_fleet("serve", env=fleet_env(data))
    assert result.returncode == 2
    assert_every_mistake_listed(result.stderr, found)
    missing = run_fleet("config", "check", str(tmp_path / "nope.toml"), env=fleet_env(data))
    assert missing.returncode == 2 and "nope.toml: file not found" in missing.stderr


def test_serve_takes_the_file_under_its_options(fleet_toml, tmp_path):
    """The file's log format (over the default) and its port, under --port (the option wins)."""
    in_file, given = free_port(), free_port()
    text = fleet_toml.read_text(encoding="utf-8").replace('bind = "0.0.0.0"  ', 'bind = "127.0.0.1"').replace("port = 1883", f"port = {in_file}").replace('log_format = "text"', 'log_format = "json"')
    fleet_toml.write_text(text, encoding="utf-8")
    fleet = ServingFleet("--config", str(fleet_toml), "--port", str(given), env=fleet_env(tmp_path / "data"), log=tmp_path / "serve.log").start()
    try:
        assert fleet.returncode is None, fleet.output()
        assert f'"listen": "127.0.0.1:{given}"' in fleet.output(), "JSON log lines, the option's port"
    finally:
        assert fleet.stop() == 0, fleet.output()


def test_workers_read_the_same_file_and_get_secrets_only_in_their_environment(fleet_toml, tmp_path):
    port = free_port()
    text = fleet_toml.read_text(encoding="utf-8").replace('bind = "0.0.0.0"  ', 'bind = "127.0.0.1"').replace("port = 1883", f"port = {port}").replace("inactivity_seconds = 180", "inactivity_seconds = 42")
    fleet_toml.write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    fleet = ServingFleet("--config", str(fleet_toml), "--workers", "2", env=fleet_env(data), log=tmp_path / "serve.log").start(timeout=60)
    try:
        assert "2 workers on shared group 'nabiz-fleet'" in fleet.output(), fleet.output()
        workers = [child for child in psutil.Process(fleet.process.pid).children() if "serve" in child.cmdline()]
        assert len(workers) == 2
        password = (data / "broker" / "fleet.secret").read_text().strip()
        for number, worker in enumerate(sorted(workers, key=lambda w: w.cmdline()[-1]), start=1):
            argv = worker.cmdline()
            assert argv[argv.index("--config") + 1] == str(fleet_toml) and "--worker" in argv
            assert argv[argv.index("--inactivity") + 1] == "42.0" and argv[-2:] == ["--client-id", f"nabiz-fleet-{number}"]
            assert not any(password in arg for arg in argv), "no secret on a command line"
            assert password in worker.environ()["NABIZ_FLEET_BROKER"]
    finally:
        assert fleet.stop() == 0, fleet.output()


def test_device_add_writes_the_public_host_option_over_environment_over_file(fleet_toml, tmp_path):
    data = tmp_path / "data"

    def dialled(device_id: str, *options: str, **variables: str) -> str:
        out = tmp_path / f"{device_id}.toml"
        result = run_fleet("device", "add", device_id, "--site", "kadikoy", "--out", str(out), "--config", str(fleet_toml), *options, env=fleet_env(data, **variables))
        assert result.returncode == 0, result.stderr
        return tomllib.loads(out.read_text())["fleet"]["broker"]

    assert dialled("k1") == "mqtt://fleet.example.com:1883"
    assert dialled("k2", NABIZ_FLEET_PUBLIC_HOST="env.example.com") == "mqtt://env.example.com:1883"
    assert dialled("k3", "--public-host", "option.example.com", NABIZ_FLEET_PUBLIC_HOST="env.example.com") == "mqtt://option.example.com:1883"


def test_config_show_gives_the_effective_config_with_secrets_masked(fleet_toml, tmp_path):
    env = fleet_env(tmp_path / "data", db="postgresql://nabiz:hunter2@db.internal/nabiz", NABIZ_FLEET_BROKER="mqtts://fleet:hunter3@broker.internal:8883")
    result = run_fleet("config", "show", "--config", str(fleet_toml), "--data-dir", str(tmp_path / "elsewhere"), env=env)
    assert result.returncode == 0, result.stderr
    for secret in ("hunter2", "hunter3", "alerts:secret@"):
        assert secret not in result.stdout
    shown = tomllib.loads(result.stdout)
    assert shown["store"] == {"data_dir": str(tmp_path / "elsewhere"), "url": "postgresql://nabiz:***@db.internal/nabiz"}, "the option over the environment"
    assert shown["broker"]["url"] == "mqtts://fleet:***@broker.internal:8883" and shown["serve"]["workers"] == 1
    assert "# broker → url: from $NABIZ_FLEET_BROKER" in result.stdout and "# store → data_dir: from --data-dir" in result.stdout


def test_device_add_takes_only_a_sites_id_and_suggests_the_nearest(fleet_toml, tmp_path):
    """The registry's site is how alerts find the site's contacts: "kadıkoy" (a dotless ı) or
    the display name would raise alerts that reach nobody."""
    data = tmp_path / "data"
    for typed, meant in (("kadıkoy", "kadikoy"), ("Kadıköy Akaryakıt", "kadikoy"), ("AIRPORT-G4", "airport-g4"), ("ankara", None)):
        out = tmp_path / "k.toml"
        refused = run_fleet("device", "add", "k1", "--site", typed, "--out", str(out), "--broker-url", "mqtt://fleet.example.com:1883", "--config", str(fleet_toml), env=fleet_env(data))
        assert refused.returncode == 2, refused.stderr
        assert f"site {typed!r} is not a [[sites]] id in fleet.toml" in refused.stderr
        assert (f"did you mean {meant!r}?" in refused.stderr) == (meant is not None), refused.stderr
        assert "known sites: kadikoy (Kadıköy Akaryakıt), airport-g4 (Airport gate 4)" in refused.stderr
        assert not out.exists()
    listed = run_fleet("device", "list", "--config", str(fleet_toml), env=fleet_env(data))
    assert "k1" not in listed.stdout, "nothing registered"


def test_the_sites_own_phone_and_page_reach_the_kiosk_config_and_credentials_rewrite_them(fleet_toml, tmp_path):
    data = tmp_path / "data"
    out = tmp_path / "k1.toml"
    common = ("--out", str(out), "--broker-url", "mqtt://fleet.example.com:1883", "--config", str(fleet_toml))
    added = run_fleet("device", "add", "k1", "--site", "kadikoy", *common, env=fleet_env(data))
    assert added.returncode == 0, added.stderr
    assert tomllib.loads(out.read_text())["help"] == {"fallback_phone": "+90 216 555 01 02", "fallback_url": "https://example.com/geri-arama"}
    fleet_toml.write_text(fleet_toml.read_text(encoding="utf-8").replace("+90 216 555 01 02", "0216 555 09 09"), encoding="utf-8")
    renewed = run_fleet("device", "credentials", "k1", *common, env=fleet_env(data))
    assert renewed.returncode == 0, renewed.stderr
    assert tomllib.loads(out.read_text())["help"]["fallback_phone"] == "0216 555 09 09", "a change reaches the kiosk with its config"
    other = tmp_path / "k2.toml"
    added = run_fleet("device", "add", "k2", "--site", "airport-g4", "--out", str(other), "--broker-url", "mqtt://fleet.example.com:1883", "--config", str(fleet_toml), env=fleet_env(data))
    assert added.returncode == 0 and "help" not in tomllib.loads(other.read_text()), "a site without its own contact writes no [help]"


def test_a_sites_fallback_the_kiosk_would_refuse_is_refused_by_config_check(fleet_toml, tmp_path):
    text = fleet_toml.read_text(encoding="utf-8")
    fleet_toml.write_text(text.replace('"+90 216 555 01 02"', '"call us"').replace('"https://example.com/geri-arama"', '"https://example.com/' + "x" * 200 + '"'), encoding="utf-8")
    result = run_fleet("config", "check", str(fleet_toml), env=fleet_env(tmp_path / "data"))
    assert result.returncode == 2
    assert "sites[1] \"kadikoy\" → fallback_phone: 'call us' is not a phone number" in result.stderr, result.stderr
    assert "sites[1] \"kadikoy\" → fallback_qr_url: 220 characters make a QR code too dense" in result.stderr
