"""Instructions per call, in process: the in-process figures of ``bench.breakdown``, counted.

CPU time per call moves a little with what else the machine runs (caches, the other
core); the instructions a call executes do not. ``python -m bench.instructions``
runs each app's WSGI entry point (as ``bench.breakdown`` calls it) under valgrind's
callgrind twice, with two numbers of calls, and prints the difference per call:
imports, set-up and warm-up cancel out. For an A/B of a change to the app on a busy
machine. It counts user-space instructions only: what the kernel does for a call
(SQLite's writes to its WAL, say) is not in it, and a served request's server is
not either (``make bench-quick`` measures those).

Needs valgrind (Debian's package). About 20 s per contender and operation on a quiet machine
(seven in all: the naive handler has no GET).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import breakdown

#: The two runs' numbers of calls: the difference is what is counted.
FEW, MANY = 100, 400
CONTENDERS = ("emulator", "no-journal", "naive", "bare")
OPERATIONS = ("copy", "get")


def _call(contender: str, operation: str, workdir: Path):
    if contender in ("emulator", "no-journal"):
        calls = breakdown.emulator_calls(workdir, journal=contender == "emulator")
        return calls[operation]
    if contender == "naive":
        if operation != "copy":
            return None
        return breakdown.naive_copy(workdir)
    return breakdown.ceiling_copy() if operation == "copy" else breakdown.ceiling_get()


def _inner(contender: str, operation: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        call = _call(contender, operation, Path(workdir))
        for _ in range(count):
            call()


def count(contender: str, operation: str, calls: int) -> int:
    """Instructions callgrind counts for a process that makes ``calls`` calls."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "bench.instructions", "--inner", contender, operation, str(calls),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind gave no count: {done.stderr[-500:]}")
    return int(found.group(1))


def per_call(contender: str, operation: str) -> float:
    return (count(contender, operation, MANY) - count(contender, operation, FEW)) / (MANY - FEW)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inner", nargs=3, metavar=("CONTENDER", "OPERATION", "CALLS"))
    parser.add_argument("--only", choices=CONTENDERS, action="append", help="these contenders")
    parser.add_argument("--operation", choices=OPERATIONS, action="append")
    args = parser.parse_args(argv)
    if args.inner:
        contender, operation, calls = args.inner
        _inner(contender, operation, int(calls))
        return 0
    if shutil.which("valgrind") is None:
        print("bench.instructions: needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    figures: dict[tuple[str, str], float] = {}
    for operation in args.operation or OPERATIONS:
        for contender in args.only or CONTENDERS:
            if contender == "naive" and operation == "get":
                continue
            figures[contender, operation] = value = per_call(contender, operation)
            print(f"  {operation:4} {contender:10} {value / 1000:8.0f} k instructions/call")
    if ("emulator", "copy") in figures and ("naive", "copy") in figures:
        ratio = figures["emulator", "copy"] / figures["naive", "copy"]
        print(f"  copy: emulator ÷ naive {ratio:.2f} (target ≤ {breakdown.COPY_TARGET:g})")
    if ("emulator", "get") in figures and ("bare", "get") in figures:
        print(
            f"  GET:  emulator ÷ bare Flask {figures['emulator', 'get'] / figures['bare', 'get']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
