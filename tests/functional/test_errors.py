"""What a client gets for a request the API cannot take: a 4xx with a stable code, never a 500."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from tests.functional.conftest import Api, new_email

PASSWORD = "correct horse battery"
_NO_CHUNK_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of no bytes


def _error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]


def _put(**override: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "op": "put",
        "path": "/f.txt",
        "parent_rev": None,
        "size": 0,
        "mtime": 0,
        "chunks": [],
        "content_hash": _NO_CHUNK_HASH,
    }
    return op | override


def _entries(api: Api) -> list[Any]:
    status, body = api.get(f"/v1/objects?namespace_id={api.namespace_id}")
    assert status == 200, body
    entries: list[Any] = body["entries"]
    return entries


# (path, needs a token)
_JSON_ROUTES = [
    ("/v1/auth/signup", False),
    ("/v1/auth/login", False),
    ("/v1/chunks/upload", True),
    ("/v1/chunks/download", True),
    ("/v1/commit", True),
    ("/v1/files/restore", True),
]


def _caller(client: Client, alice: Api, needs_token: bool) -> Api:
    return alice if needs_token else Api(client)


# -- bodies that are not what the route takes ----------------------------------------------------
@pytest.mark.parametrize(("path", "needs_token"), _JSON_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'email': 1}", b"not json", b"\xff\xfe\x00", b"", b'{"a": 1} trailing'],
    ids=["truncated", "single-quotes", "text", "not-utf8", "empty", "trailing"],
)
def test_a_body_that_is_not_json_is_invalid(
    client: Client, alice: Api, path: str, needs_token: bool, raw: bytes
) -> None:
    _error(*_caller(client, alice, needs_token).post(path, raw=raw), 400, "invalid_request")


@pytest.mark.parametrize(("path", "needs_token"), _JSON_ROUTES)
@pytest.mark.parametrize("payload", [[], [{"email": "a@b.co"}], "text", 7, None, True])
def test_a_json_body_that_is_not_an_object_is_invalid(
    client: Client, alice: Api, path: str, needs_token: bool, payload: Any
) -> None:
    raw = json.dumps(payload).encode()
    _error(*_caller(client, alice, needs_token).post(path, raw=raw), 400, "invalid_request")


def test_an_unknown_field_is_invalid_and_creates_nothing(client: Client, alice: Api) -> None:
    email = new_email()
    api = Api(client)
    _error(
        *api.post("/v1/auth/signup", {"email": email, "password": PASSWORD, "admin": True}),
        400,
        "invalid_request",
    )
    _error(
        *api.post("/v1/auth/login", {"email": email, "password": PASSWORD, "device_name": "x", "x": 1}),
        400,
        "invalid_request",
    )
    h = "ab" * 32
    chunk = {"hash": h, "size": 1, "owner": "me"}
    _error(
        *alice.post("/v1/chunks/upload", {"namespace_id": alice.namespace_id, "chunks": [chunk]}),
        400,
        "invalid_request",
    )
    for body in (
        {"namespace_id": alice.namespace_id, "ops": [_put(force=True)]},
        {"namespace_id": alice.namespace_id, "ops": [_put()], "dry_run": False},
    ):
        _error(*alice.post("/v1/commit", body), 400, "invalid_request")
    assert _entries(alice) == []
    # The refused signup left the email free.
    assert api.post("/v1/auth/signup", {"email": email, "password": PASSWORD})[0] == 201


@pytest.mark.parametrize(
    "op",
    [
        _put(size="0"),
        _put(size=0.0),
        _put(size=None),
        _put(parent_rev=True),
        _put(parent_rev=False),
        _put(parent_rev="1"),
        _put(mtime="0"),
        _put(chunks="abc"),
        _put(chunks=[1]),
        _put(path=7),
        _put(path=None),
        _put(op="upsert"),
        {"op": "put", "path": "/f.txt"},
        {"path": "/f.txt"},
        {"op": "mkdir", "path": ["/a"]},
        {"op": "delete", "path": "/a", "parent_rev": 1.5},
        {"op": "delete", "path": "/a", "parent_rev": None, "seen_seq": "3"},
        {"op": "delete", "path": "/a", "parent_rev": None, "seen_seq": 3.5},
        {"op": "delete", "path": "/a", "parent_rev": None, "seen_seq": True},
        {"op": "delete", "path": "/a", "parent_rev": None, "seen_seq": -1},
        {"op": "move", "from": "/a", "to": "/b", "parent_rev": None, "seen_seq": 3},
        {"op": "move", "from": "/a", "to": 3, "parent_rev": None},
        "put /f.txt",
    ],
    ids=lambda op: json.dumps(op)[:60],
)
def test_a_commit_op_of_the_wrong_types_is_invalid_and_commits_nothing(alice: Api, op: Any) -> None:
    _error(
        *alice.post("/v1/commit", {"namespace_id": alice.namespace_id, "ops": [op]}), 400, "invalid_request"
    )
    assert _entries(alice) == []


@pytest.mark.parametrize(
    "body",
    [
        {"namespace_id": 5, "chunks": [{"hash": "ab" * 32, "size": 1}]},
        {"namespace_id": None, "chunks": [{"hash": "ab" * 32, "size": 1}]},
        {"chunks": [{"hash": "ab" * 32, "size": 1}]},
        {"namespace_id": "ns", "chunks": {"hash": "ab" * 32, "size": 1}},
        {"namespace_id": "ns", "chunks": [{"hash": "ab" * 32, "size": "1"}]},
        {"namespace_id": "ns", "chunks": [{"hash": "ab" * 32, "size": True}]},
        {"namespace_id": "ns", "chunks": [{"hash": 1, "size": 1}]},
        {"namespace_id": "ns", "chunks": [["ab" * 32, 1]]},
    ],
    ids=lambda b: json.dumps(b)[:60],
)
def test_an_upload_request_of_the_wrong_types_is_invalid(alice: Api, body: dict[str, Any]) -> None:
    if body.get("namespace_id") == "ns":
        body = body | {"namespace_id": alice.namespace_id}
    _error(*alice.post("/v1/chunks/upload", body), 400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        {"email": 5, "password": PASSWORD},
        {"email": None, "password": PASSWORD},
        {"email": ["a@b.co"], "password": PASSWORD},
        {"password": PASSWORD},
        {"email": "a@b.co"},
        {"email": "a@b.co", "password": 12345678},
    ],
    ids=lambda b: json.dumps(b)[:60],
)
def test_a_signup_of_the_wrong_types_is_invalid(client: Client, body: dict[str, Any]) -> None:
    _error(*Api(client).post("/v1/auth/signup", body), 400, "invalid_request")


def test_an_error_never_echoes_the_password(client: Client) -> None:
    secret = "hunter2-but-longer"
    for body in (
        {"email": "not-an-email", "password": secret},
        {"email": new_email(), "password": secret, "extra": secret},
        {"email": new_email(), "password": [secret]},
    ):
        status, answer = Api(client).post("/v1/auth/signup", body)
        assert status == 400, answer
        assert secret not in json.dumps(answer)


# -- size ----------------------------------------------------------------------------------------
def test_a_20_mb_body_is_too_large_and_creates_nothing(client: Client, alice: Api) -> None:
    email = new_email()
    padding = "x" * (20 * 1024 * 1024)
    raw = json.dumps({"email": email, "password": PASSWORD, "padding": padding}).encode()
    _error(*Api(client).post("/v1/auth/signup", raw=raw), 413, "too_large")
    assert Api(client).post("/v1/auth/signup", {"email": email, "password": PASSWORD})[0] == 201

    raw = json.dumps(
        {"namespace_id": alice.namespace_id, "ops": [_put(mtime=1)] * 1000, "pad": padding}
    ).encode()
    _error(*alice.post("/v1/commit", raw=raw), 413, "too_large")
    assert _entries(alice) == []


def test_a_large_body_without_a_token_is_unauthorized_not_read(client: Client) -> None:
    _error(*Api(client).post("/v1/commit", raw=b"x" * (20 * 1024 * 1024)), 401, "unauthorized")


# -- routes and methods --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("POST", "/v1/nope"),
        ("GET", "/v2/account"),
        ("GET", "/"),
        ("PUT", "/v1/account"),
        ("DELETE", "/v1/account"),
        ("GET", "/v1/auth/login"),
        ("GET", "/v1/commit"),
        ("PATCH", "/v1/chunks/upload"),
        ("GET", "/v1/devices/d_1"),
    ],
)
def test_an_unknown_route_or_method_is_a_client_error(alice: Api, method: str, path: str) -> None:
    response = getattr(alice.client.http, method.lower())(path, headers=alice.headers(), body=b"{}")
    assert 400 <= response.status_code < 500, (response.status_code, response.body)
    assert alice.get("/v1/account")[0] == 200


def test_an_unsupported_content_type_is_a_client_error(alice: Api) -> None:
    body = json.dumps({"namespace_id": alice.namespace_id, "ops": [_put()]}).encode()
    response = alice.client.http.post(
        "/v1/commit", headers=alice.headers({"Content-Type": "text/plain"}), body=body
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.body)
    assert _entries(alice) == []


def test_bad_query_strings_are_invalid(alice: Api) -> None:
    ns = alice.namespace_id
    for query in (
        "",
        f"namespace_id={ns}&limit=abc",
        f"namespace_id={ns}&limit=0",
        f"namespace_id={ns}&cursor=zz",
    ):
        _error(*alice.get(f"/v1/objects?{query}"), 400, "invalid_request")


# -- logs ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    """Every line the app's logger and any library would write at DEBUG, as the app formats them."""
    from app import logger

    buffer = io.StringIO()
    app_handler = logging.StreamHandler(buffer)
    app_handler.setFormatter(logger.registered_formatter)
    root_handler = logging.StreamHandler(buffer)
    app_log, root = logging.getLogger("driftbox"), logging.getLogger()
    app_level, root_level = app_log.level, root.level
    app_log.addHandler(app_handler)
    root.addHandler(root_handler)
    app_log.setLevel(logging.DEBUG)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        app_log.removeHandler(app_handler)
        root.removeHandler(root_handler)
        app_log.setLevel(app_level)
        root.setLevel(root_level)


