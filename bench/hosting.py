"""Serve a benchmark's own Flask app exactly as ``nbmock serve`` serves the emulator.

Bare Flask (``bench/ceiling.py``) and the naive stateful handler
(``bench/naive.py``) are only fair baselines if they run under the same WSGI
server, worker model, worker count and access log as the emulator: then the
difference in a round is the emulator's own work. The options come from
``mockserver.serving.server`` where it exposes them, so a change of serving model
there moves the baselines with it; where it does not expose them, they are taken
from what ``serving.serve`` hands gunicorn.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from mockserver.core.settings import Settings
from mockserver.serving import server as serving


def server_options(*, port: int, workers: int, proc_name: str) -> dict[str, Any]:
    """The server settings ``nbmock serve --workers N`` uses on 127.0.0.1:``port``."""
    exposed = getattr(serving, "server_options", None)
    if exposed is not None:
        options = dict(exposed(host="127.0.0.1", port=port, workers=workers))
    else:
        options = _as_serve_builds_them(port=port, workers=workers)
    options["proc_name"] = proc_name
    return options


def _as_serve_builds_them(*, port: int, workers: int) -> dict[str, Any]:
    """Run ``serving.serve`` up to the point where it hands gunicorn its settings, and
    keep them: whatever serving model it chooses (and any class-level setting it makes
    on its worker, such as the body limit), the baselines get the same."""
    captured: dict[str, Any] = {}

    class Capture:
        def __init__(self, settings: Settings, options: dict[str, Any], *_: Any) -> None:
            captured.update(options)

        def run(self) -> None:
            pass

    original = serving.EmulatorServer
    serving.EmulatorServer = Capture
    try:
        with tempfile.TemporaryDirectory(prefix="nbmock-hosting-") as scratch:
            state = str(Path(scratch) / "options.sqlite3")
            serving.serve(
                host="127.0.0.1", port=port, workers=workers, settings=Settings(state=state)
            )
    finally:
        serving.EmulatorServer = original
    if not captured:
        raise RuntimeError(
            "mockserver.serving.server.serve no longer builds EmulatorServer: adapt bench"
        )
    return captured


class _Hosted(BaseApplication):
    """gunicorn calling ``factory()`` in each worker (no preload, as the emulator)."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()


def run(factory: Callable[[], Flask], *, port: int, workers: int, proc_name: str) -> None:
    """Serve until SIGTERM."""
    _Hosted(factory, server_options(port=port, workers=workers, proc_name=proc_name)).run()
