"""Every control verb, spelt with trailing and doubled slashes, on the main control plane and
a sandbox's: a refusal names the path the client sent, and no spelling leaves its plane.

A sandbox's control plane is its app's own ``/__mock__/`` (the dispatcher hands it
``/__mock__/<verb>``), so ``$CTL/clock/`` was refused naming ``/__mock__/clock/``: a
path the client never sent, and the main plane's. The verbs are enumerated from the
apps' own routes, so a new verb is covered the day it is added.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from mockserver import create_app, sandboxes
from tests.conftest import Api
from tests.nbmock_process import NbmockProcess

MAIN = "/__mock__"
ARGUMENTS = {"fault_id": "1"}
TOKEN = "WyJhZG1pbiIsMTc5NjY1NDM2MTAyMCxudWxsLG51bGwsImFiY2QxMjM0Il0.abcdefghijklmnopqrstuvwxyz0"


def spellings(control: str, verb: str) -> dict[str, str]:
    """Each way a client may spell ``<control>/<verb>``."""
    doubled = verb.replace("/", "//")
    spelt = {
        "as is": f"{control}/{verb}",
        "trailing slash": f"{control}/{verb}/",
        "two trailing slashes": f"{control}/{verb}//",
        "doubled slash before the verb": f"{control}//{verb}",
        "doubled slashes everywhere, trailing too": f"{control}//{doubled}//",
        "a credential after the verb": f"{control}/{verb}&token={TOKEN}",
    }
    if doubled != verb:
        spelt["doubled slash inside the verb"] = f"{control}/{doubled}"
    return spelt


#: The spellings a sandbox's dispatcher merges into the verb itself.
MERGED = {"doubled slash before the verb", "doubled slash inside the verb"}


def verbs(app) -> Iterator[tuple[str, set[str]]]:
    """(verb, the methods it takes) for every control route of ``app`` but the sandboxes'
    own (``sandboxes/<id>/...`` is a sandbox's plane, checked as one)."""
    taken: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(MAIN + "/") or "<sandbox_id>" in rule.rule:
            continue
        verb = rule.rule[len(MAIN) + 1 :]
        for argument in rule.arguments:
            verb = re.sub(rf"<(?:[a-z]+:)?{argument}>", ARGUMENTS[argument], verb)
        taken.setdefault(verb, set()).update((rule.methods or set()) - {"HEAD", "OPTIONS"})
    yield from sorted(taken.items())


def requests_for(control: str, app) -> Iterator[tuple[str, str, str, bool]]:
    """(method, path as sent, spelling, whether the verb takes the method)."""
    for verb, methods in verbs(app):
        for spelling, path in spellings(control, verb).items():
            for method in sorted(methods | {"PUT"}):
                yield method, path, spelling, method in methods


def check_answer(control: str, method: str, sent: str, spelling: str, takes: bool, answer):
    """What a script driving the emulator must see, ``answer`` as (status, headers, body)."""
    status, headers, body = answer
    label = f"{method} {sent}"
    assert status < 500, (label, status, body[:200])
    assert headers.get("X-Content-Type-Options") == "nosniff", label
    assert TOKEN not in body and TOKEN not in headers.get("Location", ""), label
    if 300 <= status < 400:
        # Flask's merge of slashes: the client is sent to the same plane, never another.
        location = urlsplit(headers["Location"]).path
        assert location.startswith(control + "/") and "//" not in location, (label, location)
        assert control == MAIN, (label, "a sandbox's plane merges slashes itself")
        return
    assert headers["Content-Type"].split(";")[0] == "application/json", (label, headers)
    envelope = json.loads(body)
    merged = control != MAIN and spelling in MERGED  # the dispatcher merges them
    if takes and (spelling == "as is" or merged):
        # The verb is reached: whatever it answers is its own, never a routing refusal.
        assert status != 405 and not _routing_refusal(envelope), (label, body[:200])
        return
    assert status in (404, 405), (label, status, body[:200])
    shown = sent.replace(f"&token={TOKEN}", "&token=***")
    assert repr(shown[:120]) in envelope["messages"][0], (label, envelope)
    assert status == 404 or headers.get("Allow"), (label, headers)


def _routing_refusal(envelope: dict) -> bool:
    return envelope.get("status") == "error" and envelope["messages"][0].startswith(
        "No control-plane resource"
    )


def _sandbox_app(app, sandbox_id: str):
    registry = sandboxes.of(app)
    return registry.app(registry.find(sandbox_id=sandbox_id))


@pytest.mark.parametrize("plane", ["main", "sandbox"])
def test_every_control_verb_in_every_spelling_is_refused_naming_the_path_as_sent(plane):
    api = Api(create_app(max_sandboxes=2))
    made = api.client.post(f"{MAIN}/sandboxes", json={}).get_json()
    control, app = MAIN, api.app
    if plane == "sandbox":
        control, app = f"{MAIN}/sandboxes/{made['id']}", _sandbox_app(api.app, made["id"])
    seen = 0
    for method, sent, spelling, takes in requests_for(control, app):
        response = api.client.open(sent, method=method)
        answer = (response.status_code, response.headers, response.get_data(as_text=True))
        check_answer(control, method, sent, spelling, takes, answer)
        seen += 1
    assert seen > 150  # every verb reached (13 verbs and more, 6-7 spellings, 2+ methods)


def test_served_every_control_verb_in_every_spelling_names_the_path_as_sent():
    server = NbmockProcess(ready_path="/__mock__/health")
    try:
        made = requests.post(f"{server.origin}{MAIN}/sandboxes", json={}, timeout=30).json()
        sandbox_control = f"{MAIN}/sandboxes/{made['id']}"
        # The verbs are the app's; the sandbox's plane first: the main plane's reset ends it.
        app = create_app(max_sandboxes=2)
        sandbox_app = _sandbox_app(app, Api(app).client.post(f"{MAIN}/sandboxes").get_json()["id"])
        for control, routes in ((sandbox_control, sandbox_app), (MAIN, app)):
            for method, sent, spelling, takes in requests_for(control, routes):
                response = requests.request(
                    method, server.origin + sent, timeout=30, allow_redirects=False
                )
                answer = (response.status_code, response.headers, response.text)
                check_answer(control, method, sent, spelling, takes, answer)
        assert TOKEN not in server.output
    finally:
        server.stop()
