"""What the fleet sends a kiosk besides Acks: the help channel, and subscriptions the broker refuses.

A real ``FleetSync`` (its own thread, a real outbox file) on the real managed broker; the
fleet's side is a plain client with the fleet's login. The device's broker role is the one
``fleet device add`` makes, from the channel table.
"""

from __future__ import annotations

import logging
import queue

import pytest

from fleet.broker import FLEET_USER
from fleet.dynsec import device_role
from kiosk.clock import SystemClock
from kiosk.config import SyncSettings
from kiosk.contract.protocol import DOWNSTREAM, PROTOCOL_VERSION, HelpUpdate, encode, topic
from kiosk.outbox import Outbox
from kiosk.sync.worker import FleetSync
from tests.mqtt_helpers import Client, add_device_login, broker_commands, wait_until

HELP = topic("kiosk-1", "help")
UUID = "560d4543-c907-46e9-b94a-bd95674a79c5"


@pytest.fixture
def password(broker):
    return add_device_login(broker, "kiosk-1")


@pytest.fixture
def fleet(broker):
    client = Client(broker.port, FLEET_USER, broker.files.fleet_password()).connect()
    yield client
    client.close()


@pytest.fixture
def outbox(tmp_path):
    box = Outbox("kiosk-1", "boot-1").open(tmp_path / "kiosk")
    yield box
    box.close()


def sync_for(outbox, port: int, password: str, on_help=None) -> FleetSync:
    settings = SyncSettings(broker=f"mqtt://127.0.0.1:{port}", password=password, health_interval_s=60.0, reconnect_max_s=2.0)
    return FleetSync(settings, "kiosk-1", outbox, SystemClock(), "boot-1", "nabiz-kiosk/test", ("exit-default", 1), on_help=on_help)


def update(state: str, **fields) -> HelpUpdate:
    return HelpUpdate(v=PROTOCOL_VERSION, alert_id=17, response_uuid=UUID, state=state, at=1_796_026_241.25, **fields)


def logged(caplog, start: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(start)]


def test_the_kiosk_has_a_receiver_for_every_downstream_channel(outbox):
    sync = sync_for(outbox, 1883, "unused")
    assert set(sync._receivers) == set(DOWNSTREAM)
    assert sync.link.subscriptions == [(topic("kiosk-1", name), 1) for name in DOWNSTREAM]


def test_help_updates_reach_the_main_loop_and_bad_ones_are_dropped(broker, password, fleet, outbox, caplog):
    """The fleet's retained update waits for the kiosk on the broker and reaches it when it
    connects; a live one follows; a malformed one is logged and dropped; an empty one (the
    fleet clearing the retained update) means nothing to show; a failing receiver is logged
    and the next update still arrives."""
    caplog.set_level(logging.INFO, logger="kiosk.sync")
    waiting = update("waiting", callback_url="https://fleet.example.com/callback/abc")
    assert not fleet.publish(HELP, encode(waiting), retain=True).is_failure, "the fleet may publish a retained help update (no subscriber yet)"
    received: queue.SimpleQueue[HelpUpdate] = queue.SimpleQueue()
    broken = {"once": True}

    def on_help(update: HelpUpdate) -> None:
        if update.staff == "raise" and broken.pop("once", False):
            raise RuntimeError("a bug in the main loop's receiver")
        received.put(update)

    sync = sync_for(outbox, broker.port, password, on_help).start()
    try:
        assert received.get(timeout=10) == waiting, "the retained update, on connecting"
        assert logged(caplog, "help update from the fleet")[0].retained is True
        assert sync.link.refused_subscriptions == []

        fleet.publish(HELP, b'{"v":2,"alert_id":17,"response_uuid":"x","state":"accepted","at":1.0}', retain=True)
        fleet.publish(HELP, b"", retain=True)  # cleared
        fleet.publish(HELP, encode(update("coming", staff="raise")), retain=True)
        coming = update("coming", staff="Ayşe", eta_minutes=2)
        fleet.publish(HELP, encode(coming), retain=True)
        assert received.get(timeout=10) == coming, "the live update, after the bad, the empty and the failing one"
        assert received.empty()
    finally:
        sync.stop()
    bad = logged(caplog, "bad help update from the fleet dropped")
    assert len(bad) == 1 and "Invalid enum value 'accepted'" in bad[0].getMessage() and bad[0].levelno == logging.WARNING and bad[0].topic == HELP
    failed = logged(caplog, "the kiosk could not take a help update")
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR and failed[0].exc_info is not None
    states = [(r.state, r.staff, r.retained) for r in logged(caplog, "help update from the fleet")]
    assert states == [("waiting", "", True), ("coming", "raise", False), ("coming", "Ayşe", False)]


def test_a_cleared_help_update_is_not_replayed(broker, password, fleet, outbox):
    fleet.publish(HELP, encode(update("closed")), retain=True)
    fleet.publish(HELP, b"", retain=True)
    received: queue.SimpleQueue[HelpUpdate] = queue.SimpleQueue()
    sync = sync_for(outbox, broker.port, password, received.put).start()
    try:
        wait_until(sync.link.connected.is_set, what="the kiosk's connection")
        marker = update("waiting", staff="marker")
        fleet.publish(HELP, encode(marker))
        assert received.get(timeout=10) == marker, "the first update it hears is the one sent after it connected"
    finally:
        sync.stop()


def test_a_subscription_the_broker_refuses_is_an_error_naming_the_topic(broker, password, outbox, caplog):
    """A device whose broker role lacks the help channel (a broker set up by hand, or a role
    made before the channel existed): the kiosk says which topic, that the ACL refused it,
    and how to fix it; its other subscription (acks) is granted. A link that drops and comes
    back is refused again, but does not log it again."""
    broker_commands(broker, [{"command": "removeRoleACL", "rolename": device_role("kiosk-1"), "acltype": "subscribeLiteral", "topic": HELP}])
    caplog.set_level(logging.INFO, logger="kiosk.sync")
    sync = sync_for(outbox, broker.port, password).start()
    try:
        wait_until(lambda: sync.link.refused_subscriptions, what="the refused SUBACK")
        sync.link.client.disconnect()  # the link drops; it reconnects by itself
        wait_until(lambda: len(logged(caplog, "connected to the fleet")) == 2, what="the reconnect")
        wait_until(lambda: sync.link.refused_subscriptions, what="the refused SUBACK, again")
    finally:
        sync.stop()
    assert sync.link.refused_subscriptions == [HELP], "the acks were granted"
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    text = error.getMessage()
    assert error.topic == HELP and f"subscription to {HELP} (Not authorized)" in text
    assert "ACL does not let login 'kiosk-1' subscribe" in text and "fix:" in text and "docs/security.md" in text
