"""The request pipeline (mockserver/pipeline.py) and the house rules it keeps.

What a user notices: a read answers POST as it answers GET; an answer that
fails to render leaves the state as it was; a mistyped option fails at once.
What the next engineer notices: no import cycle, a model importable alone, an
emulator that never imports the kit, one module that knows the extension key.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver import create_app, pipeline, wire
from mockserver.runtimes.releases import STANDARD_ID
from tests.conftest import SEED_COPY

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mockserver"

READS = [
    "admin",
    "admin/notebooks",
    "admin/notebooks/runtimes",
    f"admin/notebooks/runtimes/{STANDARD_ID}",
    f"admin/notebooks/runtimes/{STANDARD_ID}/manifest",
]


@pytest.mark.parametrize("path", READS)
def test_read_by_post_with_token_in_body_answers_as_get(api, path):
    """Esri's JavaScript client posts its reads, token in the body (issue 12)."""
    token = api.token()
    by_get = api.client.get(f"/arcgis/{path}", query_string={"f": "json", "token": token})
    by_post = api.client.post(f"/arcgis/{path}", data={"f": "json", "token": token})
    assert by_post.status_code == by_get.status_code == 200
    assert by_post.get_json(force=True) == by_get.get_json(force=True)
    assert "error" not in by_post.get_json(force=True)


def test_read_by_post_without_token_is_499(api):
    answer = api.client.post("/arcgis/admin/notebooks/runtimes", data={"f": "json"})
    assert answer.get_json(force=True)["code"] == 499


@pytest.mark.parametrize("path", ["sharing/rest", "sharing/rest/info"])
def test_public_portal_reads_answer_post(api, path):
    answer = api.client.post(f"/arcgis/{path}", data={"f": "json"})
    body = answer.get_json(force=True)
    assert answer.status_code == 200 and "error" not in body


def test_operations_stay_post_only(api):
    token = api.token()
    answer = api.client.get(
        f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy",
        query_string={"f": "json", "token": token},
    )
    assert answer.get_json(force=True)["code"] == 405


def _runtime_ids(api) -> list[str]:
    return [runtime["id"] for runtime in api.runtimes(api.token())]


def _copy(api) -> dict:
    return api.post(f"notebooks/runtimes/{STANDARD_ID}/copy", api.token(), **SEED_COPY)


def test_copy_whose_answer_fails_to_render_stores_nothing(api, monkeypatch):
    """The answer is rendered before the transaction commits (issue 11)."""
    before = _runtime_ids(api)
    token = api.token()

    def broken_render(*args, **kwargs):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(wire, "render", broken_render)
    answer = api.client.post(
        f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/copy",
        data={**SEED_COPY, "f": "json", "token": token},
    )
    monkeypatch.undo()
    assert answer.status_code == 500
    assert _runtime_ids(api) == before
    # The next copy is unaffected: the id sequence and revisions did not move either.
    assert _copy(api)["status"] == "success"


def test_update_whose_answer_fails_to_render_changes_nothing(api, monkeypatch):
    token = api.token()
    before = api.get(f"notebooks/runtimes/{STANDARD_ID}", token)
    monkeypatch.setattr(wire, "render", lambda *a, **k: 1 / 0)
    answer = api.client.post(
        f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}/update",
        data={"maxCpu": "3", "maxMemory": "6", "maxMemoryUnit": "g", "f": "json", "token": token},
    )
    monkeypatch.undo()
    assert answer.status_code == 500
    assert api.get(f"notebooks/runtimes/{STANDARD_ID}", token) == before


def test_a_successful_write_is_journaled(api):
    _copy(api)
    entries = api.client.get("/__mock__/journal", query_string={"operation": "copy"}).get_json(
        force=True
    )["entries"]
    assert entries and entries[-1]["status"] == 200 and entries[-1]["code"] is None


def test_mistyped_option_fails_at_once():
    with pytest.raises(TypeError, match="relese_name"):
        create_app(relese_name="11.5")


def test_fault_names_are_the_declared_operation_names():
    app = create_app()
    names = pipeline.operation_names(app)
    # The names users already write in fault rules and journal filters.
    assert {"admin", "notebooks", "runtimes", "runtime", "copy", "update", "unregister"} <= names
    assert {"upgrade", "manifest", "generateToken", "sharing", "portalSelf", "signin"} <= names


# --- the house rules ------------------------------------------------------------


def test_model_imports_without_flask_werkzeug_or_sqlite():
    code = (
        "import sys, mockserver.runtimes.model; "
        "print(sorted({'flask', 'werkzeug', 'sqlite3'} & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert loaded == "[]"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


MODULES = {
    _module_name(path)
    for folder in ("mockserver", "contracts")
    for path in (ROOT / folder).rglob("*.py")
}


def _imports(path: Path) -> set[str]:
    """Every mockserver/contracts module ``path`` imports, at any depth of the file.

    ``from package import name`` depends on the submodule ``package.name`` when
    there is one (Python imports it, not the package's ``__init__`` again), and
    on the package itself otherwise.
    """
    module = _module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                base = ".".join(module.split(".")[: -node.level] + [node.module])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {name for name in found if name.split(".")[0] in ("mockserver", "contracts")}


def _module_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in files.items():
        if module == "mockserver":
            continue  # the lazy package root (PEP 562) imports nothing at import time
        graph[module] = {name for name in _imports(path) if name in files and name != module}
    return graph


def test_mockserver_has_no_import_cycle():
    graph = _module_graph()
    visiting, done, cycles = set(), set(), []

    def visit(module: str, trail: list[str]) -> None:
        visiting.add(module)
        for target in sorted(graph.get(module, ())):
            if target in visiting:
                cycles.append(trail[trail.index(target) :] + [target])
            elif target not in done:
                visit(target, [*trail, target])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert not cycles, f"import cycles: {cycles}"


def test_the_emulator_never_imports_the_kit():
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == "contracts" for name in _imports(path))
    )
    assert not offenders


def test_only_the_deployment_module_knows_the_extension_key():
    offenders = sorted(
        str(path.relative_to(ROOT))
        for folder in ("mockserver", "contracts")
        for path in (ROOT / folder).rglob("*.py")
        if 'extensions["nbmock"]' in path.read_text() and path.name != "deployment.py"
    )
    assert not offenders
