"""Properties of copy and update (ledger C2-C21); refusals are safe on any server.

Each accepted copy is unregistered at the end of its example, so the
deployment's list stays as the kit found it.
"""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from contracts import calls
from contracts.calls import SIMPLE_COPY
from contracts.expectations import RUNTIME_KEYS, differences, expected_copy, expected_update
from contracts.plugin import contract_settings
from contracts.strategies import (
    NOT_OBJECTS,
    UNIT_FIELDS,
    copy_requests,
    cpu_values,
    encodings,
    invalid_copy_requests,
    invalid_update_requests,
    memory_quantities,
    memory_units,
    named,
    update_requests,
)
from contracts.target import Target

#: Copying runtimes is the Kubernetes flavour's; the standalone server registers instead.
pytestmark = pytest.mark.flavour("kubernetes")


def _copy_and_check(target: Target, source: dict, form: dict, encoding: str = "urlencoded") -> dict:
    """Copy, compare with the ledger's expectation, unregister; the runtime as answered."""
    form = named(form, target.prefix)
    if currently_in_test_context():
        note(f"sent {encoding}: {form}")
    runtime = calls.copied_runtime(calls.copy(target, source["id"], form, encoding=encoding))
    try:
        assert tuple(runtime) == RUNTIME_KEYS, f"keys or their order differ: {list(runtime)}"
        assert differences(runtime, expected_copy(source, form)) == []
    finally:
        calls.unregister(target, runtime["id"])
    return runtime


@contract_settings()
@given(form=copy_requests(), encoding=encodings())
def test_valid_copy_echoes_its_inputs_normalised(
    writable: Target, source_runtime: dict, form: dict, encoding: str
) -> None:
    """C1-C3, C7, C9, C17: every sent value comes back, integral numbers as integers."""
    _copy_and_check(writable, source_runtime, form, encoding)


@contract_settings(max_examples=10)
@given(form=copy_requests())
def test_omitted_swap_is_double_max_memory(
    writable: Target, source_runtime: dict, form: dict
) -> None:
    """C9: without ``maxSwapMemory`` the swap is twice ``maxMemory``, in its unit."""
    form = {k: v for k, v in form.items() if k not in ("maxSwapMemory", "maxSwapMemoryUnit")}
    runtime = _copy_and_check(writable, source_runtime, form)
    assert runtime["maxSwapMemory"] == 2 * float(form["maxMemory"])
    assert runtime["maxSwapMemoryUnit"] == form["maxMemoryUnit"]


@contract_settings(max_examples=10)
@given(form=copy_requests(), swap=memory_quantities(), blank=st.booleans())
def test_swap_unit_defaults_to_max_memory_unit(
    writable: Target, source_runtime: dict, form: dict, swap, blank: bool
) -> None:
    """C11: ``maxSwapMemory`` without its unit takes ``maxMemoryUnit``."""
    form = {**form, "maxSwapMemory": str(float(swap[0]))}
    form.pop("maxSwapMemoryUnit", None)
    if blank:
        form["maxSwapMemoryUnit"] = ""
    runtime = _copy_and_check(writable, source_runtime, form)
    assert runtime["maxSwapMemoryUnit"] == form["maxMemoryUnit"]


@contract_settings(max_examples=8)
@given(units=st.tuples(*(memory_units() for _ in UNIT_FIELDS)))
def test_units_accepted_for_every_unit_parameter(
    writable: Target, source_runtime: dict, units: tuple[str, ...]
) -> None:
    """C12: g, m, k and b are accepted for each of the four unit parameters."""
    form = {
        **SIMPLE_COPY,
        "name": "units",
        "minMemory": "0",
        "maxSwapMemory": "3",
        "sharedMemorySize": "1",
        **dict(zip(UNIT_FIELDS, units, strict=True)),
    }
    runtime = _copy_and_check(writable, source_runtime, form)
    assert [runtime[field] for field in UNIT_FIELDS] == list(units)


