"""``python -m bench.reliability.threaded``: the emulator under gunicorn ``gthread`` workers.

``nbmock serve`` runs its own gthread worker (mockserver.serving.worker); this runs the
same app (mockserver.serving.server's EmulatorServer) under gunicorn's stock gthread
worker, so the store's per-process lock is exercised as well as SQLite's
cross-process one.
"""

from __future__ import annotations

import argparse

from mockserver.app import create_app
from mockserver.core import deployment
from mockserver.core.settings import Settings
from mockserver.serving.server import ACCESS_LOG_FORMAT, EmulatorServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--users")
    args = parser.parse_args()
    settings = Settings(state=args.state, users=args.users)
    deployment.of(create_app(settings)).close()
    EmulatorServer(
        settings,
        {
            "bind": f"127.0.0.1:{args.port}",
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "errorlog": "-",
            "access_log_format": ACCESS_LOG_FORMAT,
            "timeout": 60,
        },
    ).run()


if __name__ == "__main__":
    main()
