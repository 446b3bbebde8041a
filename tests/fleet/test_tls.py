"""TLS between kiosk and broker: the managed broker's TLS listener and the kiosk's mqtts link.

Certificates are made for the test with openssl: a CA, and a broker certificate for
127.0.0.1 signed by it. The kiosk trusts the CA through ``ca_file``, as in the field.
"""

from __future__ import annotations

import logging
import shutil
import subprocess

import pytest

from fleet import devices
from fleet.broker import BrokerError, BrokerFiles, ManagedBroker, TlsListener
from kiosk.clock import SystemClock
from kiosk.config import SyncSettings
from kiosk.outbox import Outbox
from kiosk.sync.worker import FleetSync
from tests.mqtt_helpers import free_port, wait_until


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed (apt-get install openssl)")
    where = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Nabiz test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=where)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "broker.key", "-out", "broker.csr", cwd=where)
    (where / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "broker.pem", cwd=where)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Someone else", "-keyout", "other.key", "-out", "other-ca.pem", cwd=where)
    return where


@pytest.fixture
def tls_broker(tmp_path, certificates, store):
    files = BrokerFiles(tmp_path / "broker")
    password = devices.add_device("kiosk-tls", "Antalya Havalimanı")
    files.write_auth(devices.broker_accounts())
    broker = ManagedBroker(files, "127.0.0.1", free_port(), tls=TlsListener(free_port(), certificates / "broker.pem", certificates / "broker.key", "127.0.0.1"))
    broker.start()
    yield broker, password
    broker.stop()


def sync_over(port: int, password: str, ca_file, outbox) -> FleetSync:
    settings = SyncSettings(broker=f"mqtts://127.0.0.1:{port}", password=password, ca_file=str(ca_file), reconnect_max_s=1.0, health_interval_s=1.0)
    return FleetSync(settings, "kiosk-tls", outbox, SystemClock(), "boot", "test", ("s", 1)).start()


def test_a_kiosk_connects_over_tls_with_the_fleets_ca(tls_broker, certificates, tmp_path):
    broker, password = tls_broker
    outbox = Outbox("kiosk-tls", "boot").open(tmp_path / "kiosk")
    sync = sync_over(broker.tls.port, password, certificates / "ca.pem", outbox)
    try:
        wait_until(sync.link.connected.is_set, what="a TLS connection")
        assert sync.link.address.tls
    finally:
        sync.stop()
        outbox.close()


def test_a_broker_with_a_certificate_from_another_ca_is_refused(tls_broker, certificates, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kiosk.sync.link")
    broker, password = tls_broker
    outbox = Outbox("kiosk-tls", "boot").open(tmp_path / "kiosk")
    sync = sync_over(broker.tls.port, password, certificates / "other-ca.pem", outbox)
    try:
        wait_until(lambda: any("CERTIFICATE_VERIFY_FAILED" in r.getMessage() and "fix: set [fleet] ca_file" in r.getMessage() for r in caplog.records), what="a refused certificate")
        assert not sync.link.connected.is_set()
    finally:
        sync.stop()
        outbox.close()


def test_missing_tls_files_are_explained(tmp_path):
    listener = TlsListener(free_port(), tmp_path / "nope.pem", tmp_path / "nope.key")
    with pytest.raises(BrokerError, match="TLS certificate .*nope.pem does not exist"):
        ManagedBroker(BrokerFiles(tmp_path / "b"), "127.0.0.1", free_port(), tls=listener).start()
