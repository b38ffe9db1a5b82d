"""The journal cannot be used to fill the disk (issue 11).

Against ``nbmock serve`` with a state file: twenty unauthenticated 1 MB POSTs
to ``generateToken`` (which once grew the state file by 19 MB and made
``GET /__mock__/journal`` answer 20 MB), then a flood of entries at their
largest (64 parameters of 4,096 characters each). Figures: how much the state
file grew, how large the journal's answer is, how many entries it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import servers
from mockserver.control import journal

GENERATE_TOKEN = "/arcgis/sharing/rest/generateToken"


@dataclass
class JournalBoundReport:
    posts: int = 0
    bytes_sent: int = 0
    http_500: int = 0
    state_changed: bool = False
    growth_after_junk: int = 0
    answer_after_junk: int = 0
    flood_posts: int = 0
    flood_bytes_sent: int = 0
    growth_after_flood: int = 0
    journal_entries: int = 0
    journal_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def _state_bytes(state: Path) -> int:
    return sum(p.stat().st_size for p in state.parent.glob(state.name + "*"))


def _journal_answer(origin: str) -> tuple[int, int, int]:
    """(bytes of one full ``GET /__mock__/journal``, entries, bytes the entries hold)."""
    response = requests.get(f"{origin}/__mock__/journal", params={"limit": 10_000}, timeout=60)
    entries = response.json()["entries"]
    held = sum(len(requests.compat.json.dumps(entry).encode()) for entry in entries)
    return len(response.content), len(entries), held


def run_journal_bound(
    work: Path, *, posts: int = 20, size: int = 1_000_000, flood: int = 120
) -> JournalBoundReport:
    report = JournalBoundReport()
    state = work / "journal-bound.sqlite3"
    with servers.emulator(work / "journal-bound.log", state=state, workers=2) as server:
        origin = server.origin
        runtimes_before = requests.get(f"{origin}/__mock__/state", timeout=30).json()["runtimes"]
        before = _state_bytes(state)
        junk = "x" * size
        for _ in range(posts):
            response = requests.post(
                origin + GENERATE_TOKEN, data={"username": junk, "f": "json"}, timeout=60
            )
            report.posts += 1
            report.bytes_sent += len(junk)
            report.http_500 += response.status_code >= 500
        report.growth_after_junk = _state_bytes(state) - before
        report.answer_after_junk = _journal_answer(origin)[0]

        widest = {f"p{i}": "y" * journal.MAX_VALUE_CHARS for i in range(journal.MAX_PARAMS)}
        for _ in range(flood):
            response = requests.post(origin + GENERATE_TOKEN, data=widest, timeout=60)
            report.flood_posts += 1
            report.flood_bytes_sent += sum(len(v) for v in widest.values())
            report.http_500 += response.status_code >= 500
        report.growth_after_flood = _state_bytes(state) - before
        answer, report.journal_entries, report.journal_bytes = _journal_answer(origin)
        runtimes_after = requests.get(f"{origin}/__mock__/state", timeout=30).json()["runtimes"]
        report.state_changed = runtimes_after != runtimes_before

    if report.http_500:
        report.problems.append(f"{report.http_500} HTTP 500 answers")
    if report.state_changed:
        report.problems.append("refused requests changed the runtimes")
    if report.growth_after_junk > 2 * 2**20:
        report.problems.append(
            f"{posts} junk POSTs grew the state file by {report.growth_after_junk / 2**20:.1f} MiB"
        )
    if report.answer_after_junk > 2**20:
        report.problems.append(
            f"the journal answered {report.answer_after_junk / 2**20:.1f} MiB after the junk"
        )
    # Between prunes each of the 2 workers may add up to PRUNE_EVERY_BYTES.
    slack = 2 * (1024 * 1024) + 64 * 1024 * 2
    if report.journal_bytes > journal.MAX_BYTES + slack:
        report.problems.append(
            f"the journal holds {report.journal_bytes / 2**20:.1f} MiB, over its "
            f"{journal.MAX_BYTES / 2**20:.0f} MiB bound"
        )
    if report.growth_after_flood > 3 * journal.MAX_BYTES:
        report.problems.append(
            f"the flood grew the state file by {report.growth_after_flood / 2**20:.1f} MiB"
        )
    return report
