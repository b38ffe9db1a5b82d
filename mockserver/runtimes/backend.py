"""The runtimes backend: applies the model's rules to the store's state.

No HTTP here: handlers hand it request parameters as strings and render what
it returns. Every change runs in one store transaction, so a refused request
changes nothing and concurrent requests never interleave.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mockserver.core import counters, messages
from mockserver.core.clock import Clock
from mockserver.core.errors import InvalidParameters, NotFound
from mockserver.core.ids import IdGenerator
from mockserver.runtimes import manifests, model
from mockserver.runtimes.catalogue import Catalogue
from mockserver.runtimes.model import Runtime
from mockserver.runtimes.releases import RELEASES, Release
from mockserver.runtimes.store import Store, Transaction, revision_after


class RuntimesBackend:
    def __init__(
        self,
        store: Store,
        release: Release,
        clock: Clock,
        ids: IdGenerator,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.store = store
        self.release = release
        self.clock = clock
        self.ids = ids
        self.catalogue = catalogue or Catalogue()
        #: Rules other rooms add to unregister, run in its transaction before the runtime
        #: goes: ``check(tx, runtime_id)`` raises to refuse (the workload: a runtime that
        #: open notebooks use). The runtimes room never imports them.
        self.unregister_checks: list[Callable[[Transaction, str], None]] = []
        self._seed_or_migrate()

    @property
    def current_runtime_version(self) -> str:
        return self.release.runtime_version

    # --- reads -----------------------------------------------------------------

    def list(self) -> list[Runtime]:
        return [Runtime.from_dict(body) for body in self.store.list_runtimes()]

    def get(self, runtime_id: str) -> Runtime:
        body = self.store.get_runtime(runtime_id)
        if body is None:
            raise _not_found(runtime_id)
        return Runtime.from_dict(body)

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
        return self.catalogue.manifest(source_id)

    # --- writes ----------------------------------------------------------------

    def copy(self, source_id: str, params: Mapping[str, str]) -> Runtime:
        with self.store.transaction() as tx:
            source = _get(tx, source_id)
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
            runtime = model.updated(_get(tx, runtime_id), params)
            runtime.revision = _next_revision(tx, self.clock)
            tx.replace_runtime(runtime.to_dict())
            if manifest is not None:
                tx.set_uploaded_manifest(runtime_id, manifest)
        return runtime

    def unregister(self, runtime_id: str) -> Runtime:
        """Remove the runtime; the one removed is returned, for the page that says so."""
        with self.store.transaction() as tx:
            runtime = _get(tx, runtime_id)
            model.check_unregister(runtime)
            for check in self.unregister_checks:
                check(tx, runtime_id)
            tx.delete_runtime(runtime_id)
        return runtime

    def upgrade(self, runtime_id: str) -> Runtime:
        with self.store.transaction() as tx:
            runtime = model.upgraded(_get(tx, runtime_id), self.current_runtime_version)
            runtime.revision = _next_revision(tx, self.clock)
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

    def reset(self, tx: Transaction | None = None) -> None:
        """Back to the release's seeded state: copies gone, system runtimes as shipped.

        The revision counter starts again from the clock: a reset deployment is a
        fresh one, and this is how one that reached ``MAX_COUNTER`` recovers.
        """
        if tx is None:
            with self.store.transaction() as own:
                return self.reset(own)
        tx.clear_runtimes()
        self._seed(tx)
        return None

    def export(self, tx: Transaction) -> dict[str, Any]:
        """The runtimes (with the system runtime each copy came from, and the manifest
        ``update`` uploaded for it, if any) and both counters."""
        return {
            "runtimes": [
                {"runtime": body, "sourceId": source_id}
                | ({} if manifest is None else {"manifest": manifest})
                for body, source_id, manifest in tx.runtimes_with_manifests()
            ],
            "idSequence": int(tx.get_meta("id_sequence", "0")),
            "lastRevision": int(tx.get_meta("last_revision", "0")),
        }

    def load(self, tx: Transaction, snapshot: Mapping[str, Any]) -> None:
        """Replace the runtimes with the snapshot's, each checked by the API's own model.

        Raises ``ValueError`` naming the first bad runtime or counter, before any write.
        """
        runtimes = _snapshot_runtimes(snapshot.get("runtimes"))
        id_sequence = counters.from_snapshot(snapshot.get("idSequence", 0), "idSequence")
        last_revision = counters.from_snapshot(snapshot.get("lastRevision", 0), "lastRevision")
        system = [
            Runtime.from_dict({**body, "revision": 0})
            for body in self.catalogue.seeded(self.current_runtime_version)
        ]
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

    # --- seeding ---------------------------------------------------------------

    def _seed_or_migrate(self) -> None:
        """Seed a new state; bring an older release's system runtimes to this release.

        Copied runtimes keep their version until upgraded [doc: upgrade, 12.1].
        """
        with self.store.transaction() as tx:
            if tx.get_meta("release") is None:
                self._seed(tx)
            elif tx.get_meta("release") != self.release.name:
                for body, _source in tx.list_runtimes():
                    if not body["copied"]:
                        body["version"] = self.current_runtime_version
                        body["revision"] = _next_revision(tx, self.clock)
                        tx.replace_runtime(body)
                tx.set_meta("release", self.release.name)

    def _seed(self, tx: Transaction) -> None:
        for body in self.catalogue.seeded(self.current_runtime_version):
            body["revision"] = _next_revision(tx, self.clock)
            tx.insert_runtime(Runtime.from_dict(body).to_dict())
        tx.set_meta("release", self.release.name)


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


def _next_revision(tx: Transaction, clock: Clock) -> int:
    return counters.checked(tx.next_revision(clock.now_ms()), "revision counter")


def _get(tx: Transaction, runtime_id: str) -> Runtime:
    body = tx.get_runtime(runtime_id)
    if body is None:
        raise _not_found(runtime_id)
    return Runtime.from_dict(body)


def _not_found(runtime_id: str) -> NotFound:
    return NotFound(messages.RUNTIME_NOT_FOUND.format(id=runtime_id))
