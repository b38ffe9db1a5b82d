"""The kit's safety rules: what it may send to a deployment it does not own.

- read-only unless writes are allowed: a write may only be sent when the
  caller expects the server to refuse it;
- update, unregister and upgrade go only to runtimes the run created (or to
  ids it made up, which exist nowhere), unless the kit owns the deployment;
- ``restore`` (standalone Notebook Server) removes every registered runtime,
  anyone's: it goes only to a deployment the kit owns;
- every copy's or registered runtime's name carries the run's prefix, which starts with
  ``KIT_NAMESPACE``, so ``cleanup`` and ``sweep`` find what a run made on a
  deployment the kit does not own (its own in-process emulator it may name
  as a check needs, e.g. with no visible character at all);
- notebooks at work: ``openNotebook`` and ``executeNotebook`` only of the notebook item
  the user named (``--notebook-item``), ``closeNotebook`` only of notebooks the run
  opened; terminating a deployment or container, closing anyone else's notebook and
  changing the server's properties only on a deployment the kit owns;
- a request budget protects a shared server; when it is spent the remaining
  checks are skipped, not failed.

A check that cannot run under these rules (or without what it needs) ends
with a ``SkipTest`` subclass, which pytest reports as a skip and Hypothesis
stops on at once; the report shows each as *not run*, with the reason.
"""

from __future__ import annotations

import datetime
import secrets
import unittest
from collections.abc import Collection, Mapping

#: Every name the kit gives a runtime starts with this; ``sweep`` refuses any other prefix.
KIT_NAMESPACE = "nbmock-kit-"

WRITE_OPERATIONS = frozenset({"copy", "register", "restore", "update", "unregister", "upgrade"})
#: Writes that act on an existing runtime: allowed only on runtimes the kit owns.
OWNED_OPERATIONS = frozenset({"update", "unregister", "upgrade"})
#: Writes that make a runtime (Kubernetes copies, the standalone server registers): the new
#: runtime is named with the run's prefix and answered under ``notebookRuntime``.
CREATING_OPERATIONS = frozenset({"copy", "register"})
#: Operations on the runtimes collection, ``admin/notebooks/runtimes/<op>`` (standalone).
COLLECTION_OPERATIONS = frozenset({"register", "restore", "validateRuntimes"})

#: Notebooks at work: what starts work, and what ends one open notebook.
WORKLOAD_STARTS = frozenset({"openNotebook", "executeNotebook"})
WORKLOAD_CLOSES = frozenset({"closeNotebook", "close"})
#: Everything else that stops or changes work: only on a deployment the kit owns.
WORKLOAD_OWNED_ONLY = frozenset(
    {"terminateDeployment", "terminateContainer", "containerClose", "updateProperties"}
)

NEEDS_CREDENTIALS = "not run (needs ARCGIS_USERNAME/ARCGIS_PASSWORD)"


class BudgetExhausted(unittest.SkipTest):
    """The run's request budget is spent; remaining checks are skipped, not failed."""


class UnsafeRequest(RuntimeError):
    """A request the kit's safety rules forbid (a bug in a check, never sent)."""


class NeedsWrites(unittest.SkipTest):
    """The check creates runtimes and the run is read-only."""


class NeedsCredentials(unittest.SkipTest):
    """The check signs in, and the run holds only a token (a CI secret, say)."""

    def __init__(self, message: str = NEEDS_CREDENTIALS) -> None:
        super().__init__(message)


