"""What a user installs: the wheel, into a fresh virtual environment, outside the repository.

``pip install arcgis-notebook-mock`` serves the emulator and brings no test
tool; the kit's pytest plugin, registered for every pytest run, does not
break one that lacks the kit's tools; ``pip install 'arcgis-notebook-mock[kit]'``
gives ``nbmock verify``, whose report marks the ledger's rows from the copy
of the ledger the package carries. Dependencies come from pip's cache or
the package index, as a user's would. About 2 minutes, so not in the
default run: ``make test-packaging`` (and ``.ci/run``) runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.cli import KIT_EXTRA_MISSING
from tests.conftest import REPO
from tests.nbmock_process import NbmockProcess

TEST_TOOLS = {"pytest", "hypothesis", "schemathesis"}


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env or clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without its virtual environment, paths or credentials."""
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTEST_", "ARCGIS_", "NBMOCK_")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return {**kept, "PYTHONUNBUFFERED": "1", **extra}


def installed(python: Path, cwd: Path) -> set[str]:
    listed = run(python, "-m", "pip", "list", "--format=freeze", cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    return {line.split("==")[0].lower() for line in listed.stdout.split()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-w", out, cwd=out)
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = out.glob("arcgis_notebook_mock-*.whl")
    return path


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> Path:
    """A user's working directory: nothing of the repository in it or above it."""
    return tmp_path_factory.mktemp("user")


@pytest.fixture(scope="module")
def python(wheel: Path, user: Path) -> Path:
    made = run(sys.executable, "-m", "venv", user / "venv", cwd=user)
    assert made.returncode == 0, made.stderr
    python = user / "venv" / "bin" / "python"
    done = run(python, "-m", "pip", "install", "--quiet", wheel, cwd=user)
    assert done.returncode == 0, done.stderr[-3000:]
    return python


@pytest.mark.slow
@pytest.mark.packaging
def test_installed_emulator_then_kit_from_outside_the_repository(
    python: Path, wheel: Path, user: Path
):
    # The base install: an emulator, no test tools, and verify says what it lacks.
    assert not installed(python, user) & TEST_TOOLS
    server = NbmockProcess(
        "--state", str(user / "state.sqlite3"), python=str(python), cwd=str(user)
    )
    try:
        without_kit = run(python, "-m", "mockserver", "verify", "--target", server.base, cwd=user)
        assert without_kit.returncode == 2
        assert KIT_EXTRA_MISSING in without_kit.stderr

        # pytest alone, without Hypothesis: the kit's plugin loads and stays out of the way.
        assert run(python, "-m", "pip", "install", "--quiet", "pytest", cwd=user).returncode == 0
        (user / "test_theirs.py").write_text("def test_theirs():\n    assert 1 + 1 == 2\n")
        theirs = run(
            python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_theirs.py", cwd=user
        )
        assert theirs.returncode == 0, theirs.stdout[-3000:] + theirs.stderr[-3000:]
        assert "1 passed" in theirs.stdout

        # The kit extra: nbmock verify against the served emulator, its report marking the ledger.
        kit = run(python, "-m", "pip", "install", "--quiet", f"{wheel}[kit]", cwd=user)
        assert kit.returncode == 0, kit.stderr[-3000:]
        assert installed(python, user) >= TEST_TOOLS
        report = user / "report"
        verify = run(
            python, "-m", "mockserver", "verify", "--target", server.base, "--allow-writes",
            "--pause", "0", "--max-examples", "2", "--report", report,
            "-k", "wire_checks or token_checks or copy_is_readable or system_runtime or openapi",
            cwd=user,
            env=clean_environment(ARCGIS_USERNAME="admin", ARCGIS_PASSWORD="admin1234"),
        )  # fmt: skip
    finally:
        server.stop()
    output = verify.stdout + verify.stderr
    assert verify.returncode == 0, output[-4000:]
    assert str(REPO) not in output  # the installed copy ran, not the repository's
    markdown = (report / "report.md").read_text()
    assert "Ledger not found" not in markdown
    assert "**agrees (emulator)**" in _row(markdown, "W6")
    assert "**agrees (emulator)**" in _row(markdown, "D2")
    assert "contract_reads_match_the_schema" in markdown


def _row(markdown: str, row_id: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| {row_id} |"))
