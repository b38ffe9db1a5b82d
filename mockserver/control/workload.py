"""``/__mock__/workload/*``: make work appear and steer it, as WireMock stubs a response.

- ``POST items``: notebook items on the Portal, each owned by a named user;
- ``POST notebooks``: notebooks already open ("three idle notebooks of alice");
- ``GET|POST jobs``: how long executions take, whether they fail and with which message
  (for every item, or one item), how long opening takes and how long jobs queue;
- ``GET executions``: what was executed, by whom, with which ``notebookParameters``.

Emulator design, not ArcGIS (docs/FIDELITY.md, S-rows). Each sandbox has its own, at
``/__mock__/sandboxes/<id>/workload/...``. Bad input is a 400 that changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify

from mockserver.control import context
from mockserver.control.errors import ControlError
from mockserver.control.routes import check_access, control_error, json_object
from mockserver.workload import model
from mockserver.workload.backend import WorkloadBackend

workload_control = Blueprint("nbmock_workload", __name__)
workload_control.before_request(check_access)
workload_control.register_error_handler(ControlError, control_error)

#: At most this many records per request: a test's fixture, not a load generator.
MAX_RECORDS = 1000
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,128}")
_ITEM_ID = re.compile(r"[0-9a-f]{32}")


def _backend() -> WorkloadBackend:
    plane = context.current()
    plane.settings.refresh()  # the clock as every worker moved it
    return plane.deployment.workload


def _records(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    records = body.get(key)
    if not isinstance(records, list) or not records:
        raise ControlError(f"'{key}' must be a non-empty list of objects.")
    if len(records) > MAX_RECORDS:
        raise ControlError(f"'{key}' may hold at most {MAX_RECORDS} entries.")
    if not all(isinstance(record, dict) for record in records):
        raise ControlError(f"Each entry of '{key}' must be an object.")
    return records


def _name(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ControlError(f"{where}: '{key}' must be a user name (letters, digits, _.@-).")
    return value


def _text(record: dict[str, Any], key: str, where: str, default: str | None = None) -> str | None:
    value = record.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 256 or not value.isprintable():
        raise ControlError(f"{where}: '{key}' must be printable text of 1 to 256 characters.")
    return value


def _item_id(record: dict[str, Any], where: str) -> str | None:
    value = record.get("id" if "id" in record else "itemId")
    if value is None:
        return None
    if not isinstance(value, str) or not _ITEM_ID.fullmatch(value):
        raise ControlError(f"{where}: an item id is 32 lowercase hexadecimal digits.")
    return value


def _item_json(item: model.Item) -> dict[str, Any]:
    return {"id": item.id, "title": item.title, "owner": item.owner, "type": item.type}


@workload_control.post("/items")
def post_items():
    """``{"items": [{"owner", "title", "id"?}]}``: notebook items the Portal then serves."""
    checked = []
    for index, record in enumerate(_records(json_object(), "items")):
        where = f"items[{index}]"
        checked.append(
            {
                "owner": _name(record, "owner", where),
                "title": _text(record, "title", where, "Notebook"),
                "id": _item_id(record, where),
            }
        )
    made = _backend().seed_items(checked)
    return jsonify(items=[_item_json(item) for item in made])


@workload_control.post("/notebooks")
def post_notebooks():
    """``{"notebooks": [{"username", "runtimeId"?, "idleSeconds"?, "itemId"?, "title"?,
    "count"?}]}``: open notebooks, last active ``idleSeconds`` ago (default 0), on the
    flavour's Standard runtime unless ``runtimeId`` names another; ``count`` opens that
    many (each its own item unless ``itemId`` is given)."""
    backend = _backend()
    checked = []
    for index, record in enumerate(_records(json_object(), "notebooks")):
        where = f"notebooks[{index}]"
        runtime_id = record.get("runtimeId", backend.profile.standard_runtime_id)
        if not isinstance(runtime_id, str) or not 0 < len(runtime_id) <= 128:
            raise ControlError(f"{where}: 'runtimeId' must be a runtime's id.")
        try:
            idle = model.checked_seconds(record.get("idleSeconds", 0), "idleSeconds")
        except ValueError as wrong:
            raise ControlError(f"{where}: {wrong}") from None
        count = record.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
            raise ControlError(f"{where}: 'count' must be a whole number from 1 to 100.")
        entry = {
            "username": _name(record, "username", where),
            "runtimeId": runtime_id,
            "idleSeconds": idle,
            "itemId": _item_id(record, where),
            "title": _text(record, "title", where),
        }
        checked.extend([entry] * count)
    if len(checked) > MAX_RECORDS:
        raise ControlError(f"At most {MAX_RECORDS} notebooks per request.")
    try:
        made = backend.seed_notebooks(checked)
    except ValueError as wrong:
        raise ControlError(str(wrong)) from None
    return jsonify(
        notebooks=[
            {
                "id": nb.id,
                "itemId": nb.item_id,
                "username": nb.username,
                "runtimeId": nb.runtime_id,
                "hostId": nb.host_id,
                "dateLastActivity": nb.last_activity_ms,
            }
            for nb in made
        ]
    )


def _steering_json(steering: model.Steering) -> dict[str, Any]:
    return {
        "openSeconds": steering.open_seconds,
        "queueSeconds": steering.queue_seconds,
        "execution": {
            "seconds": steering.execution.duration_seconds,
            "failure": steering.execution.failure,
        },
        "byItem": {
            item_id: {"seconds": b.duration_seconds, "failure": b.failure}
            for item_id, b in steering.by_item.items()
        },
    }


@workload_control.get("/jobs")
def get_jobs():
    return jsonify(_steering_json(_backend().snapshot().steering))


@workload_control.post("/jobs")
def post_jobs():
    """``{"executeSeconds"?, "failure"?, "itemId"?, "openSeconds"?, "queueSeconds"?}``.

    ``executeSeconds`` and ``failure`` (a message, or null to succeed) say how executions
    go, of ``itemId`` only if given; ``openSeconds`` how long opening takes; ``queueSeconds``
    how long a job stays SUBMITTED. Whatever is left out stays as it was."""
    body = json_object()
    known = {"executeSeconds", "failure", "itemId", "openSeconds", "queueSeconds"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ControlError(f"Unknown keys {unknown}; known: {sorted(known)}.")
    backend = _backend()
    current = backend.snapshot().steering
    try:
        item_id = _item_id(body, "jobs") if "itemId" in body else None
        execution = None
        if "executeSeconds" in body or "failure" in body:
            base = current.behaviour(item_id) if item_id else current.execution
            execution = model.Behaviour(
                duration_seconds=model.checked_seconds(
                    body.get("executeSeconds", base.duration_seconds), "executeSeconds"
                ),
                failure=model.checked_message(body.get("failure", base.failure), "failure"),
            )
        elif item_id is not None:
            raise ControlError(
                "'itemId' steers an item's executions: send 'executeSeconds' or 'failure' with it."
            )
        open_seconds = (
            model.checked_seconds(body["openSeconds"], "openSeconds")
            if "openSeconds" in body
            else None
        )
        queue_seconds = (
            model.checked_seconds(body["queueSeconds"], "queueSeconds")
            if "queueSeconds" in body
            else None
        )
    except ValueError as wrong:
        raise ControlError(str(wrong)) from None
    steering = backend.steer(
        execution=execution,
        item_id=item_id,
        open_seconds=open_seconds,
        queue_seconds=queue_seconds,
    )
    return jsonify(_steering_json(steering))


@workload_control.get("/executions")
def get_executions():
    """Every execution, oldest first: its job, item, user and the parameters it was sent."""
    return jsonify(
        executions=[
            {
                "jobId": e.job_id,
                "itemId": e.item_id,
                "username": e.username,
                "notebookParameters": e.notebook_parameters,
                "updatePortalItem": e.update_portal_item,
                "saveInjectedParameters": e.save_injected_parameters,
                "dateSubmitted": e.submitted_ms,
            }
            for e in _backend().executions()
        ]
    )
