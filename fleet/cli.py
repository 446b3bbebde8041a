"""The ``fleet`` command: run the server, provision and revoke kiosks, export answers, load-test.

Errors a person can fix print what is wrong and how to fix it, and exit with status 2.
"""

from __future__ import annotations

import json
import os
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
import msgspec

from fleet import __version__, settings
from fleet.config import FleetConfigError, loopback_problem, ownership_warning, parse_time, public_broker_url
from fleet.sites import UnknownSite, check_site
from fleet.validate import ConfigProblems
from fleet.web.settings import WebSettings

USAGE_ERROR = 2


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(USAGE_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleet")
def main() -> None:
    """Nabız fleet server: kiosks' answers stored once, kiosks provisioned and watched."""
    # The store holds password hashes and customers' answers: nothing the fleet writes is world-readable.
    os.umask(0o027)


# --- settings: fleet.toml, the environment, the command line --------------------------------

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), envvar=settings.CONFIG_ENV,
    help=f"The fleet's config file (default: fleet.toml in the data directory, if there is one; ${settings.CONFIG_ENV}).",
)
data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Fleet data directory (default: systemd's StateDirectory, /var/lib/nabiz-fleet as root, else ~/.local/share/nabiz-fleet; $NABIZ_FLEET_DATA)."
)
db_option = click.option("--db", "db_url", help="Database URL: sqlite:////ABSOLUTE/PATH or sqlite:///RELATIVE (default: fleet.sqlite3 in the data directory) or postgresql://USER@HOST/DB ($NABIZ_FLEET_DB).")


def settings_options(command):  # type: ignore[no-untyped-def]
    """--config, --data-dir and --db: which fleet a command works on."""
    for option in (db_option, data_dir_option, config_option):
        command = option(command)
    return command


#: Command-line options that set a config key: parameter name → (section, key, option).
OPTION_KEYS = {
    "data_dir": ("store", "data_dir", "--data-dir"),
    "db_url": ("store", "url", "--db"),
    "broker": ("broker", "url", "--broker"),
    "bind": ("broker", "bind", "--bind"),
    "port": ("broker", "port", "--port"),
    "tls_cert": ("broker", "tls_cert", "--tls-cert"),
    "tls_key": ("broker", "tls_key", "--tls-key"),
    "tls_port": ("broker", "tls_port", "--tls-port"),
    "tls_bind": ("broker", "tls_bind", "--tls-bind"),
    "ca_file": ("broker", "ca_file", "--ca-file"),
    "workers": ("serve", "workers", "--workers"),
    "shared_group": ("serve", "shared_group", "--shared-group"),
    "client_id": ("serve", "client_id", "--client-id"),
    "inactivity": ("serve", "inactivity_seconds", "--inactivity"),
    "log_format": ("serve", "log_format", "--log-format"),
    "log_level": ("serve", "log_level", "--log-level"),
    "http_port": ("web", "port", "--http-port"),
    "public_host": ("kiosks", "public_host", "--public-host"),
    "kiosk_broker_url": ("kiosks", "broker_url", "--broker-url"),
    "kiosk_ca_file": ("kiosks", "ca_file", "--ca-file"),
}


def load_settings(config_path: str | None, *extra: settings.Override, **options: Any) -> settings.FleetConfig:
    """The effective config: the file (or none), the environment, then the *options* given
    here (None: not given) and *extra*. Every problem at once, exit 2."""
    overrides = [settings.Override(*OPTION_KEYS[name][:2], value, OPTION_KEYS[name][2]) for name, value in options.items() if value is not None]
    try:
        return settings.load(config_path, [*overrides, *extra])
    except ConfigProblems as exc:
        fail(str(exc))


def _default(section: str, key: str) -> str:
    """A key's built-in default, for --help (the option itself defaults to None: the file may set it)."""
    value = getattr(settings.SECTIONS[section](), key)
    return str(value)


