"""Runtime manifests (the libraries a runtime ships): the system ones, and uploaded ones.

A system runtime's manifest comes from manifests.json. ``update`` may upload a
new manifest as the multipart file ``manifestFile`` [client: ``KubeRuntime.update
(manifest=...)``]; ``uploaded`` reads it, or refuses it naming the problem.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from mockserver.core import messages
from mockserver.core.errors import InvalidParameters
from mockserver.runtimes.model import JSON_MAX_DEPTH, strict_json_rule_broken
from mockserver.runtimes.releases import ADVANCED_ID

#: The keys of a manifest row, in the order Esri's example writes them [doc:manifest].
LIBRARY_KEYS = (
    "name",
    "version",
    "build_string",
    "dist_name",
    "channel",
    "build_number",
    "base_url",
    "platform",
)
#: Libraries an uploaded manifest may list; a real one has a few hundred.
MAX_LIBRARIES = 5000
UPLOAD_NAME = "manifestFile"


@cache
def _data() -> dict:
    return json.loads(resources.files(__package__).joinpath("manifests.json").read_text())


def _library(name, version, build_string, channel, build_number) -> dict:
    # base_url and platform are null as in Esri's example, which is conda's own
    # `conda list --json` output [doc:manifest; support.esri.com 000025575].
    return {
        "name": name,
        "version": version,
        "build_string": build_string,
        "dist_name": f"{name}-{version}-{build_string}",
        "channel": channel,
        "build_number": build_number,
        "base_url": None,
        "platform": None,
    }


def manifest_for(system_runtime_id: str) -> dict:
    """The manifest of a system runtime; a copy reports its source's [inferred]."""
    return esri_manifest(advanced=system_runtime_id == ADVANCED_ID)


def esri_manifest(*, advanced: bool) -> dict:
    """The libraries of Esri's Standard runtime, or of its Advanced one (a superset, M2).

    Both flavours ship the same two kinds of runtime; each names them by its own ids.
    """
    rows = _data()["standard"]
    if advanced:
        rows = rows + _data()["advanced_extra"]
    return {"libraries": [_library(*row) for row in rows]}


def uploaded(raw: bytes) -> dict[str, Any]:
    """The manifest an uploaded ``manifestFile`` holds, or ``InvalidParameters`` saying why.

    Accepted [inferred]: the manifest resource's own shape ``{"libraries": [...]}``, or
    ``conda list --json`` output (a list of libraries), which is what Esri's manifests
    are [support.esri.com 000025575]. Each library needs a string ``name`` and
    ``version``; the other keys are kept when given, else null, in Esri's order.
    """
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidParameters(messages.MANIFEST_NOT_JSON.format(name=UPLOAD_NAME)) from None
    return checked(value)


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def checked(value: Any) -> dict[str, Any]:
    """``value`` (parsed JSON) as a manifest, or ``InvalidParameters`` naming the first problem.

    The whole value must be strict JSON, as every other JSON parameter: ``json.loads``
    lets a lone surrogate escape through, and one kept would break every answer
    that shows the manifest, and the state export.
    """
    rule = strict_json_rule_broken(value)
    if rule in (messages.JSON_NOT_UNICODE, messages.JSON_TOO_DEEP):
        raise InvalidParameters(rule.format(name=UPLOAD_NAME, depth=JSON_MAX_DEPTH))
    if rule is not None:
        raise InvalidParameters(messages.MANIFEST_NOT_JSON.format(name=UPLOAD_NAME))
    rows = value.get("libraries") if isinstance(value, dict) else value
    if not isinstance(rows, list) or not rows:
        raise InvalidParameters(messages.MANIFEST_NOT_A_LIST.format(name=UPLOAD_NAME))
    if len(rows) > MAX_LIBRARIES:
        raise InvalidParameters(
            messages.MANIFEST_TOO_LONG.format(name=UPLOAD_NAME, limit=MAX_LIBRARIES)
        )
    libraries = []
    for index, row in enumerate(rows):
        if not (
            isinstance(row, dict)
            and isinstance(row.get("name"), str)
            and row["name"].strip()
            and isinstance(row.get("version"), str)
            and row["version"].strip()
        ):
            raise InvalidParameters(
                messages.MANIFEST_BAD_LIBRARY.format(name=UPLOAD_NAME, index=index)
            )
        libraries.append({key: _typed(key, row.get(key)) for key in LIBRARY_KEYS})
    return {"libraries": libraries}


def from_snapshot(raw: Any, index: int) -> dict[str, Any] | None:
    """The uploaded manifest of a state snapshot's ``runtimes[index]``, if any, checked as an
    upload is (M4); ``ValueError`` naming it and its first problem."""
    if raw is None:
        return None
    try:
        return checked(raw)
    except InvalidParameters as invalid:
        raise ValueError(f"runtimes[{index}].manifest: {invalid.messages[0]}") from None


def _typed(key: str, value: Any) -> Any:
    """``value`` when it has the type Esri's rows give ``key``, else null."""
    if key == "build_number":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return value if isinstance(value, str) else None
