"""The managed Mosquitto and per-device security, checked against the real broker.

(What a kiosk that tries to break out cannot do is ``test_adversarial.py``.)
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import socket

import pytest

from fleet import broker as broker_module
from fleet import devices, dynsec
from fleet.broker import FLEET_USER, BrokerError, BrokerFiles, ManagedBroker, hash_password
from fleet.link import BrokerURL, FleetLink
from kiosk.contract.protocol import PROTOCOL_VERSION, HelpUpdate, encode
from tests.mqtt_helpers import Client, add_device_login, broker_commands, free_port, wait_until

NOT_AUTHORIZED = 135


@pytest.fixture
def registry(store, broker):
    """Two registered kiosks on the managed broker: their passwords by id."""
    passwords = {"kiosk-a": devices.add_device("kiosk-a", "Site A"), "kiosk-b": devices.add_device("kiosk-b", "Site B")}
    assert devices.sync_broker(broker.files, put=passwords) is True, "the running managed broker took them"
    return passwords


@pytest.fixture
def fleet_client(broker):
    client = Client(broker.port, FLEET_USER, broker.files.fleet_password()).connect()
    yield client
    client.close()


def login(broker, device, password) -> Client:
    return Client(broker.port, device, password, client_id=device).connect()


def acl_rows(acls: list[dict]) -> list[tuple[str, str]]:
    assert all(acl["allow"] for acl in acls), "a role only grants; everything else is the default deny"
    return [(acl["acltype"], acl["topic"]) for acl in acls]


def test_a_devices_role_is_made_from_the_channel_table():
    """Its own upstream channels to publish, its own downstream ones to subscribe to and read."""
    assert acl_rows(dynsec.device_acls("kiosk-a")) == [
        ("publishClientSend", "nabiz/kiosk-a/responses"),
        ("publishClientSend", "nabiz/kiosk-a/status"),
        ("publishClientSend", "nabiz/kiosk-a/health"),
        ("subscribeLiteral", "nabiz/kiosk-a/ack"),
        ("publishClientReceive", "nabiz/kiosk-a/ack"),
        ("subscribeLiteral", "nabiz/kiosk-a/help"),
        ("publishClientReceive", "nabiz/kiosk-a/help"),
        ("subscribeLiteral", "nabiz/kiosk-a/survey"),
        ("publishClientReceive", "nabiz/kiosk-a/survey"),
        ("publishClientSend", "nabiz/kiosk-a/survey_report"),
    ]


def test_the_fleets_role_is_made_from_the_channel_table():
    """Every device's upstream channels to read, alone or shared; their downstream ones to
    write; and the retained upstream one (status), only to clear it."""
    assert acl_rows(dynsec.fleet_acls()) == [
        ("subscribePattern", "nabiz/+/responses"),
        ("subscribePattern", "$share/+/nabiz/+/responses"),
        ("publishClientReceive", "nabiz/+/responses"),
        ("subscribePattern", "nabiz/+/status"),
        ("subscribePattern", "$share/+/nabiz/+/status"),
        ("publishClientReceive", "nabiz/+/status"),
        ("publishClientSend", "nabiz/+/status"),
        ("subscribePattern", "nabiz/+/health"),
        ("subscribePattern", "$share/+/nabiz/+/health"),
        ("publishClientReceive", "nabiz/+/health"),
        ("publishClientSend", "nabiz/+/ack"),
        ("publishClientSend", "nabiz/+/help"),
        ("publishClientSend", "nabiz/+/survey"),
        ("subscribePattern", "nabiz/+/survey_report"),
        ("subscribePattern", "$share/+/nabiz/+/survey_report"),
        ("publishClientReceive", "nabiz/+/survey_report"),
    ]


def test_password_hashes_are_mosquittos_format():
    assert hash_password("secret", salt=bytes.fromhex("3785 1e3e b47e 6eb4 2acf 9171".replace(" ", ""))) == (
        "$7$101$N4UePrR+brQqz5Fx$NfIz8yX5RzZx02znkympQdNxxMtywl7zu04s0GZCsMX7OxuotBnL+wLQ2vwhuc9MiTeUiVLqyFnkRgc+GCrqLQ=="
    ), "the same hash mosquitto_passwd made for this salt"


def test_the_broker_files_hold_hashes_never_passwords(registry, broker):
    saved = broker.files.dynsec.read_text()  # as the broker saved it after taking the two logins
    assert registry["kiosk-a"] not in saved and registry["kiosk-b"] not in saved
    logins = {client["username"]: client for client in json.loads(saved)["clients"]}
    assert set(logins) == {"fleet", "fleet-admin", "kiosk-a", "kiosk-b"}
    assert logins["kiosk-a"]["clientid"] == "kiosk-a" and len(logins["kiosk-a"]["salt"]) == 16 and "fleet" not in [c.get("clientid") for c in logins.values()]
    for private in (broker.files.dynsec, broker.files.fleet_secret, broker.files.admin_secret):
        assert oct(private.stat().st_mode & 0o777) == "0o600", private
    config = broker.files.config.read_text()
    assert "allow_anonymous false" in config and "mosquitto_dynamic_security.so" in config and "password_file" not in config


def test_the_registrys_hashes_log_in_after_a_restart(registry, store, broker):
    """The running broker hashed the passwords itself (with its own salt); a restart renders
    the file from the registry's hashes instead, and the same passwords still log in."""
    broker.stop()
    broker.start(accounts=devices.broker_accounts())
    rendered = {client["username"]: client for client in json.loads(broker.files.dynsec.read_text())["clients"]}
    stored = devices.broker_accounts()[0][1].split("$")
    assert (rendered["kiosk-a"]["salt"], rendered["kiosk-a"]["password"], rendered["kiosk-a"]["iterations"]) == (stored[3], stored[4], int(stored[2]))
    device = login(broker, "kiosk-a", registry["kiosk-a"])
    assert device.accepted
    device.close()


