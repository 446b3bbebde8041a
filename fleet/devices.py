"""The device registry: who may connect, from which site, and how each kiosk is doing.

Adding a device makes its broker login (a random password, stored only as a hash) and the
kiosk config a technician copies to the Pi. Revoking it removes the login from the broker,
which disconnects the kiosk at once. The registry is the source of truth: the broker's
accounts are rendered from it whenever ``fleet serve`` starts the broker, and each change in
between is sent to the running broker (``sync_broker``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fleet import dynsec, identity
from fleet.broker import BrokerError, BrokerFiles, hash_password, new_password, verify_password
from fleet.dynsec import ADMIN_USER, FLEET_CLIENT_ID, FLEET_USER, AdminLogin, BrokerControl, ControlError
from fleet.store import Device, writing
from kiosk.contract.deployment import config_template
from kiosk.contract.protocol import device_id_problem


class RegistryError(ValueError):
    """A device operation that cannot be done as asked; the message says how to fix it."""


#: A device that sent nothing for this long is shown offline even if its Last Will never came
#: (a broker restarted without persistence, a half-open TCP connection).
DEFAULT_INACTIVITY_S = 180.0


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    site: str
    state: str  # online | offline | silent | revoked | never-connected | id-conflict
    last_seen: float | None
    backlog: int | None
    software: str
    survey: str  # "exit-default@4": the survey on its screen, as its last Health said ("" before any)
    survey_source: str  # where that survey came from: pushed | file (a technician's override) | default ("" before any Health)
    survey_verified: bool | None  # whether the kiosk checked head office's signature on it (None before any Health)
    status_reason: str
    rejected_messages: int
    temperature_c: float | None
    disk_free_bytes: int | None
    id_conflict_at: float | None  # when two kiosks last took turns under this id (fleet.identity)
    id_conflict_boot_ids: list[str]

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def fleet_id_problem(device_id: str) -> str | None:
    """Why *device_id* would collide with the fleet's own names, or None.

    A device's id is its broker login and its MQTT client id. The broker binds each device's
    login to that client id, so a device registered as ``nabiz-fleet-1`` could legitimately
    connect as the first worker and knock it off: the fleet's logins, its client ids (``nabiz-fleet``,
    ``nabiz-fleet-1`` …, ``nabiz-fleet-admin-…``) and its default shared group all start with
    ``nabiz-fleet`` or are its logins, and no device may take them."""
    if device_id in (FLEET_USER, ADMIN_USER):
        return f"device id {device_id!r} is the fleet's own broker login"
    if device_id.startswith(FLEET_CLIENT_ID):
        return f"device id {device_id!r} starts with {FLEET_CLIENT_ID!r}, which is reserved for the fleet's own MQTT client ids and shared group ({FLEET_CLIENT_ID}, {FLEET_CLIENT_ID}-1, …)"
    return None


def client_id_problem(client_id: str, workers: int = 1) -> str | None:
    """Why ``fleet serve --client-id`` would knock a kiosk off the broker, or None: the fleet's
    login may use any client id, so one that is a device's id (``--client-id kiosk-1``, or
    ``kiosk`` with ``--workers 2`` giving ``kiosk-1``) would take that kiosk's session."""
    ids = [client_id] if workers == 1 else [f"{client_id}-{n}" for n in range(1, workers + 1)]
    ids.append(f"{client_id}-help")  # the help announcer's (fleet.escalation.announcer)
    taken = [d.device_id for d in Device.select(Device.device_id).where(Device.device_id.in_(ids))]
    if taken:
        return f"the fleet's client id {taken[0]!r} is a registered device's id: the fleet would knock that kiosk off the broker\n  fix: keep the default --client-id {FLEET_CLIENT_ID}, or choose one no device has"
    return None


def add_device(device_id: str, site: str, now: float | None = None) -> str:
    """Register *device_id* at *site*; returns its new broker password (shown once, never stored)."""
    problem = device_id_problem(device_id) or fleet_id_problem(device_id)
    if problem:
        raise RegistryError(f"{problem}\n  fix: e.g. kiosk-ist-042")
    if not site.strip():
        raise RegistryError("a device needs a site\n  fix: --site 'Istanbul Kadıköy 3'")
    if len(site) > 128 or "\x00" in site:
        raise RegistryError(f"site {site[:40]!r}… is {len(site)} characters long\n  fix: at most 128, e.g. 'İstanbul Kadıköy, çıkış 2'")
    existing = Device.get_or_none(Device.device_id == device_id)
    if existing is not None:
        state = "revoked" if existing.revoked_at else "registered"
        raise RegistryError(f"device {device_id!r} is already {state} (site {existing.site!r})\n  fix: choose another id, or give it new credentials with `fleet device credentials {device_id}`")
    password = new_password()
    Device.create(device_id=device_id, site=site.strip(), password_hash=hash_password(password), created_at=time.time() if now is None else now)
    return password


