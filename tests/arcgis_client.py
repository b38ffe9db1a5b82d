"""Driving the official ArcGIS API for Python (PyPI ``arcgis`` 2.4.4) against the emulator.

Shared by the in-process and the HTTPS tests: a requests transport adapter
that hands the client's requests to the Flask app, and the runtime workflow
a user of ``gis.admin.notebooks.notebooks.runtime_manager`` goes through,
each step asserting what that user sees.
"""

from __future__ import annotations

import importlib.util
import io
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

# Skip (saying why) only where the package could not be installed: `make test` installs
# it (Makefile, requirements-arcgis-client.txt). Installed but failing to import (say, a
# dependency missing from the lean set) is a failure, not a skip.
if importlib.util.find_spec("arcgis") is None:
    pytest.skip(
        "the official ArcGIS API for Python (arcgis==2.4.4) is not installed; `make test` "
        "installs it with requirements-arcgis-client.txt",
        allow_module_level=True,
    )
from arcgis.gis import GIS  # noqa: E402

__all__ = ["GIS", "FlaskTransport", "exercise_runtime_manager"]

STANDARD = "ArcGIS Notebook Python 3 Standard"
ADVANCED = "ArcGIS Notebook Python 3 Advanced"


class _ReplayedBody(io.BytesIO):
    """A response body the client may 'release' as it would a pooled connection [client]."""

    def release_conn(self) -> None:
        """Nothing to give back: the answer came from Flask, not a socket."""


class FlaskTransport(BaseAdapter):
    """A requests adapter that answers from a Flask app in this process, not the network."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self._client = app.test_client()
        self.requests: list[tuple[str, str, str]] = []  # (method, path, content type)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        self.requests.append((request.method, parts.path, headers.get("Content-Type", "")))
        answer = self._client.open(
            parts.path,
            method=request.method,
            query_string=parts.query,
            headers=headers,
            data=body or b"",
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        content = answer.get_data()
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.status.partition(" ")[2]
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = content
        response.raw = _ReplayedBody(content)
        response.url = request.url
        response.request = request
        response.connection = self  # the client re-sends through it, as through requests' own
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self) -> None:
        """No connections to close."""


def runtimes_by_name(manager) -> dict[str, object]:
    return {runtime.properties["name"]: runtime for runtime in manager.runtimes}


def exercise_runtime_manager(gis) -> None:
    """The runtime workflow of an administrator using the client, step by step."""
    admin = gis.admin
    assert type(admin).__name__ == "KubernetesAdmin"
    assert admin.version >= [12, 0, 0]
    manager = admin.notebooks.notebooks.runtime_manager

    # List the runtimes and the current runtime version.
    runtimes = runtimes_by_name(manager)
    assert {STANDARD, ADVANCED} <= set(runtimes)
    assert manager.current_runtime_version == "14.0"

    # Read one.
    standard = runtimes[STANDARD]
    properties = standard.properties
    assert properties["copied"] is False
    assert properties["version"] == "14.0"
    assert properties["maxCpu"] > 0 and properties["maxMemory"] > 0

    # Its manifest: the Python libraries a notebook author may import.
    libraries = {library["name"] for library in standard.manifest}
    assert {"arcgis", "python"} <= libraries

    # Update the limits, then read it again to see them.
    assert standard.update(max_cpu=3.0, max_memory=6, memory_unit="g") is True
    again = runtimes_by_name(manager)[STANDARD].properties
    assert (again["maxCpu"], again["maxMemory"], again["maxMemoryUnit"]) == (3, 6, "g")
    assert again["name"] == properties["name"]
    assert again["minCpu"] == properties["minCpu"]
    assert (again["sharedMemorySize"], again["sharedMemorySizeUnit"]) == (
        properties["sharedMemorySize"],
        properties["sharedMemorySizeUnit"],
    )

    # A refused update (maximum CPU below the minimum) reports False and changes nothing.
    assert standard.update(max_cpu=0.1) is False
    assert runtimes_by_name(manager)[STANDARD].properties["maxCpu"] == 3

    # Copy: the client has no method for it; users post to the operation [client].
    answer = gis._con.post(
        f"{manager._url}/{properties['id']}/copy",
        {
            "name": "Standard, more memory",
            "minCpu": 1,
            "maxCpu": 2,
            "minMemory": 2,
            "minMemoryUnit": "g",
            "maxMemory": 8,
            "maxMemoryUnit": "g",
            "f": "json",
        },
    )
    assert answer["status"] == "success"
    copy_id = answer["notebookRuntime"]["id"]
    copy = runtimes_by_name(manager)["Standard, more memory"]
    assert copy.properties["id"] == copy_id
    assert copy.properties["copied"] is True
    assert copy.properties["maxSwapMemory"] == 16  # left out: double maxMemory [seed]

    # Delete the copy and see it gone; a system runtime cannot be deleted.
    assert copy.delete() is True
    remaining = runtimes_by_name(manager)
    assert "Standard, more memory" not in remaining
    assert copy_id not in {runtime.properties["id"] for runtime in remaining.values()}
    assert remaining[STANDARD].delete() is False
    assert STANDARD in runtimes_by_name(manager)
