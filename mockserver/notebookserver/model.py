"""The standalone Notebook Server's runtimes: the object and every rule about it, free of
HTTP and SQL.

Runtimes here are registered from a Docker image (``register``), not copied; every
runtime, Esri's included, can be updated; only registered ones can be unregistered;
``restore`` brings back Esri's. Parameters arrive as the strings a form carries;
``InvalidParameters`` lists every problem, so a refused request never reaches the
store. Provenance of each rule: docs/FIDELITY.md, section "Standalone Notebook Server".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from mockserver.core import counters, messages
from mockserver.core import values as v
from mockserver.core.errors import Refused
from mockserver.notebookserver.releases import RETIREMENT_MS

#: [doc] register-runtime: maxCPU in its table, maxCpu in its example; update-notebook-runtime
#: and the client's ``Runtime.update`` say maxCpu, its ``RuntimeConfiguration`` maxCPU [client].
MAX_CPU = ("maxCpu", "maxCPU")
#: [doc] the request says sharedMemory(Unit), the runtime sharedMemorySize(Unit); both
#: spellings are read [inferred], as the Kubernetes flavour does.
SHARED_MEMORY = ("sharedMemory", "sharedMemorySize")
SHARED_MEMORY_UNIT = ("sharedMemoryUnit", "sharedMemorySizeUnit")

#: [doc] register-runtime: "Full (nontruncated) ID for the new Docker image"; Docker
#: writes it as sha256:<64 hex>, or the 64 hex alone [inferred].
_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{64}")
#: A Docker runtime name such as ``nvidia`` [doc: GPU runtimes, Linux]; its form [inferred].
_DOCKER_RUNTIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: A runtime version as Esri writes them (``12.0``) [doc]; other forms refused [inferred].
_VERSION = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){0,3}")
#: [doc] register-runtime: ``version`` is "deprecated as of ArcGIS Notebook Server 10.9":
#: required before it, optional from it (then the site's runtime version) [inferred].
VERSION_OPTIONAL_FROM = (10, 9)
#: Docker's own default ``--shm-size`` when none is sent [inferred].
DEFAULT_SHARED_MEMORY = (64.0, "m")
IMAGE_PULL_STRING_MAX = 1024
#: The name the manifest of a runtime is kept under once one was uploaded or created [inferred].
MANIFEST_FILE_NAME = "manifest.json"


@dataclass
class ServerRuntime:
    """A notebook runtime of a standalone Notebook Server, as stored.

    ``revision`` is the store's ordering stamp, never shown: this API has none [doc].
    """

    id: str
    name: str
    version: str
    imageId: str
    containerType: str
    imagePullString: str
    dockerRuntime: str
    requiresAdvancedPrivileges: bool
    esriProvidedRuntime: bool
    disabled: bool
    maxCpu: float
    maxMemory: float
    maxMemoryUnit: str
    maxSwapMemory: float
    maxSwapMemoryUnit: str
    sharedMemorySize: float
    sharedMemorySizeUnit: str
    manifestFile: str
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServerRuntime:
        return cls(**{name: data[name] for name in _FIELDS})

    @property
    def deprecation_date(self) -> int | None:
        """Esri's retirement date of the runtime's version [doc]; null when none is published."""
        return RETIREMENT_MS.get(self.version)

    def listed(self) -> dict[str, Any]:
        """One entry of ``runtimes``, keys in the order of Esri's example [doc]."""
        return {
            "deprecationDate": self.deprecation_date,
            "imageId": self.imageId,
            "containerType": self.containerType,
            "imagePullString": self.imagePullString,
            "maxCpu": self.maxCpu,
            "version": self.version,
            "maxMemory": self.maxMemory,
            "esriProvidedRuntime": self.esriProvidedRuntime,
            "dockerRuntime": self.dockerRuntime,
            "name": self.name,
            "maxMemoryUnit": self.maxMemoryUnit,
            "maxSwapMemory": self.maxSwapMemory,
            "maxSwapMemoryUnit": self.maxSwapMemoryUnit,
            "disabled": self.disabled,
            "id": self.id,
            "requiresAdvancedPrivileges": self.requiresAdvancedPrivileges,
            "sharedMemorySizeUnit": self.sharedMemorySizeUnit,
            "sharedMemorySize": self.sharedMemorySize,
        }

    def detail(self, now_ms: int) -> dict[str, Any]:
        """``runtimes/<id>``: the listing's keys plus deprecated, useGPU, manifestFile [doc].

        ``deprecated`` once the emulated clock passed the retirement date, ``useGPU``
        when a Docker runtime (``nvidia``) is set [inferred].
        """
        date = self.deprecation_date
        return self.listed() | {
            "deprecated": date is not None and now_ms >= date,
            "useGPU": self.dockerRuntime != "",
            "manifestFile": self.manifestFile,
        }


