"""Update, unregister, manifest, upgrade and releases (ledger U2-U9, D2, M1, M3, G1, G2, A1, P2-P4).

Checks that would change a system runtime run only against the in-process
emulator the kit made; against any other server they are skipped, because
the kit never touches what it did not create.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from contracts import calls
from contracts.expectations import RUNTIME_VERSIONS, differences, expected_update
from contracts.plugin import contract_settings
from contracts.strategies import MEMORY_UNITS, update_requests
from contracts.target import Target

#: Kubernetes runtimes (min values, placement, upgrade, releases 11.4+).
pytestmark = pytest.mark.flavour("kubernetes")

SMALL = {
    "minCpu": "0.5",
    "maxCpu": "2",
    "minMemory": "1",
    "minMemoryUnit": "g",
    "maxMemory": "4",
    "maxMemoryUnit": "g",
    "maxSwapMemory": "6",
    "maxSwapMemoryUnit": "g",
    "sharedMemorySize": "512",
    "sharedMemorySizeUnit": "m",
    "podPlacementPolicy": '{"tolerations": []}',
    "customResources": '{"nvidia.com/gpu": 1}',
}


@pytest.fixture
def own_runtime(writable: Target, source_runtime: dict):
    """A copy made for one check, unregistered after it."""
    form = {**SMALL, "name": writable.name("update")}
    runtime = calls.copied_runtime(calls.copy(writable, source_runtime["id"], form))
    yield runtime
    if runtime["id"] in writable.created:
        calls.unregister(writable, runtime["id"])


def _update_and_read(target: Target, runtime_id: str, form: dict) -> dict:
    reply = calls.update(target, runtime_id, form)
    assert reply.json == {"status": "success"}, reply
    return calls.read(target, runtime_id).json


def test_update_without_min_values_keeps_them(writable: Target, own_runtime: dict) -> None:
    """U2: an update without minCpu, minMemory, minMemoryUnit keeps the runtime's."""
    updated = _update_and_read(
        writable, own_runtime["id"], {"maxCpu": "3", "maxMemory": "5", "maxMemoryUnit": "g"}
    )
    for field in ("minCpu", "minMemory", "minMemoryUnit"):
        assert updated[field] == own_runtime[field], field


def test_update_accepts_response_spelling_of_shared_memory(
    writable: Target, own_runtime: dict
) -> None:
    """U3: ``sharedMemorySize(Unit)`` works on update as well as ``sharedMemory(Unit)``."""
    form = {
        "maxCpu": "2",
        "maxMemory": "4",
        "maxMemoryUnit": "g",
        "sharedMemorySize": "2",
        "sharedMemorySizeUnit": "g",
    }
    updated = _update_and_read(writable, own_runtime["id"], form)
    assert (updated["sharedMemorySize"], updated["sharedMemorySizeUnit"]) == (2, "g")


@contract_settings(max_examples=10)
@given(form=update_requests())
def test_update_bumps_revision(writable: Target, source_runtime: dict, form: dict) -> None:
    """U4: update answers ``{"status": "success"}``, applies the form and raises the revision."""
    runtime = calls.copied_runtime(
        calls.copy(writable, source_runtime["id"], {**SMALL, "name": writable.name("bump")})
    )
    try:
        updated = _update_and_read(writable, runtime["id"], form)
        assert updated["revision"] > runtime["revision"]
        assert differences(updated, expected_update(runtime, form)) == []
    finally:
        calls.unregister(writable, runtime["id"])


def test_update_omitted_swap_is_double_max_memory(writable: Target, own_runtime: dict) -> None:
    """U6: left out on update, swap is twice the new maxMemory; shared memory and JSON objects are kept."""
    updated = _update_and_read(
        writable, own_runtime["id"], {"maxCpu": "2", "maxMemory": "3", "maxMemoryUnit": "g"}
    )
    assert (updated["maxSwapMemory"], updated["maxSwapMemoryUnit"]) == (6, "g")
    for field in (
        "sharedMemorySize",
        "sharedMemorySizeUnit",
        "podPlacementPolicy",
        "customResources",
    ):
        assert updated[field] == own_runtime[field], field


