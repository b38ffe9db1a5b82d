"""A token typed into the path never comes back, in any route of either flavour (issue 24).

A client that writes ``&`` for ``?`` puts ``token=...`` in the path. A route with an id
in its path (``runtimes/<id>``, ``notebooks/<id>``, a job, a container...) takes that
text as the id: its answer, its sign-in link and the journal must not carry the token.
Every rule of each flavour's ``url_map`` with a path argument is tried, with the token
after each separator and name a client may type, in every format, signed in or not.
"""

from __future__ import annotations

import re

import pytest
import requests

from mockserver import create_app
from mockserver.flavours import FLAVOURS
from tests.conftest import Api
from tests.nbmock_process import NbmockProcess

#: How the token follows the id: the separators and names of a mistyped query string.
SPELLINGS = ("&token={}", "&TOKEN={}", "&token={}&f=json", ";token={}", "&password={}")
FORMATS = (None, "json", "html")


def _paths_with_a_typed_token(app, secret: str):
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.rule.startswith("/__mock__"):
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for spelling in SPELLINGS:
            typed = ("x" + spelling.format(secret)).replace("\\", "\\\\")
            path = re.sub(r"<(?:[a-z]+:)?\w+>", typed, rule.rule)
            for method in methods:
                yield method, path


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_a_token_typed_into_any_path_comes_back_in_no_answer_and_no_journal(flavour):
    api = Api(create_app(flavour=flavour))
    secret = api.token()
    tried = 0
    for method, path in _paths_with_a_typed_token(api.app, secret):
        for fmt in FORMATS:
            for signed_in in (False, True):
                params = {"f": fmt} if fmt else {}
                if signed_in:
                    params["token"] = api.token()
                if method == "GET":
                    answer = api.client.get(path, query_string=params)
                else:
                    answer = api.client.open(path, method=method, data=params)
                where = f"{method} {path.replace(secret, '<token>')} f={fmt} signed_in={signed_in}"
                assert answer.status_code != 500, where
                assert secret not in answer.get_data(as_text=True), where
                assert secret not in str(answer.headers), where
                tried += 1
    assert tried > 100  # every flavour has many routes with an id in their path
    assert secret not in api.client.get("/__mock__/journal").get_data(as_text=True)


def test_a_token_typed_after_an_id_through_nbmock_serve_comes_back_nowhere():
    served = NbmockProcess()
    try:
        secret = requests.post(
            f"{served.base}/sharing/rest/generateToken",
            data={"username": "admin", "password": "admin1234", "f": "json"},
            timeout=30,
        ).json()["token"]
        for path in ("admin/notebooks/runtimes/x", "admin/notebooks/x", "admin/notebooks/jobs/x"):
            for spelling in SPELLINGS:
                url = f"{served.base}/{path}{spelling.format(secret)}"
                for query in ({}, {"f": "json"}, {"f": "json", "token": secret}):
                    answer = requests.get(url, params=query, timeout=30, allow_redirects=False)
                    assert secret not in answer.text, url
                    assert secret not in str(answer.headers), url
        journal = requests.get(f"{served.origin}/__mock__/journal", timeout=30).text
        assert secret not in journal
    finally:
        served.stop()
    assert secret not in served.output
