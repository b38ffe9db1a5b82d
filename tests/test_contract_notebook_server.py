"""The standalone Notebook Server's contract (openapi/notebook-server.yaml): valid, the
flavour's routes exactly, and kept by ``nbmock serve --flavour notebook-server`` under
Schemathesis with the same configuration and ArcGIS-aware checks as the Kubernetes one.

The Portal's calls and the shared components are references into
openapi/notebook-runtimes.yaml, so each fact the flavours share is written once.
"""

from __future__ import annotations

import os
import pathlib
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from mockserver import create_app
from mockserver.core.clock import Clock
from tests.conftest import REPO
from tests.test_contract import (
    REQUIRED_CHECKS,
    DroppedRuntimeKey,
    _contract_routes,
    _normalised,
    _served_routes,
    run_schemathesis,
)
from tests.workload_fixtures import seed_workload

CONTRACT = REPO / "openapi" / "notebook-server.yaml"
#: The Kubernetes checks of copy have nothing to copy here; register has its own.
SERVER_CHECKS = (
    *(check for check in REQUIRED_CHECKS if check != "copied_runtime_is_available"),
    "registered_runtime_is_available",
)


def emulator():
    """An emulator with work on it (notebooks, jobs), so every list answers entries."""
    return seed_workload(create_app(flavour="notebook-server", clock=Clock()))


def test_contract_is_valid_openapi_3_1_with_its_references():
    document = yaml.safe_load(CONTRACT.read_text())
    assert document["openapi"].startswith("3.1")
    validate(document, base_uri=pathlib.Path(CONTRACT).resolve().as_uri())


def test_register_example_is_what_the_client_sends():
    register = yaml.safe_load(CONTRACT.read_text())["paths"]["/admin/notebooks/runtimes/register"][
        "post"
    ]
    example = register["requestBody"]["content"]["multipart/form-data"]["example"]
    # RuntimeConfiguration's fields [client]: maxCPU, not maxCpu; no minimum values.
    assert "maxCPU" in example and "maxCpu" not in example and "minCpu" not in example


def test_every_route_of_the_flavour_is_in_its_contract():
    missing = _normalised(_served_routes(emulator())) - _normalised(_contract_routes(CONTRACT))
    assert not missing, f"served but not in openapi/notebook-server.yaml: {sorted(missing)}"


def test_every_operation_of_its_contract_is_served():
    unserved = _normalised(_contract_routes(CONTRACT)) - _normalised(_served_routes(emulator()))
    assert not unserved, f"in the contract but not served: {sorted(unserved)}"


def test_the_contracts_of_the_two_flavours_differ_in_their_runtimes_and_workload_only():
    kubernetes = _normalised(_contract_routes(REPO / "openapi" / "notebook-runtimes.yaml"))
    server = _normalised(_contract_routes(CONTRACT))
    only_server = {path for _, path in server - kubernetes}
    only_kubernetes = {path for _, path in kubernetes - server}
    # Notebooks at work (ledger J rows): the standalone server's system resources and the
    # older close, against Kubernetes' deployments, notebook jobs and configuration.
    server_workload = {
        "/admin/notebooks/{}/close",
        "/admin/system",
        "/admin/system/properties",
        "/admin/system/properties/update",
        "/admin/system/containers",
        "/admin/system/containers/{}",
        "/admin/system/containers/{}/sessions",
        "/admin/system/containers/{}/statistics",
        "/admin/system/containers/{}/notebooks",
        "/admin/system/containers/{}/notebooks/{}",
        "/admin/system/containers/{}/notebooks/{}/closeNotebook",
        "/admin/system/containers/{}/notebooks/{}/close",
        "/admin/system/containers/{}/terminateContainer",
        "/admin/system/jobs",
        "/admin/system/jobs/{}",
    }
    kubernetes_workload = {
        "/admin/notebooks/deployments",
        "/admin/notebooks/deployments/{}",
        "/admin/notebooks/deployments/{}/notebooks",
        "/admin/notebooks/deployments/{}/terminateDeployment",
        "/admin/notebooks/jobs",
        "/admin/notebooks/jobs/{}",
        "/admin/jobs/{}",
        "/admin/notebooks/configuration",
    }
    assert only_server == {
        "/admin/generateToken",
        "/admin/notebooks/runtimes/register",
        "/admin/notebooks/runtimes/restore",
        "/admin/notebooks/runtimes/validateRuntimes",
        *server_workload,
    }
    assert only_kubernetes == {
        "/admin/notebooks/runtimes/{}/copy",
        "/admin/notebooks/runtimes/{}/upgrade",
        *kubernetes_workload,
    }


def test_schemathesis_finds_no_contract_violation_in_the_notebook_server():
    failures, checks, cases = run_schemathesis(emulator(), contract_path=CONTRACT)
    print(f"schemathesis: {cases} cases, {len(checks)} checks, {len(failures)} failures")
    assert failures == []
    assert set(SERVER_CHECKS) <= checks, sorted(set(SERVER_CHECKS) - checks)


def test_a_broken_runtime_shape_fails_the_notebook_server_run():
    app = emulator()
    app.wsgi_app = DroppedRuntimeKey(app.wsgi_app)
    failures, _checks, _cases = run_schemathesis(
        app, examples=5, contract_path=CONTRACT, only=r"^/admin/notebooks/runtimes/\{runtimeId\}$"
    )
    assert any("Response violates schema" in failure for failure in failures), failures[:3]


@pytest.fixture(autouse=True)
def _restore_cwd():
    here = Path.cwd()
    yield
    os.chdir(here)


def test_a_register_that_stores_refused_input_fails_the_run(monkeypatch):
    """An emulator that registers what it should refuse is caught by the ArcGIS check of
    invalid input (the refusal is missing, and the runtimes changed)."""
    from mockserver.core.errors import InvalidParameters
    from mockserver.notebookserver import backend as backend_module

    real_registered = backend_module.model.registered

    def careless_registered(params, **options):
        try:
            return real_registered(params, **options)
        except InvalidParameters:
            return real_registered(_VALID_REGISTER, **options)

    monkeypatch.setattr(backend_module.model, "registered", careless_registered)
    failures, _checks, _cases = run_schemathesis(
        emulator(), examples=5, contract_path=CONTRACT, only=r"^/admin/notebooks/runtimes/register$"
    )
    assert any("Invalid input accepted" in f or "changed state" in f for f in failures)


_VALID_REGISTER = {
    "name": "stored anyway",
    "imageId": "c4" * 32,
    "requiresAdvancedPrivileges": "false",
    "maxCPU": "1",
    "maxMemory": "2",
    "maxMemoryUnit": "g",
}
