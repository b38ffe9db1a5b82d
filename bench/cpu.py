"""A server's CPU time, read from ``/proc``: the figure that steers by cost, not by luck.

Requests per second on this shared machine move with whatever else runs: under
load every contender slows toward the same rate and the ratios flatten toward 1.
The CPU a server spends per request barely moves with load. It is the user and
system time of every process of the server (the process the harness started
and all its descendants: gunicorn's master and workers), read before and after
a run, divided by the requests the run completed.

Each process's own time (``utime + stime``) is counted, and so is the time of
children it has already reaped (``cutime + cstime``), so a worker that exits and
is replaced mid-run still counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Kernel clock ticks per second: the unit of the times in /proc/<pid>/stat.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessTimes:
    pid: int
    parent: int
    #: utime + stime + cutime + cstime, in clock ticks.
    ticks: int


def parse_stat(pid: int, text: str) -> ProcessTimes:
    """One ``/proc/<pid>/stat`` line. The command name (field 2) may hold spaces and
    parentheses, so fields are counted from the last ``)``."""
    fields = text.rsplit(")", 1)[1].split()
    # After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return ProcessTimes(pid, int(fields[1]), utime + stime + cutime + cstime)


def processes(proc: str = "/proc") -> dict[int, ProcessTimes]:
    """Every process readable under ``proc``, by pid."""
    found = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat")) as stat:
                found[int(entry)] = parse_stat(int(entry), stat.read())
        except (OSError, IndexError, ValueError):
            continue  # it exited while we looked
    return found


def tree(root: int, table: dict[int, ProcessTimes]) -> list[int]:
    """``root`` and all its descendants in ``table``."""
    children: dict[int, list[int]] = {}
    for times in table.values():
        children.setdefault(times.parent, []).append(times.pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found


def cpu_seconds(roots: list[int], proc: str = "/proc") -> float:
    """CPU seconds spent so far by the servers started as ``roots`` and their descendants."""
    table = processes(proc)
    pids = {pid for root in roots for pid in tree(root, table)}
    return sum(table[pid].ticks for pid in pids) / CLOCK_TICKS


def micros_per_request(before: float, after: float, requests: int) -> float | None:
    """CPU microseconds per completed request between two readings; None without requests."""
    if requests <= 0:
        return None
    return (after - before) / requests * 1e6
