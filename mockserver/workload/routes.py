"""The notebooks resource of Enterprise on Kubernetes: ``/<context>/admin/notebooks``,
its deployments, jobs and configuration, and the admin ``jobs/<id>`` a job's URL names.

Thin views: each declares its operation once (mockserver/pipeline.py), asks the
workload backend, and shapes its records as Kubernetes' pages show them. The
Portal side of notebook items (``content/items/<id>``) is ``content`` below.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, request, url_for

from mockserver.auth.guard import (
    require_notebook_administrator,
    require_notebook_configuration_administrator,
    sees_every_user,
    signed_in_user,
)
from mockserver.auth.users import User
from mockserver.core import deployment, messages
from mockserver.core.errors import ArcGISError, NotFound
from mockserver.web import wire
from mockserver.web.pipeline import OPERATION, Page, operation
from mockserver.workload import forms, releases
from mockserver.workload.backend import WorkloadBackend, caller_of
from mockserver.workload.model import FINISHED, Host, Job, Notebook

workload = Blueprint("workload", __name__)
#: The Portal's items: ``/<context>/sharing/rest/content/items/<id>``.
content = Blueprint("content", __name__)

NOTEBOOK = "/notebooks/<notebook_id>"
DEPLOYMENT = "/notebooks/deployments/<deployment_id>"


def _backend() -> WorkloadBackend:
    return deployment.current().workload


def _viewer() -> User:
    # The guard already ran; this reads the same token again for who is asking.
    return signed_in_user()


def _visible(records: list, viewer: User) -> list:
    if sees_every_user(viewer):
        return records
    return [record for record in records if record.username == viewer.username]


def _base() -> str:
    return f"{request.host_url.rstrip('/')}/{deployment.current().context}"


# --- shapes, as Kubernetes' 11.4 pages show them (FIDELITY W1-W8) --------------------------


def notebook_json(notebook: Notebook) -> dict[str, Any]:
    """[doc: 11.4 notebooks] keys and order; dateLastActivity epoch ms (a number)."""
    return {
        "itemId": notebook.item_id,
        # [inferred] the URL's form: the notebook under its deployment
        "notebookUrl": f"{_base()}/notebooks/{notebook.host_id}/notebooks/{notebook.item_id}.ipynb",
        "itemTitle": notebook.item_title,
        "dateLastActivity": notebook.last_activity_ms,
        "id": notebook.id,
        "notebookDeploymentId": notebook.host_id,
        "username": notebook.username,
        "revision": notebook.revision,
    }


def deployment_json(host: Host, allow_hidden: bool) -> dict[str, Any]:
    """[doc: 11.4 notebook deployments] keys and order; privateUrl's form [inferred]."""
    return {
        "privateUrl": f"http://nb-{host.id[:12]}.arcgis.svc.cluster.local:8888",
        "type": "openNotebook",
        "url": f"/notebooks/{host.id}",
        "notebookRuntimeVersion": host.runtime_version,
        "notebookRuntimeName": host.runtime_name,
        "dateCreated": host.created_ms,
        "allowHiddenFileDownloads": allow_hidden,
        "id": host.id,
        "notebookRuntimeId": host.runtime_id,
        "username": host.username,
    }


def notebook_job_json(job: Job, now_ms: int) -> dict[str, Any]:
    """[doc: 11.4 notebook job] keys and order of notebooks/jobs/<id>."""
    return {
        "privateUrl": "",
        "inputs": {**job.inputs, "runId": "", "taskId": ""},
        "type": job.type,
        "url": "",
        "notebookRuntimeVersion": job.runtime_version,
        "revision": job.revision,
        "notebookRuntimeName": job.runtime_name,
        "jobId": job.id,
        "dateCreated": job.submitted_ms,
        # [inferred] an id of its own beside jobId, stable for the job
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, job.id)),
        "notebookRuntimeId": job.runtime_id,
        "username": job.username,
        "status": job.status(now_ms),
    }


def job_summary_json(job: Job, now_ms: int) -> dict[str, Any]:
    """[doc: 12.1 notebook jobs] an abbreviated entry: endTime 0 until the job ends."""
    status = job.status(now_ms)
    return {
        "jobId": job.id,
        "name": job.type,
        "startTime": job.submitted_ms,
        "endTime": job.ended_ms if status in FINISHED else 0,
        "status": status,
    }


