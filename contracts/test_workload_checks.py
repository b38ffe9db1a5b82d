"""Notebooks at work (ledger J1-J30): the read-only parts, against any target.

Each check reads what a site has open now, so it holds on an idle site (empty lists)
and a busy one (every entry in the documented shape). Nothing here opens, executes or
closes a notebook.
"""

from __future__ import annotations

import time

import pytest

from contracts import calls
from contracts.target import KUBERNETES, NOTEBOOK_SERVER, Target

#: [doc: 11.4 notebooks] each open notebook's keys, in this order.
KUBERNETES_NOTEBOOK_KEYS = [
    "itemId",
    "notebookUrl",
    "itemTitle",
    "dateLastActivity",
    "id",
    "notebookDeploymentId",
    "username",
    "revision",
]
#: [doc: notebooks, 10.7; container-notebooks] each open notebook's keys, in this order.
SERVER_NOTEBOOK_KEYS = [
    "itemId",
    "notebookUrl",
    "dateLastActivity",
    "id",
    "containerId",
    "username",
]
#: [doc: 11.4 notebook-configuration] the keys every release has.
CONFIGURATION_KEYS = {
    "webSocketSize",
    "maxExecuteNotebookTimeMinutes",
    "maxSnapshotsPerNotebookItem",
    "allowHiddenFileDownloads",
    "idleNotebookThreshold",
    "containerCreatedThreshold",
}


@pytest.mark.flavour(KUBERNETES)
def test_kubernetes_notebooks_list_open_notebooks_in_the_documented_shape(target: Target) -> None:
    """J1: ``notebooks`` answers operations, notebooks and resources; each notebook has the
    documented keys, ``dateLastActivity`` a number."""
    body = target.admin("GET", "notebooks").json
    assert {"openNotebook", "executeNotebook"} <= set(body.get("operations", [])), body
    assert {"deployments", "jobs", "runtimes", "configuration"} <= set(body.get("resources", []))
    for notebook in body["notebooks"]:
        assert list(notebook) == KUBERNETES_NOTEBOOK_KEYS, notebook
        assert isinstance(notebook["dateLastActivity"], int), notebook


@pytest.mark.flavour(KUBERNETES)
def test_kubernetes_deployments_answer_nb_deployments(target: Target) -> None:
    """J4: ``notebooks/deployments`` answers ``nbDeployments``, each of type openNotebook."""
    body = target.admin("GET", "notebooks/deployments").json
    assert isinstance(body.get("nbDeployments"), list), body
    for deployment in body["nbDeployments"]:
        assert {"id", "username", "notebookRuntimeId", "dateCreated"} <= set(deployment)


@pytest.mark.flavour(KUBERNETES)
def test_kubernetes_configuration_has_the_documented_keys(target: Target) -> None:
    """J8: ``notebooks/configuration`` has the documented keys; idleNotebookThreshold in
    minutes, a whole number."""
    body = target.admin("GET", "notebooks/configuration").json
    assert set(body) >= CONFIGURATION_KEYS, sorted(CONFIGURATION_KEYS - set(body))
    assert isinstance(body["idleNotebookThreshold"], int), body


@pytest.mark.flavour(KUBERNETES)
def test_kubernetes_notebook_jobs_answer_a_list(target: Target) -> None:
    """J10: ``notebooks/jobs`` answers one list of jobs (``notebookJobs`` before 12.1,
    ``asyncNotebookJobs`` from it)."""
    body = target.admin("GET", "notebooks/jobs").json
    lists = [
        key for key in ("notebookJobs", "asyncNotebookJobs") if isinstance(body.get(key), list)
    ]
    assert len(lists) == 1, body


