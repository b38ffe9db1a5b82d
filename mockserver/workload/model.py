"""The notebooks workload: every rule, pure Python, on the emulated clock.

What an administrator automates most is the work that runs on the runtimes:
open notebooks (who has what open, on which runtime, idle since when), the
Kubernetes deployments or standalone containers hosting them ("hosts"), and
the jobs ``openNotebook`` and ``executeNotebook`` start.

Time is a dependency, never a thread: nothing here sleeps or schedules.
Each moment a thing changes is stored (a job's start and end, the activity
an idle notebook is closed after), and ``settled(workload, now_ms)`` answers
what the deployment looks like at ``now_ms``. A read settles without
writing; a write settles first and stores the result, so a later change of
configuration (a longer idle threshold) never brings back what already
closed. A test moves the clock and reads the change.

Each flavour renders these records in its own shape (its routes); the rules
are the same for both unless a rule says otherwise.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mockserver.core import messages
from mockserver.core.errors import Forbidden, InvalidParameters, NotFound, Refused

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

# --- job statuses [doc: enterprise-administration/enterprise/job, 10.9.1] ------------------
SUBMITTED = "SUBMITTED"
EXECUTING = "EXECUTING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
FINISHED = frozenset({COMPLETED, FAILED})

OPEN_NOTEBOOK = "openNotebook"
EXECUTE_NOTEBOOK = "executeNotebook"

#: notebooks/configuration on Kubernetes [doc: 11.4 notebook-configuration]; 11.4 adds
#: asyncJobsCleanAgeHours [doc], 11.5 notebookEgressNetworkPolicy [doc] (its default value
#: is not documented: an empty object [inferred]).
KUBERNETES_CONFIGURATION: dict[str, Any] = {
    "webSocketSize": 16,
    "maxExecuteNotebookTimeMinutes": 120,
    "maxSnapshotsPerNotebookItem": 5,
    "allowHiddenFileDownloads": False,
    "idleNotebookThreshold": 720,
    "containerCreatedThreshold": 60,
    "asyncJobsCleanAgeHours": 6,
}
EGRESS_POLICY_SINCE = (11, 5)

#: Configuration keys and their kinds, for ``updated_configuration``.
_WHOLE_NUMBERS = (
    "webSocketSize",
    "maxExecuteNotebookTimeMinutes",
    "maxSnapshotsPerNotebookItem",
    "idleNotebookThreshold",
    "containerCreatedThreshold",
    "asyncJobsCleanAgeHours",
)
_FLAGS = ("allowHiddenFileDownloads",)
#: The settings the workload's rules compute with (``settled``, ``execute_notebook``).
_RULE_SETTINGS = (
    "idleNotebookThreshold",
    "containerCreatedThreshold",
    "asyncJobsCleanAgeHours",
    "maxExecuteNotebookTimeMinutes",
)
_OBJECTS = ("notebookEgressNetworkPolicy",)

#: How long the emulated work takes unless the control plane says otherwise [inferred]:
#: opening completes at once (the client's synchronous open_notebook polls without
#: sleeping); an execution takes a minute of emulated time.
DEFAULT_OPEN_SECONDS = 0.0
DEFAULT_EXECUTE_SECONDS = 60.0
#: Bounds of what the control plane may set: a century, as the clock's own bound.
MAX_SECONDS = 100 * 365 * 24 * 3600
MAX_MESSAGE = 2000


def default_configuration(release_name: str) -> dict[str, Any]:
    configuration = dict(KUBERNETES_CONFIGURATION)
    if _release_key(release_name) >= EGRESS_POLICY_SINCE:
        configuration["notebookEgressNetworkPolicy"] = {}
    return configuration


#: system/properties of the standalone Notebook Server [client: SystemManager.properties'
#: defaults, arcgis 2.4.4 _system.py; doc: server-properties]. idleNotebookThreshold is
#: 1440 minutes (older pages' 24 h; the newest page says 12 h: FIDELITY J24).
SERVER_PROPERTIES: dict[str, Any] = {
    "dockerConnectionPort": 2375,
    "webSocketSize": 16,
    "maxContainersPerNode": 20,
    "containersStartPort": 30001,
    "containersStopPort": 31000,
    "idleNotebookThreshold": 1440,
    "containerCreatedThreshold": 60,
    "dockerConnectionHost": "localhost",
}


def server_properties(release_name: str) -> dict[str, Any]:
    """The same in every release the emulator serves [inferred: no page lists a change]."""
    return dict(SERVER_PROPERTIES)


def _release_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


# --- records ------------------------------------------------------------------------


@dataclass
class Item:
    """A Portal item of type Notebook [client: execute_notebook and open_notebook take one]."""

    id: str
    title: str
    owner: str
    created: int
    type: str = "Notebook"


@dataclass
class Host:
    """What runs a user's notebooks: a Kubernetes deployment or a standalone container."""

    id: str
    username: str
    runtime_id: str
    runtime_name: str
    runtime_version: str
    created_ms: int


