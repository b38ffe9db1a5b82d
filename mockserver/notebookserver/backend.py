"""The standalone Notebook Server's runtimes backend: the model's rules on the store's state.

No HTTP here. Every change runs in one store transaction, so a refused request
changes nothing. It is also the runtimes' state owner (reset, export, load) for
the control plane, as the Kubernetes backend is for its flavour.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mockserver.core import counters
from mockserver.core.errors import InvalidParameters
from mockserver.notebookserver import model
from mockserver.notebookserver.model import ServerRuntime
from mockserver.notebookserver.releases import ADVANCED_ID, esri_runtimes
from mockserver.runtimes import manifests
from mockserver.runtimes.owner import RuntimesOwner
from mockserver.runtimes.store import Transaction


class ServerRuntimesBackend(RuntimesOwner[ServerRuntime]):
    """``catalogue``: a deployment profile's Esri runtimes and manifests
    (mockserver/core/profile.py); None: Esri's as the docs give them."""

    runtime_type = ServerRuntime

    def shipped(self) -> list[dict[str, Any]]:
        """Esri's runtimes as this deployment ships them: a profile's, else the docs'."""
        captured = self.catalogue.runtimes if self.catalogue else None
        # Captured runtimes keep the version they were captured at: a fact of that site.
        if captured is not None:
            return [copy.deepcopy(body) for body in captured]
        return esri_runtimes(self.current_runtime_version)

    def is_shipped(self, body: dict[str, Any]) -> bool:
        """Esri's runtimes: on another release's state they take this release's runtime
        version (an upgraded site ships its own) [inferred]."""
        return body["esriProvidedRuntime"]

    # --- reads -----------------------------------------------------------------

    def offered_operations(self, runtime: ServerRuntime) -> frozenset[str]:
        return model.offered_operations(runtime, self.release.operations)

    def manifest(self, runtime_id: str) -> dict[str, Any]:
        """The manifest uploaded or created for the runtime; an Esri runtime's own libraries;
        else none listed [inferred]."""
        runtime = self.get(runtime_id)
        uploaded = self.store.uploaded_manifest(runtime_id)
        if uploaded is not None:
            return uploaded
        if runtime.esriProvidedRuntime:
            captured = self.catalogue.manifests.get(runtime.id) if self.catalogue else None
            if captured is not None:
                return copy.deepcopy(captured)
            return _esri_manifest(runtime.id == ADVANCED_ID)
        return {"libraries": []}

    def validate(self, machine: str) -> dict[str, Any]:
        return model.validation(self.list(), machine)

    # --- writes ----------------------------------------------------------------

    def register(
        self, params: Mapping[str, str], manifest_file: bytes | None = None
    ) -> ServerRuntime:
        """Add the runtime ``params`` describe, with its uploaded ``manifestFile`` or, when
        ``createManifestFile`` is true, one listing the libraries of the Esri runtime of
        its kind [inferred]. A manifest that does not parse refuses the whole request."""
        manifest = manifests.uploaded(manifest_file) if manifest_file else None
        with self.store.transaction() as tx:
            sequence, new_id = self._free_id(tx)
            runtime = model.registered(
                params,
                new_id=new_id,
                release_name=self.release.name,
                current_version=self.current_runtime_version,
            )
            if manifest is None and model.wants_created_manifest(params):
                manifest = _esri_manifest(runtime.requiresAdvancedPrivileges)
            if manifest is not None:
                runtime.manifestFile = model.MANIFEST_FILE_NAME
            tx.set_meta("id_sequence", str(sequence))
            runtime.revision = self._next_revision(tx)
            tx.insert_runtime(runtime.to_dict())
            tx.set_uploaded_manifest(runtime.id, manifest)
        return runtime

    def update(
        self, runtime_id: str, params: Mapping[str, str], manifest_file: bytes | None = None
    ) -> ServerRuntime:
        """Apply ``params``, and the uploaded ``manifestFile`` when one came [client]."""
        manifest = manifests.uploaded(manifest_file) if manifest_file else None
        with self.store.transaction() as tx:
            runtime = model.updated(
                self._get(tx, runtime_id), params, release_name=self.release.name
            )
            if manifest is not None:
                runtime.manifestFile = model.MANIFEST_FILE_NAME
                tx.set_uploaded_manifest(runtime_id, manifest)
            runtime.revision = self._next_revision(tx)
            tx.replace_runtime(runtime.to_dict())
        return runtime

    def unregister(self, runtime_id: str) -> None:
        with self.store.transaction() as tx:
            model.check_unregister(self._get(tx, runtime_id))
            for check in self.unregister_checks:
                check(tx, runtime_id)
            tx.delete_runtime(runtime_id)

    def restore(self) -> None:
        """[doc: restore-factory-runtimes] "restores the set of runtimes that match your
        site's version, and removes all others": Esri's runtimes as shipped, nothing else."""
        with self.store.transaction() as tx:
            tx.delete_all_runtimes()
            self._seed(tx)

    def _free_id(self, tx: Transaction) -> tuple[int, str]:
        """The next id sequence whose runtime id is not taken, and that id."""
        sequence = int(tx.get_meta("id_sequence", "0"))
        while True:
            sequence = counters.checked(sequence + 1, "id sequence")
            new_id, _property_id = self.ids.for_sequence(sequence)
            if tx.get_runtime(new_id) is None:
                return sequence, new_id

    # --- state owner (reset, export, load: mockserver/core/owners.py) --------------------

    def export(self, tx: Transaction) -> dict[str, Any]:
        return {
            "runtimes": [
                {"runtime": body} | ({} if manifest is None else {"manifest": manifest})
                for body, _source, manifest in tx.runtimes_with_manifests()
            ],
            **counters.exported(tx.counters()),
        }

    def load(self, tx: Transaction, snapshot: Mapping[str, Any]) -> None:
        """Replace the runtimes with the snapshot's, each checked by the model.

        Raises ``ValueError`` naming the first bad runtime or counter, before any write.
        """
        runtimes = _snapshot_runtimes(snapshot.get("runtimes"))
        id_sequence, last_revision = counters.of_snapshot(snapshot)
        problem = model.unreachable(
            [runtime for runtime, _ in runtimes],
            esri_ids=[body["id"] for body in self.shipped()],
        )
        if problem is not None:
            raise ValueError(problem)
        counters.check_last_revision(last_revision, (runtime.revision for runtime, _ in runtimes))
        tx.load_runtimes(
            [(runtime.to_dict(), None, manifest) for runtime, manifest in runtimes],
            id_sequence=id_sequence,
            last_revision=last_revision,
        )


