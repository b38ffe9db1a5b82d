"""The ceiling for a Flask app: constant JSON, no work.

``python -m bench.ceiling --port P --workers N [--server S]`` serves the same
URLs the benchmark drives, each answering the seed's copy response,
pre-serialised: no parsing, no auth, no state. Served by ``bench/hosting.py``
under ``nbmock serve``'s own server (the difference is then the emulator's own
work) or under plain gunicorn sync workers (what users compare with).
"""

from __future__ import annotations

import argparse
import json

from flask import Flask, Response

from bench import hosting

RUNTIME = {
    "id": "7b9d1c2e-3f4a-4b5c-8d6e-9f0a1b2c3d4e",
    "name": "ArcGIS Notebook Python 3 Standard with Increased Limit",
    "requiresAdvancedPrivileges": False,
    "copied": True,
    "version": "14.0",
    "esriProvidedRuntime": False,
    "deploymentDefaultPropertyId": "p0123456789abcdefghij",
    "minCpu": 1,
    "maxCpu": 4,
    "minMemory": 3,
    "minMemoryUnit": "g",
    "maxMemory": 14,
    "maxMemoryUnit": "g",
    "maxSwapMemory": 0,
    "maxSwapMemoryUnit": "g",
    "sharedMemorySize": 1,
    "sharedMemorySizeUnit": "g",
    "podPlacementPolicy": {},
    "customResources": {},
    "revision": 1700000000000,
}


def create_ceiling_app() -> Flask:
    app = Flask(__name__)
    copy_body = json.dumps({"notebookRuntime": RUNTIME, "status": "success"})
    get_body = json.dumps(RUNTIME)
    # Ten runtimes, as many as the emulator holds when its list is driven.
    list_body = json.dumps({"currentRuntimeVersion": "14.0", "runtimes": [RUNTIME] * 10})

    def constant(body: str):
        return lambda **_: Response(body, mimetype="application/json")

    app.add_url_rule("/ping", "ping", constant("{}"))
    app.add_url_rule(
        "/arcgis/admin/notebooks/runtimes/<runtime_id>/copy",
        "copy",
        constant(copy_body),
        methods=["POST"],
    )
    app.add_url_rule("/arcgis/admin/notebooks/runtimes/<runtime_id>", "get", constant(get_body))
    app.add_url_rule("/arcgis/admin/notebooks/runtimes", "list", constant(list_body))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=hosting.SERVERS, default="nbmock")
    args = parser.parse_args()
    hosting.run(
        create_ceiling_app,
        port=args.port,
        workers=args.workers,
        proc_name="nbmock-ceiling",
        server=args.server,
    )


if __name__ == "__main__":
    main()
