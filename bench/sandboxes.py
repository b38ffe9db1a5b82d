"""``python -m bench.sandboxes``: what a sandbox costs, and how creating one grows.

In process, against a state file (as ``nbmock serve`` keeps it): the time to
create one more sandbox when 10, 100 and 1,000 exist (median of several, each
sandbox seeded and ready), the disk one sandbox takes, and the memory one live
sandbox app adds to a worker. Bounded: at most 1,000 sandboxes, in a temporary
folder removed at the end.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from mockserver import create_app

SIZES = (10, 100, 1000)


def measure(sizes: tuple[int, ...] = SIZES, probes: int = 7) -> dict:
    folder = tempfile.mkdtemp(prefix="nbmock-bench-sandboxes-")
    try:
        state = os.path.join(folder, "state.sqlite3")
        app = create_app(state=state, max_sandboxes=max(sizes) + probes + 1)
        client = app.test_client()

        def create() -> float:
            started = time.perf_counter()
            answer = client.post("/__mock__/sandboxes", json={})
            elapsed = time.perf_counter() - started
            assert answer.status_code == 201, answer.get_data(as_text=True)
            return elapsed

        growth = {}
        made = 0
        for size in sizes:
            while made < size:
                create()
                made += 1
            samples = [create() for _ in range(probes)]
            made += probes
            growth[size] = statistics.median(samples) * 1000
        folder_of = Path(f"{state}.sandboxes")
        files = list(folder_of.glob("*.sqlite3*"))
        disk_kb = sum(path.stat().st_size for path in files) / made / 1024
        # Memory: Python allocations held by 32 sandbox apps reopened from their state
        # (the oldest, which the worker's LRU of live apps had closed). RSS would hide
        # them in arenas freed by the apps the LRU closed.
        listing = client.get("/__mock__/sandboxes").get_json(force=True)["sandboxes"][:32]
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for sandbox in listing:
            client.get(f"/{sandbox['context']}/sharing/rest/info?f=json")
        gc.collect()
        per_app_mb = (tracemalloc.get_traced_memory()[0] - before) / max(len(listing), 1) / 2**20
        tracemalloc.stop()
        return {"growth_ms": growth, "disk_kb": disk_kb, "per_app_mb": per_app_mb, "made": made}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    figures = measure(tuple(int(size) for size in args.sizes.split(",")))
    print("Sandboxes (in process, state file):")
    print("| sandboxes that exist | create one more (median ms) | ratio to the first |")
    print("|---|---|---|")
    first = next(iter(figures["growth_ms"].values()))
    for size, ms in figures["growth_ms"].items():
        print(f"| {size:,} | {ms:.1f} | {ms / first:.2f}× |")
    print(f"Disk per sandbox: {figures['disk_kb']:.0f} KiB ({figures['made']:,} made)")
    print(f"Python memory per live sandbox app in a worker: {figures['per_app_mb']:.2f} MiB")


if __name__ == "__main__":
    main()
