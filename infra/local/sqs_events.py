"""Lambda's SQS event source on this machine: deliver queue messages to the app's SQS handlers.

``chalice local`` never fires ``@app.on_sqs_message`` handlers. This runs one poller thread per
SQS event source the app declares, behaving like Lambda's event source mapping with
``FunctionResponseTypes: [ReportBatchItemFailures]``:

- it long-polls the queue for up to ``batch_size`` messages, gathering for up to the batching
  window once the first message is in, and builds the event exactly as Lambda does;
- it calls the handler Chalice registered as Lambda would, ``handler(event, context)``;
- on success it deletes every message the response does not list in ``batchItemFailures``; if the
  handler raises, overruns its timeout, or returns a response Lambda would reject, nothing is
  deleted; messages left undeleted reappear after the queue's visibility timeout;
- the dead-letter queue is the emulator's job, as it is SQS's: moto moves a message to the
  queue's DLQ when it is received again after ``maxReceiveCount`` receives.

Not emulated: Lambda's concurrent batches per function (one batch at a time per source here) and
its scaling, the 6 MB limit on a batch, separate execution environments (every handler shares this
process's modules), and killing a handler at its timeout: Python cannot stop a thread, so a late
handler runs on and its batch counts as failed. FIFO records lack ``SequenceNumber``, which moto's
ReceiveMessage does not return.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from chalice.app import Chalice, SQSEventConfig

from infra.local.event_sources import Worker, Workers
from infra.local.lambda_context import LambdaContext

log = logging.getLogger("driftbox.local.sqs")

POLL_WAIT_S = 1  # short long-polls, so that stop() is prompt
_LAMBDA_ATTRIBUTE_ORDER = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
)


class BatchFailed(Exception):
    """Lambda would count the whole batch as failed and delete nothing."""


@dataclass(frozen=True)
class SqsSource:
    """One ``@app.on_sqs_message`` handler and the queue it is bound to."""

    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window_s: int
    function_name: str

    @property
    def region(self) -> str:
        return self.queue_arn.split(":")[3]


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from one message of ReceiveMessage's answer."""
    received = message.get("Attributes", {})
    attributes = {k: received[k] for k in _LAMBDA_ATTRIBUTE_ORDER if k in received}
    attributes |= {k: v for k, v in sorted(received.items()) if k not in attributes}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: _lambda_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        # Lambda sends null here when the message has no attributes.
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = b64(value["BinaryValue"])
    shaped["stringListValues"] = list(value.get("StringListValues", []))
    shaped["binaryListValues"] = [b64(v) for v in value.get("BinaryListValues", [])]
    shaped["dataType"] = value["DataType"]
    return shaped


