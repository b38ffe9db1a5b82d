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
) -> None:
    """Raise ``UnsafeRequest`` if the rules above forbid sending this request.

    ``own_ids`` are the runtimes the run created and the ids it made up.
    """
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
