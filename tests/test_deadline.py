"""The deadline every test has (tests/deadline.py): a test that would wait forever fails."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

ENDLESS = """
import threading, time

def test_waits_on_a_loop_a_bug_made_endless():
    while True:
        time.sleep(0.05)

def test_waits_on_a_thread_that_never_ends():
    threading.Thread(target=threading.Event().wait, daemon=True).start()
    threading.Event().wait()

def test_after_them_a_test_runs_as_usual():
    assert True
"""


def test_a_test_that_would_wait_forever_fails_at_its_deadline_and_the_run_goes_on(tmp_path):
    (tmp_path / "test_endless.py").write_text(ENDLESS)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.deadline", "-q", "-p", "no:cacheprovider",
         "-o", "addopts=", "--rootdir", str(tmp_path), str(tmp_path / "test_endless.py")],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "NBMOCK_TEST_DEADLINE": "2", "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 failed, 1 passed" in run.stdout
    assert run.stdout.count("ran past the 2 s deadline of every test") >= 2
