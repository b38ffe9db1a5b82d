"""Export and import of the emulated deployment's state (LocalStack-style snapshots).

A snapshot holds the runtimes (with the system runtime each copy came from,
and the manifest ``update`` uploaded for it, if any), the id sequence, the last
revision and the seed: enough to bring a fresh
emulator to the same observable state. It never holds the token secret.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from mockserver.control.errors import ControlError
from mockserver.control.shared import SharedSettings
from mockserver.errors import InvalidParameters
from mockserver.runtimes import manifests
from mockserver.runtimes.model import Runtime

FORMAT = "nbmock-state"
VERSION = 1

#: JSON types each runtime field may have (bool is not a number here).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bool": (bool,),
    "float": (int, float),
    "int": (int,),
    "dict[str, Any]": (dict,),
}


def export_state(deployment: Any, settings: SharedSettings) -> dict[str, Any]:
    with deployment.store.transaction() as tx:
        manifests = tx.uploaded_manifests()
        runtimes = [
            {"runtime": body, "sourceId": source_id}
            | ({"manifest": manifests[body["id"]]} if body["id"] in manifests else {})
            for body, source_id in tx.list_runtimes()
        ]
        id_sequence = int(tx.get_meta("id_sequence", "0"))
        last_revision = int(tx.get_meta("last_revision", "0"))
    return {
        "format": FORMAT,
        "version": VERSION,
        "release": deployment.release.name,
        "runtimes": runtimes,
        "idSequence": id_sequence,
        "lastRevision": last_revision,
        "seed": settings.ids.seed,
    }


def import_state(deployment: Any, settings: SharedSettings, snapshot: Any) -> int:
    """Replace the runtimes with the snapshot's; returns how many. Nothing changes if it is refused."""
    runtimes, id_sequence, last_revision, seed = _checked(snapshot, deployment.release.name)
    with settings.change() as tx:
        tx.delete_all_runtimes()
        for body, source_id, manifest in runtimes:
            tx.insert_runtime(body, source_id=source_id)
            tx.set_uploaded_manifest(body["id"], manifest)
        tx.set_meta("id_sequence", str(id_sequence))
        newest = max([last_revision, *(body["revision"] for body, _, _ in runtimes)])
        current = int(tx.get_meta("last_revision", "0"))
        # Revisions never go back, even to an older snapshot's.
        tx.set_meta("last_revision", str(max(current, newest)))
        settings.set_seed(tx, seed)
    return len(runtimes)


def _checked(
    snapshot: Any, release_name: str
) -> tuple[list[tuple[dict[str, Any], str | None, dict[str, Any] | None]], int, int, int | None]:
    if not isinstance(snapshot, dict):
        raise ControlError("A state snapshot is a JSON object (as GET /__mock__/state gives).")
    if snapshot.get("format") != FORMAT or snapshot.get("version") != VERSION:
        raise ControlError(
            f"Not a snapshot of this format: expected format '{FORMAT}' version {VERSION}."
        )
    if snapshot.get("release") != release_name:
        raise ControlError(
            f"The snapshot is of release {str(snapshot.get('release'))[:20]!r}; "
            f"this emulator serves {release_name!r}."
        )
    raw_runtimes = snapshot.get("runtimes")
    if not isinstance(raw_runtimes, list):
        raise ControlError("'runtimes' must be a list.")
    runtimes: list[tuple[dict[str, Any], str | None, dict[str, Any] | None]] = []
    ids: set[str] = set()
    revisions: set[int] = set()
    for index, item in enumerate(raw_runtimes):
        if not isinstance(item, dict) or not isinstance(item.get("runtime"), dict):
            raise ControlError(
                f'runtimes[{index}] must be {{"runtime": {{...}}, "sourceId": ...}}.'
            )
        body = _runtime(item["runtime"], index)
        source_id = item.get("sourceId")
        if source_id is not None and not isinstance(source_id, str):
            raise ControlError(f"runtimes[{index}].sourceId must be a string or null.")
        if body["id"] in ids:
            raise ControlError(f"runtimes[{index}]: id {body['id'][:60]!r} appears twice.")
        if body["revision"] in revisions:
            raise ControlError(f"runtimes[{index}]: revision {body['revision']} appears twice.")
        ids.add(body["id"])
        revisions.add(body["revision"])
        runtimes.append((body, source_id, _manifest(item.get("manifest"), index)))
    id_sequence = _non_negative_int(snapshot.get("idSequence", 0), "idSequence")
    last_revision = _non_negative_int(snapshot.get("lastRevision", 0), "lastRevision")
    seed = snapshot.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ControlError("'seed' must be an integer or null.")
    return runtimes, id_sequence, last_revision, seed


def _runtime(raw: dict[str, Any], index: int) -> dict[str, Any]:
    expected = {field.name: str(field.type) for field in fields(Runtime)}
    missing = [name for name in expected if name not in raw]
    unknown = [name for name in raw if name not in expected]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(name[:40] for name in unknown[:10])}")
        raise ControlError(f"runtimes[{index}]: {'; '.join(problems)}.")
    for name, type_name in expected.items():
        value = raw[name]
        allowed = _FIELD_TYPES.get(type_name, (object,))
        wrong_bool = isinstance(value, bool) and bool not in allowed
        not_finite = isinstance(value, float) and not math.isfinite(value)
        if not isinstance(value, allowed) or wrong_bool or not_finite:
            raise ControlError(f"runtimes[{index}].{name} has the wrong type.")
    if not raw["id"]:
        raise ControlError(f"runtimes[{index}].id must not be empty.")
    _non_negative_int(raw["revision"], f"runtimes[{index}].revision")
    return Runtime.from_dict(raw).to_dict()


def _manifest(raw: Any, index: int) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        return manifests.checked(raw)
    except InvalidParameters as problem:
        raise ControlError(f"runtimes[{index}].manifest: {problem.messages[0]}") from None


def _non_negative_int(value: Any, name: str) -> int:
    # SQLite keeps 64-bit integers; beyond that an import would fail half-way.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
        raise ControlError(f"'{name}' must be a non-negative integer below 2**62.")
    return value
