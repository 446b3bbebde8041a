"""One MQTT connection to the fleet's broker, kept up for months.

paho-mqtt 2.x, MQTT v5, TLS when the broker URL says ``mqtts://`` or a CA file is given.
The link runs its own network thread and reconnects with exponential backoff and jitter
(``Backoff``) instead of paho's fixed schedule, so a thousand kiosks behind a restarted
broker do not knock all at once. A refused login backs off to the cap at once and says how
to fix it.

On every connect it publishes a retained birth message (``status``: online); the broker
publishes the retained Last Will (offline) if the kiosk vanishes. paho's callbacks only put
events on the owner's queue (``on_event``). Subscriptions (the channel table's downstream
channels of this device) are made in ``on_connect`` so they survive reconnects, and a refused
one is logged as an error naming the topic and the broker's ACL.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kiosk.config import ConfigError
from kiosk.contract.protocol import CHANNEL, PROTOCOL_VERSION, UPSTREAM, Channel, Status, device_subscriptions, encode, publish_options, topic
from kiosk.contract.transport import Backoff, BrokerAddress, no_delay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkUp:
    pass


@dataclass(frozen=True)
class LinkDown:
    reason: str


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    retained: bool = False  # replayed by the broker from its store (on subscribing), not sent just now


LinkEvent = LinkUp | LinkDown | Incoming
#: What paho's thread calls with each event; it must only queue it.
EventSink = Callable[[LinkEvent], None]

#: CONNACK reason codes that retrying cannot fix (bad login, banned, not authorised).
_LOGIN_REFUSED = {134, 135, 138, 140}


class MqttLink:
    def __init__(
        self,
        device_id: str,
        address: BrokerAddress,
        username: str | None,
        password: str | None,
        on_event: EventSink,
        subscriptions: Sequence[tuple[str, int]] | None = None,
        software: str = "",
        boot_id: str = "",
        ca_file: str | None = None,
        keepalive: int = 30,
        backoff: Backoff | None = None,
    ) -> None:
        self.device_id = device_id
        self.address = address
        self.on_event = on_event
        #: (topic, QoS) pairs subscribed on every connect: by default the channel table's
        #: downstream channels of this device.
        self.subscriptions = list(device_subscriptions(device_id) if subscriptions is None else subscriptions)
        #: Topics the broker refused on the last connect (each logged as an error).
        self.refused_subscriptions: list[str] = []
        self._refusals_logged: set[str] = set()
        self.software = software
        self.boot_id = boot_id
        self.keepalive = keepalive
        self.backoff = backoff or Backoff(first=1.0, cap=300.0)
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status_topic = topic(device_id, "status")
        self._last_problem = ""
        self._stopping = False

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=MQTTProtocolVersion.MQTTv5)
        if username:
            client.username_pw_set(username, password)
        if address.tls or ca_file:
            try:
                client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot use the CA file {ca_file!r}: {exc}\n  fix: give the PEM file of the CA that signed the broker's certificate") from None
        client.will_set(self._status_topic, self._status(False, "lost"), **publish_options("status"))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._subscribing: dict[int, list[str]] = {}
        if log.isEnabledFor(logging.DEBUG):  # paho reports ordinary disconnects as errors: only when debugging
            client.enable_logger(logging.getLogger("paho.kiosk"))
        self.client = client

    # --- owner's side ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def publish(self, channel: Channel, payload: bytes, expiry_s: int | None = None) -> bool:
        """Hand a message for this device's upstream *channel* to paho, with the channel table's
        QoS and retained flag; False if there is no connection (the caller resends later).
        With *expiry_s*, the broker drops the message if it could not deliver it in time."""
        if CHANNEL[channel].direction != "up":
            raise ValueError(f"a kiosk publishes only on upstream channels ({', '.join(UPSTREAM)}), not on {channel!r}")
        if not self.connected.is_set():
            return False
        properties = None
        if expiry_s is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.MessageExpiryInterval = expiry_s
        info = self.client.publish(topic(self.device_id, channel), payload, properties=properties, **publish_options(channel))
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def stop(self, timeout: float = 2.0) -> None:
        """Say goodbye (retained offline status: a clean stop sends no Will), then disconnect."""
        self._stopping = True
        if self.connected.is_set():
            info = self.client.publish(self._status_topic, self._status(False, "shutdown"), **publish_options("status"))
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                pass
            self.client.disconnect()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the network thread ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.client.connect(self.address.host, self.address.port, keepalive=self.keepalive, clean_start=True)
            except ssl.SSLError as exc:
                self._problem(
                    f"TLS with the broker {self.address.host}:{self.address.port} failed: {exc}; fix: set [fleet] ca_file to the CA that signed "
                    "the broker's certificate, dial the name in that certificate, and check the Pi's clock (a certificate is not valid in 1970)",
                    level=logging.ERROR,
                )
            except OSError as exc:
                self._problem(f"cannot reach the broker {self.address.host}:{self.address.port}: {exc}")
            else:
                while not self._stop.is_set():
                    if self.client.loop(timeout=1.0) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        break
                if self.connected.is_set():  # lost without paho noticing a DISCONNECT
                    self._went_down("connection lost")
            if self._stop.is_set():
                break
            self._stop.wait(self.backoff.next())

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason_code, properties: object) -> None:
        if reason_code.is_failure:
            code = reason_code.value
            if code in _LOGIN_REFUSED:
                self.backoff.give_up_quickly()
                self._problem(f"the broker refused this kiosk's login ({reason_code}); fix: check [fleet] username and password in the kiosk config, or ask head office whether device {self.device_id!r} was revoked", level=logging.ERROR)
            else:
                self._problem(f"the broker refused the connection ({reason_code})")
            return
        self.backoff.reset()
        self._last_problem = ""
        no_delay(client)
        self.refused_subscriptions = []
        if self.subscriptions:
            _, mid = client.subscribe(self.subscriptions)
            self._subscribing[mid] = [name for name, _ in self.subscriptions]
        client.publish(self._status_topic, self._status(True, "connected"), **publish_options("status"))
        self.connected.set()
        log.info("connected to the fleet", extra={"broker": f"{self.address.host}:{self.address.port}", "tls": self.address.tls})
        self.on_event(LinkUp())

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object, reason_code, properties: object) -> None:
        if self.connected.is_set():
            self._went_down(str(reason_code))

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reason_codes, properties: object) -> None:
        """A refused subscription means nothing on that channel will ever arrive (no Ack, no help
        update): say so loudly, naming the topic; once, not at every reconnect of a flapping link
        (again if the broker grants it in between and then refuses it)."""
        for name, reason in zip(self._subscribing.pop(mid, []), reason_codes):
            if not reason.is_failure:
                self._refusals_logged.discard(name)
                continue
            self.refused_subscriptions.append(name)
            if name in self._refusals_logged:
                continue
            self._refusals_logged.add(name)
            log.error(
                f"the broker refused this kiosk's subscription to {name} ({reason}): its ACL does not let login {self.device_id!r} subscribe to it, "
                "so nothing the fleet sends there can arrive; fix: the fleet must give this device the role it renders from the channel table "
                "(restart `fleet serve` on a managed broker; on a broker you run, see docs/security.md, A broker you run)",
                extra={"topic": name, "reason": str(reason)},
            )

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.on_event(Incoming(message.topic, message.payload, bool(message.retain)))

    def _went_down(self, reason: str) -> None:
        self.connected.clear()
        log.log(logging.INFO if self._stopping else logging.WARNING, "disconnected from the fleet", extra={"reason": reason})
        self.on_event(LinkDown(reason))

    def _problem(self, text: str, level: int = logging.WARNING) -> None:
        # Hours offline must not fill the card with the same line: log a problem when it changes.
        if text != self._last_problem:
            log.log(level, text)
            self._last_problem = text

    def _status(self, online: bool, reason: str) -> bytes:
        return encode(Status(v=PROTOCOL_VERSION, device_id=self.device_id, online=online, software=self.software, boot_id=self.boot_id, reason=reason))
