"""The fleet's composition root: the parts of ``fleet serve`` wired from one FleetConfig.

``fleet serve`` parses its options, loads the config (``fleet.settings.load``: the file, the
environment, its options) and calls ``serve``. Everything it starts is built here, in the
order it must start, and stopped in reverse:

    store (migrated) → broker (the managed Mosquitto, or a link to yours)
      → services (once per fleet: escalation worker, web server)
      → ingest: this process's link + Ingest + FleetServer, or with workers = N, N such
        processes on one shared subscription (``fleet.workers``)

A process has one of three roles. ``single``: everything in one process. ``supervisor``
(workers > 1): store, broker and services, and the worker processes it keeps running.
``worker`` (``fleet serve --worker``, started by a supervisor): ingest only, on the broker the
supervisor hands it.

Features plug in at two places, both empty today: ``_ingest_hooks`` (every process that
ingests) and ``_services`` (once per fleet). Nothing here parses options or prints usage: a
problem a person can fix is a ``FleetStartError`` whose message has the fix.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fleet.config import ownership_warning
from fleet.settings import FleetConfig

if TYPE_CHECKING:
    from fleet.ingest import Ingest
    from fleet.link import BrokerURL

log = logging.getLogger(__name__)

Role = Literal["single", "supervisor", "worker"]

USAGE_ERROR = 2


class FleetStartError(RuntimeError):
    """The fleet cannot start; the message says why and what to do."""


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class FleetApp:
    def __init__(self, config: FleetConfig, worker: bool = False, say: Callable[[str], None] = _to_stderr) -> None:
        """*say* prints what a person starting the fleet reads (warnings, "fleet serving")."""
        self.config = config
        self.role: Role = "worker" if worker else "supervisor" if config.serve.workers > 1 else "single"
        self.say = say

    def run(self, stop: threading.Event) -> None:
        """Start everything, serve until *stop* is set, stop everything; FleetStartError if it cannot start."""
        from fleet.broker import BrokerError
        from fleet.link import LinkError
        from fleet.store import StoreError

        with ExitStack() as stack:
            try:
                self._open_store(stack)
                broker = self._broker(stack)
                if self.role != "worker":
                    self._services(stack, broker)
                if self.role == "supervisor":
                    self._supervise(stack, broker, stop)
                    return
                server = self._ingest(stack, broker)
            except (StoreError, BrokerError, LinkError) as exc:
                raise FleetStartError(str(exc)) from None
            if not self._announce_ready():
                self.say(f"fleet serving: broker {broker.masked()}, data in {self.config.data_dir}{self._config_file()}")
            server.run(stop)

    # --- the parts, in the order they start ----------------------------------------------------

    def _open_store(self, stack: ExitStack) -> None:
        from fleet import devices
        from fleet.store import close_database, open_database

        warning = ownership_warning(self.config.data_dir)
        if warning:
            self.say(f"warning: {warning}")
        open_database(self.config.db_url)
        stack.callback(close_database)
        serve = self.config.serve
        taken = devices.client_id_problem(serve.client_id, 1 if self.role == "worker" else serve.workers)
        if taken:
            raise FleetStartError(taken)

    def _broker(self, stack: ExitStack) -> BrokerURL:
        """Where this fleet's links log in: the broker the config names, or the managed one, started now."""
        from fleet import devices
        from fleet.broker import FLEET_USER, BrokerFiles, ManagedBroker, TlsListener
        from fleet.link import BrokerURL

        settings = self.config.broker
        if settings.url:
            return BrokerURL.parse(settings.url)
        files = BrokerFiles(self.config.data_dir / "broker")
        tls = TlsListener(settings.tls_port, Path(settings.tls_cert), Path(settings.tls_key), settings.tls_bind) if settings.tls_cert and settings.tls_key else None
        broker = ManagedBroker(files, settings.bind, settings.port, tls=tls)
        stack.callback(broker.stop)
        broker.start(accounts=devices.broker_accounts())
        return BrokerURL(broker.connect_host, settings.port, FLEET_USER, files.fleet_password(), False)

    def _services(self, stack: ExitStack, broker: BrokerURL) -> None:
        """Parts that run beside ingest, once per fleet: in the single process, or in the
        supervisor of ``--workers N`` (never in a worker). Start each here and push its stop
        onto *stack*; *broker* is where a part that publishes (the help channel) logs in.

        Left for the escalation wiring (docs/escalation.md, "Wiring"):
        - the escalation worker from ``self.config.escalation`` and the ack-link key in the data directory;
        - the web server from ``self.config.web`` (``port`` 0: none), sharing that key.
        """
        self._survey_service(stack, broker)

    def _survey_service(self, stack: ExitStack, broker: BrokerURL) -> None:
        """Survey rollouts (``fleet.surveys.service``): publishes the signed assignments that
        ``fleet survey push`` stored, on a link of its own; it holds no signing key."""
        from fleet.surveys.service import RolloutService, SurveyPublisher

        publisher = SurveyPublisher(broker.host, broker.port, broker.username, broker.password, broker.tls, self.config.broker.ca_file)
        service = RolloutService(publisher).start()
        stack.callback(service.stop)

    def _ingest_hooks(self, ingest: Ingest) -> None:
        """Post-commit hooks on this process's ingest; each gets only the responses newly
        stored (``fleet.ingest``'s registry). Every process that ingests runs this: the single
        one and each worker.

        Left for the escalation wiring: ``Escalation.on_responses_stored``.
        """

    def _ingest(self, stack: ExitStack, broker: BrokerURL):  # type: ignore[no-untyped-def]
        """This process's link to the broker and the loop that stores what arrives."""
        from fleet.ingest import Ingest
        from fleet.link import FleetLink
        from fleet.server import FleetServer

        serve = self.config.serve
        link = FleetLink(broker, client_id=serve.client_id, shared_group=serve.shared_group, ca_file=self.config.broker.ca_file)
        link.start()
        stack.callback(link.stop)
        ingest = Ingest()
        self._ingest_hooks(ingest)
        return FleetServer(link, ingest, inactivity_s=serve.inactivity_seconds)

    def _supervise(self, stack: ExitStack, broker: BrokerURL, stop: threading.Event) -> None:
        """Start the worker processes on one shared subscription and keep them running until *stop*."""
        from fleet.dynsec import FLEET_CLIENT_ID
        from fleet.workers import WorkerPool, worker_launch

        serve = self.config.serve
        group = serve.shared_group or FLEET_CLIENT_ID
        arguments, environment = worker_launch(self.config, broker, group)
        pool = WorkerPool(serve.workers, arguments, environment, serve.client_id)
        stack.callback(pool.stop)
        try:
            pool.start()
        except RuntimeError as exc:
            raise FleetStartError(str(exc)) from None
        self.say(f"fleet serving: {serve.workers} workers on shared group {group!r}, broker {broker.masked()}, data in {self.config.data_dir}{self._config_file()}")
        pool.supervise(stop)

    def _config_file(self) -> str:
        return f", config {self.config.source}" if self.config.source else ""

    def _announce_ready(self) -> bool:
        """A worker tells its supervisor, which says "fleet serving" once they all are."""
        from fleet.workers import announce_ready

        return self.role == "worker" and announce_ready()


def serve(config: FleetConfig, worker: bool = False) -> int:
    """``fleet serve``: run until SIGTERM or SIGINT; the process's exit status."""
    from kiosk.contract.logs import setup_logging

    setup_logging(config.serve.log_format, config.serve.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        FleetApp(config, worker=worker).run(stop)
    except FleetStartError as exc:
        _to_stderr(f"error: {exc}")
        return USAGE_ERROR
    return 0
