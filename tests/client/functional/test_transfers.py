"""Chunk transfers on presigned URLs: sent as signed, retried where safe, through the session's pools.

The transfers skip requests' own layer for speed, so these check what requests used to give them:
the proxy variables, NO_PROXY, kept-alive connections, Retry-After, and a clear error per failure.
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from driftbox import errors
from driftbox.adapters import api


@dataclass
class _Seen:
    lines: list[str] = field(default_factory=list)  # request lines, as sent
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: set[int] = field(default_factory=set)
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)  # next answers


class _Storage(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: _Seen

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.seen.lines.append(self.requestline)
        self.seen.headers.append(dict(self.headers))
        self.seen.bodies.append(self.rfile.read(length))
        self.seen.connections.add(id(self.connection))
        status, headers, body = self.seen.answers.pop(0) if self.seen.answers else (200, {}, b"stored")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def storage() -> Iterator[tuple[str, _Seen]]:
    seen = _Seen()
    handler = type("Handler", (_Storage,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}:
            monkeypatch.delenv(name)


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


def _upload(url: str) -> dict[str, Any]:
    return {"method": "PUT", "url": url, "headers": {"x-amz-checksum-sha256": "c2lnbmVk"}}


def test_a_put_sends_the_bytes_and_the_signed_headers_on_one_kept_connection(
    storage: tuple[str, _Seen],
) -> None:
    base, seen = storage
    client = api.Api("http://unused.invalid")
    for i in range(3):
        client.put_chunk(_upload(f"{base}/bucket/c{i}?X-Amz-Signature=ab%2Fcd"), b"chunk %d" % i)
    assert seen.lines == [f"PUT /bucket/c{i}?X-Amz-Signature=ab%2Fcd HTTP/1.1" for i in range(3)]
    assert seen.bodies == [b"chunk 0", b"chunk 1", b"chunk 2"]
    assert all(h["x-amz-checksum-sha256"] == "c2lnbmVk" for h in seen.headers)
    assert {h.get("Accept-Encoding", "identity") for h in seen.headers} == {"identity"}  # incompressible
    assert [h["Content-Length"] for h in seen.headers] == ["7", "7", "7"]
    assert len(seen.connections) == 1


def test_a_get_returns_the_exact_bytes(storage: tuple[str, _Seen]) -> None:
    base, seen = storage
    data = os.urandom(4 * 1024 * 1024)
    seen.answers.append((200, {"Content-Type": "application/octet-stream"}, data))
    assert api.Api("http://unused.invalid").get_chunk(f"{base}/bucket/c") == data


def test_busy_storage_is_retried_after_the_time_it_asks(
    storage: tuple[str, _Seen], no_waiting: list[float]
) -> None:
    base, seen = storage
    seen.answers += [(503, {"Retry-After": "7"}, b"slow down"), (429, {}, b"")]
    api.Api("http://unused.invalid").put_chunk(_upload(f"{base}/bucket/c"), b"bytes")
    assert seen.bodies == [b"bytes"] * 3
    assert 7 * 0.8 <= no_waiting[0] <= 7 * 1.2
    assert len(no_waiting) == 2


def test_a_refusal_is_an_error_at_once(storage: tuple[str, _Seen], no_waiting: list[float]) -> None:
    base, seen = storage
    seen.answers.append((403, {}, b"<Error><Code>AccessDenied</Code></Error>"))
    with pytest.raises(api.TransferRefused, match=r"HTTP 403.*AccessDenied") as refused:
        api.Api("http://unused.invalid").put_chunk(_upload(f"{base}/bucket/c"), b"bytes")
    assert refused.value.status == 403
    assert len(seen.lines) == 1
    assert no_waiting == []


def test_storage_that_stays_busy_ends_in_its_last_answer(
    storage: tuple[str, _Seen], no_waiting: list[float]
) -> None:
    base, seen = storage
    seen.answers += [(503, {}, b"busy")] * 3
    with pytest.raises(api.TransferRefused, match="HTTP 503"):
        api.Api("http://unused.invalid", attempts=3).get_chunk(f"{base}/bucket/c")
    assert len(seen.lines) == 3


def test_unreachable_storage_is_one_clear_error(no_waiting: list[float]) -> None:
    client = api.Api("http://127.0.0.1:9", attempts=2)  # nothing listens there
    with pytest.raises(errors.Unreachable, match="cannot reach"):
        client.put_chunk(_upload("http://127.0.0.1:9/bucket/c"), b"bytes")
    assert len(no_waiting) == 1  # tried twice


def test_transfers_go_through_the_proxy_the_environment_names(
    storage: tuple[str, _Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, seen = storage
    monkeypatch.setenv("HTTP_PROXY", base)  # the recorder acts as the proxy
    client = api.Api("http://unused.invalid")
    client.put_chunk(_upload("http://storage.invalid:4566/bucket/c?X-Amz-Signature=ab"), b"bytes")
    assert client.get_chunk("http://storage.invalid:4566/bucket/c?X-Amz-Signature=ab") == b"stored"
    assert seen.lines == [
        "PUT http://storage.invalid:4566/bucket/c?X-Amz-Signature=ab HTTP/1.1",
        "GET http://storage.invalid:4566/bucket/c?X-Amz-Signature=ab HTTP/1.1",
    ]
    assert seen.headers[0]["Host"] == "storage.invalid:4566"


def test_no_proxy_sends_a_host_straight_there(
    storage: tuple[str, _Seen], monkeypatch: pytest.MonkeyPatch, no_waiting: list[float]
) -> None:
    base, seen = storage
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = api.Api("http://unused.invalid", attempts=1)
    client.put_chunk(_upload(f"{base}/bucket/c"), b"bytes")
    assert seen.lines == ["PUT /bucket/c HTTP/1.1"]
    with pytest.raises(errors.Unreachable):  # another host: through the dead proxy
        client.put_chunk(_upload(base.replace("127.0.0.1", "localhost") + "/bucket/c"), b"bytes")
