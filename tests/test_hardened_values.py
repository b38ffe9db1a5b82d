"""Values that could not be stored or rendered are refused before they are stored (issue 11).

Each test sends what an attacker or a clumsy client sent, and checks what a
user sees: a clear code-400 refusal naming the parameter, and lists and gets
that keep working afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.core.values import NAME_MAX_LENGTH
from mockserver.runtimes.model import JSON_MAX_BYTES, JSON_MAX_DEPTH
from tests.conftest import SEED_COPY, STANDARD_ID

COPY = f"notebooks/runtimes/{STANDARD_ID}/copy"
UPDATE = "notebooks/runtimes/{id}/update"
UPDATE_FORM = {"maxCpu": "2", "maxMemory": "4", "maxMemoryUnit": "g"}


def nested(depth: int) -> str:
    """A JSON object ``depth`` objects deep."""
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


UNSTORABLE_OBJECTS = {
    "lone surrogate value": ('{"k": "\\ud800"}', "not valid Unicode"),
    "lone surrogate key": ('{"\\udfff": 1}', "not valid Unicode"),
    "nested surrogate": ('{"a": [{"b": "x\\ud800y"}]}', "not valid Unicode"),
    "one level too deep": (nested(JSON_MAX_DEPTH + 1), f"deeper than {JSON_MAX_DEPTH}"),
    "recursion depth": (nested(900), f"deeper than {JSON_MAX_DEPTH}"),
    "too large": ('{"a": "' + "x" * JSON_MAX_BYTES + '"}', f"more than {JSON_MAX_BYTES} bytes"),
}


def _all_reads_work(api, token) -> None:
    for fmt in ("json", "pjson", "html"):
        response = api.client.get(
            "/arcgis/admin/notebooks/runtimes", query_string={"f": fmt, "token": token}
        )
        assert response.status_code == 200


@pytest.mark.parametrize("field", ["podPlacementPolicy", "customResources"])
@pytest.mark.parametrize("case", sorted(UNSTORABLE_OBJECTS))
def test_unstorable_json_object_is_refused_by_copy_naming_it(api, token, field, case):
    value, words = UNSTORABLE_OBJECTS[case]
    before = api.runtimes(token)
    answer = api.post(COPY, token, **{**SEED_COPY, field: value})
    assert answer["status"] == "error" and answer["code"] == 400
    (message,) = answer["messages"]
    assert field in message and words in message
    assert api.runtimes(token) == before
    _all_reads_work(api, token)


@pytest.mark.parametrize("field", ["podPlacementPolicy", "customResources"])
@pytest.mark.parametrize("case", sorted(UNSTORABLE_OBJECTS))
def test_unstorable_json_object_is_refused_by_update_naming_it(api, token, field, case):
    value, words = UNSTORABLE_OBJECTS[case]
    runtime = api.post(COPY, token, **SEED_COPY)["notebookRuntime"]
    answer = api.post(UPDATE.format(id=runtime["id"]), token, **UPDATE_FORM, **{field: value})
    assert answer["code"] == 400 and field in answer["messages"][0]
    assert words in answer["messages"][0]
    assert api.get(f"notebooks/runtimes/{runtime['id']}", token) == runtime


def test_json_object_at_the_limits_is_accepted(api, token):
    deep = nested(JSON_MAX_DEPTH)
    answer = api.post(COPY, token, **{**SEED_COPY, "podPlacementPolicy": deep})
    assert answer["status"] == "success"
    big = '{"a": "' + "x" * (JSON_MAX_BYTES - 10) + '"}'
    answer = api.post(COPY, token, **{**SEED_COPY, "customResources": big})
    assert answer["status"] == "success"
    _all_reads_work(api, token)


@pytest.mark.parametrize("digits", ["１", "٢", "۳", "४", "1２", "1.５", "1e٣"])
@pytest.mark.parametrize("field", ["maxCpu", "maxMemory", "minCpu"])
def test_non_ascii_digits_are_not_numbers(api, token, field, digits):
    answer = api.post(COPY, token, **{**SEED_COPY, field: digits, "minCpu": "0.1"})
    if field == "minCpu":
        answer = api.post(COPY, token, **{**SEED_COPY, "minCpu": digits})
    assert answer["code"] == 400
    assert any(f"'{field}'" in m and "not a number" in m for m in answer["messages"])


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("a\x00b", "control characters"),
        ("line\nbreak", "control characters"),
        ("tab\there", "control characters"),
        ("\u200b", "no visible character"),
        ("\u200b\u3000\ufeff", "no visible character"),
        ("n" * (NAME_MAX_LENGTH + 1), f"longer than {NAME_MAX_LENGTH}"),
    ],
)
def test_names_that_break_the_name_rules_are_refused(api, token, name, words):
    before = api.runtimes(token)
    answer = api.post(COPY, token, **{**SEED_COPY, "name": name})
    assert answer["code"] == 400
    assert any("'name'" in m and words in m for m in answer["messages"])
    assert api.runtimes(token) == before


@pytest.mark.parametrize("name", ["n" * NAME_MAX_LENGTH, "  spaced  ", "名前 😀", "a\u200bb"])
def test_names_within_the_rules_are_kept_as_sent(api, token, name):
    answer = api.post(COPY, token, **{**SEED_COPY, "name": name})
    assert answer["notebookRuntime"]["name"] == name


def test_hostile_values_on_copy_update_import_and_uploads_never_answer_500_nor_change_state_when_refused():
    """The reliability suite's generator, smaller: every class reaches every target."""
    from bench.reliability.hostile_values import UPLOAD_SITES, run_hostile_values

    report = run_hostile_values(examples=40, seed=0)
    assert report.problems == []
    assert report.http_500 == report.refused_yet_changed == 0
    assert report.by_target == {
        "copy": 40,
        "update": 40,
        "state import": 40,
        **{site.label: 40 for site in UPLOAD_SITES},
    }
    assert report.by_outcome["success"] > 0 and report.by_outcome["code 400"] > 0


def test_hostile_uploads_of_every_class_reach_every_uploaded_file_and_none_answers_500():
    """Issue 24: every class (lone surrogates, deep nesting, NaN/Infinity, huge numbers,
    duplicate keys, other encodings and BOMs, bytes that are no JSON) in every file."""
    from bench.reliability.hostile_values import (
        MANIFEST_FILE_KINDS,
        UPLOAD_SITES,
        run_hostile_values,
    )

    report = run_hostile_values(examples=120, seed=1)
    assert report.problems == []
    assert report.http_500 == report.refused_yet_changed == 0
    expected = {
        f"{site.label} {kind.split()[0]}" for site in UPLOAD_SITES for kind in MANIFEST_FILE_KINDS
    }
    assert set(report.by_file_kind) == expected


def test_every_file_the_api_reads_has_a_hostile_generator():
    """A new ``wire.uploaded_file`` call must come with its line in UPLOAD_SITES."""
    from bench.reliability.hostile_values import UPLOAD_SITES

    root = Path(__file__).resolve().parent.parent / "mockserver"
    call_sites = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "uploaded_file(" in line and "def uploaded_file(" not in line
    ]
    assert len(call_sites) == len(UPLOAD_SITES), call_sites
