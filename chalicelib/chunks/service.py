"""Which chunks a namespace already holds, and presigned URLs for the rest.

A chunk is ``present`` for a namespace only once it is granted there (referenced by a commit, or
found stored under the namespace's own key): knowing a hash never gives anyone the bytes.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.accounts.auth import Principal, require_role
from chalicelib.adapters import blobs, grants, offered
from chalicelib.adapters import metadata as store
from chalicelib.domain.content import CHUNK_SIZE, check_hash
from chalicelib.errors import InvalidRequest, NotFound, RateLimited, TooLarge
from chalicelib.settings import SETTINGS

MAX_CHUNKS_PER_REQUEST = 1000
# How long an offer outlives its URL: a client that dies after its PUTs and comes back within a
# week is not asked to send those chunks again (after that it is, once; nothing is lost).
OFFER_MARGIN_S = 7 * 24 * 3600
# Commits free the bound as they land, so it is worth asking again soon (URLs expiring free it too).
OFFER_RETRY_AFTER_S = 5


def _check_count(count: int) -> None:
    if not 1 <= count <= MAX_CHUNKS_PER_REQUEST:
        raise InvalidRequest(f"ask for 1 to {MAX_CHUNKS_PER_REQUEST} chunks per request")


def upload(principal: Principal, namespace_id: str, chunks: list[tuple[str, int]]) -> dict[str, Any]:
    _check_count(len(chunks))
    sizes: dict[str, int] = {}
    for i, (chunk_hash, size) in enumerate(chunks):
        check_hash(chunk_hash, field=f"chunks.{i}.hash")
        if not 1 <= size <= CHUNK_SIZE:
            raise InvalidRequest(f"chunks.{i}.size must be 1 to {CHUNK_SIZE} bytes", field=f"chunks.{i}.size")
        if sizes.setdefault(chunk_hash, size) != size:
            raise InvalidRequest("one hash was given two sizes", hash=chunk_hash)
    require_role(principal, namespace_id, write=True)
    granted = grants.granted_chunks(namespace_id, sizes)
    # Otherwise such a chunk would be neither present nor given a URL, and silently never sent.
    resized = sorted(h for h, size in granted.items() if size != sizes[h])
    if resized:
        raise InvalidRequest("these chunks are held here with another size", hashes=resized)
    # A chunk PUT whose client died before committing is stored already (S3 checked its bytes
    # against the signed checksum): grant it now rather than have it sent again. Only a chunk
    # offered a URL before can be stored, so a new one costs no look in S3.
    offered_in = grants.offered_chunks(namespace_id, (h for h in sizes if h not in granted))
    stored = blobs.stored_sizes(namespace_id, sorted(offered_in))
    found = {h: size for h, size in stored.items() if size == sizes[h]}
    if found:
        grants.grant_chunks(namespace_id, found)
        granted.update(found)
    to_send = {h: size for h, size in sizes.items() if h not in granted}
    window = _reserve(namespace_id, to_send, offered_in)
    # Recorded before any URL leaves, so a chunk stored through one is looked for at the next ask.
    grants.offer_chunks(namespace_id, to_send, window, keep_s=SETTINGS.presign_ttl_s + OFFER_MARGIN_S)
    return {
        "present": [h for h in sizes if h in granted],
        "uploads": [blobs.presign_put(namespace_id, h, s) for h, s in to_send.items()],
    }


def _reserve(namespace_id: str, to_send: dict[str, int], offered_in: dict[str, int | None]) -> int:
    """Count the bytes about to be offered against the namespace's bound; the window they count in.

    Bytes offered and not granted since (by a commit naming the chunks, or found stored) are what
    a namespace could store outside its quota: at most ``MAX_OFFERED_BYTES`` of them may be on
    live URLs at once. A chunk offered in this window already (a retried request) is counted once.
    """
    window = offered.window_of(time.time(), SETTINGS.presign_ttl_s)
    new_bytes = sum(size for h, size in to_send.items() if offered_in.get(h) != window)
    limit = SETTINGS.max_offered_bytes
    if new_bytes > limit:
        raise TooLarge(f"ask for at most {limit} bytes of chunks at once", limit_bytes=limit)
    if new_bytes:
        seat = offered.reserve(namespace_id, new_bytes, window, SETTINGS.presign_ttl_s, limit)
        if not seat.admitted:
            raise RateLimited(
                "this namespace has too many bytes of uploads offered and not committed: commit the"
                " files already sent, then ask again",
                offered_bytes=seat.offered_bytes,
                limit_bytes=limit,
                retry_after_s=OFFER_RETRY_AFTER_S,
            )
    return window


def download(principal: Principal, namespace_id: str, hashes: list[str]) -> dict[str, Any]:
    _check_count(len(hashes))
    for i, chunk_hash in enumerate(hashes):
        check_hash(chunk_hash, field=f"hashes.{i}")
    require_role(principal, namespace_id, write=False)
    store.catch_up(namespace_id)
    granted = grants.granted_chunks(namespace_id, hashes)
    unknown = sorted(set(hashes) - granted.keys())
    if unknown:
        raise NotFound("these chunks are not in this namespace", hashes=unknown)
    return {"downloads": [blobs.presign_get(namespace_id, h) for h in dict.fromkeys(hashes)]}
