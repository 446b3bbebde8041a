"""Helpers for tests that talk to a real Mosquitto: free ports, logins, waiting on messages.

Waiting is always on an event with a deadline, never a bare sleep (as gpiozero's tests do).
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        threading.Event().wait(interval)


class Client:
    """A plain paho client for tests: connect result, received messages, publish acks."""

    def __init__(self, port: int, username: str | None, password: str | None, client_id: str | None = None, will: tuple[str, bytes] | None = None) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connack = threading.Event()
        self.reason: object = None
        self.disconnected = threading.Event()
        self.granted: list = []
        self.subscribed = threading.Event()
        self.pubacks: dict[int, object] = {}  # mid → the broker's PUBACK reason code
        self._puback = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{time.monotonic_ns()}", protocol=MQTTProtocolVersion.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        if will:
            self.client.will_set(will[0], will[1], qos=1)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.port = port

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.reason = reason_code
        self.connack.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.granted = list(reason_codes)
        self.subscribed.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._puback:
            self.pubacks[mid] = reason_code
            self._puback.notify_all()

    def connect(self, timeout: float = 5.0) -> Client:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        assert self.connack.wait(timeout), "no CONNACK"
        return self

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, topic: str, timeout: float = 5.0) -> list:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(timeout), "no SUBACK"
        return self.granted

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 5.0, retain: bool = False):
        """Publish and wait for the broker's PUBACK (QoS 1); returns its reason code
        ('Success', or 'Not authorized' for a topic the login may not publish on)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        with self._puback:
            self._puback.wait_for(lambda: info.mid in self.pubacks, timeout)
            return self.pubacks.get(info.mid)

    def get(self, timeout: float = 5.0) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for_login(port: int, username: str, password: str, timeout: float = 10.0) -> None:
    """The broker re-reads its password file on SIGHUP, asynchronously: wait until it has."""

    def accepted() -> bool:
        client = Client(port, username, password, client_id=username)  # a device's login is bound to its id
        try:
            client.connect()
            return client.accepted
        except OSError:
            return False
        finally:
            client.close()

    wait_until(accepted, timeout, interval=0.05, what=f"the broker to accept {username!r}")


def upload(device_id: str, count: int = 1, boot_id: str = "boot-test") -> tuple[bytes, list[str]]:
    """An Upload of *count* fresh, valid responses as a kiosk publishes it, and their uuids."""
    import uuid as uuidlib

    from kiosk.contract.protocol import PROTOCOL_VERSION, AnswerPayload, Moment, ResponsePayload, SenderClock, Upload, encode

    now = time.time()
    responses = [
        ResponsePayload(
            uuid=str(uuidlib.uuid4()), survey_id="exit-default", survey_version=1, language="tr", status="completed", misuse=False, negative=False,
            end_reason="completed", answers=[AnswerPayload(question="satisfaction", option="happy", button=3, negative=False, elapsed_ms=0)],
            presses=[3], started=Moment(now - 5, 100.0), finished=Moment(now - 4, 101.0), boot_id=boot_id, clock_synced=True, device_id=device_id,
        )
        for _ in range(count)
    ]
    payload = encode(Upload(v=PROTOCOL_VERSION, device_id=device_id, sent=SenderClock(now, time.monotonic(), True, boot_id), responses=responses))
    return payload, [str(r.uuid) for r in responses]


def broker_commands(broker, commands: list[dict]) -> None:
    """Run dynamic-security *commands* on the test's managed *broker* as its admin (add a device's
    login and role, take an ACL out of a role); fail on any error the broker answers."""
    from fleet.dynsec import AdminLogin, BrokerControl, failures

    with BrokerControl(AdminLogin("127.0.0.1", broker.port, broker.files.admin_password())) as control:
        problems = failures(commands, control.run(commands))
    assert not problems, problems


def add_device_login(broker, device_id: str) -> str:
    """A device's login and role (made from the channel table, as ``fleet device add`` makes
    them) on the test's running *broker*, without a fleet store; its password."""
    import secrets

    from fleet.dynsec import create_commands

    password = secrets.token_urlsafe(12)
    broker_commands(broker, create_commands(device_id, password))
    return password
