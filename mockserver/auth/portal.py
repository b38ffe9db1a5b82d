"""What the Portal side of an ArcGIS Enterprise on Kubernetes says about itself, as data.

These are the facts the sharing API's ``portals/self``, ``community`` and
``servers`` resources report. Each carries its provenance ([doc], [client],
[inferred]; see docs/FIDELITY.md, section "Portal facade"). The payload
builders here are pure: the routes pass in the URLs they know.
"""

from __future__ import annotations

from typing import Any

from mockserver.auth.privileges import is_administrator
from mockserver.auth.users import User
from mockserver.core.release import Release

#: [doc] the id every single-tenant Enterprise portal has (the servers page's example URL).
ORG_ID = "0123456789ABCDEF"
PORTAL_NAME = "ArcGIS Enterprise"  # [client] what the client's reference capture shows
#: [client] this is how the official client knows it talks to Kubernetes.
DEPLOYMENT_TYPE = "ArcGISEnterpriseOnKubernetes"

#: The sharing API's own ``currentVersion`` per Enterprise release. [doc] 11.3 answers
#: "2024.1" (the root resource's page); the later ones follow that calendar [inferred].
PORTAL_VERSIONS = {"11.4": "2024.2", "11.5": "2025.1", "12.0": "2025.2", "12.1": "2026.1"}

#: [doc] Portal's built-in role names; roles the emulator knows map onto them [inferred].
PORTAL_ROLES = {"Administrator": "org_admin", "Publisher": "org_publisher"}

#: [inferred] the notebook server of a Kubernetes deployment; the id is fixed so
#: that ``servers`` answers the same across restarts and workers.
NOTEBOOK_SERVER_ID = "nbKubeNotebookSrv"


def portal_version(release: Release) -> str | float:
    if release.portal_version is not None:
        return release.portal_version
    return PORTAL_VERSIONS.get(release.name, release.full_version)


def root(release: Release) -> dict[str, Any]:
    """The sharing API root [doc: since 11.3 it also names the Enterprise version and build]."""
    return {
        "currentVersion": portal_version(release),
        "enterpriseVersion": release.enterprise_version or release.full_version,
        "enterpriseBuild": release.enterprise_build,
    }


def portal_role(user: User) -> str:
    return PORTAL_ROLES.get(user.role, "org_user")


def user_profile(user: User, *, show_privileges: bool = True) -> dict[str, Any]:
    """A ``community/users/<name>`` answer; ``privileges`` is what the client reads [client]."""
    profile: dict[str, Any] = {
        "username": user.username,
        "fullName": user.username,
        "orgId": ORG_ID,
        "role": portal_role(user),
        "access": "org",
    }
    if show_privileges:
        profile["privileges"] = sorted(user.privileges)
    return profile


def placed(value: Any, places: dict[str, str]) -> Any:
    """A captured answer (mockserver/core/profile.py) with ``<origin>``, ``<host>`` and
    ``<context>`` put back as this deployment is reached."""
    if isinstance(value, dict):
        return {key: placed(item, places) for key, item in value.items()}
    if isinstance(value, list):
        return [placed(item, places) for item in value]
    if isinstance(value, str):
        for placeholder, real in places.items():
            value = value.replace(placeholder, real)
    return value


def portal_self(
    release: Release,
    user: User | None,
    *,
    portal_host: str,
    use_ssl: bool,
    deployment_type: str = DEPLOYMENT_TYPE,
    captured: dict[str, Any] | None = None,
    places: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``portals/self``: the organisation, and who is signed in when someone is [doc][client].

    ``portal_host`` is ``host[:port]/<context>``: an Enterprise portal names its web
    context in ``portalHostname`` [capture: an Esri test fixture has
    ``"portalHostname": "pheede2-win10vm.esri.com/portal"``].
    """
    if captured is not None:
        # A profiled deployment's own portal, key for key; who is signed in comes last.
        payload = placed(captured, places or {})
        if user is not None:
            payload["user"] = user_profile(user)
        return payload
    payload = {
        "id": ORG_ID,
        "name": PORTAL_NAME,
        "portalName": PORTAL_NAME,
        "portalMode": "singletenant",
        "portalDeploymentType": deployment_type,
        "isPortal": True,
        "portalHostname": portal_host,
        "allSSL": use_ssl,
        "supportsOAuth": True,
        "currentVersion": portal_version(release),
    }
    if user is not None:
        payload["user"] = user_profile(user)
    return payload


def may_see_privileges(viewer: User, subject: User) -> bool:
    """Users see their own privileges; administrators see everyone's [inferred]."""
    return viewer.username == subject.username or is_administrator(viewer.privileges)


def notebook_server(base_url: str) -> dict[str, Any]:
    """The one federated server of the deployment: its notebook server [doc: servers][client].

    ``base_url`` is ``https://host/<context>``: on Kubernetes the notebook
    server lives under the deployment's own web context [inferred].
    """
    return {
        "id": NOTEBOOK_SERVER_ID,
        "name": "Notebook Server",
        "url": f"{base_url}/notebooks",
        "isHosted": False,
        "adminUrl": f"{base_url}/admin",
        "serverType": "ARCGIS_NOTEBOOK_SERVER",
        "serverRole": "FEDERATED_SERVER",
        "serverFunction": "NotebookServer",
    }
