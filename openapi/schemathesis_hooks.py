"""Schemathesis hooks that teach it how ArcGIS answers: loaded by ``schemathesis.toml``.

ArcGIS answers most failures with HTTP 200 and an error envelope in the body
(docs/FIDELITY.md W4–W6). Schemathesis's own checks judge by HTTP status, so
this module adds what they cannot see:

- ``arcgis_token``: signs in through ``generateToken`` (the contract's own
  operation) and sends the token as ``X-Esri-Authorization: Bearer``, as the
  ArcGIS API for Python does. Credentials: ``ARCGIS_USERNAME`` /
  ``ARCGIS_PASSWORD``, by default the emulator's built-in ``admin``.
- ``invalid_input_gets_arcgis_error``: the ArcGIS form of
  ``negative_data_rejection``. Every request Schemathesis generated as
  invalid (and that is still invalid as sent on the wire, by Schemathesis's
  own reading) must get the error envelope, and the runtimes must be exactly
  as they were before it.
- ``copied_runtime_is_available`` (Kubernetes), ``registered_runtime_is_available``
  (the standalone Notebook Server, ``openapi/notebook-server.yaml``) and
  ``unregistered_runtime_is_gone``: the
  ArcGIS forms of ``ensure_resource_availability`` and ``use_after_free``,
  which only look at HTTP 404 and DELETE and so never fire on this API.
- ``before_call``: a generated sign-in with the run's user name and another
  password goes to a user that does not exist, so a run never locks the
  account (T15); a stateful step whose answer feeds the contract's links asks
  for ``f=json``, so the links read data, not the HTML directory's page (W1).
- a ``filter_failure`` hook for ``ignored_auth``: Schemathesis expects HTTP
  401/403 without credentials. The failure is kept unless the operation,
  asked again without a token and with a forged one, answers the error
  envelope both times: that is ArcGIS refusing, the ArcGIS way.

Tokens are never printed: probes carry them in headers Schemathesis does not
show, and failure messages name codes, not credentials.

Which envelope an answer is, is the contract kit's one reading
(``contracts.reply.envelope``). The hooks lean on Schemathesis's own
judgement of negative data and on its failure classes, which it does not
export at the top level: pyproject pins Schemathesis to the release series
they were written against (4.32).
"""

from __future__ import annotations

import contextvars
import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import IgnoredAuth
from schemathesis.specs.openapi.checks import negative_data_rejection

from contracts.reply import ADMIN_ERROR, PORTAL_ERROR, envelope, error_code

PORTAL_PREFIX = "/sharing/rest"
TOKEN_HEADER = "X-Esri-Authorization"
CREDENTIAL_HEADERS = ("X-Esri-Authorization", "Authorization")
LIST_RUNTIMES = "GET /admin/notebooks/runtimes"
GET_RUNTIME = "GET /admin/notebooks/runtimes/{runtimeId}"
COPY = "POST /admin/notebooks/runtimes/{runtimeId}/copy"
REGISTER = "POST /admin/notebooks/runtimes/register"
UNREGISTER = "POST /admin/notebooks/runtimes/{runtimeId}/unregister"
NOT_FOUND = 404
JSON_FORMATS = ("json", "pjson")

#: Set while this module sends its own requests, so its hooks leave them alone.
_probing: contextvars.ContextVar[bool] = contextvars.ContextVar("arcgis_probing", default=False)
#: Runtimes as they were before each invalid request, by case id.
_state_before: dict[str, Any] = {}


# --- generation --------------------------------------------------------------


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=6,
    )


#: ``podPlacementPolicy`` and ``customResources`` travel as the JSON text of an object [seed].
schemathesis.openapi.format(
    "json-object",
    st.dictionaries(st.text(max_size=8), _json_values(), max_size=3).map(json.dumps),
)


@schemathesis.deserializer("text/html")
def html_page(ctx, response) -> str:
    """``f=html`` pages (the default format) are text; the contract types them as strings."""
    return response.text


@schemathesis.deserializer("text/plain")
def arcgis_json(ctx, response) -> Any:
    """ArcGIS labels its JSON ``text/plain;charset=UTF-8`` (W11): the body is JSON."""
    return json.loads(response.content.decode("utf-8"))


