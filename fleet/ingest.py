"""Ingest: turn what devices published into stored rows and acknowledgements.

``Ingest.process`` takes a batch of received MQTT messages (whatever arrived since the last
call) and, in one database transaction, stores every valid response (ignoring UUIDs already
stored) and updates the device registry. Only after that transaction commits does it return
the acknowledgements to publish: an Ack means *stored*, never merely *received*.

A message that breaks the contract (bad topic, not JSON, wrong types, oversize, unknown
protocol version, a payload naming another device, an unknown or revoked device) is
rejected: logged with its reason, counted on the device when there is one, and nothing of
it is stored. A single bad response inside an otherwise good batch is refused by UUID in the
Ack, so the kiosk stops resending it (and keeps it on its card for a technician); so is a
response recorded under another device than the one sending it (never stored elsewhere).

Acks name each uuid exactly as the kiosk sent it (stored in lowercase, so one response sent
in two cases is one row) and speak the protocol version the kiosk spoke.

Each channel's message goes to the handler registered for it (``fleet.dispatch.Registry``;
``default_registry`` has the fleet's own: responses, status, health). After the commit, the
registry's post-commit hooks get the responses stored for the first time (``Outcome.new``),
never a redelivered one; a hook that fails is logged and changes nothing above. Features
register there; see ``fleet.dispatch`` for the rules a hook keeps (cheap: hand off to a worker,
or, as the escalation does, read the store's tail elsewhere and only be woken here).

    registry = default_registry(); registry.add_hook("escalation-feed", lambda rows: feed.wake())
    ingest = Ingest(registry=registry)

Knows nothing of MQTT clients or threads: the server feeds it, tests call it directly.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import peewee

from fleet import identity, timefix
from fleet.dispatch import Registry
from fleet.store import Device, ResponseRow, database, insert_responses, writing
from kiosk.contract.protocol import (
    Ack,
    Health,
    ProtocolError,
    Refusal,
    ResponsePayload,
    Status,
    canonical_uuid,
    check_sender,
    decode,
    decode_upload,
    parse_topic,
    reason_text,
)

log = logging.getLogger(__name__)

#: Errors that say "this data cannot be stored" rather than "the database is away": a value
#: the protocol let through but a column refuses. Retrying them would never end.
UNSTORABLE = (peewee.DataError, peewee.IntegrityError, ValueError, OverflowError)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    received_at: float
    token: object = None  # what the transport needs to acknowledge the message (paho's mid)
    retained: bool = False  # replayed by the broker from its store, not sent just now


@dataclass
class Outcome:
    acks: dict[str, Ack] = field(default_factory=dict)
    new: list[ResponseRow] = field(default_factory=list)  # the rows stored for the first time: what the hooks got
    stored: int = 0  # new rows
    duplicates: int = 0  # responses already stored (redelivery): acknowledged again, not stored again
    refused: int = 0  # single responses refused inside a valid batch
    rejected: int = 0  # whole messages rejected
    clear_retained: list[str] = field(default_factory=list)  # topics whose retained message should go


@dataclass
class DeviceUpdate:
    """What one batch learned about one device; written in the batch's transaction."""

    last_seen: float = 0.0
    status: Status | None = None
    status_at: float = 0.0
    health: Health | None = None
    health_json: str = ""
    rejections: int = 0
    last_rejection: str = ""
    boots: list[tuple[float, str]] = field(default_factory=list)  # (received at, boot id) of each status/health: fleet.identity


@dataclass(slots=True)
class Sender:
    """The known, not revoked device whose topic (and broker login) carried a message.
    (Made once per message: slots, not frozen, is a third of the cost.)"""

    device_id: str
    site: str
    update: DeviceUpdate