@dataclass
class Notebook:
    """An open notebook. It counts as open from ``opened_ms`` (its open job's end)."""

    id: str
    item_id: str
    item_title: str
    username: str
    runtime_id: str
    host_id: str
    opened_ms: int
    last_activity_ms: int
    revision: int

    def closes_at(self, idle_minutes: int) -> int:
        """When the idle-notebook cleaner closes it [doc: idleNotebookThreshold]."""
        return self.last_activity_ms + idle_minutes * MINUTE_MS


@dataclass
class Job:
    """An asynchronous job: SUBMITTED until ``started_ms``, EXECUTING until ``ended_ms``,
    then COMPLETED, or FAILED with ``failure`` as its message."""

    id: str
    type: str
    username: str
    item_id: str
    inputs: dict[str, Any]
    runtime_id: str
    runtime_name: str
    runtime_version: str
    submitted_ms: int
    started_ms: int
    ended_ms: int
    failure: str | None = None
    notebook_id: str | None = None
    revision: int = 0

    def status(self, now_ms: int) -> str:
        if now_ms < self.started_ms:
            return SUBMITTED
        if now_ms < self.ended_ms:
            return EXECUTING
        return FAILED if self.failure is not None else COMPLETED


@dataclass
class Behaviour:
    """How an execution goes: how long it takes, and the message it fails with (if any)."""

    duration_seconds: float = DEFAULT_EXECUTE_SECONDS
    failure: str | None = None


@dataclass
class Steering:
    """What the control plane set: WireMock's stubs, for jobs."""

    open_seconds: float = DEFAULT_OPEN_SECONDS
    queue_seconds: float = 0.0
    execution: Behaviour = field(default_factory=Behaviour)
    #: Per notebook item: an execution of that item goes this way instead.
    by_item: dict[str, Behaviour] = field(default_factory=dict)

    def behaviour(self, item_id: str) -> Behaviour:
        return self.by_item.get(item_id, self.execution)


@dataclass
class Execution:
    """What was executed, with which parameters: the control plane's record for tests."""

    job_id: str
    item_id: str
    username: str
    notebook_parameters: dict[str, Any] | None
    update_portal_item: bool
    save_injected_parameters: bool
    submitted_ms: int


@dataclass
class Workload:
    notebooks: dict[str, Notebook] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    configuration: dict[str, Any] = field(default_factory=dict)
    steering: Steering = field(default_factory=Steering)
    executions: list[Execution] = field(default_factory=list)
    #: How many ids were made: seeded ids follow it, as the runtimes' do.
    sequence: int = 0

    # --- JSON (the store and state snapshots) --------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "notebooks": [asdict(n) for n in self.notebooks.values()],
            "hosts": [asdict(h) for h in self.hosts.values()],
            "jobs": [asdict(j) for j in self.jobs.values()],
            "items": [asdict(i) for i in self.items.values()],
            "configuration": self.configuration,
            "steering": asdict(self.steering),
            "executions": [asdict(e) for e in self.executions],
            "sequence": self.sequence,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Workload:
        """A workload from ``to_json``'s form; ``ValueError`` names what is wrong."""
        for name in ("configuration", "steering"):
            # dict() would take a string or a list of pairs, or refuse in Python's words.
            if name in data and not isinstance(data[name], Mapping | None):
                raise ValueError(f"'{name}' must be an object.")
        try:
            steering = dict(data.get("steering") or {})
            execution = Behaviour(**steering.pop("execution", {}))
            by_item = {k: Behaviour(**v) for k, v in steering.pop("by_item", {}).items()}
            workload = cls(
                notebooks={n["id"]: Notebook(**n) for n in data.get("notebooks", [])},
                hosts={h["id"]: Host(**h) for h in data.get("hosts", [])},
                jobs={j["id"]: Job(**j) for j in data.get("jobs", [])},
                items={i["id"]: Item(**i) for i in data.get("items", [])},
                configuration=dict(data["configuration"]),
                steering=Steering(**steering, execution=execution, by_item=by_item),
                executions=[Execution(**e) for e in data.get("executions", [])],
                sequence=int(data.get("sequence", 0)),
            )
        except (KeyError, TypeError, AttributeError) as wrong:
            raise ValueError(f"'workload' is not a workload snapshot ({wrong}).") from None
        _check_types(workload)
        return workload


