"""Head office's whole path for a new question, both halves real: ``fleet survey`` commands and
``fleet serve`` (its managed Mosquitto, ingest, the rollout service) on one side, ``kiosk run``
processes (headless, buttons on stdin) provisioned by ``fleet device add`` on the other.

Nothing here signs, publishes or reports for either side: the fleet signs with the key
``fleet survey keygen`` made, the kiosks trust it because the config ``fleet device add`` wrote
lists it, and what the kiosks show is read back from their own screenshots, what they did from
``fleet survey status`` and what they say from ``fleet device list`` (their Health).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from hardware.profiles import load_profile
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, survey_from_dict
from kiosk.flow import Attract, KioskState
from kiosk.screen import Screen
from kiosk.view import view_of
from tests.fleet_processes import ServingFleet, fleet_env, run_fleet
from tests.kiosk_process import KioskProcess
from tests.mqtt_helpers import free_port, wait_until
from tests.pixels import Image

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NEW_SURVEY = ROOT / "docs" / "surveys" / "demo-survey.toml"  # version 4: "İşler doğru mıydı?"
SITES = {"kiosk-ank-1": "Ankara Çankaya", "kiosk-ank-2": "Ankara Çankaya", "kiosk-ist-1": "İstanbul Kadıköy"}


class Fleet:
    """The real ``fleet`` of one test: its commands as processes, ``fleet serve`` in the background."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "fleet"
        self.env = fleet_env(self.data)
        self.port = free_port()
        self.serving: ServingFleet | None = None

    def __call__(self, *args: str) -> str:
        done = run_fleet(*args, env=self.env)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def add_kiosk(self, device_id: str, site: str) -> Path:
        config = self.root / f"{device_id}.kiosk.toml"
        self("device", "add", device_id, "--site", site, "--out", str(config), "--broker-url", f"mqtt://127.0.0.1:{self.port}", "--allow-loopback")
        return config

    def serve(self) -> None:
        self.serving = ServingFleet("--bind", "127.0.0.1", "--port", str(self.port), "--log-format", "json", env=self.env, log=self.root / "serve.log").start()
        assert self.serving.returncode is None, self.serving.output()

    def status(self, rollout: int) -> dict:
        return json.loads(self(*("survey", "status", str(rollout), "--format", "json")))

    def devices(self) -> dict[str, dict]:
        return {row["device_id"]: row for row in map(json.loads, self("device", "list", "--format", "json").splitlines())}

    def push(self, *args: str) -> int:
        """``fleet survey push|rollback ARGS``: the new rollout's number."""
        out = self("survey", *args)
        assert out.startswith("rollout "), out
        return int(out.split(":", 1)[0].removeprefix("rollout "))


