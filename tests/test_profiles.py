"""Deployment profiles (mockserver/core/profile.py): served where given, refused clearly where bad.

The foreign deployment (tests/data/foreign-deployment.json) differs from every
default; nothing in the emulator knows it is special.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from contracts.calls import SIMPLE_COPY
from mockserver.core.profile import REFUSALS, Profile, ProfileError
from mockserver.runtimes.releases import STANDARD_ID
from mockserver.testing import in_process, running
from tests.nbmock_process import NbmockProcess

FOREIGN = Path(__file__).parent / "data" / "foreign-deployment.json"
FOREIGN_DATA = json.loads(FOREIGN.read_text())
FOREIGN_IDS = [entry["runtime"]["id"] for entry in FOREIGN_DATA["runtimes"]["system"]]


def runtimes_of(emulator) -> dict:
    return emulator.session.get(
        f"{emulator.admin_url}/notebooks/runtimes",
        params={"f": "json", "token": emulator.token()},
        timeout=30,
    ).json()


def admin_json(emulator, path: str, token: str | None = None, **params) -> dict:
    answer = emulator.session.get(
        f"{emulator.admin_url}/{path}",
        params={"f": "json", **({"token": token} if token else {}), **params},
        timeout=30,
    )
    return answer.json()


def test_foreign_profile_seeds_its_runtimes_release_and_manifests():
    emulator = in_process(profile=str(FOREIGN))
    listed = runtimes_of(emulator)
    assert listed["currentRuntimeVersion"] == "13.1"
    assert [r["id"] for r in listed["runtimes"]] == FOREIGN_IDS
    assert listed["runtimes"][1]["customResources"] == {"nvidia.com/gpu": 1}
    token = emulator.token()
    gpu = admin_json(emulator, f"notebooks/runtimes/{FOREIGN_IDS[1]}/manifest", token)
    assert [lib["name"] for lib in gpu["libraries"]][-1] == "cudatoolkit"
    root = admin_json(emulator, "", token)
    assert root == {"fullVersion": "12.0.1", "resources": ["notebooks"], "currentVersion": 12}
    sharing = emulator.session.get(f"{emulator.portal_url}", params={"f": "json"}).json()
    assert sharing == {
        "currentVersion": "2025.3",
        "enterpriseVersion": "12.0.1",
        "enterpriseBuild": "59314",
    }


def test_foreign_profile_words_refusals_its_own_way():
    emulator = in_process(profile=str(FOREIGN))
    token = emulator.token()
    missing = admin_json(emulator, "notebooks/runtimes/no-such-runtime", token)
    assert missing == {
        "status": "error",
        "messages": ["Runtime with id 'no-such-runtime' was not found."],
        "code": 400,
    }
    assert admin_json(emulator, "notebooks/runtimes")["messages"] == [
        "Token required to access this resource."
    ]
    answer = emulator.session.get(
        f"{emulator.admin_url}/notebooks/runtimes", params={"f": "xml", "token": token}
    )
    assert answer.headers["Content-Type"] == "application/json;charset=UTF-8"
    # A refusal the profile does not reword keeps the emulator's words.
    copy_of_copy = emulator.session.post(
        f"{emulator.admin_url}/notebooks/runtimes/{FOREIGN_IDS[0]}/unregister",
        data={"f": "json", "token": token},
    ).json()
    assert "system runtime provided by Esri" in copy_of_copy["messages"][0]


def test_browser_still_sent_to_sign_in_when_token_refusal_is_reworded():
    emulator = in_process(profile=str(FOREIGN))
    answer = emulator.session.get(f"{emulator.admin_url}/notebooks/runtimes", allow_redirects=False)
    assert answer.status_code == 302


def test_profile_silent_on_runtimes_keeps_the_default_runtimes(tmp_path):
    only_wording = {"refusals": FOREIGN_DATA["refusals"]}
    path = tmp_path / "wording.json"
    path.write_text(json.dumps(only_wording))
    emulator = in_process(profile=str(path))
    listed = runtimes_of(emulator)
    assert listed["runtimes"][0]["id"] == STANDARD_ID
    assert listed["currentRuntimeVersion"] == "14.0"
    assert emulator.control("GET", "health")["profile"]["sections"] == ["refusals"]


def test_reset_brings_back_the_profiled_runtimes():
    emulator = in_process(profile=str(FOREIGN))
    emulator.reset()
    assert [r["id"] for r in runtimes_of(emulator)["runtimes"]] == FOREIGN_IDS


@pytest.mark.arcgis_mock(profile=str(FOREIGN))
def test_pytest_marker_takes_a_profile(arcgis_mock):
    assert [r["id"] for r in runtimes_of(arcgis_mock)["runtimes"]] == FOREIGN_IDS
    assert arcgis_mock.control("GET", "health")["profile"]["name"] == "foreign-test-deployment"


def test_running_takes_a_profile():
    with running(profile=str(FOREIGN)) as emulator:
        assert [r["id"] for r in runtimes_of(emulator)["runtimes"]] == FOREIGN_IDS


def test_sandbox_takes_a_profile_and_the_main_deployment_keeps_its_own():
    with running() as server, running(url=server.origin, profile=str(FOREIGN)) as sandbox:
        assert [r["id"] for r in runtimes_of(sandbox)["runtimes"]] == FOREIGN_IDS
        assert runtimes_of(server)["runtimes"][0]["id"] == STANDARD_ID
        described = server.control("GET", f"sandboxes/{sandbox.sandbox_id}")
        assert described["profile"] == "own"


def test_sandbox_refuses_a_bad_profile_saying_where():
    with running() as server:
        answer = server.session.post(
            f"{server.control_url}/sandboxes",
            json={"profile": {"release": {"currentVersion": "twelve"}}},
        )
        assert answer.status_code == 400
        assert "release.currentVersion" in answer.json()["messages"][0]


def _broken(change) -> dict:
    data = copy.deepcopy(FOREIGN_DATA)
    change(data)
    return data


#: Every way a profile can be wrong, each with the place the error must name.
BAD_PROFILES = {
    "not an object": ([], "top level"),
    "unknown key": ({"runtimess": {}}, "top level: unknown key(s) runtimess"),
    "newer format": ({"nbmockProfile": 2}, "nbmockProfile"),
    "other flavour": ({"flavour": "mainframe"}, "flavour"),
    "version a string": (
        _broken(lambda d: d["release"].update(currentVersion="12")),
        "release.currentVersion",
    ),
    "unknown operation": (
        _broken(lambda d: d["release"].update(operations=["frob"])),
        "release.operations",
    ),
    "no system runtime": (_broken(lambda d: d["runtimes"].update(system=[])), "runtimes.system"),
    "runtime key missing": (
        _broken(lambda d: d["runtimes"]["system"][0]["runtime"].pop("maxCpu")),
        "runtimes.system[0].runtime",
    ),
    "min above max": (
        _broken(lambda d: d["runtimes"]["system"][1]["runtime"].update(minCpu=99)),
        "runtimes.system[1].runtime",
    ),
    "a copy": (
        _broken(lambda d: d["runtimes"]["system"][2]["runtime"].update(copied=True)),
        "runtimes.system[2].runtime.copied",
    ),
    "same id twice": (
        _broken(lambda d: d["runtimes"]["system"].append(d["runtimes"]["system"][0])),
        "runtimes.system[3].runtime.id",
    ),
    "manifest without versions": (
        _broken(
            lambda d: d["runtimes"]["system"][0].update(manifest={"libraries": [{"name": "x"}]})
        ),
        "runtimes.system[0].manifest",
    ),
    "portal self not an object": (_broken(lambda d: d["portal"].update(self=[])), "portal.self"),
    "unknown refusal": (
        _broken(lambda d: d["refusals"].update(frob={"messages": ["x"]})),
        "refusals.frob",
    ),
    "placeholder not offered": (
        _broken(lambda d: d["refusals"]["token_missing"].update(messages=["{id} needs a token"])),
        "refusals.token_missing.messages",
    ),
    "broken brace": (
        _broken(lambda d: d["refusals"]["unknown_runtime"].update(messages=["{id"])),
        "refusals.unknown_runtime.messages",
    ),
    "status not a number": (
        _broken(lambda d: d["refusals"]["unknown_runtime"].update(status="200")),
        "refusals.unknown_runtime.status",
    ),
    "captured not a record": (_broken(lambda d: d.update(captured=[1])), "captured"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROFILES))
def test_bad_profile_is_refused_naming_the_place(case, tmp_path):
    data, place = BAD_PROFILES[case]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as refused:
        Profile.read(path)
    assert str(refused.value).startswith(f"profile {path}: {place}")


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[" * 100_000])
def test_unreadable_profile_is_refused(content, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ProfileError, match=f"profile {path}: "):
        Profile.read(path)


def test_every_refusal_template_reads_back_its_values():
    """The emulator's own messages are recognised, so a profile can reword each of them."""
    from mockserver.core.profile import _fields, _recognised

    for name, refusal in REFUSALS.items():
        fields = {field: f"<{field}-value>" for field in _fields(refusal.template)}
        message = refusal.template.format(**fields)
        assert _recognised(message, refusal.code) == (name, fields)


