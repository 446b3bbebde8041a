"""Survey push with real parts: ``fleet serve`` (managed Mosquitto, ingest, the rollout service)
as a process, ``fleet survey`` commands as processes, and simulated kiosks on real MQTT
connections that verify each assignment with the contract's ``verify`` and report as kiosks do."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from tests.fleet.surveys.conftest import survey_file
from tests.fleet_processes import ServingFleet, fleet_env, run_fleet
from tests.mqtt_helpers import Client, free_port, wait_until

pytestmark = pytest.mark.slow

SITES = {"kiosk-a1": "Ankara", "kiosk-a2": "Ankara", "kiosk-i1": "İstanbul", "kiosk-i2": "İstanbul"}


@pytest.fixture
def fleet(tmp_path):
    """A fleet with four kiosks on two sites, a signing key and versions 3 and 4 of the survey."""
    from fleet import devices
    from fleet.broker import BrokerFiles
    from fleet.store import close_database, default_url, open_database

    data = tmp_path / "fleet"
    env = fleet_env(data)
    assert run_fleet("survey", "keygen", env=env).returncode == 0
    for version, welcome in ((3, "Görüşünüz bizim için değerli"), (4, "Fikriniz bizim için önemli")):
        assert run_fleet("survey", "add", str(survey_file(tmp_path, version, welcome)), env=env).returncode == 0
    open_database(default_url(data))
    files = BrokerFiles(data / "broker")
    passwords = {d: files.simulation_password(d) for d in SITES}
    for device_id, site in SITES.items():
        devices.add_many([device_id], site, {device_id: passwords[device_id]})
    close_database()
    port = free_port()
    serving = ServingFleet("--bind", "127.0.0.1", "--port", str(port), env=env, log=tmp_path / "serve.log").start()
    assert serving.returncode is None, serving.output()
    yield {"env": env, "data": data, "port": port, "passwords": passwords, "serving": serving, "tmp": tmp_path}
    serving.stop()


def kiosks(fleet, ids, version: int):
    """Simulated kiosks *ids* running in a thread until each shows exit-default *version*; the result in the returned dict."""
    from fleet.simulate import SimulationPlan, run_simulation
    from fleet.surveys.keys import current_public_text

    plan = SimulationPlan(
        broker=f"mqtt://127.0.0.1:{fleet['port']}", passwords={d: fleet["passwords"][d] for d in ids}, per_device=0, timeout=60,
        trusted_keys=(current_public_text(fleet["data"]),), await_survey=("exit-default", version),
    )
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(result=run_simulation(plan, processes=1, progress=False)), daemon=True)
    thread.start()
    out["thread"] = thread
    return out


def status(fleet, *args: str) -> dict:
    done = run_fleet("survey", "status", *args, "--format", "json", env=fleet["env"])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(("target", "expected"), [("device:kiosk-a1", ["kiosk-a1"]), ("site:İstanbul", ["kiosk-i1", "kiosk-i2"]), ("all", sorted(SITES))])
def test_push_reaches_exactly_the_targets_and_they_report_applied(fleet, target, expected):
    running = kiosks(fleet, expected, 4)
    done = run_fleet("survey", "push", "exit-default", "--version", "4", "--to", target, env=fleet["env"])
    assert done.returncode == 0, done.stderr
    assert f"to {len(expected)} device(s)" in done.stdout
    wait_until(lambda: status(fleet)["counts"]["applied"] == len(expected), timeout=20, what="every target to report applied")
    final = status(fleet)
    assert sorted(d["device"] for d in final["device_states"]) == expected
    assert {d["source"] for d in final["device_states"]} == {"report"}
    wait_until(lambda: status(fleet)["state"] == "completed", timeout=5, what="the rollout to complete")
    running["thread"].join(30)
    assert running["result"].survey_applied == len(expected)


def test_a_fleet_killed_mid_rollout_resumes_without_skipping_or_repeating(fleet):
    running = kiosks(fleet, sorted(SITES), 4)
    done = run_fleet("survey", "push", "exit-default", "--version", "4", "--rate", "30/min", env=fleet["env"])  # one every 2 s
    assert done.returncode == 0, done.stderr
    wait_until(lambda: status(fleet)["published"] >= 1, timeout=10, what="the first assignment to go out")
    fleet["serving"].process.send_signal(signal.SIGKILL)
    fleet["serving"].process.wait(10)
    before = status(fleet)
    assert before["published"] < 4, "the kill came too late to test a resume"
    fleet["serving"].start()
    wait_until(lambda: status(fleet)["counts"]["applied"] == 4, timeout=30, what="every kiosk to apply after the restart")
    running["thread"].join(30)
    result = running["result"]
    assert result.survey_applied == 4 and result.survey_refused == 0  # none refused as a replay: no second seq, no other payload
    final = status(fleet)
    seqs = [d["seq"] for d in final["device_states"]]
    assert len(seqs) == len(set(seqs)) == 4 and final["state"] == "completed"


def test_waves_abort_when_too_many_refuse_and_the_rest_keep_their_survey(fleet):
    """Kiosks that trust another key refuse: with --abort-if-failed 50% --min-devices 2 the first
    wave (2 of 4) stops the rollout, and the second wave is never sent."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fleet.simulate import SimulationPlan, run_simulation
    from kiosk.contract.assignment import public_key_text

    stranger = public_key_text(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    plan = SimulationPlan(broker=f"mqtt://127.0.0.1:{fleet['port']}", passwords=fleet["passwords"], per_device=0, timeout=15, trusted_keys=(stranger,), await_survey=("exit-default", 4))
    thread = threading.Thread(target=lambda: run_simulation(plan, processes=1, progress=False), daemon=True)
    thread.start()
    done = run_fleet("survey", "push", "exit-default", "--version", "4", "--waves", "50,100%", "--abort-if-failed", "50%", "--min-devices", "2", env=fleet["env"])
    assert done.returncode == 0, done.stderr
    wait_until(lambda: status(fleet)["state"] == "aborted", timeout=20, what="the rollout to abort")
    final = status(fleet)
    assert final["counts"]["refused"] == 2 and final["counts"]["cancelled"] == 2 and final["published"] == 2
    assert "2 of 2 devices" in final["reason"]
    assert all(p["reason"].startswith("unknown key") for p in final["problems"])
    table = run_fleet("survey", "status", env=fleet["env"]).stdout
    assert "ABORTED" in table and "why: 2 of 2 devices" in table and "refused: " in table


def test_a_devices_login_cannot_publish_another_devices_assignment(fleet):
    """The broker's ACL (made from the channel table): kiosk-a1 may not write kiosk-a2's survey topic, nor its own."""
    port = fleet["port"]
    intruder = Client(port, "kiosk-a1", fleet["passwords"]["kiosk-a1"], client_id="kiosk-a1").connect()
    victim = Client(port, "kiosk-a2", fleet["passwords"]["kiosk-a2"], client_id="kiosk-a2").connect()
    try:
        assert victim.subscribe("nabiz/kiosk-a2/survey")[0].value < 0x80
        for topic in ("nabiz/kiosk-a2/survey", "nabiz/kiosk-a1/survey"):
            reason = intruder.publish(topic, b'{"v": 2}', retain=True)
            assert str(reason) == "Not authorized", reason
        with pytest.raises(Exception):  # noqa: B017 - queue.Empty: nothing arrived
            victim.get(timeout=1.0)
    finally:
        intruder.close()
        victim.close()


def test_bad_input_is_a_clear_error_and_changes_nothing(fleet):
    env = fleet["env"]
    cases = [
        (("survey", "push", "nope", "--version", "1"), "no survey 'nope'"),
        (("survey", "push", "exit-default", "--version", "9"), "has no version 9"),
        (("survey", "push", "exit-default", "--to", "site:Yok"), "no devices at site 'Yok'"),
        (("survey", "push", "exit-default", "--at", "2020-01-01T10:00"), "in the past"),
        (("survey", "push", "exit-default", "--waves", "10,50"), "the last 100"),
        (("survey", "push", "exit-default", "--rate", "5/min", "--waves", "50,100"), "not both"),
        (("survey", "show", "exit-default", "--version", "7"), "has no version 7"),
        (("survey", "diff", "exit-default", "3", "8"), "has no version 8"),
        (("survey", "status", "99"), "no rollout 99"),
        (("survey", "keygen"), "already exists"),
        (("survey", "add", str(fleet["tmp"] / "missing.toml")), "no such file"),
    ]
    broken = fleet["tmp"] / "broken.toml"
    broken.write_text('id = "x"\nversion = [', encoding="utf-8")
    cases.append((("survey", "add", str(broken)), "not valid TOML"))
    for args, message in cases:
        done = run_fleet(*args, env=env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr and "fix:" in done.stderr, (args, done.stderr)
    assert run_fleet("survey", "status", env=env).returncode == 2  # still no rollout at all
    listed = run_fleet("survey", "list", "--format", "json", env=env).stdout.splitlines()
    assert [json.loads(line)["version"] for line in listed] == [3, 4]
    assert oct(os.stat(fleet["data"] / "survey-signing.key").st_mode & 0o777) == "0o600"
