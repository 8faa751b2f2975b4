"""How the server learns a chunk is stored: offers at upload, listings at commit; what is never granted."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from chalicelib.adapters import blobs, keys
from tests.functional.conftest import Api
from tests.functional.files import one_chunk_put_op

MANY = blobs.LIST_FROM + 10  # enough chunks in one request for the listing path


def _chunk(size: int = 700) -> tuple[bytes, str]:
    data = os.urandom(size)
    return data, hashlib.sha256(data).hexdigest()


@contextmanager
def s3_reads() -> Iterator[Counter[str]]:
    """Count the HeadObject and ListObjectsV2 calls the backend's S3 clients make meanwhile."""
    counts: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        counts[event_name.rsplit(".", 1)[-1]] += 1

    clients = (blobs._client(), blobs._listing_client())
    for s3 in clients:
        for operation in ("HeadObject", "ListObjectsV2"):
            s3.meta.events.register(f"before-call.s3.{operation}", count)
    try:
        yield counts
    finally:
        for s3 in clients:
            for operation in ("HeadObject", "ListObjectsV2"):
                s3.meta.events.unregister(f"before-call.s3.{operation}", count)


def _ask(api: Api, chunks: dict[str, bytes]) -> dict[str, Any]:
    body = {
        "namespace_id": api.namespace_id,
        "chunks": [{"hash": h, "size": len(b)} for h, b in chunks.items()],
    }
    status, answer = api.post("/v1/chunks/upload", body)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


def _send_all(answer: dict[str, Any], chunks: dict[str, bytes]) -> None:
    for grant in answer["uploads"]:
        response = requests.put(
            grant["url"], data=chunks[grant["hash"]], headers=grant["headers"], timeout=30
        )
        assert response.status_code == 200, response.text


def _commit(api: Api, files: dict[str, tuple[str, int]]) -> tuple[int, Any]:
    ops = [one_chunk_put_op(path, h, size) for path, (h, size) in files.items()]
    return api.post("/v1/commit", {"namespace_id": api.namespace_id, "ops": ops})


# -- upload ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [1, MANY])
def test_a_new_chunk_costs_no_look_in_s3(alice: Api, count: int) -> None:
    chunks = dict(_chunk()[::-1] for _ in range(count))
    with s3_reads() as reads:
        answer = _ask(alice, chunks)
    assert answer["present"] == []
    assert sorted(u["hash"] for u in answer["uploads"]) == sorted(chunks)
    assert reads == Counter()


def test_a_chunk_offered_but_never_sent_is_not_granted(alice: Api) -> None:
    data, chunk_hash = _chunk()
    assert [u["hash"] for u in _ask(alice, {chunk_hash: data})["uploads"]] == [chunk_hash]
    # The client died before its PUT: asked again, the chunk is looked for, not found, offered again.
    with s3_reads() as reads:
        answer = _ask(alice, {chunk_hash: data})
    assert answer["present"] == []
    assert [u["hash"] for u in answer["uploads"]] == [chunk_hash]
    assert reads == Counter({"HeadObject": 1})
    status, body = _commit(alice, {"/f.bin": (chunk_hash, len(data))})
    assert status == 409, body
    assert body["error"]["code"] == "missing_chunks"
    assert body["error"]["hashes"] == [chunk_hash]
    status, body = alice.post(
        "/v1/chunks/download", {"namespace_id": alice.namespace_id, "hashes": [chunk_hash]}
    )
    assert status == 404, body


def test_many_chunks_sent_by_a_client_killed_before_its_commit_are_found_by_listing(alice: Api) -> None:
    chunks = dict(_chunk()[::-1] for _ in range(MANY))
    _send_all(_ask(alice, chunks), chunks)
    unsent = dict(_chunk()[::-1] for _ in range(3))
    _ask(alice, unsent)  # offered, never sent

    with s3_reads() as reads:
        answer = _ask(alice, chunks | unsent)
    assert sorted(answer["present"]) == sorted(chunks)
    assert sorted(u["hash"] for u in answer["uploads"]) == sorted(unsent)
    assert reads == Counter({"ListObjectsV2": 1})  # one page holds the namespace's chunks

    files = {f"/d/f{i}.bin": (h, len(b)) for i, (h, b) in enumerate(chunks.items())}
    with s3_reads() as reads:
        status, body = _commit(alice, files)
    assert status == 200, body
    assert reads == Counter()  # granted at the upload request: nothing to look for