def add_many(device_ids: list[str], site: str, passwords: dict[str, str] | None = None) -> dict[str, str]:
    """Register (or re-key) many devices in one transaction: ``fleet simulate``'s kiosks.

    Returns the devices whose login changed, with their passwords: all of them, with new
    random passwords, when *passwords* is None. Given *passwords* (simulate derives them from a
    secret, the same at every run), a device whose stored hash already matches is left as it
    is: a running broker then has nothing to change for it, and changing a login costs the
    dynamic-security plugin a rewrite of its whole file."""
    changed = {}
    now = time.time()
    for device_id in device_ids:
        problem = device_id_problem(device_id) or fleet_id_problem(device_id)
        if problem:
            raise RegistryError(f"{problem}\n  fix: give the simulation another --prefix")
    with writing():
        current: dict[str, tuple[str, bool]] = {}
        for start in range(0, len(device_ids), 500):
            query = Device.select(Device.device_id, Device.site, Device.password_hash, Device.revoked_at).where(Device.device_id.in_(device_ids[start : start + 500]))
            for known in query:
                if known.site != site:
                    raise RegistryError(f"device {known.device_id!r} exists at site {known.site!r}: it is not a simulated kiosk\n  fix: give the simulation another --prefix (or --site)")
                current[known.device_id] = (known.password_hash, known.revoked_at is None)
        for device_id in device_ids:
            password = passwords[device_id] if passwords else new_password()
            stored, active = current.get(device_id, ("", False))
            if passwords and active and verify_password(password, stored):
                continue
            password_hash = hash_password(password)
            Device.insert(device_id=device_id, site=site, password_hash=password_hash, created_at=now).on_conflict(
                conflict_target=[Device.device_id], update={Device.password_hash: password_hash, Device.revoked_at: None, Device.site: site}
            ).execute()
            changed[device_id] = password
    return changed


def remove_devices(device_ids: list[str]) -> tuple[int, int]:
    """Delete devices and every response they sent: for ``fleet simulate --cleanup`` only.
    Real kiosks are revoked, never removed: their answers are the business's history."""
    from fleet.store import StoredResponse

    removed = responses = 0
    with writing():
        for start in range(0, len(device_ids), 500):
            chunk = device_ids[start : start + 500]
            responses += StoredResponse.delete().where(StoredResponse.device_id.in_(chunk)).execute()
            removed += Device.delete().where(Device.device_id.in_(chunk)).execute()
    return removed, responses


def new_credentials(device_id: str) -> str:
    """A new password for a registered device (a replaced SD card, a leaked config); the old one stops working."""
    device = _get(device_id)
    password = new_password()
    Device.update(password_hash=hash_password(password), revoked_at=None).where(Device.device_id == device.device_id).execute()
    return password


def revoke_device(device_id: str, now: float | None = None) -> bool:
    """Revoke *device_id*; False if it already was (revoking again is how a revocation a broker
    missed is given to it once more)."""
    device = _get(device_id)
    if device.revoked_at is not None:
        return False
    Device.update(revoked_at=time.time() if now is None else now, online=False, status_reason="revoked").where(Device.device_id == device_id).execute()
    return True


def broker_accounts() -> list[tuple[str, str]]:
    """(login, password hash) of every device allowed on the broker."""
    query = Device.select(Device.device_id, Device.password_hash).where(Device.revoked_at.is_null()).order_by(Device.device_id)
    return [(d.device_id, d.password_hash) for d in query]


UNAPPLIED = (
    "  the registry has the change, the broker not yet. fix: once the broker is reachable, run `fleet device revoke ID` again for a revocation, "
    "or `fleet device credentials ID` for a new login (a new password); `fleet serve` also gives every change to its managed broker when it starts it"
)


def sync_broker(files: BrokerFiles, put: dict[str, str] | None = None, remove: list[str] | None = None, admin: AdminLogin | None = None) -> bool:
    """Bring the broker in line with a registry change: *put* gives devices a login with a
    new password (device id → the password itself: the registry keeps only hashes, so only the
    command that made a password can hand it over), *remove* takes logins away (and
    disconnects them).

    A managed broker running from *files*, or the broker *admin* names, gets the change as
    dynamic-security commands and True is returned once it confirmed them all (with the removal
    of any login the fleet made for a device the registry has since revoked). With no managed
    broker running, the plugin's file is rendered from the registry instead (for its next start,
    or for a broker of yours to load), and False is returned. A running broker that refuses or
    does not answer is a BrokerError whose message says how to apply the change later."""
    put, remove = put or {}, remove or []
    running = files.running_pid() is not None
    if not running:
        files.write_auth(broker_accounts())
    login = admin or (files.admin_login() if running else None)
    if login is None:
        return False
    try:
        with BrokerControl(login) as control:
            listed = control.run([{"command": "listClients", "verbose": True}])[0].get("data", {}).get("clients", [])
            present = {client.get("username") for client in listed}
            active = {device_id for device_id, _ in broker_accounts()}
            # Logins the fleet made for devices the registry no longer lets in (a revocation
            # this broker missed): removed with any change. Logins of its own making only.
            stale = [client["username"] for client in listed if client.get("username") not in active and dynsec.made_for_device(client)]
            commands: list[dict] = []
            for device_id, password in put.items():
                commands += dynsec.rekey_commands(device_id, password) if device_id in present else dynsec.create_commands(device_id, password)
            for device_id in dict.fromkeys([*remove, *stale]):
                commands += dynsec.delete_commands(device_id)
            failed = dynsec.failures(commands, control.run(commands))
    except ControlError as exc:
        raise BrokerError(f"{exc}\n{UNAPPLIED}") from None
    if failed:
        raise BrokerError(f"the broker refused {len(failed)} of the change's commands: {'; '.join(failed[:3])}\n{UNAPPLIED}")
    return True


