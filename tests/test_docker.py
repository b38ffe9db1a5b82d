"""docker/: no Docker engine runs here, so check what can be checked without one.

The files name paths that exist in the build context, the compose file's
commands parse as ``nbmock`` command lines, and the image's own command line,
run directly, serves and passes its own HEALTHCHECK.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import requests
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


def test_image_installs_the_kit_extra_that_nbmock_verify_needs():
    import tomllib

    (install,) = [rest for keyword, rest in dockerfile_instructions() if "pip install" in rest]
    extras = re.search(r"pip install '?\.\[([a-z,]+)\]'?", install)
    assert extras, install
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    wanted = set(extras.group(1).split(","))
    assert wanted <= set(declared)
    brought = {
        re.split(r"[<>=~! \[]", requirement)[0]
        for extra in wanted
        for requirement in declared[extra]
    }
    assert {"pytest", "hypothesis", "schemathesis"} <= brought


def test_image_copies_what_the_package_links_to():
    """The package's links (the ledger, the OpenAPI contract) resolve inside the image's /src."""
    copied = {
        arguments.split()[-1].removeprefix("./")
        for keyword, arguments in dockerfile_instructions()
        if keyword == "COPY"
    }
    links = [
        path
        for package in ("mockserver", "contracts")
        for path in (REPO / package).rglob("*")
        if path.is_symlink()
    ]
    assert links
    for link in links:
        target = (link.parent / os.readlink(link)).resolve().relative_to(REPO)
        assert str(target) in copied or target.parts[0] in copied, link


def test_compose_verify_command_passes_against_the_image_command(tmp_path):
    """What `docker compose up --exit-code-from verify` runs, without the engine: exit 0."""
    command = json.loads(instruction("CMD"))
    port = free_port()
    arguments = ["127.0.0.1" if value == "0.0.0.0" else value for value in command[1:]]
    arguments[arguments.index("--port") + 1] = str(port)
    arguments[arguments.index("--state") + 1] = str(tmp_path / "state.sqlite3")
    server = NbmockProcess(*arguments, port=port)
    verify = compose()["services"]["verify"]
    argv = [
        server.base if value.startswith("http://nbmock:8080/") else value
        for value in verify["command"]
    ]
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ARCGIS_", "NBMOCK_"))},
        **verify["environment"],
    }
    try:
        # Fewer examples and no pause than the service's defaults: the same checks, sooner.
        result = subprocess.run(
            [sys.executable, "-m", "mockserver", *argv, "--pause", "0", "--max-examples", "2"],
            capture_output=True, text=True, timeout=600, env=environment,
        )  # fmt: skip
    finally:
        server.stop()
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_profile_override_mounts_the_profile_where_the_image_reads_it(tmp_path):
    """compose.profile.yaml: the image command, given NBMOCK_PROFILE as the override sets
    it and the file the mount puts there, serves the profile and health names it."""
    override = yaml.safe_load((DOCKER / "compose.profile.yaml").read_text())["services"]["nbmock"]
    (mount,) = override["volumes"]
    assert mount["read_only"] is True
    assert "${NBMOCK_PROFILE_FILE:?" in mount["source"]
    assert override["environment"]["NBMOCK_PROFILE"] == mount["target"]
    command = json.loads(instruction("CMD"))
    port = free_port()
    arguments = ["127.0.0.1" if value == "0.0.0.0" else value for value in command[1:]]
    arguments[arguments.index("--port") + 1] = str(port)
    arguments[arguments.index("--state") + 1] = str(tmp_path / "state.sqlite3")
    foreign = REPO / "tests" / "data" / "foreign-deployment.json"
    server = NbmockProcess(
        *arguments, port=port, ready_path="/__mock__/health", env={"NBMOCK_PROFILE": str(foreign)}
    )
    try:
        health = requests.get(f"{server.origin}/__mock__/health", timeout=10).json()
    finally:
        server.stop()
    assert health["profile"]["name"] == json.loads(foreign.read_text())["name"]
