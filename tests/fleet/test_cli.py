"""The fleet command as head office and technicians run it: real processes, real files, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.fleet_processes import fleet_env, run_fleet
from tests.mqtt_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def fleet(*args, data_dir: Path, db: str | None = None, timeout: float = 60, cwd: Path | None = None):
    return run_fleet(*args, env=fleet_env(data_dir, db), timeout=timeout, cwd=cwd)


#: Where kiosks reach the fleet in these tests' configs (never dialled: no test kiosk runs here).
PUBLIC = "mqtt://fleet.example.com:1883"


@pytest.fixture
def data(tmp_path):
    return tmp_path / "fleet-data"


def add(device_id: str, out: Path, data_dir: Path, *extra: str, db: str | None = None):
    return fleet("device", "add", device_id, "--site", "Eskişehir", "--out", str(out), "--broker-url", PUBLIC, *extra, data_dir=data_dir, db=db)


def broker_logins(data_dir: Path) -> set[str]:
    """The device logins in the broker's dynamic-security file, as the fleet rendered it."""
    rendered = json.loads((data_dir / "broker" / "dynamic-security.json").read_text())
    return {client["username"] for client in rendered["clients"]} - {"fleet", "fleet-admin"}


def test_device_add_writes_a_private_kiosk_config(data, tmp_path, store_url):
    out = tmp_path / "kiosk-ist-01.toml"
    result = fleet("device", "add", "kiosk-ist-01", "--site", "İstanbul Şişli", "--out", str(out), "--broker-url", "mqtts://fleet.example.com", "--ca-file", "/etc/nabiz/ca.pem", data_dir=data, db=store_url)
    assert result.returncode == 0, result.stderr
    assert "added kiosk-ist-01 at İstanbul Şişli" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    config = tomllib.loads(out.read_text())
    assert config["device_id"] == "kiosk-ist-01" and config["site"] == "İstanbul Şişli"
    assert config["fleet"]["broker"] == "mqtts://fleet.example.com" and config["fleet"]["username"] == "kiosk-ist-01"
    assert len(config["fleet"]["password"]) >= 24 and config["fleet"]["ca_file"] == "/etc/nabiz/ca.pem"
    assert config["fleet"]["password"] not in (data / "broker" / "dynamic-security.json").read_text()
    assert broker_logins(data) == {"kiosk-ist-01"}
    from kiosk.config import load_config

    assert load_config(out).fleet.password == config["fleet"]["password"], "the kiosk reads it as written"


def test_device_mistakes_exit_2_with_a_fix(data, tmp_path):
    bad = add("Kiosk 1", tmp_path / "x.toml", data)
    assert bad.returncode == 2 and "lowercase" in bad.stderr and "fix:" in bad.stderr
    add("k1", tmp_path / "k1.toml", data)
    again = add("k1", tmp_path / "k1b.toml", data)
    assert again.returncode == 2 and "already registered" in again.stderr and "fleet device credentials k1" in again.stderr
    missing = fleet("device", "revoke", "nobody", data_dir=data)
    assert missing.returncode == 2 and "no device 'nobody'" in missing.stderr


def test_list_revoke_and_new_credentials(data, tmp_path):
    for n in (1, 2):
        assert add(f"k{n}", tmp_path / f"k{n}.toml", data).returncode == 0
    listing = fleet("device", "list", data_dir=data)
    assert "never-connected" in listing.stdout and "2 device(s)" in listing.stdout
    assert fleet("device", "revoke", "k1", data_dir=data).returncode == 0
    assert broker_logins(data) == {"k2"}
    rows = [json.loads(line) for line in fleet("device", "list", "--format", "json", data_dir=data).stdout.splitlines()]
    assert {r["device_id"]: r["state"] for r in rows} == {"k1": "revoked", "k2": "never-connected"}
    old = tomllib.loads((tmp_path / "k1.toml").read_text())["fleet"]["password"]
    renewed = fleet("device", "credentials", "k1", "--out", str(tmp_path / "k1-new.toml"), "--broker-url", PUBLIC, data_dir=data)
    assert renewed.returncode == 0, renewed.stderr
    assert tomllib.loads((tmp_path / "k1-new.toml").read_text())["fleet"]["password"] != old
    assert broker_logins(data) == {"k1", "k2"}, "back on the broker"


