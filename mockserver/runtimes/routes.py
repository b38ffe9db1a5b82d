"""Thin handlers for ``/<context>/admin``: parse, call the backend, render."""

from __future__ import annotations

from flask import Blueprint, url_for

from mockserver import messages, wire
from mockserver.auth.guard import require_administrator, require_notebook_administrator
from mockserver.errors import NotFound
from mockserver.runtimes.manifests import UPLOAD_NAME as UPLOADED_MANIFEST

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


def _deployment():
    from mockserver.app import deployment

    return deployment()


def _operation(name: str) -> None:
    """Refuse an operation the emulated release does not have, as that release would."""
    if name not in _deployment().release.operations:
        raise NotFound(messages.NO_SUCH_RESOURCE.format(name=name))


@admin.get("", strict_slashes=False)
def root():
    fmt = wire.response_format()
    require_administrator()
    dep = _deployment()
    # Keys in the order of Esri's example [doc: enterprise-admin-root]; its "status"
    # (the site's installation stages) is not emulated (ledger A1).
    payload = {
        "fullVersion": dep.release.full_version,
        "resources": ["notebooks"],
        "currentVersion": dep.release.admin_current_version,
    }
    links = {"notebooks": url_for("admin.notebooks")}
    return wire.render(payload, title="ArcGIS Enterprise Administrator API", links=links, fmt=fmt)


@admin.get("/notebooks", strict_slashes=False)
def notebooks():
    fmt = wire.response_format()
    require_notebook_administrator()
    links = {"runtimes": url_for("admin.list_runtimes")}
    return wire.render({"resources": ["runtimes"]}, title="Notebooks", links=links, fmt=fmt)


@admin.get("/notebooks/runtimes", strict_slashes=False)
def list_runtimes():
    fmt = wire.response_format()
    require_notebook_administrator()
    backend = _deployment().runtimes
    runtimes = backend.list()
    payload = {
        "currentRuntimeVersion": backend.current_runtime_version,
        "runtimes": [runtime.to_dict() for runtime in runtimes],
    }
    return wire.render(
        payload,
        title="Notebook Runtimes",
        links=lambda: {
            runtime.name: url_for("admin.get_runtime", runtime_id=runtime.id)
            for runtime in runtimes
        },
        fmt=fmt,
    )


@admin.get("/notebooks/runtimes/<runtime_id>", strict_slashes=False)
def get_runtime(runtime_id: str):
    fmt = wire.response_format()
    require_notebook_administrator()
    runtime = _deployment().runtimes.get(runtime_id)
    return wire.render(
        runtime.to_dict(),
        title=f"Notebook Runtime: {runtime.name}",
        links=lambda: {"manifest": url_for("admin.manifest", runtime_id=runtime_id)},
        operations=lambda: _operation_forms(runtime),
        fmt=fmt,
    )


def _operation_forms(runtime) -> dict:
    """The HTML directory's forms for the operations this release offers on ``runtime``."""
    ops = _deployment().release.operations
    values = runtime.to_dict()
    forms = {}
    if "copy" in ops and runtime.is_system:
        forms["copy"] = _form("admin.copy", runtime.id, COPY_FIELDS, values)
    if "update" in ops:
        forms["update"] = _form("admin.update", runtime.id, UPDATE_FIELDS, values)
    if "unregister" in ops and runtime.copied:
        forms["unregister"] = _form("admin.unregister", runtime.id, (), {})
    if "upgrade" in ops and runtime.copied:
        forms["upgrade"] = _form("admin.upgrade", runtime.id, (), {})
    return forms


def _form(endpoint: str, runtime_id: str, fields, values: dict) -> dict:
    defaults = {field: values.get(field, "") for field in fields}
    defaults.setdefault("sharedMemory", values.get("sharedMemorySize", ""))
    defaults.setdefault("sharedMemoryUnit", values.get("sharedMemorySizeUnit", ""))
    return {
        "url": url_for(endpoint, runtime_id=runtime_id),
        "fields": fields,
        "defaults": {k: wire.integral(v) for k, v in defaults.items()},
    }


@admin.post("/notebooks/runtimes/<runtime_id>/copy", strict_slashes=False)
def copy(runtime_id: str):
    fmt = wire.response_format()
    require_notebook_administrator()
    _operation("copy")
    runtime = _deployment().runtimes.copy(runtime_id, wire.params())
    payload = {"notebookRuntime": runtime.to_dict(), "status": "success"}
    return wire.render(
        payload,
        title="Copy Notebook Runtime",
        links=lambda: {"new runtime": url_for("admin.get_runtime", runtime_id=runtime.id)},
        fmt=fmt,
    )


@admin.post("/notebooks/runtimes/<runtime_id>/update", strict_slashes=False)
def update(runtime_id: str):
    fmt = wire.response_format()
    require_notebook_administrator()
    _operation("update")
    _deployment().runtimes.update(
        runtime_id, wire.params(), manifest_file=wire.uploaded_file(UPLOADED_MANIFEST)
    )
    return _success("Update Notebook Runtime", runtime_id, fmt)


@admin.post("/notebooks/runtimes/<runtime_id>/unregister", strict_slashes=False)
def unregister(runtime_id: str):
    fmt = wire.response_format()
    require_notebook_administrator()
    _operation("unregister")
    _deployment().runtimes.unregister(runtime_id)
    return wire.render(
        {"status": "success"},
        title="Unregister Notebook Runtime",
        links=lambda: {"runtimes": url_for("admin.list_runtimes")},
        fmt=fmt,
    )


@admin.post("/notebooks/runtimes/<runtime_id>/upgrade", strict_slashes=False)
def upgrade(runtime_id: str):
    fmt = wire.response_format()
    require_notebook_administrator()
    _operation("upgrade")
    _deployment().runtimes.upgrade(runtime_id)
    return _success("Upgrade Notebook Runtime", runtime_id, fmt)


@admin.route(
    "/notebooks/runtimes/<runtime_id>/manifest", methods=["GET", "POST"], strict_slashes=False
)
def manifest(runtime_id: str):
    fmt = wire.response_format()
    require_notebook_administrator()
    _operation("manifest")
    payload = _deployment().runtimes.manifest(runtime_id)
    return wire.render(payload, title="Runtime Manifest", fmt=fmt)


def _success(title: str, runtime_id: str, fmt: str):
    return wire.render(
        {"status": "success"},
        title=title,
        links=lambda: {"runtime": url_for("admin.get_runtime", runtime_id=runtime_id)},
        fmt=fmt,
    )