@pytest.mark.parametrize("unit", MEMORY_UNITS)
def test_unit_without_value_ignored(writable: Target, own_runtime: dict, unit: str) -> None:
    """U7: ``sharedMemory=""`` beside a unit never re-scales the kept shared memory."""
    before = calls.read(writable, own_runtime["id"]).json
    form = {
        "maxCpu": "2",
        "maxMemory": "4",
        "maxMemoryUnit": "g",
        "sharedMemory": "",
        "sharedMemoryUnit": unit,
    }
    updated = _update_and_read(writable, own_runtime["id"], form)
    assert (updated["sharedMemorySize"], updated["sharedMemorySizeUnit"]) == (
        before["sharedMemorySize"],
        before["sharedMemorySizeUnit"],
    )


def test_update_ignores_image_fields(writable: Target, own_runtime: dict) -> None:
    """U8: fields the official client copies from the GET are accepted and not applied."""
    form = {
        "maxCpu": "2", "maxMemory": "4", "maxMemoryUnit": "g",
        "name": "renamed-by-update", "version": "1.0", "imageId": "x", "containerType": "docker",
        "imagePullString": "registry/x:1", "requiresAdvancedPrivileges": "true", "dockerRuntime": "runc",
    }  # fmt: skip
    updated = _update_and_read(writable, own_runtime["id"], form)
    for field in ("name", "version", "requiresAdvancedPrivileges"):
        assert updated[field] == own_runtime[field], field


@pytest.mark.emulator_only
def test_system_runtime_update_allowed(writable: Target, source_runtime: dict) -> None:
    """U9: a system runtime takes an update (its own limits sent back).

    Only on an emulator, whose runtimes are put back afterwards: the kit
    never changes what it did not create on a real deployment.
    """
    form = {
        "maxCpu": str(source_runtime["maxCpu"]),
        "maxMemory": str(source_runtime["maxMemory"]),
        "maxMemoryUnit": source_runtime["maxMemoryUnit"],
        "maxSwapMemory": str(source_runtime["maxSwapMemory"]),
        "maxSwapMemoryUnit": source_runtime["maxSwapMemoryUnit"],
    }
    with writable.restored_afterwards() as owned:
        updated = _update_and_read(owned, source_runtime["id"], form)
    assert updated["revision"] > source_runtime["revision"]
    assert differences(updated, {k: v for k, v in source_runtime.items() if k != "revision"}) == []


@pytest.mark.emulator_only
def test_system_runtime_unregister_refused(target: Target, source_runtime: dict) -> None:
    """D2: unregistering a system runtime is refused with code 400, and it stays listed."""
    with target.restored_afterwards() as owned:
        reply = owned.admin(
            "POST",
            f"{calls.RUNTIMES}/{source_runtime['id']}/unregister",
            refusal_expected=True,
        )
        listed = {runtime["id"] for runtime in owned.runtimes()}
    calls.assert_refused(reply, 400)
    assert source_runtime["id"] in listed


#: The keys of a manifest row in Esri's example [doc:manifest]. Restated from the doc, not
#: imported from mockserver: the kit judges the emulator as it judges a real Enterprise.
LIBRARY_KEYS = {
    "name",
    "version",
    "build_string",
    "dist_name",
    "channel",
    "build_number",
    "base_url",
    "platform",
}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_manifest_by_get(target: Target, source_runtime: dict, method: str) -> None:
    """M1: the manifest lists libraries with the documented keys, by GET and by POST."""
    reply = target.admin(method, f"{calls.RUNTIMES}/{source_runtime['id']}/manifest")
    libraries = reply.body.get("libraries") if isinstance(reply.body, dict) else None
    assert isinstance(libraries, list) and libraries, reply
    for library in libraries:
        assert set(library) == LIBRARY_KEYS, library


