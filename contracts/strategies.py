"""Hypothesis strategies for copy and update requests, valid and invalid.

Requests are forms of strings, as a browser or the official client sends
them. A generated ``name`` is only the part after the run's prefix: a check
prefixes it with ``named()`` before sending, so everything the kit creates
is recognisably the kit's. Rules the valid requests keep are those of
docs/FIDELITY.md (C12-C18); each invalid request breaks exactly one of them
and says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from hypothesis import assume
from hypothesis import strategies as st

MEMORY_UNITS = ("g", "m", "k", "b")
UNIT_BYTES = {"g": 1024**3, "m": 1024**2, "k": 1024, "b": 1}
UNIT_FIELDS = ("minMemoryUnit", "maxMemoryUnit", "maxSwapMemoryUnit", "sharedMemorySizeUnit")
OPTIONAL_FIELDS = (
    "maxSwapMemory",
    "maxSwapMemoryUnit",
    "sharedMemorySize",
    "sharedMemorySizeUnit",
    "podPlacementPolicy",
    "customResources",
)


@dataclass(frozen=True)
class InvalidRequest:
    """A form that must be refused, and the rule it breaks (for the failure report)."""

    form: dict[str, str]
    broken_rule: str


def named(form: dict[str, str], prefix: str) -> dict[str, str]:
    """``form`` with its name behind ``prefix``; a blank name stays blank (to be refused)."""
    name = form.get("name")
    if name is None or not name.strip():
        return dict(form)
    return {**form, "name": prefix + name}


# --- pieces ----------------------------------------------------------------------


def number_texts(value: Fraction) -> st.SearchStrategy[str]:
    """``value`` written as a form would carry it: ``4``, ``4.0``, ``4.000000e+00``..."""
    as_float = float(value)
    spellings = {f"{as_float:.2f}", repr(as_float), f"{as_float:e}"}
    if value.denominator == 1:
        spellings |= {str(value.numerator), f"{value.numerator}.0"}
    return st.sampled_from(sorted(spellings))


def hundredths(low: int, high: int) -> st.SearchStrategy[Fraction]:
    """Decimal amounts with two places, ``low/100`` to ``high/100``: exact in any spelling."""
    return st.integers(low, high).map(lambda n: Fraction(n, 100))


def cpu_values() -> st.SearchStrategy[Fraction]:
    """Positive CPU counts from 0.1 to 64 cores."""
    return hundredths(10, 6400)


def memory_units() -> st.SearchStrategy[str]:
    return st.sampled_from(MEMORY_UNITS)


def memory_quantities(*, zero: bool = True) -> st.SearchStrategy[tuple[Fraction, str]]:
    """(amount, unit) across every unit, from nothing (if ``zero``) to 100000 of it."""
    return st.tuples(hundredths(0 if zero else 1, 10_000_000), memory_units())


def byte_count(quantity: tuple[Fraction, str]) -> Fraction:
    amount, unit = quantity
    return amount * UNIT_BYTES[unit]


def float_byte_count(quantity: tuple[Fraction, str]) -> float:
    """As a server computing in doubles would; used to skip ties that rounding decides."""
    amount, unit = quantity
    return float(amount) * UNIT_BYTES[unit]


def runtime_names() -> st.SearchStrategy[str]:
    """Name suffixes: plain, any printable unicode, and long ones."""
    printable = st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn"))
    return st.one_of(
        st.sampled_from(["Standard with GPU", "copy", "Python 3 – Ünïcødé 🚀"]),
        st.text(printable, min_size=1, max_size=40),
        st.text(printable, min_size=150, max_size=220),
    ).filter(lambda name: name == name.rstrip())


def json_values() -> st.SearchStrategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**31), 2**31),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.text(max_size=12),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    )


def json_objects() -> st.SearchStrategy[dict]:
    """JSON objects as placement policies and custom resources: realistic ones and any."""
    realistic = st.sampled_from(
        [
            {},
            {"nvidia.com/gpu": {"requests": 1, "limits": 1}},
            {
                "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "pool", "operator": "In", "values": ["nb"]}
                                ]
                            }
                        ]
                    }
                },
            },
        ]
    )
    return st.one_of(realistic, st.dictionaries(st.text(max_size=10), json_values(), max_size=4))


def encodings() -> st.SearchStrategy[str]:
    """How the form travels: urlencoded (the official client) or multipart (the seed)."""
    return st.sampled_from(["urlencoded", "multipart"])


def json_texts(value) -> st.SearchStrategy[str]:
    import json

    return st.sampled_from([json.dumps(value), json.dumps(value, indent=1, ensure_ascii=False)])


# --- copy ------------------------------------------------------------------------


@st.composite
def ordered_memory(draw) -> tuple[tuple[Fraction, str], tuple[Fraction, str]]:
    """(min, max) memory quantities with min <= max after unit conversion."""
    first, second = draw(memory_quantities()), draw(memory_quantities(zero=False))
    low, high = sorted((first, second), key=byte_count)
    # Where exact and double arithmetic disagree the server's answer is a coin toss.
    assume(
        (byte_count(low) <= byte_count(high)) == (float_byte_count(low) <= float_byte_count(high))
    )
    return low, high


@st.composite
def copy_requests(draw) -> dict[str, str]:
    """A valid copy form (C1, C12-C18): required fields, any subset of the optional ones."""
    low_cpu, high_cpu = sorted(draw(st.tuples(cpu_values(), cpu_values())))
    (min_mem, min_unit), (max_mem, max_unit) = draw(ordered_memory())
    form = {
        "name": draw(runtime_names()),
        "minCpu": draw(number_texts(low_cpu)),
        draw(st.sampled_from(["maxCpu", "maxCPU"])): draw(number_texts(high_cpu)),
        "minMemory": draw(number_texts(min_mem)),
        "minMemoryUnit": min_unit,
        "maxMemory": draw(number_texts(max_mem)),
        "maxMemoryUnit": max_unit,
    }
    omitted = st.sampled_from([None, ""])  # C18: an empty string counts as left out
    if draw(st.booleans()):
        swap, swap_unit = draw(memory_quantities())
        form["maxSwapMemory"] = draw(number_texts(swap))
        form["maxSwapMemoryUnit"] = draw(st.one_of(omitted, st.just(swap_unit)))
    if draw(st.booleans()):
        shared, shared_unit = draw(memory_quantities())
        form["sharedMemorySize"] = draw(number_texts(shared))
        form["sharedMemorySizeUnit"] = shared_unit
    for field in ("podPlacementPolicy", "customResources"):
        choice = draw(st.sampled_from(["object", "omitted", "absent"]))
        if choice == "object":
            form[field] = draw(json_objects().flatmap(json_texts))
        elif choice == "omitted":
            form[field] = ""
    if draw(st.booleans()):
        form["version"] = draw(st.sampled_from(["14.0", "99.0", "1.0"]))  # C8: not applied
    return {key: value for key, value in form.items() if value is not None}


BAD_UNITS = ("G", "gb", "Mi", "kb", "t", "1", "bytes")
NOT_NUMBERS = ("abc", "1,5", "NaN", "inf", "-inf", "0x10", "1e400", "4 g", "--1")
NOT_OBJECTS = ("[]", "[{}]", "1", '"{}"', "null", "true", "{", "{'a': 1}")


@st.composite
def invalid_copy_requests(draw) -> InvalidRequest:
    """A copy form that breaks exactly one rule; ``broken_rule`` names it."""
    form = draw(copy_requests())
    max_cpu_field = "maxCpu" if "maxCpu" in form else "maxCPU"
    breakage = draw(
        st.sampled_from(
            [
                "blank name",
                "missing required field",
                "unknown unit",
                "negative number",
                "zero cpu",
                "not a number",
                "minCpu above maxCpu",
                "minMemory above maxMemory after unit conversion",
                "non-object JSON",
            ]
        )
    )
    if breakage == "blank name":
        form["name"] = draw(st.sampled_from(["", " ", "\t "]))
    elif breakage == "missing required field":
        field = draw(
            st.sampled_from(
                [
                    "name",
                    "minCpu",
                    max_cpu_field,
                    "minMemory",
                    "minMemoryUnit",
                    "maxMemory",
                    "maxMemoryUnit",
                ]
            )
        )
        form.pop(field)
    elif breakage == "unknown unit":
        field = draw(st.sampled_from([f for f in UNIT_FIELDS if form.get(f)]))
        form[field] = draw(st.sampled_from(BAD_UNITS))
    elif breakage == "negative number":
        field = draw(
            st.sampled_from(["minMemory", "maxSwapMemory", "sharedMemorySize", "maxMemory"])
        )
        form[field] = draw(st.sampled_from(["-1", "-0.5", "-1e3"]))
        form.setdefault("maxSwapMemoryUnit", "g")
    elif breakage == "zero cpu":
        form[draw(st.sampled_from(["minCpu", max_cpu_field]))] = draw(
            st.sampled_from(["0", "0.0", "-2"])
        )
    elif breakage == "not a number":
        field = draw(
            st.sampled_from(["minCpu", max_cpu_field, "minMemory", "maxMemory", "maxSwapMemory"])
        )
        form[field] = draw(st.sampled_from(NOT_NUMBERS))
    elif breakage == "minCpu above maxCpu":
        high = Fraction(form[max_cpu_field]) if _is_plain(form[max_cpu_field]) else Fraction(1)
        form[max_cpu_field] = str(float(high))
        form["minCpu"] = str(float(high + draw(hundredths(1, 400))))
    elif breakage == "minMemory above maxMemory after unit conversion":
        (low, low_unit), (high, high_unit) = draw(ordered_memory())
        assume(byte_count((low, low_unit)) < byte_count((high, high_unit)))
        form.update(
            minMemory=str(float(high)),
            minMemoryUnit=high_unit,
            maxMemory=str(float(low)),
            maxMemoryUnit=low_unit,
        )
    else:
        form[draw(st.sampled_from(["podPlacementPolicy", "customResources"]))] = draw(
            st.sampled_from(NOT_OBJECTS)
        )
    return InvalidRequest(form, breakage)


def _is_plain(text: str) -> bool:
    try:
        Fraction(text)
    except ValueError:
        return False
    return True


# --- update ----------------------------------------------------------------------


@st.composite
def update_requests(draw, *, client_style: bool | None = None) -> dict[str, str]:
    """A valid update form, in the documented names or as the official client sends it.

    The client sends ``sharedMemory``/``sharedMemoryUnit``, floats as ``"3.0"`` and
    ``""`` for what it has not set [client]; minimums are always given (newer
    doc pages mark them required), so the form alone decides min <= max.
    """
    low_cpu, high_cpu = sorted(draw(st.tuples(cpu_values(), cpu_values())))
    (min_mem, min_unit), (max_mem, max_unit) = draw(ordered_memory())
    form = {
        "minCpu": draw(number_texts(low_cpu)),
        draw(st.sampled_from(["maxCpu", "maxCPU"])): draw(number_texts(high_cpu)),
        "minMemory": draw(number_texts(min_mem)),
        "minMemoryUnit": min_unit,
        "maxMemory": draw(number_texts(max_mem)),
        "maxMemoryUnit": max_unit,
    }
    if draw(st.booleans()):
        swap, swap_unit = draw(memory_quantities())
        form["maxSwapMemory"] = draw(number_texts(swap))
        form["maxSwapMemoryUnit"] = swap_unit
    if draw(st.booleans()):
        shared, shared_unit = draw(memory_quantities())
        form["sharedMemory"] = draw(number_texts(shared))
        form["sharedMemoryUnit"] = shared_unit
    if client_style if client_style is not None else draw(st.booleans()):
        for field in (
            "name",
            "version",
            "imageId",
            "containerType",
            "imagePullString",
            "dockerRuntime",
        ):
            form.setdefault(field, "")
        form.setdefault("requiresAdvancedPrivileges", "false")
        for field in ("maxSwapMemory", "maxSwapMemoryUnit", "sharedMemory", "sharedMemoryUnit"):
            form.setdefault(field, "")
    return form


@st.composite
def invalid_update_requests(draw) -> InvalidRequest:
    form = draw(update_requests(client_style=False))
    max_cpu_field = "maxCpu" if "maxCpu" in form else "maxCPU"
    breakage = draw(
        st.sampled_from(
            [
                "missing required field",
                "unknown unit",
                "zero cpu",
                "not a number",
                "minCpu above maxCpu",
            ]
        )
    )
    if breakage == "missing required field":
        form.pop(draw(st.sampled_from([max_cpu_field, "maxMemory", "maxMemoryUnit"])))
    elif breakage == "unknown unit":
        form[draw(st.sampled_from(["maxMemoryUnit", "minMemoryUnit"]))] = draw(
            st.sampled_from(BAD_UNITS)
        )
    elif breakage == "zero cpu":
        form[max_cpu_field] = "0"
    elif breakage == "not a number":
        form[draw(st.sampled_from([max_cpu_field, "maxMemory"]))] = draw(
            st.sampled_from(NOT_NUMBERS)
        )
    else:
        form["minCpu"] = str(float(Fraction(form[max_cpu_field]) + 1))
    return InvalidRequest(form, breakage)
