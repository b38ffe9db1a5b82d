"""Answers no conforming server sends, for the kit's tests: a ``requests`` adapter that serves them.

``CannedAdapter`` answers every request of a ``requests`` session with one
fixed answer (status, headers, raw bytes), as a hostile server would, without
a socket; the kit's ``Target`` reads it through the same code as any answer.
"""

from __future__ import annotations

import io

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPResponse

ORIGIN = "https://hostile.invalid"


class CannedAdapter(BaseAdapter):
    """Answers every request with ``body`` (bytes) and ``content_type``."""

    def __init__(self, body: bytes, content_type: str = "text/plain;charset=utf-8") -> None:
        super().__init__()
        self.body = body
        self.content_type = content_type
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        self.sent.append(request)
        headers = {"Content-Type": self.content_type, "Content-Length": str(len(self.body))}
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = HTTPResponse(
            body=io.BytesIO(self.body),
            headers=list(headers.items()),
            status=200,
            preload_content=False,
        )
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def canned_session(body: bytes, content_type: str = "text/plain;charset=utf-8") -> requests.Session:
    session = requests.Session()
    session.mount(ORIGIN + "/", CannedAdapter(body, content_type))
    return session
