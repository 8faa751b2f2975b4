"""Creates infra/template.yaml's tables, bucket and queues in the AWS emulator, for one stage.

The template is the one description of Driftbox's resources: AWS gets them from it through
CloudFormation, the local stack and the tests through ``create``, which reads the same file. The
template's intrinsic functions are resolved with the stage and a local account and region.

Locally, some properties have no meaning and are not applied: point-in-time recovery, encryption,
the bucket's policies and lifecycle. Names follow the template, with one rule of our own: the
bucket's name drops the ``-${AWS::AccountId}-${AWS::Region}`` suffix that makes it unique across
AWS, so it is ``driftbox-<stage>-chunks``, the ``CHUNK_BUCKET`` of .chalice/config.json.

``create`` converges: what exists and matches is left alone, so a second call changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"

# What makes the deployed bucket's name globally unique; dropped locally (see the docstring).
GLOBAL_BUCKET_SUFFIX = "-${AWS::AccountId}-${AWS::Region}"
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"

# The queue properties that mean the same locally, by their name in both CloudFormation and SQS.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class TableDefinition:
    logical_id: str
    name: str
    attribute_types: dict[str, str]  # attribute name -> "S", "N" or "B"
    key_schema: list[dict[str, str]]  # [{"AttributeName", "KeyType"}], as CloudFormation and the API
    indexes: list[dict[str, Any]]  # GlobalSecondaryIndexes: IndexName, KeySchema, Projection
    ttl_attribute: str | None

    def create_table_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "TableName": self.name,
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in self.attribute_types.items()
            ],
            "KeySchema": self.key_schema,
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            args["GlobalSecondaryIndexes"] = self.indexes
        return args


@dataclass(frozen=True)
class QueueDefinition:
    logical_id: str
    name: str
    attributes: dict[str, str]  # SQS attributes, as strings, RedrivePolicy aside
    dead_letter_queue: str | None  # logical id of the queue RedrivePolicy sends to
    max_receive_count: int | None

    def sqs_attributes(self, arns: Mapping[str, str]) -> dict[str, str]:
        """The attributes to create the queue with, given the ARNs of queues by logical id."""
        if self.dead_letter_queue is None:
            return dict(self.attributes)
        redrive = {
            "deadLetterTargetArn": arns[self.dead_letter_queue],
            "maxReceiveCount": self.max_receive_count,
        }
        return {**self.attributes, "RedrivePolicy": json.dumps(redrive)}


def load(template: Path = TEMPLATE) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(template.read_text(encoding="utf-8"))
    return doc


def table_definitions(stage: str, template: Path = TEMPLATE) -> list[TableDefinition]:
    doc = load(template)
    return _tables(doc, _values(doc, stage, DEFAULT_REGION))


def queue_definitions(stage: str, template: Path = TEMPLATE) -> list[QueueDefinition]:
    """The queues, each after the dead-letter queue it sends to: the order to create them in."""
    doc = load(template)
    return _queues(doc, _values(doc, stage, DEFAULT_REGION))


def local_bucket_name(stage: str, template: Path = TEMPLATE) -> str:
    """The chunk bucket's local name: the template's, without its global-uniqueness suffix."""
    doc = load(template)
    return _bucket(doc, _values(doc, stage, DEFAULT_REGION))


def create(stage: str, template: Path = TEMPLATE) -> None:
    """Create the stage's tables, bucket and queues where boto3 points (AWS_ENDPOINT_URL)."""
    region = boto3.session.Session().region_name or DEFAULT_REGION
    doc = load(template)
    values = _values(doc, stage, region)
    dynamodb = boto3.client("dynamodb", region_name=region)
    for table in _tables(doc, values):
        _ensure_table(dynamodb, table)
    _ensure_bucket(boto3.client("s3", region_name=region), _bucket(doc, values), region)
    sqs = boto3.client("sqs", region_name=region)
    arns: dict[str, str] = {}
    for queue in _queues(doc, values):
        arns[queue.logical_id] = _ensure_queue(sqs, queue, arns)


def resolve(value: Any, values: Mapping[str, str]) -> str:
    """A plain string, ``{"Ref": name}`` or a one-string ``Fn::Sub``, resolved from ``values``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in values:
        return values[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stands for the text ${Literal}
                return "${" + name[1:] + "}"
            if name not in values:
                raise ValueError(f"cannot resolve ${{{name}}} locally")
            return values[name]

        return _SUB_VARIABLE.sub(one, value["Fn::Sub"])
    raise ValueError(f"cannot resolve {value!r} locally")


def _values(doc: dict[str, Any], stage: str, region: str) -> dict[str, str]:
    """What ``Ref`` and ``Fn::Sub`` resolve to locally; the stage must fit the template's rule."""
    pattern = doc["Parameters"]["Stage"].get("AllowedPattern", ".*")
    if not re.fullmatch(pattern, stage):
        raise ValueError(f"stage {stage!r} does not match the template's pattern {pattern}")
    return {
        "Stage": stage,
        "AWS::AccountId": LOCAL_ACCOUNT_ID,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": f"driftbox-{stage}",
    }