def test_responses_export_filters_and_formats(data, store_url):
    import uuid

    from fleet import devices
    from fleet.ingest import Ingest, Received
    from fleet.store import close_database, open_database
    from tests.protocol_factories import response, upload

    open_database(store_url)
    try:
        devices.add_device("kiosk-1", "Trabzon")
        devices.add_device("kiosk-2", "Van")
        old = response(finished={"wall": 1_700_000_000.0, "monotonic": 12.0})
        new = response(answers=[{"question": "satisfaction", "option": "happy", "button": 3, "negative": False, "elapsed_ms": 500}], negative=False)
        other = response()
        Ingest().process([Received("nabiz/kiosk-1/responses", upload([old, new]), 1_790_000_100.0), Received("nabiz/kiosk-2/responses", upload([other], device_id="kiosk-2"), 1_790_000_100.0)])
    finally:
        close_database()

    everything = fleet("responses", data_dir=data, db=store_url)
    assert everything.returncode == 0, everything.stderr
    rows = [json.loads(line) for line in everything.stdout.splitlines()]
    assert [r["uuid"] for r in rows][0] == old["uuid"] and len(rows) == 3 and "3 response(s)" in everything.stderr
    assert rows[0]["occurred_at"] == "2023-11-14T22:13:20Z" and rows[0]["site"] == "Trabzon"
    since = fleet("responses", "--since", "2026-01-01", "--site", "Trabzon", data_dir=data, db=store_url)
    assert [json.loads(line)["uuid"] for line in since.stdout.splitlines()] == [new["uuid"]]
    table = fleet("responses", "--format", "csv", "--device", "kiosk-1", data_dir=data, db=store_url)
    parsed = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [r["uuid"] for r in parsed] == [old["uuid"], new["uuid"]]
    assert parsed[1]["answers"] == "satisfaction=happy" and parsed[1]["negative"] == "no" and parsed[0]["negative"] == "yes"
    assert uuid.UUID(parsed[0]["uuid"])


def test_bad_times_and_database_urls_are_explained(data):
    when = fleet("responses", "--since", "yesterday-ish", data_dir=data)
    assert when.returncode == 2 and "12h or 7d" in when.stderr
    url = fleet("responses", data_dir=data, db="mysql://x")
    assert url.returncode == 2 and "neither sqlite:/// nor postgresql://" in url.stderr
    down = fleet("responses", data_dir=data, db="postgresql://nobody@127.0.0.1:1/nothing")
    assert down.returncode == 2 and "cannot open the store" in down.stderr and "fix:" in down.stderr


def test_serve_explains_a_taken_port(data):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = fleet("serve", "--bind", "127.0.0.1", "--port", str(port), data_dir=data, timeout=30)
    assert result.returncode == 2 and f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_serve_explains_a_refused_external_broker(data, broker):
    result = fleet("serve", "--broker", f"mqtt://fleet:wrong@127.0.0.1:{broker.port}", data_dir=data, timeout=30)
    assert result.returncode == 2 and "did not accept the fleet's login" in result.stderr and "wrong" not in result.stderr


