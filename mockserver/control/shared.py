"""Control settings every worker and replica must agree on, kept in the shared state.

The clock offset, the id seed and the fault rules change rarely and are read
on every request. Each change bumps ``control_generation`` in ``meta``; a
worker reads that one value per request and reloads the rest only when it
moved, so agreement costs one indexed read, not three.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mockserver.control.faults import FaultRule
from mockserver.control.store import MIGRATIONS, ControlStore, ControlWrites
from mockserver.core.clock import Clock
from mockserver.core.ids import IdGenerator
from mockserver.runtimes.store import Store, Transaction

GENERATION = "control_generation"
CLOCK_OFFSET = "control_clock_offset"
SEED = "control_seed"


class SharedSettings:
    """The control settings; also their state owner (reset, export, load)."""

    def __init__(self, store: Store, control: ControlStore, clock: Clock, ids: IdGenerator) -> None:
        self.store = store
        self.control = control
        self.clock = clock
        self.ids = ids
        self.faults: list[FaultRule] = []
        self._generation: str | None = None

    def refresh(self) -> None:
        """Pick up what another worker changed since this one last looked."""
        generation = self.store.get_meta(GENERATION, "0")
        if generation == self._generation:
            return
        offset = self.store.get_meta(CLOCK_OFFSET)
        if offset is not None:
            self.clock.offset_seconds = float(offset)
        seed = self.store.get_meta(SEED)
        if seed is not None:
            self.ids.seed = json.loads(seed)
        self.faults = [
            FaultRule.from_json(fault_id, rule)
            for fault_id, rule, _, _ in self.control.list_faults()
        ]
        self._generation = generation

    @contextmanager
    def change(self) -> Iterator[Transaction]:
        """A transaction whose changes every worker picks up on its next request."""
        self.refresh()
        with self.store.transaction() as tx:
            yield tx
            tx.set_meta(GENERATION, str(int(tx.get_meta(GENERATION, "0")) + 1))
        self.refresh()

    def set_clock_offset(self, tx: Transaction, offset_seconds: float) -> None:
        tx.set_meta(CLOCK_OFFSET, repr(float(offset_seconds)))

    def set_seed(self, tx: Transaction, seed: int | None) -> None:
        tx.set_meta(SEED, json.dumps(seed))

    # --- state owner ---------------------------------------------------------------

    def reset(self, tx: Transaction) -> None:
        """Journal and fault rules cleared, the clock back to wall-clock time; the seed kept."""
        writes = ControlWrites(tx.connection)
        writes.clear_journal()
        writes.clear_faults()
        self.set_clock_offset(tx, 0.0)

    def export(self, tx: Transaction) -> dict[str, Any]:
        seed = tx.get_meta(SEED)
        return {"seed": self.ids.seed if seed is None else json.loads(seed)}

    def load(self, tx: Transaction, snapshot: Mapping[str, Any]) -> None:
        seed = snapshot.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError("'seed' must be an integer or null.")
        self.set_seed(tx, seed)


def start_of_run(store: Store, seed: int | None) -> None:
    """What a new ``nbmock serve`` run starts from, set once before its workers start.

    Fault rules and clock moves of an earlier run would surprise whoever runs
    the next one against the same state file; the seed is the command line's.

    A replica joining a deployment kept in a database server (``store.shared``)
    leaves it as it is: the other replicas' clients may have set those faults
    and that clock. It sets the seed only when given one (every replica is
    started with the same command line); ``/__mock__/reset`` starts afresh.
    """
    store.migrate("control", MIGRATIONS)
    if store.shared:
        if seed is not None:
            with store.transaction() as tx:
                tx.set_meta(SEED, json.dumps(seed))
                tx.set_meta(GENERATION, str(int(tx.get_meta(GENERATION, "0")) + 1))
        return
    with store.transaction() as tx:
        ControlWrites(tx.connection).clear_faults()
        tx.set_meta(CLOCK_OFFSET, "0.0")
        tx.set_meta(SEED, json.dumps(seed))
        tx.set_meta(GENERATION, str(int(tx.get_meta(GENERATION, "0")) + 1))
