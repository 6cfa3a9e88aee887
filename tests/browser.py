"""Headless Chromium for the report's browser tests (and benchmarks/report_speed.py).

Debian's ``chromium`` and ``chromium-driver`` packages, driven by Selenium; no browser is
downloaded. The flags keep it off the network (the machines have none, and without them
Chromium's background services misbehave), and every session gets a new empty profile.
Where the browser is missing the tests skip with the reason (fail in CI,
``MMIMDB_REQUIRE_SERVICES=1``).
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def missing_reason() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install 'mmimdb[test]'"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).is_file() or shutil.which(Path(path).name)):
            return f"{path} is missing: apt-get install {package}"
    return None


@contextmanager
def chromium() -> Iterator[object]:
    """A Selenium WebDriver of headless Chromium with a fresh profile, closed at the end;
    console messages are collected (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mmimdb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def errors(driver) -> list[dict]:
    """The console's errors since the last call (a page's uncaught exceptions among them)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
