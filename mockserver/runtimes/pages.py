"""The HTML directory's pages of the operations on one runtime, for both flavours' admin
rooms: shared furniture, as the store and the manifests are.

Both flavours serve a runtime at ``RUNTIME`` and answer for it through the same backend
calls (``get``, ``offered_operations``); which operations they declare there, and each
form's fields and defaults, stay each flavour's own. A runtime's page links the
operations that can succeed on it, as Esri's directory lists them under "Supported
Operations"; an operation's page is its form, or the confirmation step of one that
removes something.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, url_for

from mockserver.core import deployment, messages
from mockserver.core.errors import Refused
from mockserver.web.pipeline import OPERATION, Operation, Page, declared

RUNTIME = "/notebooks/runtimes/<runtime_id>"


def runtime_operations() -> dict[str, Operation]:
    """The declared POST operations on one runtime, by endpoint, in declaration order."""
    return {
        endpoint: op
        for endpoint, op in declared(current_app).items()
        if op.rule.startswith(RUNTIME + "/") and op.methods == OPERATION
    }


def offered_pages(runtime: Any) -> dict[str, str]:
    """Links to the pages of the operations that can succeed on ``runtime``."""
    offered = deployment.current().runtimes.offered_operations(runtime)
    return {
        op.name: url_for(endpoint, runtime_id=runtime.id)
        for endpoint, op in runtime_operations().items()
        if op.name in offered
    }


def operation_page(
    name: str,
    submit: str,
    defaults: Callable[[Any], dict[str, str]] | None = None,
    *,
    confirm: str = "",
) -> Callable[[str], Page]:
    """The page of the runtime operation ``name``: its form, prefilled by ``defaults``;
    refused where the operation cannot succeed on the runtime."""

    def page(runtime_id: str) -> Page:
        backend = deployment.current().runtimes
        runtime = backend.get(runtime_id)
        if name not in backend.offered_operations(runtime):
            raise Refused(messages.OPERATION_NOT_OFFERED.format(name=name, id=runtime_id))
        endpoint, op = next(
            (endpoint, op) for endpoint, op in runtime_operations().items() if op.name == name
        )
        form = {
            "url": url_for(endpoint, runtime_id=runtime_id),
            "fields": op.form,
            "defaults": defaults(runtime) if defaults else {},
            "submit": submit,
            "confirm": confirm.format(name=runtime.name, id=runtime.id),
            "cancel": url_for("admin.get_runtime", runtime_id=runtime_id),
        }
        return Page(
            {"name": runtime.name, "id": runtime.id, "version": runtime.version},
            title=f"{op.title}: {runtime.name}",
            operations={name: form},
        )

    return page


def manifest_page(runtime_id: str) -> Page:
    """The runtime's manifest, with the way back to the runtime."""
    return Page(
        deployment.current().runtimes.manifest(runtime_id),
        links=lambda: {"runtime": url_for("admin.get_runtime", runtime_id=runtime_id)},
    )
