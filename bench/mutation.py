"""``make mutation``: turn mutmut's results into the score table of docs/MUTATION.md.

mutmut (3.x) leaves one ``mutants/<module>.py.meta`` per mutated module, holding
each mutant's exit code. This reads them, counts per module, and lists every
survivor with its diff: either as **equivalent** (a reason is kept in
``bench/mutation_equivalents/<module>.toml``, matched by function and mutated
line, so that renumbered mutants keep their reason) or as a **gap** no test notices.

Only the part of docs/MUTATION.md below ``GENERATED`` is rewritten; the prose
above it is kept. Exit status 1 if a module that was run has a gap.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

GENERATED = "<!-- Everything below is written by `make mutation` (bench/mutation.py). -->"
#: One file per mutated module, so that work on two modules never edits the same file.
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents")

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
#: Modules of which only some mutants count, and the label saying which (issue 16: of the
#: runtimes' store, only the revision rule; the rest is SQL the other tests pin).
COUNTED_ONLY: dict[str, tuple[str, str]] = {
    "mockserver/runtimes/store.py": ("*next_revision__mutmut_*", "revisions"),
}


@dataclass(frozen=True)
class Module:
    """One mutated file: where mutmut's verdicts are and which of its mutants count."""

    path: str  # mockserver/control/faults.py

    @property
    def name(self) -> str:
        """The prefix of its mutants' names (mutmut drops ``__init__``)."""
        return self.path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")

    @property
    def pattern(self) -> str:
        # A package's own mutants are named like its submodules' (``pkg.x_f`` beside
        # ``pkg.store.x_g``): its mangled names start with ``x``, a submodule's need not.
        default = "x*" if self.path.endswith("/__init__.py") else "*"
        return COUNTED_ONLY.get(self.path, (default, ""))[0]

    @property
    def label(self) -> str:
        only = COUNTED_ONLY.get(self.path, ("", ""))[1]
        return f"{self.path} ({only})" if only else self.path

    @property
    def mutants(self) -> str:
        """The ``mutmut run`` argument that selects the mutants that count."""
        return f"{self.name}.{self.pattern}"


def modules(pyproject: Path = PYPROJECT) -> list[Module]:
    """The modules ``[tool.mutmut] only_mutate`` in pyproject.toml names: the one list to
    edit when a module is added, moved or renamed (the Makefile reads it through
    ``--patterns``)."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["mutmut"]
    return [Module(path) for path in config["only_mutate"]]


KILLED = {1, 3, 36, 24, -24, 152, 255, -9, -11}  # failed, or timed out / crashed: caught
SURVIVED = {0}
NO_TESTS = {5, 33}


@dataclass
class Survivor:
    name: str
    diff: str
    why: str | None  # None: a gap no test notices


@dataclass
class ModuleResult:
    label: str
    module: str = ""
    present: bool = False
    total: int = 0
    killed: int = 0
    not_run: int = 0
    no_tests: int = 0
    other: list[str] = field(default_factory=list)
    survivors: list[Survivor] = field(default_factory=list)
    #: Mutants not run yet, or whose function no test reached: worth another run.
    unsettled: list[str] = field(default_factory=list)
    #: When mutmut last wrote this module's verdicts (modules may be run one by one).
    run_at: str = ""
    #: The source exists, though mutmut may not have made its mutants yet.
    in_code: bool = False

    @property
    def equivalent(self) -> int:
        return sum(1 for s in self.survivors if s.why)

    @property
    def gaps(self) -> list[Survivor]:
        return [s for s in self.survivors if not s.why]

    @property
    def run(self) -> bool:
        return self.present and self.not_run < self.total

    def score(self) -> float | None:
        judged = self.killed + len(self.gaps) + self.no_tests + len(self.other)
        return None if not judged else 100 * self.killed / judged


def mutated_lines(diff: str) -> str:
    """The diff's added lines, stripped: what identifies a mutation across renumbering."""
    return "\n".join(line[1:].strip() for line in changed_lines(diff) if line[:1] == "+")


def changed_lines(diff: str) -> list[str]:
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def function_of(mutant: str) -> str:
    return mutant.rsplit("__mutmut_", 1)[0]


