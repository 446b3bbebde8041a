"""Who may do what on the managed broker: Mosquitto's dynamic-security plugin, rendered from the registry.

Why this plugin and not Mosquitto's ``password_file`` + ``acl_file`` (the experiments are in
``docs/security.md``):

- ``acl_file`` grants every SUBSCRIBE and filters only at delivery. A kiosk could join the
  fleet's shared group (``$share/nabiz-fleet/nabiz/+/responses``): the broker then handed it a
  share of every kiosk's uploads, which its read ACL dropped, so the fleet never saw them. The
  plugin checks subscriptions, and everything not granted is refused (a SUBACK failure).
- It binds a login to one client id (a client's ``clientid``), so a kiosk cannot connect with
  another kiosk's id or the fleet's and knock it off. ``use_username_as_clientid`` would do
  that too, but would give every fleet worker the same id, and checks no subscription.
- Mosquitto 2.0.11's plugin has no ``%u`` patterns: every device gets its own role with
  literal topics, made from the channel table (``kiosk.contract.protocol``), as the fleet's role is.
- It does not re-read its file on SIGHUP. The file is rendered from the registry whenever
  ``fleet serve`` starts the broker; a running broker is changed by commands on
  ``$CONTROL/dynamic-security/v1`` from the fleet's admin login (``BrokerControl``), and saves
  the file itself after each one.

Pure rendering up top (tested by tables); the MQTT edge (``BrokerControl``) below.
"""

from __future__ import annotations

import base64
import json
import queue
import ssl
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from kiosk.contract.protocol import CHANNELS, subscription, topic

#: The fleet's broker logins. Device ids may not take them (``fleet.devices``).
FLEET_USER = "fleet"
ADMIN_USER = "fleet-admin"
#: The fleet's MQTT client id, its workers' ids (``nabiz-fleet-1`` …) and its shared group's name
#: all start with this; device ids may not.
FLEET_CLIENT_ID = "nabiz-fleet"

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
FLEET_ROLE = "fleet"
ADMIN_ROLE = "fleet-admin"
#: Everything not granted by a role is refused; unsubscribing is harmless.
DEFAULT_ACCESS = {"publishClientSend": False, "publishClientReceive": False, "subscribe": False, "unsubscribe": True}
#: Commands per control message. Mosquitto 2.0's plugin rewrites its whole file after every
#: command (about 25 µs per login: 25 ms with 1,000 kiosks) and serves nobody meanwhile, so a
#: bulk change goes in small slices with the kiosks' traffic in between.
COMMANDS_PER_MESSAGE = 10


class ControlError(RuntimeError):
    """The broker did not take a change; the message says which and why."""


def device_role(device_id: str) -> str:
    return f"device:{device_id}"


def _acl(kind: str, topic_name: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic_name, "allow": True}


def device_acls(device_id: str) -> list[dict[str, Any]]:
    """A device publishes on its own upstream channels and subscribes to (and reads) its own
    downstream ones, all from the channel table: nothing else, no wildcard, no ``$share``, no ``$SYS``."""
    acls = []
    for spec in CHANNELS:
        own = topic(device_id, spec.name)
        if spec.direction == "up":
            acls.append(_acl("publishClientSend", own))
        else:
            acls += [_acl("subscribeLiteral", own), _acl("publishClientReceive", own)]
    return acls


def fleet_acls() -> list[dict[str, Any]]:
    """The fleet reads every device's upstream channels, alone or in any shared group, and writes
    their downstream ones (an empty retained message clears a retained one, ``help`` say). On an
    upstream channel the table retains (``status``) it may publish too: only to clear a revoked
    device's retained message, which the broker would replay at every start."""
    acls = []
    for spec in CHANNELS:
        every = subscription(spec.name)
        if spec.direction == "up":
            acls += [_acl("subscribePattern", every), _acl("subscribePattern", f"$share/+/{every}"), _acl("publishClientReceive", every)]
            if spec.retained:
                acls.append(_acl("publishClientSend", every))
        else:
            acls.append(_acl("publishClientSend", every))
    return acls


def admin_acls() -> list[dict[str, Any]]:
    return [_acl("publishClientSend", CONTROL_TOPIC), _acl("subscribeLiteral", RESPONSE_TOPIC), _acl("publishClientReceive", RESPONSE_TOPIC)]


def stored_hash(password_hash: str) -> dict[str, Any]:
    """The registry's hash (Mosquitto's ``$7$iterations$salt$hash``, PBKDF2-SHA512) as the
    plugin stores one: the same salt, digest and iterations, so no password is needed."""
    parts = password_hash.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        raise ValueError(f"not a Mosquitto PBKDF2-SHA512 hash ($7$…): {password_hash[:12]}…")
    salt, digest = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
    if len(salt) != 12 or len(digest) != 64:
        raise ValueError(f"a $7$ hash has a 12-byte salt and a 64-byte digest, not {len(salt)} and {len(digest)}")
    return {"salt": parts[3], "password": parts[4], "iterations": int(parts[2])}


def render(devices: Iterable[tuple[str, str]], fleet_hash: str, admin_hash: str) -> dict[str, Any]:
    """The plugin's whole configuration: the fleet's two logins and one login and role per
    device (*devices*: (device id, password hash)), each device bound to its own client id."""
    clients = [
        {"username": FLEET_USER, "textname": "the fleet's ingest (every worker)", "roles": [{"rolename": FLEET_ROLE}], **stored_hash(fleet_hash)},
        {"username": ADMIN_USER, "textname": "fleet device add/revoke/credentials", "roles": [{"rolename": ADMIN_ROLE}], **stored_hash(admin_hash)},
    ]
    roles = [{"rolename": FLEET_ROLE, "acls": fleet_acls()}, {"rolename": ADMIN_ROLE, "acls": admin_acls()}]
    for device_id, password_hash in devices:
        clients.append({"username": device_id, "clientid": device_id, "roles": [{"rolename": device_role(device_id)}], **stored_hash(password_hash)})
        roles.append({"rolename": device_role(device_id), "acls": device_acls(device_id)})
    return {"defaultACLAccess": DEFAULT_ACCESS, "clients": clients, "groups": [], "roles": roles}


