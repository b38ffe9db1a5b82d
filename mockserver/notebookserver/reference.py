"""Esri's reference page for each page of the standalone Notebook Server's directory.

The directory's "API Reference" link [doc]. The standalone server has pages of its
own (``https://developers.arcgis.com/rest/enterprise-administration/notebook/<page>``,
the ``doc:nb-*`` and ``doc:s-*`` pages docs/FIDELITY.md cites); without this map its
runtimes and notebooks linked the Kubernetes pages, and its system pages linked none.
A page Esri has no known address for (a container's statistics, a job) links none.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_DOCS = "https://developers.arcgis.com/rest/enterprise-administration/notebook"

#: By the operation names the routes declare (routes.py, workload/notebook_server.py).
API_REFERENCE: Mapping[str, str] = MappingProxyType(
    {
        "admin": f"{_DOCS}/notebook-server-administration-root",
        "adminGenerateToken": f"{_DOCS}/generate-token",
        "runtimes": f"{_DOCS}/notebook-runtimes",
        # Validate Runtimes is listed on the runtimes page [doc:nb-runtimes].
        "validateRuntimes": f"{_DOCS}/notebook-runtimes",
        "register": f"{_DOCS}/register-runtime",
        "restore": f"{_DOCS}/restore-factory-runtimes",
        "runtime": f"{_DOCS}/notebook-runtime",
        "update": f"{_DOCS}/update-notebook-runtime",
        "unregister": f"{_DOCS}/unregister-notebook-runtime",
        "manifest": f"{_DOCS}/notebook-runtime-manifest",
        "notebooks": f"{_DOCS}/notebooks",
        "notebook": f"{_DOCS}/notebooks",
        "closeNotebook": f"{_DOCS}/close-notebook",
        "close": f"{_DOCS}/close-notebook",
        "openNotebook": f"{_DOCS}/open-notebook",
        "executeNotebook": f"{_DOCS}/execute-notebook",
        "system": f"{_DOCS}/system-notebook-server-",
        "properties": f"{_DOCS}/server-properties",
        "updateProperties": f"{_DOCS}/server-properties-update",
        "containers": f"{_DOCS}/containers",
        "container": f"{_DOCS}/container",
        "containerSessions": f"{_DOCS}/container-sessions",
        "containerNotebooks": f"{_DOCS}/container-notebooks",
        "containerNotebook": f"{_DOCS}/container-notebook",
        "terminateContainer": f"{_DOCS}/terminate-container",
        "systemJobs": f"{_DOCS}/jobs",
    }
)
