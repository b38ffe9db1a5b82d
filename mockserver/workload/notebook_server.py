"""The standalone ArcGIS Notebook Server's notebooks at work: ``/<context>/admin/notebooks``
(paged with ``start`` and ``num``), and under ``system``: properties, containers and jobs.

Thin views over the same workload records as Kubernetes' (``kubernetes.py``), shaped as
the Notebook Server's pages show them: a host is a container, ``dateLastActivity`` is a
string of digits, and a job's URL is ``system/jobs/<id>``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, request, url_for

from mockserver.auth.guard import require_administrator, require_notebook_administrator
from mockserver.core import deployment, messages
from mockserver.core.errors import NotFound
from mockserver.web import wire
from mockserver.web.pipeline import OPERATION, Page, operation
from mockserver.workload import forms, model, releases, views
from mockserver.workload.model import FINISHED, Host, Job, Notebook

workload = Blueprint("workload", __name__)

NOTEBOOK = "/notebooks/<notebook_id>"
CONTAINER = "/system/containers/<container_id>"


def _since(feature: str) -> None:
    """A resource a release does not have yet answers as if it did not exist."""
    if not releases.server_has(deployment.current().release.full_version, feature):
        raise NotFound(messages.NO_SUCH_RESOURCE.format(name=feature))


# --- shapes, as the Notebook Server's pages show them (FIDELITY J20-J29) -------------------


def notebook_json(notebook: Notebook) -> dict[str, Any]:
    """[doc: notebooks, container-notebooks] keys and order; dateLastActivity a string of
    digits; notebookUrl "/notebooks/<containerId>/notebooks/<itemId>.ipynb" [doc example]."""
    return {
        "itemId": notebook.item_id,
        "notebookUrl": f"/notebooks/{notebook.host_id}/notebooks/{notebook.item_id}.ipynb",
        "dateLastActivity": str(notebook.last_activity_ms),
        "id": notebook.id,
        "containerId": notebook.host_id,
        "username": notebook.username,
    }


def container_json(host: Host) -> dict[str, Any]:
    """[doc: container] keys and order. Host names, ports and sizes are the emulator's own
    [inferred]; ``id`` and ``containerId`` are the same id here (a real site's item id and
    Docker id differ) [inferred]."""
    return {
        "hostName": request.host.split(":")[0],
        "memory": 0,
        "imageName": "",
        "hostIp": "127.0.0.1",
        "cpus": 0,
        "httpPort": 30001,
        "containerUrl": f"/notebooks/{host.id}",
        "httpsPort": 30002,
        "dateCreated": str(host.created_ms),
        "id": host.id,
        "containerId": host.id,
        "username": host.username,
        "type": "openNotebook",
        "notebookRuntimeId": host.runtime_id,
        "notebookRuntimeVersion": host.runtime_version,
        "notebookRuntimeName": host.runtime_name,
        "containerHostname": host.id[:12],
    }


def _notebook_url(notebook_id: str) -> str:
    return url_for("workload.notebook", notebook_id=notebook_id, _external=True)


# --- the notebooks resource ---------------------------------------------------------------


@operation(
    workload,
    "/notebooks",
    name="notebooks",
    title="Notebooks",
    guard=require_notebook_administrator,
)
def notebooks():
    """[doc: notebooks, 10.7] {total, notebooks, num, start}. The official client's list()
    sends neither start nor num, so it sees the first ten only [client], as on a real site."""
    paging = model.paging(wire.params())
    open_now = views.visible(views.backend().notebooks(), views.viewer())
    shown = paging.of(open_now)
    payload = {
        "total": len(open_now),
        "notebooks": [notebook_json(nb) for nb in shown],
        "num": paging.num,
        "start": paging.start,
    }
    return Page(
        payload,
        links=lambda: {
            "runtimes": url_for("admin.list_runtimes"),
            "system": url_for("workload.system"),
        },
        operations=lambda: {
            "openNotebook": url_for("workload.open_notebook"),
            "executeNotebook": url_for("workload.execute_notebook"),
        },
        table=lambda: {
            "key": "notebooks",
            "columns": ("id", "username", "itemId", "containerId", "dateLastActivity"),
            "rows": [
                (nb.id, nb.username, nb.item_id, nb.host_id, nb.last_activity_ms) for nb in shown
            ],
            "links": [url_for("workload.notebook", notebook_id=nb.id) for nb in shown],
            "link_column": 0,
        },
    )


@operation(
    workload, NOTEBOOK, name="notebook", title="Notebook", guard=require_notebook_administrator
)
def notebook(notebook_id: str):
    found = views.own_notebook(notebook_id)
    return Page(
        notebook_json(found),
        links=lambda: {
            "container": url_for("workload.container", container_id=found.host_id),
            "runtime": url_for("admin.get_runtime", runtime_id=found.runtime_id),
        },
        operations=lambda: {
            "closeNotebook": url_for("workload.close_notebook", notebook_id=found.id)
        },
    )


@operation(
    workload,
    f"{NOTEBOOK}/closeNotebook",
    name="closeNotebook",
    title="Close Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
    page=views.close_notebook_page,
)
def close_notebook(notebook_id: str):
    """[doc: close-notebook] ``closeNotebook``, what the client's Notebook.close() posts."""
    return views.close_notebook(notebook_id)


