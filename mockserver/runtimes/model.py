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

from mockserver.core import counters, messages
from mockserver.core import values as v
from mockserver.core.errors import Refused
from mockserver.core.values import Quantity

#: Limits of a JSON object parameter (``podPlacementPolicy``, ``customResources``)
#: [inferred]. A Kubernetes affinity, the deepest thing a placement policy holds, nests
#: about 8 levels; 32 leaves room and stays far below Python's recursion limit, so
#: nothing downstream (rendering, the journal, the HTML page) can overflow. 64 KiB is
#: a quarter of Kubernetes' 256 KiB annotation budget and far above any real policy.
JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 64 * 1024


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
        return cls(**{name: data[name] for name in _RUNTIME_FIELDS})

    @property
    def is_system(self) -> bool:
        return not self.copied


_RUNTIME_FIELDS = tuple(f.name for f in fields(Runtime))


# --- parsing form values -----------------------------------------------------


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("non-finite number")
    return value


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def _json_object(name: str, raw: str, problems: v.Problems) -> dict[str, Any] | None:
    if len(raw.encode("utf-8", "surrogatepass")) > JSON_MAX_BYTES:
        # Checked before parsing: a huge text costs nothing to refuse this way.
        problems.add(messages.JSON_TOO_LARGE.format(name=name, limit=JSON_MAX_BYTES))
        return None
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        problems.add(messages.NOT_AN_OBJECT.format(name=name))
        return None
    return checked_json_object(name, value, problems)


def checked_json_object(name: str, value: Any, problems: v.Problems) -> dict[str, Any] | None:
    """``value`` if it re-encodes as strict JSON within the limits, else None and a problem.

    Strict JSON: objects with string keys, arrays, UTF-8 text (no lone surrogate,
    which ``json.loads`` lets through from ``"\\ud800"``), finite numbers, no
    deeper than ``JSON_MAX_DEPTH`` and no larger than ``JSON_MAX_BYTES`` encoded.
    """
    if not isinstance(value, dict):
        problems.add(messages.NOT_AN_OBJECT.format(name=name))
        return None
    problem = _strict_json_problem(value)
    if problem is not None:
        problems.add(problem.format(name=name, depth=JSON_MAX_DEPTH, limit=JSON_MAX_BYTES))
        return None
    encoded = json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    if len(encoded) > JSON_MAX_BYTES:
        problems.add(messages.JSON_TOO_LARGE.format(name=name, limit=JSON_MAX_BYTES))
        return None
    return value


def strict_json_rule_broken(value: Any) -> str | None:
    """The message template of the first strict-JSON rule ``value`` (any parsed JSON)
    breaks, else None: for JSON that does not come as a form value, such as an
    uploaded file, which must pass the same rule."""
    return _strict_json_problem(value)


