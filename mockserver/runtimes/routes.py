"""``/<context>/admin``: each view declares its operation once and returns what to render."""

from __future__ import annotations

from flask import Blueprint, current_app, url_for

from mockserver import deployment, wire
from mockserver.auth.guard import require_administrator, require_notebook_administrator
from mockserver.pipeline import OPERATION, Page, declared, operation
from mockserver.runtimes.manifests import UPLOAD_NAME as UPLOADED_MANIFEST
from mockserver.runtimes.model import Runtime

admin = Blueprint("admin", __name__)

#: Fields the HTML directory's operation forms offer.
COPY_FIELDS = (
    "name", "minCpu", "maxCpu", "minMemory", "minMemoryUnit", "maxMemory", "maxMemoryUnit",
    "maxSwapMemory", "maxSwapMemoryUnit", "sharedMemorySize", "sharedMemorySizeUnit",
    "podPlacementPolicy", "customResources",
)  # fmt: skip
UPDATE_FIELDS = (
    "minCpu", "maxCpu", "minMemory", "minMemoryUnit", "maxMemory", "maxMemoryUnit",
    "maxSwapMemory", "maxSwapMemoryUnit", "sharedMemory", "sharedMemoryUnit",
)  # fmt: skip

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
    return Page(payload, links=lambda: {"notebooks": url_for("admin.notebooks")})


@operation(
    admin, "/notebooks", name="notebooks", title="Notebooks", guard=require_notebook_administrator
)
def notebooks():
    return Page(
        {"resources": ["runtimes"]}, links=lambda: {"runtimes": url_for("admin.list_runtimes")}
    )


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
    return Page(
        payload,
        links=lambda: {
            runtime.name: url_for("admin.get_runtime", runtime_id=runtime.id)
            for runtime in runtimes
        },
    )


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
        operations=lambda: _operation_forms(runtime),
    )


def _operation_forms(runtime: Runtime) -> dict:
    """The directory's forms for the operations this release offers on ``runtime``."""
    dep = deployment.current()
    offered = dep.runtimes.offered_operations(runtime)
    values = runtime.to_dict()
    values.setdefault("sharedMemory", values["sharedMemorySize"])
    values.setdefault("sharedMemoryUnit", values["sharedMemorySizeUnit"])
    forms = {}
    for endpoint, op in declared_runtime_operations().items():
        if op.name in offered:
            forms[op.name] = {
                "url": url_for(endpoint, runtime_id=runtime.id),
                "fields": op.form,
                "defaults": {field: wire.integral(values.get(field, "")) for field in op.form},
            }
    return forms


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
    form=COPY_FIELDS,
)
def copy(runtime_id: str):
    runtime = deployment.current().runtimes.copy(runtime_id, wire.params())
    return Page(
        {"notebookRuntime": runtime.to_dict(), "status": "success"},
        links=lambda: {"new runtime": url_for("admin.get_runtime", runtime_id=runtime.id)},
    )


@operation(
    admin,
    f"{RUNTIME}/update",
    name="update",
    title="Update Notebook Runtime",
    methods=OPERATION,
    guard=require_notebook_administrator,
    release_bound=True,
    form=UPDATE_FIELDS,
)
def update(runtime_id: str):
    deployment.current().runtimes.update(
        runtime_id, wire.params(), manifest_file=wire.uploaded_file(UPLOADED_MANIFEST)
    )
    return _success(runtime_id)


@operation(
    admin,
    f"{RUNTIME}/unregister",
    name="unregister",
    title="Unregister Notebook Runtime",
    methods=OPERATION,
    guard=require_notebook_administrator,
    release_bound=True,
)
def unregister(runtime_id: str):
    deployment.current().runtimes.unregister(runtime_id)
    return Page({"status": "success"}, links=lambda: {"runtimes": url_for("admin.list_runtimes")})


@operation(
    admin,
    f"{RUNTIME}/upgrade",
    name="upgrade",
    title="Upgrade Notebook Runtime",
    methods=OPERATION,
    guard=require_notebook_administrator,
    release_bound=True,
)
def upgrade(runtime_id: str):
    deployment.current().runtimes.upgrade(runtime_id)
    return _success(runtime_id)


@operation(
    admin,
    f"{RUNTIME}/manifest",
    name="manifest",
    title="Runtime Manifest",
    guard=require_notebook_administrator,
    release_bound=True,
)
def manifest(runtime_id: str):
    return deployment.current().runtimes.manifest(runtime_id)


def _success(runtime_id: str) -> Page:
    return Page(
        {"status": "success"},
        links=lambda: {"runtime": url_for("admin.get_runtime", runtime_id=runtime_id)},
    )
