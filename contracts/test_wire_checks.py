"""Wire conventions and reads (ledger W6-W9, R1, R2, R5, S2): safe on any server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from contracts import calls
from contracts.expectations import RUNTIME_KEYS
from contracts.target import Target


def test_error_envelopes_use_http_200(target: Target) -> None:
    """W6: errors travel in their envelope with HTTP 200."""
    replies = [
        target.admin("GET", f"{calls.RUNTIMES}/{target.made_up_id()}"),
        target.admin("GET", calls.RUNTIMES, token=None),
        target.admin("GET", calls.RUNTIMES, token="not-a-token"),
    ]
    for reply in replies:
        assert reply.envelope == "admin-error", reply
        assert reply.status == 200, reply


def test_unknown_format_is_refused(target: Target) -> None:
    """W7: an unknown ``f`` is refused with code 400, written as JSON."""
    reply = target.admin("GET", calls.RUNTIMES, params={"f": "xml"})
    calls.assert_refused(reply, 400)


def test_unknown_operation_is_404(target: Target, source_runtime: dict) -> None:
    """W8: ArcGIS Server's wording for an unknown operation."""
    reply = target.admin("GET", f"{calls.RUNTIMES}/{source_runtime['id']}/frobnicate")
    calls.assert_refused(reply, 404)
    assert reply.messages == ["Could not find resource or operation 'frobnicate' on the system."]


def test_path_outside_the_apis_is_404(target: Target) -> None:
    """W8a: a path under the web context that neither the admin nor the sharing API
    serves answers HTTP 404, in the admin envelope for ``f=json``, naming the path."""
    path = f"nbmock-kit-{target.made_up_id()}"
    reply = target.request("GET", path, token=None)
    assert reply.status == 404, reply
    calls.assert_refused(reply, 404)
    sent = f"{urlsplit(target.base_url).path}/{path}"
    assert reply.messages == [f"Could not find resource or operation '{sent}' on the system."]


@pytest.mark.flavour("kubernetes")
def test_get_on_post_operation_is_refused(target: Target, source_runtime: dict) -> None:
    """W9: GET on copy is refused with code 405 in the admin envelope."""
    reply = target.admin("GET", f"{calls.RUNTIMES}/{source_runtime['id']}/copy")
    calls.assert_refused(reply, 405)


def test_reads_answer_post(target: Target, source_runtime: dict) -> None:
    """W9: a read answers POST, token in the body, as it answers GET (Esri's JS client posts)."""
    for path in ("", "notebooks", calls.RUNTIMES, f"{calls.RUNTIMES}/{source_runtime['id']}"):
        by_get = target.admin("GET", path)
        by_post = target.admin("POST", path)
        assert by_post.status == 200, by_post
        assert by_post.envelope == by_get.envelope != "admin-error", by_post
        assert by_post.json == by_get.json, by_post


def test_list_has_current_version_and_runtimes(target: Target) -> None:
    """R1: the listing carries ``currentRuntimeVersion`` and ``runtimes``."""
    body = target.admin("GET", calls.RUNTIMES).json
    assert list(body) == ["currentRuntimeVersion", "runtimes"], body
    assert isinstance(body["currentRuntimeVersion"], str) and body["currentRuntimeVersion"]
    assert isinstance(body["runtimes"], list) and body["runtimes"]


@pytest.mark.flavour("kubernetes")
def test_runtime_keys_match_seed(target: Target) -> None:
    """R2: listed and read runtimes have exactly the seed's keys in the seed's order."""
    listed = target.runtimes()
    for runtime in listed:
        assert tuple(runtime) == RUNTIME_KEYS, runtime
    for runtime in listed[:3]:
        read = calls.read(target, runtime["id"]).json
        assert tuple(read) == RUNTIME_KEYS, read


def test_system_runtimes_include_standard_and_advanced(target: Target) -> None:
    """R3: every deployment ships a Standard and an Advanced runtime, the latter needing advanced privileges."""
    systems = {runtime["name"]: runtime for runtime in target.system_runtimes()}
    assert "ArcGIS Notebook Python 3 Standard" in systems, sorted(systems)
    assert "ArcGIS Notebook Python 3 Advanced" in systems, sorted(systems)
    assert systems["ArcGIS Notebook Python 3 Advanced"]["requiresAdvancedPrivileges"] is True
    assert systems["ArcGIS Notebook Python 3 Standard"]["requiresAdvancedPrivileges"] is False


