"""``report.md``: each property with its outcome, and each ledger row with its standing and verdict.

A ledger row names its check in the ``check`` column of docs/FIDELITY.md
(every [inferred] row does; rows from captures of other ArcGIS products and
changed behaviours do too, so a real Enterprise confirms or refutes them);
the check is the contract test ``test_<check>``. Against a real target a row
is *confirmed* when every run of its check passed, *refuted* when one failed;
against an emulator it only *agrees* or *disagrees (emulator)*. A check that
failed after a transient error (5xx, timeout, dropped connection) leaves the
row *inconclusive*, with the cause; otherwise *not run* (with the reason).
``ledger-patch.md`` beside the report lists, for a real target, each inferred
row it confirmed or refuted, the change to make, and the redacted exchanges.

The package carries the ledger as ``contracts/FIDELITY.md``: in the
repository a link to docs/FIDELITY.md (the one copy), in a wheel the file
itself, so an installed kit marks the rows from any working directory.
"""

from __future__ import annotations

import ast
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.redaction import redact

KIT_DIRECTORY = Path(__file__).resolve().parent
DEFAULT_LEDGER = KIT_DIRECTORY / "FIDELITY.md"
_ROW = re.compile(r"^\|\s*([A-Z]+\d+)\s*\|(.*)\|\s*$")
_CHECK = re.compile(r"`([a-z0-9_]+)`")


@dataclass(frozen=True)
class LedgerRow:
    row_id: str
    behaviour: str
    source: str
    checks: tuple[str, ...]
    line: str = ""


def ledger_rows(ledger: Path = DEFAULT_LEDGER) -> list[LedgerRow]:
    """Every ledger row, with the checks it names (none for many)."""
    rows = []
    for line in ledger.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        cells = [cell.strip() for cell in match.group(2).split("|")]
        if len(cells) < 3:
            continue
        # A behaviour may hold a bare "|" (`g|m|k|b`): the source and check are the last cells.
        behaviour, source, check_cell = "|".join(cells[:-2]), cells[-2], cells[-1]
        rows.append(
            LedgerRow(match.group(1), behaviour, source, tuple(_CHECK.findall(check_cell)), line)
        )
    return rows


def checked_rows(ledger: Path = DEFAULT_LEDGER) -> list[LedgerRow]:
    """The ledger rows that name a check, whatever their source."""
    return [row for row in ledger_rows(ledger) if row.checks]


_STANDING = re.compile(r"\[(seed|doc|client|capture|inferred)\b")
#: How a row's sources read in the report: the seed is one of Esri's doc pages.
_STANDING_NAMES = {"seed": "doc", "doc": "doc", "client": "client", "capture": "capture"}


_STANDING_ORDER = ("doc", "client", "capture", "inferred")


def standing(row: LedgerRow) -> str:
    """Where the row's behaviour comes from, strongest first: doc, client, capture, then
    inferred when any part of it is (a row "inferred from [doc]" reads "doc, inferred")."""
    found = {_STANDING_NAMES.get(tag, "inferred") for tag in _STANDING.findall(row.source)}
    if found:
        return ", ".join(name for name in _STANDING_ORDER if name in found)
    # What the emulator chose or leaves out (J2's "emulator limitation") claims nothing of ArcGIS.
    if row.source.startswith(("emulator design", "emulator default", "emulator limitation")):
        return "emulator design"
    return "unmarked"


def checks_needing_writes(directory: Path = KIT_DIRECTORY) -> set[str]:
    """The checks that create runtimes (they ask for the ``writable`` fixture), read from
    the kit's own sources so the list never drifts from the checks."""
    needing = set()
    for module in directory.glob("test_*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.FunctionDef)
                and node.name.startswith("test_")
                and any(arg.arg == "writable" for arg in node.args.args)
            ):
                needing.add(node.name.removeprefix("test_"))
    return needing


