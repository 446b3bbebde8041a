import os

import pytest

# The display edge: SDL's dummy driver unless a test opens a real (Xvfb) window itself.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from hardware.profiles import load_profile
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, load_survey
from tests.dummy_clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def survey():
    return load_survey(DEFAULT_SURVEY_PATH)


@pytest.fixture(scope="session")
def profile():
    return load_profile("arcade-4")


@pytest.fixture
def mock_factory():
    """A fresh gpiozero MockFactory per test, as gpiozero's own tests do."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()
    Device.pin_factory = None


# --- fleet: the store on SQLite and (when reachable) PostgreSQL, a real Mosquitto --------------

POSTGRES_ADMIN_URL = os.environ.get("NABIZ_TEST_POSTGRES", "postgresql://postgres@localhost:5432/postgres")


@pytest.fixture(scope="session")
def postgres_database():
    """A scratch PostgreSQL database for this test session, or a skip that says why."""
    try:
        import psycopg2
    except ImportError:
        pytest.skip("psycopg2 is not installed (pip install 'nabiz[fleet]')")
    try:
        admin = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL} ({str(exc).strip().splitlines()[0]}); set NABIZ_TEST_POSTGRES to test against one")
    admin.autocommit = True
    name = f"nabiz_test_{os.getpid()}"
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """The fleet store's URL: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.sqlite3'}"
    url = request.getfixturevalue("postgres_database")
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return url


@pytest.fixture
def store(store_url):
    from fleet.store import close_database, open_database

    db = open_database(store_url)
    yield db
    close_database()


@pytest.fixture
def broker(tmp_path):
    """The fleet's managed Mosquitto on a free port, in this test's data directory."""
    from fleet.broker import BrokerFiles, ManagedBroker
    from tests.mqtt_helpers import free_port

    files = BrokerFiles(tmp_path / "fleet" / "broker")
    files.write_auth([])
    managed = ManagedBroker(files, "127.0.0.1", free_port())
    managed.start()
    yield managed
    managed.stop()


@pytest.fixture
def proxy(broker):
    """A TCP forwarder in front of the test's ``broker`` (a test module may define its own
    ``broker``): the test can cut the kiosk's link while the broker stays up."""
    from tests.tcp_proxy import TcpProxy

    forwarder = TcpProxy(broker.port)
    yield forwarder
    forwarder.close()


# --- notification receivers: real HTTP (apprise json://) and SMTP (mailto://) on free ports -----


@pytest.fixture
def webhook():
    from tests.notify_receivers import Webhook

    with Webhook() as receiver:
        yield receiver


@pytest.fixture
def mailbox():
    from tests.notify_receivers import Mailbox

    with Mailbox() as receiver:
        yield receiver
