"""The standalone ArcGIS Notebook Server's runtimes (ledger N1-N22): register, restore and the rest.

Run only against a target the kit judged to be a standalone Notebook Server (its
admin root names ``version``, or its Portal lists a federated
``ARCGIS_NOTEBOOK_SERVER``); against Kubernetes they are reported as not run, as the
Kubernetes checks are against this flavour. Checks that would touch Esri's runtimes
or other people's (restore, unregistering Esri's) run only against an emulator,
inside ``restored_afterwards``.
"""

from __future__ import annotations

import uuid

import pytest

from contracts import calls
from contracts.reply import Reply
from contracts.target import KIT_REFERER, KUBERNETES_DEPLOYMENT_TYPE, NOTEBOOK_SERVER, Target

pytestmark = pytest.mark.flavour(NOTEBOOK_SERVER)

#: [doc: notebook-runtimes] the keys of each listed runtime, and none other.
LISTED_KEYS = frozenset(
    {
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
    }
)
#: [doc: notebook-runtime] what ``runtimes/<id>`` adds to the listing's keys.
DETAIL_KEYS = LISTED_KEYS | {"deprecated", "useGPU", "manifestFile"}
#: Keys of a Kubernetes runtime that a standalone runtime does not have [doc].
KUBERNETES_ONLY_KEYS = frozenset(
    {
        "minCpu",
        "minMemory",
        "deploymentDefaultPropertyId",
        "podPlacementPolicy",
        "customResources",
        "copied",
        "revision",
    }
)

#: Esri's runtime version per Notebook Server release [doc: the runtime-version table],
#: 11.2, 11.4 and 11.5 as the ledger infers them (N3).
RUNTIME_VERSIONS = {
    "10.7": "1.0",
    "10.7.1": "2.0",
    "10.8": "3.0",
    "10.8.1": "4.0",
    "10.9": "5.0",
    "10.9.1": "6.0",
    "11.0": "7.0",
    "11.1": "8.0",
    "11.2": "9.0",
    "11.3": "10.0",
    "11.4": "11.0",
    "11.5": "12.0",
}
#: Esri's retirement date per runtime version, epoch ms at 00:00 UTC (N20).
RETIREMENT_MS = {
    "2.0": 1748736000000,
    "4.0": 1785542400000,
    "5.0": 1717200000000,
    "6.0": 1827619200000,
    "7.0": 1754006400000,
    "8.0": 1872288000000,
    "9.0": 1793491200000,
    "10.0": 1906502400000,
}

#: A full Docker image id, as register asks for [doc: register-runtime].
IMAGE_ID = "sha256:" + "c4" * 32


def _register_form(target: Target, suffix: str, **changes: str) -> dict[str, str]:
    """The register form of the official client's ``RuntimeConfiguration`` [client]."""
    form = {
        "name": target.name(suffix),
        "version": _current_version(target),
        "imageId": IMAGE_ID,
        "containerType": "docker",
        "requiresAdvancedPrivileges": "false",
        "maxCPU": "2.0",
        "maxMemory": "4.0",
        "maxMemoryUnit": "g",
    }
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


def _current_version(target: Target) -> str:
    return str(target.admin("GET", calls.RUNTIMES).json["currentRuntimeVersion"])


def register(target: Target, form: dict[str, str], *, refusal_expected: bool = False) -> Reply:
    return target.admin(
        "POST",
        f"{calls.RUNTIMES}/register",
        data=form,
        multipart=True,
        refusal_expected=refusal_expected,
    )


def registered_runtime(reply: Reply) -> dict:
    body = reply.json
    assert isinstance(body, dict) and isinstance(body.get("notebookRuntime"), dict), (
        f"register was not accepted: {reply!r}"
    )
    return body["notebookRuntime"]


@pytest.fixture
def own_runtime(writable: Target):
    """A runtime registered for one check, unregistered after it."""
    runtime = registered_runtime(register(writable, _register_form(writable, "registered")))
    yield runtime
    if runtime["id"] in writable.created:
        calls.unregister(writable, runtime["id"])


# --- reads -------------------------------------------------------------------------


def test_notebook_server_root_names_version_and_resources(target: Target) -> None:
    """N1: the admin root answers ``version`` (a release such as ``11.5``) and ``resources``."""
    reply = target.admin("GET", "")
    body = reply.json
    assert isinstance(body, dict) and isinstance(body.get("version"), str), reply
    assert all(part.isdigit() for part in body["version"].split(".")), reply
    assert isinstance(body.get("resources"), list), reply


