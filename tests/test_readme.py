"""The README's commands, run as written against emulators this test serves.

Every ``sh`` and ``python`` block of README.md is meant to run, section by
section in order (a section's consecutive shell blocks share one shell, so
``$TOKEN`` and ``$ID`` carry on). The only changes made to a block are the ones
a reader makes without thinking: the lines that start a server (``make serve``,
``nbmock serve``) are left out, because this test serves the emulator (with the
``--flavour`` and ``--release`` those lines choose), and the
README's ports (8080, and 8443 for TLS) become the free ports it serves on.
A block that cannot run here (Docker, a real Enterprise, a shared host) says so
in the README with ``<!-- readme-test: skip: <reason> -->`` just before it, and one
that installs the package with ``<!-- readme-test: packaging -->`` (tests/test_packaging.py
runs those); the test prints the reason, so a new block is run unless someone
writes down why not (tests/readme_blocks.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.nbmock_process import NbmockProcess
from tests.readme_blocks import Block, readme_blocks

STARTS_A_SERVER = re.compile(r"^\s*(make serve|(\.venv/bin/)?nbmock serve)\b")
#: What a left-out server line chooses that the test's server must choose too.
SERVER_CHOICE = re.compile(r"(--flavour|--release)[ =]([\w.-]+)")
RUNNABLE = {"sh", "python"}
#: Blocks that take about a minute: still in the default suite and in CI (`slow`).
SLOW_SECTIONS = {"The OpenAPI contract, and Schemathesis against it", "The contract kit: CI use"}
#: A whole run of Schemathesis or of the kit on a loaded 2-core machine, with room.
TIMEOUT_SECONDS = 600


BLOCKS = [block for block in readme_blocks() if block.language in RUNNABLE]
SECTIONS = list(dict.fromkeys(block.section for block in BLOCKS))


def test_the_readme_has_the_blocks_this_test_runs():
    """The parser finds what a reader sees: a change of layout must not skip the check."""
    assert "Talking to it with curl" in SECTIONS
    assert "Embedding in tests" in SECTIONS
    assert sum(block.skip is None for block in BLOCKS) >= 8
    assert all(block.code.strip() for block in BLOCKS)


def as_served(code: str, http: NbmockProcess | None, tls: NbmockProcess | None) -> str:
    kept = [line for line in code.splitlines() if not STARTS_A_SERVER.match(line)]
    code = "\n".join(kept) + "\n"
    if http is not None:
        code = re.sub(r"(127\.0\.0\.1|localhost):8080\b", rf"\g<1>:{http.port}", code)
    if tls is not None:
        code = code.replace("127.0.0.1:8443", f"127.0.0.1:{tls.port}")
    return code


def server_choices(code: str) -> list[str]:
    """``--flavour`` and ``--release`` as the section's server lines give them (before any
    comment): the section's commands talk to that deployment."""
    chosen: dict[str, str] = {}
    for line in code.splitlines():
        if STARTS_A_SERVER.match(line):
            chosen.update(SERVER_CHOICE.findall(line.split("#", 1)[0]))
    return [word for option in chosen.items() for word in option]


#: ``make schemathesis`` as written, over HTTP, every operation and check, but five examples
#: each instead of the 25 of schemathesis.toml: the depth of the run is tests/test_contract.py's
#: (in process, and ``make contract-deep``); here the commands must work as a reader types them.
SCHEMATHESIS_DEPTH = {"ST_ARGS": "--max-examples 5"}


def _environment() -> dict[str, str]:
    """A reader's shell: the project's .venv first on PATH, no credentials of ours."""
    bin_dir = str(Path(sys.executable).parent)
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("ARCGIS_", "NBMOCK_"))}
    return {**kept, **SCHEMATHESIS_DEPTH, "PATH": f"{bin_dir}{os.pathsep}{kept.get('PATH', '')}"}


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{command[:2]} did not finish in {TIMEOUT_SECONDS} s: {expired.stdout!r}")


def run_block(block: Block, code: str, cwd: Path, workdir: Path, index: int) -> str:
    """Run one block (or a section's consecutive shell blocks); return what it printed."""
    if block.language == "sh":
        script = workdir / f"block{index}.sh"
        script.write_text("set -euo pipefail\n" + code)
        done = _run(["bash", str(script)], cwd)
    elif re.search(r"^def test_", code, re.MULTILINE):
        test_file = workdir / f"test_readme_block{index}.py"
        test_file.write_text(code)
        done = _run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
            workdir,
        )
    else:
        script = workdir / f"block{index}.py"
        script.write_text(code)
        done = _run([sys.executable, str(script)], workdir)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"README.md line {block.line} failed:\n{code}\n{output[-6000:]}"
    return output