def _check_types(workload: Workload) -> None:
    """Field types as declared: an imported snapshot holds nothing the API could not make."""
    records = [
        *workload.notebooks.values(),
        *workload.hosts.values(),
        *workload.jobs.values(),
        *workload.items.values(),
        *workload.executions,
    ]
    for record in records:
        for f in fields(record):
            value = getattr(record, f.name)
            kind = f.type
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{type(record).__name__}.{f.name} must be an integer.")
            if kind == "str" and not isinstance(value, str):
                raise ValueError(f"{type(record).__name__}.{f.name} must be a string.")
    if not isinstance(workload.configuration, dict):
        raise ValueError("'configuration' must be an object.")
    for name, value in workload.configuration.items():
        if not isinstance(value, bool | int | str | dict):
            raise ValueError(f"configuration.{name} must be a number, flag, text or object.")
    for name in _RULE_SETTINGS:
        value = workload.configuration.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 2**31 - 1:
            raise ValueError(f"configuration.{name} must be a whole number from 1 to {2**31 - 1}.")
    # Steering is read on every open and execute: an imported snapshot holds only what
    # the control plane itself would accept.
    steering = workload.steering
    checked_seconds(steering.open_seconds, "steering.open_seconds")
    checked_seconds(steering.queue_seconds, "steering.queue_seconds")
    for where, behaviour in [("execution", steering.execution), *steering.by_item.items()]:
        checked_seconds(behaviour.duration_seconds, f"steering {where} duration_seconds")
        checked_message(behaviour.failure, f"steering {where} failure")
    for job in workload.jobs.values():
        if not isinstance(job.inputs, dict) or not (
            job.submitted_ms <= job.started_ms <= job.ended_ms
        ):
            raise ValueError(f"job {job.id[:40]} must have inputs and times in order.")


# --- ids: jobs "j" + 32 of [a-z0-9], as 12.1's notebook jobs page shows [doc]; notebooks,
# hosts and items 32 hex digits, as Portal item ids are [doc; for notebooks and hosts
# inferred] -------------------------------------------------------------------------------

_JOB_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def next_id(workload: Workload, seed: int | None, kind: str) -> str:
    """A fresh id of ``kind`` ("job", "notebook", "host", "item"); seeded, the n-th id of a
    deployment is the same on every run."""
    workload.sequence += 1
    rng: random.Random = (
        random.SystemRandom() if seed is None else random.Random(f"{seed}:w:{workload.sequence}")
    )
    if kind == "job":
        return "j" + "".join(rng.choice(_JOB_ALPHABET) for _ in range(32))
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


# --- time: what the deployment looks like at now_ms -----------------------------------------