def test_runtimes_have_the_standalone_keys(target: Target) -> None:
    """N4: each listed runtime has exactly the documented keys, none of a Kubernetes runtime's."""
    body = target.admin("GET", calls.RUNTIMES).json
    assert isinstance(body.get("currentRuntimeVersion"), str), body
    assert body["runtimes"], body
    for runtime in body["runtimes"]:
        assert set(runtime) == LISTED_KEYS, sorted(set(runtime) ^ LISTED_KEYS)
        assert runtime["containerType"] == "docker", runtime


def test_runtime_adds_deprecated_use_gpu_and_manifest_file(target: Target) -> None:
    """N5: ``runtimes/<id>`` answers the listing's keys and ``deprecated``, ``useGPU``,
    ``manifestFile``, with the listing's values."""
    listed = target.admin("GET", calls.RUNTIMES).json["runtimes"][0]
    detail = calls.read(target, listed["id"]).json
    assert set(detail) == DETAIL_KEYS, sorted(set(detail) ^ DETAIL_KEYS)
    assert {key: detail[key] for key in LISTED_KEYS} == listed
    assert isinstance(detail["deprecated"], bool) and isinstance(detail["useGPU"], bool), detail
    assert not set(detail) & KUBERNETES_ONLY_KEYS


def test_esri_runtimes_are_listed_as_esri_provided(target: Target) -> None:
    """N6: a site lists Esri's runtimes, ``esriProvidedRuntime`` true, at the site's version."""
    body = target.admin("GET", calls.RUNTIMES).json
    esri = [runtime for runtime in body["runtimes"] if runtime["esriProvidedRuntime"]]
    assert esri, body
    assert any(runtime["version"] == body["currentRuntimeVersion"] for runtime in esri), body


def test_current_runtime_version_matches_the_release(target: Target) -> None:
    """N3: ``currentRuntimeVersion`` is Esri's runtime version of the release the root names."""
    release = target.admin("GET", "").json["version"]
    if release not in RUNTIME_VERSIONS:
        pytest.skip(f"release {release} is not in the ledger's table")
    body = target.admin("GET", calls.RUNTIMES).json
    assert body["currentRuntimeVersion"] == RUNTIME_VERSIONS[release], body


def test_deprecation_date_is_esris_retirement_date(target: Target) -> None:
    """N20: each runtime's ``deprecationDate`` is Esri's retirement date for its version at
    00:00 UTC in epoch ms, null for a version without one."""
    for runtime in target.runtimes():
        assert runtime["deprecationDate"] == RETIREMENT_MS.get(runtime["version"]), runtime


def test_copy_is_not_an_operation_of_a_notebook_server(target: Target) -> None:
    """N19: Kubernetes' ``copy`` answers code 404 "Could not find resource or operation"."""
    esri = target.system_runtimes()[0]
    reply = target.admin(
        "POST",
        f"{calls.RUNTIMES}/{esri['id']}/copy",
        data={**calls.SIMPLE_COPY, "name": target.name("copy")},
        refusal_expected=True,
    )
    calls.assert_refused(reply, 404)
    assert reply.messages == ["Could not find resource or operation 'copy' on the system."]


def test_manifest_lists_conda_libraries(target: Target) -> None:
    """N12: an Esri runtime's ``manifest`` lists libraries in conda's rows."""
    runtime = target.system_runtimes()[0]
    body = target.admin("GET", f"{calls.RUNTIMES}/{runtime['id']}/manifest").json
    assert isinstance(body.get("libraries"), list) and body["libraries"], body
    for library in body["libraries"][:20]:
        assert {"name", "version", "build_string", "channel"} <= set(library), library


def test_validate_runtimes_reports_every_runtime(target: Target) -> None:
    """N14: ``validateRuntimes`` answers per machine whether each runtime's image is there."""
    reply = target.admin("POST", f"{calls.RUNTIMES}/validateRuntimes")
    body = reply.json
    assert isinstance(body, dict) and isinstance(body.get("machines"), list), reply
    names = {runtime["name"] for runtime in target.runtimes()}
    for machine in body["machines"]:
        reported = {entry["notebookRuntimeName"] for entry in machine["notebookRuntimes"]}
        assert reported == names, (reported, names)


# --- register, update, unregister ---------------------------------------------------


def test_register_answers_the_new_runtime_and_unregister_removes_it(writable: Target) -> None:
    """N7, N10: register answers ``notebookRuntime``, readable back as answered; unregister
    answers ``{"status": "success"}`` and the runtime then answers code 404."""
    form = _register_form(writable, "lifecycle", imagePullString="registry.example/nb:1")
    runtime = registered_runtime(register(writable, form))
    assert runtime["name"] == form["name"] and runtime["imageId"] == IMAGE_ID, runtime
    assert runtime["esriProvidedRuntime"] is False, runtime
    assert (runtime["maxCpu"], runtime["maxMemory"], runtime["maxMemoryUnit"]) == (2, 4, "g")
    read = calls.read(writable, runtime["id"]).json
    assert {key: read[key] for key in LISTED_KEYS} == runtime
    assert runtime["id"] in {listed["id"] for listed in writable.runtimes()}
    assert calls.unregister(writable, runtime["id"]).json == {"status": "success"}
    calls.assert_refused(calls.read(writable, runtime["id"]), 404)


