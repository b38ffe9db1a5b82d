"""``nbmock verify``, ``nbmock capture`` and ``nbmock sweep``: the contract kit from the command line.

``verify`` runs the kit's pytest suite against a target (progress as pytest
prints it, ``junit.xml`` and ``report.md`` with ``--report``); with
``--compare`` it instead sends the same requests to two targets and lists
every difference; with ``--record`` it saves the normalised answers as
snapshots. ``capture`` writes a deployment profile (contracts/capture.py).
``sweep`` lists, then unregisters, leftovers of earlier runs.
Exit status: 0 only when every property held (or no difference, or nothing
left behind).

The kit is a guest of ``nbmock``: it adds these commands through the entry
point group ``nbmock.commands`` (``register``), and the emulator never
imports it. This module imports only what the base install has; ``verify``
says so when the ``kit`` extra (pytest, Hypothesis, Schemathesis) is missing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contracts import exchanges
from contracts.capture import capture
from contracts.redaction import redact
from contracts.report import rows_only_writes_show
from contracts.safety import KIT_NAMESPACE
from contracts.target import DEFAULT_REMOTE_BUDGET, DEFAULT_REMOTE_PAUSE, Target
from contracts.transport import DEFAULT_DEADLINE_SECONDS, DEFAULT_MAX_ANSWER_BYTES


def kit_extra_missing() -> str:
    """What ``nbmock verify`` says when the kit's tools are not installed. The install line is
    the emulator's (one distribution), read only here: loading the kit never loads the
    emulator."""
    from mockserver.cli import KIT_INSTALL

    return f"nbmock verify needs the contract kit's tools; {KIT_INSTALL}"


def register(commands: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    """The ``nbmock.commands`` entry point: add ``verify`` and ``sweep``, return how to run each.

    ``commands`` is the ``nbmock`` parser's sub-parsers object; the answer maps
    each added command's name to a function of the parsed arguments that
    returns the exit status.
    """
    add_commands(commands)
    return {"verify": run, "sweep": run, "capture": run}


def add_commands(commands: Any) -> None:
    """Register ``verify`` and ``sweep`` on the ``nbmock`` sub-command parser."""
    verify = commands.add_parser(
        "verify",
        help="run the contract kit against a deployment",
        description="Run the contract kit against an ArcGIS Enterprise (or an emulator). "
        "Credentials: --username, or ARCGIS_USERNAME/ARCGIS_PASSWORD, or ARCGIS_TOKEN.",
    )
    _target_options(verify)
    verify.add_argument(
        "--allow-writes",
        action="store_true",
        help="create (and then unregister) runtimes named with the run prefix",
    )
    verify.add_argument(
        "--max-examples", type=int, metavar="N", help="examples per property (default: 10)"
    )
    verify.add_argument(
        "--report", metavar="DIR", help="write junit.xml and report.md (and compare.md) to DIR"
    )
    verify.add_argument(
        "--compare",
        metavar="URL",
        help="send the same requests to this second target and report every difference",
    )
    verify.add_argument(
        "--record", metavar="DIR", help="save the target's normalised answers as snapshots in DIR"
    )
    verify.add_argument(
        "--prefix", help=f"run prefix for created runtimes (must start with {KIT_NAMESPACE})"
    )
    verify.add_argument(
        "--limited-username",
        metavar="NAME",
        help="a user without notebook privileges (password: ARCGIS_LIMITED_PASSWORD)",
    )
    verify.add_argument(
        "--notebook-username",
        metavar="NAME",
        help="a user with Create and edit notebooks and no administrative privilege "
        "(password: ARCGIS_NOTEBOOK_PASSWORD)",
    )
    verify.add_argument(
        "--notebook-item",
        metavar="ITEM_ID",
        help="a notebook item the kit may open, execute and close (with --allow-writes); "
        "it leaves nothing open",
    )
    verify.add_argument(
        "--wait-for-expiry",
        action="store_true",
        help="wait 61 s to check that an expired token is refused",
    )
    verify.add_argument(
        "-k",
        dest="select",
        metavar="EXPR",
        help="only the properties matching this pytest -k expression",
    )

    capture = commands.add_parser(
        "capture",
        help="record a deployment's facts as a profile for nbmock serve --profile",
        description="Record what a deployment shows (release, system runtimes and manifests, "
        "portal facts, the wording of its refusals) as a profile that nbmock serve --profile "
        "reproduces. Read-only unless --allow-writes. Credentials: --username, or "
        "ARCGIS_USERNAME/ARCGIS_PASSWORD, or ARCGIS_TOKEN.",
    )
    _target_options(capture)
    capture.add_argument("--out", required=True, metavar="PROFILE", help="the profile to write")
    capture.add_argument(
        "--allow-writes",
        action="store_true",
        help="also record how copies and updates are refused (a copy named with the run "
        "prefix is made and unregistered)",
    )
    capture.add_argument(
        "--wait-for-expiry",
        action="store_true",
        help="wait 61 s to record how an expired token is refused",
    )
    capture.add_argument(
        "--record-username",
        action="store_true",
        help="keep the signed-in user name in the profile (replaced by <username> otherwise)",
    )
    capture.add_argument("--name", help="the profile's name (default: the target's host)")
    capture.add_argument(
        "--prefix", help=f"run prefix for created runtimes (must start with {KIT_NAMESPACE})"
    )

    sweep = commands.add_parser(
        "sweep",
        help="remove runtimes an earlier kit run left behind",
        description="List the copied runtimes whose name starts with PREFIX, then unregister them.",
    )
    _target_options(sweep)
    sweep.add_argument(
        "--prefix",
        required=True,
        help=f"name prefix of the leftovers (starts with {KIT_NAMESPACE})",
    )
    sweep.add_argument("--dry-run", action="store_true", help="only list them")


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        metavar="URL",
        default=os.environ.get("ARCGIS_URL"),
        help="https://host/<context> (default: $ARCGIS_URL)",
    )
    parser.add_argument(
        "--username",
        help="sign-in user (default: $ARCGIS_USERNAME; password from $ARCGIS_PASSWORD)",
    )
    parser.add_argument(
        "--ca-bundle", metavar="PATH", help="CA bundle for the target's TLS certificate"
    )
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_REMOTE_BUDGET,
        help=f"most requests to send (default: {DEFAULT_REMOTE_BUDGET})",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=DEFAULT_REMOTE_PAUSE,
        help=f"seconds to wait before each request (default: {DEFAULT_REMOTE_PAUSE})",
    )
    parser.add_argument(
        "--request-deadline",
        type=float,
        default=DEFAULT_DEADLINE_SECONDS,
        metavar="SECONDS",
        help="time for each request, connection and whole answer; a target that misses "
        f"it twice gets nothing more but the cleanup (default: {DEFAULT_DEADLINE_SECONDS:g})",
    )
    parser.add_argument(
        "--max-answer-bytes",
        type=int,
        default=DEFAULT_MAX_ANSWER_BYTES,
        metavar="N",
        help="the largest answer the kit reads; a larger one fails its check "
        f"(default: {DEFAULT_MAX_ANSWER_BYTES})",
    )


def run(args: argparse.Namespace) -> int:
    if not args.target:
        print("nbmock: give --target URL or set ARCGIS_URL", file=sys.stderr)
        return 2
    _interrupt_on_sigterm()
    try:
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "capture":
            return _capture(args)
        if args.compare or args.record:
            return _compare_or_record(args)
        return _verify(args)
    except (ValueError, ConnectionError, RuntimeError) as error:
        print(f"nbmock {args.command}: {redact(str(error))}", file=sys.stderr)
        return 2


def _interrupt_on_sigterm() -> None:
    """SIGTERM cleans up like Ctrl-C: both end the run through KeyboardInterrupt."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _target(args: argparse.Namespace, url: str | None = None, **options: Any) -> Target:
    verify: bool | str = args.ca_bundle or not args.insecure
    return Target.from_env(
        url or args.target,
        username=args.username,
        verify=verify,
        budget=args.budget,
        pause=args.pause,
        max_answer_bytes=args.max_answer_bytes,
        deadline=args.request_deadline,
        **options,
    )


