"""The composition root in one process: FleetApp wires store, broker and ingest from a
FleetConfig, stores what a kiosk publishes, and calls the features' seams in the right roles."""

from __future__ import annotations

import threading

import msgspec
import pytest

from fleet import devices
from fleet.app import FleetApp, FleetStartError
from fleet.broker import FLEET_USER, BrokerFiles
from fleet.settings import Override, load
from fleet.store import StoredResponse
from kiosk.contract.protocol import topic
from tests.fleet_processes import staff_on_call
from tests.mqtt_helpers import Client, free_port, upload, wait_for_login, wait_until


class RecordingApp(FleetApp):
    """FleetApp with its two seams recorded: where the lead plugs the escalation and the web in."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.said: list[str] = []
        self.say = self.said.append
        self.seams: list[str] = []

    def _services(self, stack, broker) -> None:  # type: ignore[no-untyped-def]
        self.seams.append(f"services on {broker.host}:{broker.port}")

    def _ingest_hooks(self, stack, ingest) -> None:  # type: ignore[no-untyped-def]
        self.seams.append("ingest hooks")


class Running:
    def __init__(self, app: FleetApp) -> None:
        self.app, self.stop = app, threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.app.run(self.stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def __enter__(self) -> Running:
        self.thread.start()
        wait_until(lambda: any("fleet serving" in line for line in self.app.said) or not self.thread.is_alive(), timeout=30, what="the fleet to serve")
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive() and self.error is None, self.error


def publish_one(port: int, device_id: str, password: str) -> str:
    """A kiosk's upload of one response; its uuid once the fleet acknowledged it."""
    wait_for_login(port, device_id, password)
    kiosk = Client(port, device_id, password, client_id=device_id)
    kiosk.connect()
    try:
        kiosk.subscribe(topic(device_id, "ack"))
        payload, uuids = upload(device_id)
        kiosk.publish(topic(device_id, "responses"), payload)
        kiosk.get(timeout=10)  # the Ack: stored
    finally:
        kiosk.close()
    return uuids[0]


def test_a_single_fleet_starts_its_broker_stores_and_calls_both_seams(tmp_path, store_url):
    port = free_port()
    config = load(None, [Override("broker", "bind", "127.0.0.1", "test"), Override("broker", "port", port, "test")], environ={"NABIZ_FLEET_DATA": str(tmp_path / "data"), "NABIZ_FLEET_DB": store_url})
    app = RecordingApp(config)
    with Running(app):
        password = devices.add_device("kiosk-1", "Kadıköy")
        devices.sync_broker(BrokerFiles(tmp_path / "data" / "broker"), put={"kiosk-1": password})
        uuid = publish_one(port, "kiosk-1", password)
        assert StoredResponse.get(StoredResponse.uuid == uuid).device_id == "kiosk-1"
    assert app.role == "single" and app.seams == [f"services on 127.0.0.1:{port}", "ingest hooks"]
    assert app.said == [f"fleet serving: broker mqtt://fleet:***@127.0.0.1:{port}, data in {tmp_path / 'data'}"]


def test_a_worker_ingests_on_the_broker_it_is_given_and_runs_no_services(tmp_path, broker):
    url = f"mqtt://{FLEET_USER}:{broker.files.fleet_password()}@127.0.0.1:{broker.port}"
    config = load(None, [Override("serve", "client_id", "nabiz-fleet-1", "--client-id"), Override("serve", "shared_group", "nabiz-fleet", "--shared-group")],
                  environ={"NABIZ_FLEET_DATA": str(tmp_path / "data"), "NABIZ_FLEET_BROKER": url})
    app = RecordingApp(config, worker=True)
    with Running(app):
        password = devices.add_device("kiosk-2", "Kadıköy")
        devices.sync_broker(broker.files, put={"kiosk-2": password})
        uuid = publish_one(broker.port, "kiosk-2", password)
        assert StoredResponse.get(StoredResponse.uuid == uuid).device_id == "kiosk-2"
    assert app.role == "worker" and app.seams == ["ingest hooks"]


