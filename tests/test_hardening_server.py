"""Issue 11, the serving side: slow clients, request bodies, framing, secrets, hosts, state.

Through a real ``nbmock serve`` wherever the finding was a served behaviour.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from urllib.parse import urlencode

import pytest
import requests

from bench.reliability.framing import run_framing_fuzz
from bench.reliability.slow_clients import SLOW_KINDS, run_slow_clients
from mockserver.serving.worker import DeadlineUnreader
from tests.conftest import SEED_COPY, STANDARD_ID
from tests.nbmock_process import NbmockProcess

COPY_PATH = f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy"
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def server():
    process = NbmockProcess(
        "--workers", "2", "--max-body", str(MAX_BODY), ready_path="/__mock__/health"
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def served_token(server) -> str:
    return server.token()


def raw_exchange(port: int, data: bytes, *, timeout: float = 10) -> bytes:
    """Send ``data`` as is and return everything the server answers until it closes, or what
    came within ``timeout`` of silence and 4 × ``timeout`` in all (a server that trickles
    bytes forever must not hold the test)."""
    deadline = time.monotonic() + 4 * timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        while time.monotonic() < deadline:
            try:
                piece = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not piece:
                break
            answer += piece
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


def chunked(body: bytes, size: int = 8192) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def post_chunked(port: int, path: str, form: bytes, token: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Esri-Authorization: Bearer {token}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    return raw_exchange(port, head + form)


def runtime_names(server, token: str) -> list[str]:
    listed = requests.get(
        f"{server.base}/admin/notebooks/runtimes",
        params={"f": "json", "token": token},
        timeout=30,
    ).json()["runtimes"]
    return [runtime["name"] for runtime in listed]


# --- availability: slow clients -----------------------------------------------------


@pytest.mark.parametrize("kind", SLOW_KINDS, ids=lambda kind: kind.name)
def test_64_slow_clients_of_any_framing_do_not_stall_a_get(server, kind):
    report = run_slow_clients(
        server.origin, connections=64, probes=3, probe_timeout=10, kinds=(kind,)
    )
    assert report.problems == []


def trickled_exchange(port: int, pieces: list[bytes], *, every: float = 0.3) -> bytes:
    """Send ``pieces`` one at a time, ``every`` seconds apart, then read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(every)
        answer = b""
        while not answer.endswith(b"}") or b"\r\n\r\n" not in answer:
            try:
                piece = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not piece:
                break
            answer += piece
    return answer


