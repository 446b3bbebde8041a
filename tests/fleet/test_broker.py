"""The managed Mosquitto and per-device security, checked against the real broker."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from fleet import broker as broker_module
from fleet import devices
from fleet.broker import FLEET_USER, BrokerError, BrokerFiles, ManagedBroker, hash_password
from tests.mqtt_helpers import Client, free_port, wait_for_login, wait_until

NOT_AUTHORIZED = 135


@pytest.fixture
def registry(store, broker):
    """Two registered kiosks on the managed broker: their passwords by id."""
    passwords = {"kiosk-a": devices.add_device("kiosk-a", "Site A"), "kiosk-b": devices.add_device("kiosk-b", "Site B")}
    assert devices.sync_broker(broker.files) is True, "the running managed broker was reloaded"
    wait_for_login(broker.port, "kiosk-b", passwords["kiosk-b"])
    return passwords


@pytest.fixture
def fleet_client(broker):
    client = Client(broker.port, FLEET_USER, broker.files.fleet_password()).connect()
    yield client
    client.close()


def login(broker, device, password) -> Client:
    return Client(broker.port, device, password, client_id=device).connect()


def test_password_hashes_are_mosquittos_format():
    assert hash_password("secret", salt=bytes.fromhex("3785 1e3e b47e 6eb4 2acf 9171".replace(" ", ""))) == (
        "$7$101$N4UePrR+brQqz5Fx$NfIz8yX5RzZx02znkympQdNxxMtywl7zu04s0GZCsMX7OxuotBnL+wLQ2vwhuc9MiTeUiVLqyFnkRgc+GCrqLQ=="
    ), "the same hash mosquitto_passwd made for this salt"


def test_the_broker_files_hold_hashes_never_passwords(registry, broker):
    passwd = broker.files.passwd.read_text()
    assert registry["kiosk-a"] not in passwd and "kiosk-a:$7$101$" in passwd
    assert oct(broker.files.passwd.stat().st_mode & 0o777) == "0o600"
    assert oct(broker.files.fleet_secret.stat().st_mode & 0o777) == "0o600"
    assert "allow_anonymous false" in broker.files.config.read_text()


def test_a_device_publishes_its_own_topics_and_the_fleet_reads_them(registry, broker, fleet_client):
    fleet_client.subscribe("nabiz/+/responses")
    device = login(broker, "kiosk-a", registry["kiosk-a"])
    try:
        device.publish("nabiz/kiosk-a/responses", b"hello")
        assert fleet_client.get().topic == "nabiz/kiosk-a/responses"
    finally:
        device.close()


def test_a_device_cannot_publish_into_another_devices_topics(registry, broker, fleet_client):
    fleet_client.subscribe("nabiz/#")
    intruder = login(broker, "kiosk-a", registry["kiosk-a"])
    try:
        for channel in ("responses", "status", "health", "ack"):
            intruder.publish(f"nabiz/kiosk-b/{channel}", b"spoof")
        intruder.publish("nabiz/kiosk-a/ack", b"a device may not forge its own acks")
        intruder.publish("nabiz/kiosk-a/health", b"marker", qos=1)
        assert fleet_client.get().payload == b"marker", "nothing forged reached the fleet; the marker did"
    finally:
        intruder.close()


def test_a_device_cannot_read_another_devices_topics(registry, broker, fleet_client):
    """Mosquitto grants any SUBSCRIBE and enforces ``read`` on delivery: so check what arrives."""
    spy = login(broker, "kiosk-a", registry["kiosk-a"])
    other = login(broker, "kiosk-b", registry["kiosk-b"])
    try:
        for topic in ("nabiz/kiosk-b/ack", "nabiz/kiosk-b/responses", "nabiz/+/ack", "nabiz/#"):
            spy.subscribe(topic)
        other.publish("nabiz/kiosk-b/responses", b"b's answers")
        other.publish("nabiz/kiosk-b/health", b"b's health")
        fleet_client.publish("nabiz/kiosk-b/ack", b"for b only")
        fleet_client.publish("nabiz/kiosk-a/ack", b"for a")
        # Everything above was PUBACKed before "for a" was sent, so a leak would arrive first.
        received = [spy.get().payload]
        while received[-1] != b"for a":
            received.append(spy.get().payload)
        assert received == [b"for a"], "nothing of kiosk-b's reached kiosk-a"
    finally:
        spy.close()
        other.close()


def test_wrong_password_and_unknown_device_are_refused(registry, broker):
    for user, password in (("kiosk-a", "wrong"), ("kiosk-a", registry["kiosk-b"]), ("stranger", "x"), (None, None)):
        client = Client(broker.port, user, password)
        try:
            client.connect()
            assert not client.accepted, user
        finally:
            client.close()


def test_revoking_disconnects_the_device_at_once_and_keeps_it_out(registry, broker):
    device = login(broker, "kiosk-a", registry["kiosk-a"])
    try:
        devices.revoke_device("kiosk-a")
        devices.sync_broker(broker.files)
        assert device.disconnected.wait(5), "the connected kiosk was dropped"
    finally:
        device.close()
    again = Client(broker.port, "kiosk-a", registry["kiosk-a"])
    try:
        again.connect()
        assert not again.accepted
    finally:
        again.close()
    still = login(broker, "kiosk-b", registry["kiosk-b"])
    assert still.accepted, "other kiosks are untouched"
    still.close()


def test_new_credentials_replace_the_old_ones(registry, broker):
    new = devices.new_credentials("kiosk-a")
    devices.sync_broker(broker.files)
    wait_for_login(broker.port, "kiosk-a", new)
    old = Client(broker.port, "kiosk-a", registry["kiosk-a"])
    try:
        old.connect()
        assert not old.accepted
    finally:
        old.close()


def test_a_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port {port} on 127.0.0.1 is already in use") as caught:
            ManagedBroker(BrokerFiles(tmp_path), "127.0.0.1", port).start()
        assert "--port" in str(caught.value) and "NABIZ_FLEET_BROKER=" in str(caught.value)


def test_a_missing_mosquitto_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(broker_module, "SBIN_DIRS", [])
    with pytest.raises(BrokerError, match="mosquitto broker is not installed") as caught:
        ManagedBroker(BrokerFiles(tmp_path), "127.0.0.1", free_port()).start()
    assert "apt-get install mosquitto" in str(caught.value)


def test_a_broker_that_dies_is_restarted(broker):
    first = broker._process.pid
    broker.kill()
    wait_until(lambda: broker.restarts == 1 and broker._process.pid != first, timeout=15, what="the broker's restart")
    client = Client(broker.port, FLEET_USER, broker.files.fleet_password()).connect()
    assert client.accepted
    client.close()


def test_a_broker_left_by_a_killed_fleet_is_replaced(tmp_path):
    files = BrokerFiles(tmp_path / "broker")
    files.write_auth([])
    port = free_port()
    orphan = ManagedBroker(files, "127.0.0.1", port)
    orphan.start()
    orphan_pid = orphan._process.pid
    orphan._stopping.set()  # as if its fleet vanished: nobody will restart or stop it
    successor = ManagedBroker(files, "127.0.0.1", port)
    try:
        successor.start()
        assert successor._process.pid != orphan_pid
        wait_until(lambda: orphan._process.poll() is not None, timeout=5, what="the orphan to exit")
    finally:
        successor.stop()
        if orphan._process.poll() is None:
            os.kill(orphan_pid, signal.SIGKILL)
