"""The flavours the emulator can serve, by name: the only module that knows them all.

``create_app`` picks one from ``Settings.flavour``; each is a room of its own, and
this table is where they are wired in (see ``core/flavour.py``).
"""

from __future__ import annotations

from mockserver.auth import portal as kubernetes_portal
from mockserver.core.flavour import Flavour, WorkloadProfile
from mockserver.notebookserver import portal as notebook_server_portal
from mockserver.notebookserver import reference as notebook_server_reference
from mockserver.notebookserver import releases as notebook_server_releases
from mockserver.notebookserver.backend import ServerRuntimesBackend
from mockserver.notebookserver.routes import admin as notebook_server_admin
from mockserver.runtimes import releases as kubernetes_releases
from mockserver.runtimes.backend import RuntimesBackend
from mockserver.runtimes.routes import admin as kubernetes_admin
from mockserver.runtimes.store import Store
from mockserver.workload import kubernetes as kubernetes_workload
from mockserver.workload import model as workload_model
from mockserver.workload import notebook_server as notebook_server_workload

KUBERNETES = Flavour(
    name="kubernetes",
    title="ArcGIS Enterprise on Kubernetes",
    directory_title="ArcGIS Enterprise Administrator Directory",
    releases=kubernetes_releases.RELEASES,
    default_release=kubernetes_releases.DEFAULT_RELEASE,
    admin=kubernetes_admin,
    backend=RuntimesBackend,
    portal_deployment_type=kubernetes_portal.DEPLOYMENT_TYPE,
    notebook_server=kubernetes_portal.notebook_server,
    workload=WorkloadProfile(
        routes=kubernetes_workload.workload,
        defaults=workload_model.default_configuration,
        standard_runtime_id=kubernetes_releases.STANDARD_ID,
    ),
)

NOTEBOOK_SERVER = Flavour(
    name="notebook-server",
    title="ArcGIS Notebook Server",
    # "ArcGIS Notebook Server Administrator Directory": Esri's "Administer ArcGIS Notebook
    # Server" page (enterprise.arcgis.com/en/notebook/latest/administer/…), ledger N23.
    directory_title="ArcGIS Notebook Server Administrator Directory",
    releases=notebook_server_releases.RELEASES,
    default_release=notebook_server_releases.DEFAULT_RELEASE,
    admin=notebook_server_admin,
    backend=ServerRuntimesBackend,
    portal_deployment_type=notebook_server_portal.DEPLOYMENT_TYPE,
    notebook_server=notebook_server_portal.notebook_server,
    workload=WorkloadProfile(
        routes=notebook_server_workload.workload,
        defaults=workload_model.server_properties,
        standard_runtime_id=notebook_server_releases.STANDARD_ID,
    ),
    api_reference=notebook_server_reference.API_REFERENCE,
)

FLAVOURS: dict[str, Flavour] = {flavour.name: flavour for flavour in (KUBERNETES, NOTEBOOK_SERVER)}
DEFAULT_FLAVOUR = KUBERNETES.name


def flavour(name: str) -> Flavour:
    try:
        return FLAVOURS[name]
    except KeyError:
        known = ", ".join(FLAVOURS)
        raise ValueError(f"unknown flavour {name!r}; known flavours: {known}") from None


def claim_state(store: Store, chosen: Flavour) -> None:
    """Record which flavour a state holds; refuse a state another flavour made.

    Runtimes of one flavour are not runtimes of the other (other keys, other rules),
    so serving them would break every answer. A state made before flavours existed
    holds Kubernetes runtimes.
    """
    with store.transaction() as tx:
        held = tx.get_meta("flavour")
        if held is None:
            held = KUBERNETES.name if tx.get_meta("release") is not None else chosen.name
            tx.set_meta("flavour", held)
    if held != chosen.name:
        raise ValueError(
            f"the state holds a {held} deployment; it cannot be served as {chosen.name}"
        )