@dataclass
class Batch:
    """What one ``process`` call collects from its messages before its one transaction."""

    outcome: Outcome = field(default_factory=Outcome)
    rows: list[ResponseRow] = field(default_factory=list)
    updates: dict[str, DeviceUpdate] = field(default_factory=dict)
    stored_by_device: dict[str, list[str]] = field(default_factory=dict)  # uuids as each kiosk sent them: its Ack echoes them
    refused_by_device: dict[str, list[Refusal]] = field(default_factory=dict)
    version_by_device: dict[str, int] = field(default_factory=dict)  # the Ack speaks the oldest version the device used
    deferred: dict[str, tuple[Callable[[list[Any]], None], list[Any]]] = field(default_factory=dict)  # defer(): feature writes

    def defer(self, name: str, write: Callable[[list[Any]], None], item: Any) -> None:
        """Keep *item* for ``write(items)``, called once for the batch inside its transaction
        (after the devices' rows): a feature's handler stores what it learned with the batch,
        all or nothing, in one statement per batch rather than one commit per message."""
        entry = self.deferred.get(name)
        if entry is None:
            entry = self.deferred[name] = (write, [])
        entry[1].append(item)


class Ingest:
    def __init__(self, clock: Callable[[], float] = time.time, registry: Registry | None = None) -> None:
        self.clock = clock
        self.registry = registry if registry is not None else default_registry()
        self.totals: Counter[str] = Counter()

    def process(self, batch: list[Received]) -> Outcome:
        """Store *batch* in one transaction of its own, then run the hooks; returns the Acks to send."""
        if database.in_transaction():  # the hooks would run before the caller's commit, on rows it may roll back
            raise RuntimeError("Ingest.process runs its own transaction: call it outside one")
        collected = Batch()
        outcome = collected.outcome
        decoded = []
        for message in batch:
            if not message.payload and message.topic.endswith("/status"):
                continue  # an empty status only clears the retained one (the fleet's own, coming back to it)
            try:
                where = parse_topic(message.topic)
            except ProtocolError as exc:
                self._reject(outcome, message, None, str(exc))
                continue
            decoded.append((message, where))
        known = self._devices({where.device_id for _, where in decoded})

        handlers = self.registry.handlers
        updates = collected.updates
        for message, where in decoded:
            device_id = where.device_id
            device = known.get(device_id)
            if device is None:
                self._reject(outcome, message, None, f"unknown device {device_id!r}")
                continue
            site, revoked = device
            update = updates.get(device_id)
            if update is None:
                update = updates[device_id] = DeviceUpdate()
            if revoked:
                self._reject(outcome, message, update, "device is revoked")
                if message.retained:  # its last status would be replayed at every start: clear it
                    outcome.clear_retained.append(message.topic)
                continue
            try:
                handler = handlers.get(where.channel)
                if handler is None:
                    raise ProtocolError(f"devices may not publish on the {where.channel!r} channel")
                handler(collected, message, Sender(device_id, site, update))
            except ProtocolError as exc:
                self._reject(outcome, message, update, str(exc))
                continue
            if not message.retained:  # a retained status replayed at our start is no sign of life
                update.last_seen = max(update.last_seen, message.received_at)

        new: list[ResponseRow] = []
        with writing():
            if collected.rows:
                new, unstorable = _insert_isolating(collected.rows)
                outcome.stored = len(new)
                outcome.duplicates = len(collected.rows) - len(new) - len(unstorable)
                for uuid, device_id, reason in unstorable:
                    sent = collected.stored_by_device[device_id]
                    sent_as = [u for u in sent if canonical_uuid(u) == uuid]
                    collected.stored_by_device[device_id] = [u for u in sent if canonical_uuid(u) != uuid]
                    collected.refused_by_device.setdefault(device_id, []).extend(Refusal(uuid=u, reason=reason_text(reason)) for u in sent_as)
                    outcome.refused += 1
                    log.error("response cannot be stored; refused", extra={"device": device_id, "uuid": uuid, "reason": reason[:300]})
            self._update_devices(updates)
            for write, items in collected.deferred.values():
                write(items)
        # Committed. Only now may features act on the responses, and only on the new ones.
        outcome.new = new
        hook_failures = self.registry.run_hooks(new) if new and self.registry.hooks else 0

        now = self.clock()
        stored, refused, versions = collected.stored_by_device, collected.refused_by_device, collected.version_by_device
        for device_id in stored.keys() | refused.keys():
            outcome.acks[device_id] = Ack(v=versions[device_id], stored=stored.get(device_id, []), refused=refused.get(device_id, []), at=now)
        self.totals.update(stored=outcome.stored, duplicates=outcome.duplicates, refused=outcome.refused, rejected=outcome.rejected, messages=len(batch))
        if hook_failures:
            self.totals.update(hook_failures=hook_failures)
        return outcome

    # --- helpers -------------------------------------------------------------------------

    def _devices(self, ids: set[str]) -> dict[str, tuple[str, bool]]:
        """site and revoked flag of each known device among *ids* (one query per batch: a
        revocation made by the CLI in another process counts from the next batch on)."""
        if not ids:
            return {}
        query = Device.select(Device.device_id, Device.site, Device.revoked_at).where(Device.device_id.in_(list(ids))).tuples()
        return {device_id: (site, revoked_at is not None) for device_id, site, revoked_at in query}

    def _reject(self, outcome: Outcome, message: Received, update: DeviceUpdate | None, reason: str) -> None:
        reason = reason_text(reason, limit=400)
        outcome.rejected += 1
        log.warning("message rejected", extra={"topic": message.topic[:200], "bytes": len(message.payload), "reason": reason[:300]})
        if update is not None:
            update.rejections += 1
            update.last_rejection = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(message.received_at))} {reason}"[:500]

    def _update_devices(self, updates: dict[str, DeviceUpdate]) -> None:
        for device_id, update in updates.items():
            fields: dict = {}
            if update.status is not None:
                fields.update(online=update.status.online, status_reason=update.status.reason or ("connected" if update.status.online else "offline"), status_at=update.status_at)
                if update.status.software:
                    fields[Device.software] = update.status.software
                if update.status.boot_id:
                    fields[Device.boot_id] = update.status.boot_id
            if update.health is not None:
                health = update.health
                fields.update(
                    last_health=update.health_json,
                    last_health_at=update.last_seen,
                    software=health.software,
                    survey_id=health.survey_id,
                    survey_version=health.survey_version,
                    backlog=health.backlog,
                    boot_id=health.sent.boot_id,
                )
            if update.rejections:
                fields.update(rejected_messages=Device.rejected_messages + update.rejections, last_rejection=update.last_rejection)
            if fields:
                Device.update(fields).where(Device.device_id == device_id).execute()
        # After the writes above: this transaction holds the write lock when it reads the boot history.
        identity.record_boots({device_id: update.boots for device_id, update in updates.items() if update.boots})
        # Plain traffic only moves last_seen: one statement per batch, not one per device
        # (a batch spans well under a second, so its newest time is right for all of them).
        heard = [device_id for device_id, update in updates.items() if update.last_seen]
        if heard:
            newest = max(updates[device_id].last_seen for device_id in heard)
            Device.update(last_seen=newest).where(Device.device_id.in_(heard)).execute()
            # A device marked silent that speaks again is back (its link never dropped, so no birth message comes).
            Device.update(online=True, status_reason="connected", status_at=newest).where(Device.device_id.in_(heard) & (Device.status_reason == "silent")).execute()