def settled(workload: Workload, now_ms: int) -> Workload:
    """The workload at ``now_ms``: idle notebooks closed, hosts with nothing left to run gone,
    finished jobs past ``asyncJobsCleanAgeHours`` cleaned away. Pure: returns a new value."""
    config = workload.configuration
    idle_minutes = int(config.get("idleNotebookThreshold", 720))
    notebooks = {
        nid: nb for nid, nb in workload.notebooks.items() if now_ms < nb.closes_at(idle_minutes)
    }
    hosts = {
        hid: host
        for hid, host in workload.hosts.items()
        if _host_alive(host, notebooks, config, now_ms)
    }
    clean_ms = int(config.get("asyncJobsCleanAgeHours", 6)) * HOUR_MS
    jobs = {
        jid: job
        for jid, job in workload.jobs.items()
        if job.status(now_ms) not in FINISHED or now_ms < job.ended_ms + clean_ms
    }
    return replace(workload, notebooks=notebooks, hosts=hosts, jobs=jobs)


def _host_alive(
    host: Host, notebooks: Mapping[str, Notebook], config: Mapping[str, Any], now_ms: int
) -> bool:
    """A host lives while it runs a notebook, and for ``containerCreatedThreshold`` minutes
    after it was created even if it runs none [doc: the property's meaning; the rule that
    an empty host then goes is inferred]."""
    if any(nb.host_id == host.id for nb in notebooks.values()):
        return True
    return now_ms < host.created_ms + int(config.get("containerCreatedThreshold", 60)) * MINUTE_MS


def open_notebooks(workload: Workload, now_ms: int) -> list[Notebook]:
    """The notebooks open at ``now_ms`` (an open job still running has none yet), oldest first."""
    view = settled(workload, now_ms)
    return sorted(
        (nb for nb in view.notebooks.values() if nb.opened_ms <= now_ms),
        key=lambda nb: (nb.opened_ms, nb.id),
    )


def live_hosts(workload: Workload, now_ms: int) -> list[Host]:
    return sorted(
        settled(workload, now_ms).hosts.values(), key=lambda host: (host.created_ms, host.id)
    )


def open_notebook_of(workload: Workload, notebook_id: str, now_ms: int) -> Notebook:
    for notebook in open_notebooks(workload, now_ms):
        if notebook.id == notebook_id:
            return notebook
    raise NotFound(messages.NOTEBOOK_NOT_FOUND.format(id=notebook_id[:80]))


def host_of(workload: Workload, host_id: str, now_ms: int) -> Host:
    host = settled(workload, now_ms).hosts.get(host_id)
    if host is None:
        raise NotFound(messages.DEPLOYMENT_NOT_FOUND.format(id=host_id[:80]))
    return host


def job_of(workload: Workload, job_id: str, now_ms: int) -> Job:
    job = settled(workload, now_ms).jobs.get(job_id)
    if job is None:
        raise NotFound(messages.JOB_NOT_FOUND.format(id=job_id[:80]))
    return job


def jobs_at(workload: Workload, now_ms: int, *, active_only: bool = False) -> list[Job]:
    """Jobs oldest first. ``active_only``: notebooks/jobs lists a job only until it finishes
    [doc: "The job resource is removed after a job is completed successfully or if there
    is a failure"]; the admin jobs resource keeps it [doc]."""
    jobs = settled(workload, now_ms).jobs.values()
    if active_only:
        jobs = [job for job in jobs if job.status(now_ms) not in FINISHED]
    return sorted(jobs, key=lambda job: (job.submitted_ms, job.id))


def runtime_users(workload: Workload, runtime_id: str, now_ms: int) -> list[Notebook]:
    """Open (or opening) notebooks on ``runtime_id``: what unregistering it would strand."""
    view = settled(workload, now_ms)
    return [nb for nb in view.notebooks.values() if nb.runtime_id == runtime_id]


#: The standalone notebooks list's paging [doc: notebooks, 10.7: start 1-based, num default
#: 10, at most 100]. A larger num is cut to 100 [inferred, as the Portal's search does].
DEFAULT_PAGE = 10
MAX_PAGE = 100


@dataclass(frozen=True)
class Paging:
    start: int
    num: int

    def of(self, records: list) -> list:
        return records[self.start - 1 : self.start - 1 + self.num]


def paging(params: Mapping[str, str]) -> Paging:
    """``start`` and ``num`` as sent; empty means the default; problems reported at once."""
    problems: list[str] = []
    raw_start = params.get("start") or ""
    raw_num = params.get("num") or ""
    start = _whole("start", raw_start, problems) if raw_start.strip() else 1
    num = _whole("num", raw_num, problems) if raw_num.strip() else DEFAULT_PAGE
    if problems or start is None or num is None:
        raise InvalidParameters(*problems)
    return Paging(start=start, num=min(num, MAX_PAGE))


