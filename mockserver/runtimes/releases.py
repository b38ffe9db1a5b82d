"""Enterprise release profiles and the system runtimes each one seeds, as data.

Every fact carries its provenance: [doc], [seed], [client] or [inferred]
(see docs/FIDELITY.md). An operation missing from a release's ``operations``
answers as that release would: the resource does not exist there.
"""

from __future__ import annotations

from mockserver.auth.privileges import (
    CREATE_NOTEBOOKS,
    MANAGE_SECURITY,
    MANAGE_SERVERS,
    NotebookAccess,
)
from mockserver.core.release import Release

STANDARD_ID = "d47350a5-e4f0-4b63-ae55-c0a5773a96bb"  # [seed] the copy example's source
ADVANCED_ID = "3b7c1f5e-9a2d-4e8b-b6c4-5f0e2a7d9c31"  # [inferred] fixed so tests can name it

#: Operation names as declared on the views (mockserver/web/pipeline.py); [doc] since 11.4.
BASE_OPERATIONS = frozenset({"runtimes", "runtime", "update", "manifest"})

#: Who may use the notebook endpoints. [doc] 11.4's pages (e.g. update-notebook-runtime)
#: accept any one of "Create and edit notebooks", "Servers", "Security and infrastructure";
#: from 11.5 the pages (and the seed) ask for "Servers" or "Security and infrastructure"
#: **plus** "Create and edit notebooks".
ANY_ONE_OF_THREE = NotebookAccess(
    any_of=frozenset({CREATE_NOTEBOOKS, MANAGE_SERVERS, MANAGE_SECURITY}), also=frozenset()
)
ADMIN_PLUS_NOTEBOOKS = NotebookAccess(
    any_of=frozenset({MANAGE_SERVERS, MANAGE_SECURITY}), also=frozenset({CREATE_NOTEBOOKS})
)


RELEASES: dict[str, Release] = {
    release.name: release
    for release in (
        Release(
            "11.4",
            "11.4.0",
            "11.0",
            BASE_OPERATIONS,
            "[doc] runtime 11.0 for 11.4 (Esri's runtime table; its Kubernetes examples show 10.0);"
            " [doc] any one of three privileges; build [inferred] between 11.3's and 11.5's",
            enterprise_build="54130",
            notebook_access=ANY_ONE_OF_THREE,
        ),
        Release(
            "11.5",
            "11.5.0",
            "12.0",
            BASE_OPERATIONS | {"copy", "unregister"},
            "[doc] copy and unregister since 11.5; runtime 12.0 [inferred];"
            " build 56755 [capture] of an 11.5 portal's sharing/rest",
            enterprise_build="56755",
            notebook_access=ADMIN_PLUS_NOTEBOOKS,
        ),
        Release(
            "12.0",
            "12.0.0",
            "13.0",
            BASE_OPERATIONS | {"copy", "unregister"},
            "runtime 13.0 [inferred]; build [inferred]",
            enterprise_build="59100",
            notebook_access=ADMIN_PLUS_NOTEBOOKS,
        ),
        Release(
            "12.1",
            "12.1.0",
            "14.0",
            BASE_OPERATIONS | {"copy", "unregister", "upgrade"},
            "[doc] upgrade since 12.1; runtime 14.0 as the seed shows [seed], its release [inferred];"
            " build [inferred]",
            enterprise_build="61400",
            notebook_access=ADMIN_PLUS_NOTEBOOKS,
        ),
    )
}

#: The release whose runtimes match the seed (version 14.0).
DEFAULT_RELEASE = "12.1"


def release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        known = ", ".join(RELEASES)
        raise ValueError(f"unknown release {name!r}; known releases: {known}") from None


def system_runtimes(version: str) -> list[dict]:
    """The two runtimes every deployment starts with [doc], at ``version``.

    Limits: the Kubernetes doc's runtime example shows maxCpu 1 and maxMemory 4
    [doc]; the rest are realistic values [inferred].
    """
    common = {
        "copied": False,
        "version": version,
        "esriProvidedRuntime": True,
        "maxMemoryUnit": "g",
        "minMemoryUnit": "g",
        "maxSwapMemoryUnit": "g",
        "sharedMemorySizeUnit": "g",
        "podPlacementPolicy": {},
        "customResources": {},
    }
    standard = {
        **common,
        "id": STANDARD_ID,
        "name": "ArcGIS Notebook Python 3 Standard",
        "requiresAdvancedPrivileges": False,
        "deploymentDefaultPropertyId": "prvbxlv3nd29y2gss2xuy",
        "minCpu": 0.5,
        "maxCpu": 1.0,
        "minMemory": 2.0,
        "maxMemory": 4.0,
        "maxSwapMemory": 8.0,
        "sharedMemorySize": 1.0,
    }
    advanced = {
        **common,
        "id": ADVANCED_ID,
        "name": "ArcGIS Notebook Python 3 Advanced",
        "requiresAdvancedPrivileges": True,
        "deploymentDefaultPropertyId": "pa4k2m8q1z7x5c3v9b0n6",
        "minCpu": 1.0,
        "maxCpu": 2.0,
        "minMemory": 4.0,
        "maxMemory": 8.0,
        "maxSwapMemory": 16.0,
        "sharedMemorySize": 2.0,
    }
    return [standard, advanced]
