"""Sandboxes: a whole deployment per caller at its own context, through a real ``nbmock serve``.

Two workers serve one state file, so a sandbox made through one worker must be
served by both: each check below sends enough requests to reach both.
"""

from __future__ import annotations

import concurrent.futures
import gc
import json
import os
import re
import subprocess
import sys
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from bench.reliability.sandbox_paths import (
    CONTROL_WRITES,
    run_sandbox_path_forms,
    send_following_redirects,
)
from mockserver.runtimes.releases import STANDARD_ID
from tests.nbmock_process import NbmockProcess

JSON = {"Content-Type": "application/json"}
COPY = {
    "name": "sandboxed",
    "minCpu": "1",
    "maxCpu": "2",
    "minMemory": "1",
    "minMemoryUnit": "g",
    "maxMemory": "2",
    "maxMemoryUnit": "g",
    "f": "json",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandboxes") / "state.sqlite3"
    process = NbmockProcess("--workers", "2", "--state", str(state), "--max-sandboxes", "5")
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def no_sandboxes_left(request):
    """Each test starts with none (the server holds at most five)."""
    if "server" in request.fixturenames:
        server = request.getfixturevalue("server")
        for item in _control(server, "GET", "sandboxes").json()["sandboxes"]:
            _control(server, "DELETE", f"sandboxes/{item['id']}")


def _control(server, method: str, path: str, body=None) -> requests.Response:
    data = None if body is None else json.dumps(body)
    return requests.request(
        method, f"{server.origin}/__mock__/{path}", data=data, headers=JSON, timeout=30
    )


def _create(server, **body) -> dict:
    answer = _control(server, "POST", "sandboxes", body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _token(url: str, username: str = "admin", password: str = "admin1234") -> dict:
    return requests.post(
        f"{url}/sharing/rest/generateToken",
        data={"username": username, "password": password, "f": "json"},
        timeout=30,
    ).json()


def _runtimes(url: str, token: str) -> dict:
    return requests.get(
        f"{url}/admin/notebooks/runtimes", params={"f": "json", "token": token}, timeout=30
    ).json()


def test_a_sandbox_is_a_whole_deployment_at_its_own_context(server):
    sandbox = _create(server, release="11.5", seed=7, ttl_seconds=600)
    assert set(sandbox) >= {"id", "context", "url", "expires"}
    assert sandbox["url"] == f"{server.origin}/{sandbox['context']}"
    token = _token(sandbox["url"])["token"]
    for _ in range(6):  # both workers
        listing = _runtimes(sandbox["url"], token)
        assert listing["currentRuntimeVersion"] == "12.0", listing  # 11.5's runtimes
        assert len(listing["runtimes"]) == 2
    main = _runtimes(server.base, server.token())
    assert main["currentRuntimeVersion"] == "14.0"


def test_tokens_are_valid_only_where_they_were_issued(server):
    first, second = _create(server), _create(server)
    main_token = server.token()
    first_token = _token(first["url"])["token"]
    for url, token in (
        (first["url"], main_token),
        (second["url"], first_token),
        (server.base, first_token),
    ):
        assert _runtimes(url, token)["code"] == 498
    assert "runtimes" in _runtimes(first["url"], first_token)


def test_copies_stay_in_their_sandbox(server):
    first, second = _create(server), _create(server)
    first_token = _token(first["url"])["token"]
    answer = requests.post(
        f"{first['url']}/admin/notebooks/runtimes/{STANDARD_ID}/copy",
        data={**COPY, "token": first_token},
        timeout=30,
    ).json()
    assert answer["status"] == "success"
    assert len(_runtimes(first["url"], first_token)["runtimes"]) == 3
    assert len(_runtimes(second["url"], _token(second["url"])["token"])["runtimes"]) == 2
    assert len(_runtimes(server.base, server.token())["runtimes"]) == 2


def test_each_sandbox_has_its_own_control_plane(server):
    sandbox = _create(server)
    sandbox_control = f"sandboxes/{sandbox['id']}"
    moved = _control(server, "POST", f"{sandbox_control}/clock", {"advance_seconds": 3600})
    assert moved.status_code == 200 and moved.json()["offsetSeconds"] == 3600
    assert _control(server, "GET", "clock").json()["offsetSeconds"] == 0
    fault = {"operation": "runtimes", "error": {"code": 500, "message": "boom"}, "times": 1}
    assert _control(server, "POST", f"{sandbox_control}/faults", fault).status_code == 200
    main_token = server.token()
    assert "runtimes" in _runtimes(server.base, main_token)  # the main deployment: no fault
    token = _token(sandbox["url"])["token"]
    assert _runtimes(sandbox["url"], token)["code"] == 500
    journal = _control(server, "GET", f"{sandbox_control}/journal").json()["entries"]
    assert journal and all(entry["path"].startswith(f"/{sandbox['context']}/") for entry in journal)


def test_a_deleted_sandbox_answers_404_everywhere(server):
    sandbox = _create(server)
    assert _control(server, "DELETE", f"sandboxes/{sandbox['id']}").json()["status"] == "success"
    for _ in range(4):
        gone = requests.get(f"{sandbox['url']}/sharing/rest/info", params={"f": "json"}, timeout=30)
        assert gone.status_code == 404
    assert _control(server, "GET", f"sandboxes/{sandbox['id']}").status_code == 404
    assert _control(server, "DELETE", f"sandboxes/{sandbox['id']}").status_code == 404
    listed = [item["id"] for item in _control(server, "GET", "sandboxes").json()["sandboxes"]]
    assert sandbox["id"] not in listed


def test_past_the_cap_a_create_is_429_and_expired_ones_make_room(server):
    made = [_create(server, ttl_seconds=60) for _ in range(5)]
    refused = _control(server, "POST", "sandboxes", {})
    assert refused.status_code == 429
    assert "at most 5 sandboxes" in refused.json()["messages"][0]
    # The main deployment's clock decides expiry.
    _control(server, "POST", "clock", {"advance_seconds": 61})
    try:
        gone = requests.get(f"{made[0]['url']}/sharing/rest/info", params={"f": "json"}, timeout=30)
        assert gone.status_code == 404
        assert _create(server)["id"]
    finally:
        _control(server, "POST", "clock", {"real": True})


@pytest.mark.parametrize(
    "body, words",
    [
        ({"release": "9.9"}, "'release' must be one of"),
        ({"seed": "7"}, "'seed' must be an integer"),
        ({"seed": 10**26}, "'seed' must be an integer from"),
        ({"release": ["12.1"]}, "'release' must be one of"),
        (
            {"users": {f"u{i}": {"password": "p", "role": "User"} for i in range(21)}},
            "at most 20 users; 'users' names 21",
        ),
        ({"ttl_seconds": 0}, "'ttl_seconds'"),
        ({"ttl_seconds": 10**9}, "'ttl_seconds'"),
        ({"users": {"dev": {"role": "Administrator"}}}, "'password' is required"),
        ({"colour": "red"}, "Unknown sandbox fields: colour"),
    ],
)
def test_a_bad_create_is_refused_and_makes_nothing(server, body, words):
    before = len(_control(server, "GET", "sandboxes").json()["sandboxes"])
    answer = _control(server, "POST", "sandboxes", body)
    assert answer.status_code == 400 and words in answer.json()["messages"][0]
    assert len(_control(server, "GET", "sandboxes").json()["sandboxes"]) == before


def test_a_sandbox_can_have_its_own_users(server):
    users = {"dev": {"password": "dev-secret-1", "role": "Administrator"}}
    sandbox = _create(server, users=users)
    assert _token(sandbox["url"], "dev", "dev-secret-1")["token"]
    assert _token(sandbox["url"])["error"]["code"] == 400  # the server's admin is not here
    assert "dev-secret-1" not in json.dumps(_control(server, "GET", "sandboxes").json())


def test_concurrent_sandboxes_never_see_each_others_writes(server):
    sandboxes = [_create(server) for _ in range(4)]
    tokens = {sandbox["id"]: _token(sandbox["url"])["token"] for sandbox in sandboxes}

    def copies(sandbox: dict, count: int) -> int:
        for index in range(count):
            answer = requests.post(
                f"{sandbox['url']}/admin/notebooks/runtimes/{STANDARD_ID}/copy",
                data={**COPY, "name": f"{sandbox['id']}-{index}", "token": tokens[sandbox["id"]]},
                timeout=30,
            )
            assert answer.status_code == 200 and answer.json()["status"] == "success"
        return count

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(copies, sandboxes, [1, 2, 3, 4]))
    for sandbox, count in zip(sandboxes, counts, strict=True):
        listed = _runtimes(sandbox["url"], tokens[sandbox["id"]])["runtimes"]
        copied = [runtime["name"] for runtime in listed if runtime["copied"]]
        assert len(copied) == count
        assert all(name.startswith(sandbox["id"]) for name in copied)


def test_sandbox_routes_keep_the_control_planes_rules(server):
    no_json = requests.post(f"{server.origin}/__mock__/sandboxes", data="{}", timeout=30)
    assert no_json.status_code == 415
    cross_site = requests.post(
        f"{server.origin}/__mock__/sandboxes",
        data="{}",
        headers={**JSON, "Sec-Fetch-Site": "cross-site"},
        timeout=30,
    )
    assert cross_site.status_code == 403


def test_max_sandboxes_zero_turns_them_off(tmp_path):
    process = NbmockProcess("--max-sandboxes", "0")
    try:
        answer = _control(process, "POST", "sandboxes", {})
        assert answer.status_code == 404
    finally:
        process.stop()


# --- the embedding API and the pytest fixture on a shared server -------------------


def test_running_with_a_url_makes_a_sandbox_and_removes_it(server):
    from mockserver.testing import running

    with running(url=server.base, release_name="12.0", seed=3) as emulator:
        assert "/sb-" in emulator.url
        token = emulator.token()
        listing = _runtimes(emulator.url, token)
        assert listing["currentRuntimeVersion"] == "13.0"  # 12.0's runtimes
        emulator.advance_clock(60)
        assert emulator.control("GET", "clock")["offsetSeconds"] == 60
        assert emulator.journal()  # its own journal: the listing above
        made = emulator.sandbox_id
    listed = [item["id"] for item in _control(server, "GET", "sandboxes").json()["sandboxes"]]
    assert made not in listed


FIXTURE_USER = """
import requests

def test_one(arcgis_mock):
    token = arcgis_mock.token()
    answer = requests.get(arcgis_mock.admin_url + "/notebooks/runtimes",
                          params={"f": "json", "token": token}, timeout=30).json()
    assert "/sb-" in arcgis_mock.url and len(answer["runtimes"]) == 2
    print("SANDBOX", arcgis_mock.sandbox_id)

def test_two(arcgis_mock):
    print("SANDBOX", arcgis_mock.sandbox_id)
    assert arcgis_mock.token()
"""


@pytest.mark.parametrize("workers", [None, "2"])
def test_the_fixture_gives_each_test_its_own_sandbox_on_a_shared_server(server, tmp_path, workers):
    """NBMOCK_URL: no server started; each test (and so each xdist worker) has its own."""
    (tmp_path / "test_user_suite.py").write_text(FIXTURE_USER)
    argv = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(tmp_path)]
    if workers:
        argv += ["-p", "xdist", "-n", workers]
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "NBMOCK_URL": server.origin},
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout
    if not workers:
        made = re.findall(r"SANDBOX (\w+)", result.stdout)
        assert len(set(made)) == 2
    assert _control(server, "GET", "sandboxes").json()["sandboxes"] == []


