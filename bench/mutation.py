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
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

GENERATED = "<!-- Everything below is written by `make mutation` (bench/mutation.py). -->"
#: One file per mutated module, so that work on two modules never edits the same file.
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents")

#: The modules that hold the rules, and which of their mutants count (issue 16).
MODULES: dict[str, tuple[str, str]] = {
    "mockserver/runtimes/model.py": ("mockserver.runtimes.model", "*"),
    "mockserver/web/wire.py": ("mockserver.web.wire", "*"),
    "mockserver/auth/tokens.py": ("mockserver.auth.tokens", "*"),
    "mockserver/runtimes/store.py (revisions)": (
        "mockserver.runtimes.store",
        "*next_revision__mutmut_*",
    ),
    "mockserver/web/pipeline.py": ("mockserver.web.pipeline", "*"),
}

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
    for label, (module, pattern) in MODULES.items():
        result = ModuleResult(label, module)
        meta = mutants_dir / (module.replace(".", "/") + ".py.meta")
        if meta.exists():
            result.present = True
            codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
            for name, code in sorted(codes.items(), key=lambda item: _natural(item[0])):
                if not fnmatch(name, f"{module}.{pattern}"):
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
                    diff = get_diff_for_mutant(name, path=Path(meta_source(label)))
                    why = equivalents.get((function_of(name), mutated_lines(diff)))
                    result.survivors.append(Survivor(name, diff, why))
                else:
                    result.other.append(f"{name}: exit code {code}")
        results.append(result)
    return results


def meta_source(label: str) -> str:
    return label.split(" ", 1)[0]


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


def render(results: list[ModuleResult], stale: list[tuple[str, str]] = ()) -> str:
    lines = [
        GENERATED,
        "",
        "## Scores",
        "",
        "Score = killed / (mutants run − equivalent survivors). A timeout counts as killed.",
        "",
        "| module | mutants | killed | equivalent | gaps | no tests | score |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if not r.present:
            lines.append(f"| `{r.label}` | — | — | — | — | — | not in the code yet |")
        elif not r.run:
            lines.append(f"| `{r.label}` | {r.total} | — | — | — | — | **not run** |")
        else:
            score = r.score()
            shown = "—" if score is None else f"{score:.1f} %"
            if r.not_run:
                shown += f" ({r.not_run} of {r.total} not run)"
            lines.append(
                f"| `{r.label}` | {r.total} | {r.killed} | {r.equivalent} | {len(r.gaps)}"
                f" | {r.no_tests} | {shown} |"
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
    args = parser.parse_args(argv)
    results = collect(args.mutants)
    if args.pending:
        pending = [name for r in results for name in (*(s.name for s in r.gaps), *r.unsettled)]
        print("\n".join(pending))
        return 0
    generated = render(results, stale_equivalents(results, load_equivalents()))
    if args.write:
        write(args.write, generated)
    print(generated)
    return 1 if any(r.run and r.gaps for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