def test_what_stops_the_start_is_a_fleet_start_error_with_its_fix(tmp_path):
    config = load(None, [Override("serve", "client_id", "kiosk-9", "--client-id")], environ={"NABIZ_FLEET_DATA": str(tmp_path / "data"), "NABIZ_FLEET_BROKER": "mqtt://fleet:pw@127.0.0.1:1"})
    with pytest.raises(FleetStartError, match="cannot reach the broker"):
        FleetApp(config, say=lambda text: None).run(threading.Event())


RULES = '[web]\npublic_url = "https://fleet.example.com"\n' + staff_on_call("json://127.0.0.1:9/ayse")


def listened(app: FleetApp) -> FleetApp:
    """*app* with what it says kept (Running waits for "fleet serving")."""
    app.said = []  # type: ignore[attr-defined]
    app.say = app.said.append  # type: ignore[attr-defined]
    return app


def escalating_config(tmp_path, *overrides, environ=None):  # type: ignore[no-untyped-def]
    path = tmp_path / "fleet.toml"
    path.write_text(RULES, encoding="utf-8")
    return load(path, list(overrides), environ=environ or {"NABIZ_FLEET_DATA": str(tmp_path / "data")})


def test_with_rules_the_single_fleet_feeds_ticks_announces_and_serves_the_web_sharing_one_key(tmp_path):
    port = free_port()
    config = escalating_config(tmp_path, Override("broker", "bind", "127.0.0.1", "test"), Override("broker", "port", port, "test"), Override("web", "port", free_port(), "--http-port"))
    app = listened(FleetApp(config))
    with Running(app):
        assert app.escalation is not None and app.escalation_worker is not None and app.escalation_worker.escalation is app.escalation, "the ticker runs here"
        assert app.feed is not None and app.feed.escalation is app.escalation and app.feed.polls >= 1, "the feed runs here, its first read done before serving"
        assert app.announcer is not None and app.announcer.connected.wait(10)
        assert app.web_port == config.web.port
        assert app.escalation.key == (tmp_path / "data" / "ack-link.key").read_bytes() and app.escalation.callback_link is not None
        link = app.escalation.callback_link(7, 1_790_000_000.0)
        assert link.startswith("https://fleet.example.com/callback/")


def test_a_worker_only_ingests_the_escalation_runs_once_per_fleet(tmp_path, broker):
    url = f"mqtt://{FLEET_USER}:{broker.files.fleet_password()}@127.0.0.1:{broker.port}"
    config = escalating_config(tmp_path, Override("serve", "client_id", "nabiz-fleet-1", "--client-id"), Override("serve", "shared_group", "nabiz-fleet", "--shared-group"),
                               environ={"NABIZ_FLEET_DATA": str(tmp_path / "data"), "NABIZ_FLEET_BROKER": url})
    app = listened(FleetApp(config, worker=True))
    with Running(app):
        assert app.escalation is None and app.escalation_worker is None and app.feed is None, "the supervisor's feed reads what this worker stores"
        assert app.announcer is None and app.web_port is None, "once per fleet: the supervisor's"


def test_without_rules_the_escalation_is_off_and_ingest_has_no_hook(tmp_path):
    port = free_port()
    config = load(None, [Override("broker", "bind", "127.0.0.1", "test"), Override("broker", "port", port, "test"), Override("web", "port", 0, "--http-port")],
                  environ={"NABIZ_FLEET_DATA": str(tmp_path / "data")})
    app = listened(FleetApp(config))
    with Running(app):
        assert app.escalation is None and app.escalation_worker is None and app.web_port is None
        assert app.announcer is not None, "alerts made under an earlier config can still be acknowledged and announced"


def test_a_taken_http_port_is_a_fleet_start_error_with_its_fix(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        config = load(None, [Override("broker", "bind", "127.0.0.1", "test"), Override("broker", "port", free_port(), "test"), Override("web", "port", taken.getsockname()[1], "--http-port")],
                      environ={"NABIZ_FLEET_DATA": str(tmp_path / "data")})
        config = msgspec.structs.replace(config, web=msgspec.structs.replace(config.web, host="127.0.0.1"))
        with pytest.raises(FleetStartError, match=r"cannot listen on 127\.0\.0\.1:\d+: Address already in use\n  fix: .*--http-port N"):
            FleetApp(config, say=lambda text: None).run(threading.Event())
    finally:
        taken.close()
