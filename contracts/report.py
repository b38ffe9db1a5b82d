"""``report.md``: each property with its outcome, and each ledger row with a check settled or not.

A ledger row names its check in the ``check`` column of docs/FIDELITY.md
(every [inferred] row does; rows from captures of other ArcGIS products and
changed behaviours do too, so a real Enterprise confirms or refutes them);
the check is the contract test ``test_<check>``. A row is *confirmed* when
every run of its check passed, *refuted* when one failed, and *not run*
(with the reason) otherwise.

The package carries the ledger as ``contracts/FIDELITY.md``: in the
repository a link to docs/FIDELITY.md (the one copy), in a wheel the file
itself, so an installed kit marks the rows from any working directory.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_LEDGER = Path(__file__).resolve().parent / "FIDELITY.md"
_ROW = re.compile(r"^\|\s*([A-Z]+\d+)\s*\|(.*)\|\s*$")
_CHECK = re.compile(r"`([a-z0-9_]+)`")


@dataclass(frozen=True)
class LedgerRow:
    row_id: str
    behaviour: str
    source: str
    checks: tuple[str, ...]


def checked_rows(ledger: Path = DEFAULT_LEDGER) -> list[LedgerRow]:
    """The ledger rows that name a check, whatever their source."""
    rows = []
    for line in ledger.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        cells = [cell.strip() for cell in match.group(2).split("|")]
        if len(cells) < 3:
            continue
        behaviour, source, check_cell = cells[0], cells[1], cells[-1]
        checks = tuple(_CHECK.findall(check_cell))
        if checks:
            rows.append(LedgerRow(match.group(1), behaviour, source, checks))
    return rows


def ledger_verdict(row: LedgerRow, results: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """(verdict, why) for one row from the run's results by check name."""
    outcomes = [results.get(check) for check in row.checks]
    if any(outcome and outcome["outcome"] == "failed" for outcome in outcomes):
        return "refuted", ", ".join(
            c for c, o in zip(row.checks, outcomes, strict=True) if o and o["outcome"] == "failed"
        )
    if all(outcome and outcome["outcome"] == "passed" for outcome in outcomes):
        return "confirmed", ""
    reasons = []
    for check, outcome in zip(row.checks, outcomes, strict=True):
        if outcome is None:
            reasons.append(f"{check}: did not run")
        elif outcome["outcome"] == "skipped":
            reasons.append(f"{check}: {'; '.join(outcome['details']) or 'skipped'}")
    return "not run", "; ".join(reasons)


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
    lines = [
        "# Contract kit report",
        "",
        f"- target: {target.label}" if target is not None else "- target: (none)",
        f"- flavour: {flavour}" if flavour else "",
        f"- mode: {target.mode}" if target is not None else "",
        f"- run prefix: `{target.prefix}`" if target is not None else "",
        f"- requests sent: {target.requests_sent}" if target is not None else "",
        f"- finished: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}",
        f"- properties: {len(results)}, failed: {len(failed)}",
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
    for name in failed:
        lines += ["", f"### `{name}` failed", ""]
        for detail in results[name]["details"]:
            lines += ["```", _falsifying_example(detail), "```"]
    lines += ["", "## Fidelity ledger: the rows with a check", ""]
    if not ledger.exists():
        lines.append(f"Ledger not found at {ledger}; no row marked.")
    else:
        lines += ["| row | verdict | check | behaviour | why |", "|---|---|---|---|---|"]
        for row in checked_rows(ledger):
            verdict, why = ledger_verdict(row, results)
            checks = ", ".join(f"`{check}`" for check in row.checks)
            behaviour = row.behaviour.replace("|", "\\|")
            lines.append(f"| {row.row_id} | **{verdict}** | {checks} | {behaviour} | {why} |")
    path = directory / "report.md"
    path.write_text("\n".join(line for line in lines if line is not None) + "\n", encoding="utf-8")
    return path