def _esri_manifest(advanced: bool) -> dict[str, Any]:
    """The libraries of Esri's Standard or Advanced runtime: the same rows as the Kubernetes
    flavour's [doc: the manifest resources of both flavours show conda's rows]."""
    return manifests.esri_manifest(advanced=advanced)


def _snapshot_runtimes(raw: Any) -> list[tuple[ServerRuntime, dict[str, Any] | None]]:
    if not isinstance(raw, list):
        raise ValueError("'runtimes' must be a list.")
    runtimes: list[tuple[ServerRuntime, dict[str, Any] | None]] = []
    ids: set[str] = set()
    revisions: set[int] = set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("runtime"), dict):
            raise ValueError(f'runtimes[{index}] must be {{"runtime": {{...}}}}.')
        try:
            runtime = model.stored_runtime(item["runtime"])
        except InvalidParameters as invalid:
            raise ValueError(f"runtimes[{index}]: {' '.join(invalid.messages)}") from None
        if runtime.id in ids:
            raise ValueError(f"runtimes[{index}]: id {runtime.id[:60]!r} appears twice.")
        if runtime.revision in revisions:
            raise ValueError(f"runtimes[{index}]: revision {runtime.revision} appears twice.")
        ids.add(runtime.id)
        revisions.add(runtime.revision)
        runtimes.append((runtime, manifests.from_snapshot(item.get("manifest"), index)))
    return runtimes
