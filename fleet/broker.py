"""The embedded default broker: a Mosquitto that ``fleet serve`` configures, starts, watches and stops.

One machine needs no broker set up by hand: the fleet writes a config into its data
directory (persistence on, anonymous access off, a password file and an ACL generated from
the device registry), starts ``mosquitto`` and restarts it if it dies. With ``--broker URL``
the fleet uses that broker instead and none of this runs.

Device accounts live in ``passwd`` (mosquitto's PBKDF2-SHA512 format; the fleet never
stores a password, only its hash) and ``acl`` (each login may publish only under its own
``nabiz/<login>/...`` topics and read only its own acks). Changing either and sending the
broker SIGHUP applies it at once: Mosquitto re-checks connected clients on reload, so a
revoked kiosk is disconnected within the same second.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import getpass
import hashlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from kiosk.protocol import ROOT

log = logging.getLogger(__name__)

FLEET_USER = "fleet"
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


@dataclass(frozen=True)
class BrokerFiles:
    """Where the managed broker's generated files live (``<data-dir>/broker``)."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.directory / "passwd"

    @property
    def acl(self) -> Path:
        return self.directory / "acl"

    @property
    def pid(self) -> Path:
        return self.directory / "mosquitto.pid"

    @property
    def fleet_secret(self) -> Path:
        return self.directory / "fleet.secret"

    def fleet_password(self) -> str:
        """The fleet's own broker password, made once and kept readable by its owner only."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.fleet_secret.exists():
            return self.fleet_secret.read_text().strip()
        password = new_password()
        _write_private(self.fleet_secret, password + "\n")
        return password

    def write_auth(self, accounts: Iterable[tuple[str, str]]) -> int:
        """Write the password file (the fleet's account plus *accounts*: (login, hash)) and the ACL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fleet_hash = hash_password(self.fleet_password())
        lines = [f"{FLEET_USER}:{fleet_hash}"]
        lines += [f"{login}:{password_hash}" for login, password_hash in accounts]
        _write_private(self.passwd, "\n".join(lines) + "\n")
        _write_private(self.acl, render_acl())
        return len(lines) - 1

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

    def reload(self) -> bool:
        """Make a running managed broker re-read passwd and acl (SIGHUP); False if none runs."""
        pid = self.running_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            return False
        return True


def render_acl() -> str:
    return f"""# Generated by the Nabız fleet: do not edit (rewritten on every device change).
# The fleet's own account reads everything devices publish and writes their acks.
user {FLEET_USER}
topic readwrite {ROOT}/#

# Every other login is a device: it may publish only under its own namespace and read only
# its own acknowledgements (%u is the login, which is the device id).
pattern write {ROOT}/%u/responses
pattern write {ROOT}/%u/status
pattern write {ROOT}/%u/health
pattern read {ROOT}/%u/ack
"""


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
password_file {files.passwd}
acl_file {files.acl}
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
        return "127.0.0.1" if self.bind in ("0.0.0.0", "") else "::1" if self.bind == "::" else self.bind

    def start(self, timeout: float = 10.0) -> None:
        self.binary = self.binary or find_mosquitto()
        self.files.directory.mkdir(parents=True, exist_ok=True)
        (self.files.directory / "persistence").mkdir(exist_ok=True)
        self._stop_leftover()
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

    def reload(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGHUP)

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
    """Write atomically (a broker reloading mid-write must never see half a file), mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