def _of_type(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The properties of the template's resources of one type, by logical id."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in doc["Resources"].items()
        if resource.get("Type") == kind
    }


def _tables(doc: dict[str, Any], values: Mapping[str, str]) -> list[TableDefinition]:
    tables = []
    for logical_id, props in _of_type(doc, "AWS::DynamoDB::Table").items():
        if "LocalSecondaryIndexes" in props:
            raise ValueError(f"{logical_id}: local secondary indexes are not supported here")
        ttl = props.get("TimeToLiveSpecification") or {}
        tables.append(
            TableDefinition(
                logical_id=logical_id,
                name=resolve(props["TableName"], values),
                attribute_types={
                    a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]
                },
                key_schema=list(props["KeySchema"]),
                indexes=list(props.get("GlobalSecondaryIndexes", [])),
                ttl_attribute=ttl["AttributeName"] if ttl.get("Enabled") else None,
            )
        )
    return tables


def _queues(doc: dict[str, Any], values: Mapping[str, str]) -> list[QueueDefinition]:
    queues = []
    for logical_id, props in _of_type(doc, "AWS::SQS::Queue").items():
        redrive = props.get("RedrivePolicy")
        dead_letter_queue = None
        if redrive is not None:
            target = redrive["deadLetterTargetArn"]
            if not (isinstance(target, dict) and set(target) == {"Fn::GetAtt"}):
                raise ValueError(f"{logical_id}: deadLetterTargetArn must be a Fn::GetAtt of a queue here")
            dead_letter_queue = target["Fn::GetAtt"][0]
        queues.append(
            QueueDefinition(
                logical_id=logical_id,
                name=resolve(props["QueueName"], values),
                attributes={k: str(props[k]) for k in _QUEUE_ATTRIBUTES if k in props},
                dead_letter_queue=dead_letter_queue,
                max_receive_count=int(redrive["maxReceiveCount"]) if redrive is not None else None,
            )
        )
    ordered: list[QueueDefinition] = []
    while queues:
        done = {q.logical_id for q in ordered}
        ready = [q for q in queues if q.dead_letter_queue is None or q.dead_letter_queue in done]
        if not ready:
            raise ValueError("the queues' RedrivePolicy targets form a cycle or name a missing queue")
        ordered += ready
        queues = [q for q in queues if q not in ready]
    return ordered


def _bucket(doc: dict[str, Any], values: Mapping[str, str]) -> str:
    buckets = _of_type(doc, "AWS::S3::Bucket")
    if len(buckets) != 1:
        raise ValueError(f"the template must define one bucket, not {len(buckets)}")
    (props,) = buckets.values()
    name = props["BucketName"]
    if not (isinstance(name, dict) and str(name.get("Fn::Sub", "")).endswith(GLOBAL_BUCKET_SUFFIX)):
        raise ValueError(f"the bucket's name must be a Fn::Sub ending in {GLOBAL_BUCKET_SUFFIX}")
    return resolve({"Fn::Sub": name["Fn::Sub"].removesuffix(GLOBAL_BUCKET_SUFFIX)}, values)


def _ensure_table(dynamodb: Any, table: TableDefinition) -> None:
    try:
        existing = dynamodb.describe_table(TableName=table.name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        dynamodb.create_table(**table.create_table_args())
        dynamodb.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 1})
        existing = None
    if existing is not None:
        if existing["KeySchema"] != table.key_schema:
            raise RuntimeError(
                f"table {table.name} has keys {existing['KeySchema']}, the template says "
                f"{table.key_schema}: delete the table (or the local data) to recreate it"
            )
        have = {index["IndexName"] for index in existing.get("GlobalSecondaryIndexes", [])}
        for index in table.indexes:
            if index["IndexName"] not in have:
                dynamodb.update_table(
                    TableName=table.name,
                    AttributeDefinitions=table.create_table_args()["AttributeDefinitions"],
                    GlobalSecondaryIndexUpdates=[{"Create": index}],
                )
    if table.ttl_attribute is not None:
        ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        enabled = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        if not (enabled and ttl.get("AttributeName") == table.ttl_attribute):
            dynamodb.update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
            )


def _ensure_bucket(s3: Any, name: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _ensure_queue(sqs: Any, queue: QueueDefinition, arns: Mapping[str, str]) -> str:
    """Create the queue, or bring an existing one's attributes to the template's; return its ARN."""
    wanted = queue.sqs_attributes(arns)
    try:
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=queue.name, Attributes=wanted)["QueueUrl"]
    have = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    changed = {name: value for name, value in wanted.items() if not _same(name, have.get(name), value)}
    if changed:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
    return str(have["QueueArn"])


def _same(name: str, have: str | None, want: str) -> bool:
    if have is None:
        return False
    if name == "RedrivePolicy":  # SQS may give maxReceiveCount back as a string
        a, b = json.loads(have), json.loads(want)
        return bool(
            a["deadLetterTargetArn"] == b["deadLetterTargetArn"]
            and int(a["maxReceiveCount"]) == int(b["maxReceiveCount"])
        )
    return have == want
