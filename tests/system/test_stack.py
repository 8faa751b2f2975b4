"""The local stack as a user runs it: one process, real HTTP, real WebSockets, real S3 rules."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.functional.files import chunk_hashes, commit, journal, put_op, upload
from tests.system.conftest import Client

# Short presigned URLs, so that expiry can be seen without a long wait.
PRESIGN_TTL_S = 4


@pytest.fixture
def stack(make_stack: Any) -> Any:
    return make_stack(PRESIGN_TTL_S=str(PRESIGN_TTL_S))


def test_a_file_goes_up_and_comes_back(stack: Any) -> None:
    alice, _ = Client.sign_up(stack.api)
    data = b"hello, driftbox\n" * 1000
    upload(alice, data)
    status, body = commit(alice, put_op("/notes/hello.txt", data))
    assert status == 200, body
    entries, _ = journal(alice)
    files = [e for e in entries if e["kind"] == "file"]
    assert [f["path"] for f in files] == ["/notes/hello.txt"]
    status, grants = alice.post(
        "/v1/chunks/download", {"namespace_id": alice.namespace_id, "hashes": chunk_hashes(data)}
    )
    assert status == 200, grants
    got = requests.get(grants["downloads"][0]["url"], timeout=30)
    assert got.status_code == 200 and got.content == data


def _upload_grant(client: Client, data: bytes) -> dict[str, Any]:
    """The presigned PUT for ``data``'s one chunk."""
    [digest] = chunk_hashes(data)
    status, body = client.post(
        "/v1/chunks/upload",
        {"namespace_id": client.namespace_id, "chunks": [{"hash": digest, "size": len(data)}]},
    )
    assert status == 200, body
    grant: dict[str, Any] = body["uploads"][0]
    return grant


def test_wrong_bytes_on_a_presigned_put_are_refused_and_the_commit_then_too(stack: Any) -> None:
    alice, _ = Client.sign_up(stack.api)
    data = b"the real bytes"
    grant = _upload_grant(alice, data)
    forged = b"other bytes!!!"  # same length, other content
    response = requests.put(grant["url"], data=forged, headers=grant["headers"], timeout=30)
    assert response.status_code == 400 and "<Code>BadDigest</Code>" in response.text

    status, body = commit(alice, put_op("/a.txt", data))
    assert status == 409 and body["error"]["code"] == "missing_chunks", body
    assert body["error"]["hashes"] == chunk_hashes(data)


def test_an_expired_presigned_url_is_refused(stack: Any) -> None:
    alice, _ = Client.sign_up(stack.api)
    data = b"late"
    grant = _upload_grant(alice, data)
    time.sleep(PRESIGN_TTL_S + 1.5)
    response = requests.put(grant["url"], data=data, headers=grant["headers"], timeout=30)
    assert response.status_code == 403 and "Request has expired" in response.text


def test_websocket_needs_a_valid_token_and_answers_pings(stack: Any) -> None:
    alice, _ = Client.sign_up(stack.api)
    with connect(
        stack.ws, additional_headers={"Authorization": f"Bearer {alice.token}"}, open_timeout=30
    ) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=30)) == {"type": "pong"}

    for header in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(stack.ws, additional_headers=header, open_timeout=30)
        assert refused.value.response.status_code == 401

    status, _ = alice.post("/v1/auth/logout")
    assert status in (200, 204)
    with pytest.raises(InvalidStatus) as refused:
        connect(stack.ws, additional_headers={"Authorization": f"Bearer {alice.token}"}, open_timeout=30)
    assert refused.value.response.status_code == 401