def _choices(section: str, key: str) -> click.Choice:
    field = next(f for f in msgspec.structs.fields(settings.SECTIONS[section]) if f.name == key)
    return click.Choice(typing.get_args(field.type))


@main.group("config")
def config_group() -> None:
    """Check and show the fleet's config file (fleet.toml)."""


@config_group.command("check")
@click.argument("config_file", type=click.Path())
def config_check(config_file) -> None:  # type: ignore[no-untyped-def]
    """Check FILE as `fleet serve --config FILE` would: every problem at once (exit 2), or a summary.

    Run it as the fleet's user: files it cannot read, the fleet cannot use."""
    try:
        config = settings.load_file(config_file)
    except ConfigProblems as exc:
        fail(str(exc))
    warning = settings.exposure_warning(Path(config_file), config)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    click.echo("\n".join(settings.summary(config)))


@config_group.command("show")
@settings_options
def config_show(config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """The effective config (defaults, the file, the environment), secrets masked, as TOML."""
    click.echo(settings.show_text(load_settings(config_path, data_dir=data_dir, db_url=db_url)), nl=False)


@contextmanager
def open_store(config: settings.FleetConfig, create: bool = False) -> Iterator[Path]:
    """The store *config* names, open (and migrated) for the command; yields the data directory.

    Only commands that start a fleet's records (``device add``, ``survey add``, ``simulate``;
    ``fleet serve`` opens its own) pass *create*: every other one refuses a store that does not
    exist, naming where it looked, instead of making an empty one and answering "nothing yet"
    about the wrong directory."""
    from fleet.store import StoreError, close_database, missing_store, open_database

    missing = None if create else missing_store(config.db_url)
    if missing is not None:
        fail(
            f"no fleet store at {missing}: this command reads a fleet's records and there are none in {config.data_dir}\n"
            "  fix: point at the fleet's data directory: --data-dir DIR, or NABIZ_FLEET_DATA=DIR, or [store] data_dir in fleet.toml "
            "(--config FILE; or --db URL / [store] url for the database itself). "
            "`fleet serve`, `fleet device add` and `fleet survey add` start a new store"
        )
    warning = ownership_warning(config.data_dir)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    try:
        open_database(config.db_url)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield config.data_dir
    finally:
        close_database()


# --- serve --------------------------------------------------------------------------------


@main.command()
@settings_options
@click.option("--broker", help="Use this broker (mqtt[s]://fleet:PASSWORD@HOST:PORT) instead of starting one. Give it in $NABIZ_FLEET_BROKER or [broker] url: a password on the command line is visible to every local user.")
@click.option("--bind", show_default=_default("broker", "bind"), help="Managed broker: address to listen on.")
@click.option("--port", type=int, show_default=_default("broker", "port"), help="Managed broker: port to listen on.")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="Managed broker: also listen with TLS, with this certificate (PEM).")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="Managed broker: the TLS certificate's private key (PEM).")
@click.option("--tls-port", type=int, show_default=_default("broker", "tls_port"), help="Managed broker: port of the TLS listener.")
@click.option("--tls-bind", show_default=_default("broker", "tls_bind"), help="Managed broker: address of the TLS listener (with --bind 127.0.0.1, kiosks reach it over TLS only).")
@click.option("--ca-file", type=click.Path(dir_okay=False), help="With --broker mqtts://...: the CA that signed that broker's certificate (default: the system's CAs).")
@click.option("--workers", type=int, show_default=_default("serve", "workers"), help="Ingest processes on this machine, on one shared subscription (more cores, more throughput).")
@click.option("--shared-group", help="Share subscriptions with other fleet workers under this group name.")
@click.option("--client-id", show_default=_default("serve", "client_id"), help="MQTT client id (unique per fleet worker; with --workers N, the workers are ID-1 … ID-N).")
@click.option("--inactivity", type=float, show_default=_default("serve", "inactivity_seconds"), help="Seconds without a message before a device counts as silent.")
@click.option("--log-format", type=_choices("serve", "log_format"), show_default=_default("serve", "log_format"))
@click.option("--log-level", type=_choices("serve", "log_level"), show_default=_default("serve", "log_level"))
@click.option("--http-port", type=int, show_default=str(WebSettings().port), help="The web pages (acknowledge links, call-back form); 0: none.")
@click.option("--worker", is_flag=True, hidden=True, help="Set by --workers N on the processes it starts: ingest only, on the broker in $NABIZ_FLEET_BROKER.")
def serve(config_path, worker, **options) -> None:  # type: ignore[no-untyped-def]
    """Receive, validate and store kiosks' answers; acknowledge what is stored.

    Every option may also be set in fleet.toml (docs/fleet.md); an option given here wins."""
    from fleet.app import serve as run

    if options["broker"] and "@" in options["broker"]:
        click.echo("warning: a password in --broker is visible to every local user (ps)\n  fix: give the URL in $NABIZ_FLEET_BROKER instead (/etc/nabiz/fleet.env under systemd), or in [broker] url", err=True)
    # A worker's supervisor runs the broker (its listeners are not the worker's to open) and the other workers.
    as_worker = [settings.Override(section, key, value, "--worker") for section, key, value in (("serve", "workers", 1), ("broker", "tls_cert", None), ("broker", "tls_key", None))]
    sys.exit(run(load_settings(config_path, *(as_worker if worker else ()), **options), worker=worker))


