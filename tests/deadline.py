"""A deadline for every test: whatever a bug makes a test wait on, the run fails, never hangs.

Each waiting loop in the tests has its own deadline; this is the backstop for what no loop
bounds: an in-process request into code a bug made loop forever, a join, a blocking read.
At ``NBMOCK_TEST_DEADLINE`` seconds (default 900, longer than any test's own bounded waits:
the Docker and packaging builds allow 600 s) the test fails with its traceback, as
pytest-timeout's ``signal`` method does. Should the main thread be stuck in C code that never
returns to Python, faulthandler dumps every thread and ends the run a minute later.
``NBMOCK_TEST_DEADLINE=0`` turns it off (for a debugger).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading

import pytest

DEFAULT_SECONDS = 900.0


def deadline_seconds() -> float:
    return float(os.environ.get("NBMOCK_TEST_DEADLINE", DEFAULT_SECONDS))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    seconds = deadline_seconds()
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if seconds <= 0 or not usable:
        yield
        return

    def expired(signum, frame) -> None:
        pytest.fail(
            f"{item.nodeid} ran past the {seconds:g} s deadline of every test (tests/deadline.py)"
        )

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds + 60, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)
