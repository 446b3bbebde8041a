"""The embedded default broker: a Mosquitto that ``fleet serve`` configures, starts, watches and stops.

One machine needs no broker set up by hand: the fleet writes a config into its data
directory (persistence on, anonymous access off, the dynamic-security plugin with a file
rendered from the device registry), starts ``mosquitto`` and restarts it if it dies. With
``--broker URL`` the fleet uses that broker instead and none of this runs.

Who may log in and do what is ``fleet.dynsec``'s job: each kiosk has its own login, bound to
its client id, and may publish only under its own ``nabiz/<login>/...`` topics and subscribe
only to its own acks. The fleet never stores a password, only its hash. A change to the
registry reaches a running broker as dynamic-security commands (``fleet.devices.sync_broker``):
a revoked kiosk is disconnected within the same second.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import getpass
import glob
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fleet import dynsec
from fleet.dynsec import ADMIN_USER, FLEET_USER, AdminLogin

log = logging.getLogger(__name__)

#: The logins are dynsec's; the CLI and tests know them from here, with the files they live in.
__all__ = [
    "ADMIN_USER", "FLEET_USER", "BrokerError", "BrokerFiles", "Listener", "ManagedBroker", "TlsListener",
    "configured_listeners", "find_dynsec_plugin", "find_mosquitto", "hash_password", "new_password", "render_config", "verify_password",
]

#: mosquitto_passwd's own default; the passwords we issue are 144 random bits, so the
#: iteration count (which protects weak, human-chosen passwords) is not what keeps them safe.
HASH_ITERATIONS = 101
#: Larger than the protocol's payload limit so that an oversize message reaches the fleet and
#: is rejected there with a reason; far larger ones the broker drops by itself.
MAX_PACKET_BYTES = 1024 * 1024
#: Messages the broker holds for the fleet's session while the fleet is down (kiosks resend
#: after their ack timeout anyway; this just saves them the trouble).
MAX_QUEUED_FOR_FLEET = 200_000


class BrokerError(RuntimeError):
    """The managed broker cannot start or be reached; the message says why and what to do."""


def hash_password(password: str, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """A password in Mosquitto 2's password-file format: ``$7$iterations$salt$hash`` (PBKDF2-SHA512)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, password_hash: str) -> bool:
    """Whether *password* is the one *password_hash* (``hash_password``'s format) was made from."""
    try:
        _, kind, iterations, salt, _ = password_hash.split("$")
        expected = hash_password(password, base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return kind == "7" and hmac.compare_digest(expected, password_hash)


def new_password() -> str:
    return secrets.token_urlsafe(18)


#: Where mosquitto lives besides $PATH: Debian installs it in /usr/sbin, which a normal user's PATH lacks.
SBIN_DIRS = ["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin"]


def find_mosquitto() -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    found = shutil.which("mosquitto", path=path)
    if not found:
        raise BrokerError(
            "the mosquitto broker is not installed\n"
            "  fix: sudo apt-get install mosquitto (make demo and make test install it), "
            "or point the fleet at a running broker: NABIZ_FLEET_BROKER=mqtt://fleet:PASSWORD@HOST:1883 fleet serve"
        )
    return found


#: Where Mosquitto's dynamic-security plugin lives: Debian and Raspberry Pi OS put it in the
#: architecture's library directory (``/usr/lib/aarch64-linux-gnu/`` on a 64-bit Pi).
PLUGIN_NAME = "mosquitto_dynamic_security.so"
PLUGIN_GLOBS = ["/usr/lib/*/" + PLUGIN_NAME, "/usr/lib/" + PLUGIN_NAME, "/usr/local/lib/" + PLUGIN_NAME, "/usr/local/lib/*/" + PLUGIN_NAME, "/opt/homebrew/lib/" + PLUGIN_NAME]


def find_dynsec_plugin() -> str:
    for pattern in PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise BrokerError(
        f"Mosquitto's dynamic-security plugin ({PLUGIN_NAME}) is not installed\n"
        "  fix: install Mosquitto 2.0 or newer from your distribution (Debian's mosquitto package ships it in /usr/lib/<arch>/), "
        "or point the fleet at a broker you run: NABIZ_FLEET_BROKER=mqtt://fleet:PASSWORD@HOST:1883 fleet serve"
    )


@dataclass(frozen=True)
class Listener:
    port: int
    bind: str
    tls: bool

    @property
    def connect_host(self) -> str:
        """Where a client on this machine dials a listener bound to *bind*."""
        return "127.0.0.1" if self.bind in ("0.0.0.0", "") else "::1" if self.bind == "::" else self.bind


def configured_listeners(config_text: str) -> list[Listener]:
    """The listeners of a config ``render_config`` wrote: "listener PORT ADDRESS" blocks, a TLS one with a certfile."""
    listeners = []
    for block in re.split(r"^(?=listener )", config_text, flags=re.MULTILINE)[1:]:
        words = block.split()
        try:
            listeners.append(Listener(int(words[1]), words[2] if len(words) > 2 and words[2] != "protocol" else "0.0.0.0", "\ncertfile " in block))
        except (IndexError, ValueError):
            continue
    return listeners


@dataclass(frozen=True)
class BrokerFiles:
    """Where the managed broker's generated files live (``<data-dir>/broker``)."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def dynsec(self) -> Path:
        """The dynamic-security plugin's file: rendered from the registry at each start, then
        kept by the broker itself."""
        return self.directory / "dynamic-security.json"

    @property
    def pid(self) -> Path:
        return self.directory / "mosquitto.pid"

    @property
    def fleet_secret(self) -> Path:
        return self.directory / "fleet.secret"

    @property
    def admin_secret(self) -> Path:
        return self.directory / "admin.secret"

    def fleet_password(self) -> str:
        """The fleet's own broker password, made once and kept readable by its owner only."""
        return self._secret(self.fleet_secret)

    def simulation_password(self, device_id: str) -> str:
        """A simulated kiosk's password, the same at every ``fleet simulate`` run, so a second run
        changes no login (derived from a secret made once; real kiosks get random ones)."""
        secret = self._secret(self.directory / "simulation.secret").encode()
        return base64.urlsafe_b64encode(hmac.digest(secret, device_id.encode(), "sha256")[:18]).decode()

    def admin_password(self) -> str:
        """The admin login's password: only ``fleet device ...`` on this machine uses it, to
        change a running broker's accounts. The ingest login (which workers elsewhere may
        hold) cannot."""
        return self._secret(self.admin_secret)

    def _secret(self, path: Path) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return path.read_text().strip()
        password = new_password()
        _write_private(path, password + "\n")
        return password

    def write_auth(self, accounts: Iterable[tuple[str, str]]) -> int:
        """Render the plugin's file: the fleet's logins plus *accounts* ((device id, hash))."""
        self.directory.mkdir(parents=True, exist_ok=True)
        accounts = list(accounts)
        rendered = dynsec.render(accounts, hash_password(self.fleet_password()), hash_password(self.admin_password()))
        _write_private(self.dynsec, json.dumps(rendered, indent=1, ensure_ascii=False) + "\n")
        return len(accounts)

    def admin_login(self) -> AdminLogin | None:
        """How ``fleet device ...`` reaches the managed broker running from this directory, if one does."""
        if self.running_pid() is None:
            return None
        try:
            plain = [listener for listener in configured_listeners(self.config.read_text()) if not listener.tls]
        except OSError:
            return None
        if not plain:
            return None
        return AdminLogin(plain[0].connect_host, plain[0].port, self.admin_password())

    def running_pid(self) -> int | None:
        """The pid of a live mosquitto started with this directory's config, if any."""
        try:
            pid = int(self.pid.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if any(arg.endswith(b"mosquitto") for arg in cmdline) and str(self.config).encode() in cmdline:
            return pid
        return None


@dataclass(frozen=True)
class TlsListener:
    """A second listener with TLS, for kiosks that reach the broker over the internet."""

    port: int
    certfile: Path  # the broker's certificate (chain), PEM
    keyfile: Path  # its private key, PEM
    bind: str = "0.0.0.0"  # with --bind 127.0.0.1, kiosks can reach the broker over TLS only

    def check(self) -> None:
        for what, path in (("certificate", self.certfile), ("key", self.keyfile)):
            if not path.is_file():
                raise BrokerError(f"TLS {what} {path} does not exist\n  fix: give the PEM files of the broker's certificate and key (--tls-cert, --tls-key)")
            try:
                path.open("rb").close()
            except OSError as exc:
                raise BrokerError(f"TLS {what} {path} cannot be read: {exc.strerror}\n  fix: let the fleet's user read it") from None


def render_config(files: BrokerFiles, bind: str, port: int, tls: TlsListener | None = None) -> str:
    persistence = files.directory / "persistence"
    tls_listener = ""
    if tls is not None:
        tls_listener = f"""
listener {tls.port} {tls.bind}
protocol mqtt
certfile {tls.certfile.resolve()}
keyfile {tls.keyfile.resolve()}
tls_version tlsv1.2
"""
    return f"""# Generated by `fleet serve` at every start: edit the fleet's options, not this file.
per_listener_settings false
allow_anonymous false
plugin {find_dynsec_plugin()}
plugin_opt_config_file {files.dynsec}
pid_file {files.pid}
user {getpass.getuser()}

listener {port} {bind}
protocol mqtt
max_packet_size {MAX_PACKET_BYTES}
set_tcp_nodelay true
{tls_listener}
persistence true
persistence_location {persistence}/
autosave_interval 30
max_queued_messages {MAX_QUEUED_FOR_FLEET}
persistent_client_expiration 14d

log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
log_timestamp false
"""


def check_port_free(bind: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BrokerError(
                    f"port {port} on {bind} is already in use (another MQTT broker?)\n"
                    f"  fix: stop it (see `ss -ltnp 'sport = :{port}'`), choose another with --port, "
                    "or use that broker: NABIZ_FLEET_BROKER=mqtt://fleet:PASSWORD@HOST:PORT fleet serve"
                ) from None
            raise BrokerError(f"cannot listen on {bind}:{port}: {exc.strerror}\n  fix: choose another --bind or --port") from None


def _die_with_parent() -> None:
    """In the child before exec: if the fleet is killed (even with SIGKILL), its broker goes too."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ManagedBroker:
    """A mosquitto child process, restarted with backoff if it dies while the fleet runs."""

    def __init__(self, files: BrokerFiles, bind: str = "0.0.0.0", port: int = 1883, binary: str | None = None, tls: TlsListener | None = None) -> None:
        self.files = files
        self.bind = bind
        self.port = port
        self.tls = tls
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._recent: list[str] = []
        self.restarts = 0

    @property
    def connect_host(self) -> str:
        return Listener(self.port, self.bind, False).connect_host

    def start(self, timeout: float = 10.0, accounts: Iterable[tuple[str, str]] | None = None) -> None:
        """Start the broker; with *accounts* (the registry's (device id, hash)), its plugin file is
        rendered from them first, so the registry decides who may log in whatever the broker
        saved last time. Without, the broker starts from the file as it is."""
        self.binary = self.binary or find_mosquitto()
        self.files.directory.mkdir(parents=True, exist_ok=True)
        (self.files.directory / "persistence").mkdir(exist_ok=True)
        self._stop_leftover()
        if accounts is not None:
            self.files.write_auth(accounts)
        elif not self.files.dynsec.exists():
            self.files.write_auth([])
        check_port_free(self.bind, self.port)
        if self.tls is not None:
            self.tls.check()
            check_port_free(self.tls.bind, self.tls.port)
        self.files.config.write_text(render_config(self.files, self.bind, self.port, self.tls))
        self._spawn(timeout)
        self._watcher = threading.Thread(target=self._watch, name="broker-watch", daemon=True)
        self._watcher.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout)
        if process is not None:
            log.info("broker stopped")

    def kill(self) -> None:
        """SIGKILL the broker (fault tests: the watcher restarts it)."""
        if self._process is not None:
            self._process.kill()

    # --- internals ---------------------------------------------------------------------------

    def _spawn(self, timeout: float) -> None:
        self._recent = []
        self._process = subprocess.Popen(
            [self.binary, "-c", str(self.files.config)],  # type: ignore[list-item]
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        threading.Thread(target=self._relay_log, args=(self._process,), name="broker-log", daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                time.sleep(0.1)  # let the log relay catch the last lines
                raise BrokerError(f"mosquitto exited with status {self._process.returncode} at start:\n    " + "\n    ".join(self._recent[-5:]) + f"\n  fix: see {self.files.config}")
            try:
                with socket.create_connection((self.connect_host, self.port), timeout=0.5):
                    tls = f"{self.tls.bind}:{self.tls.port}" if self.tls else "off"
                    log.info("broker running", extra={"listen": f"{self.bind}:{self.port}", "tls": tls, "pid": self._process.pid, "config": str(self.files.config)})
                    return
            except OSError:
                time.sleep(0.05)
        self._process.kill()
        raise BrokerError(f"mosquitto did not accept connections on {self.bind}:{self.port} within {timeout:.0f} s")

    def _watch(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            process.wait()
            if self._stopping.is_set():
                return
            log.error("broker exited unexpectedly; restarting", extra={"status": process.returncode, "last_lines": " | ".join(self._recent[-3:]), "in_s": delay})
            if self._stopping.wait(delay):
                return
            try:
                check_port_free(self.bind, self.port)
                if self.tls is not None:
                    check_port_free(self.tls.bind, self.tls.port)
                self._spawn(10.0)
                self.restarts += 1
                delay = 1.0
            except BrokerError as exc:
                log.error("broker restart failed: %s", exc)
                delay = min(delay * 2, 30.0)

    def _relay_log(self, process: subprocess.Popen[bytes]) -> None:
        broker_log = logging.getLogger("fleet.mosquitto")
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._recent = (self._recent + [line])[-20:]
            level = logging.WARNING if ("Error" in line or "Warning" in line) else logging.DEBUG
            broker_log.log(level, line)

    def _stop_leftover(self) -> None:
        """A broker left by a fleet that was killed before it could stop it: ours, so stop it."""
        pid = self.files.running_pid()
        if pid is None:
            return
        log.warning("stopping a broker left running by an earlier fleet process", extra={"pid": pid})
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _write_private(path: Path, text: str) -> None:
    """Write atomically (a broker starting mid-write must never see half a file), mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