def test_copy_manifest_is_source_manifest(
    writable: Target, own_runtime: dict, source_runtime: dict
) -> None:
    """M3: a copy reports its source's manifest."""
    source = writable.admin("GET", f"{calls.RUNTIMES}/{source_runtime['id']}/manifest").json
    copy = writable.admin("GET", f"{calls.RUNTIMES}/{own_runtime['id']}/manifest").json
    assert copy == source


def _release(target: Target) -> str:
    """``12.1`` for ``fullVersion`` ``12.1.0`` (``currentVersion`` is a number, A1)."""
    return target.admin("GET", "").json["fullVersion"].rsplit(".", 1)[0]


def test_admin_root_has_full_version(target: Target) -> None:
    """A1, P4: the admin root lists ``notebooks``; ``fullVersion`` is ``<release>.0`` and
    ``currentVersion`` the release as a number."""
    body = target.admin("GET", "").json
    assert {"fullVersion", "resources", "currentVersion"} <= set(body), body
    assert "notebooks" in body["resources"]
    release = body["fullVersion"].rsplit(".", 1)[0]
    assert body["fullVersion"] == f"{release}.0", body
    current = body["currentVersion"]
    assert isinstance(current, int | float) and not isinstance(current, bool), body
    assert current == float(release), body


def test_current_runtime_version_matches_release(target: Target) -> None:
    """P3: the release's runtime version is the listing's and every system runtime's."""
    release = _release(target)
    if release not in RUNTIME_VERSIONS:
        pytest.skip(f"release {release} has no runtime version in the ledger")
    listing = target.admin("GET", calls.RUNTIMES).json
    assert listing["currentRuntimeVersion"] == RUNTIME_VERSIONS[release]
    assert {runtime["version"] for runtime in listing["runtimes"] if not runtime["copied"]} == {
        RUNTIME_VERSIONS[release]
    }


def test_missing_operation_is_404(target: Target) -> None:
    """P2: an operation the release lacks answers 404 naming it (after the token check)."""
    probe = target
    if "upgrade" in _operations_of(_release(target)):
        if not target.can_make_siblings:
            pytest.skip("the target's release has every runtime operation")
        probe = target.sibling("11.5")
    runtime_id = probe.made_up_id()
    reply = probe.admin("POST", f"{calls.RUNTIMES}/{runtime_id}/upgrade", refusal_expected=True)
    calls.assert_refused(reply, 404)
    assert reply.messages == ["Could not find resource or operation 'upgrade' on the system."]
    no_token = probe.admin(
        "POST", f"{calls.RUNTIMES}/{runtime_id}/upgrade", token=None, refusal_expected=True
    )
    calls.assert_refused(no_token, 499)


def _operations_of(release: str) -> set[str]:
    """[doc] upgrade exists from 12.1 (P1); the other operations are not probed."""
    numbers = tuple(int(part) for part in release.split(".") if part.isdigit())
    return {"upgrade"} if numbers >= (12, 1) else set()


def test_upgrade_of_current_copy_refused(writable: Target, own_runtime: dict) -> None:
    """G2: upgrading a copy already at the current runtime version is refused with code 400."""
    if "upgrade" not in _operations_of(_release(writable)):
        pytest.skip("the target's release has no upgrade operation")
    reply = writable.admin("POST", f"{calls.RUNTIMES}/{own_runtime['id']}/upgrade")
    calls.assert_refused(reply, 400)
    assert calls.read(writable, own_runtime["id"]).json == own_runtime