def _runs(section: str) -> list[tuple[Block, str]]:
    """The section's runnable blocks, consecutive shell blocks joined into one script."""
    joined: list[tuple[Block, str]] = []
    for block in (b for b in BLOCKS if b.section == section and b.skip is None):
        if joined and block.language == "sh" and joined[-1][0].language == "sh":
            joined[-1] = (joined[-1][0], joined[-1][1] + block.code)
        else:
            joined.append((block, block.code))
    return joined


def _skipped(section: str) -> list[str]:
    return [f"README.md line {b.line}: {b.skip}" for b in BLOCKS if b.section == section and b.skip]


def _params() -> list:
    return [
        pytest.param(section, id=section, marks=[pytest.mark.slow] * (section in SLOW_SECTIONS))
        for section in SECTIONS
    ]


@pytest.mark.parametrize("section", _params())
def test_readme_section_runs_as_written(section, tmp_path, capsys):
    runs = _runs(section)
    for reason in _skipped(section):
        with capsys.disabled():
            print(f"\nnot run: {reason}")
    if not runs:
        pytest.skip("; ".join(_skipped(section)))
    code = "".join(code for _block, code in runs)
    if "from arcgis" in code:
        pytest.importorskip("arcgis.gis", reason="the ArcGIS API for Python is not installed")
    needs_make = re.search(r"^\s*make ", as_served(code, None, None), re.MULTILINE)
    if needs_make and not (REPO / ".venv" / ".installed-test").exists():
        pytest.skip("make would first build .venv: run `make .venv/.installed-test`")
    chosen = server_choices(code)
    http = (
        NbmockProcess("--state", str(tmp_path / "http.sqlite3"), *chosen)
        if "8080" in code
        else None
    )
    tls = (
        NbmockProcess("--tls", "--state", str(tmp_path / "tls.sqlite3")) if "8443" in code else None
    )
    try:
        outputs = []
        for index, (block, code) in enumerate(runs):
            # `make` targets run from the clone, as the README says; anything else from a
            # directory of its own, so a report it writes (`--report out/`) stays out of the clone.
            cwd = REPO if re.search(r"^\s*make ", code, re.MULTILINE) else tmp_path
            outputs.append(run_block(block, as_served(code, http, tls), cwd, tmp_path, index))
        if http is not None:
            # Nothing the README runs locks the account it signs in with (T15): a
            # second run of the same commands must be able to sign in.
            assert http.token()
    finally:
        for server in (http, tls):
            if server is not None:
                server.stop()
    printed = "\n".join(outputs)
    if section == "The OpenAPI contract, and Schemathesis against it":
        _assert_schemathesis_read_every_link_as_json(printed)
    elif section not in SLOW_SECTIONS:
        # ArcGIS refuses with HTTP 200, so curl exits 0 on a refusal: the answers must say success.
        for answer in _json_answers(printed):
            assert answer.get("status") != "error" and "error" not in answer, answer


def _json_answers(printed: str) -> list[dict]:
    answers, decoder, index = [], json.JSONDecoder(), 0
    while (start := printed.find("{", index)) != -1:
        try:
            value, index = decoder.raw_decode(printed, start)
        except ValueError:
            index = start + 1
            continue
        if isinstance(value, dict):
            answers.append(value)
    return answers


def _assert_schemathesis_read_every_link_as_json(printed: str) -> None:
    """Only refused copies may leave a link unresolved: never a page or a success.

    A "Failed to extract data" note shows the answer it could not read; before
    the hooks asked for ``f=json`` these were HTML pages (W1).
    """
    assert "No issues found" in printed, printed[-4000:]
    notes = printed.split("Failed to extract data from response:", 1)
    if len(notes) == 1:
        return
    section = notes[1].split("=====", 1)[0]
    assert "<!doctype html>" not in section.lower(), section[:4000]
    cases = re.split(r"\n\s*\d+\. Test Case ID: \S+\n", section)[1:]
    for case in cases:
        answers = _json_answers(case)
        assert answers and answers[-1].get("status") == "error", case[:4000]


def test_the_readmes_serve_table_names_every_option_of_nbmock_serve():
    """The `nbmock serve` table is where a newcomer looks for an option: one it lacks
    (--profile, --max-sandboxes and --lockout-attempts did) is found only in --help."""
    import argparse

    from mockserver.cli import _serve_parser

    commands = argparse.ArgumentParser().add_subparsers()
    _serve_parser(commands)
    (serve,) = commands.choices.values()
    options = {
        option
        for action in serve._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    readme = (REPO / "README.md").read_text()
    table = readme.split("## `nbmock serve`", 1)[1].split("\n\n", 2)[1]
    first_cells = re.findall(r"^\| (.*?) \|", table, re.MULTILINE)[1:]  # past the heading
    named = {option for cell in first_cells for option in re.findall(r"--[a-z-]+", cell)}
    assert options - named == set(), "README.md's `nbmock serve` table lacks these"
    assert named - options == set(), "README.md's `nbmock serve` table names no such option"
