"""docker/: no Docker engine runs here, so check what can be checked without one.

The files name paths that exist in the build context, the compose file's
commands parse as ``nbmock`` command lines, and the image's own command line,
run directly, serves and passes its own HEALTHCHECK.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from mockserver.cli import main
from tests.conftest import REPO, free_port
from tests.nbmock_process import NbmockProcess

DOCKER = REPO / "docker"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    text = re.sub(r"\\\n\s*", " ", (DOCKER / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def instruction(name: str) -> str:
    (value,) = [rest for keyword, rest in dockerfile_instructions() if keyword == name]
    return value


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_dockerfile_copies_paths_that_exist_in_the_build_context():
    context = (DOCKER / compose()["services"]["nbmock"]["build"]["context"]).resolve()
    assert context == REPO
    assert (context / compose()["services"]["nbmock"]["build"]["dockerfile"]).is_file()
    copies = [rest for keyword, rest in dockerfile_instructions() if keyword == "COPY"]
    assert copies
    for arguments in copies:
        *sources, _destination = arguments.split()
        for source in sources:
            assert (context / source).exists(), source


def test_image_runs_slim_python_as_a_non_root_user_with_state_on_a_volume():
    assert re.fullmatch(r"python:3\.\d+-slim", instruction("FROM"))
    assert instruction("USER") not in {"root", "0"}
    command = json.loads(instruction("CMD"))
    assert json.loads(instruction("VOLUME")) == ["/data"]
    assert command[command.index("--state") + 1].startswith("/data/")
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_compose_verify_service_runs_a_valid_nbmock_verify_against_the_emulator():
    services = compose()["services"]
    verify = services["verify"]
    assert verify["depends_on"]["nbmock"]["condition"] == "service_healthy"
    assert verify["image"] == services["nbmock"]["image"]
    command = verify["command"]
    assert command[0] == "verify"
    assert command[command.index("--target") + 1].startswith("http://nbmock:8080/")
    with pytest.raises(SystemExit) as parsed:
        main([*command, "--help"])
    assert parsed.value.code == 0


def test_image_command_run_directly_serves_and_passes_its_healthcheck(tmp_path):
    entrypoint = json.loads(instruction("ENTRYPOINT"))
    command = json.loads(instruction("CMD"))
    assert entrypoint == ["nbmock"]
    # Only loopback here: 0.0.0.0 becomes 127.0.0.1, and the port and state are ours.
    port = free_port()
    arguments = ["127.0.0.1" if value == "0.0.0.0" else value for value in command[1:]]
    arguments[arguments.index("--port") + 1] = str(port)
    arguments[arguments.index("--state") + 1] = str(tmp_path / "state.sqlite3")
    healthcheck = json.loads(instruction("HEALTHCHECK").split(" CMD ", 1)[1])
    assert healthcheck[0] == "python"
    probe = [sys.executable, *[part.replace(":8080/", f":{port}/") for part in healthcheck[1:]]]

    # The image's arguments as given, with its --port already rewritten to ours.
    server = NbmockProcess(*arguments, port=port, ready_path="/__mock__/health")
    try:
        assert subprocess.run(probe, timeout=30).returncode == 0
    finally:
        server.stop()
    assert subprocess.run(probe, timeout=30, capture_output=True).returncode != 0
    assert (tmp_path / "state.sqlite3").exists()
