"""Export and import of the emulated deployment's state (LocalStack-style snapshots).

A snapshot is one JSON object: a header (format, version, flavour, release) and the
keys each state owner exports (mockserver/core/owners.py): the runtimes with the
system runtime each copy came from, the id sequence and last revision, the
seed. Enough to bring a fresh emulator to the same observable state; it
never holds the token secret. Each owner checks its own part on import, the
runtimes with the API's own model, so an import can hold nothing the API
would refuse.
"""

from __future__ import annotations

from typing import Any

from mockserver.control.context import Control
from mockserver.control.errors import ControlError

FORMAT = "nbmock-state"
VERSION = 1


def export_state(control: Control) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "flavour": control.deployment.flavour.name,
        "release": control.deployment.release.name,
    }
    with control.deployment.store.transaction() as tx:
        for owner in control.owners:
            snapshot.update(owner.export(tx))
    return snapshot


def import_state(control: Control, snapshot: Any) -> int:
    """Replace the state with the snapshot's; returns how many runtimes. Nothing changes if
    it is refused."""
    release_name = control.deployment.release.name
    if not isinstance(snapshot, dict):
        raise ControlError("A state snapshot is a JSON object (as GET /__mock__/state gives).")
    if snapshot.get("format") != FORMAT or snapshot.get("version") != VERSION:
        raise ControlError(
            f"Not a snapshot of this format: expected format '{FORMAT}' version {VERSION}."
        )
    # Snapshots made before the second flavour name none: they hold Kubernetes runtimes.
    flavour_name = control.deployment.flavour.name
    if snapshot.get("flavour", "kubernetes") != flavour_name:
        raise ControlError(
            f"The snapshot is of flavour {str(snapshot.get('flavour'))[:20]!r}; "
            f"this emulator serves {flavour_name!r}."
        )
    if snapshot.get("release") != release_name:
        raise ControlError(
            f"The snapshot is of release {str(snapshot.get('release'))[:20]!r}; "
            f"this emulator serves {release_name!r}."
        )
    try:
        with control.settings.change() as tx:
            for owner in control.owners:
                owner.load(tx, snapshot)
    except ValueError as refused:
        raise ControlError(str(refused)) from None
    return len(snapshot["runtimes"])


def reset_state(control: Control, *, seed: int | None, seed_given: bool) -> None:
    """Every owner back to a fresh deployment's state, in one transaction."""
    with control.settings.change() as tx:
        for owner in control.owners:
            owner.reset(tx)
        if seed_given:
            control.settings.set_seed(tx, seed)
