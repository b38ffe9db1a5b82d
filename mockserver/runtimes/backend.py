"""The runtimes backend: applies the model's rules to the store's state.

No HTTP here: handlers hand it request parameters as strings and render what
it returns. Every change runs in one store transaction, so a refused request
changes nothing and concurrent requests never interleave.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockserver.core import counters
from mockserver.core.errors import InvalidParameters
from mockserver.runtimes import manifests, model
from mockserver.runtimes.catalogue import Catalogue
from mockserver.runtimes.model import Runtime
from mockserver.runtimes.owner import RuntimesOwner
from mockserver.runtimes.releases import RELEASES
from mockserver.runtimes.store import Transaction, revision_after

#: The emulator's own system runtimes and manifests, where no deployment profile gives others.
_OWN_CATALOGUE = Catalogue()


class RuntimesBackend(RuntimesOwner[Runtime]):
    runtime_type = Runtime

    @property
    def system(self) -> Catalogue:
        """The system runtimes and their manifests: a deployment profile's, else the
        emulator's own."""
        return self.catalogue or _OWN_CATALOGUE

    def shipped(self) -> list[dict[str, Any]]:
        """The release's system runtimes."""
        return self.system.seeded(self.current_runtime_version)

    def is_shipped(self, body: dict[str, Any]) -> bool:
        """The system runtimes; copied runtimes keep their version until upgraded
        [doc: upgrade, 12.1]."""
        return not body["copied"]

    # --- reads -----------------------------------------------------------------

    def offered_operations(self, runtime: Runtime) -> frozenset[str]:
        return model.offered_operations(
            runtime, self.release.operations, self.current_runtime_version
        )

    def manifest(self, runtime_id: str) -> dict:
        """The manifest last uploaded for the runtime, else its system runtime's."""
        runtime = self.get(runtime_id)
        uploaded = self.store.uploaded_manifest(runtime_id)
        if uploaded is not None:
            return uploaded
        source_id = self.store.source_of(runtime_id) or runtime.id
        return self.system.manifest(source_id)

    # --- writes ----------------------------------------------------------------

    def copy(self, source_id: str, params: Mapping[str, str]) -> Runtime:
        with self.store.transaction() as tx:
            source = self._get(tx, source_id)
            # Both counters in one read and one write: a copy pays for each thing once.
            id_sequence, last_revision = tx.counters()
            sequence, new_id, property_id = self._free_ids(tx, id_sequence)
            runtime = model.copy_of(source, params, new_id=new_id, property_id=property_id)
            runtime.revision = counters.checked(
                revision_after(last_revision, self.clock.now_ms()), "revision counter"
            )
            # A copy starts with the libraries its source has now [inferred, M3].
            tx.insert_copy(runtime.to_dict(), source_id=source.id)
            tx.set_counters(sequence, runtime.revision)
        return runtime

    def update(
        self, runtime_id: str, params: Mapping[str, str], manifest_file: bytes | None = None
    ) -> Runtime:
        """Apply ``params``, and the uploaded ``manifestFile`` when one came [client].

        An empty upload counts as none (C18); one that does not parse refuses the
        whole update, so nothing changes.
        """
        manifest = manifests.uploaded(manifest_file) if manifest_file else None
        with self.store.transaction() as tx:
            runtime = model.updated(self._get(tx, runtime_id), params)
            runtime.revision = self._next_revision(tx)
            tx.replace_runtime(runtime.to_dict())
            if manifest is not None:
                tx.set_uploaded_manifest(runtime_id, manifest)
        return runtime

    def unregister(self, runtime_id: str) -> Runtime:
        """Remove the runtime; the one removed is returned, for the page that says so."""
        with self.store.transaction() as tx:
            runtime = self._get(tx, runtime_id)
            model.check_unregister(runtime)
            for check in self.unregister_checks:
                check(tx, runtime_id)
            tx.delete_runtime(runtime_id)
        return runtime

    def upgrade(self, runtime_id: str) -> Runtime:
        with self.store.transaction() as tx:
            runtime = model.upgraded(self._get(tx, runtime_id), self.current_runtime_version)
            runtime.revision = self._next_revision(tx)
            tx.replace_runtime(runtime.to_dict())
        return runtime

    def _free_ids(self, tx: Transaction, sequence: int) -> tuple[int, str, str]:
        """The next id sequence after ``sequence`` whose runtime id is not taken, with its ids.

        Seeded ids follow the sequence, and an imported state may hold a sequence
        below ids it already has: those sequences are skipped, never reused.
        """
        while True:
            sequence = counters.checked(sequence + 1, "id sequence")
            new_id, property_id = self.ids.for_sequence(sequence)
            if tx.get_runtime(new_id) is None:
                return sequence, new_id, property_id

    # --- state owner (reset, export, load: mockserver/core/owners.py) --------------------

    def export(self, tx: Transaction) -> dict[str, Any]:
        """The runtimes (with the system runtime each copy came from, and the manifest
        ``update`` uploaded for it, if any) and both counters."""
        return {
            "runtimes": [
                {"runtime": body, "sourceId": source_id}
                | ({} if manifest is None else {"manifest": manifest})
                for body, source_id, manifest in tx.runtimes_with_manifests()
            ],
            **counters.exported(tx.counters()),
        }

    def load(self, tx: Transaction, snapshot: Mapping[str, Any]) -> None:
        """Replace the runtimes with the snapshot's, each checked by the API's own model.

        Raises ``ValueError`` naming the first bad runtime or counter, before any write.
        """
        runtimes = _snapshot_runtimes(snapshot.get("runtimes"))
        id_sequence, last_revision = counters.of_snapshot(snapshot)
        system = [Runtime.from_dict({**body, "revision": 0}) for body in self.shipped()]
        problem = model.unreachable(
            [(runtime, source_id) for runtime, source_id, _ in runtimes],
            system=system,
            copy_versions=self._copy_versions(system),
        )
        if problem is not None:
            raise ValueError(problem)
        counters.check_last_revision(
            last_revision, (runtime.revision for runtime, _, _ in runtimes)
        )
        tx.load_runtimes(
            [(runtime.to_dict(), source_id, manifest) for runtime, source_id, manifest in runtimes],
            id_sequence=id_sequence,
            last_revision=last_revision,
        )

    def _copy_versions(self, system: list[Runtime]) -> list[str]:
        """The runtime versions a copy can have in this release: those of the releases
        up to this one that offer copy (a copy keeps its version until upgraded), and,
        where this release copies, its system runtimes' own: a captured deployment's
        (mockserver/core/profile.py) may be at a version no release here names."""
        current = model.version_key(self.current_runtime_version)
        versions = [
            profile.runtime_version
            for profile in RELEASES.values()
            if "copy" in profile.operations
            and model.version_key(profile.runtime_version) <= current
        ]
        if "copy" in self.release.operations:
            versions += [runtime.version for runtime in system if runtime.version not in versions]
        return versions