# --- signing in --------------------------------------------------------------


def _credentials() -> dict[str, str]:
    return {
        "username": os.environ.get("ARCGIS_USERNAME", "admin"),
        "password": os.environ.get("ARCGIS_PASSWORD", "admin1234"),
    }


def _sign_in(schema) -> str:
    """A token from the contract's ``generateToken``, through the run's own transport."""
    operation = schema.find_operation_by_label(f"POST {PORTAL_PREFIX}/generateToken")
    case = operation.Case(
        body={**_credentials(), "client": "requestip", "f": "json"},
        media_type="application/x-www-form-urlencoded",
    )
    response = _send(case)
    answer = _json_body(response) or {}
    if "token" not in answer:
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        raise RuntimeError(
            "generateToken refused the contract test's sign-in "
            f"(code {error.get('code')}: {error.get('message')}); set ARCGIS_USERNAME and ARCGIS_PASSWORD"
        )
    return answer["token"]


def _deployment_key(case, context) -> str:
    """One token per deployment: a token from one emulator is no good on another."""
    return context.operation.schema.get_base_url()


@schemathesis.auth(refresh_interval=600, cache_by_key=_deployment_key)
class ArcGISToken:
    """A real token from ``generateToken``, sent as the official client sends it [client]."""

    def get(self, case, context) -> str:
        return _sign_in(context.operation.schema)

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), TOKEN_HEADER: f"Bearer {data}"}


_probe_tokens: dict[str, str] = {}


def _probe_token(schema) -> str:
    key = schema.get_base_url()
    if key not in _probe_tokens:
        _probe_tokens[key] = _sign_in(schema)
    return _probe_tokens[key]


# --- sending our own requests ------------------------------------------------


def _send(case):
    token = _probing.set(True)
    try:
        return case.call()
    finally:
        _probing.reset(token)


def _json_body(response) -> Any:
    """The answer's JSON, whatever its content type says (ArcGIS sends JSON as text/plain)."""
    try:
        return json.loads(response.content)
    except (ValueError, TypeError):
        return None


def _envelope_code(response, path: str) -> int | None:
    """The ArcGIS error code in ``response``, or None if it is not the path's error envelope."""
    body = _json_body(response)
    expected = PORTAL_ERROR if path.startswith(PORTAL_PREFIX) else ADMIN_ERROR
    return error_code(body) if envelope(body) == expected else None


def _is_success(response, path: str) -> bool:
    return (
        response.status_code == 200
        and _json_body(response) is not None
        and _envelope_code(response, path) is None
    )


def _runtimes(schema) -> Any:
    operation = schema.find_operation_by_label(LIST_RUNTIMES)
    case = operation.Case(
        query={"f": "json"}, headers={TOKEN_HEADER: f"Bearer {_probe_token(schema)}"}
    )
    return _send(case).json()


def _read_runtime(schema, runtime_id: str):
    operation = schema.find_operation_by_label(GET_RUNTIME)
    case = operation.Case(
        path_parameters={"runtimeId": runtime_id},
        query={"f": "json"},
        headers={TOKEN_HEADER: f"Bearer {_probe_token(schema)}"},
    )
    return _send(case)


def _as_json_request(case):
    """The same request asking for ``f=json``, so an HTML answer can be read as data."""
    body = case.body
    if isinstance(body, dict):
        body = {**body, "f": "json"}
    query = {**(case.query or {}), "f": "json"}
    return case.operation.Case(
        path_parameters=case.path_parameters,
        query=query,
        headers=case.headers,
        body=body,
        media_type=case.media_type,
    )


def _without_credentials(case, *, token: str | None = None):
    headers = {
        name: value
        for name, value in (case.headers or {}).items()
        if name.lower() not in {h.lower() for h in CREDENTIAL_HEADERS}
    }
    if token is not None:
        headers[TOKEN_HEADER] = f"Bearer {token}"
    query = {k: v for k, v in (case.query or {}).items() if k != "token"}
    query["f"] = "json"
    body = case.body
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "token"}
        body["f"] = "json"
    return case.operation.Case(
        path_parameters=case.path_parameters,
        query=query,
        headers=headers,
        body=body,
        media_type=case.media_type,
    )


