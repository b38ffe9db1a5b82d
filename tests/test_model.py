"""The runtime rules in the pure model, without Flask or SQLite."""

from __future__ import annotations

import pytest

from mockserver.core.errors import InvalidParameters, Refused
from mockserver.runtimes import model
from mockserver.runtimes.model import Quantity, Runtime
from mockserver.runtimes.releases import STANDARD_ID, system_runtimes
from tests.conftest import SEED_COPY


@pytest.fixture
def standard() -> Runtime:
    body = system_runtimes("14.0")[0]
    return Runtime.from_dict({**body, "revision": 1})


def copy(source: Runtime, **params: str) -> Runtime:
    return model.copy_of(source, params, new_id="new", property_id="pabc")


def refusal(source: Runtime, **params: str) -> list[str]:
    with pytest.raises(InvalidParameters) as caught:
        copy(source, **params)
    return caught.value.messages


def test_seed_parameters_give_the_seed_values(standard):
    runtime = copy(standard, **SEED_COPY)
    assert runtime.to_dict() == {
        "id": "new",
        "name": "ArcGIS Notebook Python 3 Standard with Increased Limit",
        "requiresAdvancedPrivileges": False,
        "copied": True,
        "version": "14.0",
        "esriProvidedRuntime": False,
        "deploymentDefaultPropertyId": "pabc",
        "minCpu": 1.0,
        "maxCpu": 4.0,
        "minMemory": 3.0,
        "minMemoryUnit": "g",
        "maxMemory": 14.0,
        "maxMemoryUnit": "g",
        "maxSwapMemory": 0.0,
        "maxSwapMemoryUnit": "g",
        "sharedMemorySize": 1.0,
        "sharedMemorySizeUnit": "g",
        "podPlacementPolicy": {},
        "customResources": {},
        "revision": 0,
    }


def test_omitted_swap_is_double_max_memory_in_its_unit(standard):
    params = {k: v for k, v in SEED_COPY.items() if not k.startswith("maxSwap")}
    params["maxMemory"], params["maxMemoryUnit"] = "1500", "m"
    params["minMemory"] = "1"
    runtime = copy(standard, **params)
    assert (runtime.maxSwapMemory, runtime.maxSwapMemoryUnit) == (3000.0, "m")


def test_empty_string_counts_as_omitted(standard):
    runtime = copy(standard, **{**SEED_COPY, "maxSwapMemory": "", "maxSwapMemoryUnit": ""})
    assert (runtime.maxSwapMemory, runtime.maxSwapMemoryUnit) == (28.0, "g")


def test_swap_unit_defaults_to_max_memory_unit(standard):
    runtime = copy(standard, **{**SEED_COPY, "maxSwapMemory": "512", "maxSwapMemoryUnit": ""})
    assert (runtime.maxSwapMemory, runtime.maxSwapMemoryUnit) == (512.0, "g")


def test_max_cpu_spelled_maxCPU_is_accepted(standard):
    params = {k: v for k, v in SEED_COPY.items() if k != "maxCpu"}
    assert copy(standard, **params, maxCPU="3").maxCpu == 3.0


@pytest.mark.parametrize("unit", ["g", "m", "k", "b"])
def test_every_unit_is_accepted_for_every_unit_parameter(standard, unit):
    runtime = copy(
        standard,
        **{
            **SEED_COPY,
            "minMemory": "0",
            "minMemoryUnit": unit,
            "maxMemoryUnit": unit,
            "maxSwapMemoryUnit": unit,
            "sharedMemorySizeUnit": unit,
        },
    )
    assert {runtime.minMemoryUnit, runtime.maxMemoryUnit, runtime.sharedMemorySizeUnit} == {unit}


@pytest.mark.parametrize("bad", ["G", "gb", "t", " x", "1"])
def test_unknown_unit_is_refused_naming_the_parameter(standard, bad):
    messages = refusal(standard, **{**SEED_COPY, "sharedMemorySizeUnit": bad})
    assert messages == [
        f"Invalid value for 'sharedMemorySizeUnit': '{bad.strip()}'. Valid values are g, m, k, b."
    ]


