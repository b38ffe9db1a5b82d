"""A thin HTTP client for the checks: answers as parsed JSON, ArcGIS refusals as values."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from bench.servers import SEED_COPY, STANDARD_ID


@dataclass(frozen=True)
class Answer:
    http_status: int
    body: dict

    @property
    def ok(self) -> bool:
        return (
            self.http_status == 200
            and "error" not in self.body
            and (self.body.get("status") != "error")
        )


class Admin:
    """The runtimes admin API of one served emulator, for one signed-in user."""

    def __init__(self, origin: str, token: str, *, timeout: float = 30) -> None:
        self.base = f"{origin}/arcgis/admin/notebooks/runtimes"
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()

    def _answer(self, response: requests.Response) -> Answer:
        try:
            body = response.json()
        except ValueError:
            body = {"error": {"code": response.status_code, "message": "not JSON"}}
        return Answer(response.status_code, body)

    def copy(self, name: str, source_id: str = STANDARD_ID) -> Answer:
        form = {**SEED_COPY, "name": name, "f": "json", "token": self.token}
        return self._answer(
            self.session.post(f"{self.base}/{source_id}/copy", data=form, timeout=self.timeout)
        )

    def update(self, runtime_id: str, max_memory_gb: float) -> Answer:
        form = {
            "maxCpu": "4.0",
            "maxMemory": str(max_memory_gb),
            "maxMemoryUnit": "g",
            "f": "json",
            "token": self.token,
        }
        return self._answer(
            self.session.post(f"{self.base}/{runtime_id}/update", data=form, timeout=self.timeout)
        )

    def get(self, runtime_id: str) -> Answer:
        params = {"f": "json", "token": self.token}
        return self._answer(
            self.session.get(f"{self.base}/{runtime_id}", params=params, timeout=self.timeout)
        )

    def list(self) -> list[dict]:
        params = {"f": "json", "token": self.token}
        answer = self._answer(self.session.get(self.base, params=params, timeout=self.timeout))
        if not answer.ok:
            raise RuntimeError(f"list refused: {answer.body}")
        return answer.body["runtimes"]