@contract_settings(max_examples=8)
@given(swap=st.integers(0, 3).map(str))
def test_swap_below_max_memory_accepted(writable: Target, source_runtime: dict, swap: str) -> None:
    """C10, C15: swap is any value >= 0, also below ``maxMemory`` (the seed sends 0)."""
    form = {**SIMPLE_COPY, "name": "swap", "maxSwapMemory": swap, "maxSwapMemoryUnit": "g"}
    runtime = _copy_and_check(writable, source_runtime, form)
    assert runtime["maxSwapMemory"] == int(swap)


@contract_settings()
@given(
    first=memory_quantities(), second=memory_quantities(zero=False), cpus=st.tuples(cpu_values(), cpu_values()),
    min_over_max=st.booleans(),
)  # fmt: skip
def test_min_le_max_after_unit_conversion(
    target: Target, source_runtime: dict, first, second, cpus, min_over_max: bool
) -> None:
    """C14: min <= max (CPU, and memory in bytes with 1024-based units) or the copy is refused."""
    from contracts.strategies import byte_count, float_byte_count

    low, high = sorted((first, second), key=byte_count)
    low_cpu, high_cpu = sorted(cpus)
    refused = (min_over_max or not target.allow_writes) and (
        byte_count(low) < byte_count(high) or low_cpu < high_cpu
    )
    exact_tie = byte_count(low) == byte_count(high)
    if exact_tie != (float_byte_count(low) == float_byte_count(high)):
        return  # rounding decides this one; no server can be held to it
    if not refused and not target.allow_writes:
        return  # nothing to refuse here, and a read-only run may not create
    if refused:
        if byte_count(low) < byte_count(high):
            low, high = high, low
        if low_cpu < high_cpu:
            low_cpu, high_cpu = high_cpu, low_cpu
    form = {
        "name": target.name("minmax"),
        "minCpu": str(float(low_cpu)),
        "maxCpu": str(float(high_cpu)),
        "minMemory": str(float(low[0])),
        "minMemoryUnit": low[1],
        "maxMemory": str(float(high[0])),
        "maxMemoryUnit": high[1],
    }
    note(f"sent: {form}")
    if refused:
        reply = calls.copy(target, source_runtime["id"], form, refusal_expected=True)
        calls.assert_refused(reply, 400)
    else:
        _copy_and_check(target, source_runtime, form)


@contract_settings(max_examples=10)
@given(
    field=st.sampled_from(["minCpu", "maxCpu", "maxCPU"]),
    value=st.sampled_from(["0", "0.0", "-1", "-0.25", "-1e2"]),
)
def test_negative_and_zero_cpu_refused(
    target: Target, source_runtime: dict, field: str, value: str
) -> None:
    """C13: CPU values must be greater than 0."""
    form = {**named({**SIMPLE_COPY, "name": "cpu"}, target.prefix), field: value}
    if field == "maxCPU":
        form.pop("maxCpu")
    before = target.runtimes()
    calls.assert_refused(calls.copy(target, source_runtime["id"], form, refusal_expected=True))
    assert target.runtimes() == before


@contract_settings(max_examples=10)
@given(
    field=st.sampled_from(["podPlacementPolicy", "customResources"]),
    value=st.sampled_from(NOT_OBJECTS),
)
def test_non_object_placement_refused(
    target: Target, source_runtime: dict, field: str, value: str
) -> None:
    """C16: placement policies and custom resources must be JSON objects."""
    form = {**named({**SIMPLE_COPY, "name": "json"}, target.prefix), field: value}
    reply = calls.copy(target, source_runtime["id"], form, refusal_expected=True)
    calls.assert_refused(reply)
    assert any(field in message for message in reply.messages), reply


