"""Every landed commit's change message reaches the changes queue, even when queuing fails.

A commit marks its namespace in the commit's own transaction (``notify_shard`` and
``notify_since_ms``, a sparse index); once the message is queued, the write that marks the commit
applied removes the mark. A commit whose message could not be queued (SQS unreachable, the Lambda
killed between its transaction and the send) keeps the mark, and the sweep, which runs every
minute, queues the current head of every marked namespace. The worker is idempotent per
``(namespace_id, head_seq)``, so a sweep racing a commit's own send costs nothing but a lookup.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import changes, keys
from chalicelib.adapters import metadata as store

logger = Logger(service="driftbox", child=True)


def publish(namespace_id: str, head_seq: int) -> bool:
    """Queue the change; False (and a warning) if SQS refused or could not be reached."""
    try:
        changes.send(namespace_id, head_seq)
    except (BotoCoreError, ClientError) as exc:
        logger.warning(
            "change not queued; the outbox sweep will send it",
            extra={"namespace_id": namespace_id, "head_seq": head_seq, "error": repr(exc)},
        )
        return False
    return True


def sweep() -> int:
    """Queue the head of every namespace still marked; returns how many were queued."""
    queued = 0
    for shard in range(keys.NOTIFY_SHARDS):
        for namespace_id in store.pending_notify(shard):
            head = int(store.get_namespace(namespace_id).head_seq)
            if publish(namespace_id, head):
                store.clear_pending_notify(namespace_id, head)
                queued += 1
    if queued:
        logger.info("outbox swept", extra={"queued": queued})
    return queued
