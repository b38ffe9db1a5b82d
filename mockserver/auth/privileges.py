"""Privileges and roles, as data with their provenance.

Internal privilege names are those the official Python client reads [client].
Notebook admin endpoints need one of the listed admin privileges **plus**
"Create and edit notebooks" [seed][doc].
"""

from __future__ import annotations

from collections.abc import Iterable

CREATE_NOTEBOOKS = "premium:publisher:createNotebooks"  # "Create and edit notebooks" [client]
ADVANCED_NOTEBOOKS = "premium:publisher:createAdvancedNotebooks"  # "Advanced notebooks" [client]
MANAGE_SERVERS = "portal:admin:manageServers"  # "Servers" [client]
MANAGE_SECURITY = "portal:admin:manageSecurity"  # "Security and infrastructure" [client]

#: The admin privileges the notebook endpoints list; any one of them suffices [doc].
NOTEBOOK_ADMIN_PRIVILEGES = frozenset({MANAGE_SERVERS, MANAGE_SECURITY})

#: Built-in roles. The Administrator role holds every privilege above [doc];
#: the remaining entries are a realistic subset of Portal's [inferred].
ROLES: dict[str, frozenset[str]] = {
    "Administrator": frozenset(
        {
            MANAGE_SERVERS,
            MANAGE_SECURITY,
            "portal:admin:viewUsers",
            "portal:admin:updateUsers",
            "portal:admin:viewItems",
            "portal:admin:manageLicenses",
            "portal:publisher:publishFeatures",
            "portal:user:createItem",
            CREATE_NOTEBOOKS,
            ADVANCED_NOTEBOOKS,
        }
    ),
    "Publisher": frozenset(
        {"portal:publisher:publishFeatures", "portal:user:createItem", CREATE_NOTEBOOKS}
    ),
    "User": frozenset({"portal:user:createItem"}),
    "Viewer": frozenset({"portal:user:viewOrgItems"}),
}


def may_administer_notebooks(privileges: Iterable[str]) -> bool:
    """One listed admin privilege and Create and edit notebooks [seed]."""
    held = set(privileges)
    return bool(held & NOTEBOOK_ADMIN_PRIVILEGES) and CREATE_NOTEBOOKS in held


def is_administrator(privileges: Iterable[str]) -> bool:
    """Any ``:admin:`` privilege opens the admin API root [client: how it decides ``gis.admin``]."""
    return any(":admin:" in privilege for privilege in privileges)