@contract_settings()
@given(invalid=invalid_copy_requests(), encoding=encodings())
def test_refused_copy_changes_nothing(
    target: Target, source_runtime: dict, invalid, encoding: str
) -> None:
    """C19: an invalid copy is refused with code 400 and the list is the same before and after."""
    note(f"breaks: {invalid.broken_rule}")
    before = target.runtimes()
    reply = calls.copy(
        target,
        source_runtime["id"],
        named(invalid.form, target.prefix),
        encoding=encoding,
        refusal_expected=True,
    )
    calls.assert_refused(reply, 400)
    assert target.runtimes() == before


def test_every_invalid_parameter_is_named(target: Target, source_runtime: dict) -> None:
    """C19: one message for each invalid parameter, naming it."""
    form = {
        **named({**SIMPLE_COPY, "name": "named"}, target.prefix),
        "minCpu": "abc",
        "maxMemoryUnit": "G",
        "customResources": "[]",
    }
    reply = calls.copy(target, source_runtime["id"], form, refusal_expected=True)
    calls.assert_refused(reply)
    for parameter in ("minCpu", "maxMemoryUnit", "customResources"):
        assert sum(parameter in message for message in reply.messages) == 1, (parameter, reply)


def test_copy_of_copy_refused(writable: Target, source_runtime: dict) -> None:
    """C20: only system runtimes can be copied; copying a copy is refused with code 400."""
    first = calls.copied_runtime(
        calls.copy(writable, source_runtime["id"], {**SIMPLE_COPY, "name": writable.name("first")})
    )
    before = writable.runtimes()
    reply = calls.copy(
        writable,
        first["id"],
        {**SIMPLE_COPY, "name": writable.name("second")},
        refusal_expected=True,
    )
    calls.assert_refused(reply, 400)
    assert writable.runtimes() == before
    calls.unregister(writable, first["id"])


@contract_settings(max_examples=5)
@given(version=st.sampled_from(["14.0", "99.0", "1.0", "not a version"]))
def test_copy_version_comes_from_source(
    writable: Target, source_runtime: dict, version: str
) -> None:
    """C8: the copy's version (and advanced flag) are the source's; the version parameter is not applied."""
    runtime = _copy_and_check(
        writable, source_runtime, {**SIMPLE_COPY, "name": "version", "version": version}
    )
    assert runtime["version"] == source_runtime["version"]
    assert runtime["requiresAdvancedPrivileges"] == source_runtime["requiresAdvancedPrivileges"]


def test_omitted_optionals_inherit_from_source(writable: Target, source_runtime: dict) -> None:
    """C17: shared memory, placement and resources left out (or blank) come from the source."""
    for blank in (False, True):
        form = {**SIMPLE_COPY, "name": "inherit"}
        if blank:
            form.update(
                sharedMemorySize="",
                sharedMemorySizeUnit="",
                podPlacementPolicy="",
                customResources="",
            )
        runtime = _copy_and_check(writable, source_runtime, form)
        for field in (
            "sharedMemorySize",
            "sharedMemorySizeUnit",
            "podPlacementPolicy",
            "customResources",
        ):
            assert runtime[field] == source_runtime[field], field


def test_duplicate_names_accepted(writable: Target, source_runtime: dict) -> None:
    """C21: two copies may share a name; they get different ids."""
    form = {**SIMPLE_COPY, "name": writable.name("twin")}
    first = calls.copied_runtime(calls.copy(writable, source_runtime["id"], form))
    second = calls.copied_runtime(calls.copy(writable, source_runtime["id"], form))
    assert first["name"] == second["name"] and first["id"] != second["id"]
    for runtime in (first, second):
        calls.unregister(writable, runtime["id"])


def test_revisions_strictly_increase(writable: Target, source_runtime: dict) -> None:
    """C5, C6: every change gets a revision above every revision before it."""
    highest = max(runtime["revision"] for runtime in writable.runtimes())
    made = []
    for n in range(3):
        runtime = calls.copied_runtime(
            calls.copy(
                writable, source_runtime["id"], {**SIMPLE_COPY, "name": writable.name(f"rev{n}")}
            )
        )
        assert runtime["revision"] > highest, (runtime["revision"], highest)
        highest = runtime["revision"]
        made.append(runtime["id"])
    for runtime_id in made:
        reply = calls.update(
            writable, runtime_id, {"maxCpu": "3", "maxMemory": "5", "maxMemoryUnit": "g"}
        )
        assert reply.envelope == "success", reply
        revision = calls.read(writable, runtime_id).json["revision"]
        assert revision > highest, (revision, highest)
        highest = revision
    for runtime_id in made:
        calls.unregister(writable, runtime_id)


