"""What both flavours' notebooks views share: who sees which records, and their pages.

Each flavour's views (``kubernetes.py``, ``notebook_server.py``) shape the same workload
records their own way; the rules about who may see and touch them, the admin job a
``jobUrl`` names, how a notebook is opened, executed and closed, and the directory's
confirmation and form pages are the same in both. Each flavour still declares every
operation it serves on its own blueprint (what a flavour serves reads in its own module);
the bodies and pages both flavours give alike are here. Both blueprints are named
``workload`` (one flavour per app), so endpoints read alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import url_for

from mockserver.auth.guard import sees_every_user, signed_in_user
from mockserver.auth.users import User
from mockserver.core import deployment, messages
from mockserver.core.errors import ArcGISError, NotFound
from mockserver.web import wire
from mockserver.web.directory import Done
from mockserver.web.pipeline import Page
from mockserver.workload import forms
from mockserver.workload.backend import Caller, WorkloadBackend, caller_of
from mockserver.workload.model import FINISHED, Host, Job, Notebook


def backend() -> WorkloadBackend:
    return deployment.current().workload


def now_ms() -> int:
    return deployment.current().clock.now_ms()


def viewer() -> User:
    # The guard already ran; this reads the same token again for who is asking.
    return signed_in_user()


def visible(records: list, user: User) -> list:
    """Administrators see every user's records; anyone else their own [doc: "Those who are
    not administrators will only see the containers they own"; 11.4 notebook jobs]."""
    if sees_every_user(user):
        return records
    return [record for record in records if record.username == user.username]


def own_notebook(notebook_id: str) -> Notebook:
    notebook = backend().notebook(notebook_id)
    if not visible([notebook], viewer()):
        raise NotFound(messages.NOTEBOOK_NOT_FOUND.format(id=notebook_id[:80]))
    return notebook


def own_host(host_id: str) -> Host:
    host = backend().host(host_id)
    if not visible([host], viewer()):
        raise NotFound(messages.DEPLOYMENT_NOT_FOUND.format(id=host_id[:80]))
    return host


def own_job(job_id: str) -> Job:
    job = backend().job(job_id)
    if not visible([job], viewer()):
        raise NotFound(messages.JOB_NOT_FOUND.format(id=job_id[:80]))
    return job


def check_item_access(item_id: str | None, user: User) -> None:
    """A notebook user opens and executes the notebooks they own; administrators any
    [client: execute_notebook's docstring, "a notebook that they own"]."""
    if not item_id or sees_every_user(user):
        return
    item = backend().item(item_id)
    if item is not None and item.owner != user.username:
        raise ArcGISError(messages.ITEM_NOT_A_NOTEBOOK.format(id=item_id[:80]), code=400)


def admin_job_json(job: Job, now: int, notebook_url: Callable[[str], str]) -> dict[str, Any]:
    """The job a ``jobUrl`` names [doc: statuses, 10.9.1 job page; keys as the Notebook
    Server's job page shows them, for Kubernetes inferred]. ``results`` and ``messages``
    appear once the job has ended."""
    status = job.status(now)
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
                "notebookUrl": notebook_url(job.notebook_id),
                "notebookId": job.notebook_id,
            }
        else:
            answer["results"] = {}
        answer["messages"] = [job.failure] if job.failure is not None else []
    return answer


# --- the operations both flavours serve alike -----------------------------------------------


def open_notebook(job_endpoint: str) -> Page:
    """[doc: openNotebook] a job that opens the caller's notebook; ``job_endpoint`` is the
    flavour's page of one job, which the answer's ``jobUrl`` names."""
    return _submitted(backend().open, job_endpoint)


def execute_notebook(job_endpoint: str) -> Page:
    """[doc: executeNotebook] a job that runs the caller's notebook, answered as
    ``open_notebook`` is."""
    return _submitted(backend().execute, job_endpoint)