# --- devices ------------------------------------------------------------------------------


@main.group()
def device() -> None:
    """Provision, list and revoke kiosks."""


def _apply_to_broker(config: settings.FleetConfig, put: dict[str, str] | None = None, remove: list[str] | None = None) -> tuple[str, bool]:
    """Give the broker the registry's change: (what happened, whether it did)."""
    from fleet import devices
    from fleet.broker import BrokerError, BrokerFiles

    files = BrokerFiles(config.data_dir / "broker")
    try:
        if devices.sync_broker(files, put, remove, admin=_external_admin(config)):
            return "the running broker applied it", True
    except BrokerError as exc:
        return f"but the running broker did NOT apply it: {exc}", False
    external = "; a broker you run takes it through its fleet-admin login: [broker] admin_url or $NABIZ_FLEET_BROKER_ADMIN = mqtt://fleet-admin:PASSWORD@HOST:PORT (docs/fleet.md)"
    return f"no managed broker runs now: `fleet serve` applies it when it starts one{external}", True


def _external_admin(config: settings.FleetConfig):  # type: ignore[no-untyped-def]
    """The fleet-admin login of a broker you run, if the config names one (settings checked its form)."""
    from fleet.dynsec import AdminLogin
    from fleet.link import BrokerURL

    if not config.broker.admin_url:
        return None
    parsed = BrokerURL.parse(config.broker.admin_url)
    return AdminLogin(parsed.host, parsed.port, parsed.password, parsed.tls)


def _kiosk_broker_url(config: settings.FleetConfig, allow_loopback: bool) -> str:
    """What the kiosk config says to dial; a loopback address only when asked for."""
    kiosks = config.kiosks
    url = kiosks.broker_url or public_broker_url(config.data_dir, tls=bool(kiosks.ca_file), host=kiosks.public_host)
    problem = loopback_problem(url, allow_loopback)
    if problem:
        default = "" if kiosks.broker_url or kiosks.public_host else " (this machine's name, as getfqdn() gives it)"
        fail(
            f"{problem}{default}\n"
            "  fix: give the address kiosks reach this fleet at: --broker-url mqtt://fleet.example.com:1883 "
            "(or once: [kiosks] public_host = \"fleet.example.com\" in fleet.toml, or NABIZ_FLEET_PUBLIC_HOST); for a kiosk on this very machine (a demo), add --allow-loopback"
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
    click.option("--broker-url", "kiosk_broker_url", help="Broker address the kiosk dials (default: [kiosks] broker_url, else mqtt://<public host>:<managed port>, mqtts:// and the TLS port with --ca-file)."),
    click.option("--public-host", help="The name or address kiosks reach this fleet at, for the default --broker-url (default: [kiosks] public_host or $NABIZ_FLEET_PUBLIC_HOST, else this machine's name)."),
    click.option("--allow-loopback", is_flag=True, help="Let the config name localhost/127.0.0.1: only for a kiosk on this same machine (a demo, a test)."),
    click.option("--ca-file", "kiosk_ca_file", help="Path on the kiosk of the CA certificate for mqtts:// (default: [kiosks] ca_file)."),
]


