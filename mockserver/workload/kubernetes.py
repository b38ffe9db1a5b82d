"""The notebooks resource of Enterprise on Kubernetes: ``/<context>/admin/notebooks``,
its deployments, jobs and configuration, and the admin ``jobs/<id>`` a job's URL names.

Thin views: each declares its operation once (mockserver/web/pipeline.py), asks the
shared workload backend, and shapes its records as Kubernetes' pages show them. The
standalone server's views of the same records are ``notebook_server.py``; the
Portal side of notebook items is ``items.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, request, url_for

from mockserver.auth.guard import (
    require_notebook_administrator,
    require_notebook_configuration_administrator,
)
from mockserver.core import deployment, messages
from mockserver.core.errors import NotFound
from mockserver.web.pipeline import OPERATION, Page, operation
from mockserver.workload import forms, releases, views
from mockserver.workload.model import FINISHED, Host, Job, Notebook

workload = Blueprint("workload", __name__)

NOTEBOOK = "/notebooks/<notebook_id>"
DEPLOYMENT = "/notebooks/deployments/<deployment_id>"


def _base() -> str:
    return f"{request.host_url.rstrip('/')}/{deployment.current().context}"


# --- shapes, as Kubernetes' 11.4 pages show them (FIDELITY J1-J11) --------------------------


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


# --- the notebooks resource ---------------------------------------------------------------


@operation(
    workload,
    "/notebooks",
    name="notebooks",
    title="Notebooks",
    guard=require_notebook_administrator,
)
def notebooks():
    open_now = views.visible(views.backend().notebooks(), views.viewer())
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


@operation(
    workload, NOTEBOOK, name="notebook", title="Notebook", guard=require_notebook_administrator
)
def notebook(notebook_id: str):
    found = views.own_notebook(notebook_id)
    return Page(
        notebook_json(found),
        title=f"Notebook: {found.item_title}",
        links=lambda: {
            "deployment": url_for("workload.get_deployment", deployment_id=found.host_id),
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
    return views.open_notebook("workload.admin_job")


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
    return views.execute_notebook("workload.admin_job")


# --- deployments ------------------------------------------------------------------------------


@operation(
    workload,
    "/notebooks/deployments",
    name="deployments",
    title="Notebook Deployments",
    guard=require_notebook_administrator,
)
def deployments():
    backend = views.backend()
    hosts = views.visible(backend.hosts(), views.viewer())
    allow_hidden = bool(backend.configuration().get("allowHiddenFileDownloads", False))
    return Page(
        {"nbDeployments": [deployment_json(host, allow_hidden) for host in hosts]},
        table=lambda: views.hosts_table(
            "nbDeployments",
            hosts,
            lambda host_id: url_for("workload.get_deployment", deployment_id=host_id),
        ),
    )


@operation(
    workload,
    DEPLOYMENT,
    name="deployment",
    title="Notebook Deployment",
    guard=require_notebook_administrator,
)
def get_deployment(deployment_id: str):
    host = views.own_host(deployment_id)
    allow_hidden = bool(views.backend().configuration().get("allowHiddenFileDownloads", False))
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
    host = views.own_host(deployment_id)
    return {"notebooks": [notebook_json(nb) for nb in views.backend().notebooks_on(host.id)]}


@operation(
    workload,
    f"{DEPLOYMENT}/terminateDeployment",
    name="terminateDeployment",
    title="Terminate Deployment",
    methods=OPERATION,
    guard=require_notebook_administrator,
    page=views.confirm_page(
        "terminateDeployment",
        "workload.terminate_deployment",
        views.own_host,
        "Terminate the deployment {id} of {username}? Every notebook in it closes.",
        "workload.get_deployment",
        "deployment_id",
    ),
)
def terminate_deployment(deployment_id: str):
    views.own_host(deployment_id)
    views.backend().terminate(deployment_id)
    return views.succeeded("deployments", "deploymentTerminated", deployment_id)


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
    listed = views.visible(
        views.backend().jobs(active_only=not profile.jobs_keep_finished), views.viewer()
    )
    shape = job_summary_json if profile.jobs_keep_finished else notebook_job_json
    return Page(
        {profile.jobs_key: [shape(job, now) for job in listed]},
        table=lambda: views.jobs_table(profile.jobs_key, listed, now, "workload.notebook_job"),
    )


@operation(
    workload,
    "/notebooks/jobs/<job_id>",
    name="notebookJob",
    title="Notebook Job",
    guard=require_notebook_administrator,
)
def notebook_job(job_id: str):
    dep = deployment.current()
    job = views.own_job(job_id)
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
    job = views.own_job(job_id)
    return views.admin_job_json(job, views.now_ms(), lambda nid: f"{_base()}/notebooks/{nid}")


# --- configuration -----------------------------------------------------------------------------


@operation(
    workload,
    "/notebooks/configuration",
    name="notebookConfiguration",
    title="Notebook Configuration",
    guard=require_notebook_configuration_administrator,
)
def configuration():
    return views.backend().configuration()
