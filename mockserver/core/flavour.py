"""A flavour of the emulated API: a deployment profile, not a branch.

ArcGIS Enterprise on Kubernetes and the standalone ArcGIS Notebook Server manage
notebook runtimes through different Administrator APIs. Each is a room of its own
(``runtimes/``, ``notebookserver/``) with its routes, model, releases and forms; a
``Flavour`` names what the shared parts need from it: which releases exist, which
blueprint serves ``/<context>/admin``, which backend keeps its runtimes, and what the
Portal says about the deployment. The shared parts read the profile; none of them
asks which flavour it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint

from mockserver.core.release import Release


@dataclass(frozen=True)
class WorkloadProfile:
    """What the shared notebooks workload (``mockserver/workload``) needs from a flavour."""

    #: The flavour's notebooks views (a blueprint named ``workload``), under ``/<context>/admin``.
    routes: Blueprint
    #: ``defaults(release_name)``: a fresh deployment's settings, which the workload's rules
    #: read (``idleNotebookThreshold`` and the rest): Kubernetes' notebooks/configuration,
    #: the standalone server's system/properties.
    defaults: Callable[[str], dict[str, Any]]
    #: The runtime an execution runs on, and an open without ``notebookRuntimeId``.
    standard_runtime_id: str


@dataclass(frozen=True)
class Flavour:
    #: What ``nbmock serve --flavour`` and a sandbox's ``{"flavour": ...}`` say.
    name: str
    #: How the CLI and the kit's report name it.
    title: str
    #: The HTML directory's product name in every page's header (Esri's name for the
    #: flavour's Administrator Directory).
    directory_title: str
    releases: Mapping[str, Release]
    default_release: str
    #: The blueprint of ``/<context>/admin`` (named ``admin`` in every flavour).
    admin: Blueprint
    #: ``backend(store, release, clock, ids)``: the runtimes' rules on the store, and the
    #: runtimes' state owner (reset, export, load) for the control plane.
    backend: Callable[..., Any]
    #: ``portals/self``'s ``portalDeploymentType``: how the official client tells them apart.
    portal_deployment_type: str
    #: ``portals/<id>/servers``' entry for the notebook server, given ``https://host/<context>``.
    notebook_server: Callable[[str], dict[str, Any]]
    #: Its notebooks at work: open notebooks, their hosts, jobs (``mockserver/workload``).
    workload: WorkloadProfile
    #: Esri's reference page for each of its pages, by declared operation name: the HTML
    #: directory's "API Reference" link, over the shared (Kubernetes and Portal) ones.
    api_reference: Mapping[str, str] = field(default_factory=dict)

    def release(self, name: str | None) -> Release:
        """The release ``name`` of this flavour (None: its default), or ``ValueError``."""
        try:
            return self.releases[name or self.default_release]
        except KeyError:
            known = ", ".join(self.releases)
            raise ValueError(
                f"unknown release {name!r} for {self.name}; known releases: {known}"
            ) from None
