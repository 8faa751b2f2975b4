"""The changes worker: SQS messages ``{namespace_id, head_seq}``, pushed to the namespace's sockets.

- Each record stands alone: one that raises is reported as that item's failure only (Powertools'
  partial batch response), so SQS redelivers just it; after the queue's ``maxReceiveCount`` it
  moves to the dead-letter queue.
- A failed record comes back after 2, 4, 8... seconds (its visibility is shortened), not after
  the queue's visibility timeout: a push is only useful while it is news.
- Duplicates are harmless: pushes are idempotent per ``(namespace_id, head_seq)`` (Powertools
  idempotency, in the idempotency table), and within a batch only the newest change of each
  namespace is pushed, since it covers the older ones (clients read by cursor).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.adapters import aws, changes
from chalicelib.notify import fanout
from chalicelib.settings import SETTINGS

logger = Logger(service="driftbox", child=True)
_IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="[namespace_id, head_seq]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=3600,
)
MAX_RETRY_DELAY_S = 60


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    namespace_id: str = Field(pattern=r"^ns_[0-9a-f]{24}$")
    head_seq: int = Field(ge=1)


@functools.cache
def _push_once() -> Callable[..., dict[str, int]]:
    # Built on first use: the REST functions import this module and never push.
    persistence = DynamoDBPersistenceLayer(
        table_name=SETTINGS.idempotency_table,
        key_attr="key",
        expiry_attr="expires_at",
        boto3_client=aws.client("dynamodb"),
    )

    def push(change: Change) -> dict[str, int]:
        return fanout.push(change.namespace_id, change.head_seq).as_dict()

    decorated: Callable[..., dict[str, int]] = idempotent_function(
        data_keyword_argument="change", persistence_store=persistence, config=_IDEMPOTENCY
    )(push)
    return decorated


def _parse(record: dict[str, Any]) -> Change | None:
    try:
        return Change.model_validate_json(record.get("body") or "")
    except ValidationError:
        return None


def retry_delay_s(receive_count: int) -> int:
    """2 s after the first failure, doubling, at most ``MAX_RETRY_DELAY_S``."""
    return int(min(2 ** max(receive_count, 1), MAX_RETRY_DELAY_S))


def _retry_soon(records: list[dict[str, Any]], failed_ids: set[str]) -> None:
    for record in records:
        if record["messageId"] not in failed_ids:
            continue
        count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            changes.retry_in(record["eventSourceARN"], record["receiptHandle"], retry_delay_s(count))
        except (BotoCoreError, ClientError, ValueError) as exc:  # it then waits the full timeout
            logger.warning("could not shorten a retry", extra={"error": repr(exc)})


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    records: list[dict[str, Any]] = event.get("Records", [])
    newest: dict[str, int] = {}
    for change in filter(None, map(_parse, records)):
        newest[change.namespace_id] = max(newest.get(change.namespace_id, 0), change.head_seq)
    if context is not None:
        _IDEMPOTENCY.register_lambda_context(context)

    def on_record(record: SQSRecord) -> str:
        change = Change.model_validate_json(record.body)  # a malformed one fails alone
        if change.head_seq < newest[change.namespace_id]:
            return "covered by a newer change in this batch"
        outcome = _push_once()(change=change)
        logger.info(
            "pushed", extra={"namespace_id": change.namespace_id, "head_seq": change.head_seq, **outcome}
        )
        return "pushed"

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response: dict[str, Any] = dict(
        process_partial_response(event=event, record_handler=on_record, processor=processor)
    )
    items: list[dict[str, str]] = response.get("batchItemFailures", [])
    failed = {item["itemIdentifier"] for item in items}
    if failed:
        logger.warning("changes not pushed; retrying soon", extra={"failed": len(failed), "of": len(records)})
        _retry_soon(records, failed)
    return response
