"""``make reliability``: every check at full size, a table of figures, a JSON report.

Exit status 1 if any check found a problem. Servers run with a users file of
random passwords, so the secrets scan at the end has something to look for.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections import Counter
from dataclasses import fields
from pathlib import Path

from bench import servers
from bench.reliability import (
    auth_matrix,
    crash,
    cross_site,
    forms,
    framing,
    hostile_values,
    integrity,
    journal_bound,
    openapi_fuzz,
    replicas,
    sandbox_isolation,
    sandbox_options,
    sandbox_paths,
    secrets_scan,
    signin_race,
    slow_clients,
)

#: The shape of an issued token (itsdangerous: base64 JSON list "WyJ..." + signature),
#: to find tokens this run never saw, such as those Schemathesis's hooks asked for.
TOKEN_SHAPE = re.compile(r"WyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")


def as_record(report) -> dict:
    """A report's shown fields as JSON-ready values (tokens and journals are not shown)."""
    record = {}
    for item in fields(report):
        if item.repr:
            value = getattr(report, item.name)
            record[item.name] = dict(value) if isinstance(value, Counter) else value
    return record


def row(check: str, load: str, result: str, problems: list[str]) -> list[str]:
    return [check, load, result, "ok" if not problems else f"{len(problems)} PROBLEMS"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=100, help="copies per client thread")
    parser.add_argument("--client-threads", type=int, default=16)
    parser.add_argument("--crash-cycles", type=int, default=10)
    parser.add_argument("--form-examples", type=int, default=10_000)
    parser.add_argument("--schemathesis-examples", type=int, default=40)
    parser.add_argument("--framing-cases", type=int, default=1500)
    parser.add_argument("--slow-connections", type=int, default=64)
    parser.add_argument("--hostile-examples", type=int, default=300)
    parser.add_argument("--sandbox-option-examples", type=int, default=500)
    parser.add_argument("--out", default="reports/reliability")
    args = parser.parse_args(argv)

    work = servers.scratch_dir("nbmock-reliability-")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    users, passwords = auth_matrix.users_file(work)
    boss = ("boss", passwords["boss"])
    tokens: list[str] = []
    journals: dict[str, str] = {}
    rows: list[list[str]] = []
    results: dict[str, dict] = {}
    problems: dict[str, list[str]] = {}
    started = time.monotonic()
    print(f"nbmock reliability: {os.cpu_count()} CPUs, work files in {work}", flush=True)

    # 1. Concurrency integrity: nbmock serve's workers, then plain gthread workers.
    for label, server in (
        (
            "nbmock serve, 4 workers",
            servers.emulator(
                work / "integrity-sync.log", state=work / "i1.sqlite3", workers=4, users=users
            ),
        ),
        (
            "2 workers × 4 threads",
            integrity.threaded_emulator(
                work / "integrity-threads.log",
                state=work / "i2.sqlite3",
                workers=2,
                threads=4,
                users=users,
            ),
        ),
    ):
        with server:
            report = integrity.run_integrity(
                server,
                client_threads=args.client_threads,
                copies_per_thread=args.copies,
                updates_per_copy=2,
                credentials=boss,
            )
            tokens.append(servers.token(server.origin, *boss))
            journals[f"journal of integrity ({label})"] = servers.journal(server.origin)
        name = f"concurrency integrity ({label})"
        results[name] = as_record(report)
        problems[name] = report.problems
        rows.append(
            row(
                name,
                f"{args.client_threads} client threads, {report.seconds:.0f} s",
                f"{report.copies_acknowledged} copies + {report.updates_acknowledged} updates + "
                f"{report.reads} reads acknowledged; {report.listed} listed, none lost or doubled",
                report.problems,
            )
        )
        print(f"  {name}: {'ok' if not report.problems else report.problems}", flush=True)

    # 2. Crash consistency.
    report = crash.run_crash(work, cycles=args.crash_cycles, users=users, credentials=boss)
    tokens += report.tokens
    for i, text in enumerate(report.journals):
        journals[f"journal after crash restart {i}"] = text
    results["crash consistency"] = as_record(report)
    problems["crash consistency"] = report.problems
    rows.append(
        row(
            "kill -9 mid-load, restart on the same --state",
            f"{report.cycles} cycles, 4 client threads",
            f"{report.copies_acknowledged} acknowledged copies all kept; {report.rows_checked} rows "
            f"checked whole; {report.requests_cut_by_kill} requests cut by the kill; "
            f"restart ≤ {report.restart_seconds_max:.1f} s",
            report.problems,
        )
    )
    print(f"  crash: {'ok' if not report.problems else report.problems}", flush=True)

    # 3. Auth matrix.
    report = auth_matrix.run_auth_matrix(work, users, passwords)
    tokens += report.issued_tokens
    results["auth matrix"] = {
        k: v for k, v in as_record(report).items() if k not in ("issued_tokens", "passwords")
    }
    problems["auth matrix"] = report.problems
    rows.append(
        row(
            "auth matrix",
            f"{report.operations} operations (both flavours) × 6 conditions × channels × 3 formats",
            f"{report.refused}/{report.cells} refused ({dict(report.by_code)}), state unchanged",
            report.problems,
        )
    )
    print(f"  auth matrix: {'ok' if not report.problems else report.problems[:5]}", flush=True)

    # 3b. Concurrent sign-in failures (issue 24), one served emulator per lockout policy.
    for attempts in (1, 2, 5):
        log = work / f"signin-race-{attempts}.log"
        extra = ("--lockout-attempts", str(attempts))
        with servers.emulator(log, workers=2, users=users, extra=extra) as server:
            report = signin_race.run_signin_race(
                server.origin, attempts=attempts, username=boss[0], password=boss[1]
            )
            journals[f"journal of the sign-in race ({attempts})"] = servers.journal(server.origin)
        tokens += report.issued_tokens
        name = f"concurrent sign-in failures (lockout after {attempts})"
        results[name] = as_record(report)
        problems[name] = report.problems
        rows.append(
            row(
                name,
                f"{report.bursts} bursts released at once, {report.sign_ins} sign-ins, "
                "nbmock serve --workers 2",
                f"answers {dict(report.by_answer)}; at most {report.most_invalid_in_a_burst} "
                "passwords refused as invalid in one burst",
                report.problems,
            )
        )
        print(f"  {name}: {'ok' if not report.problems else report.problems[:3]}", flush=True)

    # 4. Form and multipart fuzzer.
    report = forms.run_form_fuzz(args.form_examples, seed=None)
    results["form fuzzer"] = as_record(report)
    results["form fuzzer"]["reproducers"] = [repr(r) for r in report.reproducers]
    problems["form fuzzer"] = report.problems
    rows.append(
        row(
            "form/multipart fuzzer (Hypothesis)",
            f"{report.requests} raw bodies to 6 POST operations",
            ", ".join(f"{k}: {v}" for k, v in report.by_outcome.most_common()),
            report.problems,
        )
    )
    print(f"  form fuzzer: {'ok' if not report.problems else report.problems[:5]}", flush=True)

    # 4b. HTTP framing, raw sockets, and slow clients, against one served emulator.
    with servers.emulator(work / "framing.log", state=work / "f.sqlite3", users=users) as server:
        token = servers.token(server.origin, *boss)
        tokens.append(token)
        report = framing.run_framing_fuzz(server.origin, token, count=args.framing_cases)
        journals["journal of the framing fuzzer"] = servers.journal(server.origin)
        results["framing fuzzer"] = as_record(report)
        problems["framing fuzzer"] = report.problems
        rows.append(
            row(
                "HTTP framing fuzzer (raw sockets)",
                f"{report.requests} requests: {report.well_framed} well framed, "
                f"{report.malformed} malformed ({len(report.by_label)} kinds), {report.seconds:.0f} s",
                ", ".join(f"{k}: {v}" for k, v in report.by_outcome.most_common())
                + f"; HTTP 500s: {report.http_500}; refused that changed state: "
                f"{report.state_changes_from_refused}",
                report.problems,
            )
        )
        print(f"  framing: {'ok' if not report.problems else report.problems[:5]}", flush=True)

        report = slow_clients.run_slow_clients(server.origin, connections=args.slow_connections)
        results["slow clients"] = as_record(report)
        problems["slow clients"] = report.problems
        rows.append(
            row(
                "slow clients",
                f"{report.connections} connections of each of {len(report.median_ms)} kinds "
                "(idle; a head, a Content-Length body, chunks, a chunk-size line, a trailer, "
                "and bodies behind Expect: 100-continue, each trickled every 2 s); "
                f"{report.probes} GETs each",
                f"GET median {report.quiet_median_ms:.0f} ms alone; beside: "
                + "; ".join(
                    f"{kind} {median:.0f} ms (worst {report.max_ms[kind]:.0f})"
                    for kind, median in report.median_ms.items()
                ),
                report.problems,
            )
        )
        print(f"  slow clients: {'ok' if not report.problems else report.problems}", flush=True)

    # 5. Schemathesis from the contract.
    if servers.SPEC.exists():
        report = openapi_fuzz.run_openapi_fuzz(
            work,
            max_examples=args.schemathesis_examples,
            users=users,
            username=boss[0],
            password=boss[1],
        )
        if report.requests < 10_000:
            report.problems.append(f"only {report.requests} requests, fewer than 10,000")
        results["schemathesis"] = as_record(report)
        problems["schemathesis"] = report.problems
        rows.append(
            row(
                "Schemathesis (openapi/notebook-runtimes.yaml)",
                f"{report.requests} requests ({report.test_cases}), {report.seconds:.0f} s",
                f"HTTP statuses {dict(report.statuses)}; refusals that changed state: "
                f"{report.state_changed_by_refusal}; contract check failures: {report.contract_failures or 'none'}",
                report.problems,
            )
        )
        print(f"  schemathesis: {'ok' if not report.problems else report.problems}", flush=True)
    else:
        problems["schemathesis"] = ["openapi/notebook-runtimes.yaml is missing"]

    # 6. Hostile values on copy, update, state import (issue 11) and uploaded files (issue 24).
    report = hostile_values.run_hostile_values(args.hostile_examples)
    results["hostile values"] = as_record(report)
    problems["hostile values"] = report.problems
    rows.append(
        row(
            "hostile values (Hypothesis): lone surrogates, depth/size at and past the limits, "
            "non-ASCII digits, names; in forms, snapshots and every uploaded file (huge "
            "numbers, duplicate keys, other encodings, BOMs and invalid UTF-8 too)",
            f"{report.requests} requests ({dict(report.by_target)}; uploads by class "
            f"{dict(report.by_file_kind)})",
            f"{dict(report.by_outcome)}; HTTP 500: {report.http_500}; "
            f"refusals that changed state: {report.refused_yet_changed}",
            report.problems,
        )
    )
    print(f"  hostile values: {'ok' if not report.problems else report.problems[:5]}", flush=True)

    # 7. The journal's bound, served with a state file.
    report = journal_bound.run_journal_bound(work)
    results["journal bound"] = as_record(report)
    problems["journal bound"] = report.problems
    rows.append(
        row(
            "journal bound (nbmock serve, 2 workers, --state)",
            f"{report.posts} × 1 MB junk POSTs, then {report.flood_posts} widest entries "
            f"({report.flood_bytes_sent / 2**20:.0f} MiB sent)",
            f"state file +{report.growth_after_junk / 2**10:.0f} KiB and journal answer "
            f"{report.answer_after_junk / 2**10:.0f} KiB after the junk; after the flood "
            f"{report.journal_entries} entries, {report.journal_bytes / 2**20:.1f} MiB kept, file "
            f"+{report.growth_after_flood / 2**20:.1f} MiB; HTTP 500: {report.http_500}; "
            f"state changed: {report.state_changed}",
            report.problems,
        )
    )
    print(f"  journal bound: {'ok' if not report.problems else report.problems}", flush=True)

    # 8. Cross-site requests to the control plane and the forms.
    report = sandbox_isolation.run_isolation(work)
    results["sandbox isolation"] = as_record(report)
    problems["sandbox isolation"] = report.problems
    rows.append(
        row(
            "sandbox isolation (issue 15)",
            f"{report.sandboxes} sandboxes, one client thread each, 2 workers: copies, updates, "
            "and each sandbox's listing tried with another sandbox's token",
            f"{report.requests} requests; foreign tokens refused: {report.foreign_refused}; "
            f"crossings: {report.crossings}; HTTP 500: {report.http_500}",
            report.problems,
        )
    )

    state = work / "sandbox-options.sqlite3"
    with servers.emulator(work / "sandbox-options.log", state=state, users=users) as server:
        report = sandbox_options.run_sandbox_options(
            server, state, examples=args.sandbox_option_examples
        )
    results["hostile sandbox options"] = as_record(report)
    problems["hostile sandbox options"] = report.problems
    rows.append(
        row(
            "hostile sandbox options (issue 24)",
            f"{report.requests} creates ({dict(report.by_option)}), nbmock serve --workers 2",
            f"HTTP statuses {dict(report.by_status)}; HTTP 500: {report.http_500}; files left: "
            f"{report.files_left}; descriptors {report.descriptors_before} before, "
            f"{report.descriptors_after} after",
            report.problems,
        )
    )
    print(f"  sandbox options: {'ok' if not report.problems else report.problems[:5]}", flush=True)
    with servers.emulator(
        work / "sandbox-paths.log", state=work / "sandbox-paths.sqlite3"
    ) as server:
        report = sandbox_paths.run_sandbox_path_forms(server.origin)
    results["sandbox path forms"] = as_record(report)
    problems["sandbox path forms"] = report.problems
    rows.append(
        row(
            "sandbox path forms (issue 24)",
            f"{len(sandbox_paths.CONTROL_WRITES)} control writes × 45 spellings of a sandbox's "
            "control URL (doubled, encoded, trailing slashes), redirects followed as curl -L does",
            f"{report.requests} requests; the main deployment's clock, faults and journal unmoved",
            report.problems,
        )
    )
    print(
        f"  sandbox path forms: {'ok' if not report.problems else report.problems[:3]}", flush=True
    )

    report = cross_site.run_cross_site()
    results["cross-site refusals"] = as_record(report)
    problems["cross-site refusals"] = report.problems
    rows.append(
        row(
            "cross-site and non-JSON requests",
            f"{report.requests} requests: 11 POST targets × 4 markers × 3 body types, "
            "5 non-JSON control bodies",
            f"{report.refused} refused ({dict(report.by_status)}); HTTP 500: {report.http_500}; "
            f"state changes: {report.state_changes}; {report.originless_passed}/3 Origin-less "
            "API calls passed",
            report.problems,
        )
    )
    print(f"  cross-site: {'ok' if not report.problems else report.problems[:5]}", flush=True)

    # 9. Replicas over PostgreSQL (issue 15): a throwaway cluster from the machine's binaries.
    from tests import postgres

    reason = postgres.unavailable()
    if reason:
        print(f"  replicas over PostgreSQL: skipped ({reason})", flush=True)
        rows.append(["replicas over PostgreSQL", "-", f"skipped: {reason}", "skipped"])
    else:
        with postgres.cluster(durable=True) as cluster:
            kill = replicas.run_replica_kill(
                work, cluster.fresh_database("kill"), users=users, credentials=boss
            )
            restart = replicas.run_database_restart(
                work, cluster, cluster.fresh_database("restart"), users=users, credentials=boss
            )
            cross = replicas.run_cross_replica_copies(
                work, cluster.fresh_database("cross"), users=users, credentials=boss
            )
        for name, report in (
            ("replica kill -9 under load", kill),
            ("database restart under load", restart),
            ("concurrent copies across replicas", cross),
        ):
            tokens += report.tokens
            results[name] = as_record(report)
            problems[name] = report.problems
            print(f"  {name}: {'ok' if not report.problems else report.problems}", flush=True)
        rows.append(
            row(
                "replica kill -9 under load (2 replicas, one PostgreSQL)",
                f"6 client threads, {kill.seconds:.0f} s",
                f"{kill.copies_acknowledged} copies acknowledged ({kill.acknowledged_by_victim} "
                f"by the victim), {kill.requests_cut_by_kill} cut by the kill; lost: {kill.lost}",
                kill.problems,
            )
        )
        rows.append(
            row(
                "database restart under load (pg_ctl stop -m fast, start)",
                f"4 client threads, database down {restart.seconds_down:.1f} s",
                f"{restart.requests} answers {dict(restart.by_outcome)}; health during: "
                f"{restart.health_during}; HTTP 500: {restart.http_500}; traces: {restart.traces}; "
                f"healthy {restart.seconds_to_recover:.2f} s after start; lost: {restart.lost}",
                restart.problems,
            )
        )
        rows.append(
            row(
                "concurrent copies across 2 replicas",
                "16 client threads × 25 copies",
                f"{cross.copies} copies ({cross.copies_per_second}/s): {cross.unique_ids} unique "
                f"ids, {cross.unique_property_ids} unique property ids; revisions strictly "
                f"increasing: {cross.revisions_increasing}",
                cross.problems,
            )
        )

    # 10. Secrets: every log, journal and report of this run, this run's own report included.
    report_path = out / "reliability.json"
    summary = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": "python -m bench.reliability " + " ".join(argv or []),
        "cpus": os.cpu_count(),
        "seconds": round(time.monotonic() - started),
        "results": results,
    }
    report_path.write_text(json.dumps(summary, indent=2, default=str))
    secrets = tokens + list(passwords.values())
    # Logs, outputs and reports; not the inputs (users.toml) nor the state files.
    artefacts = [
        p
        for p in sorted(work.rglob("*"))
        if p.is_file() and p.name != users.name and ".sqlite3" not in p.name
    ] + [report_path]
    scanned = secrets_scan.scan(artefacts, secrets, extra=journals)
    texts = [*journals.items(), *((str(p), p.read_text(errors="replace")) for p in artefacts)]
    shaped = [
        f"a token-shaped string in {name}" for name, text in texts if TOKEN_SHAPE.search(text)
    ]
    scanned.findings += sorted(set(shaped))
    problems["secrets"] = scanned.findings
    rows.append(
        row(
            "secrets in logs, journals, reports",
            f"{scanned.secrets} secrets ({len(tokens)} tokens, {len(passwords)} passwords)",
            f"{scanned.files} files/journals, {scanned.bytes_scanned / 2**20:.1f} MiB scanned; "
            f"{len(scanned.findings)} findings",
            scanned.findings,
        )
    )
    summary["secrets"] = {
        "secrets": scanned.secrets,
        "files": scanned.files,
        "findings": scanned.findings,
    }
    summary["problems"] = problems
    report_path.write_text(json.dumps(summary, indent=2, default=str))

    widths = [
        max(len(r[i]) for r in [["check", "load", "result", "verdict"], *rows]) for i in range(4)
    ]
    print()
    for r in [["check", "load", "result", "verdict"], ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    found = {k: v for k, v in problems.items() if v}
    for name, items in found.items():
        print(f"\n{name}:")
        for item in items[:20]:
            print(f"  - {item}")
    print(f"\nreport: {report_path}; server logs and outputs: {work}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