def _submitted(submit: Callable[[Caller, Mapping[str, str]], Job], job_endpoint: str) -> Page:
    user = viewer()
    params = wire.params()
    check_item_access(params.get("itemId"), user)
    job = submit(caller_of(user.username, user.privileges), params)
    return Page(
        # [doc: openNotebook] jobId, jobUrl at the flavour's admin jobs resource, status.
        {
            "jobId": job.id,
            "jobUrl": url_for(job_endpoint, job_id=job.id, _external=True),
            "status": "success",
        },
        links=lambda: {"job": url_for(job_endpoint, job_id=job.id)},
        then=lambda: Done(url_for(job_endpoint, job_id=job.id), "submitted", job.id),
    )


def close_notebook(notebook_id: str) -> Page:
    own_notebook(notebook_id)
    backend().close(notebook_id)
    return succeeded("notebooks", "closed", notebook_id)


def succeeded(back_to: str, done: str, subject: str) -> Page:
    """A write's answer, ``{"status": "success"}``. Its page links back to the list
    ``back_to`` (a ``workload`` endpoint, named as its link), where a browser is sent at
    once and told ``done`` about ``subject``."""
    return Page(
        {"status": "success"},
        links=lambda: {back_to: url_for(f"workload.{back_to}")},
        then=lambda: Done(url_for(f"workload.{back_to}"), done, subject),
    )


# --- the directory's tables and pages ----------------------------------------------------------


def hosts_table(key: str, hosts: list[Host], link: Callable[[str], str]) -> dict[str, Any]:
    """A flavour's hosts (deployments, containers) under ``key``; ``link(id)`` is one's page."""
    return {
        "key": key,
        "columns": ("id", "username", "notebookRuntimeName", "dateCreated"),
        "rows": [(h.id, h.username, h.runtime_name, h.created_ms) for h in hosts],
        "links": [link(h.id) for h in hosts],
        "link_column": 0,
    }


def jobs_table(key: str, jobs: list[Job], now: int, job_endpoint: str) -> dict[str, Any]:
    """Jobs under ``key`` with their status at ``now``, each linked to ``job_endpoint``."""
    return {
        "key": key,
        "columns": ("jobId", "type", "username", "status"),
        "rows": [(j.id, j.type, j.username, j.status(now)) for j in jobs],
        "links": [url_for(job_endpoint, job_id=j.id) for j in jobs],
        "link_column": 0,
    }


def confirm_page(
    name: str, endpoint: str, find: Callable[[str], Any], question: str, cancel: str, arg: str
) -> Callable[..., Page]:
    """An operation's page that is its confirmation step: nothing happens until it is sent."""

    def page(**kwargs: str) -> Page:
        record = find(kwargs[arg])
        return Page(
            {"id": record.id, "username": record.username},
            operations={
                name: {
                    "url": url_for(endpoint, **kwargs),
                    "fields": (),
                    "defaults": {},
                    "submit": name,
                    "confirm": question.format(id=record.id, username=record.username),
                    "cancel": url_for(cancel, **kwargs),
                }
            },
        )

    return page


def form_page(
    name: str,
    endpoint: str,
    fields: tuple,
    submit: str,
    cancel: str,
    defaults: Callable[[], dict[str, str]] | None = None,
) -> Callable[[], Page]:
    """The page of a form operation; ``defaults()`` fills its boxes with what stands now."""

    def page() -> Page:
        return Page(
            {},
            operations={
                name: {
                    "url": url_for(endpoint),
                    "fields": fields,
                    "defaults": defaults() if defaults else {},
                    "submit": submit,
                    "cancel": url_for(cancel),
                }
            },
        )

    return page


# The pages of the operations both flavours serve alike: one wording for both.
open_notebook_page = form_page(
    "openNotebook", "workload.open_notebook", forms.OPEN, "Open", "workload.notebooks"
)
execute_notebook_page = form_page(
    "executeNotebook", "workload.execute_notebook", forms.EXECUTE, "Execute", "workload.notebooks"
)
close_notebook_page = confirm_page(
    "closeNotebook",
    "workload.close_notebook",
    own_notebook,
    "Close the notebook {id} of {username}? Unsaved work in it is lost.",
    "workload.notebook",
    "notebook_id",
)
