"""Lambda's SQS event source in the local stack: partial batch failures, redelivery, dead letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from tests.system.conftest import wait_for

FIXTURE = Path(__file__).parent / "sqs_project"


def test_a_failing_message_comes_again_the_others_once_and_poison_ends_in_the_dlq(
    make_stack: Any, tmp_path: Path
) -> None:
    deliveries = tmp_path / "deliveries.jsonl"
    deliveries.touch()
    stack = make_stack(tmp_path / "data", project_dir=FIXTURE, DELIVERIES_FILE=str(deliveries))
    sqs = boto3.client("sqs", endpoint_url=stack.aws, region_name="us-east-1")
    queue = sqs.get_queue_url(QueueName="sqs-fixture-dev-jobs")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="sqs-fixture-dev-jobs-dlq")["QueueUrl"]
    bodies = ["ok-1", "flaky-1", "ok-2", "poison-1", "ok-3"]
    sqs.send_message_batch(
        QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )

    def seen() -> list[dict[str, Any]]:
        return [json.loads(line) for line in deliveries.read_text().splitlines()]

    def dead() -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    dead_letters = wait_for(dead, timeout=60, what="the poison message in the dead-letter queue")
    assert [m["Body"] for m in dead_letters] == ["poison-1"]
    wait_for(lambda: any(d["body"] == "flaky-1" and d["receives"] == 2 for d in seen()), what="flaky-1 again")

    by_body: dict[str, list[int]] = {}
    for delivery in seen():
        by_body.setdefault(delivery["body"], []).append(delivery["receives"])
    assert by_body == {"ok-1": [1], "ok-2": [1], "ok-3": [1], "flaky-1": [1, 2], "poison-1": [1, 2]}
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
