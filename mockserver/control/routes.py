"""``/__mock__/*``: the control plane's HTTP surface.

JSON in, JSON out, real HTTP statuses (these answers are for test code, not
for ArcGIS clients). Every change goes through ``SharedSettings.change`` or a
store transaction, so it is atomic and seen by every worker.
"""

from __future__ import annotations

import hmac
import json
import math
import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from mockserver.control import context
from mockserver.control.context import Control
from mockserver.control.errors import ControlError
from mockserver.control.faults import parse_rule
from mockserver.control.state import export_state, import_state, reset_state
from mockserver.control.store import ControlWrites
from mockserver.core import statefile
from mockserver.web import browser, pipeline

control = Blueprint("nbmock_control", __name__)

TOKEN_HEADER = "X-Nbmock-Control-Token"
#: Clock moves beyond a century are typos, and would overflow epoch milliseconds.
MAX_CLOCK_SECONDS = 100 * 365 * 24 * 3600
#: The answer of ``GET journal`` holds at most this many entries (``limit``).
MAX_JOURNAL_ANSWER = 10_000
#: A state snapshot may be larger than the API's body limit (``--max-body``): runtimes
#: hold JSON objects of up to 64 KiB each, so an export of a few dozen runtimes passes
#: 1 MiB, and any export must import back. 256 MiB holds about 2,000 runtimes at
#: their largest.
MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024


def _plane() -> Control:
    return context.current()


def _operations(plane: Control) -> frozenset[str]:
    """Every operation name of the emulated API, for validating fault rules."""
    if not plane.operations:
        plane.operations = pipeline.operation_names(current_app)
    return plane.operations


@control.url_value_preprocessor
def allow_large_snapshots(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # URL value preprocessors run before every before_request function, so the
    # app's own body check (wire.check_body) already reads with this limit.
    if endpoint == "nbmock_control.post_state":
        request.max_content_length = MAX_SNAPSHOT_BYTES


@control.before_request
def check_access() -> None:
    # Any web page can send a browser here (a form, a fetch without preflight):
    # what a browser marks as cross-site is refused, health included, before
    # anything is read or changed.
    if browser.cross_site(request):
        raise ControlError(
            "Cross-site requests to the control plane are refused "
            "(an Origin that is not this emulator's, or Sec-Fetch-Site: cross-site).",
            status=403,
        )
    has_body = request.method == "POST" and request.get_data(cache=True).strip()
    if has_body and request.mimetype != "application/json":
        raise ControlError("Send the body as JSON with Content-Type: application/json.", status=415)
    if request.endpoint == "nbmock_control.health":
        return
    plane = _plane()
    if not plane.enabled:
        raise ControlError(
            "The control plane is off: nbmock is bound beyond loopback without --control-token.",
            status=403,
        )
    if plane.token is None:
        return
    given = request.headers.get(TOKEN_HEADER, "")
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if not given and scheme.lower() == "bearer":
        given = credential.strip()
    if not hmac.compare_digest(given.encode(), plane.token.encode()):
        raise ControlError(
            f"A valid control token is required ({TOKEN_HEADER} header).", status=401
        )


@control.errorhandler(ControlError)
def control_error(error: ControlError) -> tuple[Response, int]:
    return jsonify(status="error", messages=[error.message], code=error.status), error.status


def _json() -> Any:
    """The JSON sent, ``{}`` for an empty body; anything unparsable is refused."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise ControlError("The body must be JSON (Content-Type: application/json).") from None
    try:
        # json.loads lets lone surrogate escapes through; stored in a fault rule's
        # message, one would break every answer the rule makes.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ControlError(
            "The body holds text that is not valid Unicode (a lone surrogate escape such as "
            "\\ud800)."
        ) from None
    except RecursionError:
        raise ControlError("The body is nested too deeply.") from None
    return value


def json_object() -> dict[str, Any]:
    """The JSON object sent (``{}`` for none): strict JSON, or a ``ControlError``."""
    body = _json()
    if not isinstance(body, dict):
        raise ControlError("The body must be a JSON object.")
    return body


def _seed_value(body: dict[str, Any]) -> int | None:
    seed = body["seed"]
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ControlError("'seed' must be an integer or null.")
    return seed


@control.get("/health")
def health():
    """200 only if the state is the run's own and can be read and written (Docker's HEALTHCHECK)."""
    plane = _plane()
    deployment = plane.deployment
    problem = statefile.health_problem(current_app)
    if problem:
        return jsonify(status="error", messages=[problem], code=503, pid=os.getpid()), 503
    return jsonify(
        status="ok",
        release=deployment.release.name,
        context=deployment.context,
        profile=deployment.profile.describe() if deployment.profile else None,
        pid=os.getpid(),
    )


@control.post("/reset")
def reset():
    """Back to the release's seeded runtimes; journal, faults and clock cleared."""
    plane = _plane()
    body = json_object()
    seed_given = "seed" in body
    seed = _seed_value(body) if seed_given else None
    reset_state(plane, seed=seed, seed_given=seed_given)
    return jsonify(status="success")