def list_devices(now: float | None = None, inactivity_s: float = DEFAULT_INACTIVITY_S, site: str | None = None) -> list[DeviceView]:
    now = time.time() if now is None else now
    query = Device.select().order_by(Device.site, Device.device_id)
    if site:
        query = query.where(Device.site == site)
    return [_view(device, now, inactivity_s) for device in query]


def mark_silent(now: float, inactivity_s: float = DEFAULT_INACTIVITY_S) -> list[str]:
    """Devices still marked online that have sent nothing for *inactivity_s*: mark them offline."""
    cutoff = now - inactivity_s
    silent = [d.device_id for d in Device.select(Device.device_id).where(Device.online & (Device.last_seen < cutoff))]
    if silent:
        Device.update(online=False, status_reason="silent", status_at=now).where(Device.device_id.in_(silent)).execute()
    return silent


def _get(device_id: str) -> Device:
    device = Device.get_or_none(Device.device_id == device_id)
    if device is None:
        raise RegistryError(f"no device {device_id!r}\n  fix: see `fleet device list`")
    return device


def survey_label(survey_id: str, version: int | None) -> str:
    """A survey version as every command shows it: ``exit-default@4`` (``fleet device list``,
    ``fleet survey status``'s desired and reported)."""
    return f"{survey_id}@{version}"


def _view(device: Device, now: float, inactivity_s: float) -> DeviceView:
    if device.revoked_at is not None:
        state = "revoked"
    elif device.id_conflict_at is not None and now - device.id_conflict_at <= identity.WINDOW_S:
        state = "id-conflict"
    elif device.last_seen is None and not device.online:
        state = "never-connected"
    elif device.online and device.last_seen is not None and now - device.last_seen <= inactivity_s:
        state = "online"
    elif device.online or device.status_reason == "silent":
        state = "silent"
    else:
        state = "offline"
    health = json.loads(device.last_health) if device.last_health else {}
    return DeviceView(
        device_id=device.device_id,
        site=device.site,
        state=state,
        last_seen=device.last_seen,
        backlog=device.backlog,
        software=device.software,
        survey=survey_label(device.survey_id, device.survey_version) if device.survey_id else "",
        # A kiosk from before survey push sends neither field: the protocol reads that as the default, unverified.
        survey_source=health.get("survey_source", "default") if health else "",
        survey_verified=bool(health.get("survey_verified", False)) if health else None,
        status_reason=device.status_reason,
        rejected_messages=device.rejected_messages,
        temperature_c=health.get("cpu_temp_c"),
        disk_free_bytes=health.get("disk_free_bytes"),
        id_conflict_at=device.id_conflict_at,
        id_conflict_boot_ids=device.id_conflict_boots.split(",") if device.id_conflict_boots else [],
    )


def kiosk_config(
    device_id: str, site: str, broker_url: str, password: str, ca_file: str | None = None, trusted_keys: Sequence[str] = (), min_seq: int = 0, fallback_phone: str = "", fallback_url: str = ""
) -> str:
    """The whole kiosk config a technician installs on the Pi as /etc/nabiz/kiosk.toml.

    Complete, not just the fleet part: ``setup-pi.sh --config`` installs it in place of the
    Pi's config, so the panel and screen settings a technician may change are all here, and
    the site's own phone and web page (fleet.toml's ``fallback_phone`` / ``fallback_qr_url``)
    as its ``[help]``. A kiosk reads them from this file only: a change in fleet.toml reaches
    it when ``fleet device credentials`` writes the file again and a technician installs it.
    """
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    ca_line = f"ca_file = {json.dumps(ca_file)}" if ca_file else '# ca_file = "/etc/nabiz/fleet-ca.pem"   # for mqtts:// with the fleet\'s own CA'
    fleet = f"""
[fleet]
broker = {json.dumps(broker_url)}
username = {json.dumps(device_id)}
password = {json.dumps(password)}
{ca_line}
"""
    header = (
        f"# Nabız kiosk {device_id} at {site}: made by `fleet device add` on {made}.\n"
        "# On the Pi: sudo sh hardware/setup-pi.sh --config THIS_FILE (installs it as /etc/nabiz/kiosk.toml,\n"
        "# mode 0640, group nabiz). It holds this kiosk's broker password: keep it private, delete other copies.\n"
    )
    return header + config_template(device_id, site, fleet, trusted_keys=trusted_keys, min_seq=min_seq, fallback_phone=fallback_phone, fallback_url=fallback_url)


def write_kiosk_config(path: Path, text: str) -> None:
    """Write with mode 0600 from the first byte: the file holds a password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode only applies to a new file; an old 0644 copy must not keep it
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
