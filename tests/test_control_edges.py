"""The control plane's rules at their edges (issue 25): what a test author sees when a fault
rule, the journal's bounds, the clock's bounds, a reset or ``after=N`` go wrong."""

from __future__ import annotations

import pytest

from mockserver.control.journal import MAX_PARAMS
from mockserver.control.routes import MAX_CLOCK_SECONDS
from mockserver.testing import in_process
from tests.conftest import SEED_COPY, STANDARD_ID

INFO = "info"


def _info_codes(mock, count: int) -> list[int]:
    url = f"{mock.portal_url}/info?f=json"
    return [mock.session.get(url).status_code for _ in range(count)]


# --- fault rules ---------------------------------------------------------------------


@pytest.mark.parametrize("seeds", [(1, 2), (11, 12), (0, 7)])
def test_probability_faults_with_different_seeds_hit_different_requests(arcgis_mock, seeds):
    patterns = []
    for seed in seeds:
        arcgis_mock.reset()
        arcgis_mock.fault(INFO, status=502, probability=0.5, seed=seed)
        patterns.append(_info_codes(arcgis_mock, 40))
    assert patterns[0] != patterns[1]
    for pattern in patterns:
        assert set(pattern) == {200, 502}


@pytest.mark.parametrize("probability", [0.1, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("times", [1, 3])
def test_a_probability_fault_with_times_fires_exactly_times_times(arcgis_mock, probability, times):
    rule = arcgis_mock.fault(INFO, status=503, probability=probability, seed=5, times=times)
    codes = _info_codes(arcgis_mock, 120)
    assert codes.count(503) == times
    (listed,) = arcgis_mock.control("GET", "faults")["faults"]
    assert listed["id"] == rule["id"]
    assert listed["remaining"] == 0
    assert listed["matched"] >= times
    # Spent: no later request is hit.
    assert _info_codes(arcgis_mock, 20) == [200] * 20


# --- the journal's bounds ------------------------------------------------------------


def _journaled_params(mock, count: int) -> dict[str, str]:
    form = {f"p{index:03d}": str(index) for index in range(count)}
    mock.session.post(f"{mock.portal_url}/generateToken", data=form)
    (entry,) = mock.journal("generateToken")
    return entry["params"]


@pytest.mark.parametrize("count", [MAX_PARAMS - 1, MAX_PARAMS])
def test_a_request_of_at_most_64_parameters_is_journaled_whole(arcgis_mock, count):
    assert MAX_PARAMS == 64
    params = _journaled_params(arcgis_mock, count)
    assert params == {f"p{index:03d}": str(index) for index in range(count)}


@pytest.mark.parametrize("count", [MAX_PARAMS + 1, MAX_PARAMS + 2, 3 * MAX_PARAMS])
def test_a_request_of_more_than_64_parameters_keeps_64_and_says_how_many_were_dropped(
    arcgis_mock, count
):
    params = _journaled_params(arcgis_mock, count)
    kept = {name: value for name, value in params.items() if name != "(more)"}
    assert kept == {f"p{index:03d}": str(index) for index in range(MAX_PARAMS)}
    assert params["(more)"] == f"{count - MAX_PARAMS} parameters not kept"


# --- the clock's bounds --------------------------------------------------------------

CENTURY = MAX_CLOCK_SECONDS


def _move_clock(mock, body: dict):
    return mock.session.post(f"{mock.control_url}/clock", json=body)


@pytest.mark.parametrize("direction", [1, -1], ids=["forward", "backward"])
@pytest.mark.parametrize("beyond", [1, 100 * 365 * 24 * 3600, 10**12])
def test_the_clock_refuses_a_move_beyond_a_century_either_way_and_stays(
    arcgis_mock, direction, beyond
):
    arcgis_mock.advance_clock(direction * 60)
    before = arcgis_mock.control("GET", "clock")["offsetSeconds"]
    refused = _move_clock(arcgis_mock, {"advance_seconds": direction * (CENTURY + beyond)})
    assert refused.status_code == 400
    assert refused.json()["messages"] == [
        "The clock can move at most a century from wall-clock time."
    ]
    assert arcgis_mock.control("GET", "clock")["offsetSeconds"] == before


@pytest.mark.parametrize("direction", [1, -1], ids=["forward", "backward"])
def test_an_epoch_more_than_a_century_away_is_refused_either_way(arcgis_mock, direction):
    now = arcgis_mock.control("GET", "clock")["epochMs"] / 1000
    far = now + direction * (CENTURY + 30 * 24 * 3600)
    refused = _move_clock(arcgis_mock, {"epoch_seconds": far})
    assert refused.status_code == 400
    assert abs(arcgis_mock.control("GET", "clock")["offsetSeconds"]) < 1


@pytest.mark.parametrize("direction", [1, -1], ids=["forward", "backward"])
def test_the_clock_moves_up_to_a_century_either_way(arcgis_mock, direction):
    moved = _move_clock(arcgis_mock, {"advance_seconds": direction * (CENTURY - 3600)})
    assert moved.status_code == 200
    assert moved.json()["offsetSeconds"] == direction * (CENTURY - 3600)


# --- reset and the seed --------------------------------------------------------------


def _copy_ids(mock, count: int = 2) -> list[tuple[str, str]]:
    token = mock.token()
    ids = []
    for index in range(count):
        answer = mock.session.post(
            f"{mock.admin_url}/notebooks/runtimes/{STANDARD_ID}/copy",
            data={**SEED_COPY, "name": f"c{index}", "f": "json", "token": token},
        ).json()
        runtime = answer["notebookRuntime"]
        ids.append((runtime["id"], runtime["deploymentDefaultPropertyId"]))
    return ids


def test_a_reset_without_a_seed_keeps_the_seed_the_server_started_with():
    seeded = in_process(seed=7)
    first = _copy_ids(seeded)
    seeded.control("POST", "reset", {})
    assert _copy_ids(seeded) == first
    seeded.control("POST", "reset")  # no body at all: the same
    assert _copy_ids(seeded) == first
    # They are the seed's ids, not the first run's by chance: another server seeded 7
    # gives them too, and one seeded 8 does not.
    assert _copy_ids(in_process(seed=7)) == first
    assert _copy_ids(in_process(seed=8)) != first


def test_a_reset_with_a_null_seed_gives_random_ids_again():
    seeded = in_process(seed=7)
    first = _copy_ids(seeded)
    seeded.control("POST", "reset", {"seed": None})
    assert _copy_ids(seeded) != first


# --- the journal's after=N -----------------------------------------------------------


def test_journal_after_n_gives_exactly_the_entries_after_the_nth(arcgis_mock):
    url = f"{arcgis_mock.portal_url}/info?f=json"
    for _ in range(5):
        arcgis_mock.session.get(url)
    everything = arcgis_mock.journal()
    seqs = [entry["seq"] for entry in everything]
    assert len(seqs) == 5 and seqs == sorted(seqs)
    for index, seq in enumerate(seqs):
        after = arcgis_mock.control("GET", "journal", after=seq)["entries"]
        assert [entry["seq"] for entry in after] == seqs[index + 1 :]
    assert arcgis_mock.control("GET", "journal", after=0)["entries"] == everything
    limited = arcgis_mock.control("GET", "journal", after=seqs[0], limit=2)["entries"]
    assert [entry["seq"] for entry in limited] == seqs[1:3]