def test_without_a_running_broker_the_file_is_rendered_for_its_next_start(store, tmp_path):
    files = BrokerFiles(tmp_path / "broker")
    password = devices.add_device("kiosk-z", "Site Z")
    assert devices.sync_broker(files, put={"kiosk-z": password}) is False, "nothing running to apply it to"
    assert [c["username"] for c in json.loads(files.dynsec.read_text())["clients"]] == ["fleet", "fleet-admin", "kiosk-z"]
    devices.revoke_device("kiosk-z")
    devices.sync_broker(files, remove=["kiosk-z"])
    assert "kiosk-z" not in files.dynsec.read_text()


def test_a_device_publishes_its_own_topics_and_the_fleet_reads_them(registry, broker, fleet_client):
    fleet_client.subscribe("nabiz/+/responses")
    device = login(broker, "kiosk-a", registry["kiosk-a"])
    try:
        device.publish("nabiz/kiosk-a/responses", b"hello")
        assert fleet_client.get().topic == "nabiz/kiosk-a/responses"
    finally:
        device.close()


def test_a_device_cannot_publish_into_another_devices_topics(registry, broker, fleet_client):
    for channel in ("responses", "status", "health"):
        assert [r.value for r in fleet_client.subscribe(f"nabiz/+/{channel}")] == [1]
    intruder = login(broker, "kiosk-a", registry["kiosk-a"])
    try:
        for channel in ("responses", "status", "health", "ack"):
            assert intruder.publish(f"nabiz/kiosk-b/{channel}", b"spoof").value == NOT_AUTHORIZED, channel
        assert intruder.publish("nabiz/kiosk-a/ack", b"a device may not forge its own acks").value == NOT_AUTHORIZED
        assert intruder.publish("nabiz/kiosk-a/health", b"marker").value == 0
        assert fleet_client.get().payload == b"marker", "nothing forged reached the fleet; the marker did"
    finally:
        intruder.close()


def test_a_device_cannot_read_another_devices_topics(registry, broker, fleet_client):
    """Refused at SUBSCRIBE (the SUBACK says so), and nothing arrives either."""
    spy = login(broker, "kiosk-a", registry["kiosk-a"])
    other = login(broker, "kiosk-b", registry["kiosk-b"])
    try:
        assert [r.value for r in spy.subscribe("nabiz/kiosk-a/ack")] == [1], "its own acks: granted at QoS 1"
        for topic in ("nabiz/kiosk-b/ack", "nabiz/kiosk-b/responses", "nabiz/+/ack", "nabiz/#"):
            assert [r.value for r in spy.subscribe(topic)] == [NOT_AUTHORIZED], topic
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
        client = Client(broker.port, user, password, client_id=user)
        try:
            client.connect()
            assert not client.accepted, user
        finally:
            client.close()


