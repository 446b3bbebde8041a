import os
import shutil

import pytest

from tests.web_helpers import CHROMIUM, CHROMIUM_ARGS, WebRig, web_config


@pytest.fixture
def web(store, clock):
    """The web app over the test's store (SQLite and PostgreSQL), served by uvicorn on a free port."""
    rig = WebRig(web_config(), clock).start()
    yield rig
    rig.stop()


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (never `playwright install`): skipped, saying
    why, only where it cannot be had (scripts/system-deps.sh test installs it on Debian)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    executable = os.environ.get("NABIZ_TEST_CHROMIUM", CHROMIUM)
    if not shutil.which(executable):
        pytest.skip(f"no Chromium at {executable}: install Debian's package (sh scripts/system-deps.sh test) or set NABIZ_TEST_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone_page(chromium):
    """A fresh browser context the size of a phone, in Turkish (the sites' language)."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="tr-TR", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
