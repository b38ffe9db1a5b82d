"""Concurrent sign-in failures (issue 24): the lockout holds however many arrive at once.

Bursts of sign-ins for one account are released together, from one thread each on
its own connection, against ``nbmock serve`` with several workers: only wrong
passwords, or wrong ones with the right one among them, through ``generateToken``,
the administrator's sign-in page, or both mixed. Every case is enumerated, so a
regression names the case that lets it through.

What must hold, with a policy of ``attempts`` failures:
- of a burst of wrong passwords, at most ``attempts - 1`` are answered "invalid"
  (the ``attempts``-th check locks, so it says "locked"), every other one "locked";
- with the right password among them, at most ``attempts - 1`` are answered
  "invalid" before its success resets the count and as many after: so at most
  ``2 * (attempts - 1)``, and without a success at most ``attempts - 1``;
- after a burst of at least ``attempts`` wrong ones, the right password alone is
  refused;
- no answer is an HTTP 500, an error page, or anything but those three.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field

import requests

from mockserver.core import messages

CHANNELS = ("generateToken", "admin sign-in", "mixed")


@dataclass(frozen=True)
class Burst:
    size: int
    with_right_password: bool
    channel: str


def bursts(attempts: int, sizes: tuple[int, ...] = (0, 1, 3, 10)) -> list[Burst]:
    """Every burst to try against a policy of ``attempts``: sizes around the policy
    (just under, at, just over, and far past it) × with or without the right
    password × each channel."""
    around = sorted(
        {max(attempts - 1, 1), attempts, attempts + 1} | {attempts * 4 + s for s in sizes}
    )
    return [
        Burst(size, right, channel)
        for size, right, channel in itertools.product(around, (False, True), CHANNELS)
    ]


@dataclass
class SignInRaceReport:
    attempts: int = 0
    bursts: int = 0
    sign_ins: int = 0
    by_answer: Counter = field(default_factory=Counter)
    most_invalid_in_a_burst: int = 0
    issued_tokens: list[str] = field(default_factory=list, repr=False)
    problems: list[str] = field(default_factory=list)


def run_signin_race(
    origin: str,
    *,
    attempts: int,
    username: str = "admin",
    password: str = "admin1234",
    cases: list[Burst] | None = None,
    timeout: float = 60,
) -> SignInRaceReport:
    """Every burst of ``cases`` (default: ``bursts(attempts)``) against ``origin``, served
    with ``--lockout-attempts attempts``; the control plane's reset unlocks between them."""
    report = SignInRaceReport(attempts=attempts)
    for burst in cases or bursts(attempts):
        _reset(origin, timeout)
        answers = _release(origin, burst, username, password, timeout)
        report.bursts += 1
        report.sign_ins += len(answers)
        report.by_answer.update(kind for kind, _ in answers)
        report.issued_tokens += [token for kind, token in answers if kind == "token" and token]
        invalid = sum(kind == "invalid" for kind, _ in answers)
        succeeded = any(kind == "token" for kind, _ in answers)
        report.most_invalid_in_a_burst = max(report.most_invalid_in_a_burst, invalid)
        odd = sorted({kind for kind, _ in answers} - {"invalid", "locked", "token"})
        if odd:
            report.problems.append(f"{burst}: answers {odd}")
        bound = 2 * (attempts - 1) if succeeded else attempts - 1
        if invalid > bound:
            report.problems.append(
                f"{burst}: {invalid} passwords checked and refused as invalid, at most {bound} "
                f"may be with a lockout after {attempts}"
            )
        if burst.size >= attempts and not burst.with_right_password:
            kind, token = _sign_in(origin, "generateToken", username, password, timeout)
            if kind != "locked":
                report.problems.append(f"{burst}: the right password afterwards got {kind!r}")
            if token:
                report.issued_tokens.append(token)
    _reset(origin, timeout)
    return report


def _release(
    origin: str, burst: Burst, username: str, password: str, timeout: float
) -> list[tuple[str, str | None]]:
    passwords = [f"wrong-{i}" for i in range(burst.size)]
    if burst.with_right_password:
        passwords.append(password)
    start = threading.Barrier(len(passwords))
    answers: list[tuple[str, str | None]] = [("not sent", None)] * len(passwords)

    def one(index: int, attempt: str) -> None:
        channel = burst.channel
        if channel == "mixed":
            channel = CHANNELS[index % 2]
        try:
            start.wait(timeout)
            answers[index] = _sign_in(origin, channel, username, attempt, timeout)
        except (requests.RequestException, threading.BrokenBarrierError) as problem:
            answers[index] = (f"failed: {type(problem).__name__}", None)

    threads = [
        threading.Thread(target=one, args=(i, attempt), daemon=True)
        for i, attempt in enumerate(passwords)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout * 2)
    return answers


def _sign_in(
    origin: str, channel: str, username: str, password: str, timeout: float
) -> tuple[str, str | None]:
    """("token" | "invalid" | "locked" | what else came, the token if one was issued)."""
    form = {"username": username, "password": password}
    if channel == "generateToken":
        response = requests.post(
            f"{origin}/arcgis/sharing/rest/generateToken",
            data={**form, "f": "json"},
            timeout=timeout,
        )
        if response.status_code != 200:
            return f"HTTP {response.status_code}", None
        body = response.json()
        if "token" in body:
            return "token", body["token"]
        text = " ".join(body.get("error", {}).get("details", []))
    else:
        response = requests.post(
            f"{origin}/arcgis/admin/login", data=form, timeout=timeout, allow_redirects=False
        )
        if response.status_code == 302:
            return "token", None  # the token rides in the redirect; the scan sees the log
        if response.status_code != 200:
            return f"HTTP {response.status_code}", None
        text = response.text
    if messages.ACCOUNT_LOCKED in text:
        return "locked", None
    if messages.INVALID_CREDENTIALS in text:
        return "invalid", None
    return f"unexpected: {text[:80]!r}", None


def _reset(origin: str, timeout: float) -> None:
    response = requests.post(f"{origin}/__mock__/reset", timeout=timeout)
    response.raise_for_status()