@pytest.mark.parametrize("bad", ["abc", "1,5", "nan", "inf", "1e400", "0x10", "1_000", ""])
def test_numbers_that_do_not_parse_are_refused(standard, bad):
    messages = refusal(standard, **{**SEED_COPY, "maxMemory": bad})
    assert len(messages) == 1 and "'maxMemory'" in messages[0]


def test_negative_memory_and_non_positive_cpu_are_refused(standard):
    messages = refusal(standard, **{**SEED_COPY, "minCpu": "0", "minMemory": "-1"})
    assert messages == [
        "Invalid value for 'minCpu': it must be greater than 0.",
        "Invalid value for 'minMemory': it must not be negative.",
    ]


def test_every_missing_required_parameter_is_named(standard):
    assert refusal(standard) == [
        "'name' is required.",
        "'minCpu' is required.",
        "'maxCpu' is required.",
        "'minMemory' is required.",
        "'minMemoryUnit' is required.",
        "'maxMemory' is required.",
        "'maxMemoryUnit' is required.",
    ]


def test_min_cpu_above_max_cpu_is_refused(standard):
    assert refusal(standard, **{**SEED_COPY, "minCpu": "5"}) == [
        "'minCpu' must not be greater than 'maxCpu'."
    ]


def test_min_memory_is_compared_to_max_memory_after_unit_conversion(standard):
    # 2048 m == 2 g: allowed; 2049 m > 2 g: refused.
    ok = {**SEED_COPY, "minMemory": "2048", "minMemoryUnit": "m", "maxMemory": "2"}
    assert copy(standard, **ok).minMemory == 2048.0
    assert refusal(standard, **{**ok, "minMemory": "2049"}) == [
        "'minMemory' must not be greater than 'maxMemory'."
    ]


@pytest.mark.parametrize("field", ["podPlacementPolicy", "customResources"])
@pytest.mark.parametrize("bad", ["[]", "1", '"x"', "{", "{'a': 1}", '{"a": NaN}'])
def test_placement_and_resources_must_be_json_objects(standard, field, bad):
    assert refusal(standard, **{**SEED_COPY, field: bad}) == [
        f"Invalid value for '{field}': it must be a JSON object."
    ]


def test_placement_and_resources_come_back_as_objects(standard):
    gpu = '{"limits": {"nvidia.com/gpu": 1}}'
    tolerations = '{"tolerations": [{"key": "gpu", "operator": "Exists"}]}'
    runtime = copy(
        standard, **{**SEED_COPY, "customResources": gpu, "podPlacementPolicy": tolerations}
    )
    assert runtime.customResources == {"limits": {"nvidia.com/gpu": 1}}
    assert runtime.podPlacementPolicy["tolerations"][0]["key"] == "gpu"


def test_omitted_optionals_inherit_from_source(standard):
    required = {
        k: SEED_COPY[k]
        for k in (
            "name",
            "minCpu",
            "maxCpu",
            "minMemory",
            "minMemoryUnit",
            "maxMemory",
            "maxMemoryUnit",
        )
    }
    runtime = copy(standard, **required)
    assert (runtime.sharedMemorySize, runtime.sharedMemorySizeUnit) == (
        standard.sharedMemorySize,
        standard.sharedMemorySizeUnit,
    )
    assert runtime.customResources == standard.customResources


def test_version_and_advanced_flag_come_from_the_source(standard):
    runtime = copy(standard, **{**SEED_COPY, "version": "99.0"})
    assert runtime.version == "14.0"
    assert runtime.requiresAdvancedPrivileges is False


def test_copy_of_a_copy_is_refused(standard):
    first = copy(standard, **SEED_COPY)
    with pytest.raises(Refused, match="only system runtimes can be copied"):
        copy(first, **SEED_COPY)


def test_copy_leaves_the_source_object_unchanged(standard):
    before = standard.to_dict()
    copy(standard, **SEED_COPY)
    assert standard.to_dict() == before


def test_quantity_bytes_use_1024_based_units():
    assert Quantity(1, "g").bytes == Quantity(1024, "m").bytes == Quantity(1024**2, "k").bytes
    assert Quantity(3, "b").bytes == 3


