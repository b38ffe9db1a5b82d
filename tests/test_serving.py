"""``nbmock serve`` under gunicorn, as users and CI run it: several workers, one deployment."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import requests

from mockserver.testing import running
from tests.conftest import SEED_COPY, STANDARD_ID
from tests.nbmock_process import NbmockProcess

COPY_PATH = f"admin/notebooks/runtimes/{STANDARD_ID}/copy"
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def server():
    process = NbmockProcess(
        "--workers", "2", "--max-body", str(MAX_BODY), ready_path="/__mock__/health"
    )
    yield process
    process.stop()


@pytest.fixture
def fresh(server):
    requests.post(f"{server.origin}/__mock__/reset", timeout=30).raise_for_status()
    return server


def _copies(base: str, token: str, names: list[str]) -> list[dict]:
    answers = []
    for name in names:
        response = requests.post(
            f"{base}/{COPY_PATH}",
            data={**SEED_COPY, "name": name, "f": "json", "token": token},
            timeout=60,
        )
        answers.append(response.json())
    return answers


def test_concurrent_copies_from_several_processes_lose_and_duplicate_nothing(tmp_path):
    server = NbmockProcess(
        "--workers", "3", "--state", str(tmp_path / "state.sqlite3"), ready_path="/__mock__/health"
    )
    try:
        token = server.token()
        batches = [[f"p{p}-c{c}" for c in range(8)] for p in range(4)]
        with ProcessPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(_copies, [server.base] * 4, [token] * 4, batches))
        answers = [answer for batch in results for answer in batch]
        assert all(answer.get("status") == "success" for answer in answers), answers
        listed = requests.get(
            f"{server.base}/admin/notebooks/runtimes",
            params={"f": "json", "token": token},
            timeout=30,
        ).json()["runtimes"]
        copies = [runtime for runtime in listed if runtime["copied"]]
        sent = sorted(name for batch in batches for name in batch)
        assert sorted(runtime["name"] for runtime in copies) == sent
        ids = [runtime["id"] for runtime in listed]
        assert len(set(ids)) == len(ids)
        answered_ids = {answer["notebookRuntime"]["id"] for answer in answers}
        assert answered_ids == {runtime["id"] for runtime in copies}
        revisions = [runtime["revision"] for runtime in listed]
        assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
    finally:
        server.stop()


def test_fault_times_are_counted_across_workers(fresh):
    rule = {"operation": "info", "status": 503, "times": 3}
    requests.post(f"{fresh.origin}/__mock__/faults", json=rule, timeout=30).raise_for_status()
    codes = [
        requests.get(f"{fresh.base}/sharing/rest/info?f=json", timeout=30).status_code
        for _ in range(12)
    ]
    assert codes.count(503) == 3 and codes.count(200) == 9


def test_clock_moved_on_one_worker_expires_tokens_on_all(fresh):
    token = fresh.token()
    url = f"{fresh.base}/admin/notebooks/runtimes"
    requests.post(
        f"{fresh.origin}/__mock__/clock", json={"advance_seconds": 7200}, timeout=30
    ).raise_for_status()
    codes = [
        requests.get(url, params={"f": "json", "token": token}, timeout=30).json().get("code")
        for _ in range(10)
    ]
    assert codes == [498] * 10


def test_dropped_connection_is_seen_as_such_by_requests(fresh):
    rule = {"operation": "copy", "drop": True, "times": 1}
    requests.post(f"{fresh.origin}/__mock__/faults", json=rule, timeout=30).raise_for_status()
    token = fresh.token()
    with pytest.raises(requests.ConnectionError):
        _copies(fresh.base, token, ["never answered"])
    (answer,) = _copies(fresh.base, token, ["answered"])
    assert answer["status"] == "success"
    journal = requests.get(
        f"{fresh.origin}/__mock__/journal", params={"operation": "copy"}, timeout=30
    ).json()["entries"]
    # The dropped request is journaled after its connection is reset, so the next copy,
    # on another worker, may be journaled first: both are there, in either order.
    assert sorted(str(entry["fault"]) for entry in journal) == ["None", "drop"]


def test_oversized_body_gets_413_in_the_admin_envelope(fresh):
    token = fresh.token()
    response = requests.post(
        f"{fresh.base}/{COPY_PATH}",
        data={**SEED_COPY, "customResources": json.dumps({"k": "x" * MAX_BODY}), "token": token},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json() == {
        "status": "error",
        "messages": [f"Request body exceeds the limit of {MAX_BODY} bytes."],
        "code": 413,
    }


def test_malformed_multipart_gets_a_clear_error(fresh):
    token = fresh.token()
    response = requests.post(
        f"{fresh.base}/{COPY_PATH}?f=json",
        data=b'--XX\r\nContent-Disposition: form-data; name="f"\r\n\r\njson\r\n--XX\r\nbroken',
        headers={
            "Content-Type": "multipart/form-data; boundary=XX",
            "X-Esri-Authorization": f"Bearer {token}",
        },
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "error",
        "messages": ["Malformed multipart/form-data body."],
        "code": 400,
    }


def test_invalid_utf8_in_multipart_is_answered_not_crashed(fresh):
    token = fresh.token()
    files = {key: (None, value) for key, value in {**SEED_COPY, "f": "json"}.items()}
    files["name"] = (None, b"caf\xe9 \xff")
    response = requests.post(
        f"{fresh.base}/{COPY_PATH}",
        files=files,
        headers={"X-Esri-Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["status"] in {"success", "error"}


def test_deeply_nested_custom_resources_get_a_clear_error(fresh):
    token = fresh.token()
    nested = "[" * 20_000 + "]" * 20_000
    (answer,) = [
        requests.post(
            f"{fresh.base}/{COPY_PATH}",
            files={
                **{k: (None, v) for k, v in SEED_COPY.items()},
                "customResources": (None, nested),
                "f": (None, "json"),
                "token": (None, token),
            },
            timeout=30,
        ).json()
    ]
    assert answer["status"] == "error" and answer["code"] == 400
    assert "customResources" in answer["messages"][0]


def test_tokens_and_passwords_never_reach_the_log_or_the_journal(tmp_path):
    server = NbmockProcess("--workers", "2", ready_path="/__mock__/health")
    try:
        tokens = [server.token() for _ in range(2)]
        url = f"{server.base}/admin/notebooks/runtimes"
        requests.get(url, params={"f": "json", "token": tokens[0]}, timeout=30)
        requests.get(url, params={"f": "json"}, headers={"Authorization": f"Bearer {tokens[1]}"})
        _copies(server.base, tokens[1], ["logged?"])
        requests.post(
            f"{server.base}/sharing/rest/generateToken",
            data={"username": "admin", "password": "wrong-secret-pw", "f": "json"},
            timeout=30,
        )
        journal = requests.get(f"{server.origin}/__mock__/journal", timeout=30).text
    finally:
        output = server.stop()
    operations = [entry["operation"] for entry in json.loads(journal)["entries"]]
    # The start banner names the built-in demo password on purpose; the log is what follows.
    log = output[output.index("Starting gunicorn") :]
    assert "copy" in operations and "/admin/notebooks/runtimes" in log
    for secret in [*tokens, "admin1234", "wrong-secret-pw"]:
        assert secret not in journal
        assert secret not in log


def test_sigterm_lets_the_request_in_flight_finish_and_keeps_it(tmp_path):
    state = str(tmp_path / "state.sqlite3")
    server = NbmockProcess("--workers", "2", "--state", state, ready_path="/__mock__/health")
    token = server.token()
    rule = {"operation": "copy", "delay_seconds": 2, "times": 1}
    requests.post(f"{server.origin}/__mock__/faults", json=rule, timeout=30).raise_for_status()
    answers: list = []
    worker = threading.Thread(
        target=lambda: answers.extend(_copies(server.base, token, ["in flight"]))
    )
    worker.start()
    for _ in range(300):  # until the copy is inside its delay, not a fixed sleep
        faults = requests.get(f"{server.origin}/__mock__/faults", timeout=30).json()["faults"]
        if faults[0]["matched"] == 1:
            break
        threading.Event().wait(0.05)
    server.stop()
    worker.join(timeout=30)
    assert server.process.returncode == 0
    assert answers and answers[0]["status"] == "success"
    restarted = NbmockProcess("--state", state, ready_path="/__mock__/health")
    try:
        listed = requests.get(
            f"{restarted.base}/admin/notebooks/runtimes",
            params={"f": "json", "token": restarted.token()},
            timeout=30,
        ).json()["runtimes"]
        assert "in flight" in [runtime["name"] for runtime in listed]
    finally:
        restarted.stop()


def test_control_plane_is_reachable_on_loopback_without_token(server):
    assert requests.get(f"{server.origin}/__mock__/health", timeout=30).json()["status"] == "ok"
    assert "Control: http://127.0.0.1" in server.output


def _a_delayed_copy_is_made_before_its_answer(origin: str, base: str, token: str) -> None:
    rule = {"operation": "copy", "delay_seconds": 3, "times": 1}
    requests.post(f"{origin}/__mock__/faults", json=rule, timeout=30).raise_for_status()
    answered: list[float] = []
    copier = threading.Thread(
        target=lambda: answered.append(
            _copies(base, token, ["made before its answer"]) and time.monotonic()
        )
    )
    started = time.monotonic()
    copier.start()
    listed_at = None
    while listed_at is None and time.monotonic() - started < 20:
        listed = requests.get(
            f"{base}/admin/notebooks/runtimes", params={"f": "json", "token": token}, timeout=30
        ).json()["runtimes"]
        if "made before its answer" in [runtime["name"] for runtime in listed]:
            listed_at = time.monotonic()
        else:
            threading.Event().wait(0.05)
    copier.join(timeout=30)
    assert answered, "the delayed copy was never answered"
    assert listed_at is not None, "the delayed copy was never listed"
    assert answered[0] - started >= 3.0
    assert listed_at < answered[0] - 1.0


def test_a_delay_fault_holds_the_answer_of_a_copy_already_made_served():
    """Behind a slow proxy a client that gives up has still made its change: the copy is
    listed while its answer waits (``nbmock serve``, the answer held by the poller)."""
    server = NbmockProcess("--workers", "1", ready_path="/__mock__/health")
    try:
        _a_delayed_copy_is_made_before_its_answer(server.origin, server.base, server.token())
    finally:
        server.stop()


def test_a_delay_fault_holds_the_answer_of_a_copy_already_made_embedded():
    """The same in the embedded server (``mockserver.testing.running``): a thread waits."""
    with running() as emulator:
        _a_delayed_copy_is_made_before_its_answer(emulator.origin, emulator.url, emulator.token())
