"""ArcGIS Notebook Server releases 10.7 to 11.5 and the runtimes each one ships, as data.

Every fact carries its provenance: [doc], [client] or [inferred] (docs/FIDELITY.md,
section "Standalone Notebook Server"). An operation missing from a release's
``operations`` answers as that release would: the resource does not exist there.
"""

from __future__ import annotations

from mockserver.auth.privileges import (
    CREATE_NOTEBOOKS,
    MANAGE_SECURITY,
    MANAGE_SERVERS,
    NotebookAccess,
)
from mockserver.core.release import Release

#: Fixed so that tests and the kit can name them [inferred]: a real site's ids are its own.
STANDARD_ID = "5e0d3f86-3d5c-4c0e-9a51-0b8f7c6d2a11"
ADVANCED_ID = "9b2c7a44-8e1f-4d6a-b3c5-7f1e0d9a4b22"

#: [doc] notebook-runtimes, notebook-runtime, update-notebook-runtime, notebook-runtime-manifest,
#: restore-factory-runtimes: since 10.7.
BASE_OPERATIONS = frozenset({"runtimes", "runtime", "update", "manifest", "restore"})
#: [doc] register-runtime: since 10.7.1; unregister came with it [inferred: nothing
#: could be unregistered before a runtime could be registered].
REGISTER = frozenset({"register", "unregister"})
#: Esri's notebook-runtimes page lists Validate Runtimes among its operations [doc]; the
#: client calls it [client]; that it came with 10.8 is our reading [inferred, ledger N14].
VALIDATE = frozenset({"validateRuntimes"})

#: [doc] notebook-runtimes / notebook-runtime: "Administrator or Create and Edit ArcGIS
#: Notebooks" reads the runtimes; the writes ask for "Administrator" (their pages), which
#: the routes check with ``require_administrator``.
READ_ACCESS = NotebookAccess(
    any_of=frozenset({CREATE_NOTEBOOKS, MANAGE_SERVERS, MANAGE_SECURITY}), also=frozenset()
)


def _release(
    name: str, runtime_version: str, operations: frozenset[str], build: str, provenance: str
) -> Release:
    full = name if name.count(".") == 2 else f"{name}.0"
    return Release(
        name=name,
        full_version=full,
        runtime_version=runtime_version,
        operations=operations,
        provenance=provenance,
        enterprise_build=build,
        notebook_access=READ_ACCESS,
    )


_TABLE = "[doc] Esri's runtime-version table (notebook server 'what's new' / runtimes pages)"

#: Release -> its runtime version [doc] (the table the issue cites); builds are the
#: federated Portal's ``enterpriseBuild`` [inferred] except 11.5's [capture].
RELEASES: dict[str, Release] = {
    release.name: release
    for release in (
        _release("10.7", "1.0", BASE_OPERATIONS, "20000", _TABLE),
        _release("10.7.1", "2.0", BASE_OPERATIONS | REGISTER, "21700", _TABLE),
        _release("10.8", "3.0", BASE_OPERATIONS | REGISTER | VALIDATE, "24000", _TABLE),
        _release("10.8.1", "4.0", BASE_OPERATIONS | REGISTER | VALIDATE, "25800", _TABLE),
        _release("10.9", "5.0", BASE_OPERATIONS | REGISTER | VALIDATE, "26400", _TABLE),
        _release("10.9.1", "6.0", BASE_OPERATIONS | REGISTER | VALIDATE, "28300", _TABLE),
        _release("11.0", "7.0", BASE_OPERATIONS | REGISTER | VALIDATE, "32000", _TABLE),
        _release("11.1", "8.0", BASE_OPERATIONS | REGISTER | VALIDATE, "41000", _TABLE),
        _release(
            "11.2",
            "9.0",
            BASE_OPERATIONS | REGISTER | VALIDATE,
            "49000",
            "[inferred] 9.0 lies between 11.1's 8.0 and 11.3's 10.0 [doc], and Esri's"
            " retirement table lists a runtime 9.0",
        ),
        _release("11.3", "10.0", BASE_OPERATIONS | REGISTER | VALIDATE, "51400", _TABLE),
        _release(
            "11.4",
            "11.0",
            BASE_OPERATIONS | REGISTER | VALIDATE,
            "54130",
            "[doc] copies of Esri's page disagree (10.0 and 11.0); 11.0 as the Kubernetes"
            " flavour's 11.4 [inferred]",
        ),
        _release(
            "11.5",
            "12.0",
            BASE_OPERATIONS | REGISTER | VALIDATE,
            "56755",
            "runtime 12.0 [inferred] (as the Kubernetes flavour's 11.5); build [capture]",
        ),
    )
}

#: The newest release the standalone server documents.
DEFAULT_RELEASE = "11.5"

#: Esri's published retirement date per runtime version [doc], as epoch ms (00:00 UTC):
#: a runtime's ``deprecationDate``. Versions without a published date answer null [inferred].
RETIREMENT_MS: dict[str, int] = {
    "2.0": 1748736000000,  # 2025-06-01
    "4.0": 1785542400000,  # 2026-08-01
    "5.0": 1717200000000,  # 2024-06-01
    "6.0": 1827619200000,  # 2027-12-01
    "7.0": 1754006400000,  # 2025-08-01
    "8.0": 1872288000000,  # 2029-05-01
    "9.0": 1793491200000,  # 2026-11-01
    "10.0": 1906502400000,  # 2030-06-01
}


def esri_runtimes(version: str) -> list[dict]:
    """The two runtimes a site starts with, and ``restore`` brings back [doc], at ``version``.

    Names [doc]; ids, image ids and limits are realistic values [inferred]; the
    image pull string is empty, as register's page calls it "Not applicable" [doc].
    """
    common = {
        "version": version,
        "containerType": "docker",
        "imagePullString": "",
        "dockerRuntime": "",
        "esriProvidedRuntime": True,
        "disabled": False,
        "maxMemoryUnit": "g",
        "maxSwapMemoryUnit": "g",
        "sharedMemorySizeUnit": "m",
        "manifestFile": "",
    }
    standard = {
        **common,
        "id": STANDARD_ID,
        "name": "ArcGIS Notebook Python 3 Standard",
        "imageId": "sha256:" + "5a" * 32,
        "requiresAdvancedPrivileges": False,
        "maxCpu": 2.0,
        "maxMemory": 6.0,
        "maxSwapMemory": 12.0,
        "sharedMemorySize": 64.0,
    }
    advanced = {
        **common,
        "id": ADVANCED_ID,
        "name": "ArcGIS Notebook Python 3 Advanced",
        "imageId": "sha256:" + "ad" * 32,
        "requiresAdvancedPrivileges": True,
        "maxCpu": 2.0,
        "maxMemory": 8.0,
        "maxSwapMemory": 16.0,
        "sharedMemorySize": 64.0,
    }
    return [standard, advanced]
