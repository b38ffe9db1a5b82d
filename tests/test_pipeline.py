"""The request pipeline (mockserver/web/pipeline.py) and the house rules it keeps.

What a user notices: a read answers POST as it answers GET; an answer that
fails to render leaves the state as it was; a mistyped option fails at once.
What the next engineer notices: no import cycle, a model importable alone, an
emulator that never imports the kit, one module that knows the extension key.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from mockserver import create_app
from mockserver.core import deployment, messages
from mockserver.core.clock import Clock
from mockserver.core.errors import Refused
from mockserver.runtimes.releases import STANDARD_ID
from mockserver.web import pipeline, wire
from mockserver.web.forms import Field
from mockserver.web.pipeline import OPERATION, Page
from tests.conftest import SEED_COPY
from tests.html_forms import PAGE_TITLE, page_of

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
    assert answer.get_json(force=True) == {
        "status": "error",
        "messages": [messages.METHOD_NOT_SUPPORTED.format(method="GET")],
        "code": 405,
    }


def test_a_write_operations_page_has_no_json_view_and_a_resource_page_has_one(api):
    """An operation's JSON is its answer to a POST: its page links no JSON view."""
    token = api.token()
    runtime = f"/arcgis/admin/notebooks/runtimes/{STANDARD_ID}"
    copy_page = page_of(api.client.get(f"{runtime}/copy", query_string={"token": token}))
    runtime_page = page_of(api.client.get(runtime, query_string={"token": token}))
    assert copy_page.title.startswith("Copy Notebook Runtime")
    assert "JSON" not in copy_page.links
    assert runtime_page.links["JSON"] == f"{runtime}?f=pjson&token={token}"


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


# --- an operation declared now, as a new route module would declare it ------------
# The route modules declared theirs on import; these declare theirs inside the test, so
# what ``@operation`` records is what the test then meets through the client.

PROBE = "/arcgis/admin/probe"
GUARD_REFUSAL = "The probe's guard refuses this request."
PROBE_FORM = (Field("reason", required=True),)


def _confirm_page() -> Page:
    return Page({"step": "confirm"})


def _refuse() -> None:
    raise Refused(GUARD_REFUSAL)


@dataclass
class Probe:
    """An emulator with the probe operations declared on it, and what they saw."""

    app: Flask
    client: FlaskClient
    #: The names of the views that ran, in order.
    ran: list[str] = field(default_factory=list)
    #: (operation name, HTTP status) for each call of a commit hook.
    hooked: list[tuple[str, int]] = field(default_factory=list)

    def get(self, path: str, **query: str):
        return self.client.get(f"{PROBE}{path}", query_string=query)

    def post(self, path: str, **form: str):
        return self.client.post(f"{PROBE}{path}", data=form)

    def journal(self, operation: str) -> list[dict]:
        answer = self.client.get("/__mock__/journal", query_string={"operation": operation})
        return answer.get_json(force=True)["entries"]


@pytest.fixture
def probe() -> Probe:
    app = create_app(clock=Clock())
    probe = Probe(app, app.test_client())
    probes = Blueprint("probe", __name__)

    @pipeline.operation(probes, "/read", name="probeRead", title="Probe Resource")
    def read():
        probe.ran.append("probeRead")
        return {"answer": 42}

    @pipeline.operation(probes, "/write", name="probeWrite", title="Probe Write", methods=OPERATION)
    def write():
        probe.ran.append("probeWrite")
        return {"status": "success"}

    @pipeline.operation(
        probes,
        "/confirm",
        name="probeConfirm",
        title="Probe Confirm",
        methods=OPERATION,
        form=PROBE_FORM,
        page=_confirm_page,
    )
    def confirm():
        probe.ran.append("probeConfirm")
        return {"status": "success"}

    @pipeline.operation(
        probes, "/bound", name="probeBound", title="Probe Bound", release_bound=True
    )
    def bound():
        probe.ran.append("probeBound")
        return {"answer": 1}

    @pipeline.operation(probes, "/sign", name="probeSign", title="Probe Sign", renders=False)
    def sign():
        return {"answer": 1}

    @pipeline.operation(probes, "/guarded", name="probeGuarded", title="Guarded", guard=_refuse)
    def guarded():
        probe.ran.append("probeGuarded")
        return {"answer": 1}

    app.register_blueprint(probes, url_prefix=PROBE)
    deployment.of(app).commit_hooks.append(
        lambda op, response: probe.hooked.append((op.name, response.status_code))
    )
    return probe


def test_a_declared_resource_answers_get_and_post_alike(probe):
    by_get = probe.get("/read", f="json")
    by_post = probe.post("/read", f="json")
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.get_json(force=True) == by_post.get_json(force=True) == {"answer": 42}
    assert probe.ran == ["probeRead", "probeRead"]


def test_a_declared_operation_answers_with_a_trailing_slash(probe):
    answer = probe.get("/read/", f="json")
    assert answer.status_code == 200 and answer.get_json(force=True) == {"answer": 42}
    assert probe.post("/write/", f="json").get_json(force=True) == {"status": "success"}


