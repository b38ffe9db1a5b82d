"""The directory's forms for a runtime's operations, and what they are prefilled with.

Pure Python (no Flask): the routes hand these to the pipeline, the directory
renders them, and ``model.py`` judges what comes back.

Defaults are chosen so that submitting a form unchanged does what the API does
with the parameter left out: swap stays empty so the server's default (double
``maxMemory`` [seed]) applies, and a copy's name is empty and required (names
may repeat; a prefilled one made look-alike copies by accident).
"""

from __future__ import annotations

import json
from typing import Any

from mockserver.core.values import MEMORY_UNITS
from mockserver.runtimes.model import Runtime
from mockserver.web.forms import JSON, NUMBER, SELECT, Field

UNITS = tuple(MEMORY_UNITS)
#: For an optional unit: an empty choice leaves it to the server.
OPTIONAL_UNITS = ("", *UNITS)
SWAP_DEFAULT = "empty: double maxMemory"

#: [seed] name, CPU and memory limits with their units are required.
COPY = (
    Field("name", required=True, placeholder="required; names may repeat"),
    Field("minCpu", NUMBER, required=True),
    Field("maxCpu", NUMBER, required=True),
    Field("minMemory", NUMBER, required=True),
    Field("minMemoryUnit", SELECT, UNITS, required=True),
    Field("maxMemory", NUMBER, required=True),
    Field("maxMemoryUnit", SELECT, UNITS, required=True),
    Field("maxSwapMemory", NUMBER, placeholder=SWAP_DEFAULT),
    Field("maxSwapMemoryUnit", SELECT, OPTIONAL_UNITS),
    Field("sharedMemorySize", NUMBER),
    Field("sharedMemorySizeUnit", SELECT, UNITS),
    Field("podPlacementPolicy", JSON),
    Field("customResources", JSON),
)

#: [doc:update] maxCpu, maxMemory and maxMemoryUnit are required.
UPDATE = (
    Field("minCpu", NUMBER),
    Field("maxCpu", NUMBER, required=True),
    Field("minMemory", NUMBER),
    Field("minMemoryUnit", SELECT, UNITS),
    Field("maxMemory", NUMBER, required=True),
    Field("maxMemoryUnit", SELECT, UNITS, required=True),
    Field("maxSwapMemory", NUMBER, placeholder=SWAP_DEFAULT),
    Field("maxSwapMemoryUnit", SELECT, OPTIONAL_UNITS),
    Field("sharedMemory", NUMBER),
    Field("sharedMemoryUnit", SELECT, UNITS),
)


def copy_defaults(source: Runtime) -> dict[str, str]:
    """The copy form for ``source``: its limits, an empty name and an empty swap."""
    values = _as_text(source.to_dict(), COPY)
    values.update(name="", maxSwapMemory="", maxSwapMemoryUnit="")
    return values


def update_defaults(runtime: Runtime) -> dict[str, str]:
    """The update form for ``runtime``: its values, shared memory under update's own names."""
    body = runtime.to_dict()
    body.update(
        sharedMemory=body["sharedMemorySize"], sharedMemoryUnit=body["sharedMemorySizeUnit"]
    )
    values = _as_text(body, UPDATE)
    values.update(maxSwapMemory="", maxSwapMemoryUnit="")
    return values


def _as_text(body: dict[str, Any], fields: tuple[Field, ...]) -> dict[str, str]:
    return {field.name: _text(body.get(field.name)) for field in fields}


def _text(value: Any) -> str:
    """A value as its form box shows it: as JSON writes it, an empty object as nothing."""
    if value is None or value == {}:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)
