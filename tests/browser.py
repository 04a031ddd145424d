"""Headless Debian Chromium for the browser tests, with no network.

:func:`chromium` yields a selenium driver started with networking-related features off
and a fresh profile; :func:`page_log` returns the JavaScript console errors and every URL
the page requested (from Chromium's performance log), so a test can assert that nothing
left the page.  When Chromium or chromedriver is missing the tests are skipped with the
reason (install Debian's ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"

#: URL schemes that do not leave the machine.
LOCAL_SCHEMES = ("data:", "about:", "file:", "blob:", "chrome:", "chrome-error:",
                 "chrome-untrusted:")

CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage",
    "--no-default-browser-check", "--metrics-recording-only", "--mute-audio",
    "--window-size=1200,900",
)


def chromium_binary() -> str | None:
    for path in CHROMIUM_CANDIDATES:
        if Path(path).exists():
            return path
    return shutil.which("chromium")


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if chromium_binary() is None:
        return "Chromium is not installed (apt-get install chromium chromium-driver)"
    if not Path(CHROMEDRIVER).exists() and shutil.which("chromedriver") is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


@contextlib.contextmanager
def chromium(width: int = 1200, height: int = 900):
    """A headless Chromium selenium driver with a fresh profile and logging on."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="towntype-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium_binary()
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={width},{height}")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    driver = webdriver.Chrome(options=opts, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def page_log(driver) -> tuple[list[str], list[str]]:
    """Console errors and requested URLs since the last call.

    Returns
    -------
    errors : list of str
        Console messages of level SEVERE (uncaught exceptions, failed loads).
    urls : list of str
        Every URL the page asked for (``Network.requestWillBeSent``).
    """
    errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return errors, urls


def external(urls) -> list[str]:
    """The URLs that would leave the machine."""
    return [u for u in urls if not u.startswith(LOCAL_SCHEMES)]


def wait_for(driver, script: str, timeout: float = 20.0):
    """Poll a JavaScript expression until it is truthy; return its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(f"return {script};"))


def screenshot(html: Path, png: Path, width: int = 1400, height: int = 1000,
               script: str | None = None) -> Path:
    """A PNG of ``html`` as headless Chromium shows it (README screenshots:
    ``python -c "from tests.browser import screenshot; screenshot(...)"``); ``script``
    runs once the map is drawn (e.g. open a popup)."""
    with chromium(width, height) as driver:
        driver.get(Path(html).resolve().as_uri())
        wait_for(driver, "!!(window.towntype && towntype.maps.length > 0)")
        if script:
            driver.execute_script(script)
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "setTimeout(() => requestAnimationFrame(() => done(true)), 300);")
        driver.save_screenshot(str(png))
    return Path(png)
