"""The two counters a runtimes state keeps: the revision every write stamps, and the id
sequence new runtimes draw their ids from.

Both flavours' backends (which move them) and models (which check a stored runtime's
revision) hold them to one bound, so that any state the emulator holds can be exported
and imported back, whichever flavour made it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mockserver.core import messages
from mockserver.core.errors import ArcGISError

#: The largest revision and id sequence: the largest integer every JSON client
#: (JavaScript's included) reads exactly. Writes past it are refused, so any state
#: the emulator holds can be exported and imported back.
MAX_COUNTER = 2**53 - 1

#: What a stored runtime's revision must be (a state import's rule).
REVISION_RULE = f"'revision' must be an integer from 0 to {MAX_COUNTER}."


def is_counter(value: Any) -> bool:
    """Whether ``value`` is a value a counter can hold (JSON's true is no integer here)."""
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= MAX_COUNTER


def checked(value: int, counter: str) -> int:
    """``value``, the next one of ``counter``, unless it is past the bound: then the write
    is refused and changes nothing (only an imported state can get this far)."""
    if value > MAX_COUNTER:
        raise ArcGISError(messages.COUNTER_EXHAUSTED.format(counter=counter))
    return value


def exported(stored: tuple[int, int | None]) -> dict[str, int]:
    """A state snapshot's counters, from the store's (id sequence, last revision or None)."""
    id_sequence, last_revision = stored
    return {"idSequence": id_sequence, "lastRevision": last_revision or 0}


def of_snapshot(snapshot: Mapping[str, Any]) -> tuple[int, int]:
    """A state snapshot's ``idSequence`` and ``lastRevision`` (0 when left out), or
    ``ValueError`` naming the first that is not a counter."""
    return _from_snapshot(snapshot, "idSequence"), _from_snapshot(snapshot, "lastRevision")


def _from_snapshot(snapshot: Mapping[str, Any], name: str) -> int:
    value = snapshot.get(name, 0)
    if not is_counter(value):
        raise ValueError(f"'{name}' must be an integer from 0 to {MAX_COUNTER}.")
    return value


def check_last_revision(last_revision: int, revisions: Iterable[int]) -> None:
    """A snapshot's ``lastRevision`` is no lower than any of its runtimes' ``revisions``:
    every revision comes from that counter. Raises ``ValueError``."""
    newest = max([0, *revisions])
    if last_revision < newest:
        raise ValueError(
            f"'lastRevision' ({last_revision}) is below a runtime's revision ({newest}): "
            "every revision comes from that counter."
        )
