"""``nbmock verify`` and ``nbmock sweep`` against ``nbmock serve`` processes, as a CI job runs them.

The served emulators stand in for a remote ArcGIS Enterprise: the kit
reaches them only over HTTP, with credentials from the environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import SEED_COPY, STANDARD_ID
from tests.kit_servers import GatedProxy
from tests.nbmock_process import NbmockProcess

USERS = """
[users.admin]
password = "admin1234"
role = "Administrator"

[users.viewer]
password = "viewer1234"
role = "Viewer"
"""
ENV = {
    "ARCGIS_USERNAME": "admin",
    "ARCGIS_PASSWORD": "admin1234",
    "ARCGIS_LIMITED_PASSWORD": "viewer1234",
    "PYTHONUNBUFFERED": "1",
}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("kit") / "users.toml"
    path.write_text(USERS)
    return str(path)


@pytest.fixture(scope="module")
def remote(users_file):
    server = NbmockProcess("--users", users_file)
    yield server
    server.stop()


def nbmock(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or {**os.environ, **ENV},
    )


def environment_without_credentials(**extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("ARCGIS_", "NBMOCK_"))}
    return {**kept, "PYTHONUNBUFFERED": "1", **extra}


def start_nbmock(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mockserver", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **ENV},
    )


def copies(server: NbmockProcess, prefix: str = "") -> list[dict]:
    listed = requests.get(
        f"{server.base}/admin/notebooks/runtimes",
        params={"f": "json", "token": server.token()},
        timeout=30,
    ).json()["runtimes"]
    return [r for r in listed if r["copied"] and r["name"].startswith(prefix)]


def wait_for_copies(server: NbmockProcess, prefix: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if copies(server, prefix):
            return
        time.sleep(0.05)
    pytest.fail("the kit never created a runtime")


def test_verify_with_writes_holds_and_leaves_nothing(remote, tmp_path):
    report = tmp_path / "report"
    token = remote.token()
    result = nbmock(
        "verify", "--target", remote.base, "--allow-writes", "--pause", "0",
        "--max-examples", "3", "--limited-username", "viewer", "--report", str(report),
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "passed" in output and " failed" not in output
    assert copies(remote, "nbmock-kit-") == []
    markdown = (report / "report.md").read_text()
    # A served emulator only agrees with its own inference; it never confirms it.
    assert "**agrees (emulator)**" in _row(markdown, "C6")
    # Emulator-only checks reach the served emulator's /__mock__/: its clock, its state.
    assert "**agrees (emulator)**" in _row(markdown, "D2")
    assert "**agrees (emulator)**" in _row(markdown, "T10")
    assert "refuted" not in markdown and "**confirmed**" not in markdown
    # The standalone Notebook Server's checks are not run against Kubernetes, and say why.
    assert (
        "- flavour: ArcGIS Enterprise on Kubernetes (the admin root names fullVersion)" in markdown
    )
    n7 = _row(markdown, "N7")
    assert "**not run**" in n7 and "the target is ArcGIS Enterprise on Kubernetes" in n7
    assert "flavour ArcGIS Enterprise on Kubernetes" in output
    assert (report / "junit.xml").read_text().count("<testcase") > 50
    for secret in ("admin1234", "viewer1234", token.split(".")[0]):
        assert secret not in output and secret not in markdown


def test_verify_against_a_notebook_server_names_it_and_runs_only_its_checks(users_file, tmp_path):
    """The same kit against ``nbmock serve --flavour notebook-server``: it judges the
    flavour, its standalone checks hold (register, restore on the emulator), the
    Kubernetes checks are not run rather than failed, and nothing is left behind."""
    server = NbmockProcess("--flavour", "notebook-server", "--users", users_file)
    report = tmp_path / "report"
    try:
        result = nbmock(
            "verify", "--target", server.base, "--allow-writes", "--pause", "0",
            "--max-examples", "2", "--limited-username", "viewer", "--report", str(report),
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        listed = requests.get(
            f"{server.base}/admin/notebooks/runtimes",
            params={"f": "json", "token": server.token()},
            timeout=30,
        ).json()["runtimes"]
        left = [runtime for runtime in listed if not runtime["esriProvidedRuntime"]]
    finally:
        server.stop()
    assert "flavour ArcGIS Notebook Server (the admin root names version and resources)" in output
    assert left == []
    markdown = (report / "report.md").read_text()
    assert "refuted" not in markdown
    for row in ("N1", "N4", "N7", "N8", "N13", "N16", "N17", "N18"):
        assert "**agrees (emulator)**" in _row(markdown, row), row
    c6 = _row(markdown, "C6")
    assert "**not run**" in c6 and "a check of ArcGIS Enterprise on Kubernetes" in c6


def test_verify_read_only_sends_no_write_that_could_succeed(remote, tmp_path):
    result = nbmock(
        "verify", "--target", remote.base, "--pause", "0", "--max-examples", "2",
        "--limited-username", "viewer", "-k", "copy_properties or token_checks",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "run with --allow-writes" in result.stdout or "SKIPPED" in result.stdout
    assert copies(remote, "nbmock-kit-") == []


MODES = {
    "read-only": ([], "read-only (a write is sent only where a refusal is expected)"),
    "writes": (["--allow-writes"], "writes allowed (runtimes named nbmock-kit-"),
}


@pytest.mark.parametrize("mode", MODES)
def test_verify_console_names_the_target_plainly_and_says_why_each_check_was_skipped(remote, mode):
    options, mode_line = MODES[mode]
    result = nbmock(
        "verify", "--target", remote.base, "--pause", "0", "--max-examples", "2", *options,
        "-k", "token_without_privilege or undecryptable",
        env=environment_without_credentials(ARCGIS_USERNAME="admin", ARCGIS_PASSWORD="admin1234"),
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    header = output[output.index("contract kit\n") :].splitlines()[1:5]
    assert header[:3] == [
        f"  target:  {remote.base} (the nbmock emulator)",
        "  flavour: ArcGISEnterpriseOnKubernetes",
        "  release: 12.1.0",
    ], output[:3000]
    assert header[3].startswith(f"  mode:    {mode_line}"), output[:3000]
    skipped = [
        line for line in output.splitlines() if "test_token_without_privilege_is_403" in line
    ]
    assert skipped and "SKIPPED (no unprivileged user: give --limited-username" in skipped[0], (
        output
    )
    assert "Target(" not in output and "{'" not in output and "Credentials(" not in output


def test_verify_with_a_token_alone_passes_and_reports_sign_in_checks_not_run(remote, tmp_path):
    """A CI job that holds only ARCGIS_TOKEN: read-only, and nothing that signs in fails."""
    token = remote.token()
    report = tmp_path / "report"
    result = nbmock(
        "verify", "--target", remote.base, "--pause", "0", "--max-examples", "2",
        "--report", str(report),
        env=environment_without_credentials(ARCGIS_TOKEN=token),
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    markdown = (report / "report.md").read_text()
    needs = "not run (needs ARCGIS_USERNAME/ARCGIS_PASSWORD)"
    t4 = next(line for line in markdown.splitlines() if line.startswith("| T4 |"))
    assert "**not run**" in t4 and needs in t4
    assert "**not run**" in _row(markdown, "T10") and needs in markdown
    assert "**not run**" in _row(markdown, "C6")  # writes are off
    assert "refuted" not in markdown
    assert token not in output and token not in markdown


def test_emulator_only_checks_need_the_control_plane_and_its_token(users_file, tmp_path):
    """A control plane the kit cannot open (as on a real Enterprise): not run, not failed;
    given NBMOCK_CONTROL_TOKEN, the same checks run."""
    control_token = "kit-control-" + "c" * 16
    guarded = NbmockProcess("--users", users_file, "--control-token", control_token)
    credentials = {"ARCGIS_USERNAME": "admin", "ARCGIS_PASSWORD": "admin1234"}
    reports = {}
    try:
        for given in ("without", "with"):
            extra = {"NBMOCK_CONTROL_TOKEN": control_token} if given == "with" else {}
            result = nbmock(
                "verify", "--target", guarded.base, "--pause", "0", "--report",
                str(tmp_path / given), "-k", "system_runtime",
                env=environment_without_credentials(**credentials, **extra),
            )  # fmt: skip
            assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
            assert control_token not in result.stdout + result.stderr
            reports[given] = (tmp_path / given / "report.md").read_text()
    finally:
        guarded.stop()
    d2 = {given: _row(markdown, "D2") for given, markdown in reports.items()}
    assert "**not run**" in d2["without"] and "emulator only" in d2["without"]
    assert "**agrees (emulator)**" in d2["with"]


def clock_offset(server: NbmockProcess) -> float:
    return requests.get(f"{server.origin}/__mock__/clock", timeout=30).json()["offsetSeconds"]


def test_verify_puts_the_emulators_clock_back_run_after_run(remote):
    """Issue 24: each --allow-writes run left a served emulator's clock ~17 minutes ahead."""
    before = clock_offset(remote)
    for run in range(3):
        result = nbmock(
            "verify", "--target", remote.base, "--allow-writes", "--pause", "0",
            "--max-examples", "2", "-k", "expired_token_is_498 or expired_oauth_state_refused",
        )  # fmt: skip
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        assert "2 passed" in result.stdout, result.stdout[-3000:]
        # The offset is a float of seconds: equal to well under the millisecond it reports.
        assert clock_offset(remote) == pytest.approx(before, abs=1e-3), f"after run {run + 1}"


