"""The Schemathesis run from the OpenAPI contract, sent through the kit's ``Target``.

Schemathesis generates the cases from the target's flavour's contract,
``openapi/notebook-runtimes.yaml`` (Kubernetes) or ``openapi/notebook-server.yaml``;
the kit sends them, so the same safety rules hold as for every other check:
reads go anywhere, a copy always copies the chosen system runtime under the
run's prefix, and update, unregister and upgrade only reach runtimes this run
created. Each answer must match the contract's schema, status codes and
content type, and never be a server error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import calls
from contracts.plugin import contract_settings
from contracts.reply import NotJson, parse_json
from contracts.target import Target

#: The contracts the package carries (in the repository, links to openapi/), by flavour;
#: the standalone one refers to the Kubernetes one for what both share.
CONTRACT = Path(__file__).resolve().parent / "notebook-runtimes.yaml"
SERVER_CONTRACT = Path(__file__).resolve().parent / "notebook-server.yaml"
READS = [
    ("GET", "/admin"),
    ("GET", "/admin/notebooks"),
    ("GET", "/admin/notebooks/runtimes"),
    ("GET", "/admin/notebooks/runtimes/{runtimeId}"),
    ("GET", "/admin/notebooks/runtimes/{runtimeId}/manifest"),
    ("GET", "/sharing/rest"),
    ("GET", "/sharing/rest/portals/self"),
    ("GET", "/sharing/rest/community/self"),
]
WRITES = [
    ("POST", "/admin/notebooks/runtimes/{runtimeId}/copy"),
    ("POST", "/admin/notebooks/runtimes/{runtimeId}/update"),
    ("POST", "/admin/notebooks/runtimes/{runtimeId}/unregister"),
]
SERVER_READS = [
    ("GET", "/admin"),
    ("GET", "/admin/notebooks/runtimes"),
    ("GET", "/admin/notebooks/runtimes/{runtimeId}"),
    ("GET", "/admin/notebooks/runtimes/{runtimeId}/manifest"),
    ("POST", "/admin/notebooks/runtimes/validateRuntimes"),
    ("GET", "/sharing/rest/portals/self"),
]
SERVER_WRITES = [
    ("POST", "/admin/notebooks/runtimes/register"),
    ("POST", "/admin/notebooks/runtimes/{runtimeId}/update"),
    ("POST", "/admin/notebooks/runtimes/{runtimeId}/unregister"),
]
#: A register form the standalone server accepts, for a runtime a write check acts on.
SERVER_RUNTIME = {
    "imageId": "sha256:" + "c4" * 32,
    "requiresAdvancedPrivileges": "false",
    "maxCPU": "1",
    "maxMemory": "2",
    "maxMemoryUnit": "g",
}


def _schema(contract: Path = CONTRACT):
    if not contract.exists():
        pytest.skip(f"no OpenAPI contract at {contract}")
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    # An explicit config: no schemathesis.toml (and its hooks) from the working directory.
    schema = schemathesis.openapi.from_path(contract, config=SchemathesisConfig())
    # ArcGIS labels its JSON text/plain (ledger W11); the contract says so and the body is JSON.
    schemathesis.deserializer("text/plain")(_arcgis_json)

    # The Target adds its own token to every request. A schema-level provider
    # also shadows any global one that hooks loaded earlier in this process
    # registered (openapi/schemathesis_hooks.py signs in at its own base URL).
    @schema.auth()
    class TargetSendsItsOwnToken:
        def get(self, case, context) -> str:
            return ""

        def set(self, case, data: str, context) -> None:
            return None

    return schema


def _arcgis_json(ctx, response):
    # The kit's one strict reading: deep, huge or surrogate-laden JSON fails with why.
    try:
        return parse_json(response.content.decode("utf-8"))
    except (UnicodeDecodeError, NotJson) as error:
        raise NotJson(f"the answer is not JSON: {error}") from None


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]


def _send(target: Target, case, *, refusal_expected: bool = False):
    query = {k: str(v) for k, v in (case.query or {}).items() if k != "token"}
    body = case.body if isinstance(case.body, dict) else {}
    form = {
        k: v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in body.items()
        if k != "token"
    }
    reply = target.request(
        case.method,
        case.formatted_path.lstrip("/"),
        params=query if case.method == "GET" else None,
        data=form or None,
        multipart=bool(case.media_type and "multipart" in case.media_type),
        token=target.token,
        token_in="header",
        refusal_expected=refusal_expected,
    )
    return reply


@pytest.mark.flavour("kubernetes")
@pytest.mark.parametrize(("method", "path"), READS, ids=[f"{m} {p}" for m, p in READS])
def test_contract_reads_match_the_schema(
    target: Target, source_runtime: dict, method: str, path: str
) -> None:
    """Every read answers as the contract's schema says, for generated parameters."""
    operation = _schema()[path][method]
    known_ids = st.sampled_from([source_runtime["id"], target.made_up_id()])

    @contract_settings(max_examples=8)
    @given(case=operation.as_strategy(), runtime_id=known_ids)
    def run(case, runtime_id: str) -> None:
        if "runtimeId" in (case.path_parameters or {}):
            case.path_parameters = {**case.path_parameters, "runtimeId": runtime_id}
        reply = _send(target, case)
        case.validate_response(reply.raw, checks=_checks())

    run()


