"""The fleet's MQTT connection: receive what devices publish, acknowledge only what is stored.

- A persistent session (``clean_start=False`` with a session expiry): while the fleet is
  down, the broker keeps its subscriptions and queues what kiosks publish.
- Manual acknowledgement (paho's ``manual_ack``): the PUBACK for a kiosk's message is sent
  only after the ingest has committed it, so a fleet killed mid-batch gets the message again
  from the broker when it comes back. Kiosks resend anyway; this just makes it quicker.
- ``Receive Maximum`` bounds how many unacknowledged messages the broker pushes at once:
  back-pressure instead of an unbounded queue in memory.
- With ``shared_group``, subscriptions are shared (``$share/<group>/...``) so several fleet
  workers split the traffic. Then the session is *clean*: a stopped worker's persistent
  session would go on taking its share of the group's messages with nobody to read them
  (Mosquitto 2.0 queues for offline members). What a dying worker held unacknowledged,
  kiosks resend after their ack timeout, so nothing is lost.

paho's callbacks only put ``Received`` items on a queue; the server's writer takes them.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.dynsec import FLEET_CLIENT_ID
from fleet.ingest import Received
from kiosk.contract.protocol import CHANNEL, DOWNSTREAM, Channel, fleet_subscriptions, parse_topic, publish_options, topic
from kiosk.contract.transport import AddressError, BrokerAddress, no_delay

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
#: What to do when the broker refuses one of the fleet's subscriptions (docs/security.md).
REFUSED_FIX = (
    "the fleet's broker login needs the fleet role rendered from the channel table (fleet.dynsec): "
    "on the managed broker, restart `fleet serve` (it renders every role at start); on a broker you run, "
    "grant the fleet's login every upstream channel, also as $share/<group>/... (docs/security.md, A broker you run)"
)


class LinkError(RuntimeError):
    pass


@dataclass(frozen=True)
class BrokerURL:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerURL:
        """The kiosk's address rules (schemes, default ports) plus the fleet's login."""
        problem = f"broker {url!r} is not mqtt://[USER:PASSWORD@]HOST[:PORT]\n  fix: e.g. NABIZ_FLEET_BROKER=mqtt://fleet:secret@broker.example.com:1883"
        if "://" not in url:
            raise LinkError(problem)
        try:
            address = BrokerAddress.parse(url)
        except AddressError:
            raise LinkError(problem) from None
        parsed = urlparse(url)
        username = unquote(parsed.username) if parsed.username else None
        password = unquote(parsed.password) if parsed.password else None
        return cls(address.host, address.port, username, password, address.tls)

    def with_password(self) -> str:
        """The full URL, secret included: for a child process's environment, never for logs or argv."""
        from urllib.parse import quote

        user = f"{quote(self.username, safe='')}:{quote(self.password or '', safe='')}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def masked(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def fleet_client(broker: BrokerURL, client_id: str, ca_file: str | None = None, *, manual_ack: bool = False, reconnect_max_s: int = 30) -> mqtt.Client:
    """A paho client logged in as *broker*'s user (the fleet's account), MQTT 5, TLS when the URL
    or a CA file asks for it, reconnecting with backoff: what every fleet link to the broker
    starts from (ingest, the help announcer, the survey publisher). Callbacks are the caller's."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5, manual_ack=manual_ack)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls or ca_file:
        client.tls_set(ca_certs=ca_file)
    client.reconnect_delay_set(1, reconnect_max_s)
    return client


class FleetLink:
    def __init__(self, broker: BrokerURL, client_id: str = FLEET_CLIENT_ID, shared_group: str | None = None, receive_maximum: int = 2000, ca_file: str | None = None) -> None:
        self.broker = broker
        self.shared_group = shared_group
        self.inbox: queue.SimpleQueue[Received] = queue.SimpleQueue()
        self.connected = threading.Event()
        self._answered = threading.Event()  # any CONNACK, accepted or refused
        self.refused: str | None = None
        client = fleet_client(broker, client_id, ca_file, manual_ack=True)
        client.max_queued_messages_set(100_000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        if log.isEnabledFor(logging.DEBUG):  # paho reports ordinary disconnects as errors: only when debugging
            client.enable_logger(logging.getLogger("paho.fleet"))
        self.refused_subscriptions: list[str] = []
        self._subscribing: dict[int, list[str]] = {}
        self.client = client
        self._receive_maximum = receive_maximum
        self._stopping = False

    def start(self, timeout: float = 10.0) -> None:
        properties = Properties(PacketTypes.CONNECT)
        persistent = self.shared_group is None
        if persistent:
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
        properties.ReceiveMaximum = self._receive_maximum
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30, clean_start=not persistent, properties=properties)
        except ssl.SSLError as exc:
            raise LinkError(f"TLS with the broker {self.broker.masked()} failed: {exc}\n  fix: give the CA that signed its certificate with --ca-file, and dial the name in that certificate") from None
        except OSError as exc:
            raise LinkError(f"cannot reach the broker {self.broker.masked()}: {exc}\n  fix: check that it runs and the address is right") from None
        self.client.loop_start()
        self._answered.wait(timeout)
        if not self.connected.is_set():
            self.client.loop_stop()
            reason = self.refused or "no answer"
            raise LinkError(f"the broker {self.broker.masked()} did not accept the fleet's login ({reason})\n  fix: check the fleet's broker user and password")

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def take(self, timeout: float, limit: int) -> list[Received]:
        """Wait up to *timeout* for a message, then take whatever else is already waiting."""
        try:
            batch = [self.inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(batch) < limit:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def acknowledge(self, batch: list[Received]) -> None:
        """PUBACK the messages of a processed batch (after the store committed them)."""
        for message in batch:
            if message.token is not None:
                self.client.ack(message.token, 1)

    def publish(self, device_id: str, channel: Channel, payload: bytes) -> bool:
        """Publish on one of *device_id*'s downstream channels, with the table's QoS and retained
        flag; False if paho could not take it (not connected: the caller decides what to redo)."""
        if CHANNEL[channel].direction != "down":
            raise ValueError(f"the fleet publishes only on downstream channels ({', '.join(DOWNSTREAM)}), not on {channel!r}")
        info = self.client.publish(topic(device_id, channel), payload, **publish_options(channel))
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_ack(self, device_id: str, payload: bytes) -> bool:
        return self.publish(device_id, "ack", payload)

    def clear_retained(self, topic_name: str) -> None:
        """An empty retained message deletes the broker's retained one on that topic: a revoked
        device's last status, or a help update nobody needs any more. The broker's ACL lets the
        fleet do it on the channels the table retains."""
        self.client.publish(topic_name, b"", qos=CHANNEL[parse_topic(topic_name).channel].qos, retain=True)

    # --- paho's thread: queue only --------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: object, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
            log.error("the broker refused the fleet's connection", extra={"reason": str(reason_code), "broker": self.broker.masked()})
            self._answered.set()
            return
        no_delay(client)
        filters = fleet_subscriptions(self.shared_group)
        _, mid = client.subscribe(filters)
        self._subscribing[mid] = [name for name, _ in filters]
        self.connected.set()
        self._answered.set()
        log.info("fleet connected to the broker", extra={"broker": self.broker.masked(), "session_present": bool(flags.session_present)})

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags, reason_code, properties) -> None:
        self.connected.clear()
        if self._stopping:
            log.info("fleet disconnected from the broker")
        else:
            log.warning("fleet disconnected from the broker; reconnecting", extra={"reason": str(reason_code)})

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reason_codes, properties) -> None:
        """A refused subscription is loud: the fleet would hear nothing on that channel."""
        filters = self._subscribing.pop(mid, [])
        for name, reason in zip(filters, reason_codes):
            if reason.is_failure:
                self.refused_subscriptions.append(name)
                log.error(
                    f"the broker refused the fleet's subscription to {name} ({reason}): its ACL does not grant the fleet's login that filter, so nothing on it will arrive",
                    extra={"filter": name, "reason": str(reason), "fix": REFUSED_FIX},
                )

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        # QoS 0 messages (health) need no PUBACK; paho ignores ack() for them anyway.
        token = message.mid if message.qos > 0 else None
        self.inbox.put(Received(message.topic, message.payload, time.time(), token, bool(message.retain)))
