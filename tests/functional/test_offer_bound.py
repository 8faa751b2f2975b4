"""A namespace may have only so many bytes offered presigned PUTs and not committed."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from typing import Any

import pytest
import requests

from chalicelib.adapters import offered
from chalicelib.chunks import service
from chalicelib.settings import SETTINGS
from tests.functional.conftest import Api
from tests.functional.files import commit, one_chunk_put_op

CHUNK_BYTES = 1000
LIMIT = 3 * CHUNK_BYTES


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "SETTINGS", dataclasses.replace(SETTINGS, max_offered_bytes=LIMIT))


def _chunks(count: int) -> dict[str, bytes]:
    pieces = [os.urandom(CHUNK_BYTES) for _ in range(count)]
    return {hashlib.sha256(p).hexdigest(): p for p in pieces}


def _ask(api: Api, chunks: dict[str, bytes]) -> tuple[int, Any]:
    specs = [{"hash": h, "size": len(data)} for h, data in chunks.items()]
    status, body = api.post("/v1/chunks/upload", {"namespace_id": api.namespace_id, "chunks": specs})
    return status, body


def test_beyond_the_bound_an_upload_request_is_refused_for_that_namespace_only(
    alice: Api, bob: Api, bound: None
) -> None:
    first = _chunks(3)
    status, body = _ask(alice, first)
    assert status == 200, body
    assert len(body["uploads"]) == 3

    status, body = _ask(alice, _chunks(1))
    assert status == 429, body
    error = body["error"]
    assert error["code"] == "rate_limited"
    assert (error["offered_bytes"], error["limit_bytes"]) == (LIMIT, LIMIT)
    assert error["retry_after_s"] > 0

    # The same request again (a retry) is counted once; other namespaces have bounds of their own.
    assert _ask(alice, first)[0] == 200
    assert _ask(bob, _chunks(3))[0] == 200


def test_committing_the_chunks_frees_the_bound(alice: Api, bound: None) -> None:
    sent = _chunks(3)
    status, body = _ask(alice, sent)
    assert status == 200, body
    for grant in body["uploads"]:
        response = requests.put(grant["url"], data=sent[grant["hash"]], headers=grant["headers"], timeout=30)
        assert response.status_code == 200, response.text
    assert _ask(alice, _chunks(1))[0] == 429
    ops = [one_chunk_put_op(f"/f{i}.bin", h, CHUNK_BYTES) for i, h in enumerate(sent)]
    status, body = commit(alice, *ops)
    assert status == 200, body
    assert _ask(alice, _chunks(3))[0] == 200


def test_one_request_beyond_the_whole_bound_is_too_large(alice: Api, bound: None) -> None:
    status, body = _ask(alice, _chunks(4))
    assert status == 413, body
    assert body["error"]["limit_bytes"] == LIMIT
    assert _ask(alice, _chunks(3))[0] == 200  # the refused request counted nothing


def test_offers_stop_counting_once_their_urls_are_dead(alice: Api) -> None:
    window_s = SETTINGS.presign_ttl_s
    window = offered.window_of(time.time(), window_s) + 1000  # quiet windows of our own
    assert offered.reserve(alice.namespace_id, LIMIT, window, window_s, LIMIT).admitted
    assert not offered.reserve(alice.namespace_id, 1, window, window_s, LIMIT).admitted
    # A URL of the last window may still be alive: it counts.
    assert not offered.reserve(alice.namespace_id, 1, window + 1, window_s, LIMIT).admitted
    # Two windows on, every URL of that window has expired.
    assert offered.reserve(alice.namespace_id, LIMIT, window + 2, window_s, LIMIT).admitted


def test_chunks_granted_without_a_commit_still_count(alice: Api, bound: None) -> None:
    sent = _chunks(3)
    status, body = _ask(alice, sent)
    assert status == 200, body
    for grant in body["uploads"]:
        response = requests.put(grant["url"], data=sent[grant["hash"]], headers=grant["headers"], timeout=30)
        assert response.status_code == 200, response.text
    # Asked again, the stored chunks are granted (present), but nothing committed them: no room yet.
    status, body = _ask(alice, sent)
    assert (status, sorted(body["present"])) == (200, sorted(sent))
    assert _ask(alice, _chunks(1))[0] == 429
    # Nor does a commit that is refused.
    ops = [one_chunk_put_op(f"/f{i}.bin", h, CHUNK_BYTES) for i, h in enumerate(sent)]
    assert commit(alice, *ops, {"op": "delete", "path": "/nothing-here", "parent_rev": 1})[0] == 409
    assert _ask(alice, _chunks(1))[0] == 429