@pytest.mark.flavour(NOTEBOOK_SERVER)
def test_server_notebooks_answer_a_page_of_start_and_num(target: Target) -> None:
    """J20: ``notebooks`` answers total, notebooks, num and start; num defaults to 10 and
    start to 1; dateLastActivity is a string of digits."""
    body = target.admin("GET", "notebooks").json
    assert list(body) == ["total", "notebooks", "num", "start"], body
    assert (body["num"], body["start"]) == (10, 1), body
    assert len(body["notebooks"]) == min(body["total"], 10), body
    for notebook in body["notebooks"]:
        assert list(notebook) == SERVER_NOTEBOOK_KEYS, notebook
        assert str(notebook["dateLastActivity"]).isdigit(), notebook


@pytest.mark.flavour(NOTEBOOK_SERVER)
def test_server_notebooks_cut_num_to_100(target: Target) -> None:
    """J21: a ``num`` over 100 is answered with 100."""
    body = target.admin("GET", "notebooks", params={"num": "500"}).json
    assert body.get("num") == 100, body


@pytest.mark.flavour(NOTEBOOK_SERVER)
def test_server_properties_hold_the_idle_threshold(target: Target) -> None:
    """J24: ``system/properties`` holds idleNotebookThreshold and containerCreatedThreshold,
    whole minutes."""
    body = target.admin("GET", "system/properties").json
    for key in ("idleNotebookThreshold", "containerCreatedThreshold"):
        assert isinstance(body.get(key), int), body


@pytest.mark.flavour(NOTEBOOK_SERVER)
def test_server_containers_and_jobs_answer_lists(target: Target) -> None:
    """J26, J28: ``system/containers`` answers ``containers``; ``system/jobs`` ``asyncJobs``."""
    containers = target.admin("GET", "system/containers").json
    assert isinstance(containers.get("containers"), list), containers
    for container in containers["containers"]:
        assert {"id", "containerId", "username", "notebookRuntimeId"} <= set(container)
    jobs = target.admin("GET", "system/jobs").json
    assert isinstance(jobs.get("asyncJobs"), list), jobs


# --- writes: only with --allow-writes, only the named item, and nothing left open ---------

#: How often, and how long apart, a real site's job is polled before the check gives up.
JOB_POLLS = 60
JOB_POLL_SECONDS = 5.0


def _job(target: Target, job_url: str) -> dict:
    """The job ``job_url`` names, polled until it ends; an emulator's clock is moved instead
    of waiting."""
    path = job_url.split("/admin/", 1)[1]
    for _ in range(JOB_POLLS):
        job = target.admin("GET", path).json
        if job.get("status") in {"COMPLETED", "FAILED"}:
            return job
        if target.can_move_clock:
            target.advance_clock(60)
        else:
            time.sleep(JOB_POLL_SECONDS)
    pytest.fail(f"the job at {job_url} did not end after {JOB_POLLS} polls")


def _open_notebooks(target: Target) -> list[dict]:
    body = target.admin("GET", "notebooks", params={"num": "100"}).json
    return body["notebooks"]


def test_open_then_close_the_named_notebook_leaves_nothing_open(
    writable: Target, notebook_item: str
) -> None:
    """J7, J11, J22: openNotebook answers a jobUrl, its job completes, the notebook is listed
    for the kit's user; closeNotebook answers success and it is listed no more."""
    started = writable.admin("POST", "notebooks/openNotebook", data={"itemId": notebook_item})
    body = started.json
    assert body.get("status") == "success" and body.get("jobUrl"), started
    job = _job(writable, body["jobUrl"])
    assert job["status"] == "COMPLETED", job
    user = writable.credentials.username
    mine = [
        nb
        for nb in _open_notebooks(writable)
        if nb["itemId"] == notebook_item and (user is None or nb["username"] == user)
    ]
    assert len(mine) == 1, mine
    notebook_id = mine[0]["id"]
    writable.opened_notebooks.add(notebook_id)
    closed = writable.admin("POST", f"notebooks/{notebook_id}/closeNotebook")
    assert closed.json == {"status": "success"}, closed
    writable.opened_notebooks.discard(notebook_id)
    assert notebook_id not in {nb["id"] for nb in _open_notebooks(writable)}


