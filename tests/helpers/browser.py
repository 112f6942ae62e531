"""A real browser for the page tests: headless Debian Chromium driven by Selenium.

``chromium_driver`` needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium``
package; when they are missing or Chromium cannot start, it raises, so the test FAILS (it
never skips): CI installs them.
"""

from __future__ import annotations

from pathlib import Path


def chromium_driver(tmp_path: Path):
    """Headless Debian Chromium through chromedriver. Raises (so the test fails) if it can't start."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,1000",
    ):
        opts.add_argument(flag)
    if Path("/usr/bin/chromium").exists():
        opts.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