def load_equivalents() -> dict[tuple[str, str], str]:
    reasons = {}
    for path in sorted(EQUIVALENTS.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for e in data.get("equivalent", []):
            reasons[(e["function"], e["mutation"].strip())] = e["why"]
    return reasons


def collect(mutants_dir: Path) -> list[ModuleResult]:
    # mutmut's own diff, in process: `mutmut show` per survivor costs seconds each.
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    equivalents = load_equivalents()
    results = []
    for mod in modules():
        module = mod.name
        result = ModuleResult(mod.label, module, in_code=(PYPROJECT.parent / mod.path).is_file())
        meta = mutants_dir / (mod.path + ".meta")
        if meta.exists():
            result.present = True
            result.run_at = _utc(meta.stat().st_mtime)
            codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
            for name, code in sorted(codes.items(), key=lambda item: _natural(item[0])):
                if not fnmatch(name, mod.mutants):
                    continue
                result.total += 1
                if code is None:
                    result.not_run += 1
                    result.unsettled.append(name)
                elif code in KILLED:
                    result.killed += 1
                elif code in NO_TESTS:
                    result.no_tests += 1
                    result.unsettled.append(name)
                elif code in SURVIVED:
                    diff = get_diff_for_mutant(name, path=Path(mod.path))
                    why = equivalents.get((function_of(name), mutated_lines(diff)))
                    result.survivors.append(Survivor(name, diff, why))
                else:
                    result.other.append(f"{name}: exit code {code}")
        results.append(result)
    return results


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")


def provenance(root: Path = PYPROJECT.parent) -> str:
    """Which tree the table is of: the commit, and whether uncommitted changes were in it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "mockserver", "tests"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    tree = f"commit {commit}" if commit else "a tree outside git"
    if dirty:
        tree += " plus uncommitted changes to mockserver/ or tests/"
    return f"Written {_utc(datetime.now(UTC).timestamp())} UTC from {tree}."


def _natural(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("__mutmut_")
    return function, int(number) if number.isdigit() else 0


def stale_equivalents(
    results: list[ModuleResult], equivalents: dict[tuple[str, str], str]
) -> list[tuple[str, str]]:
    """Entries for a module run in full that no survivor matched: a reason kept for a mutant
    that no longer exists could one day excuse a real gap with the same text, so prune them."""
    matched = {(function_of(s.name), mutated_lines(s.diff)) for r in results for s in r.survivors}
    complete = [r.module for r in results if r.run and not r.not_run and r.module]
    return [
        key
        for key in equivalents
        if key not in matched and any(key[0].startswith(f"{m}.") for m in complete)
    ]


def render(
    results: list[ModuleResult], stale: list[tuple[str, str]] = (), written: str = ""
) -> str:
    lines = [
        GENERATED,
        "",
        "## Scores",
        "",
        *([written, ""] if written else []),
        "Score = killed / (mutants run − equivalent survivors). A timeout counts as killed.",
        "Run (UTC): when mutmut last wrote the module's verdicts.",
        "",
        "| module | mutants | killed | equivalent | gaps | no tests | score | run (UTC) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if not r.present and r.in_code:
            lines.append(f"| `{r.label}` | — | — | — | — | — | **not run** | — |")
        elif not r.present:
            lines.append(f"| `{r.label}` | — | — | — | — | — | not in the code yet | — |")
        elif not r.total:
            # Only constants and annotations: mutmut makes no mutant of them.
            lines.append(f"| `{r.label}` | 0 | — | — | — | — | no mutants to make | — |")
        elif not r.run:
            lines.append(f"| `{r.label}` | {r.total} | — | — | — | — | **not run** | — |")
        else:
            score = r.score()
            shown = "—" if score is None else f"{score:.1f} %"
            if r.not_run:
                shown += f" ({r.not_run} of {r.total} not run)"
            lines.append(
                f"| `{r.label}` | {r.total} | {r.killed} | {r.equivalent} | {len(r.gaps)}"
                f" | {r.no_tests} | {shown} | {r.run_at or '—'} |"
            )
    for r in results:
        if not r.run or not (r.survivors or r.other):
            continue
        lines += ["", f"## Survivors in `{r.label}`", ""]
        for s in r.survivors:
            verdict = f"**equivalent**: {s.why}" if s.why else "**GAP**: no test notices this"
            lines += [f"- `{s.name}` — {verdict}", "", "  ```diff"]
            lines += [f"  {line}" for line in changed_lines(s.diff)]
            lines += ["  ```"]
        lines += [f"- {o} (neither killed nor survived: look at it)" for o in r.other]
    if stale:
        lines += ["", "## Equivalent entries no survivor matched (prune them)", ""]
        lines += [
            f"- `{function}`: `{mutation or '(lines removed)'}`" for function, mutation in stale
        ]
    return "\n".join(lines) + "\n"


def write(doc: Path, generated: str) -> None:
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    head = text.split(GENERATED, 1)[0].rstrip()
    doc.write_text((head + "\n\n" if head else "") + generated, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", default="mutants", type=Path)
    parser.add_argument("--write", type=Path, help="the document to update, e.g. docs/MUTATION.md")
    parser.add_argument(
        "--pending",
        action="store_true",
        help="only print the mutants worth running again: gaps, not run, reached by no test",
    )
    parser.add_argument(
        "--patterns",
        action="store_true",
        help="only print the mutmut run arguments that select every counted mutant",
    )
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        help="with --pending or --patterns: only modules whose path matches (a glob; repeatable)",
    )
    args = parser.parse_args(argv)
    if args.patterns:
        chosen = [module for module in modules() if _chosen(module.path, args.module)]
        print(" ".join(shlex.quote(module.mutants) for module in chosen))
        return 0
    results = collect(args.mutants)
    if args.pending:
        chosen = [r for r in results if _chosen(r.label, args.module)]
        pending = [name for r in chosen for name in (*(s.name for s in r.gaps), *r.unsettled)]
        print("\n".join(pending))
        return 0
    generated = render(
        results, stale_equivalents(results, load_equivalents()), provenance() if args.write else ""
    )
    if args.write:
        write(args.write, generated)
    print(generated)
    return 1 if any(r.run and r.gaps for r in results) else 0


def _chosen(path: str, globs: list[str]) -> bool:
    return not globs or any(fnmatch(path.split(" ", 1)[0], glob) for glob in globs)


if __name__ == "__main__":
    raise SystemExit(main())