def _snapshot_runtimes(raw: Any) -> list[tuple[Runtime, str | None, dict[str, Any] | None]]:
    if not isinstance(raw, list):
        raise ValueError("'runtimes' must be a list.")
    runtimes: list[tuple[Runtime, str | None, dict[str, Any] | None]] = []
    ids: set[str] = set()
    revisions: set[int] = set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("runtime"), dict):
            raise ValueError(f'runtimes[{index}] must be {{"runtime": {{...}}, "sourceId": ...}}.')
        try:
            runtime = model.stored_runtime(item["runtime"])
        except InvalidParameters as invalid:
            raise ValueError(f"runtimes[{index}]: {' '.join(invalid.messages)}") from None
        source_id = item.get("sourceId")
        if source_id is not None and (
            not isinstance(source_id, str) or not source_id.isprintable()
        ):
            raise ValueError(f"runtimes[{index}].sourceId must be a string or null.")
        if runtime.id in ids:
            raise ValueError(f"runtimes[{index}]: id {runtime.id[:60]!r} appears twice.")
        if runtime.revision in revisions:
            raise ValueError(f"runtimes[{index}]: revision {runtime.revision} appears twice.")
        ids.add(runtime.id)
        revisions.add(runtime.revision)
        runtimes.append((runtime, source_id, manifests.from_snapshot(item.get("manifest"), index)))
    return runtimes