def test_revoking_disconnects_the_device_at_once_and_keeps_it_out(registry, broker):
    device = login(broker, "kiosk-a", registry["kiosk-a"])
    try:
        devices.revoke_device("kiosk-a")
        assert devices.sync_broker(broker.files, remove=["kiosk-a"]) is True
        assert device.disconnected.wait(1), "the connected kiosk was dropped within a second"
    finally:
        device.close()
    again = Client(broker.port, "kiosk-a", registry["kiosk-a"], client_id="kiosk-a")
    try:
        again.connect()
        assert not again.accepted
    finally:
        again.close()
    still = login(broker, "kiosk-b", registry["kiosk-b"])
    assert still.accepted, "other kiosks are untouched"
    still.close()


def test_new_credentials_replace_the_old_ones(registry, broker):
    connected = login(broker, "kiosk-a", registry["kiosk-a"])
    new = devices.new_credentials("kiosk-a")
    assert devices.sync_broker(broker.files, put={"kiosk-a": new}) is True
    assert connected.disconnected.wait(1), "the session on the old password was dropped"
    connected.close()
    fresh = login(broker, "kiosk-a", new)
    assert fresh.accepted
    fresh.close()
    old = Client(broker.port, "kiosk-a", registry["kiosk-a"], client_id="kiosk-a")
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


def test_a_broker_that_refuses_a_change_is_a_clear_error(registry, broker, monkeypatch):
    """The admin login is wrong (say, a broker of another fleet): the command says the registry
    has the change and the broker did not take it, instead of claiming success."""
    monkeypatch.setattr(BrokerFiles, "admin_password", lambda self: "not the password")
    with pytest.raises(BrokerError, match="refused the admin login") as caught:
        devices.sync_broker(broker.files, remove=["kiosk-a"])
    assert "the registry has the change" in str(caught.value)


def test_a_missing_dynamic_security_plugin_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(broker_module, "PLUGIN_GLOBS", [str(tmp_path / "nowhere" / "*.so")])
    with pytest.raises(BrokerError, match="dynamic-security plugin") as caught:
        ManagedBroker(BrokerFiles(tmp_path), "127.0.0.1", free_port()).start()
    assert "Mosquitto 2.0" in str(caught.value) and "NABIZ_FLEET_BROKER=" in str(caught.value)


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


def test_a_revocation_the_broker_missed_is_applied_by_the_next_change(registry, broker, monkeypatch):
    """The broker was unreachable when kiosk-a was revoked: the next change that reaches it
    removes kiosk-a's login too (only logins the fleet made for devices: never others)."""
    device = login(broker, "kiosk-a", registry["kiosk-a"])
    monkeypatch.setattr(BrokerFiles, "admin_password", lambda self: "unreachable for now")
    devices.revoke_device("kiosk-a")
    with pytest.raises(BrokerError, match="run `fleet device revoke ID` again"):
        devices.sync_broker(broker.files, remove=["kiosk-a"])
    assert not device.disconnected.wait(0.5), "still on the broker"
    monkeypatch.undo()
    assert devices.revoke_device("kiosk-a") is False, "already revoked in the registry"
    assert devices.sync_broker(broker.files, remove=["kiosk-a"]) is True
    assert device.disconnected.wait(1)
    device.close()
    password = devices.add_device("kiosk-c", "Site C")
    devices.revoke_device("kiosk-b")  # missed as well, then a later add reaches the broker
    other = login(broker, "kiosk-b", registry["kiosk-b"])
    monkeypatch.setattr(BrokerFiles, "admin_password", lambda self: "unreachable for now")
    with pytest.raises(BrokerError):
        devices.sync_broker(broker.files, remove=["kiosk-b"])
    monkeypatch.undo()
    assert devices.sync_broker(broker.files, put={"kiosk-c": password}) is True
    assert other.disconnected.wait(1), "the stale login went with the next change"
    other.close()
    names = {c["username"] for c in json.loads(broker.files.dynsec.read_text())["clients"]}
    assert names == {"fleet", "fleet-admin", "kiosk-c"}


