"""Idempotency answers: a commit's answer, saved in the commit's own transaction, replayed for a retry.

An answer of any size is kept. Up to ``_MAX_INLINE_BYTES`` it is the item's ``response``; a larger
one (a thousand results with 4 KB paths make 4 MB, and an item holds 400 KB) is written to S3
first, under a name of its own, and the item holds that name: the same split as a journal
record's body. Only the commit whose transaction lands has its item saved, so one key has one
answer; an S3 copy of a commit that lost is deleted, and S3 expires the rest (infra/template.yaml).
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import blobs, keys
from chalicelib.adapters.models import IdempotencyModel

TTL_S = 24 * 3600
_MAX_INLINE_BYTES = 300_000  # with the journal record's 300 KB, a transaction stays far below 4 MB
_log = logging.getLogger("driftbox")


@dataclass(frozen=True)
class Answer:
    request_hash: str
    response: dict[str, Any]


def prepare(key: str, request_hash: str, response: dict[str, Any]) -> IdempotencyModel:
    """The item to save with the commit; a large answer's body is in S3 already when this returns."""
    row = IdempotencyModel(key, request_hash=request_hash, expires_at=timedelta(seconds=TTL_S))
    text = json.dumps(response, separators=(",", ":"))
    if len(text.encode("utf-8")) <= _MAX_INLINE_BYTES:
        row.response = text
    else:
        row.response_object = keys.answer_object(key, uuid.uuid4().hex)
        blobs.put_bytes(row.response_object, zlib.compress(text.encode("utf-8")))
    return row


def discard(row: IdempotencyModel) -> None:
    """Delete the S3 copy of an answer whose commit did not land (it would never be read).

    Best effort: a copy left behind is only storage, expired by the bucket's lifecycle rule.
    """
    if row.response_object:
        try:
            blobs.delete(row.response_object)
        except (BotoCoreError, ClientError) as exc:
            _log.warning("answer copy not deleted", extra={"key": row.response_object, "error": repr(exc)})


def find(key: str) -> Answer | None:
    try:
        row = IdempotencyModel.get(key, consistent_read=True)
    except IdempotencyModel.DoesNotExist:
        return None
    if row.response_object:
        text = zlib.decompress(blobs.get_bytes(row.response_object)).decode("utf-8")
    else:
        text = row.response or ""
    return Answer(row.request_hash, json.loads(text))
