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
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from fleet.dynsec import FLEET_CLIENT_ID
from fleet.link import BrokerURL, fleet_client
from fleet.store import writing
from fleet.surveys import rollouts
from fleet.surveys.planner import plan
from fleet.surveys.tables import Assignment, Rollout
from kiosk.contract.protocol import publish_options, topic

log = logging.getLogger(__name__)

CLIENT_ID = f"{FLEET_CLIENT_ID}-survey"
#: Give up on a round when no PUBACK came for this long: the broker is away; the rest waits for the next tick.
PUBACK_WAIT_S = 10.0
#: Publishes awaiting their PUBACK at any moment: a sliding window, refilled as each PUBACK comes.
WINDOW = 500
#: Acknowledged devices are marked sent in one statement per this many, or per this long, whichever comes first.
MARK_BATCH = 500
MARK_EVERY_S = 0.1


class SurveyPublisher:
    """The service's MQTT edge: publish retained assignments, know which the broker took.

    A round (``publish``) keeps up to ``window`` assignments awaiting their PUBACK and sends the
    next as each one comes back, so the broker always has work and nothing waits for the slowest
    of a chunk. The PUBACKs are collected by paho's network thread (``_on_publish``: a list append,
    nothing more) and turned into device ids by the round, which hands them to ``mark`` in
    batches. A device reaches ``mark`` only after its PUBACK, and only a PUBACK that says
    success: a refusal (MQTT 5 reason code, e.g. not authorised) leaves it unsent.

    The window is ours, not paho's queue: paho's ``max_inflight_messages`` is set to the same
    size so it never queues, because its queue walks every in-flight message on each PUBACK
    (``_update_inflight``), which at 5,000 messages is quadratic work on the GIL."""

    def __init__(self, broker: BrokerURL, ca_file: str | None = None, window: int = WINDOW) -> None:
        client = fleet_client(broker, f"{CLIENT_ID}-{uuid.uuid4().hex[:6]}", ca_file)
        client.max_inflight_messages_set(window)
        client.max_queued_messages_set(0)
        self.window = window
        self.connected = threading.Event()
        client.on_connect = lambda c, u, flags, reason, props: self.connected.set() if not reason.is_failure else log.error("the broker refused the survey service's login", extra={"reason": str(reason)})
        client.on_disconnect = lambda c, u, flags, reason, props: self.connected.clear()
        client.on_publish = self._on_publish
        self._acks: list[tuple[int, bool]] = []  # (mid, taken) in PUBACK order; appended by paho's thread
        self._acks_lock = threading.Lock()
        self._acked = threading.Event()
        self.client = client
        self.host, self.port = broker.host, broker.port

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: ReasonCode, properties: object) -> None:
        with self._acks_lock:
            self._acks.append((mid, not reason.is_failure))
        self._acked.set()

    def _take_acks(self) -> list[tuple[int, bool]]:
        with self._acks_lock:
            acks, self._acks = self._acks, []
        return acks

    def publish(self, messages: Iterable[tuple[str, str]], mark: Callable[[list[str]], None], timeout: float = PUBACK_WAIT_S, clock: Callable[[], float] = time.monotonic) -> int:
        """Publish (device id, payload) pairs on each device's survey topic, at most ``window``
        awaiting PUBACK at once; ``mark(device ids)`` with those the broker took, in batches, as
        their PUBACKs come. Returns how many were marked. Stops (the rest left for the next
        round) when the link drops, a publish is refused by paho, or no PUBACK came for *timeout* s."""
        if not self.connected.is_set():
            return 0
        options = publish_options("survey")
        waiting = iter(messages)
        in_flight: dict[int, str] = {}  # mid → device id
        taken: list[str] = []
        marked = 0
        exhausted = False
        self._take_acks()  # PUBACKs of an earlier round's leftovers: not this round's
        last_ack = last_mark = clock()
        while True:
            while not exhausted and len(in_flight) < self.window and self.connected.is_set():
                message = next(waiting, None)
                if message is None:
                    exhausted = True
                    break
                device_id, payload = message
                info = self.client.publish(topic(device_id, "survey"), payload.encode(), **options)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    exhausted = True  # disconnected meanwhile: the rest next round
                    break
                in_flight[info.mid] = device_id
            if not in_flight:
                break
            self._acked.wait(MARK_EVERY_S)
            self._acked.clear()
            for mid, ok in self._take_acks():
                device_id = in_flight.pop(mid, None)
                if device_id is None:
                    continue
                if ok:
                    taken.append(device_id)
                else:
                    log.warning("the broker refused a survey assignment", extra={"device": device_id})
            now = clock()
            if taken:
                last_ack = now
                if len(taken) >= MARK_BATCH or now - last_mark >= MARK_EVERY_S:
                    mark(taken)
                    marked += len(taken)
                    taken, last_mark = [], now
            if now - last_ack > timeout or not self.connected.is_set():
                break  # the broker is away or slow: what is still in flight is not marked, so it goes again next round
        if taken:
            mark(taken)
            marked += len(taken)
        return marked


class RolloutService:
    """The loop; ``tick`` is one pass (tests call it directly), ``run`` repeats it until stopped."""

    def __init__(self, publisher: SurveyPublisher, clock: Callable[[], float] = time.time, interval: float = 0.2) -> None:
        self.publisher = publisher
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self._idle: dict[int, tuple[object, float | None]] = {}  # rollout → (progress_of, next_at) when the planner last released nothing

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
        # The planner reads every device of the rollout; five times a second over 5,000 rows that
        # was CPU taken from ingest while the reports came in. Its answer depends only on the
        # states and the time, so when it last released nothing, the states are as they were
        # (``progress_of``: states move only forward, so any move changes these counts) and
        # time has not reached its ``next_at``, it would say the same: skipped.
        progress = rollouts.progress_of(rollout.id)
        idle = self._idle.get(rollout.id)
        if idle is not None and idle[0] == progress and (idle[1] is None or now < idle[1]):
            return
        decision = plan(rollouts.policy_of(rollout), rollouts.states_of(rollout.id), now)
        self._idle.pop(rollout.id, None)
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
            self._idle[rollout.id] = (progress, decision.next_at)
            return
        released = list(decision.release)

        def payloads():  # read as the window needs them: a few hundred rows at a time
            for start in range(0, len(released), 500):
                chunk = released[start : start + 500]
                found = rollouts.payloads(rollout, chunk)
                yield from ((device_id, found[device_id]) for device_id in chunk if device_id in found)

        def mark(devices: list[str]) -> None:  # only ever devices whose PUBACK came: see SurveyPublisher
            for start in range(0, len(devices), 500):
                chunk = devices[start : start + 500]
                Assignment.update(published_at=self.clock()).where((Assignment.rollout == rollout.id) & Assignment.device_id.in_(chunk) & Assignment.published_at.is_null()).execute()

        done = self.publisher.publish(payloads(), mark)
        if done:
            self.published += done
            log.info("survey assignments published", extra={"rollout": rollout.id, "devices": done})