def test_the_fleets_retained_help_update_reaches_its_device_and_can_be_cleared(broker, fleet_client):
    """The help channel is retained: an update the fleet publishes while the kiosk is away
    reaches it when it subscribes; an empty retained message deletes it from the broker."""
    password = add_device_login(broker, "kiosk-a")
    help_a = "nabiz/kiosk-a/help"
    update = encode(HelpUpdate(v=PROTOCOL_VERSION, alert_id=3, response_uuid="560d4543-c907-46e9-b94a-bd95674a79c5", state="coming", at=1_796_026_241.0, staff="Ayşe"))
    assert not fleet_client.publish(help_a, update, retain=True).is_failure
    device = login(broker, "kiosk-a", password)
    try:
        assert [r.value for r in device.subscribe(help_a)] == [1]
        message = device.get()
        assert (message.topic, message.payload, message.retain) == (help_a, update, True), "the retained update, on subscribing"
        assert not fleet_client.publish(help_a, b"", retain=True).is_failure, "the fleet may clear it"
        assert device.get().payload == b"", "a subscriber hears the clearing as an empty message"
    finally:
        device.close()
    again = login(broker, "kiosk-a", password)
    try:
        assert [r.value for r in again.subscribe(help_a)] == [1]
        fleet_client.publish(help_a, b"marker")
        assert again.get().payload == b"marker", "nothing retained was replayed before the live message"
    finally:
        again.close()


def test_a_fleet_role_without_a_channel_is_an_error_naming_it(broker, caplog):
    """The fleet's role lacks the health channel (a broker set up by hand): a fleet alone and
    a fleet worker in a shared group each log which subscription the ACL refused and the fix."""
    rule = {"command": "removeRoleACL", "rolename": dynsec.FLEET_ROLE, "acltype": "subscribePattern"}
    broker_commands(broker, [{**rule, "topic": "nabiz/+/health"}, {**rule, "topic": "$share/+/nabiz/+/health"}])
    caplog.set_level(logging.ERROR, logger="fleet.link")
    url = BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False)
    refused = []
    for link in (FleetLink(url, client_id="nabiz-fleet-test"), FleetLink(url, client_id="nabiz-fleet-test-1", shared_group="nabiz-fleet")):
        link.start()
        try:
            wait_until(lambda link=link: link.refused_subscriptions, what="the refused SUBACK")
        finally:
            link.stop()
        refused += link.refused_subscriptions
    assert refused == ["nabiz/+/health", "$share/nabiz-fleet/nabiz/+/health"], "the other channels were granted"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.filter for r in errors] == refused
    for record, name in zip(errors, refused):
        assert f"refused the fleet's subscription to {name} (Not authorized): its ACL does not grant" in record.getMessage()
        assert "restart `fleet serve`" in record.fix and "docs/security.md" in record.fix


def test_the_fleet_publishes_each_downstream_channel_as_the_table_says(broker):
    """FleetLink.publish: an ack is not retained, a help update is (a kiosk that subscribes
    later gets it); never on an upstream channel."""
    password = add_device_login(broker, "kiosk-a")
    link = FleetLink(BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False), client_id="nabiz-fleet-test")
    link.start()
    live = login(broker, "kiosk-a", password)
    try:
        with pytest.raises(ValueError, match="only on downstream channels"):
            link.publish("kiosk-a", "status", b"{}")
        live.subscribe("nabiz/kiosk-a/ack")
        live.subscribe("nabiz/kiosk-a/help")
        assert link.publish_ack("kiosk-a", b"ack") and link.publish("kiosk-a", "help", b"help")
        assert sorted((m.topic, m.payload) for m in (live.get(), live.get())) == [("nabiz/kiosk-a/ack", b"ack"), ("nabiz/kiosk-a/help", b"help")]
    finally:
        live.close()
        link.stop()
    later = login(broker, "kiosk-a", password)
    try:
        later.subscribe("nabiz/kiosk-a/ack")
        later.subscribe("nabiz/kiosk-a/help")
        message = later.get()
        assert (message.topic, message.payload, message.retain) == ("nabiz/kiosk-a/help", b"help", True)
        with pytest.raises(queue.Empty):
            later.get(timeout=0.3)  # the ack was not retained
    finally:
        later.close()