@contract_settings(max_examples=5)
@given(count=st.integers(2, 4))
def test_ids_are_unique(writable: Target, source_runtime: dict, count: int) -> None:
    """C4: each copy gets a new UUID4 and a ``p`` + 20 character property id."""
    existing = {runtime["id"] for runtime in writable.runtimes()}
    made = []
    try:
        for n in range(count):
            runtime = calls.copied_runtime(
                calls.copy(
                    writable, source_runtime["id"], {**SIMPLE_COPY, "name": writable.name(f"id{n}")}
                )
            )
            made.append(runtime)
            assert uuid.UUID(runtime["id"]).version == 4
            assert re.fullmatch(r"p[a-z0-9]{20}", runtime["deploymentDefaultPropertyId"])
        ids = [runtime["id"] for runtime in made]
        assert len(set(ids)) == len(ids) and not existing & set(ids)
    finally:
        for runtime in made:
            calls.unregister(writable, runtime["id"])


@contract_settings(max_examples=5)
@given(form=copy_requests())
def test_copy_never_changes_the_source(writable: Target, source_runtime: dict, form: dict) -> None:
    """Copying leaves the source runtime exactly as it was, revision included."""
    before = calls.read(writable, source_runtime["id"]).json
    _copy_and_check(writable, source_runtime, form)
    assert calls.read(writable, source_runtime["id"]).json == before


@contract_settings()
@given(form=copy_requests(), change=update_requests(), encoding=encodings())
def test_copy_is_readable_updatable_and_unregisterable_then_gone(
    writable: Target, source_runtime: dict, form: dict, change: dict, encoding: str
) -> None:
    """A copy reads back as answered, takes an update, unregisters, and is then 404 and unlisted."""
    form = named(form, writable.prefix)
    runtime = calls.copied_runtime(
        calls.copy(writable, source_runtime["id"], form, encoding=encoding)
    )
    assert calls.read(writable, runtime["id"]).json == runtime
    note(f"update {encoding}: {change}")
    reply = calls.update(writable, runtime["id"], change, encoding=encoding)
    assert reply.json == {"status": "success"}, reply
    updated = calls.read(writable, runtime["id"]).json
    assert differences(updated, expected_update(runtime, change)) == []
    assert updated["revision"] > runtime["revision"]
    assert calls.unregister(writable, runtime["id"]).json == {"status": "success"}
    calls.assert_refused(calls.read(writable, runtime["id"]), 404)
    assert runtime["id"] not in {listed["id"] for listed in writable.runtimes()}


@contract_settings(max_examples=10)
@given(invalid=invalid_update_requests())
def test_refused_update_changes_nothing(writable: Target, source_runtime: dict, invalid) -> None:
    """An invalid update is refused with code 400 and leaves the runtime as it was."""
    note(f"breaks: {invalid.broken_rule}")
    runtime = calls.copied_runtime(
        calls.copy(writable, source_runtime["id"], {**SIMPLE_COPY, "name": writable.name("upd")})
    )
    try:
        calls.assert_refused(calls.update(writable, runtime["id"], invalid.form), 400)
        assert calls.read(writable, runtime["id"]).json == runtime
    finally:
        calls.unregister(writable, runtime["id"])


def test_cpu_numbers_in_every_spelling_are_equal(writable: Target, source_runtime: dict) -> None:
    """C13, W2: ``4``, ``4.0`` and ``4e0`` are the same number, echoed as ``4``."""
    for spelling in ("4", "4.0", "4e0", "4.000000e+00"):
        form = {**SIMPLE_COPY, "name": "spelling", "maxCpu": spelling}
        runtime = _copy_and_check(writable, source_runtime, form)
        assert runtime["maxCpu"] == 4 and isinstance(runtime["maxCpu"], int)


