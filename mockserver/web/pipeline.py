"""One request pipeline: every operation of the emulated API is declared once.

``@operation`` on a view declares its URL rule, methods, name, guard, release
rule and HTML title, and registers the route. For each request the pipeline
checks ``f``, runs the guard, refuses an operation the emulated release lacks,
runs the view and renders what it returns (a dict, or a ``Page`` when the HTML
directory needs more) as JSON, pretty JSON or the directory page. A write runs
together with its rendering and the hooks that record it (the journal) in one
store transaction: no answer can fail after state changed, and a write pays
for one lock wait and one commit.

The names declared here are the ones users write in fault rules and journal
filters; the control plane, the OpenAPI drift test and the HTML directory read
the declarations (``declared(app)``) instead of keeping lists of their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

from mockserver.core import deployment, messages
from mockserver.core.errors import MethodNotSupported, NotFound
from mockserver.web import directory, wire
from mockserver.web.forms import Field

#: A resource answers GET and POST alike: [doc] Esri's Administrator API overview
#: reaches each URL "over the prescribed HTTPS method (either GET or POST)", and
#: Esri's JavaScript client sends every request, reads included, as POST.
RESOURCE = ("GET", "POST")
#: An operation that changes state is POST only [doc] (each operation's page).
OPERATION = ("POST",)

#: Hooks called inside a write's transaction, after rendering: ``hook(op, response)``.
CommitHook = Callable[["Operation", Response], None]


@dataclass(frozen=True)
class Operation:
    """One declared operation of the emulated API."""

    name: str
    title: str
    rule: str
    methods: tuple[str, ...]
    guard: Callable[[], Any] | None
    #: Exists only in the releases that list ``name`` (runtimes/releases.py).
    release_bound: bool
    writes: bool
    #: Fields the directory's form for this operation offers.
    form: tuple[Field, ...]
    #: False for pages that are HTML whatever ``f`` says (the OAuth sign-in pages).
    renders: bool
    #: The operation's own page in the HTML directory (GET with ``f=html`` on a POST
    #: operation): called with the URL's arguments, returns the ``Page`` with its form.
    page: Callable[..., Any] | None = None

    @property
    def is_resource(self) -> bool:
        return "GET" in self.methods

    @property
    def served_methods(self) -> tuple[str, ...]:
        """``methods``, plus GET for the operation's own page when it has one."""
        if self.page is None or "GET" in self.methods:
            return self.methods
        return (*self.methods, "GET")


@dataclass
class Page:
    """A view's answer, with what only the HTML directory page needs.

    ``links`` and ``operations`` may be callables: they are built only when a
    page is asked for, so JSON answers do not pay for URL building.
    """

    payload: Mapping[str, Any]
    title: str | None = None
    links: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None
    operations: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None
    session_token: str | None = None
    #: One list of the payload laid out as a table (``key``, ``columns``, ``rows``, ``links``).
    table: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None
    #: A write's answer to a browser: the resource it made or changed, and what the
    #: browser is told there (``directory.Done``). The browser is sent there at once
    #: (post/redirect/get), so reloading the result repeats nothing.
    then: Callable[[], Any] | None = None


def operation(
    blueprint: Blueprint,
    rule: str,
    *,
    name: str,
    title: str,
    methods: tuple[str, ...] = RESOURCE,
    guard: Callable[[], Any] | None = None,
    release_bound: bool = False,
    form: tuple[Field, ...] = (),
    renders: bool = True,
    page: Callable[..., Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Declare ``view`` as the operation ``name`` at ``rule`` of ``blueprint``."""

    def declare(view: Callable[..., Any]) -> Callable[..., Response]:
        declared_operation = Operation(
            name=name,
            title=title,
            rule=rule,
            methods=methods,
            guard=guard,
            release_bound=release_bound,
            writes=methods == OPERATION,
            form=form,
            renders=renders,
            page=page,
        )

        @functools.wraps(view)
        def run(**kwargs: Any) -> Response:
            return _dispatch(declared_operation, view, kwargs)

        run.operation = declared_operation  # type: ignore[attr-defined]
        blueprint.add_url_rule(
            rule,
            view_func=run,
            methods=list(declared_operation.served_methods),
            strict_slashes=False,
        )
        return run

    return declare


def _dispatch(op: Operation, view: Callable[..., Any], kwargs: dict[str, Any]) -> Response:
    g.nbmock_operation = op.name
    # GET (or HEAD) on a POST operation: its page in the directory, else 405 as before.
    as_page = op.page is not None and request.method not in op.methods
    if as_page and wire.error_format() != "html":
        raise MethodNotSupported(messages.METHOD_NOT_SUPPORTED.format(method=request.method))
    fmt = wire.response_format() if op.renders else "html"
    if op.guard is not None:
        op.guard()
    dep = deployment.current()
    if op.release_bound and op.name not in dep.release.operations:
        raise NotFound(messages.NO_SUCH_RESOURCE.format(name=op.name))
    if as_page:
        return _render(op, op.page(**kwargs), "html")
    if not op.writes:
        return _render(op, view(**kwargs), fmt)
    with dep.store.transaction():
        response = _render(op, view(**kwargs), fmt)
        for hook in dep.commit_hooks:
            hook(op, response)
    return response


def _render(op: Operation, answer: Any, fmt: str) -> Response:
    if isinstance(answer, Response):
        return answer
    page = answer if isinstance(answer, Page) else Page(answer)
    if fmt != "html":
        return wire.render(page.payload, fmt=fmt)
    if page.then is not None and request.method == "POST":
        return directory.redirect_after_write(page.then())
    return directory.render_page(
        page.payload,
        title=page.title or op.title,
        name=op.name,
        links=_built(page.links),
        operations=_built(page.operations),
        table=_built(page.table),
        session_token=page.session_token,
        # An operation's JSON is its answer to a POST: its page has no JSON view.
        json_view=not op.writes,
    )


def _built(part: Any) -> Any:
    """A page part given as a callable is built only now that a page is asked for."""
    return part() if callable(part) else part


# --- reading the declarations ----------------------------------------------------


def declared(app: Flask) -> dict[str, Operation]:
    """Every declared operation of ``app``, by Flask endpoint."""
    return {
        endpoint: view.operation
        for endpoint, view in app.view_functions.items()
        if hasattr(view, "operation")
    }


def operation_names(app: Flask) -> frozenset[str]:
    """The names fault rules and journal filters may use."""
    return frozenset(op.name for op in declared(app).values())


def name_of(endpoint: str | None) -> str | None:
    """The declared name of ``endpoint`` in the current app, or None."""
    if endpoint is None:
        return None
    view = current_app.view_functions.get(endpoint)
    op = getattr(view, "operation", None)
    return None if op is None else op.name
