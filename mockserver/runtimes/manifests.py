"""Runtime manifests (the libraries a runtime ships), read from manifests.json."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from mockserver.runtimes.releases import ADVANCED_ID


@cache
def _data() -> dict:
    return json.loads(resources.files(__package__).joinpath("manifests.json").read_text())


def _library(name, version, build_string, channel, build_number, platform) -> dict:
    return {
        "name": name,
        "version": version,
        "build_string": build_string,
        "dist_name": f"{name}-{version}-{build_string}",
        "channel": channel,
        "build_number": build_number,
        "base_url": f"https://conda.anaconda.org/{channel}",
        "platform": platform,
    }


def manifest_for(system_runtime_id: str) -> dict:
    """The manifest of a system runtime; a copy reports its source's [inferred]."""
    rows = _data()["standard"]
    if system_runtime_id == ADVANCED_ID:
        rows = rows + _data()["advanced_extra"]
    return {"libraries": [_library(*row) for row in rows]}
