"""``/<context>/admin``: each view declares its operation once and returns what to render."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, url_for

from mockserver.auth.guard import require_administrator, require_notebook_administrator
from mockserver.core import deployment, messages
from mockserver.core.errors import Refused
from mockserver.runtimes import forms
from mockserver.runtimes.manifests import UPLOAD_NAME as UPLOADED_MANIFEST
from mockserver.runtimes.model import Runtime
from mockserver.web import wire
from mockserver.web.directory import Done
from mockserver.web.pipeline import OPERATION, Page, declared, operation

admin = Blueprint("admin", __name__)

RUNTIME = "/notebooks/runtimes/<runtime_id>"


@operation(
    admin,
    "",
    name="admin",
    title="ArcGIS Enterprise Administrator API",
    guard=require_administrator,
)
def root():
    release = deployment.current().release
    # Keys in the order of Esri's example [doc: enterprise-admin-root]; its "status"
    # (the site's installation stages) is not emulated (ledger A1).
    payload = {
        "fullVersion": release.full_version,
        "resources": ["notebooks"],
        "currentVersion": release.admin_current_version,
    }
    return Page(payload, links=lambda: {"notebooks": url_for("workload.notebooks")})


@operation(
    admin,
    "/notebooks/runtimes",
    name="runtimes",
    title="Notebook Runtimes",
    guard=require_notebook_administrator,
    release_bound=True,
)
def list_runtimes():
    backend = deployment.current().runtimes
    runtimes = backend.list()
    payload = {
        "currentRuntimeVersion": backend.current_runtime_version,
        "runtimes": [runtime.to_dict() for runtime in runtimes],
    }
    return Page(payload, table=lambda: _runtimes_table(runtimes))


def _runtimes_table(runtimes: list[Runtime]) -> dict:
    """One row and one link per runtime id: names may repeat, ids never do."""
    return {
        "key": "runtimes",
        "columns": ("name", "id", "version", "copied", "CPU", "memory"),
        "rows": [
            (
                runtime.name,
                runtime.id,
                runtime.version,
                runtime.copied,
                f"{wire.integral(runtime.minCpu)}–{wire.integral(runtime.maxCpu)}",
                f"{wire.integral(runtime.minMemory)} {runtime.minMemoryUnit}"
                f" – {wire.integral(runtime.maxMemory)} {runtime.maxMemoryUnit}",
            )
            for runtime in runtimes
        ],
        "links": [url_for("admin.get_runtime", runtime_id=runtime.id) for runtime in runtimes],
        "link_column": 1,
    }


@operation(
    admin,
    RUNTIME,
    name="runtime",
    title="Notebook Runtime",
    guard=require_notebook_administrator,
    release_bound=True,
)
def get_runtime(runtime_id: str):
    runtime = deployment.current().runtimes.get(runtime_id)
    return Page(
        runtime.to_dict(),
        title=f"Notebook Runtime: {runtime.name}",
        links=lambda: {"manifest": url_for("admin.manifest", runtime_id=runtime_id)},
        operations=lambda: _operation_pages(runtime),
    )


def _operation_pages(runtime: Runtime) -> dict[str, str]:
    """Links to the pages of the operations that can succeed on ``runtime``, as Esri's
    directory lists them under "Supported Operations"."""
    offered = deployment.current().runtimes.offered_operations(runtime)
    return {
        op.name: url_for(endpoint, runtime_id=runtime.id)
        for endpoint, op in declared_runtime_operations().items()
        if op.name in offered
    }


def _operation_page(
    name: str,
    submit: str,
    defaults: Callable[[Runtime], dict[str, str]] | None = None,
    *,
    confirm: str = "",
) -> Callable[[str], Page]:
    """The page of the runtime operation ``name``: its form, prefilled by ``defaults``."""

    def page(runtime_id: str) -> Page:
        backend = deployment.current().runtimes
        runtime = backend.get(runtime_id)
        if name not in backend.offered_operations(runtime):
            raise Refused(messages.OPERATION_NOT_OFFERED.format(name=name, id=runtime_id))
        endpoint, op = next(
            (endpoint, op)
            for endpoint, op in declared_runtime_operations().items()
            if op.name == name
        )
        form = {
            "url": url_for(endpoint, runtime_id=runtime_id),
            "fields": op.form,
            "defaults": defaults(runtime) if defaults else {},
            "submit": submit,
            "confirm": confirm.format(name=runtime.name, id=runtime.id),
            "cancel": url_for("admin.get_runtime", runtime_id=runtime_id),
        }
        return Page(
            {"name": runtime.name, "id": runtime.id, "version": runtime.version},
            title=f"{op.title}: {runtime.name}",
            operations={name: form},
        )

    return page


def declared_runtime_operations() -> dict:
    """The declared POST operations on one runtime, by endpoint, in declaration order."""
    return {
        endpoint: op
        for endpoint, op in declared(current_app).items()
        if op.rule.startswith(RUNTIME + "/") and op.methods == OPERATION
    }


@operation(
    admin,
    f"{RUNTIME}/copy",
    name="copy",
    title="Copy Notebook Runtime",
    methods=OPERATION,
    guard=require_notebook_administrator,
    release_bound=True,
    form=forms.COPY,
    page=_operation_page("copy", "Copy", forms.copy_defaults),
)
def copy(runtime_id: str):
    runtime = deployment.current().runtimes.copy(runtime_id, wire.params())
    return Page(
        {"notebookRuntime": runtime.to_dict(), "status": "success"},
        then=lambda: _done(runtime, "created"),
    )


@operation(
    admin,
    f"{RUNTIME}/update",
    name="update",
    title="Update Notebook Runtime",
    methods=OPERATION,
    guard=require_notebook_administrator,
    release_bound=True,
    form=forms.UPDATE,
    page=_operation_page("update", "Update", forms.update_defaults),
)
def update(runtime_id: str):
    runtime = deployment.current().runtimes.update(
        runtime_id, wire.params(), manifest_file=wire.uploaded_file(UPLOADED_MANIFEST)
    )
    return Page({"status": "success"}, then=lambda: _done(runtime, "updated"))


@operation(
    admin,
    f"{RUNTIME}/unregister",
    name="unregister",
    title="Unregister Notebook Runtime",
    methods=OPERATION,
    guard=require_notebook_administrator,
    release_bound=True,
    # Its page is the confirmation step: nothing is removed until its form is sent.
    page=_operation_page(
        "unregister",
        "Unregister",
        confirm="Unregister the runtime '{name}' ({id})? It is removed for good.",
    ),
)
def unregister(runtime_id: str):
    runtime = deployment.current().runtimes.unregister(runtime_id)
    return Page(
        {"status": "success"},
        then=lambda: Done(url_for("admin.list_runtimes"), "unregistered", runtime.name),
    )


@operation(
    admin,
    f"{RUNTIME}/upgrade",
    name="upgrade",
    title="Upgrade Notebook Runtime",
    methods=OPERATION,
    guard=require_notebook_administrator,
    release_bound=True,
    page=_operation_page("upgrade", "Upgrade"),
)
def upgrade(runtime_id: str):
    runtime = deployment.current().runtimes.upgrade(runtime_id)
    return Page({"status": "success"}, then=lambda: _done(runtime, "upgraded"))


@operation(
    admin,
    f"{RUNTIME}/manifest",
    name="manifest",
    title="Runtime Manifest",
    guard=require_notebook_administrator,
    release_bound=True,
)
def manifest(runtime_id: str):
    return Page(
        deployment.current().runtimes.manifest(runtime_id),
        links=lambda: {"runtime": url_for("admin.get_runtime", runtime_id=runtime_id)},
    )


def _done(runtime: Runtime, what: str) -> Done:
    """A browser goes on to the runtime's own page, which says what was done."""
    return Done(url_for("admin.get_runtime", runtime_id=runtime.id), what, runtime.name)