def test_the_contract_kit_verifies_a_sandbox_like_any_target(server, tmp_path):
    sandbox = _create(server, ttl_seconds=600)
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "verify", "--target", sandbox["url"], "--username",
         "admin", "--allow-writes", "--pause", "0", "--max-examples", "2",
         "--report", str(tmp_path / "report")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "ARCGIS_PASSWORD": "admin1234", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    token = _token(sandbox["url"])["token"]
    assert [r for r in _runtimes(sandbox["url"], token)["runtimes"] if r["copied"]] == []
    # The main deployment saw none of it: its runtimes, and its clock, which the kit's
    # emulator-only checks move (they must find the sandbox's own control plane).
    assert len(_runtimes(server.base, server.token())["runtimes"]) == 2
    assert _control(server, "GET", "clock").json()["offsetSeconds"] == 0


@pytest.mark.parametrize("failing", ["build", "register"])
def test_a_create_that_fails_midway_leaves_no_file_and_no_open_descriptor(
    tmp_path, monkeypatch, failing
):
    """Issue 24: each failed create left SQLite files and an open .lock file behind."""
    from mockserver import create_app
    from mockserver.sandboxes import of

    app = create_app(state=tmp_path / "state.sqlite3")
    client = app.test_client()
    assert client.post("/__mock__/sandboxes", json={}).status_code == 201  # opens what stays open
    folder = tmp_path / "state.sqlite3.sandboxes"
    files = sorted(os.listdir(folder))
    gc.collect()  # what earlier tests left to the collector closes now, not mid-count
    descriptors = len(os.listdir("/proc/self/fd"))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    if failing == "build":
        # Late in create_app: the sandbox's state file and lock are open when it fails.
        monkeypatch.setattr("mockserver.app.directory.install", broken)
    else:
        monkeypatch.setattr(of(app).records, "add", broken)
    for _ in range(5):
        assert client.post("/__mock__/sandboxes", json={}).status_code == 500  # a bug's answer
    assert sorted(os.listdir(folder)) == files
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= descriptors


