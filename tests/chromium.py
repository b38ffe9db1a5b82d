"""Headless Chromium for the browser tests: Debian's, driven by Playwright for Python.

Playwright's own browsers are never downloaded: the tests launch the system's
Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``). `.ci/run` installs it from
Debian's packages when it is missing and CI runs as root; anywhere else
without it, the browser tests skip and say why, as the ArcGIS client tests do.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

#: Chromium flags for a test run: no sandbox (containers, root), and no traffic
#: of its own (component updates, sync, first-run pages) on a network-less machine.
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def executable() -> str | None:
    """The system Chromium to launch, or None; ``$CHROMIUM``, when set, is the only one tried."""
    if "CHROMIUM" in os.environ:
        candidates = [os.environ["CHROMIUM"]]
    else:
        candidates = ["/usr/bin/chromium", shutil.which("chromium")]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


if importlib.util.find_spec("playwright") is None:
    pytest.skip(
        "Playwright for Python is not installed; `make test` installs it with the test extra",
        allow_module_level=True,
    )
if executable() is None:
    pytest.skip(
        "Chromium is not installed ($CHROMIUM, else /usr/bin/chromium or chromium on PATH); "
        "`.ci/run` installs it as root with `apt-get install chromium`, or install it yourself",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

__all__ = ["FLAGS", "Browser", "Page", "executable", "sync_playwright"]