def _answers_json(case) -> bool:
    """Whether refusals come as data: the OAuth sign-in pages (``x-errors-as-page``) show them as pages."""
    return not case.operation.definition.raw.get("x-errors-as-page", False)


def _unreadable_optional_body(case) -> bool:
    """A form body replaced by a non-object, where the operation needs no body at all.

    Such a body carries no field a server can read, so the server sees a
    request without parameters, which the contract allows.
    """
    definition = case.operation.definition.raw.get("requestBody", {})
    return not definition.get("required", False) and not isinstance(case.body, dict)


def _valid_once_empty_fields_are_dropped(case) -> bool:
    """A form body whose only invalid fields are empty objects or lists, which send nothing.

    A form encoder writes no part for ``{}`` or ``[]``, so the server sees
    those fields left out; if the rest is valid, so is what was sent.
    """
    if not isinstance(case.body, dict) or case.media_type is None:
        return False
    sent = {name: value for name, value in case.body.items() if value not in ({}, [], None)}
    if len(sent) == len(case.body):
        return False
    body = case.operation.get_body_for_media_type(case.media_type)
    if body is None:
        return False
    validator_cls = case.operation.schema.adapter.jsonschema_validator_cls
    try:
        return validator_cls(body.optimized_schema).is_valid(sent)
    except Exception:  # a schema the validator cannot read: judge the request as generated
        return False


def _changes_state(case) -> bool:
    return case.operation.method.upper() == "POST" and not case.path.startswith(PORTAL_PREFIX)