def admin_job_json(job: Job, now_ms: int) -> dict[str, Any]:
    """The admin jobs/<id> a job's URL names [doc: statuses, 10.9.1 job page]; keys as the
    Notebook Server's job page shows them [doc], for Kubernetes [inferred]. ``results``
    and ``messages`` appear once the job has ended."""
    status = job.status(now_ms)
    answer: dict[str, Any] = {
        "jobId": job.id,
        "inputs": dict(job.inputs),
        "startTime": job.submitted_ms,
        "endTime": job.ended_ms if status in FINISHED else 0,
        "type": job.type,
        "status": status,
        "username": job.username,
        "customAttributes": {"isCancelled": False},
    }
    if status in FINISHED:
        if job.notebook_id is not None:
            answer["results"] = {
                "notebookUrl": f"{_base()}/notebooks/{job.notebook_id}",
                "notebookId": job.notebook_id,
            }
        else:
            answer["results"] = {}
        answer["messages"] = [job.failure] if job.failure is not None else []
    return answer


def _started(job: Job) -> dict[str, Any]:
    """[doc: openNotebook] jobId, jobUrl at the admin jobs resource, status."""
    return {
        "jobId": job.id,
        "jobUrl": url_for("workload.admin_job", job_id=job.id, _external=True),
        "status": "success",
    }


# --- the notebooks resource ---------------------------------------------------------------


@operation(
    workload,
    "/notebooks",
    name="notebooks",
    title="Notebooks",
    guard=require_notebook_administrator,
)
def notebooks():
    open_now = _visible(_backend().notebooks(), _viewer())
    payload = {
        "operations": list(releases.OPERATIONS),
        "notebooks": [notebook_json(nb) for nb in open_now],
        "resources": list(releases.RESOURCES),
    }
    return Page(
        payload,
        links=lambda: {
            "deployments": url_for("workload.deployments"),
            "jobs": url_for("workload.jobs"),
            "runtimes": url_for("admin.list_runtimes"),
            "configuration": url_for("workload.configuration"),
        },
        operations=lambda: {
            "openNotebook": url_for("workload.open_notebook"),
            "executeNotebook": url_for("workload.execute_notebook"),
        },
        table=lambda: _notebooks_table(open_now),
    )


def _notebooks_table(open_now: list[Notebook]) -> dict:
    return {
        "key": "notebooks",
        "columns": ("id", "username", "itemTitle", "runtime", "dateLastActivity"),
        "rows": [
            (nb.id, nb.username, nb.item_title, nb.runtime_id, nb.last_activity_ms)
            for nb in open_now
        ],
        "links": [url_for("workload.notebook", notebook_id=nb.id) for nb in open_now],
        "link_column": 0,
    }


def _own_notebook(notebook_id: str) -> Notebook:
    notebook = _backend().notebook(notebook_id)
    if not _visible([notebook], _viewer()):
        raise NotFound(messages.NOTEBOOK_NOT_FOUND.format(id=notebook_id[:80]))
    return notebook


@operation(
    workload, NOTEBOOK, name="notebook", title="Notebook", guard=require_notebook_administrator
)
def notebook(notebook_id: str):
    found = _own_notebook(notebook_id)
    return Page(
        notebook_json(found),
        title=f"Notebook: {found.item_title}",
        links=lambda: {
            "deployment": url_for("workload.get_deployment", deployment_id=found.host_id)
        },
        operations=lambda: {
            "closeNotebook": url_for("workload.close_notebook", notebook_id=found.id)
        },
    )


def _confirm_page(
    name: str, find: Callable[[str], Any], question: str, cancel: str, arg: str
) -> Callable[..., Page]:
    """An operation's page that is its confirmation step: nothing happens until it is sent."""

    def page(**kwargs: str) -> Page:
        record = find(kwargs[arg])
        return Page(
            {"id": record.id, "username": record.username},
            operations={
                name: {
                    "url": url_for(f"workload.{_ENDPOINTS[name]}", **kwargs),
                    "fields": (),
                    "defaults": {},
                    "submit": name,
                    "confirm": question.format(id=record.id, username=record.username),
                    "cancel": url_for(cancel, **kwargs),
                }
            },
        )

    return page


_ENDPOINTS = {
    "closeNotebook": "close_notebook",
    "terminateDeployment": "terminate_deployment",
    "openNotebook": "open_notebook",
    "executeNotebook": "execute_notebook",
}


