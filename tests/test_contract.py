"""The OpenAPI contract: valid, complete, and kept by the emulator under Schemathesis.

Schemathesis runs in-process against the Flask app with the project's
``schemathesis.toml`` (the same configuration ``st run`` uses against a
served emulator or a real Enterprise), so its checks, the ArcGIS-aware ones
of ``openapi/schemathesis_hooks.py`` and the stateful phase over the
contract's links all apply. ``CONTRACT_EXAMPLES`` sets the examples per
operation: small by default, thousands under ``make contract-deep``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import schemathesis
import yaml
from openapi_spec_validator import validate
from schemathesis.engine import events, from_schema
from werkzeug.serving import WSGIRequestHandler, make_server

from mockserver import create_app
from mockserver.core.clock import Clock
from mockserver.web import pipeline
from tests.conftest import REPO
from tests.workload_fixtures import seed_workload

CONTRACT = REPO / "openapi" / "notebook-runtimes.yaml"
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "15"))
STATEFUL_STEPS = int(os.environ.get("CONTRACT_STATEFUL_STEPS", "12"))
REQUIRED_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "invalid_input_gets_arcgis_error",
    "copied_runtime_is_available",
    "unregistered_runtime_is_gone",
)


def contract(path: Path = CONTRACT) -> dict:
    return yaml.safe_load(path.read_text())


def test_contract_is_valid_openapi_3_1():
    document = contract()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_copy_example_is_the_seeds_request_and_answer():
    copy = contract()["paths"]["/admin/notebooks/runtimes/{runtimeId}/copy"]["post"]
    request = copy["requestBody"]["content"]["multipart/form-data"]["example"]
    answer = copy["responses"]["200"]["content"]["text/plain"]["example"]
    assert request["name"] == "ArcGIS Notebook Python 3 Standard with Increased Limit"
    assert (request["maxCpu"], request["maxMemory"], request["maxSwapMemory"]) == (4.0, 14.0, 0.0)
    assert answer["status"] == "success"
    assert answer["notebookRuntime"]["id"] == "4fff3ef8-e5de-48cd-a9c1-6fe66b0b87e7"
    assert list(answer["notebookRuntime"])[-1] == "revision"


# --- drift: the app's routes and the contract's paths are the same set --------


def _served_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every declared operation (mockserver/web/pipeline.py), as served."""
    prefix = "/arcgis"
    operations = pipeline.declared(app)
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in operations:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(prefix) :])
        for method in operations[rule.endpoint].served_methods:
            routes.add((method, path))
    return routes


def test_every_api_route_is_a_declared_operation():
    """Nothing under /admin or /sharing escapes the pipeline (format, guard, release, journal)."""
    app = create_app()
    undeclared = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/arcgis/admin", "/arcgis/sharing"))
        and rule.endpoint not in pipeline.declared(app)
    )
    assert not undeclared, f"views without @operation: {undeclared}"


def _contract_routes(path: Path = CONTRACT) -> set[tuple[str, str]]:
    """(method, path) of every operation, a path item referenced from another contract
    (``$ref: "notebook-runtimes.yaml#/paths/..."``) read there."""
    routes = set()
    for route, item in contract(path)["paths"].items():
        if "$ref" in item:
            file_name, _, pointer = item["$ref"].partition("#")
            item = _pointed(contract(path.parent / file_name), pointer)
        routes |= {
            (method.upper(), route)
            for method in item
            if method in {"get", "post", "put", "delete", "patch"}
        }
    return routes


def _pointed(document: dict, pointer: str) -> dict:
    for part in pointer.strip("/").split("/"):
        document = document[part.replace("~1", "/").replace("~0", "~")]
    return document