# --- every path form of a sandbox's URLs stays in that sandbox -----------------------


@pytest.mark.parametrize("verb", sorted(CONTROL_WRITES))
def test_no_path_form_of_a_sandbox_control_url_acts_on_the_main_deployment(server, verb):
    assert "runtimes" in _runtimes(server.base, server.token())  # the main journal has an entry
    report = run_sandbox_path_forms(server.origin, verbs=(verb,))
    assert report.requests >= 45
    assert report.problems == []


def test_a_doubled_slash_before_a_sandbox_verb_reaches_the_sandboxs_own(server):
    sandbox = _create(server)
    control_path = urlsplit(sandbox["controlUrl"]).path
    status, _ = send_following_redirects(
        server.origin, "POST", f"{control_path}//clock", b'{"advance_seconds": 60}', JSON
    )
    assert status == 200
    assert _control(server, "GET", f"sandboxes/{sandbox['id']}/clock").json()["offsetSeconds"] == 60
    assert _control(server, "GET", "clock").json()["offsetSeconds"] == 0


def test_doubled_slashes_in_a_sandbox_context_url_stay_in_the_sandbox(server):
    sandbox = _create(server)
    token = _token(sandbox["url"])["token"]
    main_names = {runtime["name"] for runtime in _runtimes(server.base, server.token())["runtimes"]}
    context = sandbox["context"]
    form = urlencode({**COPY, "token": token}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    path = f"admin/notebooks/runtimes/{STANDARD_ID}/copy"
    for index, target in enumerate(
        (
            f"//{context}/{path}",
            f"/{context}//{path}",
            f"/{context}/{path}/",
            f"/{context}///{path}",
        )
    ):
        named = form.replace(b"sandboxed", f"sandboxed-{index}".encode())
        send_following_redirects(server.origin, "POST", target, named, headers)
    after = {runtime["name"] for runtime in _runtimes(server.base, server.token())["runtimes"]}
    assert after == main_names
    in_sandbox = {runtime["name"] for runtime in _runtimes(sandbox["url"], token)["runtimes"]}
    assert "sandboxed-0" in in_sandbox and "sandboxed-1" in in_sandbox
