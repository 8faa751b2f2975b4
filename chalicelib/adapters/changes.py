"""SQS side of change messages: one ``{namespace_id, head_seq}`` per landed commit."""

from __future__ import annotations

import functools
import json
from typing import Any

from botocore.config import Config

from chalicelib.adapters import aws
from chalicelib.settings import SETTINGS

# Queuing is on the commit's path and a failure there is recovered by the outbox sweep, so the
# commit waits briefly for SQS rather than for botocore's default minute of retries.
_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})


def _client() -> Any:
    return aws.client("sqs", config=_CONFIG)


@functools.cache
def _queue_url(name: str, account: str | None = None) -> str:
    owner = {"QueueOwnerAWSAccountId": account} if account else {}
    url: str = _client().get_queue_url(QueueName=name, **owner)["QueueUrl"]
    return url


def send(namespace_id: str, head_seq: int) -> None:
    body = json.dumps({"namespace_id": namespace_id, "head_seq": head_seq}, separators=(",", ":"))
    _client().send_message(QueueUrl=_queue_url(SETTINGS.changes_queue_name), MessageBody=body)


def retry_in(queue_arn: str, receipt_handle: str, delay_s: int) -> None:
    """Make a received message visible again after ``delay_s`` instead of the queue's timeout."""
    _, _, _, _, account, name = queue_arn.split(":")
    _client().change_message_visibility(
        QueueUrl=_queue_url(name, account), ReceiptHandle=receipt_handle, VisibilityTimeout=delay_s
    )
