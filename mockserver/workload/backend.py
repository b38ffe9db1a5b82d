"""The workload backend: applies the model's rules to the stored workload, on the clock.

No HTTP here. A read loads the stored workload and lets the model settle it at the
clock's now; a write does the same inside one store transaction, applies its rule and
stores the settled result, so what the clock already closed stays closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mockserver.auth.privileges import ADVANCED_NOTEBOOKS
from mockserver.core import messages
from mockserver.core.clock import Clock
from mockserver.core.errors import Refused
from mockserver.core.flavour import WorkloadProfile
from mockserver.core.ids import IdGenerator
from mockserver.core.release import Release
from mockserver.runtimes.store import Store, Transaction
from mockserver.workload import model
from mockserver.workload.model import Caller, Host, Item, Job, Notebook, Workload
from mockserver.workload.store import WorkloadStore


class WorkloadBackend:
    def __init__(
        self,
        store: Store,
        release: Release,
        clock: Clock,
        ids: IdGenerator,
        runtimes: Any,
        profile: WorkloadProfile,
    ) -> None:
        self.store = WorkloadStore(store)
        self.release = release
        self.clock = clock
        self.ids = ids
        self.runtimes = runtimes
        self.profile = profile
        # Unregistering a runtime that open notebooks use is refused (FIDELITY J15, inferred).
        runtimes.unregister_checks.append(self._check_runtime_unused)

    # --- reading --------------------------------------------------------------------

    def _fresh(self) -> Workload:
        return Workload(configuration=self.profile.defaults(self.release.name))

    def _loaded(self, body: Mapping[str, Any] | None) -> Workload:
        return self._fresh() if body is None else Workload.from_json(body)

    def snapshot(self) -> Workload:
        """The stored workload, as last written (not yet settled at now)."""
        return self._loaded(self.store.read())

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def notebooks(self) -> list[Notebook]:
        return model.open_notebooks(self.snapshot(), self.now_ms())

    def notebook(self, notebook_id: str) -> Notebook:
        return model.open_notebook_of(self.snapshot(), notebook_id, self.now_ms())

    def hosts(self) -> list[Host]:
        return model.live_hosts(self.snapshot(), self.now_ms())

    def host(self, host_id: str) -> Host:
        return model.host_of(self.snapshot(), host_id, self.now_ms())

    def notebooks_on(self, host_id: str) -> list[Notebook]:
        return [nb for nb in self.notebooks() if nb.host_id == host_id]

    def jobs(self, *, active_only: bool = False) -> list[Job]:
        return model.jobs_at(self.snapshot(), self.now_ms(), active_only=active_only)

    def job(self, job_id: str) -> Job:
        return model.job_of(self.snapshot(), job_id, self.now_ms())

    def configuration(self) -> dict[str, Any]:
        return dict(self.snapshot().configuration)

    def item(self, item_id: str) -> Item | None:
        return self.snapshot().items.get(item_id)

    def executions(self) -> list[model.Execution]:
        return list(self.snapshot().executions)

    # --- writing --------------------------------------------------------------------

    @contextmanager
    def _change(self, tx: Transaction | None = None) -> Iterator[tuple[Workload, Transaction]]:
        """The settled workload to change, stored when the block ends without error."""
        if tx is None:
            with self.store.store.transaction() as own, self._change(own) as changing:
                yield changing
            return
        workload = model.settled(self._loaded(self.store.read_in(tx)), self.now_ms())
        yield workload, tx
        self.store.write(tx, workload.to_json())

    def open(self, caller: Caller, params: Mapping[str, str]) -> Job:
        runtime_id = params.get("notebookRuntimeId") or self.profile.standard_runtime_id
        with self._change() as (workload, tx):
            item = model.item_for(workload, params.get("itemId"))
            runtime = tx.get_runtime(runtime_id)
            model.check_runtime(runtime, runtime_id, caller)
            assert runtime is not None
            inputs = {"itemId": item.id, "notebookRuntimeId": runtime_id}
            return model.open_notebook(
                workload,
                item=item,
                runtime=runtime,
                caller=caller,
                now_ms=self.now_ms(),
                seed=self.ids.seed,
                inputs=inputs,
            )

    def execute(self, caller: Caller, params: Mapping[str, str]) -> Job:
        with self._change() as (workload, tx):
            item = model.item_for(workload, params.get("itemId"))
            # An execution runs on the Standard runtime [inferred: the item's own runtime
            # is not emulated]; it must still be there.
            standard = self.profile.standard_runtime_id
            runtime = tx.get_runtime(standard)
            model.check_runtime(runtime, standard, caller)
            assert runtime is not None
            return model.execute_notebook(
                workload,
                item=item,
                runtime=runtime,
                caller=caller,
                params=params,
                now_ms=self.now_ms(),
                seed=self.ids.seed,
            )

    def close(self, notebook_id: str) -> Notebook:
        with self._change() as (workload, _tx):
            return model.close_notebook(workload, notebook_id, self.now_ms())

    def terminate(self, host_id: str) -> Host:
        with self._change() as (workload, _tx):
            return model.terminate_host(workload, host_id, self.now_ms())

    def update_properties(self, raw: str | None) -> dict[str, Any]:
        """The standalone server's system/properties/update: ``properties`` as JSON text."""
        with self._change() as (workload, _tx):
            workload.configuration = model.updated_properties(workload.configuration, raw)
            return dict(workload.configuration)

    def _check_runtime_unused(self, tx: Transaction, runtime_id: str) -> None:
        workload = self._loaded(self.store.read_in(tx))
        users = model.runtime_users(workload, runtime_id, self.now_ms())
        if users:
            raise Refused(messages.RUNTIME_IN_USE.format(id=runtime_id, count=len(users)))

    # --- the control plane's steering and seeds (ValueError: the control plane's 400) ---

    def steer(
        self,
        *,
        execution: model.Behaviour | None = None,
        item_id: str | None = None,
        open_seconds: float | None = None,
        queue_seconds: float | None = None,
    ) -> model.Steering:
        with self._change() as (workload, _tx):
            steering = workload.steering
            if execution is not None:
                if item_id is None:
                    steering.execution = execution
                else:
                    steering.by_item[item_id] = execution
            if open_seconds is not None:
                steering.open_seconds = open_seconds
            if queue_seconds is not None:
                steering.queue_seconds = queue_seconds
            return steering

    def seed_items(self, items: list[dict[str, Any]]) -> list[Item]:
        """Notebook items, each ``{"owner", "title", "id"?}`` already checked by the caller."""
        with self._change() as (workload, _tx):
            return [
                model.seed_item(
                    workload,
                    owner=raw["owner"],
                    title=raw["title"],
                    item_id=raw.get("id"),
                    now_ms=self.now_ms(),
                    seed=self.ids.seed,
                )
                for raw in items
            ]

    def seed_notebooks(self, notebooks: list[dict[str, Any]]) -> list[Notebook]:
        """Open notebooks, each ``{"username", "runtimeId", "idleSeconds", "itemId"?,
        "title"?}``; a missing item is created, owned by the user."""
        now = self.now_ms()
        with self._change() as (workload, tx):
            made = []
            for index, raw in enumerate(notebooks):
                runtime = tx.get_runtime(raw["runtimeId"])
                if runtime is None:
                    raise ValueError(
                        f"notebooks[{index}]: no runtime '{raw['runtimeId'][:80]}' to open it on."
                    )
                item = workload.items.get(raw.get("itemId") or "")
                if item is None:
                    item = model.seed_item(
                        workload,
                        owner=raw["username"],
                        title=raw.get("title") or f"Notebook of {raw['username']}",
                        item_id=raw.get("itemId"),
                        now_ms=now,
                        seed=self.ids.seed,
                    )
                made.append(
                    model.seed_open_notebook(
                        workload,
                        item=item,
                        runtime=runtime,
                        username=raw["username"],
                        last_activity_ms=now - int(raw["idleSeconds"] * 1000),
                        now_ms=now,
                        seed=self.ids.seed,
                    )
                )
            return made

    # --- state owner (mockserver/owners.py) ------------------------------------------

    def reset(self, tx: Transaction) -> None:
        """No notebooks, jobs or items; the release's configuration; default steering."""
        self.store.write(tx, self._fresh().to_json())

    def export(self, tx: Transaction) -> dict[str, Any]:
        return {"workload": self._loaded(self.store.read_in(tx)).to_json()}

    def load(self, tx: Transaction, snapshot: Mapping[str, Any]) -> None:
        """A snapshot without ``workload`` (an older one) loads as a fresh workload."""
        raw = snapshot.get("workload")
        if raw is None:
            workload = self._fresh()
        elif not isinstance(raw, dict):
            raise ValueError("'workload' must be an object.")
        else:
            workload = Workload.from_json(raw)
        self.store.write(tx, workload.to_json())


def caller_of(username: str, privileges: frozenset[str]) -> Caller:
    return Caller(username=username, advanced=ADVANCED_NOTEBOOKS in privileges)
