"""The sync worker: one thread that drains the outbox to the fleet and reports health.

It owns its own connection to the outbox (see ``Outbox.connect_sync_thread``), the
``SyncEngine`` and the health schedule. The MQTT link's thread and the kiosk's main loop
only put events on its queue, so neither ever waits for the other, the card or the network:
a press is drawn in the same frame whether the fleet is up, down or draining a week of
backlog.

What the fleet sends this device arrives on the channel table's downstream channels, each with
its receiver here: ``ack`` drives the engine; ``help`` is decoded and handed to ``on_help``
(the main loop's queue), a malformed one logged and dropped; ``survey`` is handed as it came to
``on_survey`` (the main loop verifies and saves it: ``kiosk.survey_push``).

Survey reports (``survey_report``) wait in their durable queue (``ReportQueue``) until this
worker has handed them to the broker: on every connect, and whenever the main loop adds one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import peewee

from kiosk.config import SyncSettings
from kiosk.contract.clock import Clock
from kiosk.contract.protocol import PROTOCOL_VERSION, Ack, Health, HelpUpdate, ProtocolError, SenderClock, decode, encode, parse_topic
from kiosk.contract.sync_engine import SyncEngine
from kiosk.contract.transport import Backoff, BrokerAddress
from kiosk.outbox import Outbox
from kiosk.sync import system
from kiosk.sync.link import Incoming, LinkDown, LinkEvent, LinkUp, MqttLink

if TYPE_CHECKING:
    from kiosk.survey_push import ReportQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Saved:
    pass


@dataclass(frozen=True)
class _Reports:
    pass


@dataclass(frozen=True)
class _Stop:
    grace: float  # seconds to wait for Acks of what is already sent


_Event = LinkEvent | _Saved | _Reports | _Stop
_SAVED = _Saved()
_REPORTS = _Reports()


class FleetSync:
    def __init__(
        self,
        settings: SyncSettings,
        device_id: str,
        outbox: Outbox,
        clock: Clock,
        boot_id: str,
        software: str,
        survey: tuple[str, int],
        on_fatal: Callable[[str], None] | None = None,
        on_help: Callable[[HelpUpdate], None] | None = None,
        on_link: Callable[[bool], None] | None = None,
        on_survey: Callable[[bytes], None] | None = None,
        reports: ReportQueue | None = None,
        survey_origin: tuple[Literal["default", "file", "pushed"], bool] = ("default", False),
    ) -> None:
        """*on_help* gets each HelpUpdate the fleet sends; *on_link* whether the link is up, at each
        change; *on_survey* each payload on the survey channel. They are called on this worker's
        thread: they only queue an event for the kiosk. *reports*: the survey reports to send;
        *survey_origin*: where the survey on screen came from and whether it was verified (Health)."""
        if not settings.broker:
            raise ValueError("no broker configured")
        self.settings = settings
        self.device_id = device_id
        self.outbox = outbox
        self.clock = clock
        self.software = software
        self.survey = survey  # (id, version) shown; the main loop replaces the tuple
        self.survey_origin = survey_origin  # (source, verified) shown; replaced with the tuple
        self.on_survey = on_survey
        self.reports = reports
        self.on_fatal = on_fatal
        #: Called on the sync thread with each help update the fleet sends this device (a
        #: retained one too, when the link (re)connects). It must only queue it for the main loop.
        self.on_help = on_help
        self.on_link = on_link  # called with True/False at each link change: it only queues an event
        #: What to do with a message on each downstream channel of the table.
        self._receivers: dict[str, Callable[[Incoming], None]] = {"ack": self._on_ack, "help": self._on_help, "survey": self._on_survey}
        self._queue: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self.link = MqttLink(
            device_id,
            BrokerAddress.parse(settings.broker),
            settings.username or device_id,
            settings.password,
            on_event=self._queue.put,
            software=software,
            boot_id=boot_id,
            ca_file=settings.ca_file,
            keepalive=settings.keepalive_s,
            backoff=Backoff(first=1.0, cap=settings.reconnect_max_s),
        )
        self.engine = SyncEngine(
            device_id,
            outbox,
            self._publish_upload,
            clock,
            boot_id,
            batch_size=settings.batch_size,
            window=settings.window,
            ack_timeout=settings.ack_timeout_s,
            # An Upload expires in the broker after upload_expiry_s; resending no later keeps
            # a fleet back from downtime from waiting longer than that for it.
            max_ack_timeout=max(settings.ack_timeout_s, settings.upload_expiry_s),
        )
        self._thread: threading.Thread | None = None
        self._next_health: float | None = None
        self._reported_unsent = 0  # as of the last health report

    # --- the kiosk's side (any thread; never blocks) ------------------------------------------

    def start(self) -> FleetSync:
        self._thread = threading.Thread(target=self._run, name="fleet-sync", daemon=True)
        self._thread.start()
        self.link.start()
        return self

    def saved(self) -> None:
        """A response was just committed: send it when the link and window allow."""
        self._queue.put(_SAVED)

    def report_queued(self) -> None:
        """A survey report was queued: send it when the link allows."""
        self._queue.put(_REPORTS)

    def stop(self, grace: float = 2.0) -> None:
        """Stop syncing. Responses already sent get *grace* seconds for their Ack (the last
        customer's answer, saved at shutdown, is then not sent again at the next start)."""
        self._queue.put(_Stop(grace))
        if self._thread is not None:
            self._thread.join(grace + 3.0)
        self.link.stop(timeout=2.0)

    # --- the worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.outbox.connect_sync_thread()
            self._warn_of_answers_recorded_elsewhere()
            self._loop()
        except Exception as exc:  # a bug here must not leave a kiosk silently unsynced for months
            log.critical("fleet sync stopped by an unexpected error", exc_info=True)
            if self.on_fatal:
                self.on_fatal(f"fleet sync failed: {exc}")
        finally:
            self.outbox.disconnect_sync_thread()

    def _loop(self) -> None:
        while True:
            try:
                event = self._queue.get(timeout=self._wait())
            except queue.Empty:
                event = None
            if isinstance(event, _Stop):
                self._finish(event.grace)
                return
            try:
                self._handle(event)
                self.engine.on_tick()
                self._health_if_due()
            except peewee.DatabaseError as exc:  # the card is failing or full: keep the kiosk up, try later
                log.error("fleet sync cannot read the outbox: %s", exc)
                time.sleep(5.0)

    def _finish(self, grace: float) -> None:
        self.engine.pump()
        deadline = time.monotonic() + grace
        while self.engine.connected and self.engine.awaiting_ack and time.monotonic() < deadline:
            try:
                event = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if not isinstance(event, (_Saved, _Stop)):
                self._handle(event)

    def _warn_of_answers_recorded_elsewhere(self) -> None:
        """Say once, at the start, what will happen to answers recorded under another device id:
        each is sent under the id it was recorded under, the fleet refuses it (it never moves
        answers to another device), and it stays on this card."""
        try:
            elsewhere = self.outbox.unsent_recorded_elsewhere(self.device_id)
        except peewee.DatabaseError as exc:  # the card is failing: the sync loop retries its own reads
            log.error("fleet sync cannot read the outbox: %s", exc)
            return
        for other, count in elsewhere.items():
            log.warning(
                "%d answers on this card were recorded as device %r, not as %r (this kiosk's config now): the fleet will refuse them"
                " and they stay on the card (kiosk responses lists them); fix: to send them, run this card once more with the config of %r",
                count, other, self.device_id, other,
                extra={"recorded_as": other, "count": count},
            )

    def _wait(self) -> float:
        now = self.clock.now().monotonic
        deadlines = [d for d in (self.engine.next_deadline(), self._next_health) if d is not None]
        return max(0.0, min(deadlines) - now) if deadlines else 60.0

    def _handle(self, event: _Event | None) -> None:
        if isinstance(event, LinkUp):
            self.engine.on_connected()
            self._send_reports()
            self._next_health = self.clock.now().monotonic  # report at once on every connect
            if self.on_link is not None:
                self.on_link(True)
        elif isinstance(event, LinkDown):
            self.engine.on_disconnected()
            self._next_health = None
            if self.on_link is not None:
                self.on_link(False)
        elif isinstance(event, _Saved):
            self.engine.on_saved()
        elif isinstance(event, _Reports):
            self._send_reports()
        elif isinstance(event, Incoming):
            self._receive(event)

    def _receive(self, event: Incoming) -> None:
        """A message from the fleet, handed to its channel's receiver (the broker delivers only
        this device's downstream channels; anything else is a broker or fleet bug, ignored)."""
        try:
            where = parse_topic(event.topic)
        except ProtocolError:
            where = None
        receiver = self._receivers.get(where.channel) if where is not None and where.device_id == self.device_id else None
        if receiver is None:
            log.warning("message on an unexpected topic ignored", extra={"topic": event.topic})
            return
        receiver(event)

    def _on_ack(self, event: Incoming) -> None:
        try:
            ack = decode("ack", event.payload)
        except ProtocolError as exc:
            log.warning("bad acknowledgement from the fleet ignored: %s", exc)
            return
        assert isinstance(ack, Ack)
        self.engine.on_ack(ack)
        if self._reported_unsent and not self.engine.awaiting_ack:
            self._next_health = self.clock.now().monotonic  # drained: say so now, not in a minute

    def _on_help(self, event: Incoming) -> None:
        """Decode a help update and pass it on. Whether it is for the customer on the help screen
        (a retained one may be an earlier customer's) is for the main loop to decide."""
        if not event.payload:  # the fleet cleared the retained update: there is nothing to show
            log.debug("help update cleared by the fleet", extra={"topic": event.topic})
            return
        try:
            update = decode("help", event.payload)
        except ProtocolError as exc:
            log.warning("bad help update from the fleet dropped: %s", exc, extra={"topic": event.topic, "bytes": len(event.payload)})
            return
        assert isinstance(update, HelpUpdate)
        log.info(
            "help update from the fleet",
            extra={"alert_id": update.alert_id, "response_uuid": update.response_uuid, "state": update.state, "staff": update.staff, "retained": event.retained},
        )
        if self.on_help is None:
            return
        try:
            self.on_help(update)
        except Exception:  # a bug in the receiver must not stop the answers' sync
            log.error("the kiosk could not take a help update", exc_info=True, extra={"alert_id": update.alert_id})

    def _on_survey(self, event: Incoming) -> None:
        log.info("survey assignment from the fleet", extra={"bytes": len(event.payload), "retained": event.retained})
        if self.on_survey is None:
            return
        try:
            self.on_survey(event.payload)
        except Exception:  # a bug in the receiver must not stop the answers' sync
            log.error("the kiosk could not take a survey assignment", exc_info=True)

    def _send_reports(self) -> None:
        """Hand every queued survey report to the broker (QoS 1), oldest first; each one handed
        over leaves the queue. Without a link they stay for the next connect."""
        if self.reports is None:
            return
        pending = self.reports.pending()
        sent = []
        for item in pending:
            if not self.link.publish("survey_report", encode(item)):
                break
            sent.append(item)
            log.info("survey report sent", extra={"status": item.status, "survey_id": item.survey_id, "version": item.version, "seq": item.seq, "reason": item.reason})
        if sent:
            self.reports.sent(sent)
        if any(item.status == "applied" for item in sent):
            # The survey on screen changed: Health says so now, so the fleet's registry
            # (`fleet device list`) shows it at once, not a health interval later.
            self._next_health = self.clock.now().monotonic

    def _publish_upload(self, payload: bytes) -> bool:
        return self.link.publish("responses", payload, expiry_s=self.settings.upload_expiry_s)

    def _health_if_due(self) -> None:
        if self._next_health is None:
            return
        now = self.clock.now()
        if now.monotonic < self._next_health:
            return
        self._next_health = now.monotonic + self.settings.health_interval_s
        report = self.health_report()
        self._reported_unsent = report.backlog - report.unsaved
        self.link.publish("health", encode(report))

    def health_report(self) -> Health:
        now = self.clock.now()
        outbox = self.outbox.health()
        age = None
        if outbox.oldest_unsent_monotonic is not None and outbox.oldest_unsent_boot == self.engine.boot_id:
            age = max(0.0, now.monotonic - outbox.oldest_unsent_monotonic)
        elif outbox.oldest_unsent_wall is not None:
            age = max(0.0, now.wall - outbox.oldest_unsent_wall)
        survey_id, survey_version = self.survey
        return Health(
            v=PROTOCOL_VERSION,
            device_id=self.device_id,
            sent=SenderClock(now.wall, now.monotonic, now.clock_synced, self.engine.boot_id),
            software=self.software,
            survey_id=survey_id,
            survey_version=survey_version,
            backlog=outbox.unsent + outbox.unsaved,
            oldest_unsent_age_s=age,
            unsaved=outbox.unsaved,
            refused=outbox.refused,
            disk_free_bytes=max(0, outbox.disk_free_bytes),
            cpu_temp_c=system.cpu_temperature_c(),
            uptime_s=system.uptime_s(),
            misuse_refused=outbox.misuse_refused,
            survey_source=self.survey_origin[0],
            survey_verified=self.survey_origin[1],
        )