# --- writes: each takes a settled workload and changes it in place --------------------------


@dataclass(frozen=True)
class Caller:
    username: str
    #: The "Advanced notebooks" privilege [client: premium:publisher:createAdvancedNotebooks].
    advanced: bool


def item_for(workload: Workload, item_id: str | None) -> Item:
    if not item_id:
        raise InvalidParameters(messages.REQUIRED.format(name="itemId"))
    item = workload.items.get(item_id)
    if item is None or item.type != "Notebook":
        raise Refused(messages.ITEM_NOT_A_NOTEBOOK.format(id=item_id[:80]))
    return item


def check_runtime(runtime: Mapping[str, Any] | None, runtime_id: str, caller: Caller) -> None:
    """Open only on a runtime that exists and is enabled [issue: refused otherwise; the
    standalone flavour's runtimes carry ``disabled``], and that the caller may use [doc: an
    Advanced runtime needs the Advanced Notebooks privilege]."""
    if runtime is None or runtime.get("disabled") is True:
        raise Refused(messages.RUNTIME_UNAVAILABLE.format(id=runtime_id[:80]))
    if runtime.get("requiresAdvancedPrivileges") and not caller.advanced:
        raise Forbidden(messages.RUNTIME_NEEDS_ADVANCED.format(id=runtime_id[:80]))


def open_notebook(
    workload: Workload,
    *,
    item: Item,
    runtime: Mapping[str, Any],
    caller: Caller,
    now_ms: int,
    seed: int | None,
    inputs: Mapping[str, Any],
) -> Job:
    """Start opening ``item`` for ``caller`` on ``runtime``; returns the job.

    The notebook is listed once the job completes. An item already open for the same user
    is not opened twice: the job completes with the open notebook [inferred]. The user's
    host for that runtime is reused, else one is created [inferred: one deployment per user
    and runtime, as the deployment's keys (username, notebookRuntimeId) suggest].
    """
    steering = workload.steering
    started = now_ms + _ms(steering.queue_seconds)
    ended = started + _ms(steering.open_seconds)
    existing = next(
        (
            nb
            for nb in workload.notebooks.values()
            if nb.item_id == item.id and nb.username == caller.username
        ),
        None,
    )
    job_id = next_id(workload, seed, "job")
    if existing is not None:
        notebook = existing
        notebook.last_activity_ms = max(notebook.last_activity_ms, now_ms)
    else:
        host = _host_for(workload, caller.username, runtime, created_ms=started, seed=seed)
        notebook = Notebook(
            id=next_id(workload, seed, "notebook"),
            item_id=item.id,
            item_title=item.title,
            username=caller.username,
            runtime_id=runtime["id"],
            host_id=host.id,
            opened_ms=ended,
            last_activity_ms=ended,
            revision=ended,
        )
        workload.notebooks[notebook.id] = notebook
    job = Job(
        id=job_id,
        type=OPEN_NOTEBOOK,
        username=caller.username,
        item_id=item.id,
        inputs=dict(inputs),
        runtime_id=runtime["id"],
        runtime_name=runtime.get("name", ""),
        runtime_version=str(runtime.get("version", "")),
        submitted_ms=now_ms,
        started_ms=started,
        ended_ms=ended,
        notebook_id=notebook.id,
        revision=now_ms,
    )
    workload.jobs[job.id] = job
    return job


def _host_for(
    workload: Workload,
    username: str,
    runtime: Mapping[str, Any],
    *,
    created_ms: int,
    seed: int | None,
) -> Host:
    """The user's host on ``runtime``, made at ``created_ms`` if they have none: one user's
    notebooks on one runtime share a host, whether opened or seeded."""
    host = next(
        (
            h
            for h in workload.hosts.values()
            if h.username == username and h.runtime_id == runtime["id"]
        ),
        None,
    )
    if host is None:
        host = Host(
            id=next_id(workload, seed, "host"),
            username=username,
            runtime_id=runtime["id"],
            runtime_name=runtime.get("name", ""),
            runtime_version=str(runtime.get("version", "")),
            created_ms=created_ms,
        )
        workload.hosts[host.id] = host
    return host