def _normalised(routes: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Path parameter names aside (``<runtime_id>`` is ``{runtimeId}``)."""
    return {(method, re.sub(r"\{\w+\}", "{}", path)) for method, path in routes}


def test_every_admin_and_portal_route_is_in_the_contract():
    missing = _normalised(_served_routes(create_app())) - _normalised(_contract_routes())
    assert not missing, f"served but not in openapi/notebook-runtimes.yaml: {sorted(missing)}"


def test_every_contract_operation_is_served():
    unserved = _normalised(_contract_routes()) - _normalised(_served_routes(create_app()))
    assert not unserved, f"in the contract but not served: {sorted(unserved)}"


def test_an_unreadable_sign_in_body_is_answered_as_the_contract_says():
    """Found by a deep Schemathesis run: admin/login answered a malformed multipart body in a
    content type its contract did not list. Whatever it answers must be one it lists."""
    answer = (
        create_app()
        .test_client()
        .post(
            "/arcgis/admin/login",
            data=b"--x\r\nbroken",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
    )
    documented = contract()["paths"]["/admin/login"]["post"]["responses"]["200"]["content"]
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].split(";")[0] in documented


# --- Schemathesis -------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # thousands of lines otherwise
        pass


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` on a loopback port in a thread of this process; yields its base URL.

    A socket rather than Schemathesis's WSGI transport: 4.32's ``ignored_auth``
    probes hand that transport socket-only options and crash.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/arcgis"
    finally:
        server.shutdown()
        thread.join(timeout=30)


def run_schemathesis(
    app, *, examples: int = EXAMPLES, contract_path: Path = CONTRACT, only: str | None = None
) -> tuple[list[str], set[str], int]:
    """(failures, checks that ran, cases sent) of a Schemathesis run against ``app``: the
    whole contract, or the operations whose path matches the regular expression ``only``
    (a test that breaks one operation on purpose need not wait for all the others)."""
    with serving(app) as base_url:
        return _run(base_url, examples, contract_path, only)


def _run(
    base_url: str, examples: int, contract_path: Path, only: str | None = None
) -> tuple[list[str], set[str], int]:
    os.chdir(REPO)  # schemathesis.toml names its hooks file relative to the project
    config = schemathesis.Config.from_path(REPO / "schemathesis.toml")
    schema = schemathesis.openapi.from_path(contract_path, config=config)
    if only is not None:
        schema = schema.include(path_regex=only)
    project = schema.config
    project.update(base_url=base_url)
    project.generation.update(max_examples=examples)
    project.phases.stateful.max_steps = STATEFUL_STEPS
    failures: list[str] = []
    checks: set[str] = set()
    cases = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            cases += len(recorder.cases)
            for node_checks in recorder.checks.values():
                for check in node_checks:
                    checks.add(check.name)
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append(f"{failure.operation}: {failure.title}\n{failure.message}")
        elif isinstance(event, events.NonFatalError):
            failures.append(f"error: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return failures, checks, cases


def emulator():
    """An emulator with work on it (notebooks, jobs), so every list answers entries."""
    return seed_workload(create_app(clock=Clock()))


def test_schemathesis_finds_no_contract_violation_in_the_emulator():
    failures, checks, cases = run_schemathesis(emulator())
    print(f"schemathesis: {cases} cases, {len(checks)} checks, {len(failures)} failures")
    assert failures == []
    assert set(REQUIRED_CHECKS) <= checks, sorted(set(REQUIRED_CHECKS) - checks)


#: The operations the broken-emulator tests below break: a runtime, and the copy that links to it.
RUNTIME_AND_COPY = r"^/admin/notebooks/runtimes/\{runtimeId\}(/copy)?$"


class DroppedRuntimeKey:
    """WSGI middleware that breaks one response shape: GET runtime loses ``maxCpu``."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not re.fullmatch(r"/arcgis/admin/notebooks/runtimes/[^/]+/?", path):
            return self.app(environ, start_response)
        captured = {}

        def keep(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)

        body = b"".join(self.app(environ, keep))
        broken = body.replace(b'"maxCpu": ', b'"maxCpus": ')
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(broken)))])
        return [broken]


def test_a_broken_response_shape_fails_the_schemathesis_run():
    app = emulator()
    app.wsgi_app = DroppedRuntimeKey(app.wsgi_app)
    failures, _checks, _cases = run_schemathesis(app, examples=5, only=RUNTIME_AND_COPY)
    assert any("Response violates schema" in failure for failure in failures), failures[:3]


def test_refused_input_that_changes_state_fails_the_schemathesis_run(monkeypatch):
    """An emulator that stores a copy before validating it is caught by the ArcGIS check."""
    from mockserver.runtimes import backend as backend_module

    real_copy_of = backend_module.model.copy_of

    def careless_copy_of(source, params, **ids):
        try:
            return real_copy_of(source, params, **ids)
        except Exception:
            return real_copy_of(source, {**_VALID_COPY, "name": "stored anyway"}, **ids)

    monkeypatch.setattr(backend_module.model, "copy_of", careless_copy_of)
    failures, _checks, _cases = run_schemathesis(emulator(), examples=5, only=RUNTIME_AND_COPY)
    assert any("Invalid input accepted" in f or "changed state" in f for f in failures)


_VALID_COPY = {
    "name": "copy",
    "minCpu": "1",
    "maxCpu": "2",
    "minMemory": "1",
    "minMemoryUnit": "g",
    "maxMemory": "2",
    "maxMemoryUnit": "g",
}


@pytest.fixture(autouse=True)
def _restore_cwd():
    here = Path.cwd()
    yield
    os.chdir(here)
