"""The ``fleet`` command: run the server, provision and revoke kiosks, export answers, load-test.

Errors a person can fix print what is wrong and how to fix it, and exit with status 2.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click

from fleet import __version__
from fleet.config import FleetConfigError, default_data_dir, loopback_problem, parse_time, public_broker_url
from fleet.dynsec import FLEET_CLIENT_ID
from fleet.workers import announce_ready

USAGE_ERROR = 2


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(USAGE_ERROR)


data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="NABIZ_FLEET_DATA", help="Fleet data directory (default: systemd's StateDirectory, /var/lib/nabiz-fleet as root, else ~/.local/share/nabiz-fleet)."
)
db_option = click.option("--db", "db_url", envvar="NABIZ_FLEET_DB", help="Database URL: sqlite:////ABSOLUTE/PATH or sqlite:///RELATIVE (default: fleet.sqlite3 in the data directory) or postgresql://USER@HOST/DB.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleet")
def main() -> None:
    """Nabız fleet server: kiosks' answers stored once, kiosks provisioned and watched."""
    # The store holds password hashes and customers' answers: nothing the fleet writes is world-readable.
    os.umask(0o027)


@contextmanager
def open_store(data_dir: Path | None, db_url: str | None) -> Iterator[Path]:
    from fleet.store import StoreError, close_database, default_url, open_database

    # Absolute, so the store and broker files it names are the same whatever the working directory.
    directory = (data_dir or default_data_dir()).absolute()
    if os.geteuid() == 0 and directory.exists() and directory.stat().st_uid != 0:
        owner = directory.owner()
        click.echo(f"warning: running as root in {directory}, which belongs to {owner}: files made now will be root's and the service cannot read them\n  fix: sudo -u {owner} NABIZ_FLEET_DATA={directory} fleet ...", err=True)
    try:
        open_database(db_url or default_url(directory))
    except StoreError as exc:
        fail(str(exc))
    try:
        yield directory
    finally:
        close_database()


# --- serve --------------------------------------------------------------------------------


