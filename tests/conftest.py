import os

import pytest

# The display edge: SDL's dummy driver unless a test opens a real (Xvfb) window itself.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from hardware.profiles import load_profile  # noqa: E402
from kiosk.survey import DEFAULT_SURVEY_PATH, load_survey  # noqa: E402
from tests.dummy_clock import FakeClock  # noqa: E402


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
