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
from pynamodb.exceptions import DeleteError, PynamoDBException, TransactWriteError

from chalicelib.adapters import offered
from chalicelib.adapters.models import ChunkModel, OfferModel, transaction
from chalicelib.settings import SETTINGS

_BATCH_GET = 100  # the most keys BatchGetItem takes
_TRANSACTION = 100  # the most items TransactWriteItems takes
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
    """Delete these offers and count their bytes out, each once however many commits settle it.

    The deletes go a hundred to a transaction (a transaction item costs twice a plain delete's
    capacity, but a 5,000-chunk commit then takes 50 requests instead of 5,000).
    """
    counted = [row for row in rows if row.window is not None and row.size is not None]
    batches = [counted[start : start + _TRANSACTION] for start in range(0, len(counted), _TRANSACTION)]
    released: dict[int, int] = {}
    for deleted in _POOL.map(_delete_batch, batches):
        for row in deleted:
            released[int(row.window)] = released.get(int(row.window), 0) + int(row.size)
    if counted:
        offered.release(counted[0].namespace_id, released, SETTINGS.presign_ttl_s)


def _delete_batch(rows: list[OfferModel]) -> list[OfferModel]:
    """Delete these offers if still in the window they were counted in; return those deleted here."""
    try:
        with transaction() as tx:
            for row in rows:
                tx.delete(row, condition=OfferModel.window == row.window)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if exc.cause_response_code != "TransactionCanceledException" or len(reasons) != len(rows):
            raise
        # An offer whose condition failed was settled by another commit, or counts in a newer
        # window: not ours to count out. The rest were held by no one: delete them one by one.
        failed = [r is not None and r.code == "ConditionalCheckFailed" for r in reasons]
        left = [row for row, fail in zip(rows, failed, strict=True) if not fail]
        return [row for row in left if _delete_one(row)]
    return rows


def _delete_one(row: OfferModel) -> bool:
    try:
        row.delete(condition=OfferModel.window == row.window)
    except DeleteError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


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