def rows_only_writes_show(ledger: Path = DEFAULT_LEDGER) -> list[str]:
    """Inferred ledger rows whose every check creates runtimes: no read-only capture
    can settle them, so a profile never holds them."""
    if not ledger.exists():
        return []
    writes = checks_needing_writes()
    return [
        row.row_id
        for row in checked_rows(ledger)
        if "[inferred]" in row.source and all(check in writes for check in row.checks)
    ]


#: Verdicts on a row: a real target settles it; the emulator only agrees with itself.
CONFIRMED, REFUTED = "confirmed", "refuted"
AGREES, DISAGREES = "agrees (emulator)", "disagrees (emulator)"
INCONCLUSIVE, NOT_RUN, NO_CHECK = "inconclusive", "not run", "no check"


def ledger_verdict(
    row: LedgerRow, results: Mapping[str, Mapping[str, Any]], *, emulator: bool = False
) -> tuple[str, str]:
    """(verdict, why) for one row from the run's results by check name.

    Against an emulator a verdict is "agrees (emulator)" or "disagrees (emulator)":
    the emulator cannot confirm its own inference. A check that failed only after a
    transient error (HTTP or code 5xx, a timeout, a dropped connection) makes the row
    inconclusive, with the cause, never refuted.
    """
    if not row.checks:
        return NO_CHECK, ""
    outcomes = [results.get(check) for check in row.checks]
    failed = [
        c for c, o in zip(row.checks, outcomes, strict=True) if o and o["outcome"] == "failed"
    ]
    if failed:
        return (DISAGREES if emulator else REFUTED), ", ".join(failed)
    shaky = [
        f"{c}: {'; '.join(o.get('causes') or ['a transient error'])}"
        for c, o in zip(row.checks, outcomes, strict=True)
        if o and o["outcome"] == "inconclusive"
    ]
    if shaky:
        return INCONCLUSIVE, "; ".join(shaky)
    if all(outcome and outcome["outcome"] == "passed" for outcome in outcomes):
        return (AGREES if emulator else CONFIRMED), ""
    reasons = []
    for check, outcome in zip(row.checks, outcomes, strict=True):
        if outcome is None:
            reasons.append(f"{check}: did not run")
        elif outcome["outcome"] == "skipped":
            reasons.append(f"{check}: {'; '.join(outcome['details']) or 'skipped'}")
    return NOT_RUN, "; ".join(reasons)


def _falsifying_example(detail: str) -> str:
    """The part of a failure that shows the example (Hypothesis's, or the assertion)."""
    lines = detail.splitlines()
    for marker in ("Falsifying example", "Failing test case", "Falsifying explicit example"):
        for index, line in enumerate(lines):
            if marker in line:
                return "\n".join(lines[index : index + 25])
    assertion = [line for line in lines if line.startswith("E ")]
    return "\n".join(assertion[:25]) or "\n".join(lines[-25:])


