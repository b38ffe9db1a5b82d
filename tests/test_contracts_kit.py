"""The contract kit itself: safety rules, ledger sync, reports, snapshots; and that its checks can fail."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from contracts import exchanges
from contracts.redaction import redact
from contracts.report import DEFAULT_LEDGER, checked_rows, ledger_verdict, write_markdown_report
from contracts.safety import NeedsWrites, UnsafeRequest
from contracts.target import Target
from mockserver import create_app
from mockserver.core.clock import Clock
from tests.conftest import SEED_COPY, STANDARD_ID

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"


def contract_test_names() -> set[str]:
    names = set()
    for module in CONTRACTS.glob("test_*.py"):
        names |= set(re.findall(r"^def (test_\w+)\(", module.read_text(), re.MULTILINE))
    return names


def test_every_ledger_check_has_a_contract_test():
    names = contract_test_names()
    missing = sorted(
        check
        for row in checked_rows(DEFAULT_LEDGER)
        for check in row.checks
        if f"test_{check}" not in names
    )
    assert missing == []


def test_report_marks_rows_confirmed_refuted_or_not_run(tmp_path):
    rows = {row.row_id: row for row in checked_rows(DEFAULT_LEDGER)}
    results = {
        "revisions_strictly_increase": {"outcome": "passed", "doc": "C6", "details": []},
        "copy_of_copy_refused": {
            "outcome": "failed",
            "doc": "C20",
            "details": ["Falsifying example: x=1"],
        },
        "expired_token_is_498": {
            "outcome": "skipped",
            "doc": "T10",
            "details": ["needs a 61 s wait"],
        },
    }
    assert ledger_verdict(rows["C6"], results) == ("confirmed", "")
    assert ledger_verdict(rows["C20"], results)[0] == "refuted"
    assert ledger_verdict(rows["T10"], results) == (
        "not run",
        "expired_token_is_498: needs a 61 s wait",
    )
    assert ledger_verdict(rows["C21"], results)[0] == "not run"
    report = write_markdown_report(tmp_path, results).read_text()
    # No target: nothing says it is an emulator, so the verdicts are a real target's.
    assert "| C6 | inferred | **confirmed** |" in report
    assert "| C20 | doc, inferred | **refuted** |" in report
    assert "Falsifying example: x=1" in report


@pytest.fixture
def read_only():
    return Target.in_process(create_app(clock=Clock()), allow_writes=False)


def test_read_only_target_refuses_to_send_a_write(read_only):
    before = read_only.runtimes()
    form = {**SEED_COPY, "name": read_only.name("x")}
    with pytest.raises(UnsafeRequest):
        read_only.admin("POST", f"notebooks/runtimes/{STANDARD_ID}/copy", data=form)
    with pytest.raises(NeedsWrites):
        read_only.require_writes()
    assert read_only.runtimes() == before


def test_read_only_run_removes_a_write_the_server_wrongly_accepted(read_only):
    form = {**SEED_COPY, "name": read_only.name("accepted")}
    reply = read_only.admin(
        "POST", f"notebooks/runtimes/{STANDARD_ID}/copy", data=form, refusal_expected=True
    )
    assert "notebookRuntime" in reply.json
    assert read_only.created == {}
    assert [r for r in read_only.runtimes() if r["copied"]] == []


def test_a_remote_target_only_writes_to_runtimes_it_created():
    app = create_app(clock=Clock())
    owner = Target.in_process(app)
    theirs = owner.admin(
        "POST",
        f"notebooks/runtimes/{STANDARD_ID}/copy",
        data={**SEED_COPY, "name": owner.name("theirs")},
    ).json["notebookRuntime"]
    kit = Target.in_process(app)
    kit.owns_deployment = False  # seen as a server the kit does not own
    for operation in ("update", "unregister", "upgrade"):
        for runtime_id in (theirs["id"], STANDARD_ID):
            with pytest.raises(UnsafeRequest):
                kit.admin(
                    "POST", f"notebooks/runtimes/{runtime_id}/{operation}", data={"maxCpu": "1"}
                )
    with pytest.raises(UnsafeRequest):
        kit.admin(
            "POST",
            f"notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "name": "no prefix"},
        )
    with pytest.raises(UnsafeRequest):
        kit.unregister_created(theirs["id"])
    assert theirs["id"] in {r["id"] for r in owner.runtimes()}


def test_cleanup_unregisters_everything_the_target_created():
    kit = Target.in_process(create_app(clock=Clock()))
    for n in range(3):
        kit.admin(
            "POST",
            f"notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "name": kit.name(str(n))},
        )
    assert len(kit.created) == 3
    assert kit.cleanup() == []
    assert [r for r in kit.runtimes() if r["copied"]] == []


def test_budget_ends_the_run_with_a_skip_and_cleanup_still_works():
    kit = Target.in_process(create_app(clock=Clock()), budget=3)
    kit.admin(
        "POST", f"notebooks/runtimes/{STANDARD_ID}/copy", data={**SEED_COPY, "name": kit.name("b")}
    )
    kit.runtimes()
    with pytest.raises(Exception, match="budget") as raised:
        kit.runtimes()
    assert isinstance(raised.value, __import__("unittest").SkipTest)
    assert kit.cleanup() == []


def test_sweep_prefix_must_be_the_kits(read_only):
    with pytest.raises(ValueError):
        read_only.leftovers("ArcGIS")
    with pytest.raises(UnsafeRequest):
        read_only.adopt([{"id": STANDARD_ID, "name": "ArcGIS Notebook Python 3 Standard"}])


def test_tokens_and_passwords_never_show_in_replies():
    kit = Target.in_process(create_app(clock=Clock()), password="admin1234")
    token = kit.token
    reply = kit.portal("POST", "generateToken", data={"username": "admin", "password": "admin1234"})
    assert token not in repr(reply) and reply.json["token"] not in repr(reply)
    assert "admin1234" not in redact("password admin1234")


def test_a_check_fails_when_the_server_breaks_its_rule(monkeypatch):
    """The echo property catches an emulator that writes 4.0 instead of 4 (W2)."""
    from contracts.test_copy_properties import test_valid_copy_echoes_its_inputs_normalised
    from mockserver.web import wire

    monkeypatch.setattr(wire, "integral", lambda value: value)
    kit = Target.in_process(create_app(clock=Clock()))
    source = next(r for r in kit.runtimes() if r["id"] == STANDARD_ID)
    check = test_valid_copy_echoes_its_inputs_normalised.hypothesis.inner_test
    form = {k: v for k, v in SEED_COPY.items() if k != "version"}
    with pytest.raises(AssertionError, match="integral"):
        check(writable=kit, source_runtime=source, form=form, encoding="multipart")
    kit.cleanup()


def test_every_snapshot_replays_against_the_emulator():
    files = exchanges.snapshot_files()
    assert files[0].name == "0001-seed-copy.json"
    for snapshot in files:
        kit = Target.in_process(create_app(clock=Clock()))
        assert exchanges.replay(kit, snapshot) == [], snapshot.name
        assert kit.created == {}


def test_first_snapshot_is_the_seed_example():
    from tests.test_seed_replay import seed_example

    _, parts, _, response_text = seed_example()
    recorded = json.loads(exchanges.snapshot_files()[0].read_text())["exchanges"][0]
    sent = {name: value for name, value in parts if name != "token"}
    assert recorded["request"]["form"] == {**sent, "name": "<prefix>" + sent["name"]}
    seed_runtime = json.loads(response_text)["notebookRuntime"]
    snapshot_runtime = recorded["response"]["body"]["notebookRuntime"]
    assert list(snapshot_runtime) == list(seed_runtime)
    generated = {"id", "name", "deploymentDefaultPropertyId", "revision"}
    assert {k: v for k, v in snapshot_runtime.items() if k not in generated} == {
        k: v for k, v in seed_runtime.items() if k not in generated
    }


def test_replay_reports_a_difference(tmp_path):
    snapshot = json.loads(exchanges.snapshot_files()[0].read_text())
    snapshot["exchanges"][0]["response"]["body"]["notebookRuntime"]["maxCpu"] = 8
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(snapshot))
    found = exchanges.replay(Target.in_process(create_app(clock=Clock())), altered)
    assert found == [
        "altered.json #1 POST admin/notebooks/runtimes/{source}/copy: body.notebookRuntime.maxCpu: 4 instead of 8"
    ]


def test_kit_imports_neither_the_emulator_nor_its_test_tools_until_it_runs():
    """Against a remote target the kit needs no emulator, and nbmock's command line loads
    the kit (entry point) without pytest's, Hypothesis's or Schemathesis's import cost."""
    probe = (
        "import sys, contracts, contracts.cli, contracts.plugin, contracts.report, "
        "contracts.reply, contracts.safety, contracts.redaction, contracts.target\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'mockserver', 'hypothesis', 'schemathesis', 'flask'})\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_system_runtime_changed_inside_restored_afterwards_is_put_back():
    kit = Target.in_process(create_app())
    kit.owns_deployment = False  # as a served emulator is: only the block may touch it
    before = kit.admin("GET", f"notebooks/runtimes/{STANDARD_ID}").json
    with kit.restored_afterwards() as owned:
        changed = owned.admin(
            "POST",
            f"notebooks/runtimes/{STANDARD_ID}/update",
            data={"maxCpu": "3", "maxMemory": "5", "maxMemoryUnit": "g"},
        )
        assert changed.json == {"status": "success"}, changed
        assert kit.admin("GET", f"notebooks/runtimes/{STANDARD_ID}").json["maxCpu"] == 3
    assert kit.admin("GET", f"notebooks/runtimes/{STANDARD_ID}").json == before
    with pytest.raises(UnsafeRequest):
        kit.admin("POST", f"notebooks/runtimes/{STANDARD_ID}/update", data={"maxCpu": "3"})


def test_the_clock_moves_through_the_control_plane_and_only_there():
    kit = Target.in_process(create_app())
    short = kit.generate_token("admin", "admin1234", expiration=1)
    kit.advance_clock(61)
    refused = kit.admin("GET", "notebooks/runtimes", token=short)
    assert refused.code == 498, refused
    closed = Target.in_process(create_app(control_enabled=False))
    assert not closed.is_emulator
    with pytest.raises(RuntimeError, match="control plane"):
        closed.advance_clock(61)


#: Issue 12's changed behaviours: each ledger row and the kit check that settles it.
CHANGED_BEHAVIOURS = {
    "W9": "reads_answer_post",
    "W11": "json_answers_are_labelled_text_plain",
    "T10": "expired_token_is_498",
    "T11": "notebook_access_follows_the_release",
    "T16": "undecryptable_token_is_498",
    "F1": "sharing_root_names_enterprise_build",
    "F18": "portal_refusals_carry_message_code",
    "F19": "portal_urls_carry_web_context",
    "M4": "update_with_manifest_file_replaces_manifest",
    "A1": "admin_root_has_full_version",
}


def test_report_marks_each_changed_behaviour_from_its_own_check(tmp_path):
    rows = {row.row_id: row.checks for row in checked_rows(DEFAULT_LEDGER)}
    unnamed = {
        row: check for row, check in CHANGED_BEHAVIOURS.items() if check not in rows.get(row, ())
    }
    assert unnamed == {}
    checks = sorted({check for row in CHANGED_BEHAVIOURS for check in rows[row]})
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", "--pyargs", "contracts", "-p", "no:cacheprovider",
            "-o", "addopts=", "-q", "--contract-report", str(tmp_path), "-k", " or ".join(checks),
        ],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    report = (tmp_path / "report.md").read_text()
    for row_id, check in CHANGED_BEHAVIOURS.items():
        line = next(line for line in report.splitlines() if line.startswith(f"| {row_id} |"))
        # The kit's default target is the emulator in process: it agrees, never confirms.
        assert "**agrees (emulator)**" in line and f"`{check}`" in line, line


