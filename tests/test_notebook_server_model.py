"""The standalone Notebook Server's runtime rules (mockserver/notebookserver/model.py), pure.

No Flask, no store: the model is read and tested alone, as the Kubernetes model is.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver.core import messages
from mockserver.core.errors import InvalidParameters, Refused
from mockserver.core.values import MEMORY_UNITS, Quantity
from mockserver.notebookserver import model
from mockserver.notebookserver.model import ServerRuntime
from mockserver.notebookserver.releases import (
    RELEASES,
    RETIREMENT_MS,
    esri_runtimes,
)

IMAGE = "sha256:" + "0f" * 32
#: What the official client's RuntimeConfiguration sends for register [client], as strings.
CLIENT_REGISTER = {
    "name": "Custom Python 3",
    "imageId": IMAGE,
    "maxCPU": "2.0",
    "maxMemory": "4.0",
    "containerType": "docker",
    "maxMemoryUnit": "g",
    "requiresAdvancedPrivileges": "true",
    "sharedMemory": "",
    "sharedMemoryUnit": "m",
    "imagePullString": "",
    "dockerRuntime": "",
    "createManifestFile": "false",
    "f": "json",
}

#: Runtime keys of the listing [doc: notebook-runtimes], and what runtimes/<id> adds [doc].
LISTED_KEYS = [
    "deprecationDate",
    "imageId",
    "containerType",
    "imagePullString",
    "maxCpu",
    "version",
    "maxMemory",
    "esriProvidedRuntime",
    "dockerRuntime",
    "name",
    "maxMemoryUnit",
    "maxSwapMemory",
    "maxSwapMemoryUnit",
    "disabled",
    "id",
    "requiresAdvancedPrivileges",
    "sharedMemorySizeUnit",
    "sharedMemorySize",
]
KUBERNETES_ONLY_KEYS = {
    "minCpu",
    "minMemory",
    "deploymentDefaultPropertyId",
    "podPlacementPolicy",
    "customResources",
    "copied",
    "revision",
}


def register(params: dict[str, str], release: str = "11.5") -> ServerRuntime:
    return model.registered(
        params,
        new_id="new-id",
        release_name=release,
        current_version=RELEASES[release].runtime_version,
    )


def esri_standard(version: str = "12.0") -> ServerRuntime:
    return ServerRuntime.from_dict({**esri_runtimes(version)[0], "revision": 1})


def test_the_clients_register_form_makes_a_docker_runtime_at_the_sites_version():
    runtime = register(CLIENT_REGISTER)
    assert (runtime.name, runtime.imageId, runtime.containerType) == (
        "Custom Python 3",
        IMAGE,
        "docker",
    )
    assert (runtime.maxCpu, runtime.maxMemory, runtime.maxMemoryUnit) == (2.0, 4.0, "g")
    assert runtime.requiresAdvancedPrivileges is True
    assert runtime.esriProvidedRuntime is False
    assert runtime.version == "12.0"


@given(
    memory=st.floats(min_value=0.001, max_value=1e6, allow_nan=False),
    unit=st.sampled_from(sorted(MEMORY_UNITS)),
)
def test_omitted_swap_is_double_max_memory(memory, unit):
    params = {**CLIENT_REGISTER, "maxMemory": repr(memory), "maxMemoryUnit": unit}
    runtime = register(params)
    assert (runtime.maxSwapMemory, runtime.maxSwapMemoryUnit) == (2 * memory, unit)


@given(unit=st.sampled_from(sorted(MEMORY_UNITS)))
def test_omitted_swap_on_update_is_double_the_new_max_memory(unit):
    params = {**CLIENT_REGISTER, "maxMemory": "3", "maxMemoryUnit": unit, "maxSwapMemory": ""}
    runtime = model.updated(esri_standard(), params, release_name="11.5")
    assert (runtime.maxSwapMemory, runtime.maxSwapMemoryUnit) == (6.0, unit)


@pytest.mark.parametrize("unit", ["G", "gb", "t", "kb", "", " m"])
def test_units_other_than_g_m_k_b_are_refused(unit):
    params = {**CLIENT_REGISTER, "maxMemoryUnit": unit}
    if unit.strip() == "":
        with pytest.raises(InvalidParameters) as refused:
            register(params)
        assert messages.REQUIRED.format(name="maxMemoryUnit") in refused.value.messages
        return
    if unit.strip() in MEMORY_UNITS:
        assert register(params).maxMemoryUnit == unit.strip()
        return
    with pytest.raises(InvalidParameters):
        register(params)


@pytest.mark.parametrize("spelling", ["maxCpu", "maxCPU"])
def test_max_cpu_is_read_in_both_spellings(spelling):
    params = {key: value for key, value in CLIENT_REGISTER.items() if key != "maxCPU"}
    params[spelling] = "3.5"
    assert register(params).maxCpu == 3.5


#: Each bad parameter alone, with the message it must produce: an enumeration of every
#: kind of problem register checks.
BAD_PARAMETERS = {
    "name": ("", messages.REQUIRED.format(name="name")),
    "imageId": ("abc123", messages.BAD_IMAGE_ID.format(value="abc123")),
    "containerType": ("podman", messages.BAD_CONTAINER_TYPE.format(value="podman")),
    "requiresAdvancedPrivileges": (
        "yes",
        messages.NOT_A_FLAG.format(name="requiresAdvancedPrivileges", value="yes"),
    ),
    "maxCPU": ("0", messages.NOT_POSITIVE.format(name="maxCPU")),
    "maxMemory": ("lots", messages.NOT_A_NUMBER.format(name="maxMemory", value="lots")),
    "maxMemoryUnit": (
        "tb",
        messages.BAD_UNIT.format(name="maxMemoryUnit", value="tb", units="g, m, k, b"),
    ),
    "maxSwapMemoryUnit": (
        "x",
        messages.BAD_UNIT.format(name="maxSwapMemoryUnit", value="x", units="g, m, k, b"),
    ),
    "sharedMemory": ("-1", messages.NEGATIVE.format(name="sharedMemory")),
    "dockerRuntime": ("nvidia runtime", messages.BAD_DOCKER_RUNTIME.format(value="nvidia runtime")),
    "createManifestFile": (
        "maybe",
        messages.NOT_A_FLAG.format(name="createManifestFile", value="maybe"),
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_PARAMETERS))
def test_each_bad_parameter_is_refused_with_its_message(name):
    raw, expected = BAD_PARAMETERS[name]
    with pytest.raises(InvalidParameters) as refused:
        register({**CLIENT_REGISTER, name: raw})
    assert refused.value.messages == [expected]


def test_every_problem_of_one_request_is_reported_together():
    params = {**CLIENT_REGISTER, **{name: raw for name, (raw, _) in BAD_PARAMETERS.items()}}
    with pytest.raises(InvalidParameters) as refused:
        register(params)
    assert sorted(refused.value.messages) == sorted(
        expected for _, expected in BAD_PARAMETERS.values()
    )


@given(
    memory=st.integers(min_value=1, max_value=64),
    swap_unit=st.sampled_from(sorted(MEMORY_UNITS)),
    swap=st.integers(min_value=1, max_value=10**6),
)
def test_swap_is_refused_exactly_when_it_is_below_max_memory(memory, swap_unit, swap):
    params = {
        **CLIENT_REGISTER,
        "maxMemory": str(memory),
        "maxMemoryUnit": "g",
        "maxSwapMemory": str(swap),
        "maxSwapMemoryUnit": swap_unit,
    }
    below = Quantity(swap, swap_unit).bytes < Quantity(memory, "g").bytes
    if below:
        with pytest.raises(InvalidParameters) as refused:
            register(params)
        assert refused.value.messages == [messages.SWAP_BELOW_MEMORY]
    else:
        assert register(params).maxSwapMemory == swap


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_version_is_required_before_10_9_and_the_sites_version_from_it(release):
    params = {key: value for key, value in CLIENT_REGISTER.items() if key != "version"}
    required = tuple(int(part) for part in release.split(".")) < (10, 9)
    if required:
        with pytest.raises(InvalidParameters) as refused:
            register(params, release)
        assert refused.value.messages == [messages.REQUIRED.format(name="version")]
        assert register({**params, "version": "1.0"}, release).version == "1.0"
    else:
        assert register(params, release).version == RELEASES[release].runtime_version


def test_the_known_release_to_runtime_version_table():
    known = {
        "10.7": "1.0",
        "10.7.1": "2.0",
        "10.8": "3.0",
        "10.8.1": "4.0",
        "10.9": "5.0",
        "10.9.1": "6.0",
        "11.0": "7.0",
        "11.1": "8.0",
        "11.3": "10.0",
    }
    assert {name: RELEASES[name].runtime_version for name in known} == known
    assert set(RELEASES) >= set(known) | {"11.4", "11.5"}


def test_register_and_validate_exist_from_their_documented_releases():
    assert "register" not in RELEASES["10.7"].operations
    assert "register" in RELEASES["10.7.1"].operations
    assert "validateRuntimes" not in RELEASES["10.7.1"].operations
    assert all("validateRuntimes" in RELEASES[name].operations for name in ("10.8", "11.5"))
    assert all("restore" in release.operations for release in RELEASES.values())


def test_the_listing_has_exactly_the_documented_keys_and_none_of_kubernetes():
    runtime = esri_standard()
    assert list(runtime.listed()) == LISTED_KEYS
    assert set(runtime.detail(0)) == set(LISTED_KEYS) | {"deprecated", "useGPU", "manifestFile"}
    assert not KUBERNETES_ONLY_KEYS & set(runtime.detail(0))


@pytest.mark.parametrize("version", sorted(RETIREMENT_MS))
def test_a_runtime_is_deprecated_once_the_clock_passes_its_retirement_date(version):
    runtime = esri_standard(version)
    date = RETIREMENT_MS[version]
    assert runtime.listed()["deprecationDate"] == date
    assert runtime.detail(date - 1)["deprecated"] is False
    assert runtime.detail(date)["deprecated"] is True


def test_a_version_without_a_published_retirement_has_no_date_and_is_never_deprecated():
    runtime = esri_standard("12.0")
    assert runtime.listed()["deprecationDate"] is None
    assert runtime.detail(2**52)["deprecated"] is False


def test_use_gpu_follows_the_docker_runtime():
    runtime = register({**CLIENT_REGISTER, "dockerRuntime": "nvidia"})
    assert runtime.detail(0)["useGPU"] is True
    assert register(CLIENT_REGISTER).detail(0)["useGPU"] is False


def test_an_esri_runtime_cannot_be_unregistered_but_a_registered_one_can():
    with pytest.raises(Refused):
        model.check_unregister(esri_standard())
    model.check_unregister(register(CLIENT_REGISTER))


def test_update_applies_every_setting_and_keeps_what_is_left_out():
    current = register({**CLIENT_REGISTER, "dockerRuntime": "nvidia", "sharedMemory": "2"})
    params = {**CLIENT_REGISTER, "name": "Renamed", "maxCpu": "4", "dockerRuntime": ""}
    params.pop("maxCPU")
    params.pop("sharedMemory")
    updated = model.updated(current, params, release_name="11.5")
    assert (updated.name, updated.maxCpu) == ("Renamed", 4.0)
    assert updated.dockerRuntime == "nvidia"  # "" is the client's "not set" [client]
    assert (updated.sharedMemorySize, updated.sharedMemorySizeUnit) == (2.0, "m")
    assert updated.id == current.id


def test_validation_lists_every_runtime_on_the_one_machine():
    runtimes = [esri_standard(), register(CLIENT_REGISTER)]
    answer = model.validation(runtimes, "NB.EXAMPLE")
    assert answer["status"] == "success"
    [machine] = answer["machines"]
    assert machine["machine"] == "NB.EXAMPLE"
    assert [row["notebookRuntimeName"] for row in machine["notebookRuntimes"]] == [
        "ArcGIS Notebook Python 3 Standard",
        "Custom Python 3",
    ]
    assert {row["runtimeExists"] for row in machine["notebookRuntimes"]} == {"true"}


def test_a_stored_runtime_round_trips_and_a_kubernetes_runtime_is_refused():
    runtime = register(CLIENT_REGISTER)
    assert model.stored_runtime(runtime.to_dict()) == runtime
    kubernetes_like = {**runtime.to_dict(), "minCpu": 1.0}
    with pytest.raises(InvalidParameters):
        model.stored_runtime(kubernetes_like)


def test_the_model_imports_without_flask_or_sqlite():
    code = (
        "import sys, mockserver.notebookserver.model; "
        "print(sorted(m for m in ('flask', 'werkzeug', 'sqlite3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