# --- update, unregister, upgrade -----------------------------------------------


def test_update_sets_limits_and_keeps_what_is_left_out(standard):
    runtime = model.updated(standard, {"maxCPU": "3.0", "maxMemory": "6.0", "maxMemoryUnit": "g"})
    assert (runtime.maxCpu, runtime.maxMemory, runtime.minCpu) == (3.0, 6.0, standard.minCpu)
    assert (runtime.maxSwapMemory, runtime.maxSwapMemoryUnit) == (12.0, "g")
    assert runtime.sharedMemorySize == standard.sharedMemorySize


def test_update_accepts_what_the_official_client_sends(standard):
    # [client] 15 multipart parts, floats as strings, "" for unset values.
    client_parts = {
        "name": standard.name,
        "version": standard.version,
        "imageId": "",
        "containerType": "",
        "imagePullString": "",
        "requiresAdvancedPrivileges": "false",
        "maxCpu": "2.0",
        "maxMemory": "5.0",
        "maxMemoryUnit": "g",
        "maxSwapMemory": "",
        "maxSwapMemoryUnit": "g",
        "sharedMemory": "512.0",
        "sharedMemoryUnit": "m",
        "dockerRuntime": "",
        "f": "json",
    }
    runtime = model.updated(standard, client_parts)
    assert (runtime.maxCpu, runtime.maxMemory) == (2.0, 5.0)
    assert (runtime.sharedMemorySize, runtime.sharedMemorySizeUnit) == (512.0, "m")
    assert runtime.name == standard.name


def test_update_refuses_max_below_current_min(standard):
    with pytest.raises(InvalidParameters) as caught:
        model.updated(standard, {"maxCpu": "0.25", "maxMemory": "4", "maxMemoryUnit": "g"})
    assert caught.value.messages == ["'minCpu' must not be greater than 'maxCpu'."]


def test_update_requires_max_cpu_and_max_memory(standard):
    with pytest.raises(InvalidParameters) as caught:
        model.updated(standard, {})
    assert caught.value.messages == [
        "'maxCpu' is required.",
        "'maxMemory' is required.",
        "'maxMemoryUnit' is required.",
    ]


def test_system_runtime_cannot_be_unregistered(standard):
    with pytest.raises(Refused, match="system runtime"):
        model.check_unregister(standard)


def test_upgrade_moves_a_copy_to_the_current_version_keeping_settings(standard):
    old = copy(standard, **SEED_COPY)
    old.version = "13.0"
    new = model.upgraded(old, "14.0")
    assert new.version == "14.0"
    assert {k: v for k, v in new.to_dict().items() if k != "version"} == {
        k: v for k, v in old.to_dict().items() if k != "version"
    }
    with pytest.raises(Refused, match="already at the current runtime version"):
        model.upgraded(new, "14.0")
    with pytest.raises(Refused, match="system runtime"):
        model.upgraded(standard, "14.0")


def test_standard_id_is_the_seeds_source_id():
    assert STANDARD_ID == "d47350a5-e4f0-4b63-ae55-c0a5773a96bb"


def test_a_unit_sent_without_its_value_does_not_rescale_the_kept_value(standard):
    # The official client sends sharedMemory "" beside its default unit "m" [client].
    runtime = model.updated(
        standard,
        {
            "maxCpu": "1",
            "maxMemory": "4",
            "maxMemoryUnit": "g",
            "sharedMemory": "",
            "sharedMemoryUnit": "m",
        },
    )
    assert (runtime.sharedMemorySize, runtime.sharedMemorySizeUnit) == (1.0, "g")
    copied = copy(standard, **{**SEED_COPY, "sharedMemorySize": "", "sharedMemorySizeUnit": "m"})
    assert (copied.sharedMemorySize, copied.sharedMemorySizeUnit) == (1.0, "g")


def test_name_is_kept_exactly_as_sent_and_blank_is_missing(standard):
    assert copy(standard, **{**SEED_COPY, "name": "  padded  "}).name == "  padded  "
    assert refusal(standard, **{**SEED_COPY, "name": "   "}) == ["'name' is required."]
