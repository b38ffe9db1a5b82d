"""A state machine drives copy, update, unregister and read against a model of the expected state.

The model is the kit's own reading of the ledger (``expectations``): after
every step the runtimes this run created, as the server lists and reads them,
must be exactly the model's, revisions must only grow, and the system
runtimes must not change.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import note
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from contracts import calls
from contracts.expectations import differences, expected_copy, expected_update
from contracts.plugin import contract_settings
from contracts.strategies import (
    copy_requests,
    encodings,
    invalid_copy_requests,
    invalid_update_requests,
    named,
    update_requests,
)
from contracts.target import Target

#: The lifecycle of Kubernetes copies; the standalone lifecycle is checked in
#: test_notebook_server_checks.py.
pytestmark = pytest.mark.flavour("kubernetes")

#: Copies alive at once: enough to interleave, few enough for a shared server.
MOST_RUNTIMES = 4


class RuntimeLifecycle(RuleBasedStateMachine):
    """Model: id -> the fields the server must show for each runtime this run created."""

    runtimes = Bundle("runtimes")

    def __init__(self, target: Target, source: dict[str, Any]) -> None:
        super().__init__()
        self.target = target
        self.source = source
        self.model: dict[str, dict[str, Any]] = {}
        self.revisions: dict[str, int] = {}
        self.highest_revision = max(runtime["revision"] for runtime in target.runtimes())
        self.systems = [runtime for runtime in target.runtimes() if not runtime["copied"]]

    @rule(target=runtimes, form=copy_requests(), encoding=encodings())
    def copy(self, form: dict, encoding: str):
        if len(self.model) >= MOST_RUNTIMES:
            return "skipped"
        form = named(form, self.target.prefix)
        runtime = calls.copied_runtime(
            calls.copy(self.target, self.source["id"], form, encoding=encoding)
        )
        note(f"copied {runtime['id']}")
        assert runtime["id"] not in self.model
        assert differences(runtime, expected_copy(self.source, form)) == []
        self._advance(runtime["id"], runtime["revision"])
        self.model[runtime["id"]] = {k: v for k, v in runtime.items() if k != "revision"}
        return runtime["id"]

    @rule(invalid=invalid_copy_requests())
    def refused_copy(self, invalid) -> None:
        reply = calls.copy(
            self.target,
            self.source["id"],
            named(invalid.form, self.target.prefix),
            refusal_expected=True,
        )
        calls.assert_refused(reply, 400)

    @rule(runtime_id=runtimes, form=update_requests(), encoding=encodings())
    def update(self, runtime_id: str, form: dict, encoding: str) -> None:
        if runtime_id not in self.model:
            return
        reply = calls.update(self.target, runtime_id, form, encoding=encoding)
        assert reply.json == {"status": "success"}, reply
        self.model[runtime_id] = expected_update(self.model[runtime_id], form)
        self._advance(runtime_id, calls.read(self.target, runtime_id).json["revision"])

    @rule(runtime_id=runtimes, invalid=invalid_update_requests())
    def refused_update(self, runtime_id: str, invalid) -> None:
        if runtime_id not in self.model:
            return
        calls.assert_refused(calls.update(self.target, runtime_id, invalid.form), 400)

    @rule(runtime_id=consumes(runtimes))
    def unregister(self, runtime_id: str) -> None:
        if runtime_id not in self.model:
            return
        assert calls.unregister(self.target, runtime_id).json == {"status": "success"}
        del self.model[runtime_id]
        calls.assert_refused(calls.read(self.target, runtime_id), 404)

    @rule(runtime_id=runtimes)
    def read(self, runtime_id: str) -> None:
        reply = calls.read(self.target, runtime_id)
        if runtime_id in self.model:
            assert differences(reply.json, self.model[runtime_id]) == []
        else:
            calls.assert_refused(reply, 404)

    @invariant()
    def listing_matches_the_model(self) -> None:
        listed = self.target.runtimes()
        ours = {
            runtime["id"]: runtime for runtime in listed if runtime["id"] in self.target.created
        }
        assert set(ours) == set(self.model), (sorted(ours), sorted(self.model))
        for runtime_id, runtime in ours.items():
            assert differences(runtime, self.model[runtime_id]) == []
            assert runtime["revision"] == self.revisions[runtime_id]
        assert [runtime for runtime in listed if not runtime["copied"]] == self.systems

    def _advance(self, runtime_id: str, revision: int) -> None:
        assert revision > self.highest_revision, (revision, self.highest_revision)
        self.highest_revision = revision
        self.revisions[runtime_id] = revision

    def teardown(self) -> None:
        for runtime_id in list(self.model):
            calls.unregister(self.target, runtime_id)


def test_runtime_lifecycle_matches_the_model(writable: Target, source_runtime: dict) -> None:
    """Any interleaving of copy, update, unregister and read keeps the server equal to the model."""
    run_state_machine_as_test(
        lambda: RuntimeLifecycle(writable, source_runtime),
        settings=contract_settings(max_examples=15, stateful_step_count=12),
    )