@pytest.mark.parametrize("case", ["not json", "runtime key missing", "unknown refusal"])
def test_nbmock_serve_refuses_a_bad_profile_without_a_traceback(case, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json" if case == "not json" else json.dumps(BAD_PROFILES[case][0]))
    with pytest.raises(RuntimeError) as failed:
        NbmockProcess("--profile", str(path))
    output = str(failed.value)
    assert f"nbmock serve: profile {path}: " in output
    assert "Traceback" not in output


def test_nbmock_serve_names_its_profile_in_health():
    server = NbmockProcess("--profile", str(FOREIGN))
    try:
        import requests

        health = requests.get(f"{server.origin}/__mock__/health", timeout=10).json()
        assert health["profile"]["name"] == "foreign-test-deployment"
        assert "Profile: foreign-test-deployment" in server.output
    finally:
        server.stop()


def test_kit_and_emulator_name_the_same_refusals():
    """The kit restates the emulator's refusal names (it never imports the emulator)."""
    from contracts.capture import READ_ONLY_REFUSALS, WRITE_REFUSALS

    assert set(READ_ONLY_REFUSALS) == {n for n, r in REFUSALS.items() if not r.needs_writes}
    assert set(WRITE_REFUSALS) == {n for n, r in REFUSALS.items() if r.needs_writes}


FOREIGN_NOTEBOOK_SERVER = Path(__file__).parent / "data" / "foreign-notebook-server.json"


@pytest.mark.parametrize("profile", [FOREIGN, FOREIGN_NOTEBOOK_SERVER], ids=lambda p: p.stem)
def test_a_profiled_deployments_own_state_imports_back(profile):
    """State import refuses what no API call reaches (S8a) by the system runtimes this
    deployment ships: a profile's, with their own ids and versions, and a copy of one."""
    emulator = in_process(profile=str(profile))
    if json.loads(profile.read_text())["flavour"] == "kubernetes":
        copied = emulator.session.post(
            f"{emulator.admin_url}/notebooks/runtimes/{FOREIGN_IDS[0]}/copy",
            data={"name": "kept", "f": "json", "token": emulator.token(), **SIMPLE_COPY},
            timeout=30,
        ).json()
        assert copied["notebookRuntime"]["version"] == "13.1", copied
    state = emulator.control("GET", "state")
    emulator.reset()
    emulator.control("POST", "state", state)
    assert emulator.control("GET", "state")["runtimes"] == state["runtimes"]