def test_logs_never_hold_a_password_or_a_token(client: Client, capfd: pytest.CaptureFixture[str]) -> None:
    email, password, wrong = (
        new_email(),
        "a password only this test knows",
        "a wrong password this test tried",
    )
    api = Api(client)
    with _captured_logs() as logs:
        assert api.post("/v1/auth/signup", {"email": email, "password": password})[0] == 201
        status, body = api.post(
            "/v1/auth/login", {"email": email, "password": password, "device_name": "laptop"}
        )
        assert status == 200
        token = body["token"]
        assert Api(client, token).get("/v1/account")[0] == 200
        failed = api.post("/v1/auth/login", {"email": email, "password": wrong, "device_name": "laptop"})
        assert failed[0] == 401
    out, err = capfd.readouterr()
    captured = logs.getvalue() + out + err
    assert captured.count('"message":"request"') >= 4, captured[-2000:]  # the capture works
    for secret in (password, wrong, token):
        assert secret not in captured


def test_the_app_logs_each_line_once_as_json(client: Client) -> None:
    from app import logger

    stream = io.StringIO()
    app_log = logging.getLogger("driftbox")
    handlers = [h for h in app_log.handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(stream) for h in handlers]
    level = app_log.level
    logger.setLevel("INFO")
    try:
        assert Api(client).get("/v1/account")[0] == 401
    finally:
        logger.setLevel(level)
        for handler, old in zip(handlers, streams, strict=True):
            handler.setStream(old)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    assert lines
    assert all(line.startswith("{") for line in lines), lines
    assert sum('"message":"request"' in line for line in lines) == 1, lines
