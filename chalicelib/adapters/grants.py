"""DynamoDB side of chunks: which a namespace holds (grants), and which it was handed URLs for (offers).

A grant is the only thing that gives a namespace a chunk's bytes, and is written only once the
bytes were found stored under the namespace's own key. An offer grants nothing: it says a
presigned PUT was handed out, so the bytes may be stored by now, and is what makes looking for
them in S3 worth a request. A chunk never offered cannot have been stored through a URL of ours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import DeleteError, PynamoDBException

from chalicelib.adapters import offered
from chalicelib.adapters.models import ChunkModel, OfferModel
from chalicelib.settings import SETTINGS

_BATCH_GET = 100  # the most keys BatchGetItem takes
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="offers")
_log = logging.getLogger("driftbox")


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


def settle_offers(namespace_id: str, chunk_hashes: Iterable[str]) -> None:
    """A commit naming these chunks landed: their offers are done, and count out of offered.py's bound.

    Only a commit settles an offer: a grant alone (a chunk found stored) is not in the quota yet.
    Best effort: an offer left unsettled only counts until its URL's window ends.
    """
    try:
        _settle(_offers(namespace_id, chunk_hashes))
    except (PynamoDBException, BotoCoreError) as exc:
        _log.warning("offers not settled", extra={"namespace_id": namespace_id, "error": repr(exc)})


def _offers(namespace_id: str, chunk_hashes: Iterable[str]) -> list[OfferModel]:
    wanted = sorted(set(chunk_hashes))
    rows: list[OfferModel] = []
    for start in range(0, len(wanted), _BATCH_GET):
        batch = [(namespace_id, h) for h in wanted[start : start + _BATCH_GET]]
        rows.extend(OfferModel.batch_get(batch, consistent_read=True))
    return rows


def _settle(rows: list[OfferModel]) -> None:
    """Delete these offers and count their bytes out, each once however many commits settle it."""

    def delete(row: OfferModel) -> bool:
        try:
            row.delete(condition=OfferModel.window == row.window)
        except DeleteError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return False  # another commit settled it, or a newer offer counts it in another window
        return True

    counted = [row for row in rows if row.window is not None and row.size is not None]
    released: dict[int, int] = {}
    for row, deleted in zip(counted, _POOL.map(delete, counted), strict=True):
        if deleted:
            released[int(row.window)] = released.get(int(row.window), 0) + int(row.size)
    if counted:
        offered.release(counted[0].namespace_id, released, SETTINGS.presign_ttl_s)


def offered_chunks(namespace_id: str, chunk_hashes: Iterable[str]) -> dict[str, int | None]:
    """The chunks among ``chunk_hashes`` offered to this namespace (expired or not), with the
    window their bytes are counted in (None for an offer from before offers were counted)."""
    return {
        row.chunk_hash: None if row.window is None else int(row.window)
        for row in _offers(namespace_id, chunk_hashes)
    }


def offer_chunks(namespace_id: str, sizes: dict[str, int], window: int, keep_s: int) -> None:
    """Note that these chunks are being handed presigned PUTs (before the URLs leave the server)."""
    with OfferModel.batch_write() as batch:
        for chunk_hash, size in sizes.items():
            batch.save(
                OfferModel(
                    namespace_id, chunk_hash, expires_at=timedelta(seconds=keep_s), size=size, window=window
                )
            )