def _verify(args: argparse.Namespace) -> int:
    try:
        import hypothesis  # noqa: F401 - the checks' own imports, tested before the run
        import pytest
        import schemathesis  # noqa: F401
    except ImportError:
        print(kit_extra_missing(), file=sys.stderr)
        return 2
    if args.username:
        os.environ["ARCGIS_USERNAME"] = args.username
    pytest_args = [
        "--pyargs",
        "contracts",
        "-p",
        "no:cacheprovider",
        "-v",
        "-o",
        "addopts=",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        "--target-url",
        args.target,
        "--request-budget",
        str(args.budget),
        "--request-pause",
        str(args.pause),
        "--contract-max-examples",
        str(args.max_examples or 10),
        "--max-answer-bytes",
        str(args.max_answer_bytes),
        "--request-deadline",
        str(args.request_deadline),
    ]
    if args.allow_writes:
        pytest_args.append("--allow-writes")
    if args.ca_bundle:
        pytest_args += ["--ca-bundle", args.ca_bundle]
    if args.insecure:
        pytest_args.append("--insecure")
    if args.prefix:
        pytest_args += ["--run-prefix", args.prefix]
    if args.limited_username:
        pytest_args += ["--limited-username", args.limited_username]
    if args.notebook_username:
        pytest_args += ["--notebook-username", args.notebook_username]
    if args.notebook_item:
        pytest_args += ["--notebook-item", args.notebook_item]
    if args.wait_for_expiry:
        pytest_args.append("--wait-for-expiry")
    if args.select:
        pytest_args += ["-k", args.select]
    if args.report:
        report = Path(args.report)
        report.mkdir(parents=True, exist_ok=True)
        pytest_args += ["--junitxml", str(report / "junit.xml"), "--contract-report", str(report)]
    code = pytest.main(pytest_args)
    return 0 if code == 0 else 1


