"""One address for every emulated service: requests for a service another process holds go there.

The local stack runs S3 in one process and DynamoDB and SQS in another (``aws_services``); the
backend talks to each directly. A person or a tool given the single emulator address (``aws
--endpoint-url``, a test reading a table) still reaches every service: this WSGI layer, in front of
the S3 process, passes such a request on as it came (same method, path, query, headers and body)
and hands back the answer.
"""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from infra.local.strict_s3 import signing_service

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
)
_NOT_PASSED_BACK = _HOP_BY_HOP | {"content-length"}  # the body is whole here: its length is set again


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key.removeprefix("HTTP_").replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = environ[key]
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}


def _target(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    path = urllib.parse.quote(environ.get("PATH_INFO", "/"))
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


class Forward:
    """WSGI layer: requests signed for a service in ``elsewhere`` go to that process's address."""

    def __init__(self, app: WSGIApp, elsewhere: dict[str, str], timeout_s: float = 120) -> None:
        self._app = app
        self._elsewhere = {service: urllib.parse.urlsplit(url) for service, url in elsewhere.items()}
        self._timeout_s = timeout_s

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        there = self._elsewhere.get(signing_service(environ) or "")
        if there is None:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        connection = http.client.HTTPConnection(
            there.hostname or "127.0.0.1", there.port, timeout=self._timeout_s
        )
        try:
            connection.request(environ["REQUEST_METHOD"], _target(environ), body, _request_headers(environ))
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in _NOT_PASSED_BACK]
        start_response(f"{answer.status} {answer.reason}", [*headers, ("Content-Length", str(len(data)))])
        return [data]
