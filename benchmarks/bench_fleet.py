"""Fleet benchmarks against the quality bars of the design (DESIGN.md, "Quality bars").

    (a) bare paho subscriber on nabiz/+/responses     the limit for (b), measured in the same run
    (b) fleet ingest, one response per message         ≥ 70 % of (a), stored and acknowledged
    (b+h) the same with a feature on                   ≤ 5 % below (b): a no-op post-commit hook (b+h0);
                                                       the escalation, `fleet serve --config` with the
                                                       bundled example's rules (b+he: its response feed,
                                                       ticker and senders running), and the same
                                                       without its window rule (b+hr)
    (c) fleet ingest, backlog batches of 100 and 200   ≥ 20,000 responses/s stored and acknowledged
    (d) 10,000 responses drained after an outage       ≤ 5 s, real kiosk outboxes and FleetSync
    (e) press → stored on the fleet (acknowledged)     p99 against 1 s (the alert bar's budget)

Everything runs on this machine in one process tree: ONE Mosquitto started here (the fleet's
own managed-broker config, on a free port, in a temporary data directory), ``fleet serve``
as a child process pointed at it (as production runs it), load generators as child
processes. Nothing is faked: device logins and ACLs are the registry's, payloads are what a
kiosk's outbox and sync engine put on the wire, (d) and (e) run the real ``Outbox`` and
``FleetSync`` (and (e) the real ``Kiosk`` with a headless screen).

Fairness of (a) against (b): the same publisher processes, devices, payloads and QoS; the
rounds rotate (a, b, b2, b+h0, b+he, b+hr; then b, b2, ...) and the median of each is compared,
because a 2-core machine is noisy. Payloads are a normal day's mix: one response in ten is
negative (``fleet simulate``'s default), the others happy, each as a real kiosk encodes it. The fleet is not running (and its persistent session is removed) while (a)
runs, so the broker delivers each message once in both.

Timing is measured here, never asserted in tests: the script prints a table with a verdict
column, writes benchmarks/results/fleet.json and exits 0 whether or not a bar is met
(non-zero only if a benchmark could not run at all).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import multiprocessing as mp
import os
import platform
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import table  # noqa: E402  (benchmarks/table.py, beside this script)
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from kiosk.contract.protocol import PROTOCOL_VERSION, ResponsePayload, SenderClock, Upload, encode, subscription, topic  # noqa: E402

INGEST_RATIO_BAR = 0.70
HOOK_DROP_BAR = 0.05  # DESIGN.md: a feature's hooks on the ingest path drop the ingest ratio ≤ 5 %
BATCH_RATE_BAR = 20_000.0
BACKLOG_BAR_S = 5.0
FRAME_BAR_S = 0.016  # DESIGN.md: button press → next screen drawn, p99 ≤ one frame at 60 Hz
LATENCY_BAR_S = 1.0
FLEET_RECEIVE_MAXIMUM = 2000  # fleet.link.FleetLink's default; the bare subscriber gets the same
PUBACK_WINDOW = 20  # messages a publisher device keeps awaiting the broker's PUBACK (paho's default)
KIOSK_WINDOW = 4  # Uploads a kiosk keeps awaiting the fleet's Ack (kiosk.config.SyncSettings)
FLEET_CLIENT_ID = "bench-fleet"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "fleet.json"

log = logging.getLogger("bench_fleet")


# --- small helpers ------------------------------------------------------------------------------


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile: a value that was really measured, never an interpolation."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.01) -> None:
    """Wait on a condition with a deadline; a benchmark that cannot finish says what it waited for."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def die_with_parent() -> None:
    """In a child before exec: if the benchmark is killed (even SIGKILL), the child goes too."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def child_logging(path: Path) -> None:
    """A load generator's own log file: paho's complaints (e.g. at disconnect) stay off the table."""
    logging.basicConfig(filename=path, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def mqtt_client(client_id: str, username: str, password: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(username, password)
    client.enable_logger(logging.getLogger("paho.bench"))  # paho's errors go to the log, not over the table
    return client


def login_accepted(port: int, username: str, password: str, clean_session_of: str | None = None) -> bool:
    """Connect once and report whether the broker accepted the login.

    With *clean_session_of*, connect under that client id with ``clean_start`` and no session
    expiry: the broker throws that client's persistent session away (subscriptions and queue).
    """
    client = mqtt_client(clean_session_of or f"bench-probe-{uuidlib.uuid4().hex[:8]}", username, password)
    result: list[bool] = []
    done = threading.Event()

    def on_connect(c, userdata, flags, reason_code, properties) -> None:
        result.append(not reason_code.is_failure)
        done.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port, keepalive=10, clean_start=True)
    except OSError:
        return False
    client.loop_start()
    done.wait(5.0)
    client.disconnect()
    client.loop_stop()
    return bool(result and result[0])


# --- realistic payloads ---------------------------------------------------------------------------


NEGATIVE_SHARE = 0.1  # of the single-response rounds' payloads: fleet simulate's default


def customer_record(i: int, negative: bool = True) -> Any:
    """A response of the default survey as the flow hands it to the outbox: negative (three
    answers) or happy (two)."""
    from kiosk.clock import SystemClock
    from kiosk.flow import Answer, ResponseRecord

    now = SystemClock().now()
    if not negative:
        answers = (Answer("satisfaction", "happy", 3, False, 0), Answer("recommend", "yes", 4, False, 1400 + i % 500))
        return ResponseRecord("exit-default", 1, "tr", "completed", False, answers, (3, 4), False, now, now, "completed")
    answers = (
        Answer("satisfaction", "unhappy", 2, True, 0),
        Answer("what-went-wrong", "staff", 2, True, 1400 + i % 500),
        Answer("recommend", "no", 1, True, 2900 + i % 700),
    )
    return ResponseRecord("exit-default", 1, "tr", "completed", False, answers, (2, 2, 1), True, now, now, "completed")


def wire_templates(work_dir: Path, negative_share: float = NEGATIVE_SHARE) -> list[dict[str, Any]]:
    """Ten wire templates, round(10 x *negative_share*) of them negative: the publishers cycle through them."""
    negatives = round(10 * negative_share)
    negative, happy = wire_template(work_dir / "negative"), wire_template(work_dir / "happy", negative=False)
    return [negative] * negatives + [happy] * (10 - negatives)


def wire_template(work_dir: Path, negative: bool = True) -> dict[str, Any]:
    """One response exactly as a kiosk puts it on the wire: committed by a real Outbox, read back
    by the sync's query and converted by the sync engine, so size and shape are the real ones."""
    from kiosk.clock import boot_id
    from kiosk.contract.sync_engine import to_payload
    from kiosk.outbox import Outbox

    outbox = Outbox("bench-template", boot_id()).open(work_dir)
    try:
        outbox.save(customer_record(0, negative))
        ((_, row),) = outbox.pending(0, 1)
    finally:
        outbox.close()
    return msgspec.to_builtins(to_payload(row))


def upload(device_id: str, template: ResponsePayload, count: int) -> tuple[bytes, list[str]]:
    """An Upload of *count* copies of the template, each with a fresh UUID (so each is stored),
    recorded under *device_id* (the fleet refuses a response recorded under another device)."""
    responses = [msgspec.structs.replace(template, uuid=str(uuidlib.uuid4()), device_id=device_id) for _ in range(count)]
    now_wall, now_mono = time.time(), time.monotonic()
    sent = SenderClock(now_wall, now_mono, template.clock_synced, template.boot_id)
    return encode(Upload(v=PROTOCOL_VERSION, device_id=device_id, sent=sent, responses=responses)), [str(r.uuid) for r in responses]


# --- load generator: publisher processes -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Load:
    """One round for the publishers: what each device sends and when a message counts as done.

    ``window_on`` is ``"puback"`` for (a) and (b): each device keeps ``window`` messages in
    flight to the broker, whoever consumes them, so (a) and (b) see identical publishers.
    ``"ack"`` is how a kiosk drains a backlog: ``window`` Uploads awaiting the fleet's Ack.
    """

    messages_per_device: int
    responses_per_message: int
    window_on: str
    window: int
    expect_acks: bool
    timeout: float = 120.0


