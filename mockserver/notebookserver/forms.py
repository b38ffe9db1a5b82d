"""The directory's forms for the standalone server's runtime operations, and their defaults.

Pure Python: the routes hand these to the pipeline, the directory renders them,
and ``model.py`` judges what comes back. Submitting a form unchanged does what the
API does with a parameter left out: swap stays empty, so the server's default
(double ``maxMemory`` [doc]) applies.
"""

from __future__ import annotations

from typing import Any

from mockserver.core.values import MEMORY_UNITS
from mockserver.notebookserver.model import ServerRuntime
from mockserver.web.forms import NUMBER, SELECT, Field

UNITS = tuple(MEMORY_UNITS)
OPTIONAL_UNITS = ("", *UNITS)
FLAGS = ("true", "false")
SWAP_DEFAULT = "empty: double maxMemory"

#: [doc: register-runtime] required: name, imageId, requiresAdvancedPrivileges, maxCPU,
#: maxMemory, maxMemoryUnit (and version before 10.9).
REGISTER = (
    Field("name", required=True, placeholder="Notebook Custom Runtime Python 3"),
    Field("version", placeholder="empty: the site's runtime version (from 10.9)"),
    Field("imageId", required=True, placeholder="sha256:<64 hexadecimal characters>"),
    Field("containerType", SELECT, ("docker",)),
    Field("imagePullString"),
    Field("requiresAdvancedPrivileges", SELECT, FLAGS, required=True),
    Field("maxCPU", NUMBER, required=True),
    Field("maxMemory", NUMBER, required=True),
    Field("maxMemoryUnit", SELECT, UNITS, required=True),
    Field("maxSwapMemory", NUMBER, placeholder=SWAP_DEFAULT),
    Field("maxSwapMemoryUnit", SELECT, OPTIONAL_UNITS),
    Field("sharedMemory", NUMBER, placeholder="empty: 64 m"),
    Field("sharedMemoryUnit", SELECT, OPTIONAL_UNITS),
    Field("dockerRuntime", placeholder="nvidia for a GPU runtime (Linux)"),
    Field("createManifestFile", SELECT, ("", *FLAGS)),
)

#: [doc: update-notebook-runtime] the same parameters, maxCpu spelled so.
UPDATE = tuple(
    Field("maxCpu", NUMBER, required=True) if field.name == "maxCPU" else field
    for field in REGISTER
    if field.name != "createManifestFile"
)

REGISTER_DEFAULTS = {
    "containerType": "docker",
    "requiresAdvancedPrivileges": "false",
    "maxCPU": "2",
    "maxMemory": "4",
    "maxMemoryUnit": "g",
}


def update_defaults(runtime: ServerRuntime) -> dict[str, str]:
    """The update form for ``runtime``: its values, shared memory under the request's names."""
    body = runtime.to_dict()
    body.update(
        sharedMemory=body["sharedMemorySize"], sharedMemoryUnit=body["sharedMemorySizeUnit"]
    )
    values = {field.name: _text(body.get(field.name)) for field in UPDATE}
    values.update(maxSwapMemory="", maxSwapMemoryUnit="")
    return values


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