@pytest.mark.emulator_only
def test_upgrade_answers_success(target: Target, tmp_path_factory: pytest.TempPathFactory) -> None:
    """G1: a copy made under an earlier release upgrades to the current version, settings kept."""
    if not target.can_make_siblings:
        pytest.skip(
            "needs a copy made under an earlier release, which only the in-process emulator can make"
        )
    state = str(tmp_path_factory.mktemp("upgrade") / "state.sqlite3")
    older = target.sibling("12.0", state=state)
    source = next(
        runtime for runtime in older.system_runtimes() if not runtime["requiresAdvancedPrivileges"]
    )
    made = calls.copied_runtime(
        calls.copy(older, source["id"], {**SMALL, "name": older.name("old")})
    )
    newer = target.sibling("12.1", state=state)
    newer.created[made["id"]] = made["name"]
    reply = newer.admin("POST", f"{calls.RUNTIMES}/{made['id']}/upgrade")
    assert reply.json == {"status": "success"}, reply
    upgraded = calls.read(newer, made["id"]).json
    assert upgraded["version"] == RUNTIME_VERSIONS["12.1"] != made["version"]
    assert upgraded["revision"] > made["revision"]
    kept = {k: v for k, v in made.items() if k not in ("version", "revision")}
    assert differences(upgraded, kept) == []


@pytest.mark.parametrize("spelling", ["maxCpu", "maxCPU"])
def test_update_accepts_both_cpu_spellings(
    writable: Target, own_runtime: dict, spelling: str
) -> None:
    """U1, C2: ``maxCPU`` (the doc table) and ``maxCpu`` (the doc sample) both set the maximum CPU."""
    updated = _update_and_read(
        writable, own_runtime["id"], {spelling: "3", "maxMemory": "4", "maxMemoryUnit": "g"}
    )
    assert updated["maxCpu"] == 3


@pytest.mark.parametrize(
    "value",
    ['{"k": "\\ud800"}', '{"a": ' * 32 + "{}" + "}" * 32, '{"a": "' + "x" * (64 * 1024) + '"}'],
    ids=["lone surrogate", "33 levels", "over 64 KiB"],
)
def test_unstorable_json_object_refused_by_update(
    writable: Target, own_runtime: dict, value: str
) -> None:
    """U10: update applies copy's strict JSON rule (C23): refused naming the parameter, the
    runtime unchanged."""
    form = {"maxCpu": "2", "maxMemory": "4", "maxMemoryUnit": "g", "customResources": value}
    reply = calls.update(writable, own_runtime["id"], form, refusal_expected=True)
    calls.assert_refused(reply, 400)
    assert any("customResources" in message for message in reply.messages), reply
    assert calls.read(writable, own_runtime["id"]).json == own_runtime


def _update_uploading_manifest(target: Target, runtime_id: str, manifest: bytes):
    """An update whose ``manifestFile`` is a multipart file part, as the official client sends it."""
    boundary = "nbmock-kit-manifest"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in (("maxCpu", "2"), ("maxMemory", "4"), ("maxMemoryUnit", "g"))
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="manifestFile"; '
        'filename="manifest.json"\r\nContent-Type: application/json\r\n\r\n'.encode()
        + manifest
        + b"\r\n"
    )
    return target.admin(
        "POST",
        f"{calls.RUNTIMES}/{runtime_id}/update",
        raw_body=b"".join(parts) + f"--{boundary}--\r\n".encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        token_in="header",
    )


def test_update_with_manifest_file_replaces_manifest(writable: Target, own_runtime: dict) -> None:
    """M4: an uploaded ``manifestFile`` becomes the manifest; one that does not parse is refused."""
    manifest = b'[{"name": "rich", "version": "13.9.4", "channel": "conda-forge"}]'
    reply = _update_uploading_manifest(writable, own_runtime["id"], manifest)
    assert reply.json == {"status": "success"}, reply
    path = f"{calls.RUNTIMES}/{own_runtime['id']}/manifest"
    libraries = writable.admin("GET", path).json["libraries"]
    assert [(row["name"], row["version"]) for row in libraries] == [("rich", "13.9.4")], libraries
    refused = _update_uploading_manifest(writable, own_runtime["id"], b"not json")
    calls.assert_refused(refused, 400)
    assert writable.admin("GET", path).json["libraries"] == libraries