@operation(
    workload,
    f"{NOTEBOOK}/closeNotebook",
    name="closeNotebook",
    title="Close Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
    page=_confirm_page(
        "closeNotebook",
        lambda nid: _own_notebook(nid),
        "Close the notebook {id} of {username}? Unsaved work in it is lost.",
        "workload.notebook",
        "notebook_id",
    ),
)
def close_notebook(notebook_id: str):
    _own_notebook(notebook_id)
    _backend().close(notebook_id)
    return Page({"status": "success"}, links=lambda: {"notebooks": url_for("workload.notebooks")})


def _form_page(name: str, fields: tuple, submit: str) -> Callable[[], Page]:
    def page() -> Page:
        return Page(
            {},
            operations={
                name: {
                    "url": url_for(f"workload.{_ENDPOINTS[name]}"),
                    "fields": fields,
                    "defaults": {},
                    "submit": submit,
                    "cancel": url_for("workload.notebooks"),
                }
            },
        )

    return page


@operation(
    workload,
    "/notebooks/openNotebook",
    name="openNotebook",
    title="Open Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
    form=forms.OPEN,
    page=_form_page("openNotebook", forms.OPEN, "Open"),
)
def open_notebook():
    viewer = _viewer()
    params = wire.params()
    _check_item_access(params.get("itemId"), viewer)
    job = _backend().open(caller_of(viewer.username, viewer.privileges), params)
    return Page(_started(job), links=lambda: {"job": url_for("workload.admin_job", job_id=job.id)})


@operation(
    workload,
    "/notebooks/executeNotebook",
    name="executeNotebook",
    title="Execute Notebook",
    methods=OPERATION,
    guard=require_notebook_administrator,
    form=forms.EXECUTE,
    page=_form_page("executeNotebook", forms.EXECUTE, "Execute"),
)
def execute_notebook():
    viewer = _viewer()
    params = wire.params()
    _check_item_access(params.get("itemId"), viewer)
    job = _backend().execute(caller_of(viewer.username, viewer.privileges), params)
    return Page(_started(job), links=lambda: {"job": url_for("workload.admin_job", job_id=job.id)})


def _check_item_access(item_id: str | None, viewer: User) -> None:
    """A notebook user opens and executes the notebooks they own; administrators any
    [client: execute_notebook's docstring, "a notebook that they own"]."""
    if not item_id or sees_every_user(viewer):
        return
    item = _backend().item(item_id)
    if item is not None and item.owner != viewer.username:
        raise ArcGISError(messages.ITEM_NOT_A_NOTEBOOK.format(id=item_id[:80]), code=400)


# --- deployments ------------------------------------------------------------------------------


@operation(
    workload,
    "/notebooks/deployments",
    name="deployments",
    title="Notebook Deployments",
    guard=require_notebook_administrator,
)
def deployments():
    backend = _backend()
    hosts = _visible(backend.hosts(), _viewer())
    allow_hidden = bool(backend.configuration().get("allowHiddenFileDownloads", False))
    return Page(
        {"nbDeployments": [deployment_json(host, allow_hidden) for host in hosts]},
        table=lambda: {
            "key": "nbDeployments",
            "columns": ("id", "username", "notebookRuntimeName", "dateCreated"),
            "rows": [(h.id, h.username, h.runtime_name, h.created_ms) for h in hosts],
            "links": [url_for("workload.get_deployment", deployment_id=h.id) for h in hosts],
            "link_column": 0,
        },
    )


def _own_host(deployment_id: str) -> Host:
    host = _backend().host(deployment_id)
    if not _visible([host], _viewer()):
        raise NotFound(messages.DEPLOYMENT_NOT_FOUND.format(id=deployment_id[:80]))
    return host


@operation(
    workload,
    DEPLOYMENT,
    name="deployment",
    title="Notebook Deployment",
    guard=require_notebook_administrator,
)
def get_deployment(deployment_id: str):
    host = _own_host(deployment_id)
    allow_hidden = bool(_backend().configuration().get("allowHiddenFileDownloads", False))
    return Page(
        deployment_json(host, allow_hidden),
        links=lambda: {
            "notebooks": url_for("workload.deployment_notebooks", deployment_id=host.id)
        },
        operations=lambda: {
            "terminateDeployment": url_for("workload.terminate_deployment", deployment_id=host.id)
        },
    )


@operation(
    workload,
    f"{DEPLOYMENT}/notebooks",
    name="deploymentNotebooks",
    title="Deployment Notebooks",
    guard=require_notebook_administrator,
)
def deployment_notebooks(deployment_id: str):
    """[doc: the deployment's child resource Notebooks]; its answer's key [inferred]."""
    host = _own_host(deployment_id)
    return {"notebooks": [notebook_json(nb) for nb in _backend().notebooks_on(host.id)]}


