"""What a conforming server answers, written from the fidelity ledger, not from the emulator.

The kit's oracle: the runtime a copy or update should produce, and how a
returned runtime is compared with it. It deliberately shares no code with
``mockserver``, so an emulator bug cannot hide in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: [seed] the keys of a runtime, in the order the copy example shows them (R2, C3).
RUNTIME_KEYS = (
    "id",
    "name",
    "requiresAdvancedPrivileges",
    "copied",
    "version",
    "esriProvidedRuntime",
    "deploymentDefaultPropertyId",
    "minCpu",
    "maxCpu",
    "minMemory",
    "minMemoryUnit",
    "maxMemory",
    "maxMemoryUnit",
    "maxSwapMemory",
    "maxSwapMemoryUnit",
    "sharedMemorySize",
    "sharedMemorySizeUnit",
    "podPlacementPolicy",
    "customResources",
    "revision",
)
#: P3: the runtime version each release ships (11.4 [doc], 12.1 [seed], the rest [inferred]).
RUNTIME_VERSIONS = {"11.4": "11.0", "11.5": "12.0", "12.0": "13.0", "12.1": "14.0"}
#: T11: releases where "Create and edit notebooks" alone opens the notebook endpoints ([doc]
#: 11.4's pages: any one of it, "Servers" or "Security and infrastructure"); later releases'
#: pages want "Servers" or "Security and infrastructure" as well, and refuse with 403 without.
NOTEBOOK_PRIVILEGE_ALONE_SUFFICES = frozenset({"11.4"})
#: F2: the sharing API's ``currentVersion`` per release [inferred].
PORTAL_VERSIONS = {"11.4": "2024.2", "11.5": "2025.1", "12.0": "2025.2", "12.1": "2026.1"}
NUMBER_KEYS = frozenset(
    {"minCpu", "maxCpu", "minMemory", "maxMemory", "maxSwapMemory", "sharedMemorySize"}
)
#: [doc] T9: the answer to a request without a token.
TOKEN_REQUIRED = (
    "Unauthorized access. Token not found. "
    "You can generate a token using the 'generateToken' operation."
)


def given(form: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` sent with a non-blank value (C18: ``""`` is left out)."""
    for name in names:
        value = form.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def _number(text: str) -> float:
    return float(text)


def expected_copy(source: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The fields a copy of ``source`` made with ``form`` must show (all but generated ones)."""
    max_memory = _number(given(form, "maxMemory"))
    max_unit = given(form, "maxMemoryUnit")
    swap = given(form, "maxSwapMemory")
    shared = given(form, "sharedMemorySize", "sharedMemory")
    placement = given(form, "podPlacementPolicy")
    resources = given(form, "customResources")
    import json

    return {
        "name": given(form, "name"),
        "requiresAdvancedPrivileges": source["requiresAdvancedPrivileges"],  # C8
        "copied": True,  # C7
        "version": source["version"],  # C8: the version parameter is not applied
        "esriProvidedRuntime": False,  # C7
        "minCpu": _number(given(form, "minCpu")),
        "maxCpu": _number(given(form, "maxCpu", "maxCPU")),  # C2
        "minMemory": _number(given(form, "minMemory")),
        "minMemoryUnit": given(form, "minMemoryUnit"),
        "maxMemory": max_memory,
        "maxMemoryUnit": max_unit,
        # C9: left out, swap is double maxMemory in maxMemory's unit; C11: its unit defaults too.
        "maxSwapMemory": 2 * max_memory if swap is None else _number(swap),
        "maxSwapMemoryUnit": max_unit
        if swap is None
        else given(form, "maxSwapMemoryUnit") or max_unit,
        # C17: optionals left out come from the source.
        "sharedMemorySize": source["sharedMemorySize"] if shared is None else _number(shared),
        "sharedMemorySizeUnit": given(form, "sharedMemorySizeUnit", "sharedMemoryUnit")
        or source["sharedMemorySizeUnit"],
        "podPlacementPolicy": source["podPlacementPolicy"]
        if placement is None
        else json.loads(placement),
        "customResources": source["customResources"]
        if resources is None
        else json.loads(resources),
    }


def expected_update(current: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """``current`` as an update with ``form`` must leave it (what is left out is kept)."""
    import json

    max_memory = _number(given(form, "maxMemory"))
    max_unit = given(form, "maxMemoryUnit")
    swap = given(form, "maxSwapMemory")
    shared = given(form, "sharedMemory", "sharedMemorySize")
    placement = given(form, "podPlacementPolicy")
    resources = given(form, "customResources")
    expected = {key: value for key, value in current.items() if key != "revision"}
    expected.update(
        minCpu=_number(given(form, "minCpu")) if given(form, "minCpu") else current["minCpu"],
        maxCpu=_number(given(form, "maxCpu", "maxCPU")),
        minMemory=_number(given(form, "minMemory"))
        if given(form, "minMemory")
        else current["minMemory"],
        minMemoryUnit=given(form, "minMemoryUnit") or current["minMemoryUnit"],
        maxMemory=max_memory,
        maxMemoryUnit=max_unit,
        maxSwapMemory=2 * max_memory if swap is None else _number(swap),
        maxSwapMemoryUnit=max_unit
        if swap is None
        else given(form, "maxSwapMemoryUnit") or max_unit,
        sharedMemorySize=current["sharedMemorySize"] if shared is None else _number(shared),
        sharedMemorySizeUnit=given(form, "sharedMemoryUnit", "sharedMemorySizeUnit")
        or current["sharedMemorySizeUnit"],
        podPlacementPolicy=current["podPlacementPolicy"]
        if placement is None
        else json.loads(placement),
        customResources=current["customResources"] if resources is None else json.loads(resources),
    )
    return expected


def differences(runtime: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """How ``runtime`` departs from ``expected``: a value, or an integral number not written as one (W2)."""
    problems = []
    for key, want in expected.items():
        if key not in runtime:
            problems.append(f"{key}: missing")
            continue
        got = runtime[key]
        if key in NUMBER_KEYS:
            if isinstance(got, bool) or not isinstance(got, int | float) or got != want:
                problems.append(f"{key}: {got!r}, expected {want!r}")
            elif float(want).is_integer() and not isinstance(got, int):
                problems.append(f"{key}: {got!r} is integral but not written as an integer")
        elif got != want:
            problems.append(f"{key}: {got!r}, expected {want!r}")
    return problems


def memory_bytes(amount: str, unit: str) -> float:
    return float(amount) * {"g": 1024**3, "m": 1024**2, "k": 1024, "b": 1}[unit]