def execute_notebook(
    workload: Workload,
    *,
    item: Item,
    runtime: Mapping[str, Any],
    caller: Caller,
    params: Mapping[str, str],
    now_ms: int,
    seed: int | None,
) -> Job:
    """Start executing ``item``; the job ends after the steered duration, failing with the
    steered message, or when it passes ``maxExecuteNotebookTimeMinutes`` [doc: the property;
    its effect on the job inferred]."""
    problems: list[str] = []
    update_item = _flag(params, "updatePortalItem", True, problems)
    save_injected = _flag(params, "saveInjectedParameters", False, problems)
    parameters = _parameters(params.get("notebookParameters"), problems)
    if problems:
        raise InvalidParameters(*problems)
    behaviour = workload.steering.behaviour(item.id)
    limit_minutes = int(workload.configuration.get("maxExecuteNotebookTimeMinutes", 120))
    duration = _ms(behaviour.duration_seconds)
    failure = behaviour.failure
    if duration > limit_minutes * MINUTE_MS:
        duration = limit_minutes * MINUTE_MS
        failure = messages.EXECUTION_TIMED_OUT.format(minutes=limit_minutes)
    started = now_ms + _ms(workload.steering.queue_seconds)
    inputs: dict[str, Any] = {
        "itemId": item.id,
        "executionTimeoutInMinutes": limit_minutes,
        "updatePortalItem": update_item,
        "saveInjectedParameters": save_injected,
    }
    if parameters is not None:
        # [doc] the standalone job page shows the parameters as the JSON text sent.
        inputs["notebookParameters"] = json.dumps(parameters)
    job = Job(
        id=next_id(workload, seed, "job"),
        type=EXECUTE_NOTEBOOK,
        username=caller.username,
        item_id=item.id,
        inputs=inputs,
        runtime_id=runtime["id"],
        runtime_name=runtime.get("name", ""),
        runtime_version=str(runtime.get("version", "")),
        submitted_ms=now_ms,
        started_ms=started,
        ended_ms=started + duration,
        failure=failure,
        revision=now_ms,
    )
    workload.jobs[job.id] = job
    workload.executions.append(
        Execution(
            job_id=job.id,
            item_id=item.id,
            username=caller.username,
            notebook_parameters=parameters,
            update_portal_item=update_item,
            save_injected_parameters=save_injected,
            submitted_ms=now_ms,
        )
    )
    return job


def close_notebook(workload: Workload, notebook_id: str, now_ms: int) -> Notebook:
    notebook = open_notebook_of(workload, notebook_id, now_ms)
    del workload.notebooks[notebook.id]
    return notebook


def terminate_host(workload: Workload, host_id: str, now_ms: int) -> Host:
    """The host goes, and every notebook it runs closes with it [doc: terminateDeployment
    "terminates" the deployment; that its notebooks close follows]."""
    host = host_of(workload, host_id, now_ms)
    del workload.hosts[host.id]
    for notebook_id in [nid for nid, nb in workload.notebooks.items() if nb.host_id == host.id]:
        del workload.notebooks[notebook_id]
    return host


def updated_configuration(current: Mapping[str, Any], params: Mapping[str, str]) -> dict:
    """``current`` with the given documented keys changed; all problems reported at once,
    nothing changed if any. Names the configuration does not have are ignored [inferred]."""
    problems: list[str] = []
    result = dict(current)
    for name in _WHOLE_NUMBERS:
        if name in params and name in current:
            value = _whole(name, params[name], problems)
            if value is not None:
                result[name] = value
    for name in _FLAGS:
        if name in params and name in current:
            result[name] = _flag(params, name, current[name], problems)
    for name in _OBJECTS:
        if name in params and name in current:
            try:
                value = json.loads(params[name])
            except ValueError:
                value = None
            if isinstance(value, dict):
                result[name] = value
            else:
                problems.append(messages.NOT_AN_OBJECT.format(name=name))
    if problems:
        raise InvalidParameters(*problems)
    return result