@pytest.mark.parametrize("path", ["/write", "/confirm"])
def test_a_declared_post_operation_answers_get_with_the_method_error_naming_get(probe, path):
    answer = probe.get(path, f="json")
    assert answer.get_json(force=True) == {
        "status": "error",
        "messages": [messages.METHOD_NOT_SUPPORTED.format(method="GET")],
        "code": 405,
    }
    assert probe.ran == []
    assert probe.post(path, f="json").get_json(force=True) == {"status": "success"}


def test_a_declared_write_operations_page_shows_its_title_and_no_json_view(probe):
    page = page_of(probe.get("/confirm", f="html"))
    assert page.title == PAGE_TITLE.format("Probe Confirm")
    assert "JSON" not in page.links
    assert probe.ran == []  # the page is not the operation
    resource_page = page_of(probe.get("/read", f="html"))
    assert resource_page.title == PAGE_TITLE.format("Probe Resource")
    assert resource_page.links["JSON"] == f"{PROBE}/read?f=pjson"


@pytest.mark.parametrize("fmt", ["json", "pjson", "html", "nonsense"])
def test_an_operation_that_does_not_render_answers_html_whatever_f_says(probe, fmt):
    answer = probe.get("/sign", f=fmt)
    assert answer.status_code == 200
    assert page_of(answer).title == PAGE_TITLE.format("Probe Sign")


def test_a_release_bound_operation_the_release_lacks_is_not_found(probe):
    answer = probe.get("/bound", f="json")
    assert answer.get_json(force=True) == {
        "status": "error",
        "messages": [messages.NO_SUCH_RESOURCE.format(name="probeBound")],
        "code": 404,
    }
    assert probe.ran == []


def test_a_guard_runs_before_the_view_and_its_refusal_is_the_answer(probe):
    answer = probe.get("/guarded", f="json")
    assert answer.get_json(force=True) == {
        "status": "error",
        "messages": [GUARD_REFUSAL],
        "code": 400,
    }
    assert probe.ran == []


def test_a_write_is_journaled_under_its_name_and_its_commit_hooks_get_the_operation(probe):
    probe.get("/read", f="json")
    assert probe.hooked == []  # a read commits nothing
    assert probe.post("/write", f="json").status_code == 200
    assert probe.hooked == [("probeWrite", 200)]
    (entry,) = probe.journal("probeWrite")
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", f"{PROBE}/write", 200)
    assert [entry["method"] for entry in probe.journal("probeRead")] == ["GET"]


def test_a_fault_rule_names_a_declared_operation_by_its_declared_name(probe):
    names = {"probeRead", "probeWrite", "probeConfirm", "probeBound", "probeSign", "probeGuarded"}
    assert names <= pipeline.operation_names(probe.app)
    rule = {"operation": "probeRead", "error": {"code": 503, "message": "Injected."}}
    assert probe.client.post("/__mock__/faults", json=rule).status_code == 200
    answer = probe.get("/read", f="json").get_json(force=True)
    assert answer["code"] == 503 and answer["messages"] == ["Injected."]
    assert probe.ran == []


def test_a_route_under_the_api_prefix_that_declares_no_operation_is_served_unnamed(probe):
    """The directory's home is no operation: faults naming operations pass it by and its
    journal entry names none."""
    rule = {"operation": "probeRead", "error": {"code": 503, "message": "Injected."}}
    assert probe.client.post("/__mock__/faults", json=rule).status_code == 200
    answer = probe.client.get("/arcgis/home")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/arcgis/admin?f=html"
    entries = probe.client.get("/__mock__/journal").get_json(force=True)["entries"]
    (home,) = [entry for entry in entries if entry["path"] == "/arcgis/home"]
    assert (home["operation"], home["status"], home["fault"]) == (None, 302, None)


def test_declared_reads_back_each_operation_as_it_was_declared(probe):
    """What the directory's operation pages and the OpenAPI drift test read."""
    by_name = {op.name: op for op in pipeline.declared(probe.app).values()}
    confirm, read = by_name["probeConfirm"], by_name["probeRead"]
    assert (confirm.title, confirm.rule, confirm.methods, confirm.form) == (
        "Probe Confirm",
        "/confirm",
        ("POST",),
        PROBE_FORM,
    )
    assert (confirm.writes, confirm.renders, confirm.release_bound) == (True, True, False)
    assert (confirm.guard, confirm.page) == (None, _confirm_page)
    assert (read.methods, read.writes, read.form, read.page) == (("GET", "POST"), False, (), None)
    assert by_name["probeGuarded"].guard is _refuse
    assert by_name["probeBound"].release_bound is True
    assert by_name["probeSign"].renders is False


# --- the house rules ------------------------------------------------------------


def test_model_imports_without_flask_werkzeug_or_sqlite():
    code = (
        "import sys, mockserver.runtimes.model; "
        "print(sorted({'flask', 'werkzeug', 'sqlite3'} & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
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
