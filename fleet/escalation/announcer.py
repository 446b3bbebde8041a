"""The help announcer: one thread per fleet that publishes pending help announcements to kiosks.

Announcements are rows (``fleet.escalation.help``) written by whichever process changed the
alert. This thread publishes them on each device's retained ``help`` channel (QoS and retain
from the channel table) through an MQTT link of its own, logged in with the fleet's broker
account under the client id ``<fleet client id>-help`` (``nabiz-fleet-help``: the
``nabiz-fleet`` prefix is reserved, no device may take it). A row is marked sent only when the
broker's PUBACK arrives; while the broker is away nothing is marked, and paho reconnects with
backoff, so the rows go out when it is back.

Only news of the newest customer announced at a device is published (``help.current_customers``):
an earlier customer's alert acknowledged or closed later is marked ``superseded`` unsent, so
it cannot replace the retained message the customer on the help screen is waiting for.

``wake()`` publishes at once (this process changed an alert: the web's POST, the response feed,
the ticker); otherwise the thread looks every ``poll_seconds`` (0.5) for rows other processes
wrote (``fleet alert ack``, another fleet process). Several rows for one device are folded into the
newest (the topic is retained: only the last message counts); the older ones are marked
``superseded`` with it.

    announcer = HelpAnnouncer(broker, client_id="nabiz-fleet-help")
    announcer.start(); ...; announcer.wake(); ...; announcer.stop()
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from typing import TYPE_CHECKING

import peewee
from paho.mqtt.enums import MQTTErrorCode

from fleet.escalation import help
from fleet.link import fleet_client
from kiosk.contract.protocol import publish_options, topic
from kiosk.contract.transport import no_delay

if TYPE_CHECKING:
    from fleet.link import BrokerURL

log = logging.getLogger(__name__)

#: Appended to the fleet's client id: the announcer's own MQTT client id.
CLIENT_SUFFIX = "help"


def announcer_client_id(fleet_client_id: str) -> str:
    return f"{fleet_client_id}-{CLIENT_SUFFIX}"


class HelpAnnouncer:
    def __init__(self, broker: BrokerURL, client_id: str, ca_file: str | None = None, poll_seconds: float = 0.5, batch: int = 200) -> None:
        self.broker = broker
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.connected = threading.Event()
        self.published = 0  # rows marked sent (published or superseded), for tests and logs
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._acks: queue.SimpleQueue[tuple[int, bool, str]] = queue.SimpleQueue()  # (mid, refused, reason) from paho's thread
        self._inflight: dict[int, tuple[list[int], int, str, int]] = {}  # mid → (row ids, published row, device, link generation)
        self._generation = 0  # connections made so far: what was in flight on an older one is sent again
        self._thread: threading.Thread | None = None
        client = fleet_client(broker, client_id, ca_file, reconnect_max_s=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client

    def start(self) -> HelpAnnouncer:
        """Connect in the background (paho retries while the broker is away) and start publishing."""
        self._stop.clear()
        try:
            self.client.connect_async(self.broker.host, self.broker.port, keepalive=30, clean_start=True)
        except (OSError, ssl.SSLError, ValueError) as exc:
            log.error("help announcer cannot set up its broker link: %s", exc)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="help-announcer", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish what is pending if the broker is there (up to *timeout*), then disconnect."""
        if self._thread is None:
            return
        self._stop.set()
        self._wakeup.set()
        self._thread.join(timeout)
        self._thread = None
        self.client.disconnect()
        self.client.loop_stop()

    # --- paho's thread: note and wake only ----------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.error("the broker refused the help announcer's login", extra={"reason": str(reason_code), "broker": self.broker.masked()})
            return
        no_delay(client)
        self._generation += 1
        self.connected.set()
        log.info("help announcer connected to the broker", extra={"broker": self.broker.masked()})
        self._wakeup.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if self.connected.is_set() and not self._stop.is_set():
            log.warning("help announcer lost the broker; pending announcements wait for it", extra={"reason": str(reason_code)})
        self.connected.clear()
        self._wakeup.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self._acks.put((mid, bool(reason_code.is_failure), str(reason_code)))
        self._wakeup.set()

    # --- the announcer's thread: owns the store connection --------------------------------------

    def _run(self) -> None:
        delay = 1.0
        while True:
            stopping = self._stop.is_set()
            try:
                self._settle()
                if self.connected.is_set():
                    self._publish_pending()
                delay = 1.0
            except (peewee.DatabaseError, peewee.InterfaceError) as exc:
                log.error("help announcer: the store is unavailable (%s); retrying in %.0f s", str(exc).strip()[:200], delay)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, 30.0)
                continue
            if stopping:
                self._drain()
                break
            self._wakeup.wait(self.poll_seconds)
            self._wakeup.clear()
        from fleet.store import close_database

        close_database()

    def _drain(self, timeout: float = 2.0) -> None:
        """On stop: wait a moment for the PUBACKs of what is in flight, so it is not sent twice."""
        deadline = time.monotonic() + timeout
        while self._inflight and self.connected.is_set() and time.monotonic() < deadline:
            self._wakeup.wait(0.05)
            self._wakeup.clear()
            self._settle()

    def _settle(self) -> None:
        """Mark the rows whose PUBACK came; forget what was in flight when the link dropped
        (those rows are still pending: they go out again after the reconnect)."""
        generation = self._generation
        for mid in [mid for mid, entry in self._inflight.items() if entry[3] != generation or not self.connected.is_set()]:
            del self._inflight[mid]
        while True:
            try:
                mid, refused, reason = self._acks.get_nowait()
            except queue.Empty:
                return
            entry = self._inflight.pop(mid, None)
            if entry is None:
                continue
            ids, published, device_id, _ = entry
            if refused:
                log.error(
                    "the broker refused a help announcement: the fleet's login may not publish on the kiosk's help channel (its ACL)",
                    extra={"device": device_id, "reason": reason, "fix": "restart `fleet serve` (it renders the fleet's role from the channel table), or grant the fleet's login nabiz/+/help on a broker you run"},
                )
                help.mark(ids, "refused")
            else:
                help.mark([published], "published")
                help.mark([row for row in ids if row != published], "superseded")
                log.info("help update published", extra={"device": device_id, "announcement": published})
            self.published += len(ids)

    def _publish_pending(self) -> None:
        busy = {row for ids, *_ in self._inflight.values() for row in ids}
        generation = self._generation
        rows = [row for row in help.pending(self.batch + len(busy)) if row.id not in busy]
        newest: dict[str, list] = {}
        for row in rows:  # oldest first: the last one per device is what the kiosk must keep
            newest.setdefault(row.device_id, []).append(row)
        current = help.current_customers(list(newest))
        for device_id, group in newest.items():
            customer = current.get(device_id)
            about_current = [row for row in group if customer is None or row.response_uuid == customer]
            if not about_current:  # only news of earlier customers: the retained message stays the newest one's
                help.mark([row.id for row in group], "superseded")
                self.published += len(group)
                continue
            last = about_current[-1]
            info = self.client.publish(topic(device_id, "help"), last.payload.encode(), **publish_options("help"))
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return  # the link just dropped: these stay pending
            self._inflight[info.mid] = ([row.id for row in group], last.id, device_id, generation)
