"""DynamoDB side of chunks: which a namespace holds (grants), and which it was handed URLs for (offers).

A grant is the only thing that gives a namespace a chunk's bytes, and is written only once the
bytes were found stored under the namespace's own key. An offer grants nothing: it says a
presigned PUT was handed out, so the bytes may be stored by now, and is what makes looking for
them in S3 worth a request. A chunk never offered cannot have been stored through a URL of ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from chalicelib.adapters.models import ChunkModel, OfferModel

_BATCH_GET = 100  # the most keys BatchGetItem takes


def granted_chunks(namespace_id: str, chunk_hashes: Iterable[str]) -> dict[str, int]:
    """The chunks among ``chunk_hashes`` this namespace holds, with their sizes."""
    wanted = sorted(set(chunk_hashes))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _BATCH_GET):
        batch = [(namespace_id, h) for h in wanted[start : start + _BATCH_GET]]
        for row in ChunkModel.batch_get(batch, consistent_read=True):
            found[row.chunk_hash] = int(row.size)
    return found


def grant_chunks(namespace_id: str, sizes: dict[str, int]) -> None:
    with ChunkModel.batch_write() as batch:
        for chunk_hash, size in sizes.items():
            batch.save(ChunkModel(namespace_id, chunk_hash, size=size))


def offered_chunks(namespace_id: str, chunk_hashes: Iterable[str]) -> set[str]:
    """The chunks among ``chunk_hashes`` that were offered to this namespace (expired or not)."""
    wanted = sorted(set(chunk_hashes))
    found: set[str] = set()
    for start in range(0, len(wanted), _BATCH_GET):
        batch = [(namespace_id, h) for h in wanted[start : start + _BATCH_GET]]
        found.update(row.chunk_hash for row in OfferModel.batch_get(batch, consistent_read=True))
    return found


def offer_chunks(namespace_id: str, chunk_hashes: Iterable[str], keep_s: int) -> None:
    """Note that these chunks are being handed presigned PUTs (before the URLs leave the server)."""
    with OfferModel.batch_write() as batch:
        for chunk_hash in chunk_hashes:
            batch.save(OfferModel(namespace_id, chunk_hash, expires_at=timedelta(seconds=keep_s)))
