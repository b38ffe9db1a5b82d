"""The floor for a durable write: one SQLite insert per copy and nothing else.

``python -m bench.naive --port P --workers N --state FILE`` answers the copy
URL by inserting the request's body as one row into a SQLite file in WAL mode,
with the emulator's own connection settings (``synchronous = NORMAL``, a busy
timeout, autocommit), and answering the seed's copy response, pre-serialised.
No token, no parsing, no validation, no journal. Served by
``bench/hosting.py`` under ``nbmock serve``'s own server or plain gunicorn sync
workers (``--server``), so the emulator's copy divided by this is what every
feature together costs over the least a stateful Flask handler must do.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
from pathlib import Path

from flask import Flask, Response, request

from bench import hosting
from bench.ceiling import RUNTIME

SCHEMA = "CREATE TABLE IF NOT EXISTS copies (seq INTEGER PRIMARY KEY, source TEXT, body BLOB)"


def connect(state: str | Path) -> sqlite3.Connection:
    db = sqlite3.connect(state, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def create_naive_app(state: str | Path) -> Flask:
    app = Flask(__name__)
    db = connect(state)
    # One connection per worker, used by one thread at a time, as the emulator's store.
    lock = threading.Lock()
    body = json.dumps({"notebookRuntime": RUNTIME, "status": "success"})

    def copy(runtime_id: str) -> Response:
        row = (runtime_id, request.get_data())
        with lock:
            db.execute("INSERT INTO copies (source, body) VALUES (?, ?)", row)
        return Response(body, mimetype="application/json")

    app.add_url_rule("/ping", "ping", lambda: Response("{}", mimetype="application/json"))
    app.add_url_rule(
        "/arcgis/admin/notebooks/runtimes/<runtime_id>/copy", "copy", copy, methods=["POST"]
    )
    return app


def prepare(state: str | Path) -> None:
    """Create the table once, before the workers start (as ``nbmock serve`` seeds first)."""
    db = connect(state)
    db.execute(SCHEMA)
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=hosting.SERVERS, default="nbmock")
    parser.add_argument("--state", required=True)
    args = parser.parse_args()
    prepare(args.state)
    hosting.run(
        lambda: create_naive_app(args.state),
        port=args.port,
        workers=args.workers,
        proc_name="nbmock-naive",
        server=args.server,
    )


if __name__ == "__main__":
    main()