def test_register_omitted_swap_is_double_max_memory(writable: Target) -> None:
    """N8: register without ``maxSwapMemory`` gives double ``maxMemory``, in its unit."""
    form = _register_form(writable, "swap", maxMemory="3", maxMemoryUnit="g")
    runtime = registered_runtime(register(writable, form))
    assert (runtime["maxSwapMemory"], runtime["maxSwapMemoryUnit"]) == (6, "g"), runtime


@pytest.mark.parametrize("spelling", ["maxCPU", "maxCpu"])
def test_register_reads_max_cpu_in_both_spellings(writable: Target, spelling: str) -> None:
    """N9: register reads ``maxCPU`` (its table, the client) and ``maxCpu`` (its example)."""
    form = _register_form(writable, f"cpu-{spelling}", maxCPU=None)
    form[spelling] = "3"
    runtime = registered_runtime(register(writable, form))
    assert runtime["maxCpu"] == 3, runtime


def test_refused_register_names_each_problem_and_adds_nothing(target: Target) -> None:
    """N15: a register with a truncated image id and an unknown unit is refused with code 400,
    naming both, and lists nothing new."""
    before = target.runtimes()
    form = _register_form(target, "refused", imageId="c4c4c4c4c4c4", maxMemoryUnit="t")
    reply = register(target, form, refusal_expected=True)
    calls.assert_refused(reply, 400)
    text = " ".join(reply.messages)
    assert "imageId" in text and "maxMemoryUnit" in text, reply
    assert target.runtimes() == before


def test_update_applies_every_setting(writable: Target, own_runtime: dict) -> None:
    """N11: update, sent as the client sends it (every value, ``maxCpu``), applies each."""
    form = {
        "name": own_runtime["name"],
        "version": own_runtime["version"],
        "imageId": IMAGE_ID,
        "containerType": "docker",
        "requiresAdvancedPrivileges": "true",
        "maxCpu": "3.0",
        "maxMemory": "5.0",
        "maxMemoryUnit": "g",
        "maxSwapMemory": "7.0",
        "maxSwapMemoryUnit": "g",
        "sharedMemory": "128.0",
        "sharedMemoryUnit": "m",
    }
    reply = calls.update(writable, own_runtime["id"], form, encoding="multipart")
    assert reply.json == {"status": "success"}, reply
    read = calls.read(writable, own_runtime["id"]).json
    assert read["requiresAdvancedPrivileges"] is True, read
    assert (read["maxCpu"], read["maxMemory"], read["maxSwapMemory"]) == (3, 5, 7), read
    assert (read["sharedMemorySize"], read["sharedMemorySizeUnit"]) == (128, "m"), read


def test_unregister_by_get_is_refused(writable: Target, own_runtime: dict) -> None:
    """N10: ``unregister`` by GET (``f=json``) is refused with code 405 and removes nothing,
    as the client POSTs it; the newest page says GET."""
    reply = writable.admin("GET", f"{calls.RUNTIMES}/{own_runtime['id']}/unregister")
    calls.assert_refused(reply, 405)
    assert calls.read(writable, own_runtime["id"]).envelope == "resource"


def test_unregister_of_an_unknown_runtime_is_404(target: Target) -> None:
    """N10: unregistering an id that names no runtime is refused with code 404."""
    made_up = target.made_up_id()
    reply = target.admin("POST", f"{calls.RUNTIMES}/{made_up}/unregister", refusal_expected=True)
    calls.assert_refused(reply, 404)


@pytest.mark.emulator_only
def test_esri_runtime_unregister_refused(target: Target) -> None:
    """N16: Esri's runtimes cannot be unregistered (code 400); restore is their way back."""
    esri = target.system_runtimes()[0]
    with target.restored_afterwards() as owned:
        reply = owned.admin(
            "POST", f"{calls.RUNTIMES}/{esri['id']}/unregister", refusal_expected=True
        )
        listed = {runtime["id"] for runtime in owned.runtimes()}
    calls.assert_refused(reply, 400)
    assert esri["id"] in listed