_FIELDS = tuple(f.name for f in fields(ServerRuntime))


def _version_tuple(release_name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release_name.split("."))


def _text(
    params: Mapping[str, str], problems: v.Problems, name: str, limit: int = v.NAME_MAX_LENGTH
) -> str | None:
    _, raw = v.given(params, name)
    if raw is None:
        return None
    if len(raw) > limit or not raw.isprintable():
        problems.add(messages.BAD_TEXT.format(name=name, limit=limit))
        return None
    return raw


def _settings(
    params: Mapping[str, str], base: ServerRuntime | None, release_name: str, current_version: str
) -> dict[str, Any]:
    """The runtime fields ``register`` or ``update`` sets, every problem collected.

    ``base`` is the runtime being updated (None for register): optional values left
    out keep its values, or take the defaults when registering.
    """
    problems = v.Problems()
    name = params.get("name")
    v.check_name(name, problems)

    _, version = v.given(params, "version")
    if version is None and _version_tuple(release_name) < VERSION_OPTIONAL_FROM:
        problems.add(messages.REQUIRED.format(name="version"))
    elif version is not None and not _VERSION.fullmatch(version):
        problems.add(messages.BAD_TEXT.format(name="version", limit=19))

    _, image_id = v.given(params, "imageId")
    if image_id is None:
        problems.add(messages.REQUIRED.format(name="imageId"))
    elif not _IMAGE_ID.fullmatch(image_id):
        problems.add(messages.BAD_IMAGE_ID.format(value=v.shorten(image_id)))

    _, container_type = v.given(params, "containerType")
    if container_type is not None and container_type != "docker":
        problems.add(messages.BAD_CONTAINER_TYPE.format(value=v.shorten(container_type)))

    pull_string = _text(params, problems, "imagePullString", IMAGE_PULL_STRING_MAX)

    _, docker_runtime = v.given(params, "dockerRuntime")
    if docker_runtime is not None and not _DOCKER_RUNTIME.fullmatch(docker_runtime):
        problems.add(messages.BAD_DOCKER_RUNTIME.format(value=v.shorten(docker_runtime)))

    _, advanced_raw = v.given(params, "requiresAdvancedPrivileges")
    advanced = None
    if advanced_raw is None:
        problems.add(messages.REQUIRED.format(name="requiresAdvancedPrivileges"))
    else:
        advanced = v.flag("requiresAdvancedPrivileges", advanced_raw, problems)

    max_cpu = v.required_number(params, problems, *MAX_CPU, positive=True)
    max_memory = v.required_number(params, problems, "maxMemory", positive=True)
    memory_unit = v.required_unit(params, problems, "maxMemoryUnit")
    swap = v.optional_number(params, problems, "maxSwapMemory", positive=True)
    swap_unit = v.optional_unit(params, problems, "maxSwapMemoryUnit")
    shared = v.optional_number(params, problems, *SHARED_MEMORY)
    shared_unit = v.optional_unit(params, problems, *SHARED_MEMORY_UNIT)
    _, create_manifest = v.given(params, "createManifestFile")
    if create_manifest is not None:
        v.flag("createManifestFile", create_manifest, problems)
    problems.raise_if_any()

    if swap is None:
        # [doc] "If left unspecified, the value is double that of the maxMemory".
        swap, swap_unit = 2 * max_memory, memory_unit
    swap_unit = swap_unit or memory_unit
    if v.Quantity(swap, swap_unit).bytes < v.Quantity(max_memory, memory_unit).bytes:
        # Docker refuses a swap limit below the memory limit [inferred].
        problems.add(messages.SWAP_BELOW_MEMORY)
    problems.raise_if_any()

    if shared is None:
        shared, shared_unit = (
            (base.sharedMemorySize, base.sharedMemorySizeUnit)
            if base is not None
            else DEFAULT_SHARED_MEMORY
        )
    keep = base.to_dict() if base is not None else {}
    return {
        "name": name,
        "version": version or keep.get("version", current_version),
        "imageId": image_id,
        "containerType": "docker",
        "imagePullString": keep.get("imagePullString", "") if pull_string is None else pull_string,
        "dockerRuntime": keep.get("dockerRuntime", "")
        if docker_runtime is None
        else docker_runtime,
        "requiresAdvancedPrivileges": advanced,
        "maxCpu": max_cpu,
        "maxMemory": max_memory,
        "maxMemoryUnit": memory_unit,
        "maxSwapMemory": swap,
        "maxSwapMemoryUnit": swap_unit,
        "sharedMemorySize": shared,
        # [client] the official client's default unit for shared memory is m.
        "sharedMemorySizeUnit": shared_unit or "m",
    }


