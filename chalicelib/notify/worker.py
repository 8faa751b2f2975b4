"""The changes worker: one SQS message per landed commit, pushed to the namespace's members.

Each record is handled on its own; a record that raises is reported as that item's failure only
(Powertools' partial batch response), so SQS redelivers just it, and after the queue's
``maxReceiveCount`` moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.adapters import connections as store
from chalicelib.notify import gateway

logger = Logger(service="driftbox", child=True)
processor = BatchProcessor(event_type=EventType.SQS)


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    namespace_id: str = Field(pattern=r"^ns_[0-9a-f]{24}$")
    head_seq: int = Field(ge=0)


def push(change: Change) -> int:
    """Send the change to every open socket of every member; forget sockets that are gone."""
    message = json.dumps({"type": "changed", **change.model_dump()})
    sent = 0
    for user_id in store.members(change.namespace_id):
        for connection in store.of_user(user_id):
            try:
                gateway.send(connection.connection_id, message)
                sent += 1
            except gateway.Gone:
                store.delete(connection.connection_id)
    return sent


def _record(record: SQSRecord) -> None:
    change = Change.model_validate_json(record.body)
    sent = push(change)
    logger.info("pushed", extra={"namespace_id": change.namespace_id, "sockets": sent})


def handle(event: dict[str, Any]) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=_record, processor=processor))