def kiosk_address(command):  # type: ignore[no-untyped-def]
    for option in reversed(kiosk_address_options):
        command = option(command)
    return command


def _check_site(config: settings.FleetConfig, site: str, refuse: bool = True) -> None:
    """With [[sites]] in fleet.toml, a kiosk's site must be one of their ids (fleet.sites)."""
    try:
        check_site(site.strip(), config.escalation.sites)
    except UnknownSite as exc:
        if refuse:
            fail(str(exc))
        raise


def _kiosk_config_text(config: settings.FleetConfig, device_id: str, site: str, url: str, password: str) -> str:
    """The kiosk's whole config, with its site's own phone and web page as its [help]."""
    from fleet import devices

    known = config.escalation.site_by_id.get(site)
    phone, qr = (known.fallback_phone or "", known.fallback_qr_url or "") if known else ("", "")
    trusted = kiosk_trusted_keys(config.data_dir)
    return devices.kiosk_config(
        device_id, site, url, password, config.kiosks.ca_file, trusted_keys=trusted, min_seq=kiosk_min_seq(device_id), fallback_phone=phone, fallback_url=qr
    )


@device.command("add")
@click.argument("device_id")
@click.option("--site", required=True, help="Where the kiosk stands, e.g. 'Ankara Çankaya 2'.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Kiosk config file to write (default: <device>.kiosk.toml here).")
@kiosk_address
@settings_options
def device_add(device_id, site, out, allow_loopback, config_path, **options) -> None:  # type: ignore[no-untyped-def]
    """Register a kiosk and write its config (with its own broker login) for the technician."""
    from fleet import devices

    config = load_settings(config_path, **options)
    _check_site(config, site)
    path = _writable_out(out, device_id)
    with open_store(config, create=True):
        url = _kiosk_broker_url(config, allow_loopback)
        try:
            password = devices.add_device(device_id, site)
        except devices.RegistryError as exc:
            fail(str(exc))
        applied, ok = _apply_to_broker(config, put={device_id: password})
        _write_config(path, _kiosk_config_text(config, device_id, site, url, password), password)
        assigned = new_device_survey(config.data_dir, device_id, site)
    click.echo(f"added {device_id} at {site}; {applied}", err=not ok)
    if assigned:
        click.echo(assigned, err=True)
    click.echo(f"kiosk config: {path}\n  on the Pi: sudo sh hardware/setup-pi.sh --config {path.name}  (it holds the kiosk's password: keep it private)")
    if not ok:
        sys.exit(1)


@device.command("credentials")
@click.argument("device_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Kiosk config file to write (default: <device>.kiosk.toml here).")
@kiosk_address
@settings_options
def device_credentials(device_id, out, allow_loopback, config_path, **options) -> None:  # type: ignore[no-untyped-def]
    """Give a kiosk a new password (the old one stops working) and write its config again."""
    from fleet import devices
    from fleet.store import Device

    config = load_settings(config_path, **options)
    path = _writable_out(out, device_id)
    with open_store(config):
        url = _kiosk_broker_url(config, allow_loopback)
        try:
            password = devices.new_credentials(device_id)
        except devices.RegistryError as exc:
            fail(str(exc))
        site = Device.get_by_id(device_id).site
        applied, ok = _apply_to_broker(config, put={device_id: password})
        _write_config(path, _kiosk_config_text(config, device_id, site, url, password), password)
    click.echo(f"new credentials for {device_id}; {applied}; kiosk config: {path}", err=not ok)
    try:
        _check_site(config, site, refuse=False)
    except UnknownSite as exc:
        click.echo(f"warning: {device_id} is registered at {exc}", err=True)
    if not ok:
        sys.exit(1)


