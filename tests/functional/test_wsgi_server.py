"""The emulator's HTTP server keeps connections open and hands moto the environ Werkzeug would."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

from infra.local.wsgi_server import WsgiServer


def _echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers with what it was handed: the headers, the body, the client's port."""
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = environ["wsgi.input"].read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read()
    else:
        body = b""
    answer = {
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_") or k.startswith("CONTENT_")},
        "preserved": environ.get(PRESERVED_HEADER_NAMES_ENVIRON_KEY),
        "body": body.decode("latin-1"),
        "port": environ["REMOTE_PORT"],
    }
    data = json.dumps(answer).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


@pytest.fixture
def server() -> Iterator[WsgiServer]:
    served = WsgiServer("127.0.0.1", 0, _echo)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    thread.join(10)
    assert not thread.is_alive()


def _ask(connection: http.client.HTTPConnection, headers: dict[str, str], body: bytes | None = None) -> Any:
    connection.request("PUT", "/bucket/key", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == 200
    assert (response.getheader("Connection") or "").lower() != "close"
    return json.loads(response.read())


def test_one_connection_carries_many_requests(server: WsgiServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    ports = {_ask(connection, {}, b"x" * n)["port"] for n in (0, 1, 5000)}
    assert len(ports) == 1
    connection.close()


def test_an_underscored_header_never_passes_for_a_dashed_one(server: WsgiServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    seen = _ask(connection, {"x-amz-date": "dashed", "x_amz_date": "spoof", "x_other": "dropped"})
    assert seen["headers"]["HTTP_X_AMZ_DATE"] == "dashed"
    assert "HTTP_X_OTHER" not in seen["headers"]
    assert seen["preserved"] == {}


def test_metadata_names_keep_their_underscores_for_moto(server: WsgiServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    seen = _ask(connection, {"x-amz-meta-my_key": "v"})
    assert seen["headers"]["HTTP_X_AMZ_META_MY_KEY"] == "v"
    # cheroot title-cases header names; S3 (and moto) lowercase metadata names anyway
    assert {k: v.lower() for k, v in seen["preserved"].items()} == {
        "HTTP_X_AMZ_META_MY_KEY": "x-amz-meta-my_key"
    }


def test_expect_continue_and_chunked_bodies_arrive_whole(server: WsgiServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    seen = _ask(connection, {"Expect": "100-continue", "Content-Length": "3"}, b"abc")
    assert seen["body"] == "abc"
    connection.putrequest("PUT", "/bucket/key")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    for part in (b"hello ", b"world"):
        connection.send(b"%x\r\n%s\r\n" % (len(part), part))
    connection.send(b"0\r\n\r\n")
    assert json.loads(connection.getresponse().read())["body"] == "hello world"