@control.get("/state")
def get_state():
    plane = _plane()
    plane.settings.refresh()
    return jsonify(export_state(plane))


@control.post("/state")
def post_state():
    plane = _plane()
    count = import_state(plane, json_object())
    return jsonify(status="success", runtimes=count)


@control.post("/seed")
def seed():
    """Ids from now on follow the seed: after a reset, the n-th copy gets the same ids every run."""
    plane = _plane()
    body = json_object()
    if "seed" not in body:
        raise ControlError("'seed' is required: an integer, or null for random ids.")
    value = _seed_value(body)
    with plane.settings.change() as tx:
        plane.settings.set_seed(tx, value)
    return jsonify(status="success", seed=value)


@control.get("/journal")
def get_journal():
    plane = _plane()
    operation = request.args.get("operation") or None
    after = _int_arg("after", 0)
    limit = min(_int_arg("limit", 1000), MAX_JOURNAL_ANSWER)
    entries = []
    for seq, text in plane.store.journal(operation=operation, after=after, limit=limit):
        entries.append({"seq": seq, **json.loads(text)})
    return jsonify(entries=entries)


@control.delete("/journal")
def delete_journal():
    with _plane().settings.change() as tx:
        ControlWrites(tx.connection).clear_journal()
    return jsonify(status="success")


@control.get("/faults")
def get_faults():
    plane = _plane()
    plane.settings.refresh()
    described = []
    by_id = {rule.id: rule for rule in plane.settings.faults}
    for fault_id, _rule, remaining, matched in plane.store.list_faults():
        if fault_id in by_id:
            described.append(by_id[fault_id].describe(remaining, matched))
    return jsonify(faults=described)


@control.post("/faults")
def post_faults():
    """One rule, or ``{"faults": [...]}``; all are added or none."""
    plane = _plane()
    raw = _json()
    raw_rules = raw.get("faults", [raw]) if isinstance(raw, dict) else raw
    if not isinstance(raw_rules, list):
        raise ControlError('Send a rule object, a list of rules, or {"faults": [...]}.')
    rules = [parse_rule(item, _operations(plane)) for item in raw_rules]
    with plane.settings.change() as tx:
        writes = ControlWrites(tx.connection)
        ids = [writes.add_fault(rule.to_json(), rule.times) for rule in rules]
    created = {rule.id: rule for rule in plane.settings.faults if rule.id in ids}
    return jsonify(
        faults=[created[fault_id].describe(created[fault_id].times, 0) for fault_id in ids]
    )


@control.delete("/faults")
def delete_faults():
    with _plane().settings.change() as tx:
        ControlWrites(tx.connection).clear_faults()
    return jsonify(status="success")


@control.delete("/faults/<int:fault_id>")
def delete_fault(fault_id: int):
    with _plane().settings.change() as tx:
        if not ControlWrites(tx.connection).delete_fault(fault_id):
            raise ControlError(f"No fault rule {fault_id}.", status=404)
    return jsonify(status="success")


@control.get("/clock")
def get_clock():
    plane = _plane()
    plane.settings.refresh()
    clock = plane.deployment.clock
    return jsonify(epochMs=clock.now_ms(), offsetSeconds=clock.offset_seconds)


@control.post("/clock")
def post_clock():
    """Move the deployment's clock: ``advance_seconds``, ``epoch_seconds`` or ``real: true``."""
    plane = _plane()
    body = json_object()
    given = [key for key in ("advance_seconds", "epoch_seconds", "real") if key in body]
    if len(given) != 1:
        raise ControlError("Send exactly one of 'advance_seconds', 'epoch_seconds' or 'real'.")
    clock = plane.deployment.clock
    with plane.settings.change() as tx:
        # Within the change, the clock reflects every worker's latest move.
        if given[0] == "real":
            if body["real"] is not True:
                raise ControlError("'real' can only be true (back to wall-clock time).")
            offset = 0.0
        else:
            value = _finite(body[given[0]], given[0])
            if given[0] == "advance_seconds":
                offset = clock.offset_seconds + value
            else:
                offset = clock.offset_seconds + (value - clock.now())
        if abs(offset) > MAX_CLOCK_SECONDS:
            raise ControlError("The clock can move at most a century from wall-clock time.")
        plane.settings.set_clock_offset(tx, offset)
    return jsonify(epochMs=clock.now_ms(), offsetSeconds=clock.offset_seconds)


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(f"'{name}' must be a finite number of seconds.")
    return float(value)


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ControlError(f"'{name}' must be a non-negative integer.") from None
    if value < 0:
        raise ControlError(f"'{name}' must be a non-negative integer.")
    return value
