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


# --- What mutmut's surviving mutants of core/profile.py showed no test noticed (issue 25) ---
#
# Each test asserts what a user of a profile sees: the whole refusal a bad profile gets, what
# /__mock__/health says of the profile, which release a profile lands on, and how a profiled
# deployment words an answer.


def health_of(emulator) -> dict:
    return emulator.control("GET", "health")


def test_health_describes_the_profile_by_name_flavour_sections_refusals_and_capture():
    described = health_of(in_process(profile=str(FOREIGN)))["profile"]
    assert described == {
        "name": "foreign-test-deployment",
        "flavour": "kubernetes",
        "sections": ["release", "runtimes", "portal", "refusals"],
        "refusals": sorted(FOREIGN_DATA["refusals"]),
        "captured": FOREIGN_DATA["captured"],
    }


def test_a_profile_without_a_name_is_named_after_its_file(tmp_path):
    path = tmp_path / "contoso-prod.json"
    path.write_text(json.dumps({"refusals": FOREIGN_DATA["refusals"]}))
    assert health_of(in_process(profile=str(path)))["profile"]["name"] == "contoso-prod"


def test_a_missing_profile_is_refused_saying_it_cannot_be_read(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(ProfileError) as refused:
        Profile.read(path)
    assert str(refused.value) == f"profile {path}: cannot be read (No such file or directory)"


def test_a_profile_of_exactly_the_size_limit_is_read_and_a_byte_more_is_refused(tmp_path):
    from mockserver.core.profile import MAX_BYTES

    path = tmp_path / "padded.json"
    # JSON allows any amount of whitespace: the same small profile, padded to the limit.
    path.write_bytes(b'{"name": "padded"}'.ljust(MAX_BYTES))
    assert Profile.read(path).name == "padded"
    path.write_bytes(b'{"name": "padded"}'.ljust(MAX_BYTES + 1))
    with pytest.raises(ProfileError) as refused:
        Profile.read(path)
    assert str(refused.value) == f"profile {path}: larger than 8388608 bytes"


FOREIGN_SERVER_DATA = json.loads(FOREIGN_NOTEBOOK_SERVER.read_text())


def _broken_server(change) -> dict:
    data = copy.deepcopy(FOREIGN_SERVER_DATA)
    change(data)
    return data


def _duplicate_without_manifests(data: dict) -> None:
    system = data["runtimes"]["system"]
    for entry in system:
        entry.pop("manifest")
    system.append(copy.deepcopy(system[0]))


def _release(**facts) -> dict:
    return {"release": facts}


def _refusal(name: str, **wording) -> dict:
    return {"refusals": {name: {"messages": ["x"], **wording}}}


KNOWN_REFUSALS = ", ".join(REFUSALS)
CAPTURED_SHAPE = 'must be {"from": URL, "at": time, "kit": version}'

#: A bad profile and the whole refusal it gets, after "profile <source>: ".
REFUSED_WORD_FOR_WORD = {
    "not an object": ([], "top level: must be a JSON object"),
    "unknown keys, sorted and cut": (
        {"zeta": 1, "x" * 50: 2},
        f"top level: unknown key(s) {'x' * 40}, zeta",
    ),
    "newer format": ({"nbmockProfile": 2}, "nbmockProfile: this emulator reads format 1"),
    "name blank": ({"name": "  "}, "name: must be a non-empty line of text"),
    "name a number": ({"name": 5}, "name: must be a non-empty line of text"),
    "other flavour": (
        {"flavour": "mainframe"},
        "flavour: must be one of kubernetes, notebook-server",
    ),
    "captured not a record": ({"captured": [1]}, f"captured: {CAPTURED_SHAPE}"),
    "a section not an object": ({"release": []}, "release: must be a JSON object"),
    "a section's unknown keys": (
        _release(zeta=1, alpha=2),
        "release: unknown key(s) alpha, zeta",
    ),
    "a section's unknown key, cut": (
        _release(**{"y" * 50: 1}),
        f"release: unknown key(s) {'y' * 40}",
    ),
    "a section's capture not a record": (
        _release(captured={"at": [1]}),
        f"release.captured: {CAPTURED_SHAPE}",
    ),
    "full version blank": (
        _release(fullVersion=" "),
        "release.fullVersion: must be a non-empty line of text",
    ),
    "enterprise version a number": (
        _release(enterpriseVersion=12),
        "release.enterpriseVersion: must be a non-empty line of text",
    ),
    "portal version a list": (
        _release(portalVersion=[]),
        "release.portalVersion: must be a string or a number",
    ),
    "portal version true": (
        _release(portalVersion=True),
        "release.portalVersion: must be a string or a number",
    ),
    "version zero": (
        _release(currentVersion=0),
        "release.currentVersion: must be a positive number, as the admin root writes it",
    ),
    "operations a string": (
        _release(operations="copy"),
        "release.operations: must be a list of operation names",
    ),
    "operations numbers": (
        _release(operations=[1]),
        "release.operations: must be a list of operation names",
    ),
    "six unknown operations": (
        _release(operations=["copy", "f", "e", "d", "c", "b", "a"]),
        "release.operations: unknown operation(s) a, b, c, d, e",
    ),
    "no system runtime": (
        _broken(lambda d: d["runtimes"].update(system=[])),
        "runtimes.system: must list at least one system runtime",
    ),
    "a system entry not an object": (
        {"runtimes": {"system": [1]}},
        "runtimes.system[0]: must be a JSON object",
    ),
    "a runtime not an object": (
        {"runtimes": {"system": [{"runtime": []}]}},
        "runtimes.system[0].runtime: must be the runtime's JSON object",
    ),
    "runtime keys missing": (
        _broken(lambda d: d["runtimes"]["system"][0]["runtime"].pop("maxCpu")),
        "runtimes.system[0].runtime: missing maxCpu",
    ),
    "two problems with a runtime, each said": (
        _broken(lambda d: d["runtimes"]["system"][0]["runtime"].update(minCpu=-1, maxCpu=-1)),
        "runtimes.system[0].runtime: Invalid value for 'minCpu': it must be greater than 0."
        " Invalid value for 'maxCpu': it must be greater than 0.",
    ),
    "same id twice, neither with a manifest": (
        _broken(_duplicate_without_manifests),
        f"runtimes.system[3].runtime.id: {FOREIGN_IDS[0]!r} appears twice",
    ),
    "a manifest not a manifest": (
        _broken(lambda d: d["runtimes"]["system"][0].update(manifest=[])),
        "runtimes.system[0].manifest: Invalid value for the manifest: expected a manifest"
        " {\"libraries\": [...]} or the output of 'conda list --json', with at least one library.",
    ),
    "portal info a list": (
        {"portal": {"info": [1]}},
        "portal.info: must be the info JSON object",
    ),
    "portal info empty": ({"portal": {"info": {}}}, "portal.info: must be the info JSON object"),
    "portal self a list": (
        {"portal": {"self": [1]}},
        "portal.self: must be the portals/self JSON object",
    ),
    "portal servers not objects": (
        {"portal": {"servers": [1]}},
        "portal.servers: must be the servers listing's list of objects",
    ),
    "portal servers an object": (
        {"portal": {"servers": {"id": 1}}},
        "portal.servers: must be the servers listing's list of objects",
    ),
    "refusals a list": ({"refusals": []}, "refusals: must be a JSON object of refusals by name"),
    "unknown refusal, its name cut": (
        {"refusals": {"x" * 50: {"messages": ["x"]}}},
        f"refusals.{'x' * 40}: unknown refusal; known: {KNOWN_REFUSALS}",
    ),
    "messages a string": (
        _refusal("token_missing", messages="x"),
        "refusals.token_missing.messages: must be a non-empty list of one-line messages",
    ),
    "messages numbers": (
        _refusal("token_missing", messages=[5]),
        "refusals.token_missing.messages: must be a non-empty list of one-line messages",
    ),
    "a message of two lines": (
        _refusal("token_missing", messages=["a\nb"]),
        "refusals.token_missing.messages: must be a non-empty list of one-line messages",
    ),
    "a long message's broken brace": (
        _refusal("unknown_runtime", messages=["{id" + "x" * 70]),
        f"refusals.unknown_runtime.messages: {'{id' + 'x' * 57!r}: expected '}}' before end of"
        " string",
    ),
    "a placeholder where none is offered": (
        _refusal("token_missing", messages=["{id} needs a token"]),
        "refusals.token_missing.messages: '{id} needs a token': placeholders allowed here: none",
    ),
    "a long message's placeholder not offered": (
        _refusal("token_missing", messages=["{id}" + "x" * 70]),
        f"refusals.token_missing.messages: {'{id}' + 'x' * 56!r}: placeholders allowed here: none",
    ),
    "a placeholder not offered": (
        _refusal("bad_unit", messages=["{id}"]),
        "refusals.bad_unit.messages: '{id}': placeholders allowed here: {name}, {units}, {value}",
    ),
    "code zero": (
        _refusal("token_missing", code=0),
        "refusals.token_missing.code: must be an HTTP-like number (100 to 999)",
    ),
    "status of four digits": (
        _refusal("token_missing", status=1000),
        "refusals.token_missing.status: must be an HTTP-like number (100 to 999)",
    ),
    "code true": (
        _refusal("token_missing", code=True),
        "refusals.token_missing.code: must be an HTTP-like number (100 to 999)",
    ),
    "content type without a subtype": (
        _refusal("token_missing", contentType="text"),
        "refusals.token_missing.contentType: must be a Content-Type such as"
        " text/plain;charset=UTF-8",
    ),
    "a copy as a system runtime": (
        _broken(lambda d: d["runtimes"]["system"][2]["runtime"].update(copied=True)),
        "runtimes.system[2].runtime.copied: a system runtime is not a copy",
    ),
    "a Notebook Server runtime not Esri's": (
        _broken_server(
            lambda d: d["runtimes"]["system"][0]["runtime"].update(esriProvidedRuntime=False)
        ),
        "runtimes.system[0].runtime.esriProvidedRuntime: a system runtime is Esri's",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_WORD_FOR_WORD))
def test_a_bad_profile_is_refused_word_for_word(case):
    data, refusal = REFUSED_WORD_FOR_WORD[case]
    with pytest.raises(ProfileError) as refused:
        Profile.from_mapping(data, source="contoso.json")
    assert str(refused.value) == f"profile contoso.json: {refusal}"


def _runtime_refusal_wording_only(wording: dict) -> Profile:
    return Profile.from_mapping({"refusals": {"unknown_runtime": wording}})


def test_a_reworded_refusal_without_its_own_code_keeps_the_emulators_code():
    emulator = in_process(profile=_runtime_refusal_wording_only({"messages": ["Gone: {id}"]}))
    missing = admin_json(emulator, "notebooks/runtimes/no-such-runtime", emulator.token())
    assert missing == {"status": "error", "messages": ["Gone: no-such-runtime"], "code": 404}


def test_a_runtime_id_with_a_line_break_is_reworded_like_any_other():
    emulator = in_process(profile=_runtime_refusal_wording_only({"messages": ["Gone: {id}"]}))
    missing = admin_json(emulator, "notebooks/runtimes/a%0Ab", emulator.token())
    assert missing["messages"] == ["Gone: a\nb"]


def test_an_answer_of_several_problems_rewords_those_the_profile_knows_and_keeps_the_rest():
    """The foreign profile rewords not_positive and bad_unit but not not_a_number: a copy
    with all three gets each problem, in order, the other two in the profile's words."""
    from mockserver.core import messages

    emulator = in_process(profile=str(FOREIGN))
    answer = emulator.session.post(
        f"{emulator.admin_url}/notebooks/runtimes/{FOREIGN_IDS[0]}/copy",
        data={
            "name": "kept",
            "f": "json",
            "token": emulator.token(),
            **SIMPLE_COPY,
            "minCpu": "0",
            "maxCpu": "abc",
            "maxMemoryUnit": "zz",
        },
        timeout=30,
    ).json()
    assert answer == {
        "status": "error",
        "messages": [
            "'minCpu' must be positive.",
            messages.NOT_A_NUMBER.format(name="maxCpu", value="abc"),
            "'zz' is not a valid unit for 'maxMemoryUnit'.",
        ],
        "code": 400,
    }


def test_each_refusals_own_message_reads_back_its_values_whatever_they_hold():
    """How a profile recognises the emulator's message to reword it. The matchers are made
    when the module is imported; this makes them again, as a test can see them change: a
    value may hold a line break or a regex's own characters, and a message that merely
    begins like the refusal's is not it."""
    from mockserver.core.profile import _fields, _matcher

    for refusal in REFUSALS.values():
        fields = {field: f"x.*\n(y)|{field}" for field in _fields(refusal.template)}
        message = refusal.template.format(**fields)
        matcher = _matcher(refusal.template)
        assert matcher.match(message).groupdict() == fields
    said = _matcher(REFUSALS["token_expired"].template)
    assert said.match(REFUSALS["token_expired"].template + " Sign in again.") is None


def _landed_on(version, **options) -> str:
    """The release a profile saying only its admin root's ``currentVersion`` is served as."""
    profile = Profile.from_mapping({"release": {"currentVersion": version}})
    return health_of(in_process(profile=profile, **options))["release"]


@pytest.mark.parametrize(
    ("version", "release"), [(11.75, "11.5"), (12.05, "12.0"), (12.1, "12.1"), (11.5, "11.5")]
)
def test_a_profile_lands_on_the_newest_release_at_or_below_its_version(version, release):
    assert _landed_on(version) == release


def test_a_profile_made_in_python_is_refused_and_named_as_profile_by_default():
    with pytest.raises(ProfileError) as refused:
        Profile.from_mapping([])
    assert str(refused.value) == "profile profile: top level: must be a JSON object"
    described = health_of(in_process(profile=Profile.from_mapping({"refusals": {}})))
    assert described["profile"]["name"] == "profile"


def test_a_profiles_name_is_served_without_its_spaces_and_cut_to_120_characters():
    profile = Profile.from_mapping({"name": "  " + "n" * 130 + " "})
    assert health_of(in_process(profile=profile))["profile"]["name"] == "n" * 120


def test_a_profile_serves_its_captured_release_facts_over_the_release_it_lands_on():
    emulator = in_process(
        profile=Profile.from_mapping(
            _release(currentVersion=11.75, enterpriseVersion="11.9.9", fullVersion="11.7.5")
        )
    )
    token = emulator.token()
    root = admin_json(emulator, "", token)
    assert root == {"fullVersion": "11.7.5", "resources": ["notebooks"], "currentVersion": 11.75}
    sharing = emulator.session.get(emulator.portal_url, params={"f": "json"}).json()
    assert sharing["enterpriseVersion"] == "11.9.9"
    assert health_of(emulator)["release"] == "11.5"


def test_a_profile_with_release_facts_but_no_version_stays_on_the_default_release():
    emulator = in_process(profile=Profile.from_mapping(_release(fullVersion="12.1.7")))
    assert health_of(emulator)["release"] == "12.1"
    assert admin_json(emulator, "", emulator.token())["fullVersion"] == "12.1.7"


def test_a_version_below_one_is_still_a_positive_version():
    emulator = in_process(profile=Profile.from_mapping(_release(currentVersion=0.5)))
    assert admin_json(emulator, "", emulator.token())["currentVersion"] == 0.5


def test_a_profiles_operations_decide_which_operations_are_served():
    """11.5 copies runtimes; a deployment captured without copy does not."""
    operations = ["manifest", "runtime", "runtimes", "update"]
    profile = Profile.from_mapping(_release(currentVersion=11.5, operations=operations))
    emulator = in_process(profile=profile)
    copied = emulator.session.post(
        f"{emulator.admin_url}/notebooks/runtimes/{STANDARD_ID}/copy",
        data={"name": "kept", "f": "json", "token": emulator.token(), **SIMPLE_COPY},
        timeout=30,
    ).json()
    assert copied["code"] == 404
    assert copied["messages"] == ["Could not find resource or operation 'copy' on the system."]


def test_a_reworded_refusal_is_sent_with_the_profiles_http_status():
    profile = _runtime_refusal_wording_only({"messages": ["Gone."], "status": 404})
    emulator = in_process(profile=profile)
    answer = emulator.session.get(
        f"{emulator.admin_url}/notebooks/runtimes/no-such-runtime",
        params={"f": "json", "token": emulator.token()},
        timeout=30,
    )
    assert (answer.status_code, answer.json()["messages"]) == (404, ["Gone."])


def test_a_profile_serves_its_portals_info_self_and_servers_placed_where_it_is_reached():
    data = copy.deepcopy(FOREIGN_SERVER_DATA)
    data["portal"]["self"]["user"] = {"username": "captured-admin"}
    data["portal"]["servers"][0]["id"] = "contosoNotebooks"
    data["portal"]["info"]["authInfo"]["shortLivedTokenValidity"] = 15
    emulator = in_process(profile=Profile.from_mapping(data))
    portal = emulator.portal_url
    info = emulator.session.get(f"{portal}/info", params={"f": "json"}).json()
    assert info == {
        "owningSystemUrl": emulator.url,
        "authInfo": {
            "isTokenBasedSecurity": True,
            "tokenServicesUrl": f"{portal}/generateToken",
            "shortLivedTokenValidity": 15,
        },
    }
    own = emulator.session.get(f"{portal}/portals/self", params={"f": "json"}).json()
    # Who is signed in is never the captured user: anonymous, there is none.
    assert own == {
        **{k: v for k, v in data["portal"]["self"].items() if k != "user"},
        "portalHostname": emulator.url.split("://")[1],
    }
    servers = emulator.session.get(
        f"{portal}/portals/self/servers", params={"f": "json", "token": emulator.token()}
    ).json()["servers"]
    assert [(s["id"], s["url"]) for s in servers] == [("contosoNotebooks", emulator.url)]


# --- The release a profile lands on, for every flavour's release names ---


@pytest.mark.parametrize(("version", "release"), [(10.0, "11.4"), (13.5, "12.1")])
def test_a_version_outside_the_known_releases_lands_on_the_nearest_end(version, release):
    """Below every release the oldest's rules apply, above every one the newest's."""
    assert _landed_on(version) == release


@pytest.mark.parametrize(("version", "release"), [(11.5, "11.5"), (12.5, "11.5"), (9.5, "10.7")])
def test_a_notebook_server_profile_lands_on_its_release_even_among_three_part_names(
    version, release
):
    """The Notebook Server has releases such as 10.7.1, which are no number: a profile whose
    version names no release exactly, or names the default one, is still served (it
    stopped the emulator with a ValueError)."""
    assert _landed_on_server(version) == release


def _landed_on_server(version) -> str:
    data = {"flavour": "notebook-server", "release": {"currentVersion": version}}
    return health_of(in_process(profile=Profile.from_mapping(data)))["release"]


@pytest.mark.parametrize(("key", "number"), [("status", 99), ("code", 1), ("status", 1000)])
def test_a_wordings_status_or_code_outside_100_to_999_is_refused_as_its_message_says(key, number):
    """Status 50 passed, and the emulator then wrote "HTTP/1.1 50 UNKNOWN", a status line
    an HTTP client gives up on (requests: BadStatusLine)."""
    with pytest.raises(ProfileError) as refused:
        Profile.from_mapping(_refusal("unknown_runtime", **{key: number}), source="p.json")
    assert str(refused.value) == (
        f"profile p.json: refusals.unknown_runtime.{key}: must be an HTTP-like number (100 to 999)"
    )


@pytest.mark.parametrize("number", [100, 999])
def test_a_wordings_status_and_code_may_be_100_or_999(number):
    wording = {"messages": ["Gone."], "status": number, "code": number}
    profile = _runtime_refusal_wording_only(wording)
    assert profile.describe()["refusals"] == ["unknown_runtime"]
