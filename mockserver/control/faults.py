"""Fault rules: make chosen operations fail the way a real deployment sometimes does.

A rule names an operation (or ``*``) and what happens to a matching request:

- ``error``: an ArcGIS error ``{"code", "message", "details"}`` in the
  resource's own envelope (HTTP 200, as ArcGIS sends errors, unless ``status``
  says otherwise); the operation itself does not run;
- ``status``: that HTTP status with a plain-text body, as a proxy or load
  balancer in front of the deployment answers;
- ``drop``: the connection is closed without an answer;
- ``delay_seconds``: the answer comes that much later (alone, or before one of
  the above). Alone, the operation is carried out at once and only its answer
  waits, as behind a slow proxy: a client that gives up has still made its change.

``times`` limits a rule to the next N matching requests; ``probability`` (with
``seed``) makes it fire on a reproducible share of them. Both are counted
deployment-wide, whichever worker answers.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from typing import Any

from mockserver.control.errors import ControlError

#: Clients' own timeouts are rarely above 30 s (in process, a delay holds the calling thread).
MAX_DELAY_SECONDS = 30.0
ANY_OPERATION = "*"
RULE_KEYS = {
    "operation",
    "error",
    "status",
    "drop",
    "delay_seconds",
    "times",
    "probability",
    "seed",
}


@dataclass(frozen=True)
class FaultRule:
    operation: str
    error: dict[str, Any] | None = None
    status: int | None = None
    drop: bool = False
    delay_seconds: float = 0.0
    times: int | None = None
    probability: float = 1.0
    seed: int = 0
    id: int = 0

    def matches(self, operation: str | None) -> bool:
        return self.operation == ANY_OPERATION or self.operation == operation

    def fires_on(self, match_number: int) -> bool:
        """Whether the n-th matching request is hit: the same answer on every run."""
        if self.probability >= 1.0:
            return True
        return (
            random.Random(f"{self.seed}:{self.operation}:{match_number}").random()
            < self.probability
        )

    def to_json(self) -> str:
        payload = asdict(self)
        payload.pop("id")
        return json.dumps(payload)

    @classmethod
    def from_json(cls, fault_id: int, text: str) -> FaultRule:
        return cls(id=fault_id, **json.loads(text))

    def describe(self, remaining: int | None, matched: int) -> dict[str, Any]:
        description: dict[str, Any] = {"id": self.id, "operation": self.operation}
        if self.error is not None:
            description["error"] = self.error
        if self.status is not None:
            description["status"] = self.status
        if self.drop:
            description["drop"] = True
        if self.delay_seconds:
            description["delay_seconds"] = self.delay_seconds
        if self.times is not None:
            description["times"] = self.times
            description["remaining"] = remaining
        if self.probability < 1.0:
            description["probability"] = self.probability
            description["seed"] = self.seed
        description["matched"] = matched
        return description


def parse_rule(raw: Any, operations: frozenset[str]) -> FaultRule:
    """A rule from a request body, or ``ControlError`` saying what is wrong with it."""
    if not isinstance(raw, dict):
        raise ControlError("A fault rule is a JSON object.")
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise ControlError(f"Unknown fault rule keys: {', '.join(unknown)}.")
    operation = raw.get("operation")
    if not isinstance(operation, str) or not operation:
        raise ControlError("'operation' is required: an operation name or '*'.")
    if operation != ANY_OPERATION and operation not in operations:
        raise ControlError(
            f"Unknown operation '{operation[:80]}'. Known: {', '.join(sorted(operations))}, *."
        )
    error = _error(raw.get("error"))
    status = _optional_int(raw, "status", 100, 599)
    drop = raw.get("drop", False)
    if not isinstance(drop, bool):
        raise ControlError("'drop' must be true or false.")
    delay = _number(raw, "delay_seconds", 0.0, 0.0, MAX_DELAY_SECONDS)
    if drop and (error is not None or status is not None):
        raise ControlError("'drop' closes the connection: it cannot also send 'error' or 'status'.")
    if error is None and status is None and not drop and not delay:
        raise ControlError("Say what the fault does: 'error', 'status', 'drop' or 'delay_seconds'.")
    if status is not None and status < 200 and error is not None:
        raise ControlError("'status' with 'error' must be an HTTP status of 200 or more.")
    times = _optional_int(raw, "times", 1, 1_000_000)
    probability = _number(raw, "probability", 1.0, 0.0, 1.0)
    if probability <= 0.0:
        raise ControlError("'probability' must be more than 0 and at most 1.")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ControlError("'seed' must be an integer.")
    return FaultRule(
        operation=operation,
        error=error,
        status=status,
        drop=drop,
        delay_seconds=delay,
        times=times,
        probability=probability,
        seed=seed,
    )


def _error(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ControlError('\'error\' is an object: {"code": 500, "message": "..."}.')
    unknown = sorted(set(raw) - {"code", "message", "details"})
    if unknown:
        raise ControlError(f"Unknown 'error' keys: {', '.join(unknown)}.")
    code = raw.get("code", 500)
    if not isinstance(code, int) or isinstance(code, bool):
        raise ControlError("'error.code' must be an integer.")
    message = raw.get("message", "Injected fault.")
    if not isinstance(message, str):
        raise ControlError("'error.message' must be a string.")
    details = raw.get("details", [])
    if not (isinstance(details, list) and all(isinstance(item, str) for item in details)):
        raise ControlError("'error.details' must be a list of strings.")
    return {"code": code, "message": message, "details": details}


def _optional_int(raw: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ControlError(f"'{key}' must be an integer from {low} to {high}.")
    return value


def _number(raw: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = raw.get(key, default)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ControlError(f"'{key}' must be a number from {low:g} to {high:g}.")
    return float(value)
