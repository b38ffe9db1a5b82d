"""The system runtimes a deployment ships, and the manifest of each.

The emulator's own (``releases.system_runtimes``, ``manifests.manifest_for``)
unless a deployment profile (mockserver/core/profile.py) captured others; a
profiled runtime it has no manifest for reports the emulator's default one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.runtimes.manifests import manifest_for
from mockserver.runtimes.releases import system_runtimes


@dataclass(frozen=True)
class Catalogue:
    #: The system runtimes as captured (without revisions); None: the emulator's own.
    runtimes: tuple[dict[str, Any], ...] | None = None
    manifests: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    def seeded(self, version: str) -> list[dict[str, Any]]:
        """The system runtimes a new state starts with, at the release's runtime ``version``.

        Captured runtimes keep the version they were captured at: it is a fact of
        that deployment, and the release's ``currentRuntimeVersion`` came with it.
        """
        if self.runtimes is None:
            return system_runtimes(version)
        return [copy.deepcopy(body) for body in self.runtimes]

    def manifest(self, system_runtime_id: str) -> dict[str, Any]:
        captured = self.manifests.get(system_runtime_id)
        return copy.deepcopy(captured) if captured is not None else manifest_for(system_runtime_id)
