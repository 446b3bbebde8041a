"""The rollout service in ``fleet serve``: publish what the planner releases, follow it to the end.

Once per fleet (``fleet.app``'s ``_services``: the single process, or the supervisor of
``--workers N``), on a thread of its own with an MQTT link of its own (the fleet's login, client
id ``nabiz-fleet-survey``). Each tick it

1. marks ``applied`` the devices whose Health shows their assignment's version (``reconcile_health``);
2. for each active rollout, asks the planner (``fleet.surveys.planner.plan``) what to release,
   publishes those assignments retained on ``nabiz/<device>/survey`` (QoS 1: the channel
   table's), and marks each published only once the broker acknowledged it (PUBACK); then stops
   the rollout if the planner says abort (the devices not yet sent are ``cancelled`` and keep
   their survey), or closes it when every device has finished.

It never signs: the assignments were signed by ``fleet survey push`` and their signatures stored
(``rollouts.payloads`` rebuilds each payload from its row and the version's document), so a
fleet killed at any moment resumes with the same payloads and sequence numbers. At worst an assignment the
broker took just before the kill is published again, byte for byte the same: the kiosk sees a
sequence it already holds and does nothing (``docs/surveys.md``, "Crash safety").

Reports arrive through ingest (``fleet.ingest``'s ``survey_report`` handler), in ingest's own
transaction; this service only reads what they changed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from fleet.dynsec import FLEET_CLIENT_ID
from fleet.store import writing
from fleet.surveys import rollouts
from fleet.surveys.planner import plan
from fleet.surveys.tables import Assignment, Rollout
from kiosk.contract.protocol import publish_options, topic

log = logging.getLogger(__name__)

CLIENT_ID = f"{FLEET_CLIENT_ID}-survey"
#: How long a published batch waits for its PUBACKs before the rest is left for the next tick.
PUBACK_WAIT_S = 10.0


class SurveyPublisher:
    """The service's MQTT edge: publish retained assignments, know which the broker took."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None, tls: bool = False, ca_file: str | None = None) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{CLIENT_ID}-{uuid.uuid4().hex[:6]}", protocol=MQTTProtocolVersion.MQTTv5)
        if username:
            client.username_pw_set(username, password)
        if tls or ca_file:
            client.tls_set(ca_certs=ca_file)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 30)
        self.connected = threading.Event()
        client.on_connect = lambda c, u, flags, reason, props: self.connected.set() if not reason.is_failure else log.error("the broker refused the survey service's login", extra={"reason": str(reason)})
        client.on_disconnect = lambda c, u, flags, reason, props: self.connected.clear()
        self.client = client
        self.host, self.port = host, port

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, messages: list[tuple[str, str]], timeout: float = PUBACK_WAIT_S) -> list[str]:
        """Publish (device id, payload) pairs on each device's survey topic; the device ids whose
        message the broker acknowledged within *timeout*."""
        if not self.connected.is_set():
            return []
        options = publish_options("survey")
        sent = []
        for device_id, payload in messages:
            info = self.client.publish(topic(device_id, "survey"), payload.encode(), **options)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            sent.append((device_id, info))
        deadline = time.monotonic() + timeout
        for _, info in sent:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                info.wait_for_publish(remaining)
            except (RuntimeError, ValueError):  # disconnected meanwhile: left for the next tick
                break
        return [device_id for device_id, info in sent if info.is_published()]


class RolloutService:
    """The loop; ``tick`` is one pass (tests call it directly), ``run`` repeats it until stopped."""

    def __init__(self, publisher: SurveyPublisher, clock: Callable[[], float] = time.time, interval: float = 0.2) -> None:
        self.publisher = publisher
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0

    def start(self) -> RolloutService:
        self.publisher.start()
        self._thread = threading.Thread(target=self._run, name="survey-rollouts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.publisher.stop()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # one bad pass must not end the service: logged, tried again next tick
                    log.exception("survey rollout pass failed; trying again")
                self._stop.wait(self.interval)
        finally:
            from fleet.store import close_database

            close_database()

    def tick(self) -> None:
        now = self.clock()
        with writing():
            rollouts.reconcile_health(now)
        for rollout in list(Rollout.select().where(Rollout.state == "active").order_by(Rollout.id)):
            self._advance(rollout, now)

    def _advance(self, rollout: Rollout, now: float) -> None:
        decision = plan(rollouts.policy_of(rollout), rollouts.states_of(rollout.id), now)
        if decision.abort:
            with writing():
                Rollout.update(state="aborted", reason=decision.abort, ended_at=now).where(Rollout.id == rollout.id).execute()
                Assignment.update(status="cancelled", reason="the rollout was aborted before this device was sent", updated_at=now, source="fleet").where(
                    (Assignment.rollout == rollout.id) & Assignment.published_at.is_null() & (Assignment.status == "pending")
                ).execute()
            log.warning("survey rollout aborted", extra={"rollout": rollout.id, "reason": decision.abort})
            return
        if decision.complete:
            Rollout.update(state="completed", ended_at=now).where(Rollout.id == rollout.id).execute()
            log.info("survey rollout completed", extra={"rollout": rollout.id})
            return
        if not decision.release:
            return
        for start in range(0, len(decision.release), 1000):
            chunk = list(decision.release[start : start + 1000])
            payloads = rollouts.payloads(rollout, chunk)
            done = self.publisher.publish([(device_id, payloads[device_id]) for device_id in chunk if device_id in payloads])
            if done:
                Assignment.update(published_at=self.clock()).where((Assignment.rollout == rollout.id) & Assignment.device_id.in_(done) & Assignment.published_at.is_null()).execute()
                self.published += len(done)
                log.info("survey assignments published", extra={"rollout": rollout.id, "devices": len(done)})
            if len(done) < len(chunk):
                return  # the broker is away or slow: the rest next tick
