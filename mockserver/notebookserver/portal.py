"""What the federated Portal says about a standalone Notebook Server deployment, as data."""

from __future__ import annotations

from typing import Any

#: [capture: public client code maps "ArcGISEnterprise" to a base Enterprise deployment]
#: Anything but "ArcGISEnterpriseOnKubernetes" sends the official client to
#: ``<adminUrl>/admin`` [client: arcgis/gis/__init__.py, notebook_server].
DEPLOYMENT_TYPE = "ArcGISEnterprise"

#: [inferred] fixed so that ``servers`` answers the same across restarts and workers.
NOTEBOOK_SERVER_ID = "nbStandaloneSrv"


def notebook_server(base_url: str) -> dict[str, Any]:
    """The federated notebook server [doc: portal servers; the issue's research][client].

    ``serverType`` ARCGIS_NOTEBOOK_SERVER [doc]; the client keeps servers whose
    ``serverFunction`` names NotebookServer and builds ``<adminUrl>/admin`` [client].
    The emulator serves the server's admin API beside the Portal, under the same web
    context, where a real site has ``https://<server>:11443/arcgis`` [inferred].
    """
    return {
        "id": NOTEBOOK_SERVER_ID,
        "name": "Notebook Server",
        "url": base_url,
        "isHosted": False,
        "adminUrl": base_url,
        "serverType": "ARCGIS_NOTEBOOK_SERVER",
        "serverRole": "FEDERATED_SERVER",
        "serverFunction": "NotebookServer",
    }
