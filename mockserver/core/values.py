"""Form values every flavour's model reads the same way: numbers, memory units, names,
true/false, each problem collected before a request is refused; and the values of a
runtime a state import brings, held to the same rules.

Pure Python. Both flavours' models (``runtimes/model.py``, ``notebookserver/model.py``)
read their parameters and check their stored runtimes through these; the Kubernetes
ledger rows give their provenance.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.core import messages
from mockserver.core.errors import InvalidParameters

#: Bytes per memory unit. [doc] the units are g|m|k|b; powers of 1024 [inferred].
MEMORY_UNITS: dict[str, int] = {"g": 1024**3, "m": 1024**2, "k": 1024, "b": 1}

#: ASCII decimals only: ``\d`` and ``float()`` would take full-width ``１`` and
#: Arabic-Indic ``١`` as digits, which no ArcGIS client sends as a number [inferred].
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")

#: Limits of a runtime's name [inferred]: a display name, kept as sent (C22), of at
#: most this many characters, with no control character (NUL, CR, LF, tab ...) and at
#: least one visible one (not only spaces or format characters such as U+200B).
NAME_MAX_LENGTH = 255

#: Unicode categories that show nothing: separators and format characters (U+200B ...).
_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cf"})


@dataclass(frozen=True)
class Quantity:
    """An amount of memory with its unit."""

    value: float
    unit: str

    @property
    def bytes(self) -> float:
        return self.value * MEMORY_UNITS[self.unit]


class Problems:
    """Collects every parameter problem of one request before refusing it."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise InvalidParameters(*self.messages)


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def given(params: Mapping[str, str], *names: str) -> tuple[str, str | None]:
    """The first of ``names`` present with a non-blank value, and that value.

    An empty string counts as left out: the official client sends ``""`` for
    every value it has not set [client].
    """
    for name in names:
        value = params.get(name)
        if value is not None and value.strip() != "":
            return name, value.strip()
    return names[0], None


def number(name: str, raw: str, problems: Problems, *, positive: bool = False) -> float | None:
    if not _NUMBER.fullmatch(raw):
        problems.add(messages.NOT_A_NUMBER.format(name=name, value=shorten(raw)))
        return None
    value = float(raw)
    if not math.isfinite(value) or value > 1e15:
        problems.add(messages.OUT_OF_RANGE.format(name=name, value=shorten(raw)))
        return None
    if positive and value <= 0:
        problems.add(messages.NOT_POSITIVE.format(name=name))
        return None
    if value < 0:
        problems.add(messages.NEGATIVE.format(name=name))
        return None
    return value


def unit(name: str, raw: str, problems: Problems) -> str | None:
    if raw not in MEMORY_UNITS:
        problems.add(
            messages.BAD_UNIT.format(name=name, value=shorten(raw), units=", ".join(MEMORY_UNITS))
        )
        return None
    return raw


def required_number(
    params: Mapping[str, str], problems: Problems, *names: str, positive: bool = False
) -> float | None:
    name, raw = given(params, *names)
    if raw is None:
        problems.add(messages.REQUIRED.format(name=name))
        return None
    return number(name, raw, problems, positive=positive)


def optional_number(
    params: Mapping[str, str], problems: Problems, *names: str, positive: bool = False
) -> float | None:
    name, raw = given(params, *names)
    return None if raw is None else number(name, raw, problems, positive=positive)


def required_unit(params: Mapping[str, str], problems: Problems, *names: str) -> str | None:
    name, raw = given(params, *names)
    if raw is None:
        problems.add(messages.REQUIRED.format(name=name))
        return None
    return unit(name, raw, problems)


def optional_unit(params: Mapping[str, str], problems: Problems, *names: str) -> str | None:
    name, raw = given(params, *names)
    return None if raw is None else unit(name, raw, problems)


def flag(name: str, raw: str, problems: Problems) -> bool | None:
    """``true``/``false`` in any case, as the official client writes them [client]."""
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        problems.add(messages.NOT_A_FLAG.format(name=name, value=shorten(raw)))
        return None
    return lowered == "true"


def check_name(name: str | None, problems: Problems) -> None:
    """The name rules [inferred]: see ``NAME_MAX_LENGTH``; a blank name counts as missing."""
    if name is None or not name.strip():
        problems.add(messages.REQUIRED.format(name="name"))
        return
    if len(name) > NAME_MAX_LENGTH:
        problems.add(messages.NAME_TOO_LONG.format(limit=NAME_MAX_LENGTH))
    categories = {unicodedata.category(character) for character in name}
    if "Cc" in categories:
        problems.add(messages.NAME_CONTROL_CHARACTER)
    elif "Cs" in categories:
        problems.add(messages.JSON_NOT_UNICODE.format(name="name"))
    elif categories <= _INVISIBLE:
        problems.add(messages.NAME_INVISIBLE)


# --- a stored runtime's values (a state import) ------------------------------------------
# Values come as parsed JSON here, not as form strings: each is checked for its type, then
# by the rule its form value would meet, so nothing imported can later break a list, get
# or update.


def check_fields(data: Mapping[str, Any], fields: Collection[str], problems: Problems) -> None:
    """``data`` has every one of ``fields`` and nothing else; refused at once, as no value
    can be read before."""
    missing = [name for name in fields if name not in data]
    unknown = [str(name)[:40] for name in data if name not in fields]
    if missing:
        problems.add(f"missing {', '.join(missing)}")
    if unknown:
        problems.add(f"unknown {', '.join(unknown[:10])}")
    problems.raise_if_any()


def check_texts(data: Mapping[str, Any], names: Collection[str], problems: Problems) -> None:
    """Each of ``names`` a non-empty string of printable characters, at most
    ``NAME_MAX_LENGTH`` long (ids, versions)."""
    for name in names:
        value = data[name]
        if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX_LENGTH:
            problems.add(f"'{name}' must be a non-empty string of at most {NAME_MAX_LENGTH}.")
        elif not value.isprintable():
            problems.add(f"'{name}' must hold printable characters only.")


def check_stored_name(data: Mapping[str, Any], problems: Problems) -> None:
    if isinstance(data["name"], str):
        check_name(data["name"], problems)
    else:
        problems.add(messages.REQUIRED.format(name="name"))


def check_flags(data: Mapping[str, Any], names: Collection[str], problems: Problems) -> None:
    for name in names:
        if not isinstance(data[name], bool):
            problems.add(f"'{name}' must be true or false.")


def check_numbers(
    data: Mapping[str, Any],
    names: Collection[str],
    problems: Problems,
    *,
    positive: Collection[str],
) -> None:
    """Each of ``names`` a number (JSON's true is none), within the form's rules; those in
    ``positive`` above 0, as the flavour's forms require them."""
    for name in names:
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.add(messages.NOT_A_NUMBER.format(name=name, value=shorten(repr(value))))
        else:
            number(name, repr(float(value)), problems, positive=name in positive)


def check_units(data: Mapping[str, Any], names: Collection[str], problems: Problems) -> None:
    for name in names:
        value = data[name]
        unit(name, value if isinstance(value, str) else "", problems)
