"""What a user installs: the wheel, into a fresh virtual environment, outside the repository.

The package is on no index, so the README's install lines (its blocks marked
``readme-test: packaging``) are what a user runs, from a copy of the clone:
the wheel built and installed as they say, and the clone installed directly.
The wheel without extras serves the emulator and brings no test tool; the
kit's pytest plugin, registered for every pytest run, does not break one that
lacks the kit's tools; with ``[kit]`` it gives ``nbmock verify``, whose report
marks the ledger's rows from the copy of the ledger the package carries.
Dependencies come from pip's cache or the package index, as a user's would.
About 4 minutes on a busy machine, so not in the default run:
``make test-packaging`` (and ``.ci/run``) runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mockserver.cli
from contracts.cli import kit_extra_missing
from tests.conftest import REPO
from tests.nbmock_process import NbmockProcess
from tests.readme_blocks import packaging_blocks

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


def readme_install_lines(*, builds_a_wheel: bool) -> list[str]:
    """The README's install commands: those of the block that builds a wheel, or of the other."""
    blocks = [b for b in packaging_blocks() if ("pip wheel" in b.code) == builds_a_wheel]
    assert len(blocks) == 1, "README.md: one packaging block from a clone, one with a wheel"
    lines = [line.split("#", 1)[0].strip() for line in blocks[0].code.splitlines()]
    return [line for line in lines if line]


def run_readme_lines(lines: list[str], *, venv_bin: Path, cwd: Path):
    """The lines in a shell whose ``pip`` is ``venv_bin``'s, as in a user's activated venv."""
    path = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
    return run("bash", "-c", script, cwd=cwd, env=clean_environment(PATH=path))


@pytest.mark.parametrize("kit", ["absent", "without its tools"])
def test_a_missing_kit_is_named_with_the_readmes_install_line(kit, monkeypatch, capsys):
    """The package is on no index, so ``pip install 'arcgis-notebook-mock[kit]'`` finds
    nothing: what ``nbmock verify`` says to run must be the README's install line."""
    (from_a_clone,) = readme_install_lines(builds_a_wheel=False)
    if kit == "absent":
        monkeypatch.setattr(mockserver.cli, "entry_points", lambda group: [])
    else:
        monkeypatch.setitem(sys.modules, "schemathesis", None)
    assert mockserver.cli.main(["verify", "--target", "http://127.0.0.1:9/arcgis"]) == 2
    said = capsys.readouterr().err
    assert from_a_clone in said, said
    assert "pip install 'arcgis-notebook-mock" not in said


def test_a_database_state_without_the_postgres_extra_says_so_before_starting(monkeypatch, capsys):
    """Without psycopg, ``--state postgresql://`` printed the banner and then died in a
    ModuleNotFoundError traceback; it now names the extra, and never the password."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if never installed
    url = "postgresql://nbmock:hunter2@127.0.0.1:1/nbmock"
    with pytest.raises(SystemExit) as stopped:
        mockserver.cli.main(["serve", "--port", "1", "--state", url])
    said = str(stopped.value.code)
    assert "[postgres]" in said and "pip install './[postgres]'" in said, said
    assert "hunter2" not in said and "Traceback" not in said
    assert capsys.readouterr().out == ""  # nothing claims to be serving


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """What a fresh clone holds: the tracked files and new ones not ignored, nothing built."""
    copy = tmp_path_factory.mktemp("clone") / "arcgis-notebook-mock"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    )  # fmt: skip
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(source.read_bytes())
    return copy


@pytest.fixture(scope="module")
def wheel(clone: Path) -> Path:
    """The wheel, built by the README's own command in the clone's root."""
    builds = [
        line for line in readme_install_lines(builds_a_wheel=True) if "pip install" not in line
    ]
    built = run_readme_lines(builds, venv_bin=Path(sys.executable).parent, cwd=clone)
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = (clone / "dist").glob("arcgis_notebook_mock-*.whl")
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
    python: Path, wheel: Path, user: Path, clone: Path
):
    # The base install: an emulator, no test tools, and verify says what it lacks.
    assert not installed(python, user) & TEST_TOOLS
    server = NbmockProcess(
        "--state", str(user / "state.sqlite3"), python=str(python), cwd=str(user)
    )
    try:
        without_kit = run(python, "-m", "mockserver", "verify", "--target", server.base, cwd=user)
        assert without_kit.returncode == 2
        assert kit_extra_missing() in without_kit.stderr

        # pytest alone, without Hypothesis: the kit's plugin loads and stays out of the way.
        assert run(python, "-m", "pip", "install", "--quiet", "pytest", cwd=user).returncode == 0
        (user / "test_theirs.py").write_text("def test_theirs():\n    assert 1 + 1 == 2\n")
        theirs = run(
            python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_theirs.py", cwd=user
        )
        assert theirs.returncode == 0, theirs.stdout[-3000:] + theirs.stderr[-3000:]
        assert "1 passed" in theirs.stdout

        # The kit extra: nbmock verify against the served emulator, its report marking the ledger.
        # The README's install line, which names the wheel: it must be the file built.
        installs = [
            line for line in readme_install_lines(builds_a_wheel=True) if "pip install" in line
        ]
        kit = run_readme_lines(installs, venv_bin=python.parent, cwd=clone)
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


@pytest.mark.slow
@pytest.mark.packaging
def test_readme_install_from_a_clone_gives_the_kit(clone: Path, tmp_path: Path):
    """``pip install './[kit]'`` in the clone's root: the package and the kit, usable elsewhere."""
    made = run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = tmp_path / "venv" / "bin" / "python"
    done = run_readme_lines(
        readme_install_lines(builds_a_wheel=False), venv_bin=python.parent, cwd=clone
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert installed(python, tmp_path) >= TEST_TOOLS | {"arcgis-notebook-mock"}
    helped = run(python, "-m", "mockserver", "verify", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert "--allow-writes" in helped.stdout
    where = run(python, "-c", "import mockserver; print(mockserver.__file__)", cwd=tmp_path)
    assert str(REPO) not in where.stdout and str(clone) not in where.stdout  # installed, not linked


def _row(markdown: str, row_id: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| {row_id} |"))