def test_a_relative_data_dir_is_the_same_store_for_every_command(tmp_path):
    """sqlite:///D/fleet.sqlite3 would name /D/fleet.sqlite3: the CLI makes --data-dir absolute."""
    env = {k: v for k, v in os.environ.items() if k not in ("NABIZ_FLEET_DATA", "NABIZ_FLEET_DB")}
    added = subprocess.run([sys.executable, "-m", "fleet", "device", "add", "k1", "--site", "S", "--data-dir", "rel", "--out", "k1.toml", "--broker-url", PUBLIC], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "rel" / "fleet.sqlite3").exists() and broker_logins(tmp_path / "rel") == {"k1"}
    listing = subprocess.run([sys.executable, "-m", "fleet", "device", "list", "--format", "json", "--data-dir", "rel"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert json.loads(listing.stdout)["device_id"] == "k1"


def test_simulate_never_takes_over_a_real_device(data, tmp_path):
    assert fleet("device", "add", "sim-0001", "--site", "Konya", "--out", str(tmp_path / "k.toml"), "--broker-url", PUBLIC, data_dir=data).returncode == 0
    result = fleet("simulate", "--devices", "2", "--responses", "1", "--cleanup", data_dir=data)
    assert result.returncode == 2 and "'sim-0001' exists at site 'Konya'" in result.stderr and "--prefix" in result.stderr
    listing = [json.loads(line) for line in fleet("device", "list", "--format", "json", data_dir=data).stdout.splitlines()]
    assert [(d["device_id"], d["site"]) for d in listing] == [("sim-0001", "Konya")]


def test_ca_file_without_an_external_tls_broker_is_refused(data, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not used")
    result = fleet("serve", "--ca-file", str(ca), data_dir=data)
    assert result.returncode == 2 and "--broker mqtts://" in result.stderr


def test_an_unwritable_config_path_changes_nothing(data, tmp_path):
    result = add("k1", tmp_path / "no" / "such" / "k1.toml", data)
    assert result.returncode == 2 and "cannot write the kiosk config" in result.stderr
    assert fleet("device", "list", "--format", "json", data_dir=data).stdout == "", "not registered"


def test_new_credentials_never_land_in_a_world_readable_file(data, tmp_path):
    out = tmp_path / "k1.toml"
    assert add("k1", out, data).returncode == 0
    out.chmod(0o644)  # copied around for scp
    assert fleet("device", "credentials", "k1", "--out", str(out), "--broker-url", PUBLIC, data_dir=data).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_sqlite_urls_read_as_peewee_reads_them(tmp_path, data):
    """sqlite:///fleet.sqlite3 is relative to the working directory, sqlite:////abs absolute."""
    starting = ("device", "add", "k1", "--site", "S", "--broker-url", PUBLIC)  # a command that starts a store
    relative = fleet(*starting, "--out", str(tmp_path / "k1.toml"), data_dir=data, db="sqlite:///here.sqlite3", cwd=tmp_path)
    assert relative.returncode == 0 and (tmp_path / "here.sqlite3").exists(), relative.stderr
    assert "k1" in fleet("device", "list", data_dir=data, db="sqlite:///here.sqlite3", cwd=tmp_path).stdout
    absolute = fleet(*starting, "--out", str(tmp_path / "k2.toml"), data_dir=data, db=f"sqlite:///{tmp_path / 'abs.sqlite3'}")
    assert absolute.returncode == 0 and (tmp_path / "abs.sqlite3").exists(), absolute.stderr


@pytest.mark.parametrize("url", ["mqtt://localhost:1883", "mqtt://127.0.0.1:18830", "mqtts://127.0.1.1:8883", "mqtt://[::1]:1883", "mqtt://kiosk.localhost:1883"])
def test_a_config_that_points_the_kiosk_at_itself_is_refused(data, tmp_path, url):
    """On the Pi, localhost is the Pi (issue 7, defect 10): refused with the way to say the fleet's address."""
    out = tmp_path / "k1.toml"
    result = fleet("device", "add", "k1", "--site", "S", "--out", str(out), "--broker-url", url, data_dir=data)
    assert result.returncode == 2 and "the kiosk itself" in result.stderr, result.stderr
    assert "--broker-url mqtt://fleet.example.com:1883" in result.stderr and "NABIZ_FLEET_PUBLIC_HOST" in result.stderr and "--allow-loopback" in result.stderr
    assert not out.exists() and fleet("device", "list", "--format", "json", data_dir=data).stdout == "", "nothing registered"
    demo = fleet("device", "add", "k1", "--site", "S", "--out", str(out), "--broker-url", url, "--allow-loopback", data_dir=data)
    assert demo.returncode == 0, demo.stderr
    assert tomllib.loads(out.read_text())["fleet"]["broker"] == url, "asked for explicitly: a kiosk on this machine"


def test_an_unspecified_address_is_refused_even_when_loopback_is_allowed(data, tmp_path):
    result = fleet("device", "add", "k1", "--site", "S", "--out", str(tmp_path / "k1.toml"), "--broker-url", "mqtt://0.0.0.0:1883", "--allow-loopback", data_dir=data)
    assert result.returncode == 2 and "every address" in result.stderr


def test_the_default_broker_address_is_the_public_host(data, tmp_path, monkeypatch):
    """Without --broker-url: NABIZ_FLEET_PUBLIC_HOST if set, else this machine's name, which
    getfqdn() gives as 'localhost' on many servers: refused, not written (in-process, to
    choose what getfqdn() says)."""
    from click.testing import CliRunner

    from fleet.cli import main

    monkeypatch.setattr(socket, "getfqdn", lambda *a: "localhost")
    monkeypatch.delenv("NABIZ_FLEET_PUBLIC_HOST", raising=False)
    out = tmp_path / "k1.toml"
    refused = CliRunner().invoke(main, ["device", "add", "k1", "--site", "S", "--out", str(out), "--data-dir", str(data)])
    assert refused.exit_code == 2 and "names 'localhost'" in refused.output and "this machine's name, as getfqdn() gives it" in refused.output
    assert not out.exists()
    named = CliRunner().invoke(main, ["device", "add", "k1", "--site", "S", "--out", str(out), "--data-dir", str(data)], env={"NABIZ_FLEET_PUBLIC_HOST": "fleet.example.com"})
    assert named.exit_code == 0, named.output
    assert tomllib.loads(out.read_text())["fleet"]["broker"] == "mqtt://fleet.example.com:1883"


@pytest.mark.parametrize("device_id", ["nabiz-fleet", "nabiz-fleet-1", "nabiz-fleet-12", "nabiz-fleet-admin-0a1b", "fleet-admin", "fleet"])
def test_the_fleets_own_names_are_not_device_ids(data, tmp_path, device_id):
    """A device registered as nabiz-fleet-1 could log in, legitimately, as the first worker and knock it off."""
    result = add(device_id, tmp_path / "x.toml", data)
    assert result.returncode == 2 and ("reserved" in result.stderr or "the fleet's own broker login" in result.stderr), result.stderr
    assert "fix:" in result.stderr


def test_serve_refuses_a_client_id_that_is_a_device(data, tmp_path):
    assert add("kiosk-1", tmp_path / "k.toml", data).returncode == 0
    alone = fleet("serve", "--client-id", "kiosk-1", "--port", str(free_port()), "--bind", "127.0.0.1", data_dir=data, timeout=30)
    assert alone.returncode == 2 and "'kiosk-1' is a registered device's id" in alone.stderr
    workers = fleet("serve", "--client-id", "kiosk", "--workers", "2", "--port", str(free_port()), "--bind", "127.0.0.1", data_dir=data, timeout=30)
    assert workers.returncode == 2 and "'kiosk-1' is a registered device's id" in workers.stderr


def test_device_changes_reach_a_broker_you_run(data, tmp_path):
    """An external Mosquitto loading a copy of the fleet's dynamic-security file: `fleet device
    add` and `revoke` change it live through NABIZ_FLEET_BROKER_ADMIN, as with the managed one."""
    import getpass

    from fleet.broker import BrokerFiles, find_dynsec_plugin, find_mosquitto
    from tests.mqtt_helpers import Client, wait_for_login

    assert add("k1", tmp_path / "k1.toml", data).returncode == 0  # no broker runs: the file is rendered
    files = BrokerFiles(data / "broker")
    own = tmp_path / "mosquitto"
    own.mkdir()
    (own / "dynsec.json").write_text(files.dynsec.read_text())
    port = free_port()
    (own / "mosquitto.conf").write_text(f"user {getpass.getuser()}\nallow_anonymous false\nplugin {find_dynsec_plugin()}\nplugin_opt_config_file {own / 'dynsec.json'}\nlistener {port} 127.0.0.1\n")
    broker = subprocess.Popen([find_mosquitto(), "-c", str(own / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_login(port, "fleet", files.fleet_password())
        admin = {"NABIZ_FLEET_BROKER_ADMIN": f"mqtt://fleet-admin:{files.admin_password()}@127.0.0.1:{port}"}
        added = subprocess.run([sys.executable, "-m", "fleet", "device", "add", "k2", "--site", "S", "--out", str(tmp_path / "k2.toml"), "--broker-url", PUBLIC],
                               capture_output=True, text=True, env={**os.environ, "NABIZ_FLEET_DATA": str(data), **admin}, cwd=ROOT, timeout=60, check=False)
        assert added.returncode == 0 and "the running broker applied it" in added.stdout, added.stderr
        password = tomllib.loads((tmp_path / "k2.toml").read_text())["fleet"]["password"]
        kiosk = Client(port, "k2", password, client_id="k2").connect()
        assert kiosk.accepted, "the new kiosk logs in to the broker you run"
        revoked = subprocess.run([sys.executable, "-m", "fleet", "device", "revoke", "k2"], capture_output=True, text=True, env={**os.environ, "NABIZ_FLEET_DATA": str(data), **admin}, cwd=ROOT, timeout=60, check=False)
        assert revoked.returncode == 0 and "the running broker applied it" in revoked.stdout, revoked.stderr
        assert kiosk.disconnected.wait(1), "and is gone from it within a second of its revocation"
        kiosk.close()
        wrong = subprocess.run([sys.executable, "-m", "fleet", "device", "revoke", "k1"], capture_output=True, text=True,
                               env={**os.environ, "NABIZ_FLEET_DATA": str(data), "NABIZ_FLEET_BROKER_ADMIN": f"mqtt://fleet-admin:wrong@127.0.0.1:{port}"}, cwd=ROOT, timeout=60, check=False)
        assert wrong.returncode == 1 and "did NOT apply it" in wrong.stderr and "refused the admin login" in wrong.stderr
    finally:
        broker.terminate()
        broker.wait(10)


READING_COMMANDS = [
    ["alert", "list"],
    ["alert", "ack", "1", "--by", "Ayşe"],
    ["alert", "resolve", "1"],
    ["device", "list"],
    ["device", "revoke", "k1"],
    ["device", "credentials", "k1", "--broker-url", PUBLIC],
    ["responses"],
    ["survey", "list"],
    ["survey", "show", "exit-default"],
    ["survey", "diff", "exit-default", "1", "2"],
    ["survey", "status"],
]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_that_reads_records_refuses_a_data_directory_without_a_store(tmp_path, command, monkeypatch):
    """Pointed at the wrong directory it says where it looked and how to point elsewhere,
    instead of making an empty store there and answering "no rollouts yet" (in-process: fast)."""
    from click.testing import CliRunner

    from fleet.cli import main

    monkeypatch.chdir(tmp_path)
    wrong = tmp_path / "not-the-fleet"
    result = CliRunner().invoke(main, [*command, "--data-dir", str(wrong)])
    assert result.exit_code == 2, result.output
    assert f"no fleet store at {wrong / 'fleet.sqlite3'}" in result.output and "--data-dir DIR, or NABIZ_FLEET_DATA=DIR, or [store] data_dir" in result.output
    assert not (wrong / "fleet.sqlite3").exists(), "nothing created"


def test_the_commands_that_start_a_fleet_create_its_store(tmp_path):
    data = tmp_path / "new-fleet"
    assert add("k1", tmp_path / "k1.toml", data).returncode == 0
    assert (data / "fleet.sqlite3").exists()
    listed = fleet("device", "list", data_dir=data)
    assert listed.returncode == 0 and "k1" in listed.stdout