def failed_message_ids(response: Any, message_ids: Sequence[str]) -> set[str]:
    """The ids a partial batch response reports as failed; BatchFailed where Lambda fails it all."""
    try:
        # What Lambda receives is the response as JSON; one that won't serialise is an error.
        response = json.loads(json.dumps(response))
    except (TypeError, ValueError) as exc:
        raise BatchFailed(f"response is not JSON: {exc}") from exc
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise BatchFailed(f"response is a {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise BatchFailed("batchItemFailures is not a list")
    failed = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in message_ids:
            raise BatchFailed(f"batchItemFailures names no message of the batch: {failure!r}")
        failed.add(item)
    return failed


def discover(app: Chalice, sqs: Any, *, stage: str = "dev") -> list[SqsSource]:
    """Every SQS event source the app declares, with its queue resolved (the queue must exist)."""
    sources = []
    for config in app.event_sources:
        if not isinstance(config, SQSEventConfig):
            continue
        if config.queue_arn:
            *_, account_id, queue_name = config.queue_arn.split(":")
            url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account_id)["QueueUrl"]
        else:
            url = sqs.get_queue_url(QueueName=config.queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sources.append(
            SqsSource(
                name=config.name,
                handler=app.handler_map[config.name],
                queue_url=url,
                queue_arn=arn,
                batch_size=config.batch_size,
                batching_window_s=config.maximum_batching_window_in_seconds,
                function_name=f"{app.app_name}-{stage}-{config.name}",
            )
        )
    return sources


class _Poller:
    """One source's loop: receive a batch, invoke the handler, delete what succeeded."""

    def __init__(
        self, source: SqsSource, sqs: Any, stopping: threading.Event, limits: tuple[int, int]
    ) -> None:
        self.source = source
        self._sqs = sqs
        self._stopping = stopping
        self._timeout_s, self._memory_mb = limits
        # Set by stop() when a handler outlives the grace period: its batch is left to reappear.
        self.abandoned = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"sqs-{source.name}", daemon=True)

    def _run(self) -> None:
        backoff_s = 1.0
        while not self._stopping.is_set():
            try:
                messages = self._receive_batch()
                # Received after stop() began: not invoked, so they reappear after the visibility timeout.
                if messages and not self._stopping.is_set():
                    self._process(messages)
                backoff_s = 1.0
            except Exception as exc:  # the emulator down or the queue gone: retry, more slowly
                log.warning("sqs poll failed queue=%s error=%r", self.source.queue_url, exc)
                self._stopping.wait(backoff_s)
                backoff_s = min(backoff_s * 2, 8.0)

    def _receive_batch(self) -> list[dict[str, Any]]:
        """Up to batch_size messages: whatever the first poll finds, then more within the window."""
        batch: dict[str, dict[str, Any]] = {}
        deadline: float | None = None
        while not self._stopping.is_set():
            wait_s = POLL_WAIT_S
            if deadline is not None:
                wait_s = min(POLL_WAIT_S, max(0, math.ceil(deadline - time.monotonic())))
            answer = self._sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(batch)),
                WaitTimeSeconds=wait_s,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch |= {m["MessageId"]: m for m in answer.get("Messages", [])}
            if not batch:
                return []
            if deadline is None:
                deadline = time.monotonic() + self.source.batching_window_s
            if len(batch) >= self.source.batch_size or time.monotonic() >= deadline:
                break
        return list(batch.values())

    def _process(self, messages: list[dict[str, Any]]) -> None:
        source = self.source
        event = {"Records": [lambda_record(m, source.queue_arn) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        started = time.monotonic()
        outcome, error, failed = "ok", "", set()
        raised: BaseException | None = None
        try:
            response = source.handler(event, self._context())
            if time.monotonic() - started > self._timeout_s:
                raise BatchFailed(f"Task timed out after {self._timeout_s} seconds")
            failed = failed_message_ids(response, ids)
            outcome = "partial" if failed else "ok"
        except BatchFailed as exc:
            outcome, error, failed = "rejected", str(exc), set(ids)
        except BaseException as exc:  # a handler must never end the poller, as in Lambda
            outcome, error, failed, raised = "error", repr(exc), set(ids), exc
        duration_ms = (time.monotonic() - started) * 1000
        if self.abandoned.is_set():
            outcome, failed = "abandoned", set(ids)
        else:
            self._delete([m for m in messages if m["MessageId"] not in failed])
        log.log(
            logging.INFO if outcome in ("ok", "partial") else logging.WARNING,
            "sqs batch queue=%s size=%d failed=%d outcome=%s duration_ms=%.0f%s",
            source.queue_arn.rsplit(":", 1)[-1],
            len(messages),
            len(failed),
            outcome,
            duration_ms,
            f" error={error}" if error else "",
            exc_info=raised,
        )

    def _context(self) -> LambdaContext:
        return LambdaContext.for_function(
            self.source.function_name,
            timeout_s=self._timeout_s,
            memory_mb=self._memory_mb,
            region=self.source.region,
        )

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            try:
                answer = self._sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=entries)
            except Exception as exc:
                log.warning("sqs delete failed queue=%s error=%r", self.source.queue_url, exc)
                continue
            for failure in answer.get("Failed", []):
                log.warning("sqs delete failed queue=%s entry=%s", self.source.queue_url, failure)


class SqsEventSources(Workers):
    """Pollers for every SQS event source of a Chalice app, started and stopped together."""

    what = "SQS event sources"

    def __init__(
        self,
        app: Chalice,
        *,
        region: str,
        sqs_client: Any = None,
        stage: str = "dev",
        function_timeout_s: int = 60,
        memory_mb: int = 128,
    ) -> None:
        super().__init__()
        self._app = app
        self._sqs = sqs_client or boto3.client("sqs", region_name=region)
        self._stage = stage
        self._limits = (function_timeout_s, memory_mb)

    @property
    def sources(self) -> list[SqsSource]:
        return super().sources

    def _workers_for(self, stopping: threading.Event) -> list[Worker]:
        """Resolve every source's queue (they must exist): one poller per source."""
        sources = discover(self._app, self._sqs, stage=self._stage)
        log.info("sqs event sources: %s", ", ".join(f"{s.name} <- {s.queue_arn}" for s in sources) or "none")
        return [_Poller(source, self._sqs, stopping, self._limits) for source in sources]

    def _overran(self, worker: Worker) -> None:
        """A batch still in its handler after the grace period is abandoned, not deleted."""
        assert isinstance(worker, _Poller)
        worker.abandoned.set()
        log.warning("sqs handler %s still running at stop: its batch is abandoned", worker.source.name)