def _is_negative(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_negative


# --- hooks and checks --------------------------------------------------------


def _feeds_links(case) -> bool:
    """Whether the operation's answer is read by the contract's links (a list, a copy)."""
    responses = case.operation.definition.raw.get("responses", {})
    return any(isinstance(answer, dict) and "links" in answer for answer in responses.values())


def _asks_for_json(case) -> None:
    """A stateful step whose answer feeds links asks for JSON.

    Without ``f`` (or with an ``f`` ArcGIS does not know) the answer is the HTML
    directory's page (W1), where a link's ``$response.body#/notebookRuntime/id``
    finds nothing: each such step printed a "Failed to extract data" warning and
    the chain went on with a made-up id. Hostile ``f`` values are still sent by
    the other phases, to every operation.
    """
    if case.meta is None or case.meta.phase.name != "stateful" or not _feeds_links(case):
        return
    if isinstance(case.body, dict):
        if case.body.get("f") not in JSON_FORMATS:
            case.body["f"] = "json"
        return
    # No form to carry it (a GET, or a POST sent without a body): the query does,
    # as ArcGIS reads parameters from either.
    case.query = dict(case.query or {})
    if case.query.get("f") not in JSON_FORMATS:
        case.query["f"] = "json"


#: A user name no deployment has: sign-ins that must fail go to it (T15: it never locks anyone).
NO_SUCH_USER = "nbmock-schemathesis-no-such-user"


def _never_locks_the_run_user(case) -> None:
    """A sign-in with the run's own user name and any other password goes to no user.

    Five wrong passwords lock an account for 15 minutes (docs/FIDELITY.md T15).
    Generated sign-ins start from the contract's example (``admin``), so one run
    locked that account: the next run within 15 minutes could not sign in at all,
    and against a real Enterprise it would lock a real administrator. As the
    contract kit does, failed sign-ins use a user name that does not exist.
    """
    credentials = _credentials()
    wanted = credentials["username"].strip().casefold()
    for fields in (case.body, case.query):
        if not isinstance(fields, dict) or "username" not in fields:
            continue
        named = fields["username"]
        if not isinstance(named, str) or named.strip().casefold() != wanted:
            continue
        if fields.get("password") != credentials["password"]:
            fields["username"] = NO_SUCH_USER


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Sign-ins lock no one; links read JSON; remember the runtimes before an invalid write."""
    if _probing.get():
        return
    _never_locks_the_run_user(case)
    _asks_for_json(case)
    if not _is_negative(case) or not _changes_state(case):
        return
    _state_before[case.id] = _runtimes(case.operation.schema)


@schemathesis.check
def invalid_input_gets_arcgis_error(ctx, response, case) -> bool | None:
    """Invalid input gets the ArcGIS error envelope (with HTTP 200) and changes no runtime.

    Which generated requests are invalid *as sent* is Schemathesis's own
    judgement (its ``negative_data_rejection`` rules, which know when a
    mutation becomes valid once written into a form); only the verdict
    differs: ArcGIS refuses in the body, not with a 4xx status.
    """
    before = _state_before.pop(case.id, None)
    if (
        not _is_negative(case)
        or not _answers_json(case)
        or _unreadable_optional_body(case)
        or _valid_once_empty_fields_are_dropped(case)
    ):
        return None
    try:
        negative_data_rejection(ctx, response, case)
        return None  # valid once on the wire, or not generated as invalid
    except AcceptedNegativeData as invalid:
        why = invalid.message.split("\n", 2)[-1]
    answer = response
    if _json_body(response) is None:
        answer = _send(_as_json_request(case))
    code = _envelope_code(answer, case.path)
    if code is None:
        raise AssertionError(
            f"Invalid input accepted: no ArcGIS error envelope in the answer.\n{why}"
        )
    if before is not None:
        after = _runtimes(case.operation.schema)
        if after != before:
            raise AssertionError(
                f"Refused input changed state: refused with code {code}, "
                f"yet the runtimes changed.\n{why}"
            )
    return None


@schemathesis.check
def copied_runtime_is_available(ctx, response, case) -> bool | None:
    """A runtime ``copy`` reports as made can be read back, as reported [seed]."""
    if case.operation.label != COPY or not _is_success(response, case.path):
        return None
    made = response.json().get("notebookRuntime", {})
    read = _read_runtime(case.operation.schema, made.get("id", ""))
    if not _is_success(read, case.path) or read.json() != made:
        raise AssertionError(
            "Copied runtime not available: "
            + (
                f"copy answered success with runtime {made.get('id')!r}, but reading it back "
                f"gave code {_envelope_code(read, case.path)} or a different runtime."
            )
        )
    return None


@schemathesis.check
def registered_runtime_is_available(ctx, response, case) -> bool | None:
    """A runtime ``register`` reports as made can be read back with what it answered [doc]."""
    if case.operation.label != REGISTER or not _is_success(response, case.path):
        return None
    made = response.json().get("notebookRuntime", {})
    read = _read_runtime(case.operation.schema, made.get("id", ""))
    # runtimes/<id> adds deprecated, useGPU and manifestFile to what register answers.
    shown = read.json() if _is_success(read, case.path) else {}
    if {key: shown.get(key) for key in made} != made:
        raise AssertionError(
            "Registered runtime not available: "
            + (
                f"register answered success with runtime {made.get('id')!r}, but reading it "
                f"back gave code {_envelope_code(read, case.path)} or other values."
            )
        )
    return None


@schemathesis.check
def unregistered_runtime_is_gone(ctx, response, case) -> bool | None:
    """After a successful ``unregister`` the runtime answers code 404 [doc]."""
    if case.operation.label != UNREGISTER or not _is_success(response, case.path):
        return None
    runtime_id = case.path_parameters["runtimeId"]
    read = _read_runtime(case.operation.schema, runtime_id)
    if _envelope_code(read, case.path) != NOT_FOUND:
        raise AssertionError(
            "Unregistered runtime still served: "
            + (
                f"unregister answered success for {runtime_id!r}, but reading it afterwards gave "
                f"code {_envelope_code(read, case.path)} instead of 404."
            )
        )
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep an ``ignored_auth`` failure only if the operation succeeds without a valid token.

    Schemathesis counts anything but HTTP 401/403 as accepted; ArcGIS refuses
    with HTTP 200 and an error envelope (499 without a token, 498 with a bad
    one). So ask again, without a token and with a forged one, as JSON: any
    answer that is not an error envelope means the operation let it through.
    """
    if not isinstance(failure, IgnoredAuth):
        return True
    for probe in (_without_credentials(case), _without_credentials(case, token="forged-token")):
        if _envelope_code(_send(probe), case.path) is None:
            return True
    return False
