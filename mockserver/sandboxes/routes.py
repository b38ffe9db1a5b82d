"""``/__mock__/sandboxes``: make, list and remove sandboxes (JSON, real HTTP statuses).

The control plane's access rules apply (control token, cross-site refusal, JSON
bodies): these routes share its ``check_access`` and error answer.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, jsonify, request

from mockserver.auth.users import users_from_mapping, users_to_records
from mockserver.control.errors import ControlError
from mockserver.control.routes import check_access, control_error, json_object
from mockserver.core import deployment
from mockserver.core.errors import ArcGISError
from mockserver.core.profile import Profile, ProfileError
from mockserver.flavours import FLAVOURS
from mockserver.sandboxes.apps import current as _registry
from mockserver.sandboxes.store import Sandbox
from mockserver.web import directory

sandboxes = Blueprint("nbmock_sandboxes", __name__)
#: A sandbox's web context once the sandbox is gone (deleted, expired, never made): the
#: dispatcher hands a live one's to its app, so only these reach the main app.
gone_contexts = Blueprint("nbmock_sandbox_contexts", __name__)
_EVERY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
sandboxes.before_request(check_access)
sandboxes.register_error_handler(ControlError, control_error)

DEFAULT_TTL_SECONDS = 3600
#: A week: a sandbox is for a pipeline run or a working day, not for keeps.
MAX_TTL_SECONDS = 7 * 24 * 3600
FIELDS = {"flavour", "release", "seed", "ttl_seconds", "users", "profile"}
#: Each user costs a password hash (scrypt, a few milliseconds) in the create request,
#: and a pipeline needs a handful of roles: 500 users were 3.2 s of CPU in one request.
MAX_USERS = 20
#: A seed is stored as SQLite's (and PostgreSQL's) 64-bit integer.
SEED_RANGE = range(-(2**63), 2**63)


def _described(sandbox: Sandbox) -> dict[str, Any]:
    origin = request.host_url.rstrip("/")
    return {
        "id": sandbox.id,
        "context": sandbox.context,
        "url": f"{origin}/{sandbox.context}",
        "controlUrl": f"{origin}/__mock__/sandboxes/{sandbox.id}",
        "flavour": sandbox.flavour,
        "release": sandbox.release,
        "seed": sandbox.seed,
        "created": sandbox.created_ms,
        "expires": sandbox.expires_ms,
        "users": "own" if sandbox.users is not None else "server",
        "profile": "own" if sandbox.profile is not None else "server",
    }


@sandboxes.post("")
def create():
    """A new sandbox: HTTP 201 with its URL, or 429 past ``--max-sandboxes``."""
    body = json_object()
    unknown = sorted(str(key)[:40] for key in set(body) - FIELDS)
    if unknown:
        raise ControlError(f"Unknown sandbox fields: {', '.join(unknown)}.")
    main = deployment.current()
    profile = body.get("profile")
    captured = None
    if profile is not None:
        try:
            captured = Profile.from_mapping(profile, source="'profile'")
        except ProfileError as problem:
            raise ControlError(str(problem)) from None
    # Without a flavour: the profile's, else the server's.
    named = body.get("flavour", captured.flavour if captured else main.flavour.name)
    chosen = FLAVOURS.get(named) if isinstance(named, str) else None
    if chosen is None:
        raise ControlError(f"'flavour' must be one of {', '.join(FLAVOURS)}.")
    # Without a release: the server's own when the flavour is the server's, else the
    # flavour's default.
    default_release = main.release.name if chosen is main.flavour else chosen.default_release
    release = body.get("release", default_release)
    if not isinstance(release, str) or release not in chosen.releases:
        raise ControlError(
            f"'release' must be one of {', '.join(chosen.releases)} for {chosen.name}."
        )
    seed = body.get("seed")
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or seed not in SEED_RANGE
    ):
        raise ControlError(
            f"'seed' must be an integer from {SEED_RANGE.start} to {SEED_RANGE.stop - 1}, or null."
        )
    ttl = body.get("ttl_seconds", DEFAULT_TTL_SECONDS)
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, int | float)
        or not math.isfinite(ttl)
        or not 0 < ttl <= MAX_TTL_SECONDS
    ):
        raise ControlError(
            f"'ttl_seconds' must be a number of seconds from 1 to {MAX_TTL_SECONDS}."
        )
    users = None
    if body.get("users") is not None:
        if isinstance(body["users"], dict) and len(body["users"]) > MAX_USERS:
            raise ControlError(
                f"A sandbox has at most {MAX_USERS} users; 'users' names {len(body['users'])}."
            )
        try:
            users = users_to_records(users_from_mapping(body["users"], source="'users'"))
        except ValueError as problem:
            raise ControlError(str(problem)) from None
    if captured is not None and captured.flavour != chosen.name:
        raise ControlError(
            f"'profile' was captured from a {captured.flavour} deployment; "
            f"the sandbox is {chosen.name} ('flavour')."
        )
    limit = main.settings.max_sandboxes
    sandbox = _registry().create(
        release=release,
        flavour=chosen.name,
        seed=seed,
        ttl_seconds=float(ttl),
        users=users,
        limit=limit,
        profile=profile,
    )
    if sandbox is None:
        raise ControlError(
            f"This server holds at most {limit} sandboxes (--max-sandboxes): "
            "delete one (DELETE /__mock__/sandboxes/<id>) or wait for one to expire.",
            status=429,
        )
    return jsonify(_described(sandbox)), 201


@sandboxes.get("")
def listing():
    return jsonify(sandboxes=[_described(sandbox) for sandbox in _registry().listed()])


@sandboxes.get("/<sandbox_id>")
def one(sandbox_id: str):
    sandbox = _registry().find(sandbox_id=sandbox_id)
    if sandbox is None:
        raise _no_sandbox(sandbox_id)
    return jsonify(_described(sandbox))


@sandboxes.delete("/<sandbox_id>")
def delete(sandbox_id: str):
    if not _registry().delete([sandbox_id]):
        raise _no_sandbox(sandbox_id)
    return jsonify(status="success")


@sandboxes.route("/<sandbox_id>/<path:rest>", methods=["GET", "POST", "DELETE"])
def unknown_sandbox(sandbox_id: str, rest: str):
    """Reached only when the dispatcher found no such sandbox (or no verb)."""
    raise _no_sandbox(sandbox_id)


def _no_sandbox(sandbox_id: str) -> ControlError:
    return ControlError(
        f"No sandbox '{sandbox_id[:40]}' (deleted, expired or never made).", status=404
    )


@gone_contexts.route("/sb-<sandbox_id>", methods=_EVERY_METHOD)
@gone_contexts.route("/sb-<sandbox_id>/", methods=_EVERY_METHOD)
@gone_contexts.route("/sb-<sandbox_id>/<path:rest>", methods=_EVERY_METHOD)
def gone_context(sandbox_id: str, rest: str = ""):
    """In the envelope and format the caller's ArcGIS client asked for, with HTTP 404:
    ``f=json`` reads JSON, a browser gets a page saying what happened."""
    problem = ArcGISError(_no_sandbox(sandbox_id).message, code=404)
    return directory.render_error(problem, portal="/sharing/" in request.path, status=404)
