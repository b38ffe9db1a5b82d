"""Notebook runtimes: the objects and every rule about them, free of HTTP and SQL.

Request parameters arrive here as the strings a form carries; this module turns
them into validated values or raises ``InvalidParameters`` listing every
problem, so that a refused request never reaches the store.
Provenance of each rule is in docs/FIDELITY.md.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from mockserver import messages
from mockserver.errors import InvalidParameters, Refused

#: Bytes per memory unit. [doc] the units are g|m|k|b; powers of 1024 [inferred].
MEMORY_UNITS: dict[str, int] = {"g": 1024**3, "m": 1024**2, "k": 1024, "b": 1}

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Quantity:
    """An amount of memory with its unit, as ArcGIS echoes it back."""

    value: float
    unit: str

    @property
    def bytes(self) -> float:
        return self.value * MEMORY_UNITS[self.unit]


@dataclass
class Runtime:
    """A notebook runtime; field order is the key order of the seed's response."""

    id: str
    name: str
    requiresAdvancedPrivileges: bool
    copied: bool
    version: str
    esriProvidedRuntime: bool
    deploymentDefaultPropertyId: str
    minCpu: float
    maxCpu: float
    minMemory: float
    minMemoryUnit: str
    maxMemory: float
    maxMemoryUnit: str
    maxSwapMemory: float
    maxSwapMemoryUnit: str
    sharedMemorySize: float
    sharedMemorySizeUnit: str
    podPlacementPolicy: dict[str, Any] = field(default_factory=dict)
    customResources: dict[str, Any] = field(default_factory=dict)
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies the two JSON
        # objects on every call, and this runs on every answer.
        return {name: getattr(self, name) for name in _RUNTIME_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Runtime:
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    @property
    def is_system(self) -> bool:
        return not self.copied


_RUNTIME_FIELDS = tuple(f.name for f in fields(Runtime))


# --- parsing form values -----------------------------------------------------


class _Problems:
    """Collects every parameter problem of one request before refusing it."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise InvalidParameters(*self.messages)


def _given(params: Mapping[str, str], *names: str) -> tuple[str, str | None]:
    """The first of ``names`` present with a non-blank value, and that value.

    An empty string counts as left out: the official client sends ``""`` for
    every value it has not set [client].
    """
    for name in names:
        value = params.get(name)
        if value is not None and value.strip() != "":
            return name, value.strip()
    return names[0], None


def _number(name: str, raw: str, problems: _Problems, *, positive: bool = False) -> float | None:
    if not _NUMBER.fullmatch(raw):
        problems.add(messages.NOT_A_NUMBER.format(name=name, value=_shorten(raw)))
        return None
    value = float(raw)
    if not math.isfinite(value) or value > 1e15:
        problems.add(messages.OUT_OF_RANGE.format(name=name, value=_shorten(raw)))
        return None
    if positive and value <= 0:
        problems.add(messages.NOT_POSITIVE.format(name=name))
        return None
    if value < 0:
        problems.add(messages.NEGATIVE.format(name=name))
        return None
    return value


def _unit(name: str, raw: str, problems: _Problems) -> str | None:
    if raw not in MEMORY_UNITS:
        problems.add(
            messages.BAD_UNIT.format(name=name, value=_shorten(raw), units=", ".join(MEMORY_UNITS))
        )
        return None
    return raw


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("non-finite number")
    return value


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def _json_object(name: str, raw: str, problems: _Problems) -> dict[str, Any] | None:
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        problems.add(messages.NOT_AN_OBJECT.format(name=name))
        return None
    if not isinstance(value, dict):
        problems.add(messages.NOT_AN_OBJECT.format(name=name))
        return None
    return value


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _required_number(params, problems, *names, positive=False) -> float | None:
    name, raw = _given(params, *names)
    if raw is None:
        problems.add(messages.REQUIRED.format(name=name))
        return None
    return _number(name, raw, problems, positive=positive)


def _optional_number(params, problems, *names, positive=False) -> float | None:
    name, raw = _given(params, *names)
    return None if raw is None else _number(name, raw, problems, positive=positive)


def _optional_unit(params, problems, *names) -> str | None:
    name, raw = _given(params, *names)
    return None if raw is None else _unit(name, raw, problems)


def _required_unit(params, problems, *names) -> str | None:
    name, raw = _given(params, *names)
    if raw is None:
        problems.add(messages.REQUIRED.format(name=name))
        return None
    return _unit(name, raw, problems)


def _optional_object(params, problems, name) -> dict[str, Any] | None:
    _, raw = _given(params, name)
    return None if raw is None else _json_object(name, raw, problems)


def _check_min_max(problems, min_name, low, max_name, high) -> None:
    if low is not None and high is not None and low > high:
        problems.add(messages.MIN_ABOVE_MAX.format(low=min_name, high=max_name))


# --- the operations' rules ---------------------------------------------------

#: Spellings accepted for the maximum CPU: the seed writes maxCpu, the doc tables maxCPU.
MAX_CPU = ("maxCpu", "maxCPU")
#: Shared memory: copy's names [seed] and update's [doc 11.4], each accepted by both [inferred].
SHARED_MEMORY = ("sharedMemorySize", "sharedMemory")
SHARED_MEMORY_UNIT = ("sharedMemorySizeUnit", "sharedMemoryUnit")


def copy_of(
    source: Runtime, params: Mapping[str, str], *, new_id: str, property_id: str
) -> Runtime:
    """The user runtime that ``copy`` with ``params`` makes of ``source``.

    Raises ``InvalidParameters`` naming every bad parameter, or ``Refused`` when
    the source is itself a copy. The revision is left for the store to stamp.
    """
    if source.copied:
        raise Refused(messages.COPY_OF_COPY.format(id=source.id))
    problems = _Problems()
    # The name is kept exactly as sent; only a blank one counts as missing [inferred].
    name = params.get("name")
    if name is None or not name.strip():
        problems.add(messages.REQUIRED.format(name="name"))
    limits = _limits(params, source, problems, min_required=True)
    return replace(
        source,
        id=new_id,
        name=name,
        copied=True,
        esriProvidedRuntime=False,
        deploymentDefaultPropertyId=property_id,
        revision=0,
        **limits,
    )


def updated(current: Runtime, params: Mapping[str, str]) -> Runtime:
    """``current`` with the limits ``update`` sets; what is left out is kept.

    ``maxCpu`` (or ``maxCPU``), ``maxMemory`` and ``maxMemoryUnit`` are required
    [doc]; the minimums are optional here so that the official client, which
    never sends them, works [client]. Fields the client fills in from the GET
    (``name``, ``imageId``, ``dockerRuntime``, ...) are accepted and not
    applied [inferred].
    """
    return replace(current, **_limits(params, current, _Problems(), min_required=False))


def _limits(
    params: Mapping[str, str], base: Runtime, problems: _Problems, *, min_required: bool
) -> dict[str, Any]:
    """The limit fields ``params`` sets, validated; ``base`` fills in what is left out.

    Every malformed parameter is reported before the min <= max rules, which
    compare memory after converting units. A unit sent without its value
    never re-scales the kept value [client: the official client sends default
    units beside "" values].
    """
    number = _required_number if min_required else _optional_number
    unit = _required_unit if min_required else _optional_unit
    min_cpu = number(params, problems, "minCpu", positive=True)
    max_cpu = _required_number(params, problems, *MAX_CPU, positive=True)
    min_memory = number(params, problems, "minMemory")
    min_memory_unit = unit(params, problems, "minMemoryUnit")
    max_memory = _required_number(params, problems, "maxMemory")
    max_memory_unit = _required_unit(params, problems, "maxMemoryUnit")
    swap = _optional_number(params, problems, "maxSwapMemory")
    swap_unit = _optional_unit(params, problems, "maxSwapMemoryUnit")
    shared = _optional_number(params, problems, *SHARED_MEMORY)
    shared_unit = _optional_unit(params, problems, *SHARED_MEMORY_UNIT)
    placement = _optional_object(params, problems, "podPlacementPolicy")
    resources = _optional_object(params, problems, "customResources")
    problems.raise_if_any()

    if min_cpu is None:
        min_cpu = base.minCpu
    if min_memory is None:
        min_memory, min_memory_unit = base.minMemory, base.minMemoryUnit
    _check_min_max(problems, "minCpu", min_cpu, "maxCpu", max_cpu)
    _check_min_max(
        problems,
        "minMemory",
        Quantity(min_memory, min_memory_unit or base.minMemoryUnit).bytes,
        "maxMemory",
        Quantity(max_memory, max_memory_unit).bytes,
    )
    problems.raise_if_any()

    if swap is None:
        # [seed] "If left unspecified, the value is double that of the maxMemory".
        swap, swap_unit = 2 * max_memory, max_memory_unit
    if shared is None:
        shared, shared_unit = base.sharedMemorySize, base.sharedMemorySizeUnit
    return {
        "minCpu": min_cpu,
        "maxCpu": max_cpu,
        "minMemory": min_memory,
        "minMemoryUnit": min_memory_unit or base.minMemoryUnit,
        "maxMemory": max_memory,
        "maxMemoryUnit": max_memory_unit,
        "maxSwapMemory": swap,
        "maxSwapMemoryUnit": swap_unit or max_memory_unit,
        "sharedMemorySize": shared,
        "sharedMemorySizeUnit": shared_unit or base.sharedMemorySizeUnit,
        "podPlacementPolicy": base.podPlacementPolicy if placement is None else placement,
        "customResources": base.customResources if resources is None else resources,
    }


def check_unregister(runtime: Runtime) -> None:
    """Only runtimes made by ``copy`` can be unregistered [doc]; system ones are refused [inferred]."""
    if runtime.is_system:
        raise Refused(messages.SYSTEM_NOT_UNREGISTERABLE.format(id=runtime.id))


def upgraded(runtime: Runtime, current_version: str) -> Runtime:
    """``runtime`` moved to ``current_version`` with its settings kept [doc 12.1]."""
    if runtime.is_system:
        raise Refused(messages.SYSTEM_NOT_UPGRADABLE.format(id=runtime.id))
    if runtime.version == current_version:
        raise Refused(messages.ALREADY_CURRENT.format(id=runtime.id, version=current_version))
    return replace(runtime, version=current_version)


def offered_operations(
    runtime: Runtime, release_operations: frozenset[str], current_version: str
) -> frozenset[str]:
    """The write operations that can succeed on ``runtime`` in a release offering
    ``release_operations``: what the directory shows as forms.

    Copy takes a system runtime [seed], unregister a copied one [doc], and
    upgrade a copy made at an older runtime version [doc 12.1].
    """
    offered = {"update"}
    if runtime.is_system:
        offered.add("copy")
    else:
        offered.add("unregister")
        if _version_key(runtime.version) < _version_key(current_version):
            offered.add("upgrade")
    return frozenset(offered) & release_operations


def _version_key(version: str) -> tuple[int, ...]:
    """``"14.0"`` -> ``(14, 0)``; a version that is not dotted numbers sorts first."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return ()