def test_unknown_runtime_is_404(target: Target) -> None:
    """R5: a runtime id that does not exist is refused with code 404."""
    runtime_id = target.made_up_id()
    reply = calls.read(target, runtime_id)
    calls.assert_refused(reply, 404)


@pytest.mark.flavour("kubernetes")
def test_list_order_is_creation_order(writable: Target, source_runtime: dict) -> None:
    """S2: system runtimes first, then copies in the order they were made."""
    made = []
    for n in range(3):
        form = {
            "name": writable.name(f"order-{n}"),
            "minCpu": "0.5",
            "maxCpu": "1",
            "minMemory": "1",
            "minMemoryUnit": "g",
            "maxMemory": "2",
            "maxMemoryUnit": "g",
        }
        made.append(calls.copied_runtime(calls.copy(writable, source_runtime["id"], form))["id"])
    listed = writable.runtimes()
    ids = [runtime["id"] for runtime in listed]
    assert [i for i in ids if i in made] == made
    copied_flags = [runtime["copied"] for runtime in listed]
    assert copied_flags == sorted(copied_flags), "a system runtime is listed after a copy"
    for runtime_id in made:
        calls.unregister(writable, runtime_id)


def test_oversized_body_is_refused(target: Target) -> None:
    """S4: a body over the limit (1 MiB in the emulator) gets HTTP 413 in the admin envelope."""
    runtime_id = target.made_up_id()
    reply = target.admin(
        "POST",
        f"{calls.RUNTIMES}/{runtime_id}/unregister",
        data={"padding": "x" * (1024 * 1024 + 1)},
        token_in="header",
        refusal_expected=True,
    )
    assert reply.status == 413, reply
    calls.assert_refused(reply, 413)


def test_malformed_multipart_is_400(target: Target) -> None:
    """S5: a multipart body that does not parse is refused with code 400."""
    runtime_id = target.made_up_id()
    reply = target.admin(
        "POST",
        f"{calls.RUNTIMES}/{runtime_id}/unregister",
        headers={"Content-Type": "multipart/form-data; boundary=kit"},
        raw_body=b'--kit\r\nContent-Disposition: form-data; name="f"\r\n\r\njson\r\n--kit',
        token_in="header",
        refusal_expected=True,
    )
    calls.assert_refused(reply, 400)
    assert reply.messages == ["Malformed multipart/form-data body."], reply


def test_parameters_not_utf8_refused(target: Target, source_runtime: dict) -> None:
    """W12: a parameter that is not UTF-8 is refused with code 400, and nothing is made.

    The name carries the run's prefix, so a server that accepts it anyway
    leaves a copy the run's cleanup finds and removes.
    """
    before = target.runtimes()
    name = target.name("caf").encode() + b"%E9"
    reply = target.admin(
        "POST",
        f"{calls.RUNTIMES}/{source_runtime['id']}/copy",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        raw_body=b"name="
        + name
        + b"&minCpu=1&maxCpu=2&minMemory=1&minMemoryUnit=g&maxMemory=2&maxMemoryUnit=g&f=json",
        token_in="header",
        refusal_expected=True,
    )
    calls.assert_refused(reply, 400)
    assert reply.messages == ["Request parameters must be UTF-8 encoded."], reply
    assert target.runtimes() == before


def test_json_answers_are_labelled_text_plain(target: Target) -> None:
    """W11: JSON answers, error envelopes and generateToken say ``text/plain;charset=UTF-8``."""
    replies = [
        target.admin("GET", calls.RUNTIMES),
        target.admin("GET", calls.RUNTIMES, params={"f": "pjson"}),
        target.admin("GET", f"{calls.RUNTIMES}/{target.made_up_id()}"),
        target.portal("GET", "community/self"),
    ]
    for reply in replies:
        assert reply.headers.get("Content-Type") == "text/plain;charset=UTF-8", reply