@operation(
    workload,
    f"{NOTEBOOK}/close",
    name="close",
    title="Close Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
)
def close_notebook_older(notebook_id: str):
    """[doc: older pages name the operation ``close``] the same operation."""
    return views.close_notebook(notebook_id)


@operation(
    workload,
    "/notebooks/openNotebook",
    name="openNotebook",
    title="Open Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
    form=forms.OPEN,
    page=views.open_notebook_page,
)
def open_notebook():
    return views.open_notebook("workload.system_job")


@operation(
    workload,
    "/notebooks/executeNotebook",
    name="executeNotebook",
    title="Execute Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
    form=forms.EXECUTE,
    page=views.execute_notebook_page,
)
def execute_notebook():
    """[doc: execute-notebook, since 10.8]."""
    _since("executeNotebook")
    return views.execute_notebook("workload.system_job")


# --- system ---------------------------------------------------------------------------------


@operation(workload, "/system", name="system", title="System", guard=require_notebook_administrator)
def system():
    """[doc: system] its resources; the emulator serves containers, properties and jobs of
    Esri's list (webadaptors, licenses, directories and configStore answer 404)."""
    return Page(
        {"resources": ["containers", "properties", "jobs"]},
        links=lambda: {
            "containers": url_for("workload.containers"),
            "properties": url_for("workload.properties"),
            "jobs": url_for("workload.system_jobs"),
        },
    )


@operation(
    workload,
    "/system/properties",
    name="properties",
    title="Notebook Server Properties",
    guard=require_administrator,
)
def properties():
    """[doc: server-properties] the properties the workload's rules read
    (idleNotebookThreshold, containerCreatedThreshold) among the server's others."""
    return Page(
        views.backend().configuration(),
        operations=lambda: {"update": url_for("workload.update_properties")},
    )


@operation(
    workload,
    "/system/properties/update",
    name="updateProperties",
    title="Update Properties",
    methods=OPERATION,
    guard=require_administrator,
    form=forms.PROPERTIES,
    page=views.form_page(
        "update",
        "workload.update_properties",
        forms.PROPERTIES,
        "Update",
        "workload.properties",
        # The box shows the properties as they stand, to be edited rather than retyped.
        defaults=lambda: {"properties": json.dumps(views.backend().configuration())},
    ),
)
def update_properties():
    """[doc: server-properties-update] ``properties`` = a JSON object; answers success."""
    views.backend().update_properties(wire.params().get("properties"))
    return views.succeeded("properties", "propertiesUpdated", "system")


@operation(
    workload,
    "/system/containers",
    name="containers",
    title="Containers",
    guard=require_notebook_administrator,
)
def containers():
    """[doc: containers] every user's to an administrator, a user's own to anyone else."""
    hosts = views.visible(views.backend().hosts(), views.viewer())
    return Page(
        {"containers": [container_json(host) for host in hosts]},
        table=lambda: views.hosts_table(
            "containers",
            hosts,
            lambda host_id: url_for("workload.container", container_id=host_id),
        ),
    )


@operation(
    workload, CONTAINER, name="container", title="Container", guard=require_notebook_administrator
)
def container(container_id: str):
    host = views.own_host(container_id)
    return Page(
        container_json(host),
        links=lambda: {
            "sessions": url_for("workload.container_sessions", container_id=host.id),
            "notebooks": url_for("workload.container_notebooks", container_id=host.id),
            "statistics": url_for("workload.container_statistics", container_id=host.id),
        },
        operations=lambda: {
            "terminateContainer": url_for("workload.terminate_container", container_id=host.id)
        },
    )


@operation(
    workload,
    f"{CONTAINER}/sessions",
    name="containerSessions",
    title="Container Sessions",
    guard=require_notebook_administrator,
)
def container_sessions(container_id: str):
    """[doc: container-sessions] a kernel per open notebook; its ids and state [inferred]."""
    host = views.own_host(container_id)
    now = views.now_ms()
    sessions = []
    for nb in views.backend().notebooks_on(host.id):
        sessions.append(
            {
                "path": f"{nb.item_id}.ipynb",
                "kernel": {
                    "last_activity": _iso(nb.last_activity_ms),
                    "name": "python3",
                    "id": nb.id,
                    "execution_state": "idle" if nb.last_activity_ms < now else "busy",
                    "connections": 0,
                },
                "name": "",
                "id": nb.id,
                "type": "notebook",
            }
        )
    return {"sessions": sessions}


