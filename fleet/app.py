"""The fleet's composition root: the parts of ``fleet serve`` wired from one FleetConfig.

``fleet serve`` parses its options, loads the config (``fleet.settings.load``: the file, the
environment, its options) and calls ``serve``. Everything it starts is built here, in the
order it must start, and stopped in reverse:

    store (migrated) → broker (the managed Mosquitto, or a link to yours)
      → services (once per fleet): the help announcer, the escalation worker with its ticker
        and sender lanes, the escalation's response feed (it reads newly stored responses
        from the store's tail, the last 10 minutes' first), the web server, survey rollouts
      → ingest: this process's link + Ingest + FleetServer, or with workers = N, N such
        processes on one shared subscription (``fleet.workers``). Ingest runs none of the
        escalation's work: in the single process its one hook wakes the feed.

A process has one of three roles. ``single``: everything in one process. ``supervisor``
(workers > 1): store, broker and services, and the worker processes it keeps running.
``worker`` (``fleet serve --worker``, started by a supervisor): ingest only, on the broker the
supervisor hands it.

Features plug in at two places: ``_ingest_hooks`` (every process that ingests) and
``_services`` (once per fleet). docs/escalation.md ("Wiring: what runs where") has the table.
With no ``[[rules]]`` in the config the escalation is off: no feed, no ticker, no sender lanes;
the announcer and the web pages still run, so alerts made under an earlier config can still be
acknowledged and their kiosks told. Nothing here parses options or
prints usage: a problem a person can fix is a ``FleetStartError`` whose message has the fix.
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
    from fleet.escalation.announcer import HelpAnnouncer
    from fleet.escalation.feed import ResponseFeed
    from fleet.escalation.service import Escalation
    from fleet.escalation.worker import EscalationWorker
    from fleet.ingest import Ingest
    from fleet.link import BrokerURL

log = logging.getLogger(__name__)

Role = Literal["single", "supervisor", "worker"]

USAGE_ERROR = 2
#: The ack-link key's file in the data directory: the escalation signs with it, the web checks.
KEY_FILE = "ack-link.key"


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
        self.announcer: HelpAnnouncer | None = None
        self.escalation: Escalation | None = None
        self.escalation_worker: EscalationWorker | None = None
        self.feed: ResponseFeed | None = None
        self.web_port: int | None = None  # the port the web pages listen on, once started
        self._key: bytes | None = None

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
        supervisor of ``--workers N`` (never in a worker). Each is started here and its stop
        pushed onto *stack*: the help announcer (its own MQTT link, as the fleet's login), the
        escalation worker with the ticker and its response feed, the web pages, and the survey
        rollouts (their own link too)."""
        from fleet.escalation.announcer import HelpAnnouncer, announcer_client_id

        serve = self.config.serve
        self.announcer = HelpAnnouncer(broker, announcer_client_id(serve.client_id), ca_file=self.config.broker.ca_file).start()
        stack.callback(self.announcer.stop)
        escalation = self._escalation(stack)
        if escalation is not None:
            self._feed(stack, escalation)
        self._web(stack)
        self._survey_service(stack, broker)

    def _feed(self, stack: ExitStack, escalation: Escalation) -> None:
        """The escalation's response feed: reads newly stored responses from the store's tail
        (every ingest process's), the last 10 minutes' first, so a fleet killed between a commit
        and the feed's read still raises their alerts. The single process wakes it after each
        commit; a supervisor's workers are other processes, so there it polls often."""
        from fleet.escalation.feed import ResponseFeed

        feed = ResponseFeed(escalation, poll_seconds=0.25 if self.role == "single" else 0.05)
        if not feed.needed:
            return  # offline and health rules only: the tick reads the registry
        self.feed = feed.start()
        stack.callback(feed.stop)

    def _survey_service(self, stack: ExitStack, broker: BrokerURL) -> None:
        """Survey rollouts (``fleet.surveys.service``): publishes the signed assignments that
        ``fleet survey push`` stored, on a link of its own; it holds no signing key."""
        from fleet.surveys.service import RolloutService, SurveyPublisher

        publisher = SurveyPublisher(broker, self.config.broker.ca_file)
        service = RolloutService(publisher).start()
        stack.callback(service.stop)

    def _ingest_hooks(self, stack: ExitStack, ingest: Ingest) -> None:
        """Post-commit hooks on this process's ingest; each gets only the responses newly
        stored (``fleet.ingest``'s registry). Every process that ingests runs this: the single
        one and each worker. The escalation's only one wakes its response feed, in the single
        process (a worker's commits are read by the supervisor's feed when it polls)."""
        feed = self.feed
        if feed is not None:
            ingest.registry.add_hook("escalation-feed", lambda rows: feed.wake())

    def _escalation(self, stack: ExitStack) -> Escalation | None:
        """The fleet's Escalation and its worker (the ticker and the sender lanes), once per
        fleet (None: no rules, escalation off)."""
        if not self.config.escalation.rules:
            log.info("escalation off: the config has no [[rules]] (docs/escalation.md)")
            return None
        from fleet.escalation.service import Escalation
        from fleet.escalation.worker import EscalationWorker

        config = self.config.escalation
        key = self._signing_key()
        escalation = Escalation(config, key, wake=self._wake_all, callback_link=self._callback_link(key), purges=[self._purge_callbacks], callback_roles=self.config.web.callback_roles)
        worker = EscalationWorker(escalation, config.notifications, lanes=config.notifications.senders)
        worker.start()
        stack.callback(worker.stop)
        self.escalation, self.escalation_worker = escalation, worker
        return escalation

    def _signing_key(self) -> bytes:
        """The ack-link key, shared by the escalation (it signs) and the web (it checks); the
        supervisor makes it before its workers start, and they read the same file."""
        from fleet.escalation import tokens

        if self._key is None:
            self._key = tokens.load_or_create_key(self.config.data_dir / KEY_FILE)
        return self._key

    def _callback_link(self, key: bytes):  # type: ignore[no-untyped-def]
        """The kiosk's call-back QR link for an alert, or None when the web pages are off."""
        web = self.config.web
        if not web.port:
            return None
        from fleet.escalation import tokens
        from fleet.web.callbacks import callback_token

        return lambda alert_id, now: tokens.link(web.public_url, callback_token(key, alert_id, now, web.callback_valid_minutes), "/callback")

    def _purge_callbacks(self, now: float) -> int:
        from fleet.web.callbacks import purge

        return purge(self.config.escalation, now)

    def _wake_all(self) -> None:
        """Something was written for the notifier and maybe for a kiosk: both look now."""
        if self.escalation_worker is not None:
            self.escalation_worker.wake()
        if self.announcer is not None:
            self.announcer.wake()

    def _web(self, stack: ExitStack) -> None:
        """The web pages (acknowledge links, call-back form) from [web]; port 0: none."""
        web = self.config.web
        if not web.port:
            log.info("web pages off ([web] port = 0 / --http-port 0)")
            return
        from fleet.web.app import create_app
        from fleet.web.server import WebServer, WebServerError

        announcer = self.announcer
        app = create_app(web, self.config.escalation, self._signing_key(), on_acknowledged=lambda row: announcer.wake() if announcer else None, wake=self._wake_all)
        server = WebServer(app, web.host, web.port, trusted_proxies=web.trusted_proxies)
        try:
            self.web_port = server.start()
        except WebServerError as exc:
            raise FleetStartError(str(exc)) from None
        stack.callback(server.stop)

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
        self._ingest_hooks(stack, ingest)
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
