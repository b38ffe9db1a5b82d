"""Serve a benchmark's own Flask app under one of two servers.

- ``nbmock``: exactly as ``nbmock serve`` serves the emulator (worker class,
  threads, keep-alive, access log). Bare Flask (``bench/ceiling.py``) and the
  naive stateful handler (``bench/naive.py``) served so differ from the
  emulator by the emulator's own app work only. The options come from
  ``mockserver.serving.server`` where it exposes them, so a change of serving model
  there moves these baselines with it; where it does not expose them, they are
  taken from what ``serving.serve`` hands gunicorn.
- ``gunicorn-sync``: gunicorn's default sync workers and nothing else, how
  Flask's own docs deploy an app and what users compare an emulator with.

The same app under both gives the serving layer's cost as a figure of its own.
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

#: The servers a baseline can run under (``--server``).
SERVERS = ("nbmock", "gunicorn-sync")


def gunicorn_sync_options(*, port: int, workers: int, proc_name: str) -> dict[str, Any]:
    """Plain gunicorn: sync workers, its defaults for everything else (no access log)."""
    return {
        "bind": f"127.0.0.1:{port}",
        "workers": workers,
        "worker_class": "sync",
        "proc_name": proc_name,
    }


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


def run(
    factory: Callable[[], Flask],
    *,
    port: int,
    workers: int,
    proc_name: str,
    server: str = "nbmock",
) -> None:
    """Serve until SIGTERM, under ``server`` (one of ``SERVERS``)."""
    options = (gunicorn_sync_options if server == "gunicorn-sync" else server_options)(
        port=port, workers=workers, proc_name=proc_name
    )
    _Hosted(factory, options).run()
