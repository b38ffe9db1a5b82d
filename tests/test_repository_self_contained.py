"""The repository stands on its own: no tracked file reaches outside it.

A clone into an empty folder has nothing beside it, so a test, a document or
a build file that reads a sibling folder of the checkout, or a path on one
developer's machine, works only there. Each such reference is reported with
its file and line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

#: Chains of parent steps and what follows: each must name something inside the repository,
#: read from the file's own folder (a link from docs/ up to README.md is fine).
RELATIVE = re.compile(r"(?:\.\./)+[\w./-]*")
#: Absolute paths of the machines this project was written on, and the checkout's parent.
OUTSIDE = re.compile(r"(?<![\w.:/-])/(?:work|root)/|REPO\.parent\b")
SKIPPED_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache"}


def tracked_files(root: Path) -> list[Path]:
    """Files under version control, or every file when ``root`` is not a git checkout."""
    if (root / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True, timeout=60
        ).stdout.decode()
        return [root / name for name in listed.split("\0") if name]
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(root).parts)
    ]


def outside_references(root: Path) -> list[str]:
    """``file:line: reference`` for each tracked text file's reference outside ``root``."""
    found = []
    for path in tracked_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary, or deleted in the work tree
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(root)}:{number}"
            for match in OUTSIDE.finditer(line):
                found.append(f"{where}: {match.group(0)}")
            for match in RELATIVE.finditer(line):
                if not _names_something_inside(path.parent / match.group(0), root):
                    found.append(f"{where}: {match.group(0)}")
    return found


def _names_something_inside(reference: Path, root: Path) -> bool:
    resolved = reference.resolve()
    return resolved.is_relative_to(root.resolve()) and resolved.exists()


def test_no_tracked_file_refers_outside_the_repository():
    assert outside_references(REPO) == []


def test_a_reference_outside_is_reported_with_its_line(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# A project\n")
    # Written in pieces, so that this file does not itself refer outside.
    up, machine, parent = "..", "/".join(["", "work", ""]), ".".join(["REPO", "parent"])
    neighbour = "/".join(["shared", "notes"])  # a folder beside the clone, as a user has none
    (tmp_path / "docs" / "notes.md").write_text(
        f"See [the API]({up}/README.md).\n"  # inside: docs/../README.md
        f"Kept in `{up}/{neighbour}/page.txt`.\n"
        f"Copied from {machine}{neighbour}.\n"
    )
    (tmp_path / "conftest.py").write_text(f'SEED = {parent} / "{neighbour}"\n')
    assert sorted(outside_references(tmp_path)) == [
        f"conftest.py:1: {parent}",
        f"docs/notes.md:2: {up}/{neighbour}/page.txt",
        f"docs/notes.md:3: {machine}",
    ]


def test_the_seed_example_is_in_the_repository():
    seed = REPO / "tests" / "data" / "seed-copy-notebook-runtime.txt"
    text = seed.read_text()
    assert "POST /<context>/admin/notebooks/runtimes/" in text
    assert '"revision": 1778498325187' in text
    assert "copy-notebook-runtime" in (seed.parent / "README.md").read_text()