def test_name_kept_as_sent(writable: Target, source_runtime: dict) -> None:
    """C22: the name comes back exactly as sent, surrounding spaces included."""
    name = writable.name("spaced name  ")
    form = {**SIMPLE_COPY, "name": name}
    runtime = calls.copied_runtime(calls.copy(writable, source_runtime["id"], form))
    try:
        assert runtime["name"] == name
        assert calls.read(writable, runtime["id"]).json["name"] == name
    finally:
        calls.unregister(writable, runtime["id"])


#: JSON object texts no server can store as JSON: lone surrogate escapes (as a value,
#: as a key), nesting one level past 32, and more than 64 KiB encoded.
UNSTORABLE_OBJECTS = {
    "lone surrogate value": '{"k": "\\ud800"}',
    "lone surrogate key": '{"\\udfff": 1}',
    "33 levels": '{"a": ' * 32 + "{}" + "}" * 32,
    "over 64 KiB": '{"a": "' + "x" * (64 * 1024) + '"}',
}


@contract_settings(max_examples=8)
@given(
    field=st.sampled_from(["podPlacementPolicy", "customResources"]),
    case=st.sampled_from(sorted(UNSTORABLE_OBJECTS)),
)
def test_unstorable_json_object_refused(
    target: Target, source_runtime: dict, field: str, case: str
) -> None:
    """C23: a JSON object that does not re-encode as strict JSON within depth 32 and 64 KiB
    is refused (code 400, naming the parameter) and nothing is stored."""
    note(f"{field}: {case}")
    form = {
        **named({**SIMPLE_COPY, "name": "strict"}, target.prefix),
        field: UNSTORABLE_OBJECTS[case],
    }
    before = target.runtimes()
    reply = calls.copy(target, source_runtime["id"], form, refusal_expected=True)
    calls.assert_refused(reply, 400)
    assert any(field in message for message in reply.messages), reply
    assert target.runtimes() == before


@contract_settings(max_examples=8)
@given(
    field=st.sampled_from(["maxCpu", "maxMemory", "minMemory"]),
    digits=st.sampled_from(["１", "٢", "۳", "४", "1２", "1.５"]),
)
def test_non_ascii_digits_refused(
    target: Target, source_runtime: dict, field: str, digits: str
) -> None:
    """C24: numbers are ASCII decimals; full-width and Arabic-Indic digits are refused."""
    form = {**named({**SIMPLE_COPY, "name": "digits"}, target.prefix), field: digits}
    before = target.runtimes()
    reply = calls.copy(target, source_runtime["id"], form, refusal_expected=True)
    calls.assert_refused(reply, 400)
    assert any(field in message for message in reply.messages), reply
    assert target.runtimes() == before


@contract_settings(max_examples=8)
@given(breakage=st.sampled_from(["NUL", "line feed", "tab", "256 characters"]))
def test_name_limits_enforced(target: Target, source_runtime: dict, breakage: str) -> None:
    """C25: a name with a control character, or longer than 255 characters, is refused
    (code 400) and nothing is stored. A name of only invisible characters cannot carry the
    run's prefix, which the kit's safety rule requires of every copy it sends (its own
    in-process emulator included), so tests/test_hardened_values.py checks that case."""
    visible = target.prefix + "limits"
    name = {
        "NUL": f"{visible}\x00",
        "line feed": f"{visible}\nX",
        "tab": f"{visible}\tX",
        "256 characters": (visible + "n" * 256)[:256],
    }[breakage]
    form = {**SIMPLE_COPY, "name": name}
    before = target.runtimes()
    reply = calls.copy(target, source_runtime["id"], form, refusal_expected=True)
    calls.assert_refused(reply, 400)
    assert target.runtimes() == before