GENERATE_TOKEN = "POST /arcgis/sharing/rest/generateToken HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def test_a_trickled_chunked_body_is_answered_once_it_is_whole(server):
    form = b"username=admin&password=wrong-password&f=json"
    pieces = [
        (
            GENERATE_TOKEN + "Content-Type: application/x-www-form-urlencoded\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
    ]
    pieces += [
        b"%x\r\n%s\r\n" % (len(form[i : i + 7]), form[i : i + 7]) for i in range(0, len(form), 7)
    ]
    pieces += [b"0\r\n", b"X-Trailer: 1\r\n", b"\r\n"]
    answer = trickled_exchange(server.port, pieces)
    assert status_of(answer) == 200
    assert b'"error"' in body_of(answer) and b"Invalid username or password" in body_of(answer)


def test_expect_100_continue_is_answered_once_then_the_request(server):
    form = b"username=admin&password=wrong-password&f=json"
    head = (
        GENERATE_TOKEN + "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Expect: 100-continue\r\nContent-Length: {len(form)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(form)
        answer = b""
        while b"Invalid username or password" not in answer:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
    assert status_of(answer) == 200 and b"100 Continue" not in answer


def test_expect_100_continue_over_the_limit_is_refused_without_a_continue(server):
    head = (
        GENERATE_TOKEN + "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Expect: 100-continue\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    ).encode()
    answer = raw_exchange(server.port, head)
    assert status_of(answer) == 413
    assert b"100 Continue" not in answer


def test_framing_fuzzer_finds_no_500_and_stores_no_refused_request(server, served_token):
    """The short run of make reliability's raw-socket framing fuzzer: every kind once or twice."""
    report = run_framing_fuzz(server.origin, served_token, count=60)
    assert report.problems == []
    assert report.http_500 == 0 and report.state_changes_from_refused == 0
    assert report.well_framed and report.malformed


def test_answers_keep_the_connection_alive(server):
    response = requests.get(f"{server.base}/sharing/rest/info?f=json", timeout=10)
    assert response.headers.get("Connection", "").lower() != "close"


# --- bodies ---------------------------------------------------------------------------


def test_a_body_refused_unread_closes_the_connection_instead_of_a_later_drop(server, served_token):
    """Found by the kit's 413 check then a malformed-multipart check on one session: the 413
    said keep-alive, the server then closed after draining 64 KiB, and the next request on
    that connection was dropped unanswered."""
    session = requests.Session()
    big = session.post(
        f"{server.origin}{COPY_PATH}?f=json",
        data=b"name=" + b"a" * (MAX_BODY * 3),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Esri-Authorization": f"Bearer {served_token}",
        },
        timeout=30,
    )
    assert big.status_code == 413
    assert big.headers.get("Connection", "").lower() == "close"
    small = session.get(f"{server.base}/sharing/rest/info?f=json", timeout=30)
    assert small.status_code == 200
    assert small.headers.get("Connection", "").lower() != "close"


def test_a_chunked_body_over_the_limit_gets_the_413_envelope_and_stores_nothing(
    server, served_token
):
    name = "x" * (MAX_BODY + 1000)
    form = urlencode({**SEED_COPY, "name": name, "f": "json"}).encode()
    before = runtime_names(server, served_token)
    answer = post_chunked(server.port, COPY_PATH, chunked(form), served_token)
    assert status_of(answer) == 413, answer[:300]
    assert b'"code": 413' in body_of(answer)
    assert str(MAX_BODY).encode() in body_of(answer)
    assert runtime_names(server, served_token) == before


def test_a_chunked_body_within_the_limit_is_read_whole(server, served_token):
    # The name comes last, after half the limit of filler: a cut body would lose it.
    form = urlencode(
        {**SEED_COPY, "filler": "y" * (MAX_BODY // 2), "f": "json", "name": "chunked-whole"}
    ).encode()
    answer = post_chunked(server.port, COPY_PATH, chunked(form, size=1000), served_token)
    assert status_of(answer) == 200, answer[:300]
    assert "chunked-whole" in runtime_names(server, served_token)


@pytest.mark.parametrize("size_line", [b"zz", b"-1", b"0x10", b"4;\x00", b"\xff"])
def test_an_invalid_chunk_size_is_a_client_error(server, served_token, size_line):
    before = runtime_names(server, served_token)
    answer = post_chunked(
        server.port, COPY_PATH, size_line + b"\r\nname=a\r\n0\r\n\r\n", served_token
    )
    status = status_of(answer)
    assert 200 <= status < 500, answer[:300]
    if status == 200:
        assert b'"code": 400' in body_of(answer)
    assert runtime_names(server, served_token) == before


def test_a_chunk_longer_than_what_follows_is_refused_not_awaited_forever(server, served_token):
    size_line = b"1" * 40  # a valid hex size, far beyond the body that follows
    head = (
        f"POST {COPY_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Esri-Authorization: Bearer {served_token}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = raw_exchange(server.port, head + size_line + b"\r\nname=a\r\n", timeout=40)
    assert status_of(answer) == 200, answer[:300]
    assert b'"code": 408' in body_of(answer)


def test_a_transfer_coding_the_server_does_not_decode_is_refused(server, served_token):
    """Found by the framing fuzzer: "gzip, chunked" was dechunked and the rest taken as plain."""
    form = urlencode({**SEED_COPY, "name": "gzip-claimed", "f": "json"}).encode()
    head = (
        f"POST {COPY_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Esri-Authorization: Bearer {served_token}\r\n"
        "Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = raw_exchange(server.port, head + chunked(form))
    assert b'"code": 400' in body_of(answer)
    assert b"Transfer-Encoding" in body_of(answer)
    assert "gzip-claimed" not in runtime_names(server, served_token)


def test_a_body_shorter_than_its_content_length_is_refused_not_taken_whole(server, served_token):
    """Found by the framing fuzzer: a client that stopped 50 bytes short (and closed its
    side) had its copy made, because werkzeug trusts a server-terminated stream."""
    form = urlencode({**SEED_COPY, "name": "short-body", "f": "json"}).encode()
    head = (
        f"POST {COPY_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Esri-Authorization: Bearer {served_token}\r\n"
        f"Content-Length: {len(form) + 50}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + form)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while piece := sock.recv(65536):
            answer += piece
    assert b'"code": 400' in body_of(answer), answer[:300]
    assert "short-body" not in runtime_names(server, served_token)


def test_too_many_multipart_parts_says_the_part_limit_not_the_size(server, served_token):
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="p%d"\r\n\r\nv\r\n' % i for i in range(1100)
    )
    body = parts + b"--b--\r\n"
    assert len(body) < MAX_BODY
    response = requests.post(
        f"{server.origin}{COPY_PATH}?f=json",
        data=body,
        headers={
            "Content-Type": "multipart/form-data; boundary=b",
            "X-Esri-Authorization": f"Bearer {served_token}",
        },
        timeout=30,
    )
    assert response.status_code == 413
    message = response.json()["messages"][0]
    assert "1000" in message and "parts" in message
    assert str(MAX_BODY) not in message


def test_a_large_field_within_the_body_limit_is_not_refused_as_too_large(api, token):
    """werkzeug's own 500 kB field limit answered "exceeds the limit of 1048576 bytes"."""
    response = api.client.post(
        f"{COPY_PATH}?f=json",
        data={**SEED_COPY, "name": "big-field", "note": "n" * 600_000},
        content_type="multipart/form-data",
        headers={"X-Esri-Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.get_json(force=True).get("status") == "success", response.get_json(force=True)


# --- secrets --------------------------------------------------------------------------


def _journal_text(server) -> str:
    return requests.get(f"{server.origin}/__mock__/journal", timeout=30).text


def test_a_token_typed_after_an_ampersand_reaches_neither_log_nor_journal(server, served_token):
    response = requests.get(
        f"{server.base}/admin/notebooks/runtimes&token={served_token}&f=json", timeout=30
    )
    assert served_token not in response.text
    time.sleep(0.5)  # the access line is written after the answer
    assert served_token not in server.output
    assert served_token not in _journal_text(server)
    assert "runtimes&token=***" in _journal_text(server)


@pytest.mark.parametrize("odd", [b"\t", b"\xc3\xa9", b"\x01"])
def test_a_malformed_request_line_is_not_logged_with_its_token(server, served_token, odd):
    line = b"GET /arcgis/admin/notebooks/runtimes?f=json&token=%s%sx HTTP/1.1\r\n" % (
        served_token.encode(),
        odd,
    )
    answer = raw_exchange(server.port, line + b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert status_of(answer) != 500
    time.sleep(0.5)
    assert served_token not in server.output


@pytest.mark.parametrize("name", ["pwd", "passwd", "newPwd", "apiKey", "client_secret"])
def test_credential_parameters_are_masked_in_the_journal(api, name):
    api.client.post(
        "/arcgis/sharing/rest/generateToken",
        data={"username": "admin", name: "hunter2-secret", "f": "json"},
    )
    journal = api.client.get("/__mock__/journal")
    assert "hunter2-secret" not in journal.get_data(as_text=True)
    assert journal.get_json(force=True)["entries"][-1]["params"][name] == "***"


def test_the_banner_prints_no_password_for_a_users_file():
    process = NbmockProcess("--users", "examples/users.toml", ready_path="/__mock__/health")
    try:
        banner = process.output
    finally:
        process.stop()
    assert "Users:   from examples/users.toml" in banner
    assert "1234" not in banner


def test_the_banner_names_the_default_password_as_the_default(server):
    assert "admin / admin1234 (the built-in default" in server.output


def test_control_token_help_prefers_the_environment_variable(capsys):
    from mockserver.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "Prefer the environment variable NBMOCK_CONTROL_TOKEN: a command line shows in ps" in text
    )


# --- Host names and proxies -------------------------------------------------------------


def _info(server, **headers) -> requests.Response:
    return requests.get(f"{server.base}/sharing/rest/info?f=json", headers=headers, timeout=10)


def test_a_rebound_host_name_is_refused_and_changes_nothing(server, served_token):
    before = runtime_names(server, served_token)
    refused = requests.post(
        f"{server.origin}/__mock__/state",
        data='{"runtimes": []}',
        headers={"Host": f"evil.example:{server.port}", "Content-Type": "text/plain"},
        timeout=10,
    )
    assert refused.status_code == 400
    assert "evil.example" in refused.json()["messages"][0]
    assert "--public-url" in refused.json()["messages"][0]
    assert _info(server, Host="evil.example").status_code == 400
    assert runtime_names(server, served_token) == before


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "LOCALHOST.", "app.localhost", "[::1]", "10.1.2.3"]
)
def test_loopback_names_and_ip_addresses_are_answered(server, host):
    assert _info(server, Host=f"{host}:{server.port}").status_code == 200


def test_a_public_url_adds_its_host_name():
    process = NbmockProcess("--public-url", "http://emulator.test:9999/arcgis")
    try:
        assert _info(process, Host="emulator.test:9999").status_code == 200
        assert _info(process, Host="other.test").status_code == 400
    finally:
        process.stop()


def test_a_bad_trusted_proxy_is_refused_at_start():
    with pytest.raises(RuntimeError, match="not an IP address"):
        NbmockProcess("--trusted-proxy", "proxy.example")


def test_forwarded_headers_from_an_untrusted_client_are_ignored(server):
    answer = _info(server, **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    assert answer.json()["owningSystemUrl"] == f"http://127.0.0.1:{server.port}/arcgis"  # F19


def test_forwarded_headers_from_a_trusted_proxy_count():
    process = NbmockProcess(
        "--trusted-proxy", "127.0.0.1", "--public-url", "https://portal.example"
    )
    try:
        answer = _info(
            process, **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "portal.example"}
        )
        assert answer.json()["owningSystemUrl"] == "https://portal.example/arcgis"  # F19
    finally:
        process.stop()


def test_in_process_apps_answer_any_host(api):
    response = api.client.get(
        "/arcgis/sharing/rest/info?f=json", headers={"Host": "in-process.nbmock.invalid"}
    )
    assert response.status_code == 200


# --- the state file -------------------------------------------------------------------


def _health(process) -> requests.Response:
    return requests.get(
        f"{process.origin}/__mock__/health", headers={"Connection": "close"}, timeout=30
    )


def _restart_one_worker(process) -> None:
    """Kill the worker that answered health: gunicorn starts another in its place."""
    pid = _health(process).json()["pid"]
    os.kill(pid, signal.SIGKILL)


def _wait_for_exit(process, seconds: float = 30) -> int | None:
    try:
        return process.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


@pytest.fixture
def stateful(tmp_path):
    state = tmp_path / "state.sqlite3"
    process = NbmockProcess("--state", str(state), ready_path="/__mock__/health")
    yield process, state
    process.stop()


def test_health_answers_ok_on_a_sound_state_file(stateful):
    process, _ = stateful
    assert _health(process).json()["status"] == "ok"


def test_a_deleted_state_file_fails_health_and_no_worker_starts_a_fresh_one(stateful):
    process, state = stateful
    for suffix in ("", "-wal", "-shm"):
        os.remove(f"{state}{suffix}")
    unhealthy = _health(process)
    assert unhealthy.status_code == 503
    assert "no longer exists" in unhealthy.json()["messages"][0]
    _restart_one_worker(process)
    assert _wait_for_exit(process) is not None, "the server went on with a fresh database"
    assert "refusing to start a worker on a fresh database" in process.output
    assert not state.exists()


def test_a_replaced_state_file_is_refused_by_a_new_worker(stateful, tmp_path):
    process, state = stateful
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    os.replace(other, state)
    assert _health(process).status_code == 503
    _restart_one_worker(process)
    assert _wait_for_exit(process) is not None
    assert "is not the database nbmock serve started on" in process.output


def test_a_corrupted_state_file_is_a_clear_error(stateful):
    process, state = stateful
    with open(state, "r+b") as file:
        file.write(b"this is not a database" * 200)
    _restart_one_worker(process)
    assert _wait_for_exit(process) is not None
    assert "is not a readable SQLite database" in process.output


def test_a_corrupted_state_file_at_start_is_a_clear_error(tmp_path):
    state = tmp_path / "state.sqlite3"
    state.write_bytes(b"garbage" * 1000)
    with pytest.raises(RuntimeError) as failure:
        NbmockProcess("--state", str(state))
    assert "is not a readable SQLite database" in str(failure.value)
    assert "Traceback" not in str(failure.value)


def _without_write_override() -> tuple[str, ...]:
    """A command prefix under which chmod a-w stops this process's writes: root ignores
    permission bits through CAP_DAC_OVERRIDE, so root drops it (setpriv)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only file cannot be made so")
    return (setpriv, "--bounding-set=-dac_override", "--")


def test_a_read_only_state_file_fails_health_and_refuses_writes_clearly(tmp_path):
    state = tmp_path / "state.sqlite3"
    process = NbmockProcess(
        "--state",
        str(state),
        ready_path="/__mock__/health",
        command_prefix=_without_write_override(),
    )
    try:
        token = process.token()
        for suffix in ("", "-wal", "-shm"):
            os.chmod(f"{state}{suffix}", 0o444)
        _restart_one_worker(process)  # the new worker opens the file read-only
        time.sleep(2)
        healths = [_health(process) for _ in range(30)]
        statuses = {answer.status_code for answer in healths}
        assert 503 in statuses, statuses
        refusal = next(a for a in healths if a.status_code == 503).json()["messages"][0]
        assert "cannot be written" in refusal
        copies = [
            requests.post(
                f"{process.origin}{COPY_PATH}",
                data={**SEED_COPY, "name": f"ro-{i}", "f": "json", "token": token},
                headers={"Connection": "close"},
                timeout=30,
            )
            for i in range(20)
        ]
        assert 500 not in {answer.status_code for answer in copies}
        refused = [answer for answer in copies if answer.status_code == 503]
        assert refused and refused[0].json()["code"] == 503
        listed = requests.get(
            f"{process.base}/admin/notebooks/runtimes",
            params={"f": "json", "token": token},
            headers={"Connection": "close"},
            timeout=30,
        )
        assert listed.status_code == 200
        assert "cannot be written" in process.output
    finally:
        process.stop()


def test_a_thread_reading_a_trickled_request_gives_up_at_one_deadline_for_the_whole_request():
    """What a thread reads from the socket (an HTTPS request) has one deadline, however
    steadily the client trickles: a byte every 0.1 s passes any per-read timeout."""
    ours, theirs = socket.socketpair()
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.1):
            with contextlib.suppress(OSError):
                theirs.sendall(b"x")

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        reader = DeadlineUnreader(ours)
        reader.deadline = time.monotonic() + 1.0
        received, gave_up = b"", False
        backstop = time.monotonic() + 20
        while time.monotonic() < backstop:
            try:
                received += reader.chunk()
            except TimeoutError:
                gave_up = True
                break
        assert gave_up, "the reader kept reading a trickling client past its deadline"
        assert received, "the client's bytes were read until the deadline"
    finally:
        stop.set()
        sender.join(timeout=5)
        ours.close()
        theirs.close()


# --- availability: answers held back by a delay fault --------------------------------


def test_64_answers_held_by_a_delay_fault_do_not_stall_a_get_on_a_single_worker():
    """A delay holds the answer in the worker's poller, not a thread: a worker with 64
    delayed requests in hand still answers everything else while all 64 answers are held,
    then each delayed request in its time (a threaded worker's 16 threads all slept)."""
    server = NbmockProcess("--workers", "1", ready_path="/__mock__/health")
    sockets: list[socket.socket] = []
    try:
        rule = {"operation": "info", "delay_seconds": 4}
        requests.post(f"{server.origin}/__mock__/faults", json=rule, timeout=30).raise_for_status()
        request = b"GET /arcgis/sharing/rest/info?f=json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        for _ in range(64):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.sendall(request)
            sockets.append(sock)
        for _ in range(3):
            answer = requests.get(f"{server.origin}/__mock__/health", timeout=30)
            assert answer.json()["status"] == "ok"
        # The order is the finding, not a time: the GETs came while every answer was held.
        readable, _, _ = select.select(sockets, [], [], 0)
        assert readable == [], "a delayed answer came before the GETs: they waited for it"
        for sock in sockets:
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                piece = sock.recv(65536)
                if not piece:
                    break
                answer += piece
            assert status_of(answer) == 200 and b'"owningSystemUrl"' in body_of(answer), answer[
                :300
            ]
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


# --- keep-alive after a body the app left unread ----------------------------------------


def _answers_on_one_connection(port: int, data: bytes, expected: int) -> list[bytes]:
    """Send ``data`` (several requests back to back) and split what comes back into
    answers, until ``expected`` came, the server closed, or 10 s of silence."""
    answers, buffer = [], b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        deadline = time.monotonic() + 30
        while len(answers) < expected and time.monotonic() < deadline:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end >= 0:
                head = buffer[:head_end].decode("latin-1").lower()
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in head.split("\r\n")
                        if line.startswith("content-length:")
                    ),
                    0,
                )
                end = head_end + 4 + length
                if len(buffer) >= end:
                    answers.append(buffer[:end])
                    buffer = buffer[end:]
                    continue
            try:
                piece = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not piece:
                break
            buffer += piece
    return answers


@pytest.mark.parametrize("chunked_body", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size", [0, 1, 4096, 65535, 65536, 65537, 200_000, 1_000_000])
@pytest.mark.parametrize(
    "target", ["/__mock__/health", "/arcgis/sharing/rest/info?f=json", "/no/api/here"]
)
def test_a_body_left_unread_never_drops_the_next_request_it_announced_keep_alive_for(
    body_server, target, size, chunked_body
):
    """Every body size around gunicorn's 64 KiB drain cap, both framings, routes that answer
    without reading a body (405, a read that ignores it, 404): the next request on the
    connection is answered, unless the first answer said ``Connection: close``."""
    body = b"x" * size
    framing = (
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body)
        if chunked_body
        else f"Content-Length: {size}\r\n\r\n".encode() + body
    )
    first = f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + framing
    second = b"GET /arcgis/sharing/rest/info?f=json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    answers = _answers_on_one_connection(body_server.port, first + second, expected=2)
    assert answers, "the first request was not answered"
    said_close = b"\r\nconnection: close" in answers[0].split(b"\r\n\r\n", 1)[0].lower()
    if not said_close:
        assert len(answers) == 2, (
            f"announced keep-alive, then dropped the next request: {answers[0][:200]!r}"
        )
        assert status_of(answers[1]) == 200


@pytest.fixture(scope="module")
def body_server():
    """The default body limit (1 MiB): bodies past the 64 KiB drain cap are within it."""
    process = NbmockProcess("--workers", "1", ready_path="/__mock__/health")
    yield process
    process.stop()
