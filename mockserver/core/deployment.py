"""The emulated deployment, and the one accessor every room reaches it through.

Flask's extension guide: state lives on ``app.extensions``, reached through
``current_app``. Only this module knows the extension key; everyone else
calls ``current()`` inside a request or ``of(app)`` outside one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from mockserver.auth.tokens import TokenService
from mockserver.auth.users import UserDirectory
from mockserver.core.clock import Clock
from mockserver.core.flavour import Flavour
from mockserver.core.profile import Profile
from mockserver.core.release import Release
from mockserver.core.settings import Settings
from mockserver.runtimes.store import Store
from mockserver.workload.backend import WorkloadBackend

_KEY = "nbmock"


@dataclass
class Deployment:
    """One emulated ArcGIS Enterprise: its release, users, tokens, clock and runtimes."""

    settings: Settings
    flavour: Flavour
    context: str
    release: Release
    store: Store
    clock: Clock
    users: UserDirectory
    tokens: TokenService
    #: The flavour's runtimes backend (``Flavour.backend``); only its own views call it.
    runtimes: Any
    #: The notebooks workload (mockserver/workload): open notebooks, their hosts, jobs.
    workload: WorkloadBackend
    #: The captured deployment it reproduces (``--profile``), if any.
    profile: Profile | None = None
    #: Called inside each write's transaction with its rendered answer (the journal):
    #: ``hook(operation, response)``; see mockserver/web/pipeline.py.
    commit_hooks: list[Callable[[Any, Any], None]] = field(default_factory=list)

    def close(self) -> None:
        """Release the state's database connection (an app is done with)."""
        self.store.close()


def install(app: Flask, deployment: Deployment) -> None:
    app.extensions[_KEY] = deployment


def current() -> Deployment:
    """The deployment of the app handling the current request."""
    return current_app.extensions[_KEY]


def of(app: Flask) -> Deployment:
    """The deployment of ``app``, outside a request (tests, serving, the kit in-process)."""
    return app.extensions[_KEY]
