"""fleet.toml: the whole fleet's configuration, typed, every mistake reported at once.

One file holds every section. The fleet's own ([store], [broker], [serve], [kiosks]) are
here; the parts keep theirs: [web] is ``fleet.web.settings``, and [[sites]], [[contacts]],
[[policies]], [[rules]], [notifications] are ``fleet.escalation.config``. This module
composes them and lists all their problems together, each with the key path, the fix and
"did you mean" (Mopidy's ConfigSchema is the model), through the one walker in
``fleet.validate``.

Which file: ``--config FILE`` (or ``$NABIZ_FLEET_CONFIG``), else ``<data-dir>/fleet.toml``
when it exists, else none (the defaults). Sources, later ones winning: built-in defaults,
the file, environment variables (``ENVIRONMENT``), command-line options. The CLI hands the
last two over as ``Override``s; ``load`` applies them through the same types, so the bounds
written in the Structs hold whichever source a value came from.

Secrets (passwords in the store's and the brokers' URLs, apprise URLs with their tokens) are
masked by ``shown``, which ``fleet config show`` prints.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import msgspec

from fleet.config import CONFIG_FILE_NAME, default_data_dir
from fleet.devices import DEFAULT_INACTIVITY_S
from fleet.dynsec import ADMIN_USER, FLEET_CLIENT_ID
from fleet.escalation.config import EscalationConfig, EscalationConfigError
from fleet.escalation.config import check_document as check_escalation
from fleet.escalation.config import shown as escalation_shown
from fleet.store import default_url, describe
from fleet.validate import ConfigProblems, Problem, Walker, read_document
from fleet.web.settings import WebSettings
from fleet.web.settings import check_section as check_web

#: The commented example that passes ``fleet config check`` (tests/fleet/test_settings.py).
EXAMPLE_NAME = "docs/fleet.toml.example"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
# MQTT forbids these in a shared subscription's group name; a client id with them is refused by some brokers.
MqttName = Annotated[str, msgspec.Meta(pattern=r"^[^/+#\s]{1,128}$")]


class StoreSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[store]: where the fleet keeps its data. After ``load`` both are set."""

    data_dir: str | None = None  # default: systemd's StateDirectory, /var/lib/nabiz-fleet as root, else ~/.local/share/nabiz-fleet
    url: str | None = None  # default: sqlite:///<data_dir>/fleet.sqlite3; or postgresql://USER[:PASSWORD]@HOST/DB


class BrokerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[broker]: the fleet's own Mosquitto (the default), or one you run (``url``)."""

    # The managed broker's listeners (ignored with url).
    bind: str = "0.0.0.0"
    port: Port = 1883
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_port: Port = 8883
    tls_bind: str = "0.0.0.0"  # with bind = "127.0.0.1", kiosks reach the broker over TLS only
    # A broker you run: where the fleet logs in, the CA of its certificate (mqtts), and the
    # fleet-admin login `fleet device ...` changes its accounts with.
    url: str | None = None
    ca_file: str | None = None
    admin_url: str | None = None

    @property
    def managed(self) -> bool:
        return self.url is None


class ServeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[serve]: how ``fleet serve`` runs."""

    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1  # ingest processes on one shared subscription
    shared_group: MqttName | None = None  # share the subscriptions with fleets on other machines
    client_id: MqttName = FLEET_CLIENT_ID  # with workers = N: ID-1 … ID-N
    inactivity_seconds: Annotated[float, msgspec.Meta(ge=5)] = DEFAULT_INACTIVITY_S
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class KioskSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[kiosks]: what ``fleet device add`` and ``credentials`` write into kiosk configs."""

    public_host: str | None = None  # the name kiosks reach this fleet at (default: this machine's name)
    broker_url: str | None = None  # the whole address instead, e.g. a load balancer's: mqtts://mqtt.example.com:8883
    ca_file: str | None = None  # path ON THE KIOSK of the CA for mqtts://


@dataclass(frozen=True)
class Override:
    """One value from outside the file: *source* is how a person gave it (``--port``, ``$NABIZ_FLEET_DB``)."""

    section: str
    key: str
    value: Any
    source: str

    @property
    def path(self) -> str:
        return f"{self.section} → {self.key}"


