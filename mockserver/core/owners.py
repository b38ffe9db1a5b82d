"""Owners of the deployment's state, and how the control plane finds them.

Each room that keeps state in the deployment's store (the runtimes, the
control settings, the sign-in records) resets, exports and loads its own
part, as moto's ``BackendDict.reset`` asks each backend; the control plane
only asks every registered owner in turn, inside one transaction. No room
imports another to be reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from flask import Flask

from mockserver.runtimes.store import Transaction

_KEY = "nbmock_state_owners"


class StateOwner(Protocol):
    def reset(self, tx: Transaction) -> None:
        """Back to a fresh deployment's state."""

    def export(self, tx: Transaction) -> dict[str, Any]:
        """This owner's keys of a state snapshot (JSON values)."""

    def load(self, tx: Transaction, snapshot: Mapping[str, Any]) -> None:
        """Replace this owner's state with the snapshot's, or raise ``ValueError`` (the
        message says what is wrong) before writing anything."""


def register(app: Flask, owner: StateOwner) -> None:
    app.extensions.setdefault(_KEY, []).append(owner)


def registered(app: Flask) -> list[StateOwner]:
    """The owners of ``app``'s state: the live list, so owners registered later count too."""
    return app.extensions.setdefault(_KEY, [])