def _compare_or_record(args: argparse.Namespace) -> int:
    first = _target(args, allow_writes=args.allow_writes, prefix=args.prefix)
    second = None
    if args.compare:
        second = _target(args, args.compare, allow_writes=args.allow_writes, prefix=first.prefix)
    requests_to_send = exchanges.standard_exchanges(
        allow_writes=args.allow_writes,
        generated_copies=min(args.max_examples or 5, 20),
        system_runtimes=len(first.system_runtimes()),
        expired_token=first.can_move_clock and (second is None or second.can_move_clock),
    )
    try:
        played = exchanges.play(first, requests_to_send, literal_ids=bool(second))
        if args.record:
            path = Path(args.record) / "recorded.json"
            exchanges.write_snapshot(path, f"recorded from {first.label}", played)
            print(f"nbmock verify: {len(played)} exchanges recorded in {path}")
            if second is None:
                return 0
        assert second is not None
        try:
            other = exchanges.play(second, requests_to_send, literal_ids=True)
        finally:
            second.cleanup()
        profile = first.emulator_profile()
    finally:
        first.cleanup()
    return _report_compare(args, played, other, profile)


def _report_compare(
    args: argparse.Namespace,
    played: list[dict[str, Any]],
    other: list[dict[str, Any]],
    profile: dict[str, Any] | None,
) -> int:
    """Print (and with --report write) the differences: those on what the target's profile
    captured fail the compare; those on what it could not capture are listed apart."""
    found: list[str] = []
    apart: list[str] = []
    for index, (left, right) in enumerate(zip(played, other, strict=True), start=1):
        request = left["request"]
        missing = exchanges.uncaptured(left, profile)
        for difference in exchanges.compare_exchange(left, right):
            line = f"#{index} {request['method']} {request['path']}: {difference}"
            if missing:
                apart.append(f"{line} (not captured: {', '.join(missing)})")
            else:
                found.append(line)
    label = f"profile {profile['name']!r}" if profile else "no profile"
    summary = (
        f"{len(played)} exchanges compared, {len(found)} difference(s) between {args.target} "
        f"({label}) and {args.compare}"
    )
    lines = [f"  {line}" for line in found]
    if profile is not None:
        lines.append(
            f"  {len(apart)} difference(s) on what the profile could not capture "
            "(listed, not failed):"
        )
        lines += [f"    {line}" for line in apart]
        rows = rows_only_writes_show()
        lines.append(
            "  inferred ledger rows a profile cannot capture (only writes would show them): "
            + ", ".join(rows)
        )
    for line in lines:
        print(line)
    print(f"nbmock verify --compare: {summary}")
    if args.report:
        report = Path(args.report)
        report.mkdir(parents=True, exist_ok=True)
        text = ["# Compare", "", summary, ""] + [f"- {line.strip()}" for line in lines]
        (report / "compare.md").write_text(redact("\n".join(text)) + "\n", encoding="utf-8")
    return 1 if found else 0


def _capture(args: argparse.Namespace) -> int:
    target = _target(args, allow_writes=args.allow_writes, prefix=args.prefix)
    out = Path(args.out)
    run = capture(
        target,
        out,
        wait_for_expiry=args.wait_for_expiry,
        record_username=args.record_username,
        name=args.name,
    )
    print(f"nbmock capture: {target.label} written to {out} ({target.requests_sent} requests)")
    for line in run.missing:
        print(f"  not captured: {line}")
    for line in run.notes:
        print(f"  note: {redact(line)}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    target = _target(args, allow_writes=False)
    leftovers = target.leftovers(args.prefix)
    print(f"nbmock sweep: {len(leftovers)} runtime(s) named {args.prefix}* on {args.target}")
    for runtime in leftovers:
        print(f"  {runtime['id']}  {runtime['name']}")
    if args.dry_run or not leftovers:
        return 0
    target.adopt(leftovers)
    left = target.cleanup()
    print(f"nbmock sweep: {len(leftovers) - len(left)} unregistered, {len(left)} could not be")
    return 1 if left else 0
