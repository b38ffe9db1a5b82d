"""``make mutation``'s report (bench/mutation.py): what it counts and what it refuses to hide."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch

from bench import mutation
from bench.mutation import ModuleResult, Survivor

DIFF = "--- a\n+++ b\n-    if minutes <= 0:\n+    if minutes < 0:\n"


def test_every_equivalent_entry_names_a_mutated_function_its_mutation_and_a_reason():
    files = sorted(mutation.EQUIVALENTS.glob("*.toml"))
    assert files, "bench/mutation_equivalents/ holds one file per module"
    seen = set()
    for path in files:
        for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("equivalent", []):
            assert set(entry) == {"function", "mutation", "why"}, path.name
            assert entry["function"].startswith("mockserver."), path.name
            # An empty mutation is a mutant that only removes lines (a dropped argument).
            assert entry["why"].strip(), path.name
            key = (entry["function"], entry["mutation"].strip())
            assert key not in seen, f"{path.name}: {key} listed twice"
            seen.add(key)
    assert len(mutation.load_equivalents()) == len(seen)


def test_a_survivor_is_matched_by_its_added_lines_whatever_its_number():
    assert mutation.mutated_lines(DIFF) == "if minutes < 0:"
    assert mutation.function_of("mockserver.auth.tokens.x_f__mutmut_12") == (
        "mockserver.auth.tokens.x_f"
    )


def test_the_score_leaves_equivalents_out_and_counts_gaps_and_untested_mutants_against():
    result = ModuleResult("m.py", present=True, total=10, killed=6, no_tests=1)
    result.survivors = [Survivor("a", DIFF, "same answer"), Survivor("b", DIFF, None)]
    result.survivors.append(Survivor("c", DIFF, None))
    # 6 killed of 9 judged: the equivalent one is left out, the 2 gaps and 1 untested count.
    assert result.score() == 100 * 6 / 9
    assert [s.name for s in result.gaps] == ["b", "c"]


def test_the_report_names_every_gap_with_its_diff_and_a_module_not_run_as_such():
    gap = ModuleResult("m.py", present=True, total=2, killed=1, run_at="2026-12-07 12:00")
    gap.survivors = [Survivor("m.x_f__mutmut_2", DIFF, None)]
    absent = ModuleResult("n.py")
    unrun = ModuleResult("o.py", present=True, total=3, not_run=3)
    data = ModuleResult("p.py", present=True)
    never_made = ModuleResult("q.py", in_code=True)
    text = mutation.render([gap, absent, unrun, data, never_made])
    assert "| `m.py` | 2 | 1 | 0 | 1 | 0 | 50.0 % | 2026-12-07 12:00 |" in text
    assert "`m.x_f__mutmut_2` — **GAP**" in text and "+    if minutes < 0:" in text
    assert "| `n.py` | — | — | — | — | — | not in the code yet | — |" in text
    assert "| `o.py` | 3 | — | — | — | — | **not run** | — |" in text
    assert "| `p.py` | 0 | — | — | — | — | no mutants to make | — |" in text
    assert "| `q.py` | — | — | — | — | — | **not run** | — |" in text


def test_the_table_says_which_commit_it_is_of():
    written = mutation.provenance()
    assert written.startswith("Written ") and " UTC from commit " in written
    assert written in mutation.render([], written=written)


def test_an_equivalent_entry_no_survivor_matches_is_reported_stale_once_its_module_ran_whole():
    ran = ModuleResult("m.py", "m", present=True, total=2, killed=1)
    ran.survivors = [Survivor("m.x_f__mutmut_2", DIFF, "same answer")]
    partial = ModuleResult("n.py", "n", present=True, total=2, killed=1, not_run=1)
    reasons = {
        ("m.x_f", "if minutes < 0:"): "still matched",
        ("m.x_g", "return None"): "its mutant is gone",
        ("n.x_h", "return None"): "its module was not run whole",
    }
    stale = mutation.stale_equivalents([ran, partial], reasons)
    assert stale == [("m.x_g", "return None")]
    assert "`m.x_g`: `return None`" in mutation.render([ran, partial], stale)


def test_every_mutated_module_exists_and_selects_only_its_own_mutants():
    listed = mutation.modules()
    assert len({module.path for module in listed}) == len(listed)
    for module in listed:
        assert (mutation.PYPROJECT.parent / module.path).is_file(), (
            f"{module.path} is in [tool.mutmut] only_mutate but not in the code: moved?"
        )
    names = {module.path: module for module in listed}
    package = names["mockserver/sandboxes/__init__.py"]
    assert package.name == "mockserver.sandboxes"
    assert fnmatch(f"{package.name}.x_create__mutmut_1", package.mutants)
    assert not fnmatch("mockserver.sandboxes.store.x_create__mutmut_1", package.mutants)
    assert names["mockserver/runtimes/store.py"].label == "mockserver/runtimes/store.py (revisions)"