@main.command()
@data_dir_option
@db_option
@click.option("--broker", "broker_url", envvar="NABIZ_FLEET_BROKER", help="Use this broker (mqtt[s]://fleet:PASSWORD@HOST:PORT) instead of starting one. Give it in $NABIZ_FLEET_BROKER: a password on the command line is visible to every local user.")
@click.option("--bind", default="0.0.0.0", show_default=True, help="Managed broker: address to listen on.")
@click.option("--port", default=1883, show_default=True, type=click.IntRange(1, 65535), help="Managed broker: port to listen on.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), help="Managed broker: also listen with TLS, with this certificate (PEM).")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), help="Managed broker: the TLS certificate's private key (PEM).")
@click.option("--tls-port", default=8883, show_default=True, type=click.IntRange(1, 65535), help="Managed broker: port of the TLS listener.")
@click.option("--tls-bind", default="0.0.0.0", show_default=True, help="Managed broker: address of the TLS listener (with --bind 127.0.0.1, kiosks reach it over TLS only).")
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True), help="With --broker mqtts://...: the CA that signed that broker's certificate (default: the system's CAs).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Ingest processes on this machine, on one shared subscription (more cores, more throughput).")
@click.option("--shared-group", help="Share subscriptions with other fleet workers under this group name.")
@click.option("--client-id", default=FLEET_CLIENT_ID, show_default=True, help="MQTT client id (unique per fleet worker; with --workers N, the workers are ID-1 … ID-N).")
@click.option("--inactivity", default=180.0, show_default=True, type=click.FloatRange(min=5), help="Seconds without a message before a device counts as silent.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), default="INFO", show_default=True)
def serve(data_dir, db_url, broker_url, bind, port, tls_cert, tls_key, tls_port, tls_bind, ca_file, workers, shared_group, client_id, inactivity, log_format, log_level) -> None:  # type: ignore[no-untyped-def]
    """Receive, validate and store kiosks' answers; acknowledge what is stored."""
    from fleet import devices
    from fleet.broker import FLEET_USER, BrokerError, BrokerFiles, ManagedBroker, TlsListener
    from fleet.ingest import Ingest
    from fleet.link import BrokerURL, FleetLink, LinkError
    from fleet.server import FleetServer
    from kiosk.contract.logs import setup_logging

    if bool(tls_cert) != bool(tls_key):
        fail("--tls-cert and --tls-key go together\n  fix: give both PEM files, or neither")
    if ca_file and not (broker_url or "").startswith("mqtts://"):
        fail("--ca-file is for the fleet's own connection to an external broker over TLS\n  fix: use it with --broker mqtts://...; kiosks get their CA file with `fleet device add --ca-file`")
    if tls_cert and broker_url:
        fail("--tls-cert configures the managed broker, but --broker names another one\n  fix: configure TLS on that broker, and drop --tls-cert/--tls-key")
    setup_logging(log_format, log_level)
    if broker_url and "@" in broker_url and click.get_current_context().get_parameter_source("broker_url") == click.core.ParameterSource.COMMANDLINE:
        click.echo("warning: a password in --broker is visible to every local user (ps)\n  fix: give the URL in $NABIZ_FLEET_BROKER instead (/etc/nabiz/fleet.env under systemd)", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open_store(data_dir, db_url) as directory:
        taken = devices.client_id_problem(client_id, workers)
        if taken:
            fail(taken)
        broker = None
        try:
            if broker_url:
                target = BrokerURL.parse(broker_url)
            else:
                files = BrokerFiles(directory / "broker")
                tls = TlsListener(tls_port, tls_cert, tls_key, tls_bind) if tls_cert else None
                broker = ManagedBroker(files, bind, port, tls=tls)
                broker.start(accounts=devices.broker_accounts())
                target = BrokerURL(broker.connect_host, port, FLEET_USER, files.fleet_password(), False)
            if workers == 1:
                link = FleetLink(target, client_id=client_id, shared_group=shared_group, ca_file=ca_file)
                link.start()
        except (BrokerError, LinkError) as exc:
            if broker:
                broker.stop()
            fail(str(exc))
        try:
            if workers > 1:
                serve_with_workers(workers, target, directory, db_url, ca_file, shared_group or FLEET_CLIENT_ID, client_id, inactivity, log_format, log_level, stop)
            else:
                if not announce_ready():  # a worker's parent says "fleet serving" once they all are
                    click.echo(f"fleet serving: broker {target.masked()}, data in {directory}", err=True)
                try:
                    FleetServer(link, Ingest(), inactivity_s=inactivity).run(stop)
                finally:
                    link.stop()
        finally:
            if broker:
                broker.stop()


def serve_with_workers(count, target, directory, db_url, ca_file, group, client_id, inactivity, log_format, log_level, stop) -> None:  # type: ignore[no-untyped-def]
    """Start *count* worker processes on one shared subscription and keep them running."""
    from fleet.workers import WorkerPool

    environment = {**os.environ, "NABIZ_FLEET_BROKER": target.with_password()}
    if db_url:
        environment["NABIZ_FLEET_DB"] = db_url
    arguments = ["--data-dir", str(directory), "--shared-group", group, "--inactivity", str(inactivity), "--log-format", log_format, "--log-level", log_level]
    if ca_file:
        arguments += ["--ca-file", ca_file]
    pool = WorkerPool(count, arguments, environment, client_id)
    try:
        pool.start()
    except RuntimeError as exc:
        pool.stop()
        fail(str(exc))
    click.echo(f"fleet serving: {count} workers on shared group {group!r}, broker {target.masked()}, data in {directory}", err=True)
    try:
        pool.supervise(stop)
    finally:
        pool.stop()


# --- devices ------------------------------------------------------------------------------


@main.group()
def device() -> None:
    """Provision, list and revoke kiosks."""


#: Where `fleet device ...` sends account changes when the broker is one you run (it must load
#: the fleet's dynamic-security file, which has this login): mqtt[s]://fleet-admin:PASSWORD@HOST:PORT
ADMIN_ENV = "NABIZ_FLEET_BROKER_ADMIN"


def _apply_to_broker(directory: Path, put: dict[str, str] | None = None, remove: list[str] | None = None) -> tuple[str, bool]:
    """Give the broker the registry's change: (what happened, whether it did)."""
    from fleet import devices
    from fleet.broker import BrokerError, BrokerFiles

    files = BrokerFiles(directory / "broker")
    try:
        if devices.sync_broker(files, put, remove, admin=_external_admin()):
            return "the running broker applied it", True
    except BrokerError as exc:
        return f"but the running broker did NOT apply it: {exc}", False
    external = f"; a broker you run takes it from {ADMIN_ENV}=mqtt://fleet-admin:PASSWORD@HOST:PORT (docs/fleet.md)"
    return f"no managed broker runs now: `fleet serve` applies it when it starts one{external}", True


def _external_admin():  # type: ignore[no-untyped-def]
    from fleet.dynsec import ADMIN_USER, AdminLogin
    from fleet.link import BrokerURL, LinkError

    url = os.environ.get(ADMIN_ENV)
    if not url:
        return None
    try:
        parsed = BrokerURL.parse(url)
    except LinkError as exc:
        fail(f"{ADMIN_ENV}: {exc}")
    if parsed.username not in (None, ADMIN_USER) or not parsed.password:
        fail(f"{ADMIN_ENV} must log in as {ADMIN_USER} with its password\n  fix: {ADMIN_ENV}=mqtt://{ADMIN_USER}:$(cat DATA_DIR/broker/admin.secret)@HOST:PORT")
    return AdminLogin(parsed.host, parsed.port, parsed.password, parsed.tls)


def _kiosk_broker_url(directory: Path, broker_url: str | None, public_host: str | None, ca_file: str | None, allow_loopback: bool) -> str:
    """What the kiosk config says to dial; a loopback address only when asked for."""
    url = broker_url or public_broker_url(directory, tls=bool(ca_file), host=public_host)
    problem = loopback_problem(url, allow_loopback)
    if problem:
        default = "" if broker_url or public_host else " (this machine's name, as getfqdn() gives it)"
        fail(
            f"{problem}{default}\n"
            "  fix: give the address kiosks reach this fleet at: --broker-url mqtt://fleet.example.com:1883 "
            f"(or set --public-host / NABIZ_FLEET_PUBLIC_HOST=fleet.example.com once); for a kiosk on this very machine (a demo), add --allow-loopback"
        )
    return url


def _writable_out(out: Path | None, device_id: str) -> Path:
    """Where the kiosk config goes, checked before the registry changes: a password made and
    then not written anywhere would lock the kiosk out."""
    path = (out or Path(f"{device_id}.kiosk.toml")).absolute()
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"cannot write the kiosk config {path}\n  fix: run from a folder this user may write, or give --out FILE")
    return path


def _write_config(path: Path, text: str, password: str) -> None:
    from fleet import devices

    try:
        devices.write_kiosk_config(path, text)
    except OSError as exc:
        # The registry already has the new login: the password must reach a person somehow.
        click.echo(f"error: cannot write {path}: {exc.strerror}\n  the kiosk's new password (shown once, keep it private): {password}", err=True)
        sys.exit(1)


kiosk_address_options = [
    click.option("--broker-url", help="Broker address the kiosk dials (default: mqtt://<public host>:<managed port>, mqtts:// and the TLS port with --ca-file)."),
    click.option("--public-host", envvar="NABIZ_FLEET_PUBLIC_HOST", help="The name or address kiosks reach this fleet at, for the default --broker-url (default: this machine's name)."),
    click.option("--allow-loopback", is_flag=True, help="Let the config name localhost/127.0.0.1: only for a kiosk on this same machine (a demo, a test)."),
    click.option("--ca-file", help="Path on the kiosk of the CA certificate for mqtts://."),
]


def kiosk_address(command):  # type: ignore[no-untyped-def]
    for option in reversed(kiosk_address_options):
        command = option(command)
    return command


@device.command("add")
@click.argument("device_id")
@click.option("--site", required=True, help="Where the kiosk stands, e.g. 'Ankara Çankaya 2'.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Kiosk config file to write (default: <device>.kiosk.toml here).")
@kiosk_address
@data_dir_option
@db_option
def device_add(device_id, site, out, broker_url, public_host, allow_loopback, ca_file, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Register a kiosk and write its config (with its own broker login) for the technician."""
    from fleet import devices

    path = _writable_out(out, device_id)
    with open_store(data_dir, db_url) as directory:
        url = _kiosk_broker_url(directory, broker_url, public_host, ca_file, allow_loopback)
        try:
            password = devices.add_device(device_id, site)
        except devices.RegistryError as exc:
            fail(str(exc))
        applied, ok = _apply_to_broker(directory, put={device_id: password})
        _write_config(path, devices.kiosk_config(device_id, site, url, password, ca_file), password)
    click.echo(f"added {device_id} at {site}; {applied}", err=not ok)
    click.echo(f"kiosk config: {path}\n  on the Pi: sudo sh hardware/setup-pi.sh --config {path.name}  (it holds the kiosk's password: keep it private)")
    if not ok:
        sys.exit(1)


@device.command("credentials")
@click.argument("device_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Kiosk config file to write (default: <device>.kiosk.toml here).")
@kiosk_address
@data_dir_option
@db_option
def device_credentials(device_id, out, broker_url, public_host, allow_loopback, ca_file, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Give a kiosk a new password (the old one stops working) and write its config again."""
    from fleet import devices
    from fleet.store import Device

    path = _writable_out(out, device_id)
    with open_store(data_dir, db_url) as directory:
        url = _kiosk_broker_url(directory, broker_url, public_host, ca_file, allow_loopback)
        try:
            password = devices.new_credentials(device_id)
        except devices.RegistryError as exc:
            fail(str(exc))
        site = Device.get_by_id(device_id).site
        applied, ok = _apply_to_broker(directory, put={device_id: password})
        _write_config(path, devices.kiosk_config(device_id, site, url, password, ca_file), password)
    click.echo(f"new credentials for {device_id}; {applied}; kiosk config: {path}", err=not ok)
    if not ok:
        sys.exit(1)


@device.command("revoke")
@click.argument("device_id")
@data_dir_option
@db_option
def device_revoke(device_id, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Take a kiosk's broker access away now (a stolen or retired device)."""
    from fleet import devices

    with open_store(data_dir, db_url) as directory:
        try:
            newly = devices.revoke_device(device_id)
        except devices.RegistryError as exc:
            fail(str(exc))
        applied, ok = _apply_to_broker(directory, remove=[device_id])
    click.echo(f"{'revoked' if newly else 'already revoked:'} {device_id}; {applied}", err=not ok)
    if not ok:
        sys.exit(1)


@device.command("list")
@click.option("--site", help="Only this site.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--inactivity", default=180.0, show_default=True, help="Seconds without a message before a device counts as silent.")
@data_dir_option
@db_option
def device_list(site, fmt, inactivity, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Every kiosk with its state, last message, backlog and versions."""
    from fleet import devices, identity
    from fleet.export import iso

    with open_store(data_dir, db_url):
        views = devices.list_devices(inactivity_s=inactivity, site=site)
    for view in views:
        if view.state == "id-conflict":
            click.echo(
                f"warning: {view.device_id}: {len(view.id_conflict_boot_ids)} kiosks use this one device id (boot ids {', '.join(view.id_conflict_boot_ids)}), "
                "knock each other off the broker and merge their answers\n"
                f"  fix: {identity.fix(view.device_id)}",
                err=True,
            )
    if fmt == "json":
        for view in views:
            click.echo(json.dumps(view.as_dict(), ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("device", "site", "state", "last seen (UTC)", "backlog", "software", "survey", "temp °C", "rejected"):
        table.add_column(column)
    colours = {"online": "green", "silent": "yellow", "offline": "red", "revoked": "magenta", "id-conflict": "bold red"}
    for v in views:
        state = f"[{colours.get(v.state, 'white')}]{v.state}[/]"
        table.add_row(v.device_id, v.site, state, iso(v.last_seen) or "never", "" if v.backlog is None else str(v.backlog), v.software, v.survey, "" if v.temperature_c is None else f"{v.temperature_c:.0f}", str(v.rejected_messages or ""))
    Console(width=200).print(table)
    click.echo(f"{len(views)} device(s)")


# --- responses ----------------------------------------------------------------------------


@main.command()
@click.option("--since", help="From this time: 2026-11-24, 2026-11-24T09:30, or a span back like 12h or 7d.")
@click.option("--until", help="Up to (not including) this time.")
@click.option("--site", help="Only this site.")
@click.option("--device", "device_id", help="Only this device.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@data_dir_option
@db_option
def responses(since, until, site, device_id, fmt, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Stored responses, oldest first, as JSON lines or CSV on standard output."""
    from fleet import export

    try:
        start = parse_time(since) if since else None
        end = parse_time(until) if until else None
    except FleetConfigError as exc:
        fail(str(exc))
    with open_store(data_dir, db_url):
        rows = export.Tally(export.select(since=start, until=end, site=site, device=device_id))
        writer = export.write_csv if fmt == "csv" else export.write_jsonl
        count = writer(iter(rows), sys.stdout)
    click.echo(rows.summary(count), err=True)


# --- simulate -----------------------------------------------------------------------------


@main.command()
@click.option("--devices", "device_count", type=click.IntRange(1, 100_000), required=True, help="Simulated kiosks.")
@click.option("--responses", "per_device", type=click.IntRange(0), required=True, help="Responses each kiosk makes.")
@click.option("--rate", type=click.FloatRange(min=0), default=0.0, help="Responses per second over the whole fleet (0: as fast as possible).")
@click.option("--processes", type=click.IntRange(1, 64), default=None, help="Worker processes (default: one per CPU).")
@click.option("--backlog", is_flag=True, help="Make every response first, then connect: a fleet back from an outage.")
@click.option("--negative", type=click.FloatRange(0, 1), default=0.1, show_default=True, help="Share of responses with a negative answer.")
@click.option("--prefix", default="sim", show_default=True, help="Device ids are PREFIX-0001, PREFIX-0002, ...")
@click.option("--site", default="Simulation", show_default=True)
@click.option("--broker-url", help="Broker the kiosks dial (default: this fleet's managed broker on localhost).")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True, help="Give up waiting for acknowledgements after this long.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (for benchmarks).")
@click.option("--cleanup", is_flag=True, help="Afterwards, remove the simulated devices and every response they sent.")
@data_dir_option
@db_option
def simulate(device_count, per_device, rate, processes, backlog, negative, prefix, site, broker_url, timeout, as_json, cleanup, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Many simulated kiosks on real MQTT connections: capacity planning and benchmarks."""
    from fleet import devices
    from fleet.broker import BrokerFiles
    from fleet.simulate import SimulationPlan, run_simulation

    ids = [f"{prefix}-{n:04d}" for n in range(1, device_count + 1)]
    with open_store(data_dir, db_url) as directory:
        try:
            files = BrokerFiles(directory / "broker")
            passwords = {device_id: files.simulation_password(device_id) for device_id in ids}
            changed = devices.add_many(ids, site, passwords)
        except devices.RegistryError as exc:
            fail(str(exc))
        applied, ok = _apply_to_broker(directory, put=changed)
        if not ok:
            fail(f"the simulated kiosks are registered {applied}")
        url = broker_url or public_broker_url(directory, host="127.0.0.1")
    plan = SimulationPlan(broker=url, passwords=passwords, per_device=per_device, rate=rate, backlog=backlog, negative_share=negative, timeout=timeout)
    try:
        result = run_simulation(plan, processes=processes, progress=not as_json)
    finally:  # also when interrupted: the simulated kiosks' logins must not outlive the run
        if cleanup:
            with open_store(data_dir, db_url) as directory:
                removed, responses = devices.remove_devices(ids)
                _apply_to_broker(directory, remove=ids)
            click.echo(f"removed {removed} simulated devices and their {responses} responses", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(result.summary())
    if result.acked < result.made:
        sys.exit(1)
