"""Work to find on an emulator: open notebooks, an item, a running and a finished job.

For runs that should see every workload resource populated (Schemathesis), not empty.
"""

from __future__ import annotations

from flask import Flask

from tests.conftest import Api


def seed_workload(app: Flask) -> Flask:
    """Two users' open notebooks, an admin's item, and a finished and a running job."""
    client = app.test_client()
    for body in (
        {"notebooks": [{"username": "admin", "count": 2}, {"username": "alice", "count": 2}]},
    ):
        assert client.post("/__mock__/workload/notebooks", json=body).status_code == 200
    item = client.post(
        "/__mock__/workload/items", json={"items": [{"owner": "admin", "title": "Seeded"}]}
    ).get_json()["items"][0]["id"]
    api = Api(app)
    token = api.token()
    api.post("notebooks/executeNotebook", token, itemId=item)
    client.post("/__mock__/workload/jobs", json={"executeSeconds": 7200})
    api.post("notebooks/executeNotebook", token, itemId=item)
    api.clock.advance(120)  # the first execution ends; the second runs for two hours
    return app


def seed(api: Api, **notebook) -> list[dict]:
    """Open notebooks through the control plane (``notebook``: one entry of its list)."""
    answer = api.client.post("/__mock__/workload/notebooks", json={"notebooks": [notebook]})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["notebooks"]


def seed_item(api: Api, owner: str = "admin") -> str:
    """A notebook item of ``owner``'s, through the control plane: its id."""
    answer = api.client.post(
        "/__mock__/workload/items", json={"items": [{"owner": owner, "title": "Report"}]}
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"][0]["id"]
