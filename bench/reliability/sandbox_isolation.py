"""Sandbox isolation under concurrency (issue 15), through ``nbmock serve`` with 2 workers.

Several sandboxes, one client thread each, copying, updating and reading in
their own sandbox while trying the other sandboxes' tokens; then every
sandbox must hold exactly its own copies, and every foreign token must have
been refused (498). No HTTP 500 anywhere.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import servers
from bench.servers import SEED_COPY, STANDARD_ID

JSON = {"Content-Type": "application/json"}


@dataclass
class IsolationReport:
    sandboxes: int = 0
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    http_500: int = 0
    foreign_refused: int = 0
    crossings: int = 0
    problems: list[str] = field(default_factory=list)


def run_isolation(work: Path, *, sandboxes: int = 6, copies: int = 20) -> IsolationReport:
    report = IsolationReport(sandboxes=sandboxes)
    lock = threading.Lock()
    with servers.emulator(work / "sandboxes.log", state=work / "sandboxes.sqlite3") as server:
        origin = server.origin
        made = []
        for _ in range(sandboxes):
            answer = requests.post(
                f"{origin}/__mock__/sandboxes", data="{}", headers=JSON, timeout=30
            )
            made.append(answer.json())
        tokens = {
            sandbox["id"]: requests.post(
                f"{sandbox['url']}/sharing/rest/generateToken",
                data={"username": "admin", "password": "admin1234", "f": "json"},
                timeout=30,
            ).json()["token"]
            for sandbox in made
        }

        def count(response: requests.Response) -> dict:
            with lock:
                report.requests += 1
                report.by_status[response.status_code] += 1
                if response.status_code >= 500:
                    report.http_500 += 1
            return json.loads(response.text)

        def client(index: int) -> None:
            sandbox = made[index]
            own = tokens[sandbox["id"]]
            foreign = tokens[made[(index + 1) % len(made)]["id"]]
            runtimes = f"{sandbox['url']}/admin/notebooks/runtimes"
            for number in range(copies):
                body = count(
                    requests.post(
                        f"{runtimes}/{STANDARD_ID}/copy",
                        data={**SEED_COPY, "name": f"{sandbox['id']}-{number}", "f": "json",
                              "token": own},
                        timeout=30,
                    )
                )  # fmt: skip
                new_id = body.get("notebookRuntime", {}).get("id")
                if new_id:
                    count(
                        requests.post(
                            f"{runtimes}/{new_id}/update",
                            data={"maxCpu": "2", "maxMemory": "4", "maxMemoryUnit": "g",
                                  "f": "json", "token": own},
                            timeout=30,
                        )
                    )  # fmt: skip
                refused = count(
                    requests.get(runtimes, params={"f": "json", "token": foreign}, timeout=30)
                )
                with lock:
                    if refused.get("code") == 498:
                        report.foreign_refused += 1
                    else:
                        report.crossings += 1

        threads = [threading.Thread(target=client, args=(index,)) for index in range(sandboxes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for sandbox in made:
            listed = requests.get(
                f"{sandbox['url']}/admin/notebooks/runtimes",
                params={"f": "json", "token": tokens[sandbox["id"]]},
                timeout=30,
            ).json()["runtimes"]
            names = [runtime["name"] for runtime in listed if runtime["copied"]]
            strangers = [name for name in names if not name.startswith(sandbox["id"])]
            if len(names) != copies or strangers:
                report.crossings += len(strangers)
                report.problems.append(
                    f"sandbox {sandbox['id']}: {len(names)} copies, {len(strangers)} not its own"
                )
    if report.http_500:
        report.problems.append(f"{report.http_500} HTTP 500 answers")
    if report.crossings:
        report.problems.append(f"{report.crossings} reads or writes crossed sandboxes")
    return report