@device.command("revoke")
@click.argument("device_id")
@settings_options
def device_revoke(device_id, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Take a kiosk's broker access away now (a stolen or retired device)."""
    from fleet import devices

    config = load_settings(config_path, data_dir=data_dir, db_url=db_url)
    with open_store(config):
        try:
            newly = devices.revoke_device(device_id)
        except devices.RegistryError as exc:
            fail(str(exc))
        applied, ok = _apply_to_broker(config, remove=[device_id])
    click.echo(f"{'revoked' if newly else 'already revoked:'} {device_id}; {applied}", err=not ok)
    if not ok:
        sys.exit(1)


@device.command("list")
@click.option("--site", help="Only this site.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--inactivity", type=float, show_default=_default("serve", "inactivity_seconds"), help="Seconds without a message before a device counts as silent (default: [serve] inactivity_seconds).")
@settings_options
def device_list(site, fmt, config_path, **options) -> None:  # type: ignore[no-untyped-def]
    """Every kiosk with its state, last message, backlog and versions."""
    from fleet import devices, identity
    from fleet.export import iso

    config = load_settings(config_path, **options)
    with open_store(config):
        views = devices.list_devices(inactivity_s=config.serve.inactivity_seconds, site=site)
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
        table.add_row(v.device_id, v.site, state, iso(v.last_seen) or "never", "" if v.backlog is None else str(v.backlog), v.software, _survey_cell(v), "" if v.temperature_c is None else f"{v.temperature_c:.0f}", str(v.rejected_messages or ""))
    Console(width=200).print(table)
    click.echo(f"{len(views)} device(s)")
    if any(v.survey for v in views):
        click.echo("survey: id@version and where it came from (pushed by head office, a technician's file, or the default); ✓ = signature verified on the kiosk")


def _survey_cell(view) -> str:  # type: ignore[no-untyped-def]
    """``exit-default@4 pushed ✓``: the survey on the kiosk's screen, its source, and ✓ when the kiosk verified it."""
    if not view.survey:
        return ""
    return f"{view.survey} {view.survey_source}" + (" ✓" if view.survey_verified else "")


# --- alerts ---------------------------------------------------------------------------------


@main.group()
def alert() -> None:
    """List, show, acknowledge and resolve escalation alerts (docs/escalation.md)."""


def _alert_errors(work):  # type: ignore[no-untyped-def]
    """An alert that moved on exits 1; a wrong id or value exits 2; both say what to do."""
    from fleet.escalation.alerts import AlertError, AlertStateError

    try:
        return work()
    except AlertStateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except AlertError as exc:
        fail(str(exc))


@alert.command("list")
@click.option("--state", type=click.Choice(["open", "acknowledged", "resolved", "expired", "active"]), help="Only alerts in this state (active: open or acknowledged).")
@click.option("--site", help="Only this site.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="json: one object per line.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True, help="At most this many, newest first.")
@settings_options
def alert_list(state, site, fmt, limit, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Alerts, newest first."""
    from fleet.escalation import commands

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
        lines = _alert_errors(lambda: commands.list_alerts(state, site, fmt, limit))
    click.echo("\n".join(lines))


@alert.command("show")
@click.argument("alert_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="json: one object with the alert, its history and its deliveries.")
@settings_options
def alert_show(alert_id, fmt, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Alert ID whole: its responses, who did what and when, and every attempt to notify someone."""
    from fleet.escalation import commands

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
        lines = _alert_errors(lambda: commands.show(alert_id, fmt))
    click.echo("\n".join(lines))


@alert.command("ack")
@click.argument("alert_id", type=int)
@click.option("--by", required=True, help="Who takes it, e.g. \"Ayşe Yılmaz\" (the kiosk shows this name).")
@click.option("--eta", "eta_minutes", type=int, help="Minutes until they are there (the kiosk shows it).")
@click.option("--comment", default="", help="Goes into the audit trail.")
@settings_options
def alert_ack(alert_id, by, eta_minutes, comment, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Acknowledge alert ID: the escalation stops, and a help request's kiosk shows who is coming."""
    from fleet.escalation import commands

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
        click.echo(_alert_errors(lambda: commands.acknowledge(alert_id, by, eta_minutes, comment)))


@alert.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--by", default=lambda: os.environ.get("USER") or "cli", show_default="$USER", help="Who resolves it (the audit trail).")
@click.option("--comment", default="", help="Goes into the audit trail.")
@settings_options
def alert_resolve(alert_id, by, comment, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Resolve alert ID (open or acknowledged): done; a help request's kiosk hears it is closed."""
    from fleet.escalation import commands

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
        click.echo(_alert_errors(lambda: commands.resolve(alert_id, by, comment)))


# --- responses ----------------------------------------------------------------------------


@main.command()
@click.option("--since", help="From this time: 2026-11-24, 2026-11-24T09:30, or a span back like 12h or 7d.")
@click.option("--until", help="Up to (not including) this time.")
@click.option("--site", help="Only this site.")
@click.option("--device", "device_id", help="Only this device.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@settings_options
def responses(since, until, site, device_id, fmt, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Stored responses, oldest first, as JSON lines or CSV on standard output."""
    from fleet import export

    try:
        start = parse_time(since) if since else None
        end = parse_time(until) if until else None
    except FleetConfigError as exc:
        fail(str(exc))
    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
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
@settings_options
def simulate(device_count, per_device, rate, processes, backlog, negative, prefix, site, broker_url, timeout, as_json, cleanup, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Many simulated kiosks on real MQTT connections: capacity planning and benchmarks."""
    from fleet import devices
    from fleet.broker import BrokerFiles
    from fleet.simulate import SimulationPlan, run_simulation

    ids = [f"{prefix}-{n:04d}" for n in range(1, device_count + 1)]
    config = load_settings(config_path, data_dir=data_dir, db_url=db_url)
    with open_store(config, create=True) as directory:
        try:
            files = BrokerFiles(directory / "broker")
            passwords = {device_id: files.simulation_password(device_id) for device_id in ids}
            changed = devices.add_many(ids, site, passwords)
        except devices.RegistryError as exc:
            fail(str(exc))
        applied, ok = _apply_to_broker(config, put=changed)
        if not ok:
            fail(f"the simulated kiosks are registered {applied}")
        url = broker_url or public_broker_url(directory, host="127.0.0.1")
    plan = SimulationPlan(broker=url, passwords=passwords, per_device=per_device, rate=rate, backlog=backlog, negative_share=negative, timeout=timeout)
    try:
        result = run_simulation(plan, processes=processes, progress=not as_json)
    finally:  # also when interrupted: the simulated kiosks' logins must not outlive the run
        if cleanup:
            with open_store(config):
                removed, responses = devices.remove_devices(ids)
                _apply_to_broker(config, remove=ids)
            click.echo(f"removed {removed} simulated devices and their {responses} responses", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(result.summary())
    if result.acked < result.made:
        sys.exit(1)


# --- surveys: fleet.surveys.commands ---------------------------------------------------------

from fleet.surveys.commands import kiosk_min_seq, kiosk_trusted_keys, new_device_survey  # noqa: E402 - they use the helpers above
from fleet.surveys.commands import survey as _survey_group  # noqa: E402

main.add_command(_survey_group)
