"""``fleet simulate``: many kiosks on real MQTT connections, for capacity planning and benchmarks.

Each simulated kiosk has its own broker login and connection, a faithful in-memory twin of
the outbox (rows with ids, unsent until the fleet's Ack says *stored*) and the very
``SyncEngine`` a real kiosk runs, so batching, windows, resends after reconnects and ack
timeouts behave as in the field. Kiosks are spread over worker processes; each process
drives its connections from one thread with a selector (paho's external-loop API), so a
thousand kiosks cost a few processes, not a thousand threads.

Load models:

- ``rate > 0``: open loop, responses made at that total rate, spread over the kiosks;
- ``rate == 0``: as fast as the kiosks' sync windows allow (each keeps ``window`` messages
  awaiting an Ack);
- ``backlog``: every response made first, then all kiosks connect: a fleet after an outage.

Survey push (``trusted_keys``): each kiosk also announces itself (a birth message, as a real
kiosk does), takes the signed assignment retained on its ``survey`` topic, checks it with the
contract's ``verify`` (the very check a real kiosk makes: trusted key, signature, target,
sequence, a valid survey) and reports ``delivered`` then ``applied`` (a simulated kiosk has no
customer to wait for), or ``refused`` with the reason. With ``await_survey``, the run lasts
until every kiosk applied that survey version (or the timeout): ``benchmarks/bench_survey_push.py``.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import selectors
import statistics
import time
import uuid as uuidlib
from dataclasses import asdict, dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from kiosk.contract.assignment import trusted_keys, verify
from kiosk.contract.clock import Instant
from kiosk.contract.protocol import (
    CHANNEL,
    PROTOCOL_VERSION,
    Ack,
    ProtocolError,
    Status,
    SurveyAssignment,
    SurveyReport,
    decode,
    encode,
    publish_options,
    topic,
)
from kiosk.contract.sync_engine import SyncEngine
from kiosk.contract.transport import Backoff, BrokerAddress

SURVEY_ID = "exit-default"
SURVEY_VERSION = 1
QUESTIONS = [("satisfaction", ["very-unhappy", "unhappy", "happy", "very-happy"]), ("speed", ["slow", "ok", "fast"])]


@dataclass(frozen=True)
class SimulationPlan:
    broker: str
    passwords: dict[str, str]
    per_device: int
    rate: float = 0.0
    backlog: bool = False
    negative_share: float = 0.1
    timeout: float = 300.0
    window: int = 4
    batch_size: int = 100
    trusted_keys: tuple[str, ...] = ()  # survey push: the kiosks take assignments signed by these
    await_survey: tuple[str, int] | None = None  # run until every kiosk applied this (survey id, version)


@dataclass
class SimulationResult:
    devices: int
    processes: int
    made: int
    acked: int
    published_messages: int
    resends: int
    reconnects: int
    elapsed_s: float
    connect_s: float
    ack_latency_p50_ms: float | None
    ack_latency_p99_ms: float | None
    mode: str
    survey_applied: int = 0  # kiosks showing the awaited survey version at the end
    survey_refused: int = 0
    verify_p50_us: float | None = None  # the contract's verify, per assignment
    verify_max_us: float | None = None

    @property
    def rate(self) -> float:
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "acked_per_s": round(self.rate, 1)}

    def summary(self) -> str:
        lat = f"p50 {self.ack_latency_p50_ms:.1f} ms, p99 {self.ack_latency_p99_ms:.1f} ms" if self.ack_latency_p50_ms is not None else "n/a"
        lost = self.made - self.acked
        return (
            f"{self.devices} kiosks in {self.processes} processes ({self.mode}): {self.made} responses made, {self.acked} stored and acknowledged"
            f"{'' if not lost else f', {lost} NOT acknowledged'}\n"
            f"  {self.elapsed_s:.2f} s after connecting ({self.connect_s:.2f} s to connect): {self.rate:,.0f} responses/s in {self.published_messages} messages\n"
            f"  publish → Ack latency {lat}; {self.resends} resends after ack timeouts, {self.reconnects} reconnects"
        )


class MemoryOutbox:
    """The outbox's sync-side interface, in memory: the engine cannot tell the difference."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.unsent: dict[int, None] = {}  # insertion-ordered set of unsent row ids
        self.by_uuid: dict[str, int] = {}
        self.next_id = 1
        self.acked = 0

    def add(self, row: dict[str, Any]) -> None:
        row_id = self.next_id
        self.next_id += 1
        self.rows[row_id] = row
        self.unsent[row_id] = None
        self.by_uuid[row["uuid"]] = row_id

    def pending(self, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for row_id in self.unsent:
            if row_id > after_id:
                out.append((row_id, self.rows[row_id]))
                if len(out) >= limit:
                    break
        return out

    def urgent(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        return []  # simulated customers never wait at the kiosk for help

    def mark_sent(self, uuids: list[str], at: float | None = None) -> int:
        done = 0
        for uuid in uuids:
            row_id = self.by_uuid.get(uuid)
            if row_id is not None and row_id in self.unsent:
                del self.unsent[row_id]
                done += 1
        self.acked += done
        return done

    def mark_refused(self, refusals: dict[str, str]) -> int:
        return self.mark_sent(list(refusals))


class _RealClock:
    def now(self) -> Instant:
        return Instant(time.monotonic(), time.time(), True)


def make_response(rng: random.Random, negative_share: float, device_id: str, boot_id: str, clock: _RealClock) -> dict[str, Any]:
    negative = rng.random() < negative_share
    now = clock.now()
    answers = []
    for index, (question, options) in enumerate(QUESTIONS):
        option_index = rng.randrange(0, 2) if negative else rng.randrange(2, len(options))
        option_index = min(option_index, len(options) - 1)
        answers.append({"question": question, "option": options[option_index], "button": option_index + 1, "negative": negative and option_index < 2, "elapsed_ms": 900 * (index + 1)})
    return {
        "uuid": str(uuidlib.uuid4()),
        "device_id": device_id,  # recorded under, as the kiosk's outbox keeps it
        "survey_id": SURVEY_ID,
        "survey_version": SURVEY_VERSION,
        "language": rng.choice(("tr", "en")),
        "status": "completed",
        "misuse": False,
        "negative": negative,
        "end_reason": "completed",
        "answers": answers,
        "presses": [a["button"] for a in answers],
        "started": {"wall": now.wall - 2.0, "monotonic": max(0.0, now.monotonic - 2.0)},
        "finished": {"wall": now.wall, "monotonic": now.monotonic},
        "boot_id": boot_id,
        "clock_synced": True,
    }


@dataclass
class _Kiosk:
    device_id: str
    client: mqtt.Client
    outbox: MemoryOutbox
    engine: SyncEngine
    backoff: Backoff
    made: int = 0
    reconnect_at: float | None = None
    reconnects: int = 0
    last_seq: int = 0  # the newest assignment this kiosk accepted
    showing: tuple[str, int] | None = None  # the pushed survey it shows
    refused: int = 0


@dataclass
class _WorkerReport:
    made: int = 0
    acked: int = 0
    published: int = 0
    resends: int = 0
    reconnects: int = 0
    latencies: list[float] = field(default_factory=list)
    connect_s: float = 0.0
    elapsed_s: float = 0.0
    error: str | None = None
    verify_s: list[float] = field(default_factory=list)
    applied: int = 0
    refused: int = 0


def _worker(plan: SimulationPlan, device_ids: list[str], seed: int, share: float, made_counter, acked_counter, start_barrier, results) -> None:
    try:
        results.put(_run_worker(plan, device_ids, seed, share, made_counter, acked_counter, start_barrier))
    except Exception as exc:  # noqa: BLE001 -- report, never hang the parent waiting for a result
        results.put(_WorkerReport(error=f"{type(exc).__name__}: {exc}"))


def _run_worker(plan: SimulationPlan, device_ids: list[str], seed: int, share: float, made_counter, acked_counter, start_barrier) -> _WorkerReport:
    rng = random.Random(seed)
    address = BrokerAddress.parse(plan.broker)
    selector = selectors.DefaultSelector()
    clock = _RealClock()
    boot_id = str(uuidlib.uuid4())
    kiosks: list[_Kiosk] = []
    report = _WorkerReport()
    surveys = bool(plan.trusted_keys)
    keys = trusted_keys(plan.trusted_keys) if surveys else {}

    def add_kiosk(device_id: str) -> _Kiosk:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=MQTTProtocolVersion.MQTTv5)
        client.username_pw_set(device_id, plan.passwords[device_id])
        outbox = MemoryOutbox()
        responses_topic = topic(device_id, "responses")
        ack_topic = topic(device_id, "ack")
        survey_topic = topic(device_id, "survey")

        def publish(payload: bytes) -> bool:
            return client.publish(responses_topic, payload, **publish_options("responses")).rc == MQTTErrorCode.MQTT_ERR_SUCCESS

        engine = SyncEngine(device_id, outbox, publish, clock, boot_id, batch_size=plan.batch_size, window=plan.window, ack_timeout=30.0)
        kiosk = _Kiosk(device_id, client, outbox, engine, Backoff(first=0.5, cap=10.0, rand=rng.random))

        def on_connect(c, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                return
            kiosk.backoff.reset()
            c.subscribe(ack_topic, qos=CHANNEL["ack"].qos)  # only the acks: a simulated kiosk asks for no help
            if surveys:
                c.subscribe(survey_topic, qos=CHANNEL["survey"].qos)
                birth = Status(v=PROTOCOL_VERSION, device_id=device_id, online=True, software="simulate", boot_id=boot_id[:64], reason="connected")
                c.publish(topic(device_id, "status"), encode(birth), **publish_options("status"))
            engine.on_connected()

        def on_disconnect(c, userdata, flags, reason_code, properties) -> None:
            engine.on_disconnected()
            kiosk.reconnect_at = time.monotonic() + kiosk.backoff.next()

        def on_message(c, userdata, message) -> None:
            if message.topic == survey_topic:
                take_assignment(kiosk, message.payload)
                return
            try:
                ack = decode("ack", message.payload)
            except ProtocolError:
                return
            assert isinstance(ack, Ack)
            before = outbox.acked
            engine.on_ack(ack)
            acked_counter_add(outbox.acked - before)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.on_socket_open = lambda c, userdata, sock: selector.register(sock, selectors.EVENT_READ, c)
        client.on_socket_close = lambda c, userdata, sock: selector.unregister(sock)
        client.on_socket_register_write = lambda c, userdata, sock: selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        client.on_socket_unregister_write = lambda c, userdata, sock: selector.modify(sock, selectors.EVENT_READ, c)
        return kiosk

    def take_assignment(kiosk: _Kiosk, payload: bytes) -> None:
        """As a kiosk does: verify, then delivered + applied, or refused with the reason."""
        if not payload:
            return  # a cleared retained message
        try:
            assignment = decode("survey", payload)
        except ProtocolError as exc:
            return report_survey(kiosk, 0, 0, "", 0, "refused", str(exc))
        assert isinstance(assignment, SurveyAssignment)
        if assignment.seq == kiosk.last_seq:
            return  # the one it holds, retained again after a reconnect
        started = time.perf_counter()
        verdict = verify(assignment, keys, kiosk.device_id, kiosk.last_seq)
        report.verify_s.append(time.perf_counter() - started)
        a = assignment
        if not verdict.accepted:
            kiosk.refused += 1
            return report_survey(kiosk, a.rollout, a.seq, a.survey_id, a.version, "refused", verdict.reason)
        kiosk.last_seq = a.seq
        report_survey(kiosk, a.rollout, a.seq, a.survey_id, a.version, "delivered", "")
        kiosk.showing = (a.survey_id, a.version)
        report_survey(kiosk, a.rollout, a.seq, a.survey_id, a.version, "applied", "")

    def report_survey(kiosk: _Kiosk, rollout: int, seq: int, survey_id: str, version: int, status: str, reason: str) -> None:
        message = SurveyReport(v=PROTOCOL_VERSION, device_id=kiosk.device_id, rollout=rollout, seq=seq, survey_id=survey_id[:64], version=version, status=status, reason=reason[:500], at=time.time())  # type: ignore[arg-type]
        kiosk.client.publish(topic(kiosk.device_id, "survey_report"), encode(message), **publish_options("survey_report"))

    pending_acked = [0]

    def acked_counter_add(n: int) -> None:
        pending_acked[0] += n

    def make(kiosk: _Kiosk) -> None:
        kiosk.outbox.add(make_response(rng, plan.negative_share, kiosk.device_id, boot_id, clock))
        kiosk.made += 1
        report.made += 1
        kiosk.engine.on_saved()

    for device_id in device_ids:
        kiosks.append(add_kiosk(device_id))
    if plan.backlog:
        for kiosk in kiosks:
            for _ in range(plan.per_device):
                make(kiosk)
        with made_counter.get_lock():
            made_counter.value += report.made

    start_barrier.wait()
    t_connect = time.monotonic()
    for kiosk in kiosks:
        try:
            kiosk.client.connect(address.host, address.port, keepalive=60, clean_start=True)
        except OSError:
            kiosk.reconnect_at = time.monotonic() + kiosk.backoff.next()
    # Wait for CONNACKs, serving sockets meanwhile.
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and not all(k.engine.connected for k in kiosks):
        _serve(selector, kiosks, 0.01)
    report.connect_s = time.monotonic() - t_connect

    total = plan.per_device * len(kiosks)
    start = time.monotonic()
    last_misc = last_done_check = start
    per_second = plan.rate * share
    made_reported = report.made
    end = start + plan.timeout
    while time.monotonic() < end:
        now = time.monotonic()
        if not plan.backlog and report.made < total:
            if per_second > 0:
                due = min(total, int((now - start) * per_second) + 1)
                while report.made < due:
                    candidates = [k for k in kiosks if k.made < plan.per_device]
                    make(rng.choice(candidates))
            else:
                for kiosk in kiosks:
                    while kiosk.made < plan.per_device and kiosk.engine.connected and kiosk.engine.awaiting_ack < plan.window:
                        make(kiosk)
        _serve(selector, kiosks, 0.002)
        if now - last_misc >= 0.5:
            last_misc = now
            for kiosk in kiosks:
                kiosk.client.loop_misc()
                kiosk.engine.on_tick()
                if kiosk.reconnect_at is not None and now >= kiosk.reconnect_at:
                    kiosk.reconnect_at = None
                    kiosk.reconnects += 1
                    try:
                        kiosk.client.reconnect()
                    except OSError:
                        kiosk.reconnect_at = now + kiosk.backoff.next()
            with made_counter.get_lock():
                made_counter.value += report.made - made_reported
            made_reported = report.made
            with acked_counter.get_lock():
                acked_counter.value += pending_acked[0]
            pending_acked[0] = 0
        # Done? A scan of every kiosk, so at most every 50 ms: on each pass of this loop (every few
        # sockets served) it was a fifth of a worker's time with 2,500 kiosks, CPU the rig took
        # from the broker and the fleet it measures.
        if now - last_done_check >= 0.05:
            last_done_check = now
            if report.made >= total and all(not k.outbox.unsent for k in kiosks) and (plan.await_survey is None or all(k.showing == plan.await_survey for k in kiosks)):
                break
    report.elapsed_s = time.monotonic() - start
    with made_counter.get_lock():
        made_counter.value += report.made - made_reported
    with acked_counter.get_lock():
        acked_counter.value += pending_acked[0]
    for kiosk in kiosks:
        report.acked += kiosk.outbox.acked
        report.published += kiosk.engine.stats.published_batches
        report.resends += kiosk.engine.stats.resends
        report.reconnects += kiosk.reconnects
        report.latencies.extend(kiosk.engine.stats.ack_latencies)
        report.applied += plan.await_survey is not None and kiosk.showing == plan.await_survey
        report.refused += kiosk.refused
        kiosk.client.disconnect()
    _serve(selector, kiosks, 0.05)
    return report


def _serve(selector: selectors.BaseSelector, kiosks: list[_Kiosk], timeout: float) -> None:
    for key, mask in selector.select(timeout):
        client = key.data
        if mask & selectors.EVENT_READ:
            client.loop_read()
        if mask & selectors.EVENT_WRITE:
            client.loop_write()


def run_simulation(plan: SimulationPlan, processes: int | None = None, progress: bool = True) -> SimulationResult:
    ids = sorted(plan.passwords)
    processes = max(1, min(processes or mp.cpu_count(), len(ids)))
    slices = [ids[i::processes] for i in range(processes)]
    context = mp.get_context("spawn")
    made = context.Value("q", 0)
    acked = context.Value("q", 0)
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(plan, part, 1000 + n, len(part) / len(ids), made, acked, barrier, results), daemon=True)
        for n, part in enumerate(slices)
    ]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=120)
    total = plan.per_device * len(ids)
    reports: list[_WorkerReport] = []
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
            made_task = bar.add_task("made", total=total)
            acked_task = bar.add_task("stored + acknowledged", total=total)
            while len(reports) < processes:
                reports += _collect(results, 0.2)
                bar.update(made_task, completed=made.value)
                bar.update(acked_task, completed=acked.value)
    else:
        while len(reports) < processes:
            reports += _collect(results, 0.5)
    for worker in workers:
        worker.join(5)
    errors = [r.error for r in reports if r.error]
    if errors:
        raise RuntimeError("simulation worker failed: " + "; ".join(errors))
    latencies = sorted(x for r in reports for x in r.latencies)
    verifies = sorted(x for r in reports for x in r.verify_s)
    return SimulationResult(
        devices=len(ids),
        processes=processes,
        made=sum(r.made for r in reports),
        acked=sum(r.acked for r in reports),
        published_messages=sum(r.published for r in reports),
        resends=sum(r.resends for r in reports),
        reconnects=sum(r.reconnects for r in reports),
        elapsed_s=max(r.elapsed_s for r in reports),
        connect_s=max(r.connect_s for r in reports),
        ack_latency_p50_ms=statistics.median(latencies) * 1000 if latencies else None,
        ack_latency_p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else None,
        mode="backlog" if plan.backlog else (f"{plan.rate:g}/s" if plan.rate else "as fast as windows allow"),
        survey_applied=sum(r.applied for r in reports),
        survey_refused=sum(r.refused for r in reports),
        verify_p50_us=statistics.median(verifies) * 1e6 if verifies else None,
        verify_max_us=verifies[-1] * 1e6 if verifies else None,
    )


def _collect(results, timeout: float) -> list[_WorkerReport]:
    import queue

    try:
        return [results.get(timeout=timeout)]
    except queue.Empty:
        return []