def _strict_json_problem(root: Any) -> str | None:
    """The message template of the first rule ``root`` breaks; walked without recursion."""
    pending: list[tuple[Any, int]] = [(root, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list) and depth > JSON_MAX_DEPTH:
            # Depth counts objects and arrays: {"a": 1} is 1 level.
            return messages.JSON_TOO_DEEP
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return messages.NOT_AN_OBJECT
                if not _is_unicode(key):
                    return messages.JSON_NOT_UNICODE
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if not _is_unicode(value):
                return messages.JSON_NOT_UNICODE
        elif isinstance(value, float):
            if not math.isfinite(value):
                return messages.NOT_AN_OBJECT
        elif not (value is None or isinstance(value, bool | int)):
            return messages.NOT_AN_OBJECT
    return None


def _is_unicode(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8: false for a lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _optional_object(params, problems, name) -> dict[str, Any] | None:
    _, raw = v.given(params, name)
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
    problems = v.Problems()
    # The name is kept exactly as sent, within the name rules [inferred].
    name = params.get("name")
    v.check_name(name, problems)
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
    return replace(current, **_limits(params, current, v.Problems(), min_required=False))


def _limits(
    params: Mapping[str, str], base: Runtime, problems: v.Problems, *, min_required: bool
) -> dict[str, Any]:
    """The limit fields ``params`` sets, validated; ``base`` fills in what is left out.

    Every malformed parameter is reported before the min <= max rules, which
    compare memory after converting units. A unit sent without its value
    never re-scales the kept value [client: the official client sends default
    units beside "" values].
    """
    number = v.required_number if min_required else v.optional_number
    unit = v.required_unit if min_required else v.optional_unit
    min_cpu = number(params, problems, "minCpu", positive=True)
    max_cpu = v.required_number(params, problems, *MAX_CPU, positive=True)
    min_memory = number(params, problems, "minMemory")
    min_memory_unit = unit(params, problems, "minMemoryUnit")
    max_memory = v.required_number(params, problems, "maxMemory")
    max_memory_unit = v.required_unit(params, problems, "maxMemoryUnit")
    swap = v.optional_number(params, problems, "maxSwapMemory")
    swap_unit = v.optional_unit(params, problems, "maxSwapMemoryUnit")
    shared = v.optional_number(params, problems, *SHARED_MEMORY)
    shared_unit = v.optional_unit(params, problems, *SHARED_MEMORY_UNIT)
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


def version_key(version: str) -> tuple[int, ...]:
    """Runtime versions in release order (``_version_key``), for the state import's rules."""
    return _version_key(version)


def _version_key(version: str) -> tuple[int, ...]:
    """``"14.0"`` -> ``(14, 0)``; a version that is not dotted numbers sorts first."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return ()


# --- runtimes from a state snapshot ----------------------------------------------

_NUMBER_FIELDS = ("minCpu", "maxCpu", "minMemory", "maxMemory", "maxSwapMemory", "sharedMemorySize")
#: Above 0, as copy and update require them.
_POSITIVE_FIELDS = ("minCpu", "maxCpu")
_UNIT_FIELDS = ("minMemoryUnit", "maxMemoryUnit", "maxSwapMemoryUnit", "sharedMemorySizeUnit")
_TEXT_FIELDS = ("id", "version", "deploymentDefaultPropertyId")
_FLAG_FIELDS = ("requiresAdvancedPrivileges", "copied", "esriProvidedRuntime")


def stored_runtime(data: Mapping[str, Any]) -> Runtime:
    """``data`` as a Runtime if the API itself could have stored it, else ``InvalidParameters``.

    A state import goes through here, so that nothing imported can later break
    a list, get, copy or update: the same number, unit, name and JSON object
    rules as copy and update, and min ≤ max.
    """
    problems = v.Problems()
    v.check_fields(data, _RUNTIME_FIELDS, problems)
    v.check_texts(data, _TEXT_FIELDS, problems)
    v.check_stored_name(data, problems)
    v.check_flags(data, _FLAG_FIELDS, problems)
    v.check_numbers(data, _NUMBER_FIELDS, problems, positive=_POSITIVE_FIELDS)
    v.check_units(data, _UNIT_FIELDS, problems)
    for name in ("podPlacementPolicy", "customResources"):
        checked_json_object(name, data[name], problems)
    if not counters.is_counter(data["revision"]):
        problems.add(counters.REVISION_RULE)
    problems.raise_if_any()
    runtime = Runtime.from_dict(data)
    _check_min_max(problems, "minCpu", runtime.minCpu, "maxCpu", runtime.maxCpu)
    low = Quantity(runtime.minMemory, runtime.minMemoryUnit)
    high = Quantity(runtime.maxMemory, runtime.maxMemoryUnit)
    _check_min_max(problems, "minMemory", low.bytes, "maxMemory", high.bytes)
    problems.raise_if_any()
    return runtime


#: The ids ``copy`` makes: a UUID4 as ``str(uuid.UUID(...))`` writes it, and a property
#: id of ``p`` and 20 base-36 digits (mockserver/ids.py).
_COPY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_PROPERTY_ID = re.compile(r"p[a-z0-9]{20}")


def unreachable(
    runtimes: list[tuple[Runtime, str | None]],
    *,
    system: list[Runtime],
    copy_versions: list[str],
) -> str | None:
    """What in ``runtimes`` (each with the id of the system runtime it was copied from) no
    sequence of API calls could have made, else None.

    A state import must end in a state the API itself can reach, or a later call
    does what the API never would (unregister deletes a system runtime once an
    import marks it a copy). ``system`` are the release's system runtimes as
    seeded; ``copy_versions`` the runtime versions a copy can have here (made by
    ``copy`` in this release or an earlier one, kept until upgraded).
    """
    shipped = {runtime.id: runtime for runtime in system}
    for index, (runtime, source_id) in enumerate(runtimes):
        where = f"runtimes[{index}]"
        seeded = shipped.get(runtime.id)
        if seeded is not None:
            for name in (
                "copied",
                "esriProvidedRuntime",
                "version",
                "name",
                "requiresAdvancedPrivileges",
                "deploymentDefaultPropertyId",
            ):
                if getattr(runtime, name) != getattr(seeded, name):
                    return (
                        f"{where}: the system runtime {runtime.id}'s '{name}' must be "
                        f"{_json_text(getattr(seeded, name))}, as the release ships it; "
                        "no call changes it."
                    )
            if source_id is not None:
                return f"{where}: a system runtime has no 'sourceId'."
            continue
        if not runtime.copied or runtime.esriProvidedRuntime:
            return (
                f"{where}: a runtime that is not one of the system runtimes ("
                f"{', '.join(shipped)}) is a copy: 'copied' true, 'esriProvidedRuntime' false."
            )
        if not _COPY_ID.fullmatch(runtime.id):
            return f"{where}: 'id' must be a runtime id as copy makes them (a lower-case UUID4)."
        if not _PROPERTY_ID.fullmatch(runtime.deploymentDefaultPropertyId):
            return (
                f"{where}: 'deploymentDefaultPropertyId' must be 'p' and 20 of a-z, 0-9, "
                "as copy makes them."
            )
        source = shipped.get(source_id) if isinstance(source_id, str) else None
        if source is None:
            return (
                f"{where}: 'sourceId' must be the system runtime it was copied from "
                f"({' or '.join(shipped)})."
            )
        if runtime.requiresAdvancedPrivileges != source.requiresAdvancedPrivileges:
            return (
                f"{where}: 'requiresAdvancedPrivileges' must be its source's "
                f"({_json_text(source.requiresAdvancedPrivileges)})."
            )
        if runtime.version not in copy_versions:
            versions = ", ".join(copy_versions) or "none: this release has no copy"
            return f"{where}: a copy's 'version' is one copy made ({versions})."
    present = {runtime.id for runtime, _ in runtimes}
    for runtime in system:
        if runtime.id not in present:
            return (
                f"the system runtime {runtime.id} ({runtime.name}) is missing; no call removes it."
            )
    return None


def _json_text(value: Any) -> str:
    return json.dumps(value)