def wants_created_manifest(params: Mapping[str, str]) -> bool:
    """``createManifestFile=true`` [doc: register-runtime]; an uploaded file wins [doc]."""
    _, raw = v.given(params, "createManifestFile")
    return raw is not None and raw.lower() == "true"


def registered(
    params: Mapping[str, str], *, new_id: str, release_name: str, current_version: str
) -> ServerRuntime:
    """The runtime ``register`` with ``params`` adds [doc: register-runtime, 10.7.1].

    Raises ``InvalidParameters`` naming every bad parameter. The revision is left
    for the store to stamp; ``manifestFile`` for the backend, which knows the upload.
    """
    settings = _settings(params, None, release_name, current_version)
    return ServerRuntime(
        id=new_id,
        esriProvidedRuntime=False,
        disabled=False,
        manifestFile="",
        revision=0,
        **settings,
    )


def updated(
    current: ServerRuntime, params: Mapping[str, str], *, release_name: str
) -> ServerRuntime:
    """``current`` with what ``update`` sets [doc: update-notebook-runtime].

    The same parameters as register, required alike [doc]; the official client sends
    them all, filled from the runtime's properties [client]. Esri's runtimes may be
    updated too: that is how a default runtime is extended [doc].
    """
    settings = _settings(params, current, release_name, current.version)
    return replace(current, **settings)


def check_unregister(runtime: ServerRuntime) -> None:
    """Only registered runtimes can be unregistered; Esri's are restored instead [inferred]."""
    if runtime.esriProvidedRuntime:
        raise Refused(messages.ESRI_RUNTIME_NOT_UNREGISTERABLE.format(id=runtime.id))


def offered_operations(
    runtime: ServerRuntime, release_operations: frozenset[str]
) -> frozenset[str]:
    """The write operations the directory shows as forms on ``runtime``'s page."""
    offered = {"update"} if runtime.esriProvidedRuntime else {"update", "unregister"}
    return frozenset(offered) & release_operations


