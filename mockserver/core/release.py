"""What every flavour's release profile says, as one type.

A release profile is data (each flavour's ``releases.py``); the pipeline (which
operations exist), the guard (who may call) and the Portal facade (versions)
read it through this type, so they never need to know which flavour made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mockserver.auth.privileges import NotebookAccess


@dataclass(frozen=True)
class Release:
    name: str
    full_version: str
    runtime_version: str
    operations: frozenset[str]
    provenance: str
    #: ``sharing/rest``'s ``enterpriseBuild`` (see ``provenance`` for its source).
    enterprise_build: str
    notebook_access: NotebookAccess
    #: What a deployment profile (mockserver/core/profile.py) says instead of the values
    #: derived from ``name`` and ``full_version``; None: the derived value.
    admin_version: float | None = None
    portal_version: str | float | None = None
    enterprise_version: str | None = None

    @property
    def admin_current_version(self) -> float:
        """The admin root's ``currentVersion``: a number, as Esri's example and ArcGIS
        Server captures write it [doc: enterprise-admin-root]; 12.0 is written 12 (W2)."""
        return float(self.name) if self.admin_version is None else self.admin_version