@operation(
    workload,
    f"{DEPLOYMENT}/terminateDeployment",
    name="terminateDeployment",
    title="Terminate Deployment",
    methods=OPERATION,
    guard=require_notebook_administrator,
    page=_confirm_page(
        "terminateDeployment",
        lambda did: _own_host(did),
        "Terminate the deployment {id} of {username}? Every notebook in it closes.",
        "workload.get_deployment",
        "deployment_id",
    ),
)
def terminate_deployment(deployment_id: str):
    _own_host(deployment_id)
    _backend().terminate(deployment_id)
    return Page(
        {"status": "success"}, links=lambda: {"deployments": url_for("workload.deployments")}
    )


# --- jobs ----------------------------------------------------------------------------------------


@operation(
    workload,
    "/notebooks/jobs",
    name="notebookJobs",
    title="Notebook Jobs",
    guard=require_notebook_administrator,
)
def jobs():
    dep = deployment.current()
    profile = releases.profile(dep.release.name)
    now = dep.clock.now_ms()
    listed = _visible(_backend().jobs(active_only=not profile.jobs_keep_finished), _viewer())
    shape = job_summary_json if profile.jobs_keep_finished else notebook_job_json
    return Page(
        {profile.jobs_key: [shape(job, now) for job in listed]},
        table=lambda: {
            "key": profile.jobs_key,
            "columns": ("jobId", "type", "username", "status"),
            "rows": [(j.id, j.type, j.username, j.status(now)) for j in listed],
            "links": [url_for("workload.notebook_job", job_id=j.id) for j in listed],
            "link_column": 0,
        },
    )


def _own_job(job_id: str) -> Job:
    job = _backend().job(job_id)
    if not _visible([job], _viewer()):
        raise NotFound(messages.JOB_NOT_FOUND.format(id=job_id[:80]))
    return job


@operation(
    workload,
    "/notebooks/jobs/<job_id>",
    name="notebookJob",
    title="Notebook Job",
    guard=require_notebook_administrator,
)
def notebook_job(job_id: str):
    dep = deployment.current()
    job = _own_job(job_id)
    now = dep.clock.now_ms()
    if not releases.profile(dep.release.name).jobs_keep_finished and job.status(now) in FINISHED:
        # [doc: 11.4] "The job resource is removed after a job is completed"; the admin
        # jobs resource still has it.
        raise NotFound(messages.JOB_NOT_FOUND.format(id=job_id[:80]))
    return Page(
        notebook_job_json(job, now),
        links=lambda: {"admin job": url_for("workload.admin_job", job_id=job.id)},
    )


@operation(
    workload, "/jobs/<job_id>", name="job", title="Job", guard=require_notebook_administrator
)
def admin_job(job_id: str):
    """The job a notebook operation's jobUrl names [doc: openNotebook's jobUrl]."""
    job = _own_job(job_id)
    return admin_job_json(job, deployment.current().clock.now_ms())


# --- configuration -----------------------------------------------------------------------------


@operation(
    workload,
    "/notebooks/configuration",
    name="notebookConfiguration",
    title="Notebook Configuration",
    guard=require_notebook_configuration_administrator,
)
def configuration():
    return _backend().configuration()


# --- the Portal's notebook items -----------------------------------------------------------------


@operation(content, "/content/items/<item_id>", name="item", title="Item")
def item(item_id: str):
    """A notebook item [doc: the item resource's keys; only type Notebook is emulated]. Its
    owner and administrators see it; anyone else gets the Portal's not-found answer
    [capture: "Item does not exist or is inaccessible.", code 400]."""
    viewer = signed_in_user()
    found = _backend().item(item_id)
    if found is None or not (found.owner == viewer.username or sees_every_user(viewer)):
        raise _ItemInaccessible(messages.ITEM_INACCESSIBLE[0], code=400)
    payload = {
        "id": found.id,
        "owner": found.owner,
        "created": found.created,
        "modified": found.created,
        "title": found.title,
        "type": found.type,
        "typeKeywords": ["Notebook", "Python"],
        "access": "private",
        "url": None,
    }
    return Page(payload, title=f"Item: {found.title}")


class _ItemInaccessible(ArcGISError):
    code = 400
    portal_form = messages.ITEM_INACCESSIBLE
