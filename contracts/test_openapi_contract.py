"""The Schemathesis run from the OpenAPI contract, sent through the kit's ``Target``.

Schemathesis generates the cases from ``openapi/notebook-runtimes.yaml``;
the kit sends them, so the same safety rules hold as for every other check:
reads go anywhere, a copy always copies the chosen system runtime under the
run's prefix, and update, unregister and upgrade only reach runtimes this run
created. Each answer must match the contract's schema, status codes and
content type, and never be a server error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import calls
from contracts.plugin import contract_settings
from contracts.target import Target

#: openapi/notebook-runtimes.yaml is the Kubernetes flavour's contract.
pytestmark = pytest.mark.flavour("kubernetes")

#: openapi/notebook-runtimes.yaml, which the package carries (in the repository, a link to it).
CONTRACT = Path(__file__).resolve().parent / "notebook-runtimes.yaml"
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


def _schema():
    if not CONTRACT.exists():
        pytest.skip(f"no OpenAPI contract at {CONTRACT}")
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    # An explicit config: no schemathesis.toml (and its hooks) from the working directory.
    schema = schemathesis.openapi.from_path(CONTRACT, config=SchemathesisConfig())
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
    return json.loads(response.content.decode("utf-8"))


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
