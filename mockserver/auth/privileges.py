"""Privileges and roles, as data with their provenance.

Internal privilege names are those the official Python client reads [client].
Which of them open the notebook admin endpoints depends on the release
(``NotebookAccess``, chosen by each release profile in runtimes/releases.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CREATE_NOTEBOOKS = "premium:publisher:createNotebooks"  # "Create and edit notebooks" [client]
ADVANCED_NOTEBOOKS = "premium:publisher:createAdvancedNotebooks"  # "Advanced notebooks" [client]
MANAGE_SERVERS = "portal:admin:manageServers"  # "Servers" [client]
MANAGE_SECURITY = "portal:admin:manageSecurity"  # "Security and infrastructure" [client]


@dataclass(frozen=True)
class NotebookAccess:
    """Who may use the notebook endpoints: one privilege of ``any_of``, and all of ``also``."""

    any_of: frozenset[str]
    also: frozenset[str]

    def allows(self, privileges: Iterable[str]) -> bool:
        held = set(privileges)
        return bool(held & self.any_of) and self.also <= held


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


def is_administrator(privileges: Iterable[str]) -> bool:
    """Any ``:admin:`` privilege opens the admin API root [client: how it decides ``gis.admin``]."""
    return any(":admin:" in privilege for privilege in privileges)
