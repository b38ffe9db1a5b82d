"""The deployment files platform teams use, checked offline.

No Docker engine or cluster runs here: the Kubernetes manifests are validated
against Kubernetes' own schemas (kubernetes-validate ships them), and the
compose files are read for what a deployment relies on.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"


def _documents(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_kubernetes_manifests_match_kubernetes_schemas(path):
    for document in _documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_deployment_is_two_replicas_probed_on_health_with_secrets_by_reference():
    documents = {doc["kind"]: doc for path in MANIFESTS for doc in _documents(path)}
    deployment = documents["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/__mock__/health"
    secrets = {
        variable["name"]: variable["valueFrom"]["secretKeyRef"]["key"]
        for variable in container["env"]
        if "valueFrom" in variable
    }
    assert secrets == {"NBMOCK_STATE": "database-url", "NBMOCK_CONTROL_TOKEN": "control-token"}
    assert "--state" in container["args"]
    assert documents["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_a_broken_manifest_is_caught():
    """The validation above can fail: a Deployment without a selector is refused."""
    broken = _documents(MANIFESTS[0])[0]
    broken = {**broken, "spec": {k: v for k, v in broken["spec"].items() if k != "selector"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_shared_compose_runs_postgres_two_replicas_and_a_load_balancer():
    compose = yaml.safe_load((ROOT / "docker" / "compose.shared.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "replica-1", "replica-2", "nginx"} <= set(services)
    for name in ("replica-1", "replica-2"):
        command = services[name]["command"]
        state = command[command.index("--state") + 1]
        assert state.startswith("postgresql://") and "@postgres:5432/" in state
        assert "NBMOCK_CONTROL_TOKEN" in services[name]["environment"]
    config = (ROOT / "docker" / "nginx.conf").read_text()
    assert "server replica-1:8080" in config and "server replica-2:8080" in config
