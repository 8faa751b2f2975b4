"""JSON bodies Python would read but the API must not take: a 400 on every route, and nothing changed."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from infra.local.websocket_gateway import Gateway
from tests.functional.conftest import Api, new_email
from tests.functional.ws import WAIT_S, bearer, open_socket

# (path, needs a token)
_JSON_ROUTES = [
    ("/v1/auth/signup", False),
    ("/v1/auth/login", False),
    ("/v1/chunks/upload", True),
    ("/v1/chunks/download", True),
    ("/v1/commit", True),
    ("/v1/files/restore", True),
]

_PATHOLOGIES = {
    "10000-nested-arrays": b"[" * 10_000 + b"]" * 10_000,
    "unclosed-nesting": b"[" * 100_000,
    "nested-objects": b'{"a":' * 3_000 + b"1" + b"}" * 3_000,
    "deep-value-in-an-object": b'{"namespace_id": ' + b"[" * 2_000 + b"]" * 2_000 + b"}",
    "5000-digit-number": b'{"namespace_id": ' + b"9" * 5_000 + b"}",
    "number-beyond-64-bits": b'{"namespace_id": "n", "rev": 18446744073709551616}',
    "overflowing-float": b'{"namespace_id": 1e999}',
    "nan": b'{"namespace_id": NaN}',
    "duplicate-key": b'{"email": "a@example.com", "email": "b@example.com", "password": "p"}',
}


@pytest.mark.parametrize(("path", "needs_token"), _JSON_ROUTES)
@pytest.mark.parametrize("raw", list(_PATHOLOGIES.values()), ids=list(_PATHOLOGIES))
def test_a_pathological_json_body_is_invalid_on_every_route(
    client: Client, alice: Api, path: str, needs_token: bool, raw: bytes
) -> None:
    status, body = (alice if needs_token else Api(client)).post(path, raw=raw)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["message"]


def test_a_signup_with_a_duplicate_key_creates_no_account(client: Client) -> None:
    first, second = new_email(), new_email()
    raw = f'{{"email": "{first}", "email": "{second}", "password": "correct horse battery"}}'.encode()
    status, _ = Api(client).post("/v1/auth/signup", raw=raw)
    assert status == 400
    for email in (first, second):  # neither address was taken by the refused signup
        status, body = Api(client).post(
            "/v1/auth/signup", {"email": email, "password": "correct horse battery"}
        )
        assert status == 201, body


def test_a_commit_with_a_deep_value_commits_nothing(alice: Api) -> None:
    valid = json.dumps({"namespace_id": alice.namespace_id, "ops": [{"op": "mkdir", "path": "/deep"}]})
    raw = valid[:-1].encode() + b', "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    status, _ = alice.post("/v1/commit", raw=raw)
    assert status == 400
    status, body = alice.get(f"/v1/objects?namespace_id={alice.namespace_id}")
    assert status == 200
    assert body["entries"] == []


@pytest.mark.parametrize(
    "message", ["[" * 10_000, "[" * 10_000 + "]" * 10_000, '{"type": "ping", "type": 1}']
)
def test_a_pathological_websocket_message_is_answered_with_an_error(
    gateway: Gateway, alice: Api, message: str
) -> None:
    with open_socket(gateway, bearer(alice)) as ws:
        ws.send(message)
        assert json.loads(ws.recv(timeout=WAIT_S))["type"] == "error"
        ws.send(json.dumps({"type": "ping"}))  # and the socket still serves
        assert json.loads(ws.recv(timeout=WAIT_S)) == {"type": "pong"}
