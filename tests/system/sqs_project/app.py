"""A Chalice app whose SQS handler fails on purpose, to show the local stack's SQS event source.

Each record is written to the file named by DELIVERIES_FILE as it arrives. A body starting with
"flaky" fails on its first receive only; "poison" always fails.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice.app import Chalice, SQSEvent

app = Chalice(app_name="sqs-fixture")
processor = BatchProcessor(event_type=EventType.SQS)
_write = threading.Lock()


def _record(record: SQSRecord) -> None:
    receives = int(record.attributes.approximate_receive_count)
    with _write, open(os.environ["DELIVERIES_FILE"], "a") as out:
        out.write(json.dumps({"id": record.message_id, "body": record.body, "receives": receives}) + "\n")
    if record.body.startswith("poison") or (record.body.startswith("flaky") and receives == 1):
        raise RuntimeError(f"failing {record.body} on purpose")


@app.on_sqs_message(queue="sqs-fixture-dev-jobs", batch_size=10)
def work(event: SQSEvent) -> dict[str, Any]:
    return dict(process_partial_response(event=event.to_dict(), record_handler=_record, processor=processor))
