"""``/<context>/admin``: each view declares its operation once and returns what to render."""

from __future__ import annotations

from flask import Blueprint, url_for

from mockserver.auth.guard import require_administrator, require_notebook_administrator
from mockserver.core import deployment
from mockserver.runtimes import forms, pages
from mockserver.runtimes.manifests import UPLOAD_NAME as UPLOADED_MANIFEST
from mockserver.runtimes.model import Runtime
from mockserver.runtimes.pages import RUNTIME
from mockserver.web import wire
from mockserver.web.directory import Done
from mockserver.web.pipeline import OPERATION, Page, operation

admin = Blueprint("admin", __name__)


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
        operations=lambda: pages.offered_pages(runtime),
    )


@operation(
    admin,
    f"{RUNTIME}/copy",
    name="copy",
    title="Copy Notebook Runtime",
    methods=OPERATION,
    guard=require_notebook_administrator,
    release_bound=True,
    form=forms.COPY,
    page=pages.operation_page("copy", "Copy", forms.copy_defaults),
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
    page=pages.operation_page("update", "Update", forms.update_defaults),
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
    page=pages.operation_page(
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
    page=pages.operation_page("upgrade", "Upgrade"),
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
    return pages.manifest_page(runtime_id)


def _done(runtime: Runtime, what: str) -> Done:
    """A browser goes on to the runtime's own page, which says what was done."""
    return Done(url_for("admin.get_runtime", runtime_id=runtime.id), what, runtime.name)
