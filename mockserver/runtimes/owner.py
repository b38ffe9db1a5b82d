"""What both flavours' runtimes backends are: the owner of the runtimes in the one store.

Shared furniture, as the store is. Both flavours keep their runtimes as JSON bodies in
the store's ``runtimes`` table with the same two counters, seed a fresh state with the
runtimes their release ships, move those (and only those) to a new release's runtime
version, and are reset, exported and loaded by the control plane
(``mockserver/core/owners.py``). Each flavour's backend says which runtimes its release
ships and holds every rule about them; this class holds none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from mockserver.core import counters, messages
from mockserver.core.clock import Clock
from mockserver.core.errors import NotFound
from mockserver.core.ids import IdGenerator
from mockserver.core.release import Release
from mockserver.runtimes.store import Store, Transaction

if TYPE_CHECKING:  # a profile's runtimes and manifests; the Kubernetes defaults stay unread
    from mockserver.runtimes.catalogue import Catalogue

#: The flavour's runtime type.
R = TypeVar("R")


class RuntimesOwner(Generic[R]):
    #: The flavour's runtime: what a stored body is read as.
    runtime_type: ClassVar[type]

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
        #: A deployment profile's runtimes and manifests (mockserver/core/profile.py).
        self.catalogue = catalogue
        #: Rules other rooms add to unregister, run in its transaction before the runtime
        #: goes: ``check(tx, runtime_id)`` raises to refuse (the workload: a runtime that
        #: open notebooks use). The runtimes' rooms never import them.
        self.unregister_checks: list[Callable[[Transaction, str], None]] = []
        self._seed_or_migrate()

    # --- what each flavour says ----------------------------------------------------

    def shipped(self) -> list[dict[str, Any]]:
        """The bodies of the runtimes this release ships, without revisions: a fresh
        state's runtimes."""
        raise NotImplementedError

    def is_shipped(self, body: dict[str, Any]) -> bool:
        """Whether the stored runtime ``body`` is one the release ships: only those move
        to a new release's runtime version."""
        raise NotImplementedError

    # --- reads -------------------------------------------------------------------------

    @property
    def current_runtime_version(self) -> str:
        return self.release.runtime_version

    def list(self) -> list[R]:
        return [self.runtime_type.from_dict(body) for body in self.store.list_runtimes()]

    def get(self, runtime_id: str) -> R:
        return self._read(self.store.get_runtime(runtime_id), runtime_id)

    # --- state owner (reset, export, load: mockserver/core/owners.py) --------------------

    def reset(self, tx: Transaction | None = None) -> None:
        """Back to the release's seeded state: only the runtimes it ships, as shipped.

        The revision counter starts again from the clock: a reset deployment is a
        fresh one, and this is how one that reached ``MAX_COUNTER`` recovers.
        """
        if tx is None:
            with self.store.transaction() as own:
                return self.reset(own)
        tx.clear_runtimes()
        self._seed(tx)
        return None

    # --- for the flavour's writes --------------------------------------------------------

    def _get(self, tx: Transaction, runtime_id: str) -> R:
        return self._read(tx.get_runtime(runtime_id), runtime_id)

    def _next_revision(self, tx: Transaction) -> int:
        return counters.checked(tx.next_revision(self.clock.now_ms()), "revision counter")

    def _read(self, body: dict[str, Any] | None, runtime_id: str) -> R:
        if body is None:
            raise NotFound(messages.RUNTIME_NOT_FOUND.format(id=runtime_id))
        return self.runtime_type.from_dict(body)

    # --- seeding -------------------------------------------------------------------------

    def _seed_or_migrate(self) -> None:
        """Seed a new state; on another release's state, the runtimes this release ships take
        its runtime version, and the others keep theirs."""
        with self.store.transaction() as tx:
            if tx.get_meta("release") is None:
                self._seed(tx)
            elif tx.get_meta("release") != self.release.name:
                for body, _source in tx.list_runtimes():
                    if self.is_shipped(body):
                        body["version"] = self.current_runtime_version
                        body["revision"] = self._next_revision(tx)
                        tx.replace_runtime(body)
                tx.set_meta("release", self.release.name)

    def _seed(self, tx: Transaction) -> None:
        for body in self.shipped():
            body["revision"] = self._next_revision(tx)
            tx.insert_runtime(self.runtime_type.from_dict(body).to_dict())
        tx.set_meta("release", self.release.name)
