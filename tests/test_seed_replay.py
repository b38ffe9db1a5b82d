"""The seed's example request, sent byte for byte to ``nbmock serve``, gets the seed's answer.

The seed is the example of Esri's copy-runtime page, kept in tests/data. Its request is
rebuilt onto the wire exactly as a browser sends it (CRLFs, the WebKit
boundary, parts in the page's order); only the context, host, length and
token placeholders are filled in. Ids, revision and generated values aside,
the answer must match the page's: keys in the same order, 1.0 written as 1.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid

import pytest

from tests.conftest import DATA

SEED = DATA / "seed-copy-notebook-runtime.txt"
GENERATED = {"id", "deploymentDefaultPropertyId", "revision"}


def seed_example() -> tuple[list[str], list[tuple[str, str]], str, str]:
    """(request head lines, form parts, boundary, JSON response text) from the seed page."""
    text = SEED.read_text()
    request_text = text[text.index("POST /<context>") : text.index("JSON Response example")]
    response_text = text[text.index("JSON Response example") + len("JSON Response example") :]
    lines = request_text.splitlines()
    head = lines[:4]
    boundary = head[2].split("boundary=", 1)[1]
    parts = []
    body_lines = lines[4:]
    i = 0
    while i < len(body_lines):
        line = body_lines[i]
        if line.startswith("--" + boundary) and not line.startswith("--" + boundary + "--"):
            name = re.search(r'name="([^"]+)"', body_lines[i + 1]).group(1)
            parts.append((name, body_lines[i + 2]))
            i += 3
        else:
            i += 1
    return head, parts, boundary, response_text.strip()


def wire_request(host: str, token: str) -> bytes:
    head, parts, boundary, _ = seed_example()
    body = b""
    for name, value in parts:
        value = token if value == "<ACCESS_TOKEN>" else value
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    body += f"--{boundary}--\r\n".encode()
    request_line = head[0].replace("<context>", "arcgis")
    headers = [
        request_line,
        f"Host: {host}",
        head[2],
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def exchange(port: int, raw: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    return status_line, headers, body


def ordered(text: str):
    """JSON as nested (key, value) lists: key order kept, 1 and 1.0 told apart on dumping."""
    return json.loads(text, object_pairs_hook=lambda pairs: [list(p) for p in pairs])


def without_generated(pairs):
    return [[k, "<generated>" if k in GENERATED else v] for k, v in pairs]


def test_seed_parts_are_the_ones_the_page_lists():
    _, parts, boundary, _ = seed_example()
    assert boundary == "----WebKitFormBoundaryL5YRj9mNg555VaiA"
    assert [name for name, _ in parts] == [
        "name", "version", "minCpu", "maxCpu", "minMemory", "minMemoryUnit", "maxMemory",
        "maxMemoryUnit", "maxSwapMemory", "maxSwapMemoryUnit", "sharedMemorySize",
        "sharedMemorySizeUnit", "customResources", "podPlacementPolicy", "f", "token",
    ]  # fmt: skip


def test_seed_request_gets_seed_response_from_served_emulator(served):
    token = served.token()
    before_ms = int(time.time() * 1000)
    status, headers, body = exchange(served.port, wire_request(f"127.0.0.1:{served.port}", token))
    assert status.startswith("HTTP/1.1 200"), status
    assert headers["content-type"] == "text/plain;charset=UTF-8"  # [capture] W11
    # f=pjson: indented JSON.
    assert body.startswith(b"{\n  ")

    _, _, _, expected_text = seed_example()
    got, expected = ordered(body.decode()), ordered(expected_text)
    assert [k for k, _ in got] == [k for k, _ in expected] == ["notebookRuntime", "status"]
    got_runtime, expected_runtime = got[0][1], expected[0][1]
    assert json.dumps(without_generated(got_runtime)) == json.dumps(
        without_generated(expected_runtime)
    )
    generated = dict(got_runtime)
    assert uuid.UUID(generated["id"]).version == 4
    assert re.fullmatch(r"p[a-z0-9]{20}", generated["deploymentDefaultPropertyId"])
    assert isinstance(generated["revision"], int)
    assert before_ms <= generated["revision"] <= int(time.time() * 1000) + 1000


@pytest.mark.parametrize("where", ["form", "X-Esri-Authorization", "Authorization"])
def test_seed_copy_is_then_listed_by_the_served_emulator(served, where):
    import requests

    from tests.conftest import SEED_COPY, STANDARD_ID

    token = served.token()
    form = {**SEED_COPY, "f": "json"}
    headers = {}
    if where == "form":
        form["token"] = token
    else:
        headers[where] = f"Bearer {token}"
    copied = requests.post(
        f"{served.base}/admin/notebooks/runtimes/{STANDARD_ID}/copy",
        files={k: (None, v) for k, v in form.items()},
        headers=headers,
        timeout=10,
    ).json()["notebookRuntime"]
    listed = requests.get(
        f"{served.base}/admin/notebooks/runtimes",
        params={"f": "json", "token": token},
        timeout=10,
    ).json()
    assert copied in listed["runtimes"]
    assert listed["currentRuntimeVersion"] == "14.0"


def test_the_projects_seed_form_is_the_pages_example():
    """tests/, bench/ and the kit read the seed form from contracts/snapshots: it must be the page's."""
    from tests.conftest import SEED_COPY

    _, parts, _, _ = seed_example()
    assert list(SEED_COPY.items()) == [(k, v) for k, v in parts if k not in ("f", "token")]