def create_commands(device_id: str, password: str) -> list[dict[str, Any]]:
    """A new device login on a running broker (the plugin hashes *password* itself)."""
    return [
        {"command": "createRole", "rolename": device_role(device_id), "acls": device_acls(device_id)},
        {"command": "createClient", "username": device_id, "clientid": device_id, "password": password, "roles": [{"rolename": device_role(device_id)}]},
    ]


def delete_commands(device_id: str) -> list[dict[str, Any]]:
    """Remove a device's login (the broker disconnects it at once) and its role."""
    return [{"command": "deleteClient", "username": device_id}, {"command": "deleteRole", "rolename": device_role(device_id)}]


def rekey_commands(device_id: str, password: str) -> list[dict[str, Any]]:
    """A new password for a login the broker has (the broker disconnects the old session)."""
    return [{"command": "setClientPassword", "username": device_id, "password": password}]


def made_for_device(client: dict[str, Any]) -> bool:
    """Whether a login in ``listClients`` (verbose) is one the fleet made for a device: it has
    that device's role. Logins an operator added to a broker by hand are never touched."""
    return device_role(str(client.get("username", ""))) in [role.get("rolename") for role in client.get("roles", [])]


#: Answers that mean "already as asked": deleting what is gone, or a device's role left by an
#: interrupted change (its ACLs are made from the device id alone, so it is the same role).
HARMLESS = {("deleteClient", "Client not found"), ("deleteRole", "Role not found"), ("createRole", "Role already exists")}


# --- the edge: commands to a running broker ----------------------------------------------------


@dataclass(frozen=True)
class AdminLogin:
    host: str
    port: int
    password: str
    tls: bool = False
    ca_file: str | None = None

    def where(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{ADMIN_USER}:***@{self.host}:{self.port}"


class BrokerControl:
    """One admin connection; ``run`` sends commands and returns the broker's answer to each."""

    def __init__(self, login: AdminLogin, timeout: float = 30.0) -> None:
        self.login = login
        self.timeout = timeout
        self._answers: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._connack: queue.SimpleQueue[object] = queue.SimpleQueue()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{FLEET_CLIENT_ID}-admin-{uuid.uuid4().hex[:12]}", protocol=MQTTProtocolVersion.MQTTv5)
        client.username_pw_set(ADMIN_USER, login.password)
        if login.tls or login.ca_file:
            client.tls_set(ca_certs=login.ca_file)
        client.on_connect = lambda c, u, flags, reason, props: self._connack.put(reason)
        client.on_subscribe = lambda c, u, mid, reasons, props: self._connack.put(reasons[0])
        client.on_message = lambda c, u, message: self._answers.put(message.payload)
        self.client = client

    def __enter__(self) -> Self:
        try:
            self.client.connect(self.login.host, self.login.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise ControlError(f"cannot reach the broker at {self.login.where()}: {exc}") from None
        self.client.loop_start()
        for step in ("login", "subscription to the plugin's answers"):
            try:
                reason = self._connack.get(timeout=self.timeout)
            except queue.Empty:
                self.__exit__()
                raise ControlError(f"no answer from the broker at {self.login.where()} to the admin {step}") from None
            if reason.is_failure:  # type: ignore[attr-defined]
                self.__exit__()
                raise ControlError(f"the broker at {self.login.where()} refused the admin {step} ({reason}): it does not run the fleet's dynamic-security file")
            if step == "login":
                self.client.subscribe(RESPONSE_TOPIC, qos=1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send *commands* in slices; the broker's answer to each, in order."""
        answers: list[dict[str, Any]] = []
        for start in range(0, len(commands), COMMANDS_PER_MESSAGE):
            answers += self._run_slice(commands[start : start + COMMANDS_PER_MESSAGE])
        return answers

    def _run_slice(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tag = uuid.uuid4().hex
        tagged = [{**command, "correlationData": f"{tag}-{n}"} for n, command in enumerate(commands)]
        self.client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        while True:  # other admins' answers come here too: take ours by their tag
            try:
                payload = self._answers.get(timeout=self.timeout)
            except queue.Empty:
                raise ControlError(f"the broker at {self.login.where()} did not answer {len(commands)} dynamic-security commands within {self.timeout:.0f} s") from None
            try:
                responses = json.loads(payload)["responses"]
            except (ValueError, KeyError, TypeError):
                continue
            mine = {r.get("correlationData"): r for r in responses if str(r.get("correlationData", "")).startswith(tag)}
            if mine:
                return [mine.get(f"{tag}-{n}", {"command": c["command"], "error": "no answer"}) for n, c in enumerate(commands)]


def failures(commands: list[dict[str, Any]], answers: list[dict[str, Any]]) -> list[str]:
    """The answers that are real errors, as 'createClient kiosk-1: Client already exists'."""
    return [
        f"{command['command']} {command.get('username') or command.get('rolename')}: {answer['error']}"
        for command, answer in zip(commands, answers)
        if answer.get("error") and (command["command"], answer["error"]) not in HARMLESS
    ]