class FleetConfig(msgspec.Struct, kw_only=True):
    """Every section, as ``load`` resolved them (``source``: the file read, if any;
    ``applied``: what the environment and the command line changed, in order)."""

    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    broker: BrokerSettings = msgspec.field(default_factory=BrokerSettings)
    serve: ServeSettings = msgspec.field(default_factory=ServeSettings)
    kiosks: KioskSettings = msgspec.field(default_factory=KioskSettings)
    web: WebSettings = msgspec.field(default_factory=WebSettings)
    escalation: EscalationConfig = msgspec.field(default_factory=EscalationConfig)
    source: str | None = None
    applied: tuple[Override, ...] = ()

    @property
    def data_dir(self) -> Path:
        assert self.store.data_dir, "load() sets it"
        return Path(self.store.data_dir)

    @property
    def db_url(self) -> str:
        assert self.store.url, "load() sets it"
        return self.store.url


#: The fleet's own sections, each with its Struct; [web] and the escalation's are their parts'.
SECTIONS: dict[str, type[msgspec.Struct]] = {"store": StoreSettings, "broker": BrokerSettings, "serve": ServeSettings, "kiosks": KioskSettings}
OTHER_SECTIONS = (*SECTIONS, "web")

#: Paths read on this machine: relative ones are relative to the file that gives them.
LOCAL_PATHS = {("store", "data_dir"), ("broker", "tls_cert"), ("broker", "tls_key"), ("broker", "ca_file")}

#: Environment variables, and the key each one sets (over the file, under the command line).
ENVIRONMENT = {
    "NABIZ_FLEET_DATA": ("store", "data_dir"),
    "NABIZ_FLEET_DB": ("store", "url"),
    "NABIZ_FLEET_BROKER": ("broker", "url"),
    "NABIZ_FLEET_BROKER_ADMIN": ("broker", "admin_url"),
    "NABIZ_FLEET_PUBLIC_HOST": ("kiosks", "public_host"),
    "NABIZ_FLEET_HTTP_PORT": ("web", "port"),
}
CONFIG_ENV = "NABIZ_FLEET_CONFIG"

HINTS = {
    "url": 'a URL such as "postgresql://nabiz@db.internal/nabiz" or "mqtts://fleet:PASSWORD@broker.internal:8883"',
    "port": "a port from 1 to 65535",
    "tls_port": "a port from 1 to 65535",
    "workers": "a whole number of processes from 1 to 64",
    "inactivity_seconds": "a number of seconds, 5 or more",
    "log_format": '"text" or "json"',
    "log_level": '"DEBUG", "INFO", "WARNING" or "ERROR"',
    "shared_group": 'a name without spaces, "/", "+" or "#", e.g. "nabiz"',
    "client_id": 'a name without spaces, "/", "+" or "#", e.g. "nabiz-fleet"',
}


def environment_overrides(environ: Mapping[str, str] | None = None) -> list[Override]:
    """What the ``NABIZ_FLEET_*`` variables set (empty ones count as unset)."""
    environ = os.environ if environ is None else environ
    return [Override(section, key, _number(environ[name]) if (section, key) in NUMBERS else environ[name], f"${name}") for name, (section, key) in ENVIRONMENT.items() if environ.get(name)]


#: Keys whose variables hold a number (a variable is text: "0" is read as 0, "x" stays text and is refused).
NUMBERS = {("web", "port")}


