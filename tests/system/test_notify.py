"""Notifications on the local stack: commits reach sockets through SQS, the worker and the gateway.

Each socket has a reader thread that keeps every message it receives. "Nothing arrived" is shown by
order, never by waiting: a ping sent after the push is answered after it.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from infra.local.child import LocalStack
from tests.functional.files import commit
from tests.system.conftest import Client, wait_for

WAIT_S = 30


class Socket:
    """A device's WebSocket with a reader thread; ``messages`` holds what came, in order."""

    def __init__(self, stack: LocalStack, client: Client) -> None:
        self.ws: ClientConnection = connect(
            stack.ws, additional_headers={"Authorization": f"Bearer {client.token}"}, open_timeout=WAIT_S
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.closed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for text in self.ws:
                self.messages.put(json.loads(text))
        except ConnectionClosed:
            pass
        self.closed.set()

    def next(self) -> dict[str, Any]:
        return self.messages.get(timeout=WAIT_S)

    def assert_quiet(self) -> None:
        self.ws.send(json.dumps({"type": "ping"}))
        assert self.next() == {"type": "pong"}

    def wait_for_head(self, namespace_id: str, head_seq: int) -> list[dict[str, Any]]:
        """Every message up to a ``changed`` at ``head_seq`` or later (failing after WAIT_S)."""
        seen = []
        while True:
            message = self.next()
            seen.append(message)
            if message.get("namespace_id") == namespace_id and message.get("head_seq", 0) >= head_seq:
                return seen


@pytest.fixture
def sockets() -> Iterator[list[Socket]]:
    opened: list[Socket] = []
    yield opened
    for socket in opened:
        socket.ws.close()


def open_socket(sockets: list[Socket], stack: LocalStack, client: Client) -> Socket:
    socket = Socket(stack, client)
    sockets.append(socket)
    return socket


def mkdir(client: Client) -> int:
    status, body = commit(client, {"op": "mkdir", "path": f"/d-{uuid.uuid4().hex[:8]}"})
    assert status == 200, body
    head: int = body["head_seq"]
    return head


def changed(namespace_id: str, head_seq: int) -> dict[str, Any]:
    return {"type": "changed", "namespace_id": namespace_id, "head_seq": head_seq}


def test_a_commit_reaches_both_sockets_of_its_user_and_not_another_users(
    make_stack: Any, sockets: list[Socket]
) -> None:
    stack = make_stack(None)
    laptop, email = Client.sign_up(stack.api)
    phone = laptop.log_in(email, device="phone")
    bob, _ = Client.sign_up(stack.api)
    status, account = laptop.get("/v1/account")
    assert status == 200 and account["notify_url"] == stack.ws
    laptop_ws, phone_ws, bob_ws = (open_socket(sockets, stack, c) for c in (laptop, phone, bob))

    head = mkdir(laptop)

    assert laptop_ws.next() == changed(laptop.namespace_id, head)
    assert phone_ws.next() == changed(laptop.namespace_id, head)
    bob_ws.assert_quiet()
    laptop_ws.assert_quiet()
    phone_ws.assert_quiet()
    # And the push is a true hint: the journal has the commit.
    status, page = phone.get(f"/v1/objects?namespace_id={phone.namespace_id}")
    assert status == 200 and any(e["seq"] == head for e in page["entries"])


def test_a_socket_whose_token_is_revoked_is_dropped_and_gets_no_more_pushes(
    make_stack: Any, sockets: list[Socket]
) -> None:
    stack = make_stack(None)
    laptop, email = Client.sign_up(stack.api)
    phone = laptop.log_in(email, device="phone")
    tablet = laptop.log_in(email, device="tablet")
    laptop_ws, phone_ws, tablet_ws = (open_socket(sockets, stack, c) for c in (laptop, phone, tablet))
    _, account = laptop.get("/v1/account")
    [tablet_id] = [d["device_id"] for d in account["devices"] if d["name"] == "tablet"]

    assert phone.post("/v1/auth/logout")[0] == 200
    assert laptop.call("DELETE", f"/v1/devices/{tablet_id}")[0] == 200

    assert phone_ws.closed.wait(WAIT_S) and tablet_ws.closed.wait(WAIT_S)
    head = mkdir(laptop)
    assert laptop_ws.next() == changed(laptop.namespace_id, head)
    assert phone_ws.messages.empty() and tablet_ws.messages.empty()


def test_with_the_gateway_failing_sends_every_change_still_arrives(
    make_stack: Any, sockets: list[Socket]
) -> None:
    # 70 % of @connections POSTs fail (boto3 tries each send 3 times): some pushes fail, SQS
    # redelivers them a few seconds later. The failures come from a fixed seed, so this run repeats.
    stack = make_stack(None, args=("--ws-post-failure-rate", "0.7"), POWERTOOLS_LOG_LEVEL="INFO")
    writer, email = Client.sign_up(stack.api)
    watcher = writer.log_in(email, device="watcher")
    socket = open_socket(sockets, stack, watcher)

    heads = []
    for _ in range(12):
        heads.append(mkdir(writer))
        socket.wait_for_head(writer.namespace_id, heads[-1])

    output = "".join(stack.output)
    assert output.count("changes not pushed; retrying soon") >= 2, output[-3000:]  # 2 with this seed
    sqs = boto3.client("sqs", endpoint_url=stack.aws, region_name="us-east-1")
    dlq = sqs.get_queue_url(QueueName="driftbox-dev-changes-dlq")["QueueUrl"]
    counts = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_commit_whose_change_could_not_be_queued_arrives_by_the_outbox_sweep(
    make_stack: Any, sockets: list[Socket]
) -> None:
    stack = make_stack(None, args=("--schedule-every", "1"), POWERTOOLS_LOG_LEVEL="INFO")
    writer, email = Client.sign_up(stack.api)
    watcher = writer.log_in(email, device="watcher")
    socket = open_socket(sockets, stack, watcher)
    sqs = boto3.client("sqs", endpoint_url=stack.aws, region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="driftbox-dev-changes")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    kept = {k: attributes[k] for k in ("VisibilityTimeout", "RedrivePolicy", "MessageRetentionPeriod")}

    sqs.delete_queue(QueueUrl=url)
    head = mkdir(writer)  # lands, though its change cannot be queued
    sqs.create_queue(QueueName="driftbox-dev-changes", Attributes=kept)

    assert socket.next() == changed(writer.namespace_id, head)
    wait_for(lambda: "outbox swept" in "".join(stack.output), WAIT_S, "the sweep's log line")
    assert "change not queued; the outbox sweep will send it" in "".join(stack.output)
