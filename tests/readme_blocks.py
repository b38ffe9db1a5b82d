"""README.md's code blocks, as tests/test_readme.py and tests/test_packaging.py run them.

A block is run unless the line just before it says otherwise:
``<!-- readme-test: skip: <reason> -->`` (it cannot run here: Docker, a real
Enterprise, a shared host), or ``<!-- readme-test: packaging -->`` (it installs
the package, so ``make test-packaging`` runs it in a fresh environment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.conftest import REPO

README = REPO / "README.md"
MARKER = re.compile(
    r"<!--\s*readme-test:\s*(skip:\s*(?P<reason>.+?)|(?P<packaging>packaging))\s*-->"
)
FENCE = re.compile(r"^```(\w*)\s*$")
HEADING = re.compile(r"^#{2,3} (.+)$")
PACKAGING_REASON = "installs the package: `make test-packaging` runs it in a fresh environment"


@dataclass
class Block:
    section: str
    language: str
    code: str
    line: int
    skip: str | None
    packaging: bool = False


def readme_blocks(text: str | None = None) -> list[Block]:
    text = README.read_text() if text is None else text
    blocks: list[Block] = []
    section, language, start = "", None, 0
    marker = taken = None
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if language is None:
            if heading := HEADING.match(line):
                section = heading.group(1)
            if found := MARKER.search(line):
                marker = found
            elif fence:
                language, start, lines = fence.group(1), number, []
                taken, marker = marker, None
            elif line.strip():
                marker = None
        elif fence and not fence.group(1):
            packaging = bool(taken and taken.group("packaging"))
            skip = PACKAGING_REASON if packaging else (taken.group("reason") if taken else None)
            blocks.append(Block(section, language, "\n".join(lines) + "\n", start, skip, packaging))
            language = None
        else:
            lines.append(line)
    return blocks


def packaging_blocks() -> list[Block]:
    return [block for block in readme_blocks() if block.packaging]