# -- commit ------------------------------------------------------------------------------------------
def test_the_listing_grants_only_chunks_stored_under_the_namespaces_own_key_with_their_size(
    alice: Api, bob: Api
) -> None:
    chunks = dict(_chunk()[::-1] for _ in range(MANY))
    _send_all(_ask(alice, chunks), chunks)
    resized_data, resized = _chunk()
    blobs.put_bytes(keys.chunk_object(alice.namespace_id, resized), resized_data + b"!")
    elsewhere_data, elsewhere = _chunk()
    blobs.put_bytes(keys.chunk_object(bob.namespace_id, elsewhere), elsewhere_data)
    files = {f"/ok/f{i}.bin": (h, len(b)) for i, (h, b) in enumerate(chunks.items())}
    bad = {"/resized.bin": (resized, len(resized_data)), "/elsewhere.bin": (elsewhere, len(elsewhere_data))}

    with s3_reads() as reads:
        status, body = _commit(alice, files | bad)
    assert status == 409, body
    assert body["error"]["code"] == "missing_chunks"
    assert body["error"]["hashes"] == sorted([resized, elsewhere])
    assert reads == Counter({"ListObjectsV2": 1})

    # The good chunks were granted by that look; the bad ones stay ungranted.
    with s3_reads() as reads:
        status, body = _commit(alice, files)
    assert status == 200, body
    assert reads == Counter()
    status, body = _commit(alice, {"/resized.bin": bad["/resized.bin"]})
    assert (status, body["error"]["hashes"]) == (409, [resized])
    status, body = _commit(alice, {"/elsewhere.bin": bad["/elsewhere.bin"]})
    assert (status, body["error"]["hashes"]) == (409, [elsewhere])


# -- stored_sizes: listing and HEADs agree, however the listing is cut --------------------------------
@pytest.fixture(scope="module")
def stored() -> tuple[str, dict[str, int]]:
    """A namespace's chunk keys: 150 objects with the sizes given (bytes not checked here)."""
    namespace_id = f"ns_lookup{os.urandom(6).hex()}"
    sizes = {hashlib.sha256(str(i).encode()).hexdigest(): 10 + i for i in range(150)}
    for chunk_hash, size in sizes.items():
        blobs.put_bytes(keys.chunk_object(namespace_id, chunk_hash), b"x" * size)
    # Same hashes, another namespace whose id extends this one: never listed with it.
    for chunk_hash in list(sizes)[:20]:
        blobs.put_bytes(
            keys.chunk_object(namespace_id + "0", hashlib.sha256(chunk_hash.encode()).hexdigest()), b""
        )
    return namespace_id, sizes


@pytest.mark.parametrize("page_keys", [1, 3, 10, 40, 1000])
@pytest.mark.parametrize("wanted_stored", [0, 30, 100, 150])
def test_stored_sizes_answers_every_chunk_as_a_head_would(
    stored: tuple[str, dict[str, int]], page_keys: int, wanted_stored: int
) -> None:
    namespace_id, sizes = stored
    absent = [hashlib.sha256(f"absent {i}".encode()).hexdigest() for i in range(60)]
    others = [hashlib.sha256(chunk_hash.encode()).hexdigest() for chunk_hash in list(sizes)[:20]]
    wanted = list(sizes)[:wanted_stored] + absent + others
    with s3_reads() as reads:
        found = blobs.stored_sizes(namespace_id, wanted, page_keys=page_keys)
    assert found == {h: sizes.get(h) for h in wanted}
    assert reads["ListObjectsV2"] <= -(-len(wanted) // blobs.CHUNKS_PER_PAGE)
    if page_keys == 1000:  # one page holds the whole namespace
        assert reads == Counter({"ListObjectsV2": 1})


def test_stored_sizes_heads_a_few_chunks_without_listing(stored: tuple[str, dict[str, int]]) -> None:
    namespace_id, sizes = stored
    wanted = list(sizes)[: blobs.LIST_FROM - 1]
    with s3_reads() as reads:
        assert blobs.stored_sizes(namespace_id, wanted) == {h: sizes[h] for h in wanted}
    assert reads == Counter({"HeadObject": len(wanted)})