# --- the handlers of the upstream channels --------------------------------------------------


def take_responses(batch: Batch, message: Received, sender: Sender) -> None:
    """An Upload: its valid responses become rows; invalid ones are refused by uuid in the Ack."""
    checked = decode_upload(message.payload)
    device_id = sender.device_id
    check_sender(device_id, checked.upload)
    upload = checked.upload
    versions = batch.version_by_device
    versions[device_id] = min(upload.v, versions.get(device_id, upload.v))
    sent, received_at, site = upload.sent, message.received_at, sender.site
    for response in upload.responses:
        when, source = timefix.occurred_at(response, sent, received_at)
        batch.rows.append(response_row(response, device_id, site, when, source, received_at))
    batch.stored_by_device.setdefault(device_id, []).extend(r.uuid for r in upload.responses)
    if checked.refused or checked.unidentified:
        batch.refused_by_device.setdefault(device_id, []).extend(checked.refused)
        batch.outcome.refused += len(checked.refused) + checked.unidentified
        log.warning(
            "responses refused",
            extra={"device": device_id, "refused": len(checked.refused), "unidentified": checked.unidentified, "reason": checked.refused[0].reason if checked.refused else "no readable uuid"},
        )


def take_status(batch: Batch, message: Received, sender: Sender) -> None:
    """Birth message or Last Will: online or not, software, boot."""
    status = decode("status", message.payload)
    check_sender(sender.device_id, status)
    assert isinstance(status, Status)
    update = sender.update
    update.status, update.status_at = status, message.received_at
    if status.boot_id and not message.retained:
        update.boots.append((message.received_at, status.boot_id))