def updated_properties(current: Mapping[str, Any], raw: str | None) -> dict[str, Any]:
    """system/properties/update's ``properties``: a JSON object of the properties to set
    [doc: server-properties-update]. Each must be one the server has [inferred: unknown
    names refused], numbers whole and positive, text text; problems reported at once."""
    problems: list[str] = []
    try:
        given = json.loads(raw) if raw and raw.strip() else None
    except (ValueError, RecursionError):
        given = None
    if not isinstance(given, dict):
        raise InvalidParameters(messages.NOT_JSON_OBJECT_TEXT.format(name="properties"))
    result = dict(current)
    for name, value in given.items():
        if name not in current:
            problems.append(messages.UNKNOWN_PROPERTY.format(name=str(name)[:80]))
        elif isinstance(current[name], bool):
            result[name] = _flag({name: str(value)}, name, current[name], problems)
        elif isinstance(current[name], int):
            number = _whole(name, str(value), problems)
            if number is not None:
                result[name] = number
        elif isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable():
            result[name] = value
        else:
            problems.append(messages.BAD_TEXT.format(name=name, limit=255))
    if problems:
        raise InvalidParameters(*problems)
    return result


# --- the control plane's seeds ---------------------------------------------------------------


def seed_item(
    workload: Workload, *, owner: str, title: str, item_id: str | None, now_ms: int, seed
) -> Item:
    item = Item(
        id=item_id or next_id(workload, seed, "item"), title=title, owner=owner, created=now_ms
    )
    workload.items[item.id] = item
    return item


def seed_open_notebook(
    workload: Workload,
    *,
    item: Item,
    runtime: Mapping[str, Any],
    username: str,
    last_activity_ms: int,
    now_ms: int,
    seed: int | None,
) -> Notebook:
    """A notebook already open for ``username``, last active at ``last_activity_ms``."""
    opened = min(last_activity_ms, now_ms)
    host = _host_for(workload, username, runtime, created_ms=opened, seed=seed)
    notebook = Notebook(
        id=next_id(workload, seed, "notebook"),
        item_id=item.id,
        item_title=item.title,
        username=username,
        runtime_id=runtime["id"],
        host_id=host.id,
        opened_ms=opened,
        last_activity_ms=last_activity_ms,
        revision=now_ms,
    )
    workload.notebooks[notebook.id] = notebook
    return notebook


def checked_seconds(value: Any, name: str) -> float:
    """A duration the control plane was given: a finite number of seconds, 0 to a century."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"'{name}' must be a finite number of seconds.")
    if not 0 <= value <= MAX_SECONDS:
        raise ValueError(f"'{name}' must be from 0 to {MAX_SECONDS} seconds.")
    return float(value)


def checked_message(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_MESSAGE:
        raise ValueError(f"'{name}' must be null or a message of 1 to {MAX_MESSAGE} characters.")
    return value


# --- parameters ---------------------------------------------------------------------------


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


_TRUE = frozenset({"true"})
_FALSE = frozenset({"false"})


def _flag(params: Mapping[str, str], name: str, default: bool, problems: list[str]) -> bool:
    """ "true"/"false" in any case [client: Python's str(True) is "True"]; empty: default."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.append(messages.NOT_A_BOOLEAN.format(name=name, value=raw[:40]))
    return default


def _whole(name: str, raw: str, problems: list[str]) -> int | None:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        problems.append(messages.NOT_AN_INTEGER.format(name=name, value=raw[:40]))
        return None
    if value <= 0:
        problems.append(messages.NOT_POSITIVE.format(name=name))
        return None
    if value > 2**31 - 1:
        problems.append(messages.OUT_OF_RANGE.format(name=name, value=raw[:40]))
        return None
    return int(value)


def _parameters(raw: str | None, problems: list[str]) -> dict[str, Any] | None:
    """notebookParameters: a JSON object [doc: "parameters in JSON format"]; empty: none."""
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        problems.append(messages.NOT_JSON_OBJECT_TEXT.format(name="notebookParameters"))
        return None
    return value