def _iso(ms: int) -> str:
    """[doc example] "2019-01-01T00:00:00.705020Z"."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@operation(
    workload,
    f"{CONTAINER}/notebooks",
    name="containerNotebooks",
    title="Container Notebooks",
    guard=require_notebook_administrator,
)
def container_notebooks(container_id: str):
    """[doc: container-notebooks, since 10.9]."""
    _since("containerNotebooks")
    host = views.own_host(container_id)
    return {"notebooks": [notebook_json(nb) for nb in views.backend().notebooks_on(host.id)]}


def _container_notebook(container_id: str, notebook_id: str) -> Notebook:
    _since("containerNotebooks")
    host = views.own_host(container_id)
    found = views.own_notebook(notebook_id)
    if found.host_id != host.id:
        raise NotFound(messages.NOTEBOOK_NOT_FOUND.format(id=notebook_id[:80]))
    return found


@operation(
    workload,
    f"{CONTAINER}/notebooks/<notebook_id>",
    name="containerNotebook",
    title="Container Notebook",
    guard=require_notebook_administrator,
)
def container_notebook(container_id: str, notebook_id: str):
    return notebook_json(_container_notebook(container_id, notebook_id))


@operation(
    workload,
    f"{CONTAINER}/notebooks/<notebook_id>/closeNotebook",
    name="closeContainerNotebook",
    title="Close Container Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
)
def close_container_notebook(container_id: str, notebook_id: str):
    """[doc: close-container-notebook, 10.9]."""
    return views.close_notebook(_container_notebook(container_id, notebook_id).id)


@operation(
    workload,
    f"{CONTAINER}/notebooks/<notebook_id>/close",
    name="closeContainerNotebookOlder",
    title="Close Container Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
)
def close_container_notebook_older(container_id: str, notebook_id: str):
    """[client: ContainerNotebook.close() posts ``close``]."""
    return views.close_notebook(_container_notebook(container_id, notebook_id).id)


@operation(
    workload,
    f"{CONTAINER}/statistics",
    name="containerStatistics",
    title="Container Statistics",
    guard=require_notebook_administrator,
)
def container_statistics(container_id: str):
    """[doc: container-statistics names the resource; its figures are not emulated: zeros,
    inferred keys]."""
    host = views.own_host(container_id)
    return {
        "containerId": host.id,
        "cpuPercent": 0,
        "memoryUsage": 0,
        "memoryLimit": 0,
        "memoryPercent": 0,
    }


@operation(
    workload,
    f"{CONTAINER}/terminateContainer",
    name="terminateContainer",
    title="Terminate Container",
    methods=OPERATION,
    guard=require_notebook_administrator,
    page=views.confirm_page(
        "terminateContainer",
        "workload.terminate_container",
        views.own_host,
        "Terminate the container {id} of {username}? Every notebook in it closes.",
        "workload.container",
        "container_id",
    ),
)
def terminate_container(container_id: str):
    views.own_host(container_id)
    views.backend().terminate(container_id)
    return views.succeeded("containers", "containerTerminated", container_id)


# --- jobs -----------------------------------------------------------------------------------


def _job_entry(job: Job, now: int) -> dict[str, Any]:
    status = job.status(now)
    return {
        "jobId": job.id,
        "type": job.type,
        "status": status,
        "startTime": job.submitted_ms,
        "endTime": job.ended_ms if status in FINISHED else 0,
        "username": job.username,
    }


@operation(
    workload, "/system/jobs", name="systemJobs", title="Jobs", guard=require_notebook_administrator
)
def system_jobs():
    """[doc: jobs] ``asyncJobs``; each entry's keys [inferred from the job page's]."""
    now = views.now_ms()
    listed = views.visible(views.backend().jobs(), views.viewer())
    return Page(
        {"asyncJobs": [_job_entry(job, now) for job in listed]},
        table=lambda: views.jobs_table("asyncJobs", listed, now, "workload.system_job"),
    )


@operation(
    workload,
    "/system/jobs/<job_id>",
    name="systemJob",
    title="Job",
    guard=require_notebook_administrator,
)
def system_job(job_id: str):
    """The job a notebook operation's jobUrl names [doc: openNotebook's jobUrl; job page]."""
    job = views.own_job(job_id)
    return views.admin_job_json(job, views.now_ms(), _notebook_url)