def validation(runtimes: list[ServerRuntime], machine: str) -> dict[str, Any]:
    """What ``validateRuntimes`` answers: per machine, whether each runtime's image is there.

    The operation is listed on Esri's notebook-runtimes page [doc]; no page of its own
    was found, so the shape (machines, notebookRuntimes, ``runtimeExists`` as the string
    "true") is our reading [inferred, ledger N14]. The emulated site is one machine
    that has every image [inferred].
    """
    return {
        "machines": [
            {
                "machine": machine,
                "notebookRuntimes": [
                    {
                        "notebookRuntimeName": runtime.name,
                        "runtimeExists": "true",
                        "notebookRuntimeVersion": runtime.version,
                    }
                    for runtime in runtimes
                ],
            }
        ],
        "status": "success",
    }


# --- runtimes from a state snapshot ----------------------------------------------

_TEXT = ("id", "version", "imageId", "containerType")
_OPTIONAL_TEXT = ("imagePullString", "dockerRuntime", "manifestFile")
_FLAGS = ("requiresAdvancedPrivileges", "esriProvidedRuntime", "disabled")
_NUMBERS = ("maxCpu", "maxMemory", "maxSwapMemory", "sharedMemorySize")
#: Above 0, as register and update require them.
_POSITIVE = ("maxCpu", "maxMemory", "maxSwapMemory")
_UNITS = ("maxMemoryUnit", "maxSwapMemoryUnit", "sharedMemorySizeUnit")


def stored_runtime(data: Mapping[str, Any]) -> ServerRuntime:
    """``data`` as a runtime if the API itself could have stored it, else ``InvalidParameters``.

    A state import goes through here, so nothing imported can later break a list,
    get or update.
    """
    problems = v.Problems()
    v.check_fields(data, _FIELDS, problems)
    v.check_texts(data, _TEXT, problems)
    for name in _OPTIONAL_TEXT:
        value = data[name]
        if not isinstance(value, str) or len(value) > IMAGE_PULL_STRING_MAX:
            problems.add(f"'{name}' must be a string of at most {IMAGE_PULL_STRING_MAX}.")
        elif not value.isprintable():
            problems.add(f"'{name}' must hold printable characters only.")
    v.check_stored_name(data, problems)
    if data["containerType"] != "docker":
        problems.add(
            messages.BAD_CONTAINER_TYPE.format(value=v.shorten(str(data["containerType"])))
        )
    v.check_flags(data, _FLAGS, problems)
    v.check_numbers(data, _NUMBERS, problems, positive=_POSITIVE)
    v.check_units(data, _UNITS, problems)
    if not counters.is_counter(data["revision"]):
        problems.add(counters.REVISION_RULE)
    problems.raise_if_any()
    return ServerRuntime.from_dict(data)


#: The ids ``register`` makes: a UUID4 as ``str(uuid.UUID(...))`` writes it (core/ids.py).
_REGISTERED_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def unreachable(runtimes: list[ServerRuntime], *, esri_ids: list[str]) -> str | None:
    """What in ``runtimes`` no sequence of API calls could have made, else None.

    A state import must end in a state the API itself can reach, or a later call
    does what the API never would: an import marking Esri's Standard runtime as
    registered let ``unregister`` delete it (issue 24). Esri's runtimes
    (``esri_ids``) are always there and always Esri's; any other runtime is a
    registered one, with an id as register makes them.
    """
    for index, runtime in enumerate(runtimes):
        where = f"runtimes[{index}]"
        if runtime.id in esri_ids:
            if not runtime.esriProvidedRuntime:
                return (
                    f"{where}: Esri's runtime {runtime.id}'s 'esriProvidedRuntime' must be "
                    "true; no call changes it."
                )
            continue
        if runtime.esriProvidedRuntime:
            return (
                f"{where}: only Esri's runtimes ({', '.join(esri_ids)}) have "
                "'esriProvidedRuntime' true; a registered one has false."
            )
        if not _REGISTERED_ID.fullmatch(runtime.id):
            return (
                f"{where}: 'id' must be a runtime id as register makes them (a lower-case UUID4)."
            )
    present = {runtime.id for runtime in runtimes}
    for esri_id in esri_ids:
        if esri_id not in present:
            return f"Esri's runtime {esri_id} is missing; no call removes it."
    return None
