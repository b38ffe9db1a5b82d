"""Secrets: after a run, no issued token or password in any log, journal or report.

A secret counts as found in any of the forms it could be written in: as is,
URL-encoded (a query string or form body) or JSON-escaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus


@dataclass
class SecretsReport:
    secrets: int = 0
    files: int = 0
    bytes_scanned: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.findings


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def scan(
    paths: list[Path], secrets: list[str], *, extra: dict[str, str] | None = None
) -> SecretsReport:
    """Look for every secret in every file under ``paths`` and in ``extra`` texts (name -> text).

    Findings name the file and which secret (by its position), never the secret itself.
    """
    wanted = [(i, form) for i, secret in enumerate(secrets) if secret for form in _forms(secret)]
    report = SecretsReport(secrets=len([s for s in secrets if s]))
    texts: list[tuple[str, str]] = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            texts.append((str(path), path.read_bytes().decode("utf-8", "replace")))
    texts += list((extra or {}).items())
    for name, text in texts:
        report.files += 1
        report.bytes_scanned += len(text)
        hits = sorted({i for i, form in wanted if form in text})
        for i in hits:
            report.findings.append(f"secret #{i} found in {name}")
    return report
