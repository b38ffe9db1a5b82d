"""What the notebooks resource of each release shows, in either flavour, as data.

Each fact carries its provenance (docs/FIDELITY.md, rows J*).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkloadProfile:
    #: The key of notebooks/jobs' list, and whether it keeps finished jobs:
    #: [doc] 11.4's page answers "notebookJobs" (each job in full) and says a job "is
    #: removed after a job is completed successfully or if there is a failure"; 12.1's
    #: page answers "asyncNotebookJobs" (jobId, name, startTime, endTime, status) with
    #: COMPLETED and FAILED jobs listed. Which of 11.5 and 12.0 answers which: [inferred].
    jobs_key: str
    jobs_keep_finished: bool


#: [doc: 11.4 notebooks page] the notebooks resource's operations and child resources.
#: Only openNotebook and executeNotebook, and the resources deployments, jobs, runtimes and
#: configuration, are emulated; the others answer 404 (FIDELITY J2).
OPERATIONS = ("openNotebook", "executeNotebook", "updateDefaultTemplate", "restoreDefaultTemplate")
RESOURCES = (
    "deployments",
    "jobs",
    "runtimes",
    "snapshots",
    "configuration",
    "snippets",
    "workspaces",
)

PROFILES: dict[str, WorkloadProfile] = {
    "11.4": WorkloadProfile("notebookJobs", jobs_keep_finished=False),
    "11.5": WorkloadProfile("notebookJobs", jobs_keep_finished=False),
    "12.0": WorkloadProfile("notebookJobs", jobs_keep_finished=False),
    "12.1": WorkloadProfile("asyncNotebookJobs", jobs_keep_finished=True),
}


def profile(release_name: str) -> WorkloadProfile:
    return PROFILES.get(release_name, PROFILES["12.1"])


# --- the standalone Notebook Server ------------------------------------------------------

#: The release each workload resource arrived in [doc: each page's "Version Introduced"]:
#: executeNotebook 10.8; a container's notebooks and their closeNotebook 10.9. The rest
#: (notebooks, openNotebook, closeNotebook, system, properties, containers, jobs) 10.7.
SERVER_SINCE: dict[str, tuple[int, ...]] = {
    "executeNotebook": (10, 8),
    "containerNotebooks": (10, 9),
}


def server_has(full_version: str, feature: str) -> bool:
    version = tuple(int(part) for part in full_version.split(".") if part.isdigit())
    return version >= SERVER_SINCE.get(feature, (0,))