class _AckIds(msgspec.Struct):
    """Only the uuids of an Ack, decoded leniently: the load generator counts every uuid, and
    counts Acks a kiosk would refuse (over the protocol's size limit) as a finding."""

    stored: list[str]
    refused: list[dict] = []


_ack_ids = msgspec.json.Decoder(_AckIds)
ACK_UUID_LIMIT = 200 * 8  # kiosk.contract.protocol.Ack's stored max_length (MAX_BATCH * 8)


class _Device:
    def __init__(self, device_id: str, client: mqtt.Client) -> None:
        self.device_id = device_id
        self.client = client
        self.topic = topic(device_id, "responses")
        self.queue: deque[tuple[bytes, list[str]]] = deque()
        self.in_window = 0
        self.subscribed = False


class Publisher:
    """Several device connections driven from one thread with a selector (paho's external-loop
    API, as ``fleet simulate`` does), so the load costs a few processes, not many threads."""

    def __init__(self, port: int, passwords: dict[str, str], templates: list[dict[str, Any]]) -> None:
        self.port = port
        self.templates = [msgspec.convert(template, ResponsePayload) for template in templates]
        self.selector = selectors.DefaultSelector()
        self.devices = {d: _Device(d, self._client(d, p)) for d, p in passwords.items()}
        self.unpubacked: set[tuple[str, int]] = set()  # (device, mid) published, no PUBACK yet
        self.awaiting_ack: dict[str, tuple[_Device, list[int]]] = {}  # uuid → device, [uuids of its message left]
        self.load: Load | None = None
        self.pubacks_left = 0
        self.acks_left = 0
        self.t_published: float | None = None
        self.t_acked: float | None = None
        self.oversize_acks = 0
        self.unknown_acked = 0

    def _client(self, device_id: str, password: str) -> mqtt.Client:
        client = mqtt_client(device_id, device_id, password)
        client.max_inflight_messages_set(max(PUBACK_WINDOW, KIOSK_WINDOW))
        client.on_connect = lambda c, u, f, rc, p: self._on_connect(device_id, rc)
        client.on_subscribe = lambda c, u, mid, rcs, p: setattr(self.devices[device_id], "subscribed", True)
        client.on_publish = lambda c, u, mid, rc, p: self._on_puback(device_id, mid)
        client.on_message = lambda c, u, m: self._on_ack(m.payload)
        client.on_socket_open = lambda c, u, sock: self.selector.register(sock, selectors.EVENT_READ, c)
        client.on_socket_close = lambda c, u, sock: self.selector.unregister(sock)
        client.on_socket_register_write = lambda c, u, sock: self.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        client.on_socket_unregister_write = lambda c, u, sock: self.selector.modify(sock, selectors.EVENT_READ, c)
        return client

    # --- connections ------------------------------------------------------------------------

    def connect(self, timeout: float = 30.0) -> None:
        for device in self.devices.values():
            device.client.connect("127.0.0.1", self.port, keepalive=60, clean_start=True)
        self._serve_until(lambda: all(d.subscribed for d in self.devices.values()), timeout, "device logins and ack subscriptions")

    def close(self) -> None:
        for device in self.devices.values():
            device.client.disconnect()
        with contextlib.suppress(Exception):
            self._serve(0.1)

    def _on_connect(self, device_id: str, reason_code: Any) -> None:
        if reason_code.is_failure:
            raise RuntimeError(f"the broker refused {device_id}: {reason_code}")
        self.devices[device_id].client.subscribe(topic(device_id, "ack"), qos=1)

    # --- a round ----------------------------------------------------------------------------

    def prepare(self, load: Load) -> list[list[tuple[bytes, list[str]]]]:
        """Encode every message of the round before it starts: the clock measures the consumer."""
        mix = self.templates
        return [[upload(d, mix[(k + n) % len(mix)], load.responses_per_message) for n in range(load.messages_per_device)] for k, d in enumerate(self.devices)]

    def run(self, load: Load, messages: list[list[tuple[bytes, list[str]]]]) -> dict[str, float | None]:
        """Publish *messages* (per device) under *load*'s window; return when done or timed out."""
        self.load = load
        self.t_published = self.t_acked = None
        self.pubacks_left = sum(len(m) for m in messages)
        self.acks_left = sum(len(u) for m in messages for _, u in m) if load.expect_acks else 0
        for device, batch in zip(self.devices.values(), messages):
            device.queue.extend(batch)
            device.in_window = 0
        start = time.monotonic()
        for device in self.devices.values():
            self._refill(device)
        finished = self._serve_until(self._round_done, load.timeout, "the round's PUBACKs and Acks", fail=False)
        return {"start": start, "published": self.t_published, "acked": self.t_acked if load.expect_acks else None, "timed_out": not finished}

    def _round_done(self) -> bool:
        return self.pubacks_left == 0 and self.acks_left == 0

    def _refill(self, device: _Device) -> None:
        assert self.load is not None
        while device.queue and device.in_window < self.load.window:
            payload, uuids = device.queue.popleft()
            info = device.client.publish(device.topic, payload, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"{device.device_id}: publish failed ({info.rc})")
            device.in_window += 1
            self.unpubacked.add((device.device_id, info.mid))
            if self.load.expect_acks:
                left = [len(uuids)]
                for u in uuids:
                    self.awaiting_ack[u] = (device, left)

    def _on_puback(self, device_id: str, mid: int) -> None:
        if (device_id, mid) not in self.unpubacked:
            return  # the ack subscription's SUBACK mid, or a stray from an earlier round
        self.unpubacked.discard((device_id, mid))
        self.pubacks_left -= 1
        if self.pubacks_left == 0:
            self.t_published = time.monotonic()
        device = self.devices[device_id]
        if self.load is not None and self.load.window_on == "puback":
            device.in_window -= 1
            self._refill(device)

    def _on_ack(self, payload: bytes) -> None:
        ack = _ack_ids.decode(payload)
        uuids = ack.stored + [r["uuid"] for r in ack.refused]
        if len(uuids) > ACK_UUID_LIMIT:
            self.oversize_acks += 1
        for u in uuids:
            entry = self.awaiting_ack.pop(u, None)
            if entry is None:
                self.unknown_acked += 1
                continue
            device, left = entry
            left[0] -= 1
            self.acks_left -= 1
            if left[0] == 0 and self.load is not None and self.load.window_on == "ack":
                device.in_window -= 1
                self._refill(device)
        if self.acks_left == 0 and self.t_acked is None and self.load is not None and self.load.expect_acks:
            self.t_acked = time.monotonic()

    # --- the loop ---------------------------------------------------------------------------

    def _serve(self, timeout: float) -> None:
        for key, mask in self.selector.select(timeout):
            client = key.data
            if mask & selectors.EVENT_READ:
                client.loop_read()
            if mask & selectors.EVENT_WRITE:
                client.loop_write()

    def _serve_until(self, condition: Callable[[], bool], timeout: float, what: str, fail: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        next_misc = time.monotonic() + 1.0
        while not condition():
            now = time.monotonic()
            if now > deadline:
                if fail:
                    raise RuntimeError(f"publisher timed out after {timeout:g} s waiting for {what}")
                return False
            self._serve(0.05)
            if now >= next_misc:  # keepalive pings
                next_misc = now + 1.0
                for device in self.devices.values():
                    device.client.loop_misc()
        return True


def publisher_main(port: int, passwords: dict[str, str], templates: list[dict[str, Any]], commands: Any, barrier: Any, log_path: Path) -> None:
    """A publisher process: connect its devices, then for each Load: encode, warm up, wait at the
    barrier (every publisher starts at once), publish, report. Exits when the pipe closes."""
    child_logging(log_path)
    publisher = Publisher(port, passwords, templates)
    publisher.connect()
    commands.send(("connected", None))
    try:
        while True:
            load = commands.recv()
            if load is None:
                break
            messages = publisher.prepare(load)
            # Warm-up, untimed: one single-response message per device, waited for like the round's.
            warm = dataclasses.replace(load, messages_per_device=1, responses_per_message=1, timeout=60.0)
            report = publisher.run(warm, publisher.prepare(warm))
            if report["timed_out"]:
                raise RuntimeError("warm-up messages were not acknowledged within 60 s")
            commands.send(("ready", None))
            barrier.wait(120)
            report = publisher.run(load, messages)
            report.update(oversize_acks=publisher.oversize_acks, unknown_acked=publisher.unknown_acked)
            commands.send(("done", report))
    except (EOFError, BrokenPipeError):
        pass
    finally:
        publisher.close()


class PublisherPool:
    """The publisher processes, started once and kept connected for every round."""

    def __init__(self, port: int, passwords: dict[str, str], templates: list[dict[str, Any]], processes: int, logs: Path) -> None:
        context = mp.get_context("spawn")
        ids = sorted(passwords)
        self.device_ids = ids
        self.barrier = context.Barrier(processes + 1)
        self.pipes = []
        self.processes = []
        for n in range(processes):
            mine = {d: passwords[d] for d in ids[n::processes]}
            parent, child = context.Pipe()
            process = context.Process(target=publisher_main, args=(port, mine, templates, child, self.barrier, logs / f"publisher-{n}.log"), name=f"publisher-{n}", daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        for pipe in self.pipes:
            self._expect(pipe, "connected", 60)

    @property
    def devices(self) -> int:
        return len(self.device_ids)

    def run(self, load: Load) -> list[dict[str, Any]]:
        """One round on every publisher at once (after each has warmed up)."""
        for pipe in self.pipes:
            pipe.send(load)
        for pipe in self.pipes:
            self._expect(pipe, "ready", 180)
        self.barrier.wait(60)
        return [self._expect(pipe, "done", load.timeout + 30) for pipe in self.pipes]

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        deadline = time.monotonic() + 5
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()

    def _expect(self, pipe: Any, what: str, timeout: float) -> Any:
        if not pipe.poll(timeout):
            dead = [p.name for p in self.processes if not p.is_alive()]
            raise RuntimeError(f"no {what!r} from a publisher within {timeout:g} s" + (f" (exited: {', '.join(dead)})" if dead else ""))
        kind, value = pipe.recv()
        if kind != what:
            raise RuntimeError(f"publisher said {kind!r}, expected {what!r}")
        return value


# --- (a) the bare subscriber -------------------------------------------------------------------------


def bare_subscriber_main(port: int, password: str, expected: int, report: Any, log_path: Path) -> None:
    """The limit for (b): a plain paho subscriber on the fleet's login and filter that only counts.

    Same session settings as the fleet's link (MQTT v5, QoS 1, Receive Maximum 2000), its
    PUBACKs sent by paho as each message arrives; it notes when the last message came.
    """
    child_logging(log_path)
    client = mqtt_client("bench-bare-subscriber", "fleet", password)
    count = 0

    def on_connect(c, userdata, flags, reason_code, properties) -> None:
        c.subscribe(subscription("responses"), qos=1)

    def on_message(c, userdata, message) -> None:
        nonlocal count
        count += 1
        if count == expected:
            report.send(("done", time.monotonic()))
            c.disconnect()

    client.on_connect = on_connect
    client.on_subscribe = lambda c, u, mid, rcs, p: report.send(("ready", None))
    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.ReceiveMaximum = FLEET_RECEIVE_MAXIMUM
    client.connect("127.0.0.1", port, keepalive=30, clean_start=True, properties=properties)
    client.loop_forever()


@contextlib.contextmanager
def bare_subscriber(port: int, password: str, expected: int, log_path: Path) -> Iterator[Any]:
    """Run the bare subscriber for one round; yields the pipe that says when it got everything."""
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=bare_subscriber_main, args=(port, password, expected, child, log_path), name="bare-subscriber", daemon=True)
    process.start()
    try:
        if not parent.poll(30) or parent.recv()[0] != "ready":
            raise RuntimeError("the bare subscriber did not subscribe within 30 s")
        yield parent
    finally:
        process.join(5)
        if process.is_alive():
            process.terminate()
            process.join(5)


# --- the rig: one broker, the registry, the fleet server ------------------------------------------------


class Rig:
    """One managed Mosquitto on a free port with logins from the fleet's own registry.

    The data directory has ``fleet serve``'s layout (``fleet.sqlite3``, ``broker/``), so the
    fleet server child, ``fleet simulate`` and this process all share one registry and store.
    """

    def __init__(self, data_dir: Path) -> None:
        from fleet.broker import BrokerFiles

        self.data_dir = data_dir
        self.files = BrokerFiles(data_dir / "broker")
        self.port = free_port()
        self.broker: Any = None
        self.passwords: dict[str, str] = {}
        self.expected_stored = 0  # responses sent to a running fleet: the store must hold exactly these
        self.starts = 0  # of `fleet serve`, and the ones that exited instead of serving
        self.failed_starts: list[str] = []

    def start(self, device_ids: list[str]) -> None:
        from fleet import devices
        from fleet.broker import ManagedBroker
        from fleet.store import default_url, open_database

        open_database(default_url(self.data_dir))
        self.passwords = devices.add_many(device_ids, "Benchmark")
        devices.sync_broker(self.files)
        self.broker = ManagedBroker(self.files, "127.0.0.1", self.port)
        self.broker.start()
        some = device_ids[0]
        wait_for(lambda: login_accepted(self.port, some, self.passwords[some], clean_session_of=some), 10, f"the broker to accept {some!r}", 0.05)  # a device's login is bound to its client id

    def stop(self) -> None:
        from fleet.store import close_database

        if self.broker is not None:
            self.broker.stop()
        close_database()

    @property
    def fleet_password(self) -> str:
        return self.files.fleet_password()

    @property
    def device_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stored(self) -> int:
        from fleet.store import StoredResponse

        return StoredResponse.select().count()

    def received_after(self, press_walls: dict[str, float]) -> list[float]:
        """Seconds from each press (wall clock) to the fleet's ``received_at`` of its response."""
        from fleet.store import StoredResponse

        query = StoredResponse.select(StoredResponse.uuid, StoredResponse.received_at).where(StoredResponse.uuid.in_(list(press_walls))).tuples()
        return [received - press_walls[uuid] for uuid, received in query]

    def forget_fleet_session(self) -> None:
        """Drop the stopped fleet's persistent session, so the broker queues nothing for it while
        the bare subscriber runs (it would cost the broker work that (b) does not pay)."""
        if not login_accepted(self.port, "fleet", self.fleet_password, clean_session_of=FLEET_CLIENT_ID):
            raise RuntimeError("could not clear the fleet's broker session")


class FleetServer:
    """``fleet serve --broker URL`` in a child process against the rig's broker: the fleet as
    deployed, for one round (stopped with SIGTERM, its broker session then removed).

    The broker URL (with the fleet's password) goes through the environment, not argv, which
    ``ps`` shows. With *profile*, the server runs under cProfile (its main thread, the ingest
    loop; paho's network thread is not in that profile).
    """

    ATTEMPTS = 3

    def __init__(self, rig: Rig, log_path: Path, profile: Path | None = None, workers: int = 1, hooks: str | None = None) -> None:
        self.rig = rig
        self.log_path = log_path
        self.profile = profile
        self.workers = workers  # > 1: `fleet serve --workers N`, N processes on one shared subscription
        self.hooks = hooks  # noop: a no-op post-commit hook (benchmarks/hooked_serve.py); escalation[-no-window]: a fleet.toml with rules
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        args = ["serve", "--data-dir", str(self.rig.data_dir), "--client-id", FLEET_CLIENT_ID, "--workers", str(self.workers)]
        if self.hooks == "noop":
            return [sys.executable, str(ROOT / "benchmarks" / "hooked_serve.py"), self.hooks, *args]
        if self.hooks:  # the escalation as deployed: its rules in the fleet's config file
            from bench_escalation import write_fleet_toml  # benchmarks/, beside this script

            config = write_fleet_toml(self.rig.data_dir.parent / f"{self.hooks}.toml", windows=self.hooks == "escalation")
            args += ["--config", str(config)]
        if self.profile is None:
            return [sys.executable, "-c", "from fleet.cli import main; main()", *args]
        runner = f"import cProfile, sys; from fleet.cli import main; sys.argv[0] = 'fleet'; cProfile.run('main()', {str(self.profile)!r})"
        return [sys.executable, "-c", runner, *args]

    def __enter__(self) -> FleetServer:
        """Start the server and wait until it serves. A start that fails is retried and recorded
        in ``rig.failed_starts``: the table reports it, as an operator would meet it."""
        env = {**os.environ, "NABIZ_FLEET_BROKER": f"mqtt://fleet:{self.rig.fleet_password}@127.0.0.1:{self.rig.port}", "NABIZ_FLEET_HTTP_PORT": "0"}  # no web pages: ingest alone
        for _ in range(self.ATTEMPTS):
            self.rig.starts += 1
            with self.log_path.open("ab") as sink:
                self.process = subprocess.Popen(self.command(), stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=self.rig.data_dir, preexec_fn=die_with_parent)
            wait_for(self._serving_or_exited, 60, f"`fleet serve` to start (log: {self.log_path})", 0.02)
            if self.process.poll() is None:
                return self
            last = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
            self.rig.failed_starts.append(f"exit {self.process.returncode}: " + " | ".join(last))
            log.warning("`fleet serve` exited at start: %s", last)
            self.rig.forget_fleet_session()
        raise RuntimeError(f"`fleet serve` did not start in {self.ATTEMPTS} attempts: {self.rig.failed_starts[-1]}")

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system, all threads) the server process has used so far, from /proc
        (None elsewhere). Robust where throughput is not: other work on a shared machine slows
        a round down but does not add CPU seconds to this process."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()  # type: ignore[union-attr]
        except (OSError, AttributeError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def _serving_or_exited(self) -> bool:
        assert self.process is not None
        return self.process.poll() is not None or b"fleet serving" in self.log_path.read_bytes()  # with workers: once all serve

    def __exit__(self, exc_type: object, *exc: object) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the server finishes its batch and disconnects
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if exc_type is None:  # on the way out after an error or Ctrl-C, the broker goes anyway
            self.rig.forget_fleet_session()


# --- (a) and (b): one response per message ----------------------------------------------------------------


def round_rate(reports: list[dict[str, Any]], end: float, messages: int) -> dict[str, Any]:
    """Messages per second from the first publisher's start to *end* (the consumer's last one)."""
    start = min(r["start"] for r in reports)
    published = max(r["published"] or math.inf for r in reports)
    return {
        "messages": messages,
        "seconds": end - start,
        "rate": messages / (end - start),
        "publishers_done_s": published - start,  # the broker had PUBACKed everything by then
        "timed_out": any(r["timed_out"] for r in reports),
    }


def run_bare_round(rig: Rig, pool: PublisherPool, load: Load, log_path: Path) -> dict[str, Any]:
    """(a): the bare subscriber counts every message of the round (warm-ups included, untimed)."""
    timed = pool.devices * load.messages_per_device
    with bare_subscriber(rig.port, rig.fleet_password, expected=pool.devices + timed, log_path=log_path) as pipe:
        reports = pool.run(load)
        if not pipe.poll(60):
            raise RuntimeError("the bare subscriber did not receive every message within 60 s")
        _, end = pipe.recv()
    return {"kind": "bare subscriber", **round_rate(reports, end, timed)}


def run_fleet_round(rig: Rig, pool: PublisherPool, load: Load, log_path: Path, profile: Path | None = None, workers: int = 1, hooks: str | None = None) -> dict[str, Any]:
    """(b) or (c): `fleet serve` stores and acknowledges every response of the round."""
    with FleetServer(rig, log_path, profile, workers, hooks) as server:
        cpu_before = server.cpu_seconds()
        reports = pool.run(load)
        cpu_after = server.cpu_seconds()
    responses = pool.devices * (load.messages_per_device * load.responses_per_message + 1)
    rig.expected_stored += responses
    if any(r["acked"] is None for r in reports):
        raise RuntimeError(f"the fleet did not acknowledge every response within {load.timeout:g} s (log: {log_path})")
    timed = pool.devices * load.messages_per_device
    result = round_rate(reports, max(r["acked"] for r in reports), timed)
    result["responses_per_s"] = result["rate"] * load.responses_per_message
    # CPU of `fleet serve` per message of the round (one process: --workers 1); None otherwise
    result["cpu_us_per_message"] = (cpu_after - cpu_before) / timed * 1e6 if workers == 1 and cpu_before is not None and cpu_after is not None else None
    result["oversize_acks"] = sum(r["oversize_acks"] for r in reports)  # Acks a kiosk would refuse
    result["unexpected_acked"] = sum(r["unknown_acked"] for r in reports)  # uuids acknowledged again or never sent
    return {"kind": "fleet", "workers": workers, "hooks": hooks, "responses_per_message": load.responses_per_message, **result}


SINGLE_KINDS = ("a", "b", "b2", "bh0", "bhe", "bhr")


def bench_single(rig: Rig, pool: PublisherPool, per_device: int, rounds: int, logs: Path, profile_dir: Path | None, only: tuple[str, ...] = SINGLE_KINDS) -> dict[str, Any]:
    """(a) against (b), rotating which goes first, so drift and noise hit all alike; (b2) is
    the same fleet as two worker processes on a shared subscription (`--workers 2`); (b+h0) and
    (b+he) and (b+hr) the same fleet as (b) with a no-op post-commit hook
    (benchmarks/hooked_serve.py), the escalation (a fleet.toml with rules), the escalation
    without its window rule."""
    load = Load(per_device, 1, "puback", PUBACK_WINDOW, expect_acks=False)
    acked = dataclasses.replace(load, expect_acks=True)
    hooked = {"bh0": "noop", "bhe": "escalation", "bhr": "escalation-no-window"}
    kinds = tuple(kind for kind in SINGLE_KINDS if kind in only)
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SINGLE_KINDS}
    for n in range(rounds):
        for which in kinds[n % len(kinds) :] + kinds[: n % len(kinds)]:
            if which == "a":
                result = run_bare_round(rig, pool, load, logs / "bare-subscriber.log")
            elif which == "b":
                profile = profile_dir / f"single-{n}.prof" if profile_dir else None
                result = run_fleet_round(rig, pool, acked, logs / f"fleet-single-{n}.log", profile)
            elif which == "b2":
                result = run_fleet_round(rig, pool, acked, logs / f"fleet-single-2workers-{n}.log", workers=2)
            else:
                result = run_fleet_round(rig, pool, acked, logs / f"fleet-single-{hooked[which]}-{n}.log", hooks=hooked[which])
            runs[which].append(result)
            log.info("round %s%d: %.0f messages/s", which, n, result["rate"])
    median = {kind: statistics.median(r["rate"] for r in runs[kind]) if runs[kind] else math.nan for kind in SINGLE_KINDS}
    return {
        "devices": pool.devices, "messages_per_round": pool.devices * per_device, "rounds": rounds,
        "bare": runs["a"], "fleet": runs["b"], "fleet_2_workers": runs["b2"],
        "fleet_noop_hook": runs["bh0"], "fleet_escalation_hook": runs["bhe"], "fleet_escalation_no_window_hook": runs["bhr"],
        "bare_median": median["a"], "fleet_median": median["b"], "fleet_2_workers_median": median["b2"],
        "fleet_noop_hook_median": median["bh0"], "fleet_escalation_hook_median": median["bhe"],
        "fleet_escalation_no_window_hook_median": median["bhr"],
        "load_average": os.getloadavg(),
        "cpu_us_per_message_median": {
            kind: statistics.median(cpu) if (cpu := [r["cpu_us_per_message"] for r in runs[kind] if r.get("cpu_us_per_message") is not None]) else None for kind in SINGLE_KINDS
        },
    }