@pytest.mark.flavour("kubernetes")
@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_contract_writes_match_the_schema(
    writable: Target, source_runtime: dict, method: str, path: str
) -> None:
    """Generated copy, update and unregister requests on the kit's own runtimes answer as the schema says."""
    operation = _schema()[path][method]

    @contract_settings(max_examples=8)
    @given(case=operation.as_strategy())
    def run(case) -> None:
        if path.endswith("/copy"):
            runtime_id = source_runtime["id"]
            if (
                isinstance(case.body, dict)
                and isinstance(case.body.get("name"), str)
                and case.body["name"].strip()
            ):
                case.body = {**case.body, "name": writable.name(case.body["name"][:60])}
        else:
            form = {
                "name": writable.name("schema"),
                "minCpu": "1",
                "maxCpu": "1",
                "minMemory": "1",
                "minMemoryUnit": "g",
                "maxMemory": "2",
                "maxMemoryUnit": "g",
            }
            runtime_id = calls.copied_runtime(calls.copy(writable, source_runtime["id"], form))[
                "id"
            ]
        case.path_parameters = {**(case.path_parameters or {}), "runtimeId": runtime_id}
        try:
            reply = _send(writable, case)
            case.validate_response(reply.raw, checks=_checks())
        finally:
            for created in list(writable.created):
                calls.unregister(writable, created)

    run()


@pytest.mark.flavour("notebook-server")
@pytest.mark.parametrize(
    ("method", "path"), SERVER_READS, ids=[f"{m} {p}" for m, p in SERVER_READS]
)
def test_notebook_server_reads_match_its_schema(target: Target, method: str, path: str) -> None:
    """Every read of a standalone Notebook Server answers as openapi/notebook-server.yaml says."""
    operation = _schema(SERVER_CONTRACT)[path][method]
    esri_id = target.system_runtimes()[0]["id"]
    known_ids = st.sampled_from([esri_id, target.made_up_id()])

    @contract_settings(max_examples=8)
    @given(case=operation.as_strategy(), runtime_id=known_ids)
    def run(case, runtime_id: str) -> None:
        if "runtimeId" in (case.path_parameters or {}):
            case.path_parameters = {**case.path_parameters, "runtimeId": runtime_id}
        reply = _send(target, case)
        case.validate_response(reply.raw, checks=_checks())

    run()


@pytest.mark.flavour("notebook-server")
@pytest.mark.parametrize(
    ("method", "path"), SERVER_WRITES, ids=[f"{m} {p}" for m, p in SERVER_WRITES]
)
def test_notebook_server_writes_match_its_schema(writable: Target, method: str, path: str) -> None:
    """Generated register, update and unregister requests, on the kit's own runtimes only,
    answer as openapi/notebook-server.yaml says."""
    operation = _schema(SERVER_CONTRACT)[path][method]

    @contract_settings(max_examples=8)
    @given(case=operation.as_strategy())
    def run(case) -> None:
        if path.endswith("/register"):
            if (
                isinstance(case.body, dict)
                and isinstance(case.body.get("name"), str)
                and case.body["name"].strip()
            ):
                case.body = {**case.body, "name": writable.name(case.body["name"][:60])}
        else:
            form = {**SERVER_RUNTIME, "name": writable.name("schema")}
            made = writable.admin(
                "POST", f"{calls.RUNTIMES}/register", data=form, multipart=True
            ).json
            assert isinstance(made, dict) and "notebookRuntime" in made, made
            case.path_parameters = {
                **(case.path_parameters or {}),
                "runtimeId": made["notebookRuntime"]["id"],
            }
        try:
            reply = _send(writable, case)
            case.validate_response(reply.raw, checks=_checks())
        finally:
            for created in list(writable.created):
                calls.unregister(writable, created)

    run()
