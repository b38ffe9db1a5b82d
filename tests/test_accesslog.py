"""The access log's lean line (mockserver.serving.accesslog) is gunicorn's own line."""

from __future__ import annotations

import datetime
import logging

from gunicorn.config import Config
from gunicorn.glogging import Logger
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.serving import redact as redaction
from mockserver.serving.accesslog import ACCESS_LOG_FORMAT, AccessLogger
from mockserver.serving.redact import redact_loggers


class _Response:
    def __init__(self, status, sent) -> None:
        self.status = status
        self.sent = sent
        self.headers = [("Content-Type", "text/plain;charset=UTF-8")]


class _Request:
    headers = [("HOST", "127.0.0.1"), ("X-ESRI-AUTHORIZATION", "Bearer secret")]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _logger(kind: type[Logger], tmp_path) -> Logger:
    config = Config()
    config.set("accesslog", str(tmp_path / f"{kind.__name__}.log"))
    config.set("access_log_format", ACCESS_LOG_FORMAT)
    return kind(config)


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    path=_text.map(lambda text: "/" + text),
    method=st.sampled_from(["GET", "POST", "HEAD", "PATCH"]),
    protocol=st.sampled_from(["HTTP/1.1", "HTTP/1.0"]),
    address=st.one_of(st.just("127.0.0.1"), st.just("::1"), _text),
    status=st.one_of(
        st.sampled_from(["200 OK", "413 Request Entity Too Large", "500"]), st.integers(100, 599)
    ),
    sent=st.one_of(st.none(), st.integers(0, 10**9)),
    micros=st.integers(0, 10**8),
)
def test_access_line_is_gunicorns_line_for_any_request(
    tmp_path_factory, path, method, protocol, address, status, sent, micros
):
    tmp_path = tmp_path_factory.mktemp("access")
    lines = _Lines()
    access = logging.getLogger("gunicorn.access")
    redact_loggers("gunicorn.access")
    environ = {
        "REMOTE_ADDR": address,
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "RAW_URI": path,
        "QUERY_STRING": "token=secret",
        "SERVER_PROTOCOL": protocol,
    }
    took = datetime.timedelta(microseconds=micros)
    written = []
    for kind in (Logger, AccessLogger):
        logger = _logger(kind, tmp_path)
        access.addHandler(lines)
        try:
            logger.access(_Response(status, sent), _Request(), environ, took)
        finally:
            access.removeHandler(lines)
        written.append(lines.lines.pop())
    assert written[0] == written[1]


def test_a_credential_in_the_path_is_masked_in_the_access_line(tmp_path):
    lines = _Lines()
    access = logging.getLogger("gunicorn.access")
    redact_loggers("gunicorn.access")
    logger = _logger(AccessLogger, tmp_path)
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/arcgis/admin&token=hunter2",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    access.addHandler(lines)
    try:
        logger.access(_Response("200 OK", 10), _Request(), environ, datetime.timedelta())
    finally:
        access.removeHandler(lines)
    assert lines.lines == ['127.0.0.1 "GET /arcgis/admin&token=*** HTTP/1.1" 200 10 0ms']


def test_another_format_is_left_to_gunicorn(tmp_path):
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("access_log_format", "%(h)s %({host}i)s")
    lines = _Lines()
    access = logging.getLogger("gunicorn.access")
    logger = AccessLogger(config)
    access.addHandler(lines)
    try:
        environ = {
            "REMOTE_ADDR": "10.0.0.1",
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        logger.access(_Response("200 OK", 1), _Request(), environ, datetime.timedelta())
    finally:
        access.removeHandler(lines)
    assert lines.lines == ["10.0.0.1 127.0.0.1"]


_secretish = st.lists(
    st.one_of(
        _text,
        st.sampled_from(
            ["token=", "&Token=", "%3d", "%3D", "pwd=", " Bearer ", "bearer\t", "WyJ", "=", "?"]
        ),
        st.just("WyJabcdefgh12.ABCDEFGHIJKLMNOP_-12"),
    ),
    max_size=8,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=_secretish)
def test_redact_masks_exactly_what_its_patterns_mask(text):
    def every_pattern(text: str) -> str:
        text = redaction._SECRET_PAIR.sub(lambda match: match.group(1) + redaction.MASK, text)
        text = redaction._BEARER.sub(lambda match: match.group(1) + redaction.MASK, text)
        text = redaction._TOKEN_SHAPE.sub(redaction.MASK, text)
        return redaction._ENCODED_RUN.sub(redaction._masked_run, text)

    assert redaction.redact(text) == every_pattern(text)