def new_prefix() -> str:
    """A per-run prefix: the kit's namespace, the UTC time and a random tag."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    return f"{KIT_NAMESPACE}{stamp}-{secrets.token_hex(2)}-"


def admin_operation(path: str) -> tuple[str | None, str | None]:
    """(operation, runtime id) of an ``admin/notebooks/runtimes/<id>/<op>`` path, or
    (operation, None) of one on the collection (``admin/notebooks/runtimes/register``)."""
    parts = path.strip("/").split("/")
    if len(parts) >= 5 and parts[:3] == ["admin", "notebooks", "runtimes"]:
        return parts[4], parts[3]
    if (
        len(parts) == 4
        and parts[:3] == ["admin", "notebooks", "runtimes"]
        and parts[3] in COLLECTION_OPERATIONS
    ):
        return parts[3], None
    return None, None


def workload_operation(path: str) -> tuple[str | None, str | None]:
    """(operation, notebook id or None) of a workload write's path, else (None, None)."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["admin", "notebooks"]:
        if len(parts) == 3 and parts[2] in WORKLOAD_STARTS:
            return parts[2], None
        if (
            len(parts) == 4
            and parts[3] in WORKLOAD_CLOSES
            and parts[2] not in {"runtimes", "deployments", "jobs"}
        ):
            return parts[3], parts[2]
        if len(parts) >= 5 and parts[2] == "deployments":
            return "terminateDeployment", None
    if parts[:3] == ["admin", "system", "containers"] and len(parts) >= 5:
        if parts[-1] == "terminateContainer":
            return "terminateContainer", None
        if parts[-1] in WORKLOAD_CLOSES:
            return "containerClose", None
    if parts[:4] == ["admin", "system", "properties", "update"]:
        return "updateProperties", None
    return None, None


def check_workload_request(
    method: str,
    path: str,
    form: Mapping[str, str],
    *,
    refusal_expected: bool,
    allow_writes: bool,
    owns_deployment: bool,
    notebook_item: str | None,
    own_notebooks: Collection[str],
) -> None:
    """Raise ``UnsafeRequest`` if the workload's rules above forbid this request."""
    operation, notebook_id = workload_operation(path)
    if method != "POST" or operation is None:
        return
    if not (allow_writes or refusal_expected):
        raise UnsafeRequest(f"{operation} would change the server and writes are off")
    if owns_deployment:
        return
    if operation in WORKLOAD_STARTS:
        if notebook_item is None or form.get("itemId") != notebook_item:
            raise UnsafeRequest(f"{operation} of an item the user did not name (--notebook-item)")
    elif operation in WORKLOAD_CLOSES:
        if notebook_id not in own_notebooks:
            raise UnsafeRequest(
                f"{operation} of notebook {notebook_id}, which this run did not open"
            )
    else:
        raise UnsafeRequest(f"{operation} only on a deployment the kit owns")


def check_request(
    method: str,
    path: str,
    form: Mapping[str, str],
    *,
    refusal_expected: bool,
    allow_writes: bool,
    owns_deployment: bool,
    own_ids: Collection[str],
    prefix: str,
    notebook_item: str | None = None,
    own_notebooks: Collection[str] = (),
) -> None:
    """Raise ``UnsafeRequest`` if the rules above forbid sending this request.

    ``own_ids`` are the runtimes the run created and the ids it made up;
    ``own_notebooks`` the notebooks it opened and the ids it made up.
    """
    check_workload_request(
        method,
        path,
        form,
        refusal_expected=refusal_expected,
        allow_writes=allow_writes,
        owns_deployment=owns_deployment,
        notebook_item=notebook_item,
        own_notebooks=own_notebooks,
    )
    operation, runtime_id = admin_operation(path)
    if method != "POST" or operation not in WRITE_OPERATIONS:
        return
    if not (allow_writes or refusal_expected):
        raise UnsafeRequest(f"{operation} would change the server and writes are off")
    if operation in OWNED_OPERATIONS and not owns_deployment and runtime_id not in own_ids:
        raise UnsafeRequest(f"{operation} on runtime {runtime_id}, which this run did not create")
    if operation == "restore" and not owns_deployment:
        raise UnsafeRequest("restore would remove runtimes this run did not register")
    if operation in CREATING_OPERATIONS and not owns_deployment:
        name = form.get("name", "")
        if name.strip() and not name.startswith(prefix):
            raise UnsafeRequest(f"{operation} named {name[:40]!r} lacks the run prefix")