def write_markdown_report(
    directory: Path,
    results: Mapping[str, Mapping[str, Any]],
    *,
    target: Any = None,
    ledger_path: str | Path | None = None,
    flavour: str | None = None,
) -> Path:
    """``flavour`` is what the run judged the target to be, as the plugin words it."""
    directory.mkdir(parents=True, exist_ok=True)
    ledger = Path(ledger_path) if ledger_path else DEFAULT_LEDGER
    failed = [name for name, result in results.items() if result["outcome"] == "failed"]
    shaky = [name for name, result in results.items() if result["outcome"] == "inconclusive"]
    lines = [
        "# Contract kit report",
        "",
        f"- target: {target.label}" if target is not None else "- target: (none)",
        f"- flavour: {flavour}" if flavour else "",
        f"- mode: {target.mode}" if target is not None else "",
        f"- run prefix: `{target.prefix}`" if target is not None else "",
        f"- requests sent: {target.requests_sent}" if target is not None else "",
        f"- finished: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}",
        f"- properties: {len(results)}, failed: {len(failed)}, inconclusive: {len(shaky)}",
        "",
        "## Properties",
        "",
        "| property | outcome | what it checks |",
        "|---|---|---|",
    ]
    for name, result in sorted(results.items()):
        lines.append(
            f"| `{name}` | {result['outcome']} | {result['doc'].splitlines()[0] if result['doc'] else ''} |"
        )
    for name in failed + shaky:
        if name in failed:
            lines += ["", f"### `{name}` failed", ""]
        else:
            causes = "; ".join(results[name].get("causes") or ["a transient error"])
            lines += ["", f"### `{name}` inconclusive", "", f"After {causes}: run it again.", ""]
        for detail in results[name]["details"]:
            lines += ["```", _falsifying_example(detail), "```"]
    emulator = bool(target is not None and getattr(target, "answers_as_emulator", False))
    lines += ["", "## Fidelity ledger", ""]
    if not ledger.exists():
        lines.append(f"Ledger not found at {ledger}; no row marked.")
    else:
        lines.append(
            "Against an emulator a row at best *agrees (emulator)*: the emulator cannot "
            "confirm its own inference."
            if emulator
            else "Against this target a passing check *confirms* its row, a failing one "
            "*refutes* it; a transient error leaves it *inconclusive*."
        )
        lines += [
            "",
            "| row | standing | verdict | check | behaviour | why |",
            "|---|---|---|---|---|---|",
        ]
        for row in ledger_rows(ledger):
            verdict, why = ledger_verdict(row, results, emulator=emulator)
            checks = ", ".join(f"`{check}`" for check in row.checks)
            behaviour = row.behaviour.replace("|", "\\|")
            lines.append(
                f"| {row.row_id} | {standing(row)} | **{verdict}** | {checks} | {behaviour} "
                f"| {why.replace('|', '/')} |"
            )
    path = directory / "report.md"
    path.write_text(
        redact("\n".join(line for line in lines if line is not None)) + "\n", encoding="utf-8"
    )
    if ledger.exists():
        write_ledger_patch(directory, results, ledger, target=target, emulator=emulator)
    return path


def write_ledger_patch(
    directory: Path,
    results: Mapping[str, Mapping[str, Any]],
    ledger: Path,
    *,
    target: Any,
    emulator: bool,
) -> Path:
    """``ledger-patch.md``: each inferred row a real target confirmed or refuted, the change
    to make to docs/FIDELITY.md, and the redacted exchanges that show it."""
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    label = getattr(target, "label", "the target")
    lines = ["# Ledger patch", "", f"- target: {label}", f"- run: {when}", ""]
    settled = []
    if emulator:
        lines.append(
            "No row settled: the target is an emulator, which cannot confirm its own inference."
        )
    else:
        for row in ledger_rows(ledger):
            if "inferred" not in standing(row):
                continue
            verdict, why = ledger_verdict(row, results, emulator=False)
            if verdict in (CONFIRMED, REFUTED):
                settled.append((row, verdict, why))
        if not settled:
            lines.append("No inferred row was confirmed or refuted by this run.")
    for row, verdict, why in settled:
        lines += [f"## {row.row_id}: {verdict}", ""]
        if verdict == CONFIRMED:
            capture = f"[capture] `nbmock verify` against {label}, {when}"
            lines += [
                f"Every check of the row passed ({', '.join(row.checks)}). In its source "
                f"cell, name the run instead of the inference:",
                "",
                "```diff",
                f"- {row.line}",
                f"+ {row.line.replace('[inferred]', capture, 1)}",
                "```",
            ]
        else:
            lines += [
                f"The target refused the row's behaviour ({why}). Change the emulator to "
                "what the target answered below, then the row's behaviour and its source "
                f"(`[capture] nbmock verify against {label}, {when}`).",
                "",
                "```",
                row.line,
                "```",
            ]
        evidence = [
            e for check in row.checks for e in (results.get(check) or {}).get("evidence", [])
        ]
        if evidence:
            lines += ["", "Evidence (tokens and passwords removed):", "", "```"]
            for exchange in evidence:
                lines += [f"> {exchange['request']}", f"< {exchange['response']}"]
            lines.append("```")
        lines.append("")
    path = directory / "ledger-patch.md"
    path.write_text(redact("\n".join(lines)) + "\n", encoding="utf-8")
    return path
