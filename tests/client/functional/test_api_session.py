"""The client's HTTP session reads the proxy settings once per host, and still honours them per host."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import requests.sessions
from driftbox.adapters import api


class _Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs requests looked up proxy variables for."""
    seen: list[str] = []
    original = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: Any = None) -> dict[str, str]:
        seen.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    return seen


def test_the_environment_is_read_once_per_host(port: int, lookups: list[str]) -> None:
    session = api._Session()
    for path in ("/a", "/b?x=1", "/c"):
        assert session.get(f"http://127.0.0.1:{port}{path}", timeout=5).text == "ok"
    assert len(lookups) == 1
    session.get(f"http://localhost:{port}/d", timeout=5)
    assert len(lookups) == 2  # another host: its own settings


def test_no_proxy_still_applies_host_by_host(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    session = api._Session()
    assert session.get(f"http://127.0.0.1:{port}/", timeout=5).text == "ok"  # bypasses the proxy
    with pytest.raises(requests.exceptions.ProxyError):
        session.get(f"http://localhost:{port}/", timeout=5)  # goes through it
    assert session.get(f"http://127.0.0.1:{port}/", timeout=5).text == "ok"


def test_settings_given_with_a_request_are_not_cached(port: int, lookups: list[str]) -> None:
    session = api._Session()
    for _ in range(2):
        session.get(f"http://127.0.0.1:{port}/", timeout=5, proxies={"https": "http://127.0.0.1:9"})
    assert len(lookups) == 2
