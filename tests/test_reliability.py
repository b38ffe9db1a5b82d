"""Short versions of ``make reliability``: nothing acknowledged is lost, nothing refused is done.

Each check is the same function the full run uses (bench/reliability), with a
small load; each also has a test showing it notices the fault it looks for.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from bench import servers
from bench.reliability import auth_matrix, crash, forms, integrity, secrets_scan
from bench.reliability.__main__ import TOKEN_SHAPE
from bench.reliability.client import Admin
from mockserver import create_app
from mockserver.core import deployment
from mockserver.core.clock import Clock


def test_processes_times_threads_lose_and_double_nothing(tmp_path):
    server = integrity.threaded_emulator(
        tmp_path / "server.log", state=tmp_path / "state.sqlite3", workers=2, threads=2
    )
    with server:
        report = integrity.run_integrity(
            server, client_threads=4, copies_per_thread=15, updates_per_copy=1
        )
    assert report.problems == []
    assert report.copies_acknowledged == 60
    assert report.updates_acknowledged == 60
    assert report.listed == 62  # the two system runtimes and every copy, once


def _written(name: str, runtime_id: str, revision: int, later: list[int] | None = None):
    return integrity._Written(runtime_id, name, revision, [revision, *(later or [])])


def _listed(runtime_id: str, revision: int, max_memory: float = 14) -> dict:
    return {"id": runtime_id, "copied": True, "revision": revision, "maxMemory": max_memory}


def test_integrity_check_notices_lost_doubled_and_stale_runtimes():
    written = [_written("a", "id-a", 10), _written("b", "id-b", 11), _written("c", "id-c", 12)]
    written[2].max_memory = 6
    listed = [_listed("id-a", 10), _listed("id-a", 10), _listed("id-c", 12)]
    problems = " | ".join(integrity.check_integrity(written, listed, failed=0))
    assert "listed more than once" in problems
    assert "1 acknowledged copies missing" in problems
    assert "share a revision" in problems
    assert "the last acknowledged update set 6" in problems


def test_integrity_check_notices_revisions_out_of_commit_order():
    written = [_written("a", "id-a", 20), _written("b", "id-b", 10)]
    listed = [_listed("id-a", 20), _listed("id-b", 10)]
    assert integrity.check_integrity(written, listed, failed=0) == [
        "copy revisions do not strictly increase in commit order"
    ]


def test_kill_9_mid_load_keeps_every_acknowledged_copy(tmp_path):
    report = crash.run_crash(tmp_path, cycles=2, min_seconds=0.5, max_seconds=1.0)
    assert report.problems == []
    assert report.cycles == 2
    assert report.copies_acknowledged > 0


def test_state_check_notices_a_half_written_row(tmp_path):
    state = tmp_path / "state.sqlite3"
    deployment.of(create_app(state=state)).store.close()
    db = sqlite3.connect(state)
    body = db.execute("SELECT id, body FROM runtimes LIMIT 1").fetchone()
    db.execute("UPDATE runtimes SET body = ? WHERE id = ?", (body[1][: len(body[1]) // 2], body[0]))
    db.commit()
    db.close()
    problems = crash.check_state_file(state, crash.CrashReport())
    assert problems == [f"half-written row {body[0]}: JSONDecodeError"]


def test_every_operation_refuses_every_way_of_asking_without_the_right(tmp_path):
    report = auth_matrix.run_auth_matrix(tmp_path)
    assert report.problems == []
    assert report.refused == report.cells
    # Both flavours, and their workload writes among them (each done with the right token).
    asked = [op for ops in auth_matrix.OPERATIONS_BY_FLAVOUR.values() for op in ops]
    assert report.operations == len(asked)
    assert {op.name for op in asked if op.changes} >= {
        "open notebook",
        "execute notebook",
        "close notebook",
        "terminate deployment",
        "terminate container",
    }
    assert set(report.by_condition) == {
        "no token",
        "malformed",
        "expired",
        "wrong referer",
        "valid without privilege",
        "token only in POST query string",
    }


@pytest.mark.parametrize("flavour", sorted(auth_matrix.OPERATIONS_BY_FLAVOUR))
def test_every_workload_route_of_each_flavour_is_a_row_of_the_auth_matrix(flavour):
    """The matrix asks every route of the flavour's workload room, reads and writes: a
    route added there without a row here fails this."""
    app = create_app(clock=Clock(), flavour=flavour)
    placeholders = {
        "<notebook_id>": "{notebook}",
        "<deployment_id>": "{host}",
        "<container_id>": "{host}",
        "<job_id>": "{job}",
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("workload."):
            path = rule.rule
            for converter, name in placeholders.items():
                path = path.replace(converter, name)
            routes.add(path)
    asked = {op.path for op in auth_matrix.OPERATIONS_BY_FLAVOUR[flavour]}
    assert routes - asked == set()


def test_form_and_multipart_fuzzing_finds_no_500_and_refusals_change_nothing():
    report = forms.run_form_fuzz(600, oversized=False)
    assert report.requests == 600
    assert report.problems == []


def test_a_body_over_the_limit_gets_the_413_envelope(api, token):
    """F1, found by the fuzzer and fixed with the control plane: it was an HTTP 500."""
    big = b"name=" + b"a" * (api.app.config["MAX_CONTENT_LENGTH"] + 1)
    response = api.client.post(
        f"/arcgis/admin/notebooks/runtimes/{servers.STANDARD_ID}/copy?f=json",
        data=big,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Esri-Authorization": f"Bearer {token}",
        },
    )
    assert response.status_code == 413
    assert response.get_json(force=True)["code"] == 413


def test_a_multipart_part_without_a_name_does_not_fail_a_done_unregister(api, token):
    """F2, found by the fuzzer and fixed in the journal hook: the unregister ran, yet the
    answer was an error envelope with code 500."""
    copied = api.post(f"notebooks/runtimes/{servers.STANDARD_ID}/copy", token, **servers.SEED_COPY)
    runtime_id = copied["notebookRuntime"]["id"]
    response = api.client.post(
        f"/arcgis/admin/notebooks/runtimes/{runtime_id}/unregister?f=json",
        data=b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n",
        headers={
            "Content-Type": "multipart/form-data; boundary=x",
            "X-Esri-Authorization": f"Bearer {token}",
        },
    )
    gone = runtime_id not in [r["id"] for r in api.runtimes(token)]
    assert response.get_json(force=True) == {"status": "success"} and gone


def test_no_token_or_password_reaches_the_server_log_or_journal(tmp_path):
    users, passwords = auth_matrix.users_file(tmp_path)
    tokens = []
    log = tmp_path / "server.log"
    with servers.emulator(log, state=tmp_path / "state.sqlite3", users=users) as server:
        for user, password in passwords.items():
            tokens.append(servers.token(server.origin, user, password))
        admin = Admin(server.origin, tokens[0])
        copied = admin.copy("secrets check")
        runtime_id = copied.body["notebookRuntime"]["id"]
        admin.update(runtime_id, 6)
        admin.get(runtime_id)
        admin.list()
        admin.session.get(
            f"{admin.base}/{runtime_id}",
            params={"f": "json"},
            headers={"X-Esri-Authorization": f"Bearer {tokens[0]}"},
        )
        wrong = admin.session.post(
            f"{server.origin}/arcgis/sharing/rest/generateToken",
            data={"username": "boss", "password": passwords["pub"], "f": "json"},
        ).json()
        assert "error" in wrong
        journal = servers.journal(server.origin)
    secrets = tokens + list(passwords.values())
    report = secrets_scan.scan([log], secrets, extra={"journal": journal})
    assert report.findings == []
    assert not TOKEN_SHAPE.search(log.read_text() + journal)
    assert report.bytes_scanned > 1000  # the log and journal were really read


def test_secrets_scan_finds_a_token_in_each_form_it_is_written(tmp_path):
    token = "WyJib3NzIiwxNzAwMDAwMDAwMDAwXQ.a+b/c=d"
    (tmp_path / "query.log").write_text("GET /x?token=WyJib3NzIiwxNzAwMDAwMDAwMDAwXQ.a%2Bb%2Fc%3Dd")
    (tmp_path / "form.log").write_text("token=WyJib3NzIiwxNzAwMDAwMDAwMDAwXQ.a%2Bb%2Fc%3Dd&f=json")
    (tmp_path / "report.json").write_text(json.dumps({"t": token}))
    (tmp_path / "clean.log").write_text("nothing to see")
    report = secrets_scan.scan([tmp_path], [token])
    assert sorted(f.rsplit("/", 1)[-1] for f in report.findings) == [
        "form.log",
        "query.log",
        "report.json",
    ]


def test_twenty_megabyte_junk_posts_grow_neither_the_state_file_nor_the_journal_answer(tmp_path):
    """Issue 11: twenty 1 MB unauthenticated POSTs grew the state file by 19 MB."""
    from bench.reliability import journal_bound

    report = journal_bound.run_journal_bound(tmp_path, posts=20, size=1_000_000, flood=40)
    assert report.problems == []
    assert report.growth_after_junk < 2 * 2**20
    assert report.answer_after_junk < 2**20
    assert report.http_500 == 0 and not report.state_changed


def test_cross_site_requests_are_all_refused_and_change_nothing():
    from bench.reliability import cross_site

    report = cross_site.run_cross_site()
    assert report.problems == []
    assert report.refused == report.requests > 100
    assert report.http_500 == report.state_changes == 0
    assert report.originless_passed == 3


# --- issue 24: concurrent sign-in failures -------------------------------------------


def test_sixty_simultaneous_wrong_passwords_check_at_most_the_policy_then_lock():
    """Issue 24: of 60 simultaneous wrong passwords 35 were checked against a policy of
    5, through nbmock serve's workers."""
    from bench.reliability import signin_race
    from tests.nbmock_process import NbmockProcess

    server = NbmockProcess("--workers", "2", ready_path="/__mock__/health")
    try:
        report = signin_race.run_signin_race(
            server.origin,
            attempts=5,
            cases=[
                signin_race.Burst(60, False, "generateToken"),
                signin_race.Burst(29, True, "mixed"),
            ],
        )
    finally:
        server.stop()
    assert report.problems == []
    assert report.by_answer["locked"] >= 60 - 4 + 30 - 2 * 4 - 1
    assert report.most_invalid_in_a_burst <= 2 * 4


