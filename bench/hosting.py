"""Serve a benchmark's own Flask app exactly as ``nbmock serve`` serves the emulator.

Bare Flask (``bench/ceiling.py``) and the naive stateful handler
(``bench/naive.py``) are only fair baselines if they run under the same WSGI
server, worker model, worker count and access log as the emulator: then the
difference in a round is the emulator's own work. The options come from
``mockserver.serving`` where it exposes them, so a change of serving model
there moves the baselines with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from mockserver import serving


def server_options(*, port: int, workers: int, proc_name: str) -> dict[str, Any]:
    """gunicorn's settings for ``nbmock serve --workers N`` on 127.0.0.1:``port``."""
    exposed = getattr(serving, "server_options", None)
    if exposed is not None:
        options = dict(exposed(host="127.0.0.1", port=port, workers=workers))
    else:
        # The same dict mockserver.serving.serve builds for a plain-HTTP run.
        options = {
            "bind": f"127.0.0.1:{port}",
            "workers": workers,
            "worker_class": "sync",
            "accesslog": "-",
            "errorlog": "-",
            "access_log_format": serving.ACCESS_LOG_FORMAT,
            "graceful_timeout": 10,
            "timeout": 60,
            "control_socket_disable": True,
        }
    options["proc_name"] = proc_name
    return options


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
