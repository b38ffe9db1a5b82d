"""Capture a deployment, serve the capture, and prove there is no difference: through real servers.

The foreign deployment is ``nbmock serve --profile tests/data/foreign-deployment.json``:
other runtime ids, names, limits and manifests, another release and build, other
portal facts and other refusal wording than every default. It stands in for a
customer's Enterprise; the kit reaches every server here only over HTTP, with
credentials from the environment, as a CI job would.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.nbmock_process import NbmockProcess

FOREIGN = Path(__file__).parent / "data" / "foreign-deployment.json"
FOREIGN_DATA = json.loads(FOREIGN.read_text())
#: A user whose name and password must appear nowhere in a profile.
USERS = """
[users.capturer-7q]
password = "capture-secret-pw-91"
role = "Administrator"
"""
ENV = {
    "ARCGIS_USERNAME": "capturer-7q",
    "ARCGIS_PASSWORD": "capture-secret-pw-91",
    "PYTHONUNBUFFERED": "1",
}


def nbmock(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **ENV},
    )


@pytest.fixture(scope="module")
def users_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("capture") / "users.toml"
    path.write_text(USERS)
    return str(path)


@pytest.fixture(scope="module")
def foreign(users_file):
    server = NbmockProcess("--profile", str(FOREIGN), "--users", users_file, "--workers", "1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def captured(foreign, tmp_path_factory) -> Path:
    """The foreign deployment captured with writes allowed, as ``nbmock capture`` writes it."""
    out = tmp_path_factory.mktemp("capture") / "staging.json"
    done = nbmock(
        "capture", "--target", foreign.base, "--out", str(out), "--allow-writes", "--pause", "0"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def captured_read_only(foreign, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("capture") / "read-only.json"
    done = nbmock("capture", "--target", foreign.base, "--out", str(out), "--pause", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not captured: refused copies and updates" in done.stdout
    return out


@pytest.fixture(scope="module")
def serving_capture(captured, users_file):
    server = NbmockProcess("--profile", str(captured), "--users", users_file, "--workers", "1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain(users_file):
    server = NbmockProcess("--users", users_file, "--workers", "1")
    yield server
    server.stop()


def runtimes(server: NbmockProcess) -> list[dict]:
    token = server.token(ENV["ARCGIS_USERNAME"], ENV["ARCGIS_PASSWORD"])
    return requests.get(
        f"{server.base}/admin/notebooks/runtimes", params={"f": "json", "token": token}, timeout=10
    ).json()["runtimes"]


def test_capture_records_release_runtimes_manifests_portal_and_wording(captured):
    profile = json.loads(captured.read_text())
    assert profile["flavour"] == "kubernetes"
    release = profile["release"]
    assert (release["fullVersion"], release["enterpriseBuild"]) == ("12.0.1", "59314")
    assert release["currentRuntimeVersion"] == "13.1"
    assert "upgrade" not in release["operations"] and "copy" in release["operations"]
    foreign_system = FOREIGN_DATA["runtimes"]["system"]
    assert [e["runtime"]["name"] for e in profile["runtimes"]["system"]] == [
        e["runtime"]["name"] for e in foreign_system
    ]
    assert [e["manifest"] for e in profile["runtimes"]["system"]] == [
        e["manifest"] for e in foreign_system
    ]
    assert profile["portal"]["self"]["portalHostname"] == "<host>/<context>"
    assert profile["portal"]["servers"][0]["adminUrl"] == "<origin>/<context>/admin"
    refusals = profile["refusals"]
    assert refusals["unknown_runtime"]["messages"] == ["Runtime with id '{id}' was not found."]
    assert refusals["unknown_runtime"]["code"] == 400
    assert refusals["bad_unit"]["messages"] == ["'{value}' is not a valid unit for '{name}'."]
    assert refusals["unknown_format"]["contentType"] == "application/json;charset=UTF-8"
    assert set(refusals) == set(FOREIGN_DATA["refusals"]) | {"not_a_number"}


def test_every_entry_says_where_and_when_it_was_captured_and_by_which_kit(captured, foreign):
    profile = json.loads(captured.read_text())
    entries = [profile, *(profile[s] for s in ("release", "runtimes", "portal"))]
    entries += profile["refusals"].values()
    for entry in entries:
        stamp = entry["captured"]
        assert stamp["from"] == foreign.base
        assert stamp["at"].startswith("20") and stamp["kit"]


def test_profile_holds_no_token_password_or_user_name(captured, foreign):
    text = captured.read_text()
    assert ENV["ARCGIS_PASSWORD"] not in text
    assert ENV["ARCGIS_USERNAME"] not in text
    assert "token=" not in text and '"token"' not in text
    assert "user" not in json.loads(text)["portal"]["self"]


def test_user_name_is_kept_only_when_asked(foreign, tmp_path):
    out = tmp_path / "named.json"
    done = nbmock(
        "capture", "--target", foreign.base, "--out", str(out), "--record-username", "--pause", "0"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["captured"]["as"] == ENV["ARCGIS_USERNAME"]
    assert ENV["ARCGIS_PASSWORD"] not in out.read_text()


def test_capture_with_writes_leaves_nothing_behind(captured, foreign):
    assert [r["id"] for r in runtimes(foreign)] == [
        e["runtime"]["id"] for e in FOREIGN_DATA["runtimes"]["system"]
    ]


def test_served_capture_against_the_captured_deployment_shows_no_difference(
    serving_capture, foreign, tmp_path
):
    done = nbmock(
        "verify",
        "--target",
        serving_capture.base,
        "--compare",
        foreign.base,
        "--allow-writes",
        "--pause",
        "0",
        "--report",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 difference(s) between" in done.stdout
    assert "0 difference(s) on what the profile could not capture" in done.stdout
    assert "only writes would show them): C6," in done.stdout
    assert "0 difference(s)" in (tmp_path / "compare.md").read_text()


def test_a_sandbox_of_the_capture_under_its_own_context_shows_no_difference(
    captured, plain, foreign
):
    """A sandbox answers at /sb-<id>, the deployment at /arcgis: where each was reached is
    not a difference, as the profile records it (<origin>/<context>)."""
    made = requests.post(
        f"{plain.origin}/__mock__/sandboxes",
        json={"profile": json.loads(captured.read_text())},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    sandbox = made.json()
    try:
        assert "/sb-" in sandbox["url"]
        done = nbmock(
            "verify", "--target", sandbox["url"], "--compare", foreign.base, "--pause", "0"
        )
    finally:
        requests.delete(sandbox["controlUrl"], timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 difference(s) between" in done.stdout


def test_plain_emulator_against_the_foreign_deployment_shows_the_differences(plain, foreign):
    done = nbmock("verify", "--target", plain.base, "--compare", foreign.base, "--pause", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    for seen in (
        "'Contoso Python 3 Lite'",  # runtime names
        "'0c0ffee0-1111-4aaa-8bbb-000000000001'",  # runtime ids
        "body.maxCpu",  # limits
        "body.libraries",  # manifests
        "'59314' instead of '61400'",  # build
        "'12.0.1' instead of '12.1.0'",  # release
        "Runtime with id '{made-up}' was not found.",  # refusal wording
        "body.code: 400 instead of 404",  # refusal code
        "content type 'application/json' instead of 'text/plain'",
        "'Contoso GIS'",  # portal
    ):
        assert seen in out, seen
    assert "(no profile)" in out


def test_read_only_capture_lists_what_only_writes_show_apart(
    captured_read_only, foreign, users_file
):
    profile = json.loads(captured_read_only.read_text())
    assert "bad_unit" not in profile["refusals"]
    assert "needs --allow-writes" in profile["captured"]["notCaptured"]
    server = NbmockProcess(
        "--profile", str(captured_read_only), "--users", users_file, "--workers", "1"
    )
    try:
        done = nbmock("verify", "--target", server.base, "--compare", foreign.base, "--pause", "0")
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 difference(s) between" in done.stdout
    apart = done.stdout.split("could not capture (listed, not failed):")[1]
    assert "'maxMemoryUnit'" in apart and "(not captured: bad_unit)" in apart


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_official_client_lists_the_captured_runtimes_with_their_manifests(captured, users_file):
    from tests.arcgis_client import GIS

    server = NbmockProcess("--tls", "--profile", str(captured), "--users", users_file)
    try:
        gis = GIS(server.base, ENV["ARCGIS_USERNAME"], ENV["ARCGIS_PASSWORD"], verify_cert=False)
        manager = gis.admin.notebooks.notebooks.runtime_manager
        assert manager.current_runtime_version == "13.1"
        seen = {r.properties["name"]: r for r in manager.runtimes}
        profile = json.loads(captured.read_text())
        for entry in profile["runtimes"]["system"]:
            runtime = seen[entry["runtime"]["name"]]
            assert runtime.properties["id"] == entry["runtime"]["id"]
            assert runtime.properties["maxCpu"] == entry["runtime"]["maxCpu"]
            assert runtime.manifest == entry["manifest"]["libraries"]
    finally:
        server.stop()


def test_readme_three_commands_take_a_deployment_to_a_green_compare(foreign, users_file, tmp_path):
    """The README's "Make it match your Enterprise" commands, as written, with its staging
    URL, file names and port replaced by the foreign deployment's and this test's."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Make it match your Enterprise", 1)[1].split("\n## ", 1)[0]
    commands = [
        shlex.split(line.split("#", 1)[0].rstrip(" &"))
        for line in section.split("```sh", 1)[1].split("```", 1)[0].splitlines()
        if line.startswith("nbmock ")
    ]
    assert [command[1] for command in commands] == ["capture", "serve", "verify"]
    places = {
        "https://staging.example.com/arcgis": foreign.base,
        "staging-profile.json": str(tmp_path / "staging-profile.json"),
        "kit-users.toml": users_file,
    }
    capture, serve, verify = [[places.get(word, word) for word in c[1:]] for c in commands]
    assert nbmock(*capture).returncode == 0
    server = NbmockProcess(*serve[1:])
    try:
        verify = [word.replace("127.0.0.1:8080", f"127.0.0.1:{server.port}") for word in verify]
        done = nbmock(*verify)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 difference(s) between" in done.stdout