@pytest.mark.emulator_only
def test_restore_removes_registered_runtimes(target: Target) -> None:
    """N13: restore answers success, removes every registered runtime and keeps Esri's."""
    esri = {runtime["id"] for runtime in target.system_runtimes()}
    with target.restored_afterwards() as owned:
        registered_runtime(register(owned, _register_form(owned, "restored-away")))
        reply = owned.admin("POST", f"{calls.RUNTIMES}/restore")
        after = owned.runtimes()
    assert reply.json == {"status": "success"}, reply
    assert {runtime["id"] for runtime in after} == esri
    assert all(runtime["esriProvidedRuntime"] for runtime in after)


# --- tokens and the Portal ----------------------------------------------------------


def test_server_generate_token_works_on_its_admin_api(target: Target, credentials) -> None:
    """N17: the server's own ``admin/generateToken`` gives a token its admin API accepts."""
    reply = target.admin(
        "POST",
        "generateToken",
        data={
            "username": credentials.username,
            "password": credentials.password,
            "client": "requestip",
            "expiration": "5",
        },
        token=None,
    )
    body = reply.json
    assert isinstance(body, dict) and "token" in body and "expires" in body, reply
    listed = target.admin("GET", calls.RUNTIMES, token=body["token"])
    assert listed.envelope == "resource", listed


def test_portal_token_exchanges_for_a_server_token(target: Target) -> None:
    """N24: the Portal's generateToken exchanges the kit's Portal token (``serverURL``,
    ``token``, ``request=getToken``, as the client sends them) for a token its federated
    Notebook Server accepts."""
    servers = target.portal(
        "GET", "portals/self/servers", token=target.token, token_in="header"
    ).json["servers"]
    notebook = next(
        server for server in servers if server["serverType"] == "ARCGIS_NOTEBOOK_SERVER"
    )
    reply = target.portal(
        "POST",
        "generateToken",
        data={
            "serverURL": notebook["adminUrl"],
            "expiration": "5",
            "request": "getToken",
            "referer": KIT_REFERER,
        },
        token=target.token,
        token_in="body",
    )
    body = reply.json
    assert isinstance(body, dict) and body.get("token"), reply
    listed = target.admin("GET", calls.RUNTIMES, token=body["token"])
    assert listed.envelope == "resource", listed


@pytest.mark.parametrize(("credential", "code"), [("missing", 499), ("invalid", 498)])
@pytest.mark.parametrize(
    "operation", ["root", "list", "read", "manifest", "register", "update", "unregister"]
)
def test_every_standalone_operation_refuses_a_missing_or_invalid_token(
    target: Target, operation: str, credential: str, code: int
) -> None:
    """N18: without a token code 499, with a forged one 498, on every runtime operation."""
    token = None if credential == "missing" else "forged-" + uuid.uuid4().hex
    made_up = target.made_up_id()
    paths = {
        "root": ("GET", ""),
        "list": ("GET", calls.RUNTIMES),
        "read": ("GET", f"{calls.RUNTIMES}/{made_up}"),
        "manifest": ("GET", f"{calls.RUNTIMES}/{made_up}/manifest"),
        "register": ("POST", f"{calls.RUNTIMES}/register"),
        "update": ("POST", f"{calls.RUNTIMES}/{made_up}/update"),
        "unregister": ("POST", f"{calls.RUNTIMES}/{made_up}/unregister"),
    }
    method, path = paths[operation]
    data = _register_form(target, "token") if operation == "register" else None
    reply = target.admin(method, path, data=data, token=token, refusal_expected=True)
    calls.assert_refused(reply, code)


def test_unprivileged_token_cannot_register(target: Target, limited_token: str) -> None:
    """N18: a user without the administrator privilege is refused register with code 403."""
    reply = target.admin(
        "POST",
        f"{calls.RUNTIMES}/register",
        data=_register_form(target, "unprivileged"),
        token=limited_token,
        refusal_expected=True,
    )
    calls.assert_refused(reply, 403)


def test_portal_lists_a_federated_notebook_server(target: Target) -> None:
    """N19: ``portals/self`` is not a Kubernetes deployment, and its ``servers`` list an
    ``ARCGIS_NOTEBOOK_SERVER`` with an ``adminUrl`` (the client builds ``<adminUrl>/admin``)."""
    portal = target.portal("GET", "portals/self", token=target.token, token_in="header").json
    assert portal["portalDeploymentType"] != KUBERNETES_DEPLOYMENT_TYPE, portal
    servers = target.portal(
        "GET", "portals/self/servers", token=target.token, token_in="header"
    ).json["servers"]
    notebook = [server for server in servers if server["serverType"] == "ARCGIS_NOTEBOOK_SERVER"]
    assert notebook, servers
    assert notebook[0]["serverFunction"] == "NotebookServer", notebook
    assert notebook[0]["adminUrl"].startswith(("https://", "http://")), notebook