def test_cleanup_moves_the_clock_back_by_what_the_kit_moved_it():
    app = create_app()
    kit = Target.in_process(app)
    someone_else = Target.in_process(app)
    someone_else.advance_clock(5)  # not the kit's: stays
    kit.advance_clock(61)
    kit.advance_clock(16 * 60)
    assert kit.cleanup() == [] and kit.cleanup_problems == []
    assert kit._control_call("GET", "clock")["offsetSeconds"] == 5


# --- which flavour a target is ---------------------------------------------------------


@pytest.mark.parametrize(
    ("flavour", "username", "evidence"),
    [
        ("kubernetes", "admin", "the admin root names fullVersion"),
        ("notebook-server", "admin", "the admin root names version and resources"),
        (
            "kubernetes",
            "viewer",
            "the Portal's portalDeploymentType is ArcGISEnterpriseOnKubernetes",
        ),
        (
            "notebook-server",
            "viewer",
            "the Portal's portalDeploymentType is ArcGISEnterprise, not Kubernetes",
        ),
    ],
)
def test_the_kit_judges_each_flavour_from_the_root_or_else_the_portal(flavour, username, evidence):
    """A user who may read neither the admin root nor the server listing (a viewer) leaves
    the Portal's deployment type to tell."""
    from mockserver.auth.users import User, UserDirectory, default_users

    users = UserDirectory([*default_users(), User.create("viewer", "viewer1234", "Viewer")])
    probe = Target.in_process(
        app_options={"flavour": flavour, "users": users},
        username=username,
        password={"admin": "admin1234", "viewer": "viewer1234"}[username],
    )
    assert (probe.flavour, probe.flavour_evidence) == (flavour, evidence)


@pytest.mark.parametrize("flavour", ["kubernetes", "notebook-server"])
def test_an_administrator_refused_the_admin_root_is_judged_by_the_portal(flavour):
    """An administrator the admin root refuses (a fault answers it 403) leaves the Portal:
    Kubernetes by its deployment type, the standalone server by the federated
    ARCGIS_NOTEBOOK_SERVER its server listing names."""
    from mockserver import create_app

    app = create_app(flavour=flavour)
    refused = {"operation": "admin", "error": {"code": 403, "message": "Not allowed."}}
    assert app.test_client().post("/__mock__/faults", json=refused).status_code == 200
    probe = Target.in_process(app)
    expected = {
        "kubernetes": "the Portal's portalDeploymentType is ArcGISEnterpriseOnKubernetes",
        "notebook-server": "the Portal lists a federated ARCGIS_NOTEBOOK_SERVER",
    }[flavour]
    assert (probe.flavour, probe.flavour_evidence) == (flavour, expected)