def test_execute_the_named_notebook_answers_a_job_that_ends(
    writable: Target, notebook_item: str
) -> None:
    """J9, J11: executeNotebook answers a jobUrl whose job ends, COMPLETED or FAILED with a
    message; an execution leaves no notebook open."""
    before = {nb["id"] for nb in _open_notebooks(writable)}
    started = writable.admin(
        "POST",
        "notebooks/executeNotebook",
        data={"itemId": notebook_item, "updatePortalItem": "false"},
    )
    body = started.json
    assert body.get("status") == "success" and body.get("jobUrl"), started
    job = _job(writable, body["jobUrl"])
    assert job["type"] == "executeNotebook", job
    if job["status"] == "FAILED":
        assert job.get("messages"), job
    assert {nb["id"] for nb in _open_notebooks(writable)} <= before


@pytest.mark.flavour(KUBERNETES)
def test_a_runtime_open_notebooks_use_is_not_unregistered(
    writable: Target, notebook_item: str, source_runtime: dict
) -> None:
    """J15: with the named notebook open on a runtime the run copied, unregistering that
    runtime is refused; once the notebook is closed it unregisters. (Esri documents
    nothing here: a site that closes the notebooks instead refutes the row.)"""
    form = {**calls.SIMPLE_COPY, "name": writable.name("in-use")}
    runtime = calls.copied_runtime(calls.copy(writable, source_runtime["id"], form))
    _unregister_waits_for_the_notebook_to_close(writable, notebook_item, runtime["id"])


@pytest.mark.flavour(NOTEBOOK_SERVER)
def test_a_standalone_runtime_open_notebooks_use_is_not_unregistered(
    writable: Target, notebook_item: str, source_runtime: dict
) -> None:
    """J15 on the standalone Notebook Server: the run registers a runtime of its own on the
    image of an Esri runtime (so a real site can start it), opens the named notebook on it,
    and unregistering it is refused; once the notebook is closed it unregisters. (Esri
    documents nothing here: a site that closes the notebooks instead refutes the row.)"""
    registered = writable.admin(
        "POST",
        f"{calls.RUNTIMES}/register",
        data={
            "name": writable.name("in-use"),
            "version": str(source_runtime["version"]),
            "imageId": source_runtime["imageId"],
            "containerType": "docker",
            "requiresAdvancedPrivileges": "false",
            "maxCPU": "2.0",
            "maxMemory": "4.0",
            "maxMemoryUnit": "g",
        },
        multipart=True,
    ).json
    runtime = registered.get("notebookRuntime")
    assert isinstance(runtime, dict), registered
    _unregister_waits_for_the_notebook_to_close(writable, notebook_item, runtime["id"])


def _unregister_waits_for_the_notebook_to_close(
    writable: Target, notebook_item: str, runtime_id: str
) -> None:
    """J15's steps, in either flavour: open the named notebook on ``runtime_id``, see its
    unregister refused, close the notebook, see it unregister."""
    started = writable.admin(
        "POST",
        "notebooks/openNotebook",
        data={"itemId": notebook_item, "notebookRuntimeId": runtime_id},
    ).json
    assert started.get("status") == "success", started
    assert _job(writable, started["jobUrl"])["status"] == "COMPLETED"
    mine = [nb for nb in _open_notebooks(writable) if nb["itemId"] == notebook_item]
    assert len(mine) == 1, mine
    writable.opened_notebooks.add(mine[0]["id"])
    refused = calls.unregister(writable, runtime_id)
    assert refused.code == 400, refused
    assert writable.admin("POST", f"notebooks/{mine[0]['id']}/closeNotebook").json == {
        "status": "success"
    }
    writable.opened_notebooks.discard(mine[0]["id"])
    assert calls.unregister(writable, runtime_id).envelope == "success"