def document(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def start_screen(tmp_path: Path, survey_document: dict) -> Image:
    """The start screen of *survey_document* as this test's own Screen draws it."""
    survey = survey_from_dict(survey_document)
    screen = Screen(load_profile("arcade-4"), (800, 480), "headless")
    try:
        screen.show(view_of(KioskState(survey, Attract(survey.default_language)), 0.0), force=True)
        return Image.load(screen.save(tmp_path / f"expected-v{survey.version}.png"))
    finally:
        screen.close()


def test_a_new_question_reaches_one_kiosk_a_site_and_all_then_rolls_back_with_proof_from_each(tmp_path):
    old, new = document(DEFAULT_SURVEY_PATH), document(NEW_SURVEY)
    assert new["questions"][0]["text"]["tr"] == "İşler doğru mıydı?" and new["version"] == old["version"] + 1 == 4
    expected = {3: start_screen(tmp_path, old), 4: start_screen(tmp_path, new)}
    assert expected[3] != expected[4]

    fleet = Fleet(tmp_path)
    public_key = fleet("survey", "keygen").strip()
    assert public_key.startswith("ed25519:")
    assert "added survey exit-default version 3" in fleet("survey", "add", str(DEFAULT_SURVEY_PATH))
    assert "added survey exit-default version 4" in fleet("survey", "add", str(NEW_SURVEY))
    configs = {device_id: fleet.add_kiosk(device_id, site) for device_id, site in SITES.items()}
    for config in configs.values():
        assert tomllib.loads(config.read_text(encoding="utf-8"))["survey"]["trusted_keys"] == [public_key], "the kiosk trusts head office's key"
    fleet.serve()
    kiosks = {device_id: KioskProcess(config, tmp_path / device_id) for device_id, config in configs.items()}
    seen: dict[str, int] = {device_id: 0 for device_id in SITES}  # "survey applied" lines each kiosk has logged

    def rollout_applies(rollout: int, targets: list[str], version: int) -> dict:
        """Every target reports the rollout applied and shows *version*; the others are untouched."""
        wait_until(lambda: fleet.status(rollout)["counts"]["applied"] == len(targets), timeout=20, interval=0.3, what=f"rollout {rollout} applied on {targets}")
        status = fleet.status(rollout)
        assert status["state"] == "completed" or status["counts"]["applied"] == status["devices"], status
        assert sorted(d["device"] for d in status["device_states"]) == sorted(targets) and not status["problems"]
        for state in status["device_states"]:
            kiosk = kiosks[state["device"]]
            shown = kiosk.wait_for("survey applied", seq=state["seq"])  # this very assignment, on screen
            assert (shown["version"], shown["rollout"], shown.get("at_start")) == (version, rollout, None)
            kiosk.wait_for("survey report sent", status="applied", seq=state["seq"])
            assert kiosk.screenshot(tmp_path / f"{state['device']}-rollout-{rollout}.png") == expected[version], state["device"]
        for device_id in SITES:
            seen[device_id] += device_id in targets
            assert len(kiosks[device_id].logged("survey applied")) == seen[device_id], f"{device_id} applied only what it was sent"
        wait_until(
            lambda: all((fleet.devices()[d]["survey"], fleet.devices()[d]["survey_source"], fleet.devices()[d]["survey_verified"]) == (f"exit-default@{version}", "pushed", True) for d in targets),
            timeout=10, interval=0.3, what=f"the registry (Health) to show version {version} on {targets}",
        )
        return status

    try:
        for kiosk in kiosks.values():
            kiosk.wait_for("connected to the fleet")
        wait_until(lambda: all(d["survey"] == "exit-default@3" and d["survey_source"] == "default" for d in fleet.devices().values()), timeout=15, what="every kiosk's first Health")
        assert all(kiosk.screenshot(tmp_path / f"{device_id}-before.png") == expected[3] for device_id, kiosk in kiosks.items())

        one = rollout_applies(fleet.push("push", "exit-default", "--version", "4", "--to", "device:kiosk-ank-1"), ["kiosk-ank-1"], 4)
        for device_id in ("kiosk-ank-2", "kiosk-ist-1"):
            assert kiosks[device_id].screenshot(tmp_path / f"{device_id}-untouched.png") == expected[3], "a kiosk not targeted keeps its survey"
            assert fleet.devices()[device_id]["survey"] == "exit-default@3"
        site = rollout_applies(fleet.push("push", "exit-default", "--version", "4", "--to", "site:İstanbul Kadıköy"), ["kiosk-ist-1"], 4)
        everyone = rollout_applies(fleet.push("push", "exit-default", "--version", "4", "--to", "all"), sorted(SITES), 4)
        back = rollout_applies(fleet.push("rollback", "exit-default", "--to-version", "3"), sorted(SITES), 3)

        assert back["kind"] == "rollback" and back["version"] == 3 and back["key_id"] == one["key_id"]
        earlier = [s["seq"] for status in (one, site, everyone) for s in status["device_states"]]
        assert min(s["seq"] for s in back["device_states"]) > max(earlier), "a rollback is a new rollout with new sequence numbers, never a replay"
        for kiosk in kiosks.values():
            assert not kiosk.logged("pushed survey refused")
        survey_line = run_fleet("device", "list", env=fleet.env).stdout
        assert survey_line.count("exit-default@3 pushed ✓") == 3, survey_line
    finally:
        codes = {device_id: kiosk.stop() for device_id, kiosk in kiosks.items()}
        assert fleet.serving is not None and fleet.serving.stop() == 0, fleet.serving.output()[-3000:]
    assert codes == {device_id: 0 for device_id in SITES}, {d: "".join(k.lines[-20:]) for d, k in kiosks.items()}