def test_every_concurrent_burst_of_sign_in_failures_is_held_to_the_policy():
    from bench.reliability import signin_race
    from tests.nbmock_process import NbmockProcess

    server = NbmockProcess(
        "--workers", "2", "--lockout-attempts", "2", ready_path="/__mock__/health"
    )
    try:
        report = signin_race.run_signin_race(
            server.origin, attempts=2, cases=signin_race.bursts(2, sizes=(4,))
        )
    finally:
        server.stop()
    assert report.problems == []
    assert report.bursts == len(signin_race.bursts(2, sizes=(4,))) == 4 * 2 * 3
    assert set(report.by_answer) == {"invalid", "locked", "token"}


# --- issue 24: hostile sandbox options ------------------------------------------------


def test_every_hostile_sandbox_option_is_a_400_and_leaves_no_file_or_descriptor(tmp_path):
    """Issue 24: {"seed": 10**26} and {"release": ["12.1"]} answered 500 as HTML, each
    leaving SQLite files and an open .lock file behind."""
    from bench.reliability import sandbox_options

    state = tmp_path / "state.sqlite3"
    with servers.emulator(tmp_path / "server.log", state=state) as server:
        report = sandbox_options.run_sandbox_options(server, state, examples=120)
    assert report.problems == []
    assert report.http_500 == report.files_left == 0
    assert report.by_status[400] > 60
    assert set(report.by_option) == {"flavour", "release", "seed", "ttl_seconds", "users"}
