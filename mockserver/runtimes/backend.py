"""The runtimes backend: applies the model's rules to the store's state.

No HTTP here: handlers hand it request parameters as strings and render what
it returns. Every change runs in one store transaction, so a refused request
changes nothing and concurrent requests never interleave.
"""

from __future__ import annotations

from collections.abc import Mapping

from mockserver import messages
from mockserver.clock import Clock
from mockserver.errors import NotFound
from mockserver.ids import IdGenerator
from mockserver.runtimes import model
from mockserver.runtimes.manifests import manifest_for
from mockserver.runtimes.model import Runtime
from mockserver.runtimes.releases import Release, system_runtimes
from mockserver.runtimes.store import Store, Transaction


class RuntimesBackend:
    def __init__(self, store: Store, release: Release, clock: Clock, ids: IdGenerator) -> None:
        self.store = store
        self.release = release
        self.clock = clock
        self.ids = ids
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
        runtime = self.get(runtime_id)
        source_id = self.store.source_of(runtime_id) or runtime.id
        return manifest_for(source_id)

    # --- writes ----------------------------------------------------------------

    def copy(self, source_id: str, params: Mapping[str, str]) -> Runtime:
        with self.store.transaction() as tx:
            source = _get(tx, source_id)
            sequence = int(tx.get_meta("id_sequence", "0")) + 1
            new_id, property_id = self.ids.for_sequence(sequence)
            runtime = model.copy_of(source, params, new_id=new_id, property_id=property_id)
            tx.set_meta("id_sequence", str(sequence))
            runtime.revision = tx.next_revision(self.clock.now_ms())
            tx.insert_runtime(runtime.to_dict(), source_id=source.id)
        return runtime

    def update(self, runtime_id: str, params: Mapping[str, str]) -> Runtime:
        with self.store.transaction() as tx:
            runtime = model.updated(_get(tx, runtime_id), params)
            runtime.revision = tx.next_revision(self.clock.now_ms())
            tx.replace_runtime(runtime.to_dict())
        return runtime

    def unregister(self, runtime_id: str) -> None:
        with self.store.transaction() as tx:
            model.check_unregister(_get(tx, runtime_id))
            tx.delete_runtime(runtime_id)

    def upgrade(self, runtime_id: str) -> Runtime:
        with self.store.transaction() as tx:
            runtime = model.upgraded(_get(tx, runtime_id), self.current_runtime_version)
            runtime.revision = tx.next_revision(self.clock.now_ms())
            tx.replace_runtime(runtime.to_dict())
        return runtime

    def reset(self) -> None:
        """Back to the release's seeded state: copies gone, system runtimes as shipped."""
        with self.store.transaction() as tx:
            tx.delete_all_runtimes()
            tx.set_meta("id_sequence", "0")
            self._seed(tx)

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
                        body["revision"] = tx.next_revision(self.clock.now_ms())
                        tx.replace_runtime(body)
                tx.set_meta("release", self.release.name)

    def _seed(self, tx: Transaction) -> None:
        for body in system_runtimes(self.current_runtime_version):
            body["revision"] = tx.next_revision(self.clock.now_ms())
            tx.insert_runtime(Runtime.from_dict(body).to_dict())
        tx.set_meta("release", self.release.name)


def _get(tx: Transaction, runtime_id: str) -> Runtime:
    body = tx.get_runtime(runtime_id)
    if body is None:
        raise _not_found(runtime_id)
    return Runtime.from_dict(body)


def _not_found(runtime_id: str) -> NotFound:
    return NotFound(messages.RUNTIME_NOT_FOUND.format(id=runtime_id))