def bench_batched(rig: Rig, pool: PublisherPool, responses_per_device: int, sizes: tuple[int, ...], rounds: int, logs: Path, profile_dir: Path | None) -> list[dict[str, Any]]:
    """(c): devices drain a backlog the way kiosks do: Uploads of *size*, 4 awaiting an Ack."""
    results = []
    for size in sizes:
        load = Load(max(1, responses_per_device // size), size, "ack", KIOSK_WINDOW, expect_acks=True)
        runs = []
        for n in range(rounds):
            profile = profile_dir / f"batch{size}-{n}.prof" if profile_dir else None
            runs.append(run_fleet_round(rig, pool, load, logs / f"fleet-batch{size}-{n}.log", profile))
            log.info("batch %d round %d: %.0f responses/s", size, n, runs[-1]["responses_per_s"])
        results.append({"size": size, "responses_per_round": pool.devices * load.messages_per_device * size, "runs": runs,
                        "median": statistics.median(r["responses_per_s"] for r in runs)})
    return results


# --- (d) backlog drain with real kiosk outboxes --------------------------------------------------------------


def backlog_kiosk_main(device_id: str, password: str, broker: str, rows: int, data_dir: str, report: Any, barrier: Any) -> None:
    """One kiosk back from an outage: *rows* responses committed in its real outbox, then its
    real FleetSync started; reports when every row is acknowledged (none left unsent)."""
    from kiosk.clock import SystemClock, boot_id
    from kiosk.config import SyncSettings
    from kiosk.outbox import Outbox, database
    from kiosk.sync.worker import FleetSync

    kiosk_log_to(Path(data_dir) / "kiosk.log")
    outbox = Outbox(device_id, boot_id()).open(data_dir)
    try:
        with database.atomic():  # one commit for the whole backlog: a week of customers, made fast
            for i in range(rows):
                outbox.save(customer_record(i))
        settings = SyncSettings(broker=broker, username=device_id, password=password)
        sync = FleetSync(settings, device_id, outbox, SystemClock(), outbox.boot_id, "nabiz-bench", ("exit-default", 1))
        report.send(("ready", outbox.health().unsent))
        barrier.wait(120)
        start = time.monotonic()
        sync.start()
        connected = None
        deadline = start + 120
        while sync.engine.stats.acked < rows and time.monotonic() < deadline:
            if connected is None and sync.link.connected.is_set():
                connected = time.monotonic()
            time.sleep(0.002)
        drained = time.monotonic()
        sync.stop()
        health = outbox.health()
        report.send(("done", {"start": start, "connected": connected, "drained": drained, "acked": sync.engine.stats.acked,
                              "unsent": health.unsent, "batches": sync.engine.stats.published_batches, "resends": sync.engine.stats.resends}))
    finally:
        outbox.close()


def kiosk_log_to(path: Path) -> None:
    """Log as ``kiosk run`` does (JSON lines, INFO), into *path*: the sync's logging costs what
    it costs on a kiosk, and paho's messages land there instead of over the table."""
    from kiosk.contract.logs import setup_logging

    path.parent.mkdir(parents=True, exist_ok=True)
    setup_logging("json", "INFO")
    logging.getLogger().handlers[0].setStream(path.open("a", encoding="utf-8"))


def bench_backlog(rig: Rig, kiosks: list[str], per_kiosk: int, work: Path) -> dict[str, Any]:
    """Fill each kiosk's outbox (one process per kiosk: one open outbox per process), start all
    syncs at once, and time until the last one has nothing unsent."""
    context = mp.get_context("spawn")
    barrier = context.Barrier(len(kiosks) + 1)
    pipes, processes = [], []
    for device_id in kiosks:
        parent, child = context.Pipe()
        args = (device_id, rig.passwords[device_id], rig.device_url, per_kiosk, str(work / device_id), child, barrier)
        process = context.Process(target=backlog_kiosk_main, args=args, name=f"kiosk-{device_id}", daemon=True)
        process.start()
        pipes.append(parent)
        processes.append(process)
    try:
        ready = [_receive(pipe, "ready", 180) for pipe in pipes]
        if any(unsent != per_kiosk for unsent in ready):
            raise RuntimeError(f"outboxes hold {ready} unsent rows, expected {per_kiosk} each")
        barrier.wait(60)
        done = [_receive(pipe, "done", 180) for pipe in pipes]
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
    rig.expected_stored += len(kiosks) * per_kiosk
    start = min(d["start"] for d in done)
    return {
        "kiosks": len(kiosks), "per_kiosk": per_kiosk, "responses": len(kiosks) * per_kiosk,
        "seconds": max(d["drained"] for d in done) - start,
        "connect_s": max((d["connected"] or math.inf) for d in done) - start,
        "unsent_left": sum(d["unsent"] for d in done),
        "acked": sum(d["acked"] for d in done),
        "batches": sum(d["batches"] for d in done),
        "resends": sum(d["resends"] for d in done),
    }


def _receive_any(pipe: Any, timeout: float, what: str) -> tuple[str, Any]:
    if not pipe.poll(timeout):
        raise RuntimeError(f"no word from a child process within {timeout:g} s waiting for {what}")
    return pipe.recv()


def _receive(pipe: Any, what: str, timeout: float) -> Any:
    kind, value = _receive_any(pipe, timeout, repr(what))
    if kind != what:
        raise RuntimeError(f"child process said {kind!r}, expected {what!r}")
    return value


class Simulation:
    """``fleet simulate`` as a child process: kiosks with in-memory outbox twins on the real
    SyncEngine, registered by the command itself in the rig's registry and broker."""

    def __init__(self, rig: Rig, devices: int, per_device: int, prefix: str, extra: list[str]) -> None:
        self.rig = rig
        command = [sys.executable, "-c", "from fleet.cli import main; main()", "simulate", "--devices", str(devices), "--responses", str(per_device), "--json",
                   "--prefix", prefix, "--data-dir", str(rig.data_dir), "--broker-url", rig.device_url, "--timeout", "120", *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=rig.data_dir, preexec_fn=die_with_parent)

    def running(self) -> bool:
        return self.process.poll() is None

    def result(self, timeout: float = 240) -> dict[str, Any]:
        try:
            out, err = self.process.communicate(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"`fleet simulate` exited with {self.process.returncode} without a result: {err[-1500:]}")
        result = json.loads(lines[-1])
        self.rig.expected_stored += result["acked"]
        return result


def bench_simulate(rig: Rig, devices: int, per_device: int) -> dict[str, Any]:
    """(d'): ``fleet simulate --backlog``, the in-memory twins' drain, for comparison with (d)."""
    return Simulation(rig, devices, per_device, "bsim", ["--backlog"]).result()


# --- (e) press → stored, through a real kiosk ------------------------------------------------------------------


def compose_kiosk(outbox: Any, broker: str, password: str, work: Path) -> tuple[Any, Any, Any, Any]:
    """A kiosk composed as ``kiosk run`` composes it: the flow over the benchmark's tight
    survey, a headless 800x480 screen, a scripted panel, *outbox*, and FleetSync via on_saved."""
    import bench_kiosk  # sets SDL's dummy driver before pygame loads

    from hardware.profiles import load_profile
    from hardware.scripted import ScriptedPanel
    from kiosk.app import Kiosk
    from kiosk.clock import SystemClock
    from kiosk.config import SyncSettings
    from kiosk.screen import Screen
    from kiosk.sync.worker import FleetSync

    survey = bench_kiosk.tight_survey()
    profile = load_profile(bench_kiosk.PROFILE)
    clock = SystemClock()
    screen = Screen(profile, (800, 480), "headless")
    device_id = outbox.device_id
    sync = FleetSync(SyncSettings(broker=broker, username=device_id, password=password), device_id, outbox, clock, outbox.boot_id, "nabiz-bench", (survey.id, survey.version))
    kiosk = Kiosk(survey, screen, ScriptedPanel(profile, []), outbox, clock, work, on_saved=sync.saved)
    return kiosk, sync, screen, clock


def latency_kiosk_main(device_id: str, password: str, broker: str, responses: int, work_dir: str, report: Any) -> None:
    """A kiosk composed as ``kiosk run`` composes it (Kiosk, headless Screen, scripted panel, real
    Outbox, FleetSync via on_saved), driven press by press through ``Kiosk.handle``.

    For each response: the clock starts just before the press that completes it and stops
    when the sync thread has recorded the fleet's Ack in the outbox (``mark_sent``). An Ack
    is only sent after the fleet committed the row, so this bounds press → stored from above.
    """
    import bench_kiosk  # sets SDL's dummy driver before pygame loads

    from hardware.panel import ButtonPress
    from kiosk.app import Stamped
    from kiosk.clock import boot_id
    from kiosk.outbox import Outbox

    class ProbeOutbox(Outbox):
        """The real outbox, noting the last uuid saved and when each uuid's Ack was committed."""

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.last_uuid: str | None = None
            self.acked_at: dict[str, float] = {}
            self.acked = threading.Condition()

        def save(self, record: Any) -> str | None:
            self.last_uuid = super().save(record)
            return self.last_uuid

        def mark_sent(self, uuids: list[str], at: float | None = None) -> int:
            changed = super().mark_sent(uuids, at)
            now = time.perf_counter()
            with self.acked:
                for u in uuids:
                    self.acked_at.setdefault(u, now)
                self.acked.notify_all()
            return changed

    work = Path(work_dir)
    outbox = ProbeOutbox(device_id, boot_id()).open(work)
    kiosk, sync, screen, clock = compose_kiosk(outbox, broker, password, work)
    samples, saves = [], []
    press_walls: dict[str, float] = {}  # uuid → wall time of its completing press (to split the latency with the fleet's received_at)
    try:
        with bench_kiosk.kiosk_logging(work / "kiosk.log"):
            sync.start()
            if not sync.link.connected.wait(30):
                raise RuntimeError("the kiosk's FleetSync did not connect within 30 s")
            report.send(("ready", None))
            report.recv()  # go
            for n in range(responses):
                *answering, last = bench_kiosk.RESPONSES[n % len(bench_kiosk.RESPONSES)]
                for button in answering:
                    kiosk.handle(Stamped(ButtonPress(button), clock.now()))
                pressed, pressed_wall = time.perf_counter(), time.time()
                kiosk.handle(Stamped(ButtonPress(last), clock.now()))
                saves.append(time.perf_counter() - pressed)
                uuid = outbox.last_uuid
                with outbox.acked:
                    if not outbox.acked.wait_for(lambda uuid=uuid: uuid in outbox.acked_at, timeout=30):
                        raise RuntimeError(f"response {n} was not acknowledged within 30 s")
                samples.append(outbox.acked_at[uuid] - pressed)
                press_walls[uuid] = pressed_wall
                time.sleep(0.01)  # customers are seconds apart; never two responses in one Upload
            sync.stop()
        report.send(("done", {"latencies": samples, "press_handled": saves, "press_walls": press_walls, "unsent": outbox.health().unsent}))
    finally:
        outbox.close()
        screen.close()


def screen_kiosk_main(device_id: str, password: str, broker: str, backlog: int, work_dir: str, report: Any) -> None:
    """(f): does the sync slow the screen? A kiosk composed as ``kiosk run`` composes it, with
    *backlog* responses waiting in its outbox. Presses are timed through ``Kiosk.handle`` (the
    press → frame of bench_kiosk: flow, durable save on completing presses, draw) first with
    the sync not started (the baseline), then while its thread drains the backlog."""
    import bench_kiosk  # sets SDL's dummy driver before pygame loads

    from hardware.panel import ButtonPress
    from kiosk.app import Stamped
    from kiosk.clock import boot_id
    from kiosk.outbox import Outbox, database

    work = Path(work_dir)
    outbox = Outbox(device_id, boot_id()).open(work)
    kiosk, sync, screen, clock = compose_kiosk(outbox, broker, password, work)
    buttons = [b for response in bench_kiosk.RESPONSES for b in response]

    def press(n: int) -> float:
        started = time.perf_counter()
        kiosk.handle(Stamped(ButtonPress(buttons[n % len(buttons)]), clock.now()))
        return time.perf_counter() - started

    try:
        with bench_kiosk.kiosk_logging(work / "kiosk.log"):
            with database.atomic():
                for i in range(backlog):
                    outbox.save(customer_record(i))
            baseline = [press(n) for n in range(600)]
            report.send(("ready", None))
            report.recv()  # go
            start = time.monotonic()
            sync.start()
            during, n = [], 0
            while sync.engine.stats.acked < backlog and time.monotonic() - start < 60:
                during.append(press(n))
                n += 1
                time.sleep(0.001)  # a customer per frame or so, far busier than any exit
            drained = time.monotonic() - start
            sync.stop()
        report.send(("done", {"baseline": baseline, "during": during, "drain_s": drained, "acked": sync.engine.stats.acked, "unsent": outbox.health().unsent}))
    finally:
        outbox.close()
        screen.close()


def bench_screen_during_drain(rig: Rig, device_id: str, backlog: int, work_dir: Path) -> dict[str, Any]:
    """(f): run the screen kiosk in its own process (one open outbox per process)."""
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=screen_kiosk_main, args=(device_id, rig.passwords[device_id], rig.device_url, backlog, str(work_dir), child), name="screen-kiosk", daemon=True)
    process.start()
    try:
        _receive(parent, "ready", 180)
        parent.send("go")
        result = _receive(parent, "done", 120)
    finally:
        process.join(10)
        if process.is_alive():
            process.terminate()
    rig.expected_stored += result["acked"]
    base, during = result["baseline"], result["during"]
    return {
        "backlog": backlog, "drain_s": result["drain_s"], "unsent_left": result["unsent"], "presses_during": len(during),
        "baseline_p50_s": percentile(base, 50), "baseline_p99_s": percentile(base, 99),
        "during_p50_s": percentile(during, 50), "during_p99_s": percentile(during, 99), "during_max_s": max(during),
    }


def screen_rows(result: dict[str, Any]) -> list[Row]:
    ms = lambda seconds: f"{seconds * 1000:.2f} ms"
    return [Row(f"(f) press → frame while the sync drains {result['backlog']:,} (headless 800x480)", f"p50 {ms(result['during_p50_s'])}, p99 {ms(result['during_p99_s'])}",
                f"same kiosk, sync not started: p50 {ms(result['baseline_p50_s'])}, p99 {ms(result['baseline_p99_s'])}; {result['presses_during']} presses during a {result['drain_s']:.2f} s drain, max {ms(result['during_max_s'])}",
                f"p99 ≤ {FRAME_BAR_S * 1000:.0f} ms", result["during_p99_s"] / FRAME_BAR_S, 1.0, higher_is_better=False, passed=None if result["unsent_left"] == 0 else False)]


def bench_latency(rig: Rig, device_id: str, responses: int, work_dir: Path) -> dict[str, Any]:
    """(e): run the latency kiosk in its own process (one open outbox per process)."""
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    args = (device_id, rig.passwords[device_id], rig.device_url, responses, str(work_dir), child)
    process = context.Process(target=latency_kiosk_main, args=args, name="latency-kiosk", daemon=True)
    process.start()
    try:
        _receive(parent, "ready", 120)
        parent.send("go")
        result = _receive(parent, "done", 60 + responses)
    finally:
        process.join(10)
        if process.is_alive():
            process.terminate()
    rig.expected_stored += responses
    lat, saves = result["latencies"], result["press_handled"]
    to_fleet = rig.received_after(result["press_walls"])
    return {
        "press_to_fleet_received_p50_s": percentile(to_fleet, 50), "press_to_fleet_received_p99_s": percentile(to_fleet, 99),
        "responses": responses, "unsent_left": result["unsent"],
        "p50_s": percentile(lat, 50), "p99_s": percentile(lat, 99), "max_s": max(lat),
        "press_handled_p50_s": percentile(saves, 50), "press_handled_p99_s": percentile(saves, 99),
    }


def bench_latency_under_load(rig: Rig, device_id: str, responses: int, work_dir: Path, devices: int, rate: float, seconds: float) -> dict[str, Any]:
    """(e'): the same while ``fleet simulate`` kiosks send normal traffic, the condition of the
    design's alert bar. The latency run starts once simulated responses reach the store, and
    the row says whether the traffic was still running when it ended."""
    per_device = max(1, math.ceil(rate * seconds / devices))
    before = rig.stored()
    simulation = Simulation(rig, devices, per_device, "lsim", ["--rate", f"{rate:g}"])
    try:
        wait_for(lambda: rig.stored() >= before + min(100, devices * per_device // 10) or not simulation.running(), 120, "simulated traffic to reach the store", 0.1)
        result = bench_latency(rig, device_id, responses, work_dir)
        result["traffic_throughout"] = simulation.running()
    finally:
        load = simulation.result()
    return {**result, "background": {"devices": devices, "rate": rate, **load}}


# --- the table ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    """One line of the table. *ratio* is compared with *threshold* in the direction of the bar."""

    what: str
    value: str
    limit: str
    bar: str
    ratio: float | None = None
    threshold: float | None = None
    higher_is_better: bool = True
    passed: bool | None = None

    def __post_init__(self) -> None:
        if self.passed is None and self.ratio is not None and self.threshold is not None:
            self.passed = self.ratio >= self.threshold if self.higher_is_better else self.ratio <= self.threshold

    @property
    def verdict(self) -> str:
        return "info" if self.passed is None else "PASS" if self.passed else "FAIL"


def rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}/s"


def single_rows(result: dict[str, Any]) -> list[Row]:
    bare, fleet = result["bare_median"], result["fleet_median"]
    spread = lambda runs: "/".join(f"{r['rate']:,.0f}" for r in runs)
    publishers = statistics.median(r["messages"] / r["publishers_done_s"] for r in result["bare"] + result["fleet"])
    cpu = result.get("cpu_us_per_message_median", {})
    cpu_of = lambda kind: f"; fleet CPU {cpu[kind]:.0f} µs/msg" if cpu.get(kind) is not None else ""
    rows = [
        Row("(a) bare paho subscriber, 1 response/message", rate(bare, "msg"), f"median of {spread(result['bare'])}; {result['devices']} devices, {result['messages_per_round']:,} msgs/round", "limit", None),
        Row("(b) fleet ingest, 1 response/message (stored+acked)", rate(fleet, "msg"), f"(a) {rate(bare, 'msg')}; runs {spread(result['fleet'])}; publishers alone ≥ {rate(publishers, 'msg')}{cpu_of('b')}",
            f"b/a ≥ {INGEST_RATIO_BAR:.2f}", fleet / bare, INGEST_RATIO_BAR),
        Row("(b2) the same, fleet serve --workers 2 (shared subscription)", rate(result["fleet_2_workers_median"], "msg"),
            f"(a) {rate(bare, 'msg')}; runs {spread(result['fleet_2_workers'])}; two ingest processes, one broker, one store",
            f"b2/a ≥ {INGEST_RATIO_BAR:.2f}", result["fleet_2_workers_median"] / bare, INGEST_RATIO_BAR),
        *[
            Row(what, rate(result[key], "msg"), f"(b) {rate(fleet, 'msg')}; (a) {rate(bare, 'msg')}, ratio to (a) {result[key] / bare:.3f}; runs {spread(result[key.removesuffix('_median')])}{cpu_of(kind)}",
                f"drop ≤ {HOOK_DROP_BAR:.0%} of (b)", result[key] / fleet, 1 - HOOK_DROP_BAR)
            for what, key, kind in (
                ("(b+h0) (b) with a no-op post-commit hook", "fleet_noop_hook_median", "bh0"),
                ("(b+he) (b) with the escalation on (its rules in fleet.toml)", "fleet_escalation_hook_median", "bhe"),
                ("(b+hr) (b+he) without the window rule (no window counts)", "fleet_escalation_no_window_hook_median", "bhr"),
            )
        ],
    ]
    return [row for row in rows if row.value != rate(math.nan, "msg")]  # rows left out with --single


def batch_rows(results: list[dict[str, Any]]) -> list[Row]:
    return [
        Row(f"(c) fleet ingest, {r['size']} responses/Upload (stored+acked)", rate(r["median"], "resp"),
            f"runs {'/'.join(format(x['responses_per_s'], ',.0f') for x in r['runs'])}; {r['responses_per_round']:,} responses/round, window {KIOSK_WINDOW}",
            f"≥ {BATCH_RATE_BAR:,.0f}/s", r["median"] / BATCH_RATE_BAR, 1.0)
        for r in results
    ]


def backlog_rows(result: dict[str, Any], label: str) -> list[Row]:
    ok = result["unsent_left"] == 0 and result["acked"] >= result["responses"]
    return [Row(f"(d) backlog {result['responses']:,} drained: {label}", f"{result['seconds']:.2f} s",
                f"{result['responses'] / result['seconds']:,.0f} resp/s; connect {result['connect_s']:.2f} s; {result['batches']} Uploads, {result['resends']} resends, {result['unsent_left']} unsent left",
                f"≤ {BACKLOG_BAR_S:g} s", result["seconds"] / BACKLOG_BAR_S, 1.0, higher_is_better=False, passed=None if ok else False)]


def simulate_rows(result: dict[str, Any]) -> list[Row]:
    return [Row(f"(d') fleet simulate --backlog {result['devices']}x{result['made'] // max(1, result['devices'])} (in-memory twins)", f"{result['elapsed_s']:.2f} s",
                f"{result['acked_per_s']:,.0f} resp/s; connect {result['connect_s']:.2f} s; {result['acked']:,}/{result['made']:,} acked; ack p99 {result['ack_latency_p99_ms'] or 0:.0f} ms",
                "info", None)]


def latency_rows(result: dict[str, Any], condition: str) -> list[Row]:
    traffic = result.get("traffic_throughout")
    ok = result["unsent_left"] == 0 and traffic is not False
    background = result.get("background")
    load = "" if background is None else (
        f"; background {background['acked']:,}/{background['made']:,} simulated responses acked, their ack p99 {background['ack_latency_p99_ms'] or 0:.0f} ms, "
        f"traffic {'ran throughout' if traffic else 'ENDED before the run did'}")
    return [Row(f"(e) press → stored+acked, {result['responses']} responses, {condition}", f"p50 {result['p50_s'] * 1000:.1f} ms, p99 {result['p99_s'] * 1000:.1f} ms",
                f"max {result['max_s'] * 1000:.1f} ms; completing press handled (save+draw) p50 {result['press_handled_p50_s'] * 1000:.1f} ms, p99 {result['press_handled_p99_s'] * 1000:.1f} ms; "
                f"press → fleet received p50 {result['press_to_fleet_received_p50_s'] * 1000:.1f} ms, p99 {result['press_to_fleet_received_p99_s'] * 1000:.1f} ms{load}",
                f"p99 ≤ {LATENCY_BAR_S:g} s", result["p99_s"] / LATENCY_BAR_S, 1.0, higher_is_better=False, passed=None if ok else False)]


def print_table(rows: list[Row], header: str) -> None:
    titles = ("what", "value", "bar", "ratio", "verdict", "limit measured in the same run / notes")
    cells = [(r.what, r.value, r.bar, "" if r.ratio is None else f"{r.ratio:.3f}", r.verdict, r.limit) for r in rows]
    table.print_table(header, titles, cells, {0, 2, 4}, [r.what for r in rows if r.passed is False], sum(r.passed is not None for r in rows))
    print("ratio: b/a for (b); (b+h)/(b) for (b+h); value ÷ bar otherwise (≥ 1 passes a rate bar, ≤ 1 passes a time bar)")


# --- main -----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    publishers: int
    devices_per_publisher: int
    single_per_device: int
    rounds: int
    batch_responses_per_device: int
    batch_rounds: int
    backlog: int
    backlog_kiosks: int
    simulate: tuple[int, int]
    latency_responses: int
    load: tuple[int, float, float]  # simulated kiosks, responses/s over all of them, seconds of traffic

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(2, 4, 400, 1, 1000, 1, 2000, 4, (20, 50), 40, (100, 50.0, 10.0))
        return cls(3, 8, 1000, 3, 2000, 2, 10_000, 10, (100, 100), 200, (1000, 100.0, 25.0))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts and one round each (a smoke run, not a verdict)")
    parser.add_argument("--only", choices=("single", "batch", "backlog", "latency", "screen"), action="append", help="run only these benchmarks (repeatable)")
    parser.add_argument("--single", default=",".join(SINGLE_KINDS), help=f"the rows of the single benchmark to run, comma-separated (default: all of {','.join(SINGLE_KINDS)}); (a) and (b) always")
    parser.add_argument("--rounds", type=int, help="rounds of the single benchmark (default 3; --quick 1)")
    parser.add_argument("--profile", type=Path, help="run `fleet serve` under cProfile and write one .prof per fleet round into this directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory (logs, stores) and print its path")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results file (default {DEFAULT_OUT.relative_to(ROOT)})")
    return parser.parse_args(argv)


def device_plan(plan: Plan) -> dict[str, list[str]]:
    """Every login the run needs, made before the broker starts (no reload race while measuring)."""
    return {
        "publishers": [f"bench-pub-{n:03d}" for n in range(plan.publishers * plan.devices_per_publisher)],
        "one_kiosk": ["bench-kiosk-backlog"],
        "kiosks": [f"bench-kiosk-{n:02d}" for n in range(plan.backlog_kiosks)],
        "latency": ["bench-kiosk-latency"],
        "screen": ["bench-kiosk-screen"],
    }


def run(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> list[Row]:
    plan = Plan.of(args.quick)
    selected = set(args.only or ("single", "batch", "backlog", "latency", "screen"))
    logs = work / "logs"
    logs.mkdir()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    ids = device_plan(plan)
    rig = Rig(work / "fleet")
    rows: list[Row] = []
    with contextlib.ExitStack() as cleanup:
        rig.start([d for group in ids.values() for d in group])
        cleanup.callback(rig.stop)
        results["broker"] = {"port": rig.port, "config": str(rig.files.config)}
        templates = wire_templates(work / "template")
        results["payload_bytes_1_response"] = sorted({len(upload("bench-pub-000", msgspec.convert(t, ResponsePayload), 1)[0]) for t in templates})
        results["negative_share"] = sum(t["negative"] for t in templates) / len(templates)
        if selected & {"single", "batch"}:
            passwords = {d: rig.passwords[d] for d in ids["publishers"]}
            pool = PublisherPool(rig.port, passwords, templates, plan.publishers, logs)
            cleanup.callback(pool.close)
            if "single" in selected:
                only = ("a", "b", *args.single.split(","))
                unknown = set(only) - set(SINGLE_KINDS)
                if unknown:
                    raise SystemExit(f"--single: unknown rows {', '.join(sorted(unknown))}; choose from {','.join(SINGLE_KINDS)}")
                results["single"] = bench_single(rig, pool, plan.single_per_device, args.rounds or plan.rounds, logs, args.profile, only)
                rows += single_rows(results["single"])
            if "batch" in selected:
                per_device = plan.batch_responses_per_device
                results["batched"] = bench_batched(rig, pool, per_device, (100, 200), plan.batch_rounds, logs, args.profile)
                rows += batch_rows(results["batched"])
        if selected & {"backlog", "latency", "screen"}:
            profile = args.profile / "backlog-latency.prof" if args.profile else None
            with FleetServer(rig, logs / "fleet-backlog-latency.log", profile):
                if "backlog" in selected:
                    one = bench_backlog(rig, ids["one_kiosk"], plan.backlog, work / "kiosks")
                    many = bench_backlog(rig, ids["kiosks"], plan.backlog // plan.backlog_kiosks, work / "kiosks")
                    sim = bench_simulate(rig, *plan.simulate)
                    results["backlog"] = {"one_kiosk": one, "kiosk_processes": many, "simulate": sim}
                    rows += backlog_rows(one, "1 kiosk process, 1 real outbox")
                    rows += backlog_rows(many, f"{plan.backlog_kiosks} kiosk processes x {plan.backlog // plan.backlog_kiosks}")
                    rows += simulate_rows(sim)
                if "latency" in selected:
                    results["latency"] = bench_latency(rig, ids["latency"][0], plan.latency_responses, work / "kiosks" / "latency")
                    rows += latency_rows(results["latency"], "idle fleet")
                    devices, rate, seconds = plan.load
                    loaded = bench_latency_under_load(rig, ids["latency"][0], plan.latency_responses, work / "kiosks" / "latency-load", devices, rate, seconds)
                    results["latency_under_load"] = loaded
                    rows += latency_rows(loaded, f"{devices} simulated kiosks at {rate:g}/s")
                if "screen" in selected:
                    results["screen_during_drain"] = bench_screen_during_drain(rig, ids["screen"][0], plan.backlog, work / "kiosks" / "screen")
                    rows += screen_rows(results["screen_during_drain"])
        results["fleet_serve_starts"] = {"starts": rig.starts, "failed": rig.failed_starts}
        if rig.starts:
            rows.append(Row("`fleet serve` reaches 'fleet serving' on every start", f"{rig.starts - len(rig.failed_starts)} of {rig.starts}",
                            "; ".join(sorted({f[:200] for f in rig.failed_starts})) or "no start failed", "every start", None, passed=not rig.failed_starts))
        stored = rig.stored()
        results["store_check"] = {"expected": rig.expected_stored, "stored": stored}
        rows.append(Row("every response sent to the fleet stored exactly once", f"{stored:,} rows", f"expected {rig.expected_stored:,} (unique uuids; the store's key refuses duplicates)",
                        "= expected", None, passed=stored == rig.expected_stored))
    return rows


def _load(averages: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.1f}" for value in averages)


_interrupted = threading.Event()


def interrupted(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM: unwind, stopping the broker, fleet servers and load generators on the way."""
    _interrupted.set()
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # even if started with SIGINT ignored
    results: dict[str, Any] = {
        "machine": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "quick": args.quick, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_at_start": os.getloadavg(),  # the machine is shared: other work shows here
    }
    work = Path(tempfile.mkdtemp(prefix="nabiz-bench-fleet-"))
    logging.basicConfig(filename=work / "bench.log", level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    try:
        rows = run(args, work, results)
    except BaseException:
        if _interrupted.is_set():  # whatever the unwinding raised on top (a child killed by the same Ctrl-C)
            print(f"interrupted; everything started was stopped; logs in {work}", file=sys.stderr)
            return 130
        print(f"benchmark failed; logs in {work}", file=sys.stderr)
        raise
    else:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = time.monotonic() - started
    results["load_average_at_end"] = os.getloadavg()
    results["rows"] = [{**dataclasses.asdict(r), "verdict": r.verdict} for r in rows]
    header = f"Nabız fleet benchmarks: {results['machine']}, {results['cpus']} cores, Python {results['python']}, mosquitto on :{results['broker']['port']}, {results['seconds']:.0f} s, load average {_load(results['load_average_at_start'])} at start, {_load(results['load_average_at_end'])} at the end" + (
        " (--quick: a smoke run)" if args.quick else "")
    print_table(rows, header)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"results: {args.out}" + (f"; data and logs kept in {work}" if args.keep else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