def _number(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def find_file(given: str | Path | None, data_dir: Path) -> Path | None:
    """The file to read: the one *given*, else ``<data_dir>/fleet.toml`` when there is one."""
    if given:
        return Path(given).absolute()
    found = data_dir / CONFIG_FILE_NAME
    return found if found.exists() else None


def load(given: str | Path | None = None, overrides: Sequence[Override] = (), environ: Mapping[str, str] | None = None) -> FleetConfig:
    """The effective config: defaults < the file < the environment < *overrides* (the command
    line). ConfigProblems lists every problem, the file's first (a file with problems is not
    looked at further)."""
    applied = [*environment_overrides(environ), *overrides]
    data_dirs = [o.value for o in applied if (o.section, o.key) == ("store", "data_dir")]
    directory = Path(data_dirs[-1] if data_dirs else default_data_dir()).absolute()
    path = find_file(given, directory)
    config = load_file(path) if path else FleetConfig()
    if path and not given and config.store.data_dir and Path(config.store.data_dir) != directory:
        problem = Problem("store → data_dir", f"the fleet.toml in the data directory {directory} names another data directory ({config.store.data_dir})", f"remove data_dir from it, or move the file and give it with --config / ${CONFIG_ENV}")
        raise ConfigProblems(str(path), [problem])
    return settle(with_overrides(config, applied))


def load_file(path: str | Path) -> FleetConfig:
    """Read and check *path* alone (``fleet config check``): every problem, or the config."""
    path = Path(path).absolute()
    return check_document(read_document(path, EXAMPLE_NAME), str(path), base=path.parent)


def check_document(document: dict[str, Any], source: str = "fleet.toml", base: Path | None = None) -> FleetConfig:
    """Every section of *document* checked by its owner; ConfigProblems lists all their problems."""
    walker = Walker(HINTS)
    document = _shared_public_url(document, walker)
    sections = {name: walker.struct(document.get(name, {}), cls, name) for name, cls in SECTIONS.items()}
    web, problems = check_web(document.get("web"))
    walker.problems += problems
    escalation = None
    try:
        escalation = check_escalation(document, source, other_sections=OTHER_SECTIONS)
    except EscalationConfigError as exc:
        walker.problems += exc.problems
    # The keys that go together are checked even when a section has other problems: every problem at once.
    usable = {name: _local_paths(name, section or _usable_part(document.get(name), SECTIONS[name]), base) for name, section in sections.items()}
    walker.problems += consistency_problems(usable["store"], usable["broker"], usable["kiosks"])
    if walker.problems:
        raise ConfigProblems(source, _in_file_order(walker.problems, document))
    assert web is not None and escalation is not None
    return FleetConfig(**usable, web=web, escalation=escalation, source=source)


def _in_file_order(problems: list[Problem], document: dict[str, Any]) -> list[Problem]:
    """Problems in the order of their sections in the file (each part checks its own sections
    in its own order): a person fixing the file reads it top to bottom."""
    order = {section: index for index, section in enumerate(document)}
    return sorted(problems, key=lambda problem: order.get(re.split(r"[\[ ]", problem.path, maxsplit=1)[0], len(order)))


def _usable_part(table: Any, cls: type[msgspec.Struct]) -> msgspec.Struct:
    """The keys of *table* that are right on their own (the walker reported the others)."""
    fields = {field.encode_name: field for field in msgspec.structs.fields(cls)}
    usable = {}
    for key, value in (table.items() if isinstance(table, dict) else ()):
        if key in fields:
            try:
                usable[fields[key].name] = msgspec.convert(value, fields[key].type)
            except msgspec.ValidationError:
                continue
    return cls(**usable)


def _shared_public_url(document: dict[str, Any], walker: Walker) -> dict[str, Any]:
    """[web] public_url and [notifications] public_url are one address (the web pages the ack
    links open): either may give it for both; two different ones are a mistake."""
    web, notifications = document.get("web"), document.get("notifications")
    if not isinstance(web, dict | None) or not isinstance(notifications, dict | None):
        return document  # the sections' own checks say what is wrong
    web, notifications = web or {}, notifications or {}
    given = {name: table["public_url"] for name, table in (("web", web), ("notifications", notifications)) if isinstance(table.get("public_url"), str)}
    if len(set(given.values())) > 1:
        walker.add("notifications → public_url", f"it differs from web → public_url ({given['web']}): acknowledge links would lead elsewhere than the web pages", "give the address once, in [web] public_url (notifications take it from there)")
        return document
    if not given:
        return document
    url = next(iter(given.values()))
    return {**document, "web": {**web, "public_url": url}, "notifications": {**notifications, "public_url": url}}


def _local_paths(name: str, section: msgspec.Struct, base: Path | None) -> msgspec.Struct:
    """Relative paths in the file are relative to the file: a config and its certificates move together."""
    folder = base or Path.cwd()
    changes = {key: str(folder / Path(value).expanduser()) for owner, key in LOCAL_PATHS if owner == name and (value := getattr(section, key))}
    return msgspec.structs.replace(section, **changes)


def with_overrides(config: FleetConfig, overrides: Iterable[Override]) -> FleetConfig:
    """*config* with *overrides* applied in order, each checked against its key's type; the
    sections' consistency is checked again (a command-line option can contradict the file)."""
    walker = Walker(HINTS)
    sections = {name: getattr(config, name) for name in OTHER_SECTIONS}  # [web] too: --http-port
    applied = list(config.applied)
    for override in overrides:
        section = sections[override.section]
        field = next(f for f in msgspec.structs.fields(section) if f.name == override.key)
        before = len(walker.problems)
        value = walker.value(override.value, field.type, override.section, override.key)
        walker.problems[before:] = [replace(p, path=f"{p.path} ({override.source})") for p in walker.problems[before:]]
        if len(walker.problems) == before:
            if value is not None and (override.section, override.key) in LOCAL_PATHS:
                value = str(Path(value).expanduser().absolute())
            sections[override.section] = msgspec.structs.replace(section, **{override.key: value})
            applied.append(override)
    walker.problems += consistency_problems(sections["store"], sections["broker"], sections["kiosks"], applied)
    if walker.problems:
        raise ConfigProblems(config.source or "settings", walker.problems)
    return msgspec.structs.replace(config, **sections, applied=tuple(applied))


def settle(config: FleetConfig) -> FleetConfig:
    """The defaults that depend on other values: the data directory, then the store in it."""
    directory = Path(config.store.data_dir or default_data_dir()).absolute()
    store = StoreSettings(data_dir=str(directory), url=config.store.url or default_url(directory))
    return msgspec.structs.replace(config, store=store)


def consistency_problems(store: StoreSettings, broker: BrokerSettings, kiosks: KioskSettings, applied: Sequence[Override] = ()) -> list[Problem]:
    """What the types cannot say: keys that go together or exclude each other, URLs that can
    be dialled, files that exist. A key a person gave outside the file is named with how."""
    sources = {(o.section, o.key): o.source for o in applied}
    problems: list[Problem] = []

    def add(section: str, key: str, problem: str, fix: str) -> None:
        given = sources.get((section, key))
        problems.append(Problem(f"{section} → {key}" + (f" ({given})" if given else ""), problem, fix))

    if store.url and urlparse(store.url).scheme not in ("sqlite", "postgres", "postgresql"):
        add("store", "url", f"{_masked(store.url)} is neither sqlite:/// nor postgresql://", "e.g. sqlite:////var/lib/nabiz-fleet/fleet.sqlite3 (four slashes for an absolute path) or postgresql://nabiz@localhost/nabiz")
    if bool(broker.tls_cert) != bool(broker.tls_key):
        add("broker", "tls_key" if broker.tls_cert else "tls_cert", "tls_cert and tls_key go together", "give both PEM files (tls_cert and tls_key, or --tls-cert and --tls-key), or neither")
    if broker.url:
        problem = _broker_url_problem(broker.url)
        if problem:
            add("broker", "url", problem, 'write url = "mqtt://fleet:PASSWORD@broker.internal:1883" (or $NABIZ_FLEET_BROKER), or leave it out for the fleet\'s own broker')
        if broker.tls_cert:
            add("broker", "tls_cert", "tls_cert configures the fleet's own broker, but url names another one", "configure TLS on that broker, and drop tls_cert and tls_key (--tls-cert/--tls-key)")
    if broker.ca_file and not (broker.url or "").startswith("mqtts://"):
        add(
            "broker", "ca_file", "the CA file is for the fleet's own connection to a broker you run, over TLS",
            "use it with url = \"mqtts://...\" (--broker mqtts://... or $NABIZ_FLEET_BROKER); kiosks get their CA file from [kiosks] ca_file (fleet device add --ca-file)",
        )
    if broker.admin_url:
        from fleet.link import BrokerURL, LinkError

        try:
            admin = BrokerURL.parse(broker.admin_url)
            wrong = admin.username not in (None, ADMIN_USER) or not admin.password
        except LinkError:
            wrong = True
        if wrong:
            add("broker", "admin_url", f"{_masked(broker.admin_url)} is not a {ADMIN_USER} login with its password", f"admin_url = \"mqtt://{ADMIN_USER}:PASSWORD@HOST:PORT\", the password from DATA_DIR/broker/admin.secret")
    for key in ("tls_cert", "tls_key", "ca_file"):
        path = getattr(broker, key)
        if path and not Path(path).is_file():
            add("broker", key, f"{path} does not exist (or is not a file)", "give the path of the PEM file, readable by the fleet's user")
    if kiosks.public_host and ("://" in kiosks.public_host or "/" in kiosks.public_host):
        add("kiosks", "public_host", f"{kiosks.public_host!r} is a URL, not a host name", 'write public_host = "fleet.example.com"; a whole address goes in broker_url')
    if kiosks.broker_url:
        problem = _kiosk_url_problem(kiosks.broker_url)
        if problem:
            add("kiosks", "broker_url", problem, 'write broker_url = "mqtts://fleet.example.com:8883"')
    return problems


def _broker_url_problem(url: str) -> str | None:
    from fleet.link import BrokerURL, LinkError

    try:
        BrokerURL.parse(url)
    except LinkError:
        return f"{_masked(url)} is not mqtt[s]://[USER:PASSWORD@]HOST[:PORT]"
    return None


def _kiosk_url_problem(url: str) -> str | None:
    from kiosk.contract.transport import AddressError, BrokerAddress

    try:
        BrokerAddress.parse(url)
    except AddressError:
        return f"{_masked(url)!r} is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
    return None if "://" in url and "@" not in url else f"{_masked(url)}: a kiosk's broker address has a scheme and no login (each kiosk gets its own)"


def _masked(url: str) -> str:
    """*url* with its password, if any, as ***."""
    return describe(url)


def shown(config: FleetConfig) -> dict[str, Any]:
    """The effective config as plain data, secrets masked and unset keys left out: for
    ``fleet config show`` and logs."""
    data: dict[str, Any] = {name: msgspec.to_builtins(getattr(config, name)) for name in (*SECTIONS, "web")}
    for section, key in (("store", "url"), ("broker", "url"), ("broker", "admin_url")):
        if data[section].get(key):
            data[section][key] = _masked(data[section][key])
    data.update(escalation_shown(config.escalation))
    return _without_none(data)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def show_text(config: FleetConfig) -> str:
    """``fleet config show``: where the values came from, then the config as TOML, secrets masked."""
    from fleet.tomltext import dumps

    lines = [
        f"# The fleet's effective configuration: built-in defaults < {config.source or 'no config file'} < environment < command line.",
        "# Secrets are masked (***): copy the keys you need into fleet.toml, not this whole text.",
    ]
    lines += [f"# {override.path}: from {override.source}" for override in config.applied]
    data = {name: value for name, value in shown(config).items() if value != []}  # no sites yet: nothing to show
    return "\n".join(lines) + "\n\n" + dumps(data)


def summary(config: FleetConfig) -> list[str]:
    """What ``fleet config check`` says about a good file: one line per part."""
    broker, serve, kiosks, web, escalation = config.broker, config.serve, config.kiosks, config.web, config.escalation
    store = _masked(config.store.url) if config.store.url else "SQLite in the data directory" + (f" {config.store.data_dir}" if config.store.data_dir else "")
    if broker.managed:
        listeners = f"{broker.bind}:{broker.port}" + (f", TLS on {broker.tls_bind}:{broker.tls_port}" if broker.tls_cert else "")
        broker_line = f"the fleet's own Mosquitto on {listeners}"
    else:
        broker_line = f"yours at {_masked(broker.url or '')}" + (" (with its admin login)" if broker.admin_url else "")
    kiosk_line = kiosks.broker_url or f"{'mqtts' if kiosks.ca_file else 'mqtt'}://{kiosks.public_host or '<this machine>'}:<broker port>"
    urls = sum(len(contact.urls) for contact in escalation.contacts)
    disabled = sum(not rule.enabled for rule in escalation.rules)
    return [
        f"ok: {config.source}",
        f"  store:      {store}",
        f"  broker:     {broker_line}",
        f"  serve:      {serve.workers} worker{'s' if serve.workers != 1 else ''}, client id {serve.client_id}, logs {serve.log_format} {serve.log_level}",
        f"  kiosks:     dial {kiosk_line}",
        f"  web:        {web.public_url}, " + (f"port {web.port}" if web.port else "off (port 0)"),
        f"  escalation: {len(escalation.sites)} sites, {len(escalation.contacts)} contacts ({urls} URLs), {len(escalation.policies)} policies, "
        f"{len(escalation.rules)} rules" + (f" ({disabled} disabled)" if disabled else ""),
    ]


def exposure_warning(path: Path, config: FleetConfig) -> str | None:
    """A warning when every local user may read a file that holds secrets."""
    secrets = [name for name, url in (("store → url", config.store.url), ("broker → url", config.broker.url), ("broker → admin_url", config.broker.admin_url)) if url and urlparse(url).password]
    if any(contact.urls for contact in config.escalation.contacts):
        secrets.append("contacts → urls")
    try:
        readable = bool(path.stat().st_mode & 0o004)
    except OSError:
        return None
    if not (secrets and readable):
        return None
    return f"{path} holds secrets ({', '.join(secrets)}) and every local user may read it\n  fix: chmod o-r {path} (the fleet's user, or its group, must still read it)"