def clock_moved(method: str, path: str, status: int, body: bytes) -> bool:
    return method == "POST" and path.startswith("/__mock__/clock") and status == 200


@pytest.mark.parametrize("signalled", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_an_interrupted_verify_still_puts_the_clock_back(remote, signalled):
    """A signal while the kit waits on the request right after it moved the clock."""
    before = clock_offset(remote)
    with GatedProxy(remote.origin, hold_after=clock_moved) as proxy:
        run = start_nbmock(
            "verify", "--target", f"{proxy.origin}/arcgis", "--allow-writes", "--pause", "0",
            "-k", "expired_oauth_state_refused",
        )  # fmt: skip
        try:
            proxy.wait_until_holding()
            assert clock_offset(remote) != before  # the run is held with the clock moved
            run.send_signal(signalled)
            proxy.drop_held()
            output, _ = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate(timeout=30)
    assert run.returncode != 0, output[-3000:]
    assert clock_offset(remote) == pytest.approx(before, abs=1e-3), output[-3000:]
    assert "Traceback" not in output, output[-3000:]


def test_a_second_sigterm_while_the_clock_is_put_back_ends_and_says_it_was_left(remote):
    """TERM with the clock moved; the second TERM while cleanup's clock request hangs."""
    before = clock_offset(remote)
    with GatedProxy(remote.origin, hold_after=clock_moved) as proxy:
        run = start_nbmock(
            "verify", "--target", f"{proxy.origin}/arcgis", "--allow-writes", "--pause", "0",
            "-k", "expired_oauth_state_refused",
        )  # fmt: skip
        try:
            proxy.wait_until_holding()
            moved = clock_offset(remote) - before
            restoring = proxy.hold_next(lambda method, path: path.startswith("/__mock__/clock"))
            run.send_signal(signal.SIGTERM)
            proxy.drop_held()
            assert restoring.wait(120), "the kit never tried to put the clock back"
            run.send_signal(signal.SIGTERM)
            output, _ = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate(timeout=30)
            requests.post(
                f"{remote.origin}/__mock__/clock",
                json={"advance_seconds": before - clock_offset(remote)},
                timeout=30,
            ).raise_for_status()
    assert run.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "cleanup interrupted by a second Ctrl-C or SIGTERM" in output, output[-3000:]
    assert f"the emulator's clock is left {moved:g} s ahead" in output, output[-3000:]


def _row(markdown: str, row_id: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| {row_id} |"))


def copy_answered(method: str, path: str, status: int, body: bytes) -> bool:
    return method == "POST" and path.endswith("/copy") and b'"notebookRuntime"' in body


def test_interrupted_run_still_unregisters_what_it_created(remote):
    """SIGINT while the kit waits on the request right after a copy it made: not a race.

    The proxy holds that request until the signal is sent, so the run cannot
    finish first however loaded the machine; every wait has a deadline.
    """
    prefix = "nbmock-kit-interrupted-"
    with GatedProxy(remote.origin, hold_after=copy_answered) as proxy:
        run = start_nbmock(
            "verify", "--target", f"{proxy.origin}/arcgis", "--allow-writes", "--pause", "0",
            "--max-examples", "50", "--prefix", prefix, "-k", "lifecycle or copy_is_readable",
        )  # fmt: skip
        try:
            proxy.wait_until_holding()
            assert copies(remote, prefix), "the proxy held the run before it created anything"
            run.send_signal(signal.SIGINT)
            proxy.drop_held()
            output, _ = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate(timeout=30)
    assert run.returncode != 0, output[-3000:]
    assert copies(remote, prefix) == [], output[-3000:]
    assert "0 left behind" in output and "Traceback" not in output, output[-3000:]


def test_sweep_removes_leftovers_of_a_killed_run_and_nothing_else(remote):
    prefix = "nbmock-kit-killed-"
    run = start_nbmock(
        "verify", "--target", remote.base, "--allow-writes", "--pause", "0",
        "--max-examples", "50", "--prefix", prefix, "-k", "lifecycle",
    )  # fmt: skip
    wait_for_copies(remote, prefix, run)
    run.kill()
    run.communicate(timeout=30)
    token = remote.token()
    for name in (prefix + "left", "someone else's runtime"):
        requests.post(
            f"{remote.base}/admin/notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "name": name, "f": "json", "token": token},
            timeout=30,
        ).raise_for_status()
    leftovers = copies(remote, prefix)

    listed = nbmock(
        "sweep", "--target", remote.base, "--prefix", prefix, "--pause", "0", "--dry-run"
    )
    assert listed.returncode == 0
    assert all(runtime["id"] in listed.stdout for runtime in leftovers)
    assert len(copies(remote, prefix)) == len(leftovers)

    swept = nbmock("sweep", "--target", remote.base, "--prefix", prefix, "--pause", "0")
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert f"{len(leftovers)} unregistered" in swept.stdout
    assert copies(remote, prefix) == []
    assert [r["name"] for r in copies(remote)] == ["someone else's runtime"]
    refused = nbmock("sweep", "--target", remote.base, "--prefix", "someone", "--pause", "0")
    assert refused.returncode != 0
    assert [r["name"] for r in copies(remote)] == ["someone else's runtime"]


@pytest.fixture(scope="module")
def twin(users_file):
    server = NbmockProcess("--users", users_file)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def older_release(users_file):
    server = NbmockProcess("--users", users_file, "--release", "12.0")
    yield server
    server.stop()


def test_compare_between_equal_emulators_finds_no_difference(remote, twin, tmp_path):
    result = nbmock(
        "verify", "--target", remote.base, "--compare", twin.base, "--allow-writes",
        "--pause", "0", "--max-examples", "3", "--report", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 difference(s)" in result.stdout
    assert copies(remote, "nbmock-kit-") == copies(twin, "nbmock-kit-") == []


def test_compare_reports_each_difference_of_another_release(remote, older_release, tmp_path):
    result = nbmock(
        "verify", "--target", remote.base, "--compare", older_release.base, "--allow-writes",
        "--pause", "0", "--max-examples", "2", "--report", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:]
    assert "body.currentRuntimeVersion: '13.0' instead of '14.0'" in result.stdout
    assert "body.notebookRuntime.version: '13.0' instead of '14.0'" in result.stdout
    assert "body.currentVersion: int 12 instead of float 12.1" in result.stdout
    assert "difference(s)" in (tmp_path / "compare.md").read_text()
    assert copies(remote, "nbmock-kit-") == copies(older_release, "nbmock-kit-") == []


def test_record_writes_snapshots_that_replay(remote, tmp_path):
    from contracts import exchanges
    from contracts.target import Target
    from mockserver import create_app
    from mockserver.core.clock import Clock

    result = nbmock(
        "verify", "--target", remote.base, "--record", str(tmp_path), "--allow-writes",
        "--pause", "0", "--max-examples", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = tmp_path / "recorded.json"
    assert exchanges.replay(Target.in_process(create_app(clock=Clock())), recorded) == []
