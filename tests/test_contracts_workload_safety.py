"""The kit's safety rules for notebooks at work, against a deployment it does not own:
it opens and executes only the item the user named, closes only what it opened, and
never terminates, closes another's notebook or changes the server's properties.

Every variant of a workload write is enumerated, so each rule is tried on each path.
"""

from __future__ import annotations

import pytest

from contracts.safety import UnsafeRequest, check_request
from contracts.target import Target
from mockserver import create_app
from mockserver.core.clock import Clock

ITEM = "a" * 32
MINE = "mine0000"


def send(path: str, form: dict | None = None, *, allow_writes=True, owns=False, refusal=False):
    check_request(
        "POST",
        path,
        form or {},
        refusal_expected=refusal,
        allow_writes=allow_writes,
        owns_deployment=owns,
        own_ids=(),
        prefix="nbmock-kit-x-",
        notebook_item=ITEM,
        own_notebooks={MINE},
    )


ALLOWED = [
    ("admin/notebooks/openNotebook", {"itemId": ITEM}),
    ("admin/notebooks/executeNotebook", {"itemId": ITEM}),
    (f"admin/notebooks/{MINE}/closeNotebook", {}),
    (f"admin/notebooks/{MINE}/close", {}),
]
FORBIDDEN = [
    ("admin/notebooks/openNotebook", {"itemId": "b" * 32}),
    ("admin/notebooks/openNotebook", {}),
    ("admin/notebooks/executeNotebook", {"itemId": "b" * 32}),
    ("admin/notebooks/someone/closeNotebook", {}),
    ("admin/notebooks/someone/close", {}),
    ("admin/notebooks/deployments/d1/terminateDeployment", {}),
    ("admin/notebooks/deployments/d1/notebooks/n1/closeNotebook", {}),
    ("admin/system/containers/c1/terminateContainer", {}),
    ("admin/system/containers/c1/notebooks/n1/closeNotebook", {}),
    ("admin/system/containers/c1/notebooks/n1/close", {}),
    ("admin/system/properties/update", {"properties": "{}"}),
]


@pytest.mark.parametrize(("path", "form"), ALLOWED)
def test_the_named_item_and_the_runs_own_notebooks_may_be_written(path, form):
    send(path, form)


@pytest.mark.parametrize(("path", "form"), FORBIDDEN)
def test_anything_else_is_refused_on_a_deployment_the_kit_does_not_own(path, form):
    with pytest.raises(UnsafeRequest):
        send(path, form)


@pytest.mark.parametrize(("path", "form"), ALLOWED + FORBIDDEN)
def test_no_workload_write_is_sent_by_a_read_only_run(path, form):
    with pytest.raises(UnsafeRequest):
        send(path, form, allow_writes=False)


@pytest.mark.parametrize(("path", "form"), ALLOWED + FORBIDDEN)
def test_the_kits_own_emulator_may_take_every_workload_write(path, form):
    send(path, form, owns=True)


def test_reads_are_never_refused():
    for path in ("admin/notebooks", "admin/system/containers", "admin/notebooks/jobs"):
        check_request(
            "GET",
            path,
            {},
            refusal_expected=False,
            allow_writes=False,
            owns_deployment=False,
            own_ids=(),
            prefix="nbmock-kit-x-",
        )


@pytest.mark.parametrize("flavour", ["kubernetes", "notebook-server"])
def test_cleanup_closes_every_notebook_the_run_opened_and_no_other(flavour):
    app = create_app(clock=Clock(), flavour=flavour)
    kit = Target.in_process(app)
    item = kit.seed_notebook_item("admin")
    theirs = app.test_client().post(
        "/__mock__/workload/notebooks", json={"notebooks": [{"username": "alice"}]}
    )
    assert theirs.status_code == 200
    started = kit.admin("POST", "notebooks/openNotebook", data={"itemId": item}).json
    assert started["status"] == "success"
    opened = [nb for nb in kit.admin("GET", "notebooks").json["notebooks"] if nb["itemId"] == item]
    kit.opened_notebooks.add(opened[0]["id"])
    assert kit.cleanup() == []
    left = kit.admin("GET", "notebooks").json["notebooks"]
    assert [nb["username"] for nb in left] == ["alice"]
