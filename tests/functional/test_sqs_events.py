"""The local SQS event source: batches, partial failures, redelivery and the DLQ, as Lambda does them."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice.app import Chalice, SQSEvent, SQSEventConfig

from infra.local.sqs_events import BatchFailed, SqsEventSources, failed_message_ids

REGION = "us-east-1"
LAMBDA_RECORD_KEYS = [
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfMessageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
]


@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str
    dlq_url: str


@dataclass(frozen=True)
class Delivery:
    message_id: str
    receive_count: int
    body: str
    request_id: str


class Deliveries:
    """Every record a handler was given, in order; safe to add to from the poller's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Delivery] = []
        self.request_id = ""

    def add(self, message_id: str, receive_count: str, body: str) -> None:
        with self._lock:
            self._items.append(Delivery(message_id, int(receive_count), body, self.request_id))

    def all(self) -> list[Delivery]:
        with self._lock:
            return list(self._items)

    def counts(self, body: str) -> list[int]:
        return [d.receive_count for d in self.all() if d.body == body]


def wait_until(condition: Callable[[], bool], describe: Callable[[], object], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; state: {describe()}")
        time.sleep(0.05)


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def redrive(sqs: Any, dlq_url: str) -> dict[str, str]:
    """A 1 s visibility timeout, so redelivery is quick, and the DLQ after two receives."""
    policy = {"deadLetterTargetArn": queue_arn(sqs, dlq_url), "maxReceiveCount": "2"}
    return {"VisibilityTimeout": "1", "RedrivePolicy": json.dumps(policy)}


def new_queue(sqs: Any, *, fifo: bool = False) -> Queue:
    name = f"events-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
    fifo_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    dlq_url = sqs.create_queue(QueueName=f"dlq-{name}", Attributes=fifo_attributes)["QueueUrl"]
    url = sqs.create_queue(QueueName=name, Attributes=redrive(sqs, dlq_url) | fifo_attributes)["QueueUrl"]
    return Queue(name, url, queue_arn(sqs, url), dlq_url)


def send(sqs: Any, queue: Queue, *bodies: str) -> None:
    entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
    assert not sqs.send_message_batch(QueueUrl=queue.url, Entries=entries).get("Failed")


def message_count(sqs: Any, url: str) -> int:
    """Messages in the queue, visible or in flight."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


def dead_letters(sqs: Any, queue: Queue) -> list[dict[str, Any]]:
    answer = sqs.receive_message(QueueUrl=queue.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return list(answer.get("Messages", []))


def lambda_request_id(event: SQSEvent) -> str:
    context: Any = event.context  # Chalice types it as a dict; Lambda passes its context object
    return str(context.aws_request_id)


def batch_app(queue: Queue, deliveries: Deliveries, fail: Callable[[SQSRecord], bool]) -> Chalice:
    """An app whose handler reports the records ``fail`` picks as failures, as the changes worker does."""
    app = Chalice(app_name="sqs-events-test", configure_logs=False)
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        deliveries.add(record.message_id, record.attributes.approximate_receive_count, record.body)
        if fail(record):
            raise ValueError(f"record {record.body} fails")

    @app.on_sqs_message(queue=queue.name, batch_size=10)
    def consume(event: SQSEvent) -> dict[str, Any]:
        deliveries.request_id = lambda_request_id(event)
        return dict(
            process_partial_response(
                event=event.to_dict(), record_handler=record_handler, processor=processor
            )
        )

    return app


def raw_app(queue: Queue, deliveries: Deliveries, answer: Callable[[list[dict[str, Any]]], Any]) -> Chalice:
    """An app whose handler records the batch, then returns (or raises) whatever ``answer`` does."""
    app = Chalice(app_name="sqs-events-test", configure_logs=False)

    @app.on_sqs_message(queue=queue.name, batch_size=10)
    def consume(event: SQSEvent) -> Any:
        records = event.to_dict()["Records"]
        deliveries.request_id = lambda_request_id(event)
        for record in records:
            deliveries.add(
                record["messageId"], record["attributes"]["ApproximateReceiveCount"], record["body"]
            )
        return answer(records)

    return app


@pytest.fixture
def running() -> Iterator[list[SqsEventSources]]:
    """Event sources a test started; stopped at the end even when the test fails."""
    started: list[SqsEventSources] = []
    yield started
    for sources in started:
        sources.stop()


def start(running: list[SqsEventSources], app: Chalice, sqs: Any) -> SqsEventSources:
    sources = SqsEventSources(app, region=REGION, sqs_client=sqs).start()
    running.append(sources)
    return sources


def test_a_failed_record_is_redelivered_alone(sqs: Any, running: list[SqsEventSources]) -> None:
    queue, deliveries = new_queue(sqs), Deliveries()
    send(sqs, queue, "a", "b", "bad", "c", "d")
    app = batch_app(
        queue, deliveries, lambda r: r.body == "bad" and r.attributes.approximate_receive_count == "1"
    )
    start(running, app, sqs)

    wait_until(
        lambda: deliveries.counts("bad") == [1, 2] and message_count(sqs, queue.url) == 0, deliveries.all
    )
    first = deliveries.all()[:5]
    assert {d.body for d in first} == {"a", "b", "bad", "c", "d"}
    assert len({d.request_id for d in first}) == 1, "the five messages came in one batch"
    for body in "abcd":
        assert deliveries.counts(body) == [1]
    assert dead_letters(sqs, queue) == []


def test_a_record_that_always_fails_ends_in_the_dlq(sqs: Any, running: list[SqsEventSources]) -> None:
    queue, deliveries = new_queue(sqs), Deliveries()
    send(sqs, queue, "poison", "fine")
    start(running, batch_app(queue, deliveries, lambda r: r.body == "poison"), sqs)

    # moto moves the message on the receive after its second: the poller has no DLQ code.
    wait_until(
        lambda: message_count(sqs, queue.dlq_url) == 1 and message_count(sqs, queue.url) == 0, deliveries.all
    )
    [dead] = dead_letters(sqs, queue)
    assert dead["Body"] == "poison"
    assert {d.message_id for d in deliveries.all() if d.body == "poison"} == {dead["MessageId"]}
    assert deliveries.counts("poison") == [1, 2]
    assert deliveries.counts("fine") == [1]


def test_a_handler_that_raises_leaves_the_whole_batch(sqs: Any, running: list[SqsEventSources]) -> None:
    queue, deliveries = new_queue(sqs), Deliveries()
    send(sqs, queue, "x", "y", "z")

    def answer(records: list[dict[str, Any]]) -> None:
        if any(r["attributes"]["ApproximateReceiveCount"] == "1" for r in records):
            raise RuntimeError("the whole invocation fails")

    start(running, raw_app(queue, deliveries, answer), sqs)

    done = lambda: all(deliveries.counts(b) == [1, 2] for b in "xyz") and message_count(sqs, queue.url) == 0  # noqa: E731
    wait_until(done, deliveries.all)
    assert dead_letters(sqs, queue) == []


def test_a_malformed_partial_response_fails_the_whole_batch(sqs: Any, running: list[SqsEventSources]) -> None:
    queue, deliveries = new_queue(sqs), Deliveries()
    send(sqs, queue, "x", "y")

    def answer(records: list[dict[str, Any]]) -> dict[str, Any]:
        if records[0]["attributes"]["ApproximateReceiveCount"] == "1":
            return {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-this-batch"}]}
        return {"batchItemFailures": []}

    start(running, raw_app(queue, deliveries, answer), sqs)

    done = lambda: all(deliveries.counts(b) == [1, 2] for b in "xy") and message_count(sqs, queue.url) == 0  # noqa: E731
    wait_until(done, deliveries.all)


def test_a_batching_window_gathers_more_than_one_receive(sqs: Any, running: list[SqsEventSources]) -> None:
    queue, deliveries = new_queue(sqs), Deliveries()
    bodies = [f"m{i}" for i in range(15)]
    send(sqs, queue, *bodies[:10])
    send(sqs, queue, *bodies[10:])
    app = Chalice(app_name="window", configure_logs=False)
    batches: list[int] = []

    @app.on_sqs_message(queue=queue.name, batch_size=15, maximum_batching_window_in_seconds=5)
    def consume(event: SQSEvent) -> None:
        records = event.to_dict()["Records"]
        for record in records:
            deliveries.add(
                record["messageId"], record["attributes"]["ApproximateReceiveCount"], record["body"]
            )
        batches.append(len(records))

    start(running, app, sqs)
    wait_until(lambda: message_count(sqs, queue.url) == 0, deliveries.all)
    assert batches == [15], "ReceiveMessage gives at most 10: the window gathered the rest"
    assert sorted(d.body for d in deliveries.all()) == sorted(bodies)


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}, BatchFailed),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, BatchFailed),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, BatchFailed),
        ({"batchItemFailures": [{"id": "m1"}]}, BatchFailed),
        ({"batchItemFailures": ["m1"]}, BatchFailed),
        ({"batchItemFailures": "m1"}, BatchFailed),
        ("ok", BatchFailed),
        ({"batchItemFailures": [], "when": object()}, BatchFailed),
    ],
)
def test_partial_batch_responses_are_read_as_lambda_reads_them(response: Any, failed: Any) -> None:
    if failed is BatchFailed:
        with pytest.raises(BatchFailed):
            failed_message_ids(response, ["m1", "m2"])
    else:
        assert failed_message_ids(response, ["m1", "m2"]) == failed


def test_the_event_and_context_are_lambdas(sqs: Any, running: list[SqsEventSources]) -> None:
    queue, fifo = new_queue(sqs), new_queue(sqs, fifo=True)
    seen: list[tuple[dict[str, Any], Any]] = []
    app = Chalice(app_name="shapes", configure_logs=False)

    @app.on_sqs_message(queue=queue.name)
    def standard(event: SQSEvent) -> None:
        seen.append((event.to_dict(), event.context))

    @app.on_sqs_message(queue_arn=fifo.arn)
    def ordered(event: SQSEvent) -> None:
        seen.append((event.to_dict(), event.context))

    sqs.send_message(
        QueueUrl=queue.url,
        MessageBody="hello",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "size": {"DataType": "Number", "StringValue": "5"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )
    sqs.send_message(QueueUrl=fifo.url, MessageBody="first", MessageGroupId="g1")
    start(running, app, sqs)
    wait_until(lambda: len(seen) == 2, lambda: seen)

    by_arn = {event["Records"][0]["eventSourceARN"]: (event, context) for event, context in seen}
    event, context = by_arn[queue.arn]
    [record] = event["Records"]
    assert list(record) == LAMBDA_RECORD_KEYS
    assert record["eventSource"] == "aws:sqs"
    assert record["awsRegion"] == REGION
    assert record["body"] == "hello"
    assert record["md5OfBody"] == hashlib.md5(b"hello").hexdigest()  # noqa: S324 - SQS's own checksum
    assert record["md5OfMessageAttributes"]
    assert list(record["attributes"]) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "kind": {
            "stringValue": "greeting",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "size": {"stringValue": "5", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "raw": {"binaryValue": "AP8=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    assert context.function_name == "shapes-dev-standard"
    assert (
        context.invoked_function_arn
        == f"arn:aws:lambda:{REGION}:{queue.arn.split(':')[4]}:function:shapes-dev-standard"
    )
    assert context.memory_limit_in_mb == "128"
    assert 0 < context.get_remaining_time_in_millis() <= 60_000
    uuid.UUID(context.aws_request_id)

    event, context = by_arn[fifo.arn]
    [record] = event["Records"]
    assert list(record) == LAMBDA_RECORD_KEYS
    assert record["messageAttributes"] == {}
    assert record["md5OfMessageAttributes"] is None
    assert record["attributes"]["MessageGroupId"] == "g1"
    assert "MessageDeduplicationId" in record["attributes"]
    assert context.function_name == "shapes-dev-ordered"


def test_stop_returns_promptly_and_abandons_a_batch_still_running(sqs: Any) -> None:
    queue, deliveries = new_queue(sqs), Deliveries()
    entered, release = threading.Event(), threading.Event()

    def answer(records: list[dict[str, Any]]) -> None:
        entered.set()
        release.wait(30)

    # No client given: it makes its own, which finds the emulator through AWS_ENDPOINT_URL.
    idle = SqsEventSources(raw_app(new_queue(sqs), Deliveries(), lambda r: None), region=REGION).start()
    idle.stop()
    wait_until(lambda: not idle.running, lambda: "poller still running")

    busy = SqsEventSources(raw_app(queue, deliveries, answer), region=REGION, sqs_client=sqs).start()
    try:
        send(sqs, queue, "slow")
        assert entered.wait(30)
        busy.stop(grace_s=0.2)
    finally:
        release.set()
    wait_until(lambda: not busy.running, lambda: "poller still running")
    # The handler returned after stop() gave up on it: its message is not deleted, and comes back.
    assert message_count(sqs, queue.url) == 1
    assert deliveries.counts("slow") == [1]


class RecordingSqs:
    """The SQS client, counting how often each message was received and deleted through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}
        self.received: Counter[str] = Counter()
        self.deleted: Counter[str] = Counter()

    def receive_message(self, **kwargs: Any) -> Any:
        answer = self._client.receive_message(**kwargs)
        with self._lock:
            for message in answer.get("Messages", []):
                self._ids[message["ReceiptHandle"]] = message["MessageId"]
                self.received[message["MessageId"]] += 1
        return answer

    def delete_message_batch(self, **kwargs: Any) -> Any:
        answer = self._client.delete_message_batch(**kwargs)
        handles = {entry["Id"]: entry["ReceiptHandle"] for entry in kwargs["Entries"]}
        with self._lock:
            for done in answer.get("Successful", []):
                self.deleted[self._ids[handles[done["Id"]]]] += 1
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def changes_queue(sqs: Any) -> Iterator[tuple[Chalice, Queue]]:
    """The real app and its changes queue, given a DLQ for the test and put back as it was after."""
    from app import app

    [config] = [c for c in app.event_sources if isinstance(c, SQSEventConfig)]
    assert config.queue, "the app names its changes queue"
    try:
        url = sqs.get_queue_url(QueueName=config.queue)["QueueUrl"]
        before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    except sqs.exceptions.QueueDoesNotExist:
        url, before = sqs.create_queue(QueueName=config.queue)["QueueUrl"], None
    # Other tests' commits queue their changes here (and PurgeQueue may run once a minute only).
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    dlq_url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=redrive(sqs, dlq_url))
    yield app, Queue(config.queue, url, queue_arn(sqs, url), dlq_url)
    if before is None:
        sqs.delete_queue(QueueUrl=url)
    else:
        restored = {
            "VisibilityTimeout": before["VisibilityTimeout"],
            "RedrivePolicy": before.get("RedrivePolicy", ""),
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes=restored)
    sqs.delete_queue(QueueUrl=dlq_url)


def test_the_changes_worker_dead_letters_invalid_changes(
    sqs: Any, changes_queue: tuple[Chalice, Queue], running: list[SqsEventSources]
) -> None:
    app, queue = changes_queue
    valid = json.dumps({"namespace_id": f"ns_{uuid.uuid4().hex[:24]}", "head_seq": 1})
    invalid = ["not json", json.dumps({"namespace_id": "ns_1", "seq": 1})]
    send(sqs, queue, valid, *invalid)
    recording = RecordingSqs(sqs)
    start(running, app, recording)

    done = lambda: message_count(sqs, queue.dlq_url) == 2 and message_count(sqs, queue.url) == 0  # noqa: E731
    wait_until(done, lambda: (recording.received, recording.deleted))
    dead = {m["Body"]: m["MessageId"] for m in dead_letters(sqs, queue)}
    assert sorted(dead) == sorted(invalid)
    assert all(recording.received[id_] == 2 and recording.deleted[id_] == 0 for id_ in dead.values())
    [valid_id] = set(recording.received) - set(dead.values())
    assert (recording.received[valid_id], recording.deleted[valid_id]) == (1, 1)
