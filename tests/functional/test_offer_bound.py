"""A namespace may have only so many bytes offered presigned PUTs and not committed."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from pynamodb.connection.base import Connection

from chalicelib.adapters import grants, keys, offered
from chalicelib.adapters.models import OfferedBytesModel
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


def _uploaded(alice: Api, count: int, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, bytes], int]:
    """``count`` chunks offered and stored (not committed), with the one window they count in."""
    monkeypatch.setattr(
        service, "SETTINGS", dataclasses.replace(SETTINGS, max_offered_bytes=count * CHUNK_BYTES)
    )
    sent = _chunks(count)
    status, body = _ask(alice, sent)
    assert status == 200, body
    for grant in body["uploads"]:
        response = requests.put(grant["url"], data=sent[grant["hash"]], headers=grant["headers"], timeout=30)
        assert response.status_code == 200, response.text
    windows = set(grants.offered_chunks(alice.namespace_id, sent).values())
    assert len(windows) == 1
    (window,) = windows
    assert window is not None
    return sent, window


@contextmanager
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count the DynamoDB requests the backend (in this process) makes meanwhile, by operation."""
    counts: Counter[str] = Counter()
    real = Connection._make_api_call

    def counted(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        counts[operation_name] += 1
        return real(self, operation_name, operation_kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Connection, "_make_api_call", counted)
        yield counts


def _counted(alice: Api, window: int) -> int:
    row = OfferedBytesModel.get(keys.offered_bytes(alice.namespace_id, window), consistent_read=True)
    return int(row.offered_bytes)


def test_a_commit_of_many_chunks_settles_every_offer(alice: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offers are settled a hundred to a transaction: a 250-chunk commit counts all 250 out."""
    sent, window = _uploaded(alice, 250, monkeypatch)
    assert _counted(alice, window) == 250 * CHUNK_BYTES

    ops = [one_chunk_put_op(f"/f{i}.bin", h, CHUNK_BYTES) for i, h in enumerate(sent)]
    with dynamodb_calls(monkeypatch) as calls:
        status, body = commit(alice, *ops)
    assert status == 200, body

    assert grants.offered_chunks(alice.namespace_id, sent) == {}
    assert calls["DeleteItem"] == 0  # no request per chunk: three transactions of <= 100 (was 250)
    assert sum(calls.values()) < 100  # the whole commit of 250 files (45 when written)
    assert _counted(alice, window) == 0


def test_an_offer_counted_elsewhere_meanwhile_is_left_to_its_window(
    alice: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offers read, then one offered again in a later window before the deletes: its batch fails
    its condition, the rest of that batch is still counted out, and no offer is counted out twice."""
    sent, window = _uploaded(alice, 250, monkeypatch)
    rows = grants._offers(alice.namespace_id, sent)
    again = sorted(sent)[150]  # in the second batch of a hundred
    grants.offer_chunks(alice.namespace_id, {again: CHUNK_BYTES}, window + 7, SETTINGS.presign_ttl_s)

    grants._settle(rows)
    assert grants.offered_chunks(alice.namespace_id, sent) == {again: window + 7}
    assert _counted(alice, window) == CHUNK_BYTES  # counted until that window ends

    grants._settle(rows)  # a second commit naming the same chunks counts nothing out again
    assert _counted(alice, window) == CHUNK_BYTES
    assert grants.offered_chunks(alice.namespace_id, sent) == {again: window + 7}
