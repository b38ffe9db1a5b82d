"""The control plane's state for one app, and the accessor its routes and hooks use.

Flask's extension guide: the extension keeps no app; what it knows about one
app lives on ``app.extensions`` and is reached through ``current_app``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from mockserver.control.shared import SharedSettings
from mockserver.control.store import ControlStore
from mockserver.core.owners import StateOwner

_KEY = "nbmock_control"


@dataclass
class Control:
    """What the control routes and hooks of one app need."""

    deployment: Any
    settings: SharedSettings
    store: ControlStore
    owners: list[StateOwner]
    token: str | None = field(repr=False)
    enabled: bool
    journal_enabled: bool
    api_prefix: str
    portal_prefix: str
    operations: frozenset[str] = frozenset()


def install(app: Flask, control: Control) -> None:
    app.extensions[_KEY] = control


def current() -> Control:
    return current_app.extensions[_KEY]


def of(app: Flask) -> Control:
    return app.extensions[_KEY]