def take_health(batch: Batch, message: Received, sender: Sender) -> None:
    """Versions, survey, backlog, disk, temperature: the registry keeps the last one."""
    health = decode("health", message.payload)
    check_sender(sender.device_id, health)
    assert isinstance(health, Health)
    update = sender.update
    update.health, update.health_json = health, message.payload.decode()
    update.boots.append((message.received_at, health.sent.boot_id))


def take_survey_report(batch: Batch, message: Received, sender: Sender) -> None:
    """What became of a survey assignment (delivered, applied, refused, failed): stored with the
    batch, moving the device's state in its rollout (``fleet.surveys.rollouts.record_reports``)."""
    from fleet.surveys.rollouts import record_reports  # the survey feature (and its crypto) only when a report comes

    report = decode("survey_report", message.payload)
    check_sender(sender.device_id, report)
    batch.defer("survey_reports", record_reports, report)


def default_registry() -> Registry:
    """The fleet's own handlers, one per upstream channel; no hooks (features add theirs)."""
    registry = Registry()
    registry.register_handler("responses", take_responses)
    registry.register_handler("status", take_status)
    registry.register_handler("health", take_health)
    registry.register_handler("survey_report", take_survey_report)
    return registry


# --- storing -----------------------------------------------------------------------------------


def _insert_isolating(rows: list[ResponseRow]) -> tuple[list[ResponseRow], list[tuple[str, str, str]]]:
    """Insert *rows* (returning the new ones); if the store refuses one (UNSTORABLE), find it by
    inserting one by one and return it as (uuid, device, reason) instead of failing the batch,
    so one bad value cannot hold every other kiosk's answers back. If every row is refused, the
    fault is not in the data (a schema out of step, say): that is raised, and nothing is refused for it."""
    try:
        with database.atomic():  # a savepoint inside the batch's transaction
            return insert_responses(rows), []
    except UNSTORABLE:
        if len(rows) == 1:
            raise
    new: list[ResponseRow] = []
    refused = []
    for row in rows:
        try:
            with database.atomic():
                new += insert_responses([row])
        except UNSTORABLE as exc:
            refused.append((row.uuid, row.device_id, f"the fleet cannot store it: {type(exc).__name__}: {str(exc).strip()}"))
    if len(refused) == len(rows):
        raise peewee.DataError(f"every one of {len(rows)} responses was refused by the store: {refused[0][2]}")
    return new, refused


def response_row(response: ResponsePayload, device_id: str, site: str, occurred_at: float, time_source: str, received_at: float) -> ResponseRow:
    """*response* as the store keeps it, under the device whose topic (and login) carried it.

    Positional, in ``ResponseRow``'s field order (tests compare it with the stored row by
    name): with 24 keywords msgspec takes three times as long, 2.6 µs more per response."""
    return ResponseRow(
        canonical_uuid(response.uuid),  # one response sent in two cases is one row
        device_id,
        site,
        response.survey_id,
        response.survey_version,
        response.language,
        response.status,
        response.misuse,
        response.negative,
        response.end_reason,
        _encode(response.answers).decode(),
        _encode(response.presses).decode(),
        response.started.wall,
        response.started.monotonic,
        response.finished.wall,
        response.finished.monotonic,
        response.boot_id,
        response.clock_synced,
        occurred_at,
        time_source,
        received_at,
        _encode(response.press_ms).decode(),
        response.suspect,
        response.help_requested,
    )


_encode = msgspec.json.Encoder().encode
