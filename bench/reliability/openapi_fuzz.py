"""Schemathesis against ``nbmock serve``: the contract's own run, counted from the server's side.

Runs ``st run openapi/notebook-runtimes.yaml`` with the repository's
schemathesis.toml (its ArcGIS hooks sign in, and check that refused input
leaves the runtimes as they were). The server's access log is the count of
requests and of HTTP 500s: it sees every request, including the checks' own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench import servers

ACCESS = re.compile(r'"(?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|TRACE)\s\S+\s\S+"\s(\d{3})\s')


@dataclass
class OpenApiFuzzReport:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    test_cases: str = ""
    state_changed_by_refusal: int = 0
    contract_failures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    exit_code: int | None = None
    problems: list[str] = field(default_factory=list)


def run_openapi_fuzz(
    workdir: Path,
    *,
    max_examples: int,
    users: Path,
    username: str,
    password: str,
    seed: int = 8,
    timeout: float = 1800,
) -> OpenApiFuzzReport:
    log = workdir / "schemathesis-server.log"
    output = workdir / "schemathesis.out"
    report = OpenApiFuzzReport()
    st = Path(sys.executable).parent / "st"
    with servers.emulator(log, state=workdir / "schemathesis.sqlite3", users=users) as server:
        started = time.monotonic()
        completed = subprocess.run(
            [
                str(st),
                "run",
                str(servers.SPEC),
                "--url",
                f"{server.origin}/arcgis",
                "--max-examples",
                str(max_examples),
                "--seed",
                str(seed),
                "--generation-database",
                "none",
                "--continue-on-failure",
                "--max-failures",
                "100000",
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(workdir / "schemathesis-report"),
            ],
            cwd=servers.REPO,
            env={**os.environ, "ARCGIS_USERNAME": username, "ARCGIS_PASSWORD": password},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        report.seconds = time.monotonic() - started
    output.write_text(completed.stdout + completed.stderr)
    report.exit_code = completed.returncode
    for match in ACCESS.finditer(log.read_text(errors="replace")):
        report.requests += 1
        report.statuses[match.group(1)] += 1
    cases = re.search(r"Test cases:\s*\n\s*(.+)", completed.stdout)
    report.test_cases = cases.group(1).strip() if cases else ""
    for name, count in re.findall(r"Custom check failed: `(\w+)`: (\d+)", completed.stdout):
        report.contract_failures[name] = int(count)
    for name, count in re.findall(r"❌ (?:\w+ )?([A-Z][\w ]+?): (\d+)\n", completed.stdout):
        report.contract_failures.setdefault(name.strip(), int(count))
    report.state_changed_by_refusal = completed.stdout.count("Refused input changed state")
    if report.statuses.get("500"):
        report.problems.append(f"{report.statuses['500']} HTTP 500 answers")
    if report.state_changed_by_refusal:
        report.problems.append(
            f"{report.state_changed_by_refusal} refused requests changed the runtimes"
        )
    if "Test cases" not in completed.stdout:
        report.problems.append(f"schemathesis did not run: exit {completed.returncode}")
    return report
