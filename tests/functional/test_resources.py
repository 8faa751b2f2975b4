"""resources.create builds the template's tables, bucket and queues in the emulator, once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from infra.local import resources

# Counts move as other tests write; everything else about a resource must stay as it was.
_VOLATILE = {"ItemCount", "TableSizeBytes", "IndexSizeBytes"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def snapshot(stage: str) -> dict[str, Any]:
    """Everything create() could have made or changed for the stage, as the emulator describes it."""
    dynamodb, s3, sqs = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("sqs")
    state: dict[str, Any] = {}
    for table in resources.table_definitions(stage):
        state[table.name] = _strip(dynamodb.describe_table(TableName=table.name)["Table"])
        state[f"{table.name} ttl"] = dynamodb.describe_time_to_live(TableName=table.name)[
            "TimeToLiveDescription"
        ]
    bucket = resources.local_bucket_name(stage)
    state[bucket] = [b for b in s3.list_buckets()["Buckets"] if b["Name"] == bucket]
    for queue in resources.queue_definitions(stage):
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        state[queue.name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return state


@pytest.fixture
def fresh_stage(aws: None) -> str:
    """A stage no other test uses, so create() starts from nothing."""
    return f"t{os.urandom(4).hex()}"


def test_a_second_create_changes_nothing(aws: None) -> None:
    before = snapshot("test")  # the session fixture already ran create("test")
    resources.create("test")
    assert snapshot("test") == before


def test_create_builds_every_table_with_its_indexes_and_ttl(fresh_stage: str) -> None:
    resources.create(fresh_stage)
    dynamodb = boto3.client("dynamodb")
    for table in resources.table_definitions(fresh_stage):
        described = dynamodb.describe_table(TableName=table.name)["Table"]
        assert described["KeySchema"] == table.key_schema
        assert sorted(i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])) == sorted(
            i["IndexName"] for i in table.indexes
        )
        ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if table.ttl_attribute is None:
            assert ttl["TimeToLiveStatus"] == "DISABLED"
        else:
            assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", table.ttl_attribute)
    boto3.client("s3").head_bucket(Bucket=f"driftbox-{fresh_stage}-chunks")


def test_create_makes_the_changes_queue_redrive_to_its_dead_letter_queue(fresh_stage: str) -> None:
    resources.create(fresh_stage)
    sqs = boto3.client("sqs")

    def attributes(name: str) -> dict[str, str]:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        found: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return found

    changes = attributes(f"driftbox-{fresh_stage}-changes")
    dead_letters = attributes(f"driftbox-{fresh_stage}-changes-dlq")
    redrive = json.loads(changes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dead_letters["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert changes["VisibilityTimeout"] == "180"
    assert "RedrivePolicy" not in dead_letters


def test_create_on_a_fresh_stage_is_idempotent(fresh_stage: str) -> None:
    resources.create(fresh_stage)
    before = snapshot(fresh_stage)
    resources.create(fresh_stage)
    assert snapshot(fresh_stage) == before


def test_create_brings_a_drifted_queue_back_to_the_template(fresh_stage: str) -> None:
    resources.create(fresh_stage)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=f"driftbox-{fresh_stage}-changes")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
    resources.create(fresh_stage)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "180"
    }


def _template_without_memberships_index(tmp_path: Path) -> Path:
    doc = resources.load()
    del doc["Resources"]["MembershipsTable"]["Properties"]["GlobalSecondaryIndexes"]
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_create_adds_an_index_the_template_gained(fresh_stage: str, tmp_path: Path) -> None:
    resources.create(fresh_stage, template=_template_without_memberships_index(tmp_path))
    resources.create(fresh_stage)
    table = boto3.client("dynamodb").describe_table(TableName=f"driftbox-{fresh_stage}-memberships")["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by_namespace"]


def test_create_refuses_a_table_whose_keys_differ_from_the_template(fresh_stage: str, tmp_path: Path) -> None:
    boto3.client("dynamodb").create_table(
        TableName=f"driftbox-{fresh_stage}-users",
        AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(RuntimeError, match=f"driftbox-{fresh_stage}-users has keys"):
        resources.create(fresh_stage)
