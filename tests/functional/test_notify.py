"""Notifications: commits queue a change, the worker pushes it to the right sockets, the outbox
catches what could not be queued, revoked tokens stop their pushes.

The worker runs on hand-built SQS events (every record its own messageId, as Lambda sends them;
chalice.test's generator repeats one id) against the real gateway, with real sockets. "Nothing
arrived" is shown by order, never by waiting: a ping sent after the push is answered after it, so
a socket whose next message is the pong got no push.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client
from websockets.sync.client import ClientConnection

from chalicelib.adapters import connections as store
from chalicelib.adapters import keys, metadata
from chalicelib.adapters.models import ConnectionModel, MembershipModel, NamespaceModel, TokenModel
from chalicelib.notify import outbox, worker
from chalicelib.settings import SETTINGS
from infra.local.lambda_context import LambdaContext
from infra.local.websocket_gateway import Gateway
from tests.functional.conftest import Api, make_user
from tests.functional.files import commit
from tests.functional.ws import WAIT_S, bearer, closed_code, log_in, open_socket, wait_until

QUEUE_ARN = f"arn:aws:sqs:{SETTINGS.region}:123456789012:{SETTINGS.changes_queue_name}"


@pytest.fixture(scope="module")
def sqs(client: Client) -> Any:
    return boto3.client("sqs", region_name=SETTINGS.region)


@pytest.fixture(scope="module")
def queue_url(sqs: Any) -> str:
    url: str = sqs.get_queue_url(QueueName=SETTINGS.changes_queue_name)["QueueUrl"]
    return url


def record(body: str, *, message_id: str | None = None, receipt: str = "handle", receives: int = 1) -> Any:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt,
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receives), "SentTimestamp": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": SETTINGS.region,
    }


def change(namespace_id: str, head_seq: int) -> str:
    return json.dumps({"namespace_id": namespace_id, "head_seq": head_seq})


def event(*records: Any) -> dict[str, Any]:
    return {"Records": list(records)}


def handle(sqs_event: dict[str, Any]) -> dict[str, Any]:
    """The worker, as Lambda calls it."""
    return worker.handle(sqs_event, LambdaContext.for_function("driftbox-test-on-change", timeout_s=30))


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive and delete every visible message (PurgeQueue may run once a minute only)."""
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages"
    ):
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        found += [json.loads(m["Body"]) for m in messages]
    return found


def mkdir(api: Api, path: str | None = None) -> int:
    status, body = commit(api, {"op": "mkdir", "path": path or f"/d-{uuid.uuid4().hex[:8]}"})
    assert status == 200, body
    head: int = body["head_seq"]
    return head


def next_message(ws: ClientConnection) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(ws.recv(timeout=WAIT_S))
    return answer


def assert_quiet(ws: ClientConnection) -> None:
    """Nothing is waiting on this socket: the answer to a ping comes first."""
    ws.send(json.dumps({"type": "ping"}))
    assert next_message(ws) == {"type": "pong"}


def changed(namespace_id: str, head_seq: int) -> dict[str, Any]:
    return {"type": "changed", "namespace_id": namespace_id, "head_seq": head_seq}


@pytest.fixture
def sockets(gateway: Gateway) -> Iterator[list[ClientConnection]]:
    """Sockets opened by the test, closed after it."""
    opened: list[ClientConnection] = []
    yield opened
    for ws in opened:
        ws.close()


def connect(sockets: list[ClientConnection], gateway: Gateway, user: Api, **kw: Any) -> ClientConnection:
    ws = open_socket(gateway, bearer(user), **kw)
    sockets.append(ws)
    return ws


# -- the worker ------------------------------------------------------------------------------


def test_a_change_reaches_every_socket_of_every_member_and_nobody_else(
    client: Client, gateway: Gateway, sockets: list[ClientConnection], alice: Api, bob: Api
) -> None:
    phone = log_in(client, alice.email, "phone")  # type: ignore[attr-defined]
    carol = make_user(client)
    # Carol is a member of Alice's namespace (as a shared folder would make her).
    MembershipModel(carol.user_id, alice.namespace_id, role="editor").save()
    alice_laptop, alice_phone = connect(sockets, gateway, alice), connect(sockets, gateway, phone)
    carols, bobs = connect(sockets, gateway, carol), connect(sockets, gateway, bob)
    head = mkdir(alice)

    response = handle(event(record(change(alice.namespace_id, head))))

    assert response == {"batchItemFailures": []}
    for ws in (alice_laptop, alice_phone, carols):
        assert next_message(ws) == changed(alice.namespace_id, head)
        assert_quiet(ws)
    assert_quiet(bobs)


def test_gone_and_expired_connections_are_forgotten_and_do_not_fail_the_change(
    gateway: Gateway, sockets: list[ClientConnection], alice: Api
) -> None:
    ws = connect(sockets, gateway, alice)
    never_open = ConnectionModel(
        "ZZZZZZZZZZZZZZZ=",
        user_id=alice.user_id,
        device_id=alice.device_id,
        token_hash=store.of_user(alice.user_id)[0].token_hash,
        connected_at_ms=0,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    never_open.save()
    (live,) = [c for c in store.of_user(alice.user_id) if c.connection_id != never_open.connection_id]
    # A row past API Gateway's 2-hour limit whose socket is somehow still open: closed, not sent to.
    expired = connect(sockets, gateway, alice)
    (late,) = [
        c
        for c in store.of_user(alice.user_id)
        if c.connection_id not in (never_open.connection_id, live.connection_id)
    ]
    late.update(actions=[ConnectionModel.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])
    head = mkdir(alice)

    assert handle(event(record(change(alice.namespace_id, head)))) == {"batchItemFailures": []}

    assert next_message(ws) == changed(alice.namespace_id, head)
    assert closed_code(expired) == 1000
    wait_until(
        lambda: [c.connection_id for c in store.of_user(alice.user_id)] == [live.connection_id], "rows"
    )


def test_a_failing_send_fails_only_its_own_record_and_is_retried_soon(
    gateway: Gateway, sockets: list[ClientConnection], alice: Api, bob: Api, sqs: Any, queue_url: str
) -> None:
    ws_alice, ws_bob = connect(sockets, gateway, alice), connect(sockets, gateway, bob)
    (alices,) = store.of_user(alice.user_id)
    gateway.failing_connections.add(alices.connection_id)
    alice_head, bob_head = mkdir(alice), mkdir(bob)
    # A real message, so that its retry can be seen on the queue.
    drain(sqs, queue_url)
    sqs.send_message(QueueUrl=queue_url, MessageBody=change(alice.namespace_id, alice_head))
    (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    failing = record(message["Body"], message_id=message["MessageId"], receipt=message["ReceiptHandle"])
    try:
        response = handle(event(failing, record(change(bob.namespace_id, bob_head))))
    finally:
        gateway.failing_connections.clear()

    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert next_message(ws_bob) == changed(bob.namespace_id, bob_head)
    assert_quiet(ws_alice)
    # Back in 2 seconds, not after the queue's visibility timeout (minutes).
    assert (
        int(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                "VisibilityTimeout"
            ]
        )
        > 60
    )
    again = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20, AttributeNames=["All"])["Messages"]
    assert [(m["MessageId"], m["Attributes"]["ApproximateReceiveCount"]) for m in again] == [
        (message["MessageId"], "2")
    ]
    # Delivered this time, and only now.
    retried = record(
        again[0]["Body"], message_id=again[0]["MessageId"], receipt=again[0]["ReceiptHandle"], receives=2
    )
    assert handle(event(retried)) == {"batchItemFailures": []}
    assert next_message(ws_alice) == changed(alice.namespace_id, alice_head)


def test_duplicate_deliveries_push_once(
    gateway: Gateway, sockets: list[ClientConnection], alice: Api
) -> None:
    ws = connect(sockets, gateway, alice)
    head = mkdir(alice)
    body = change(alice.namespace_id, head)
    first = record(body)

    assert handle(event(first, record(body))) == {"batchItemFailures": []}  # one batch
    assert handle(event(first)) == {"batchItemFailures": []}  # SQS redelivers the same message
    assert handle(event(record(body))) == {"batchItemFailures": []}  # the sweep sends it again

    assert next_message(ws) == changed(alice.namespace_id, head)
    assert_quiet(ws)


def test_only_the_newest_change_of_a_namespace_in_a_batch_is_pushed(
    gateway: Gateway, sockets: list[ClientConnection], alice: Api
) -> None:
    ws = connect(sockets, gateway, alice)
    heads = [mkdir(alice) for _ in range(3)]
    records = [record(change(alice.namespace_id, h)) for h in reversed(heads)]

    assert handle(event(*records)) == {"batchItemFailures": []}

    assert next_message(ws) == changed(alice.namespace_id, heads[-1])
    assert_quiet(ws)


@pytest.mark.parametrize(
    "body",
    ["not json", json.dumps({"namespace_id": "ns_1", "head_seq": 1}), json.dumps({"namespace_id": "x"})],
)
def test_a_malformed_change_fails_alone(
    gateway: Gateway, sockets: list[ClientConnection], alice: Api, body: str
) -> None:
    ws = connect(sockets, gateway, alice)
    head = mkdir(alice)
    bad = record(body, receipt="not-a-real-handle")

    response = handle(event(bad, record(change(alice.namespace_id, head))))

    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert next_message(ws) == changed(alice.namespace_id, head)


# -- revoked tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["logout", "unlink"])
def test_revoking_a_token_closes_its_sockets_and_only_those(
    client: Client, gateway: Gateway, sockets: list[ClientConnection], alice: Api, how: str
) -> None:
    phone = log_in(client, alice.email, "phone")  # type: ignore[attr-defined]
    laptop_ws, phone_ws = connect(sockets, gateway, alice), connect(sockets, gateway, phone)
    if how == "logout":
        assert phone.post("/v1/auth/logout")[0] == 200
    else:
        assert alice.call("DELETE", f"/v1/devices/{phone.device_id}")[0] == 200

    assert closed_code(phone_ws) == 1000
    head = mkdir(alice)
    assert handle(event(record(change(alice.namespace_id, head)))) == {"batchItemFailures": []}
    assert next_message(laptop_ws) == changed(alice.namespace_id, head)
    wait_until(lambda: {c.device_id for c in store.of_user(alice.user_id)} == {alice.device_id}, "rows")


def test_a_socket_whose_token_was_revoked_behind_its_back_is_closed_at_the_next_push(
    client: Client, gateway: Gateway, sockets: list[ClientConnection], alice: Api
) -> None:
    phone = log_in(client, alice.email, "phone")  # type: ignore[attr-defined]
    laptop_ws, phone_ws = connect(sockets, gateway, alice), connect(sockets, gateway, phone)
    (row,) = [c for c in store.of_user(alice.user_id) if c.device_id == phone.device_id]
    TokenModel(row.token_hash).delete()  # as if closing the socket at revocation had failed
    head = mkdir(alice)

    assert handle(event(record(change(alice.namespace_id, head)))) == {"batchItemFailures": []}

    assert next_message(laptop_ws) == changed(alice.namespace_id, head)
    assert closed_code(phone_ws) == 1000


def test_a_token_in_the_query_string_connects_as_browsers_must(
    gateway: Gateway, sockets: list[ClientConnection], alice: Api
) -> None:
    ws = open_socket(gateway, query=f"/?token={alice.token}")
    sockets.append(ws)
    assert [c.device_id for c in store.of_user(alice.user_id)] == [alice.device_id]
    head = mkdir(alice)
    handle(event(record(change(alice.namespace_id, head))))
    assert next_message(ws) == changed(alice.namespace_id, head)


# -- commits queue their change; the outbox catches the rest -------------------------------------


def pending(namespace_id: str) -> bool:
    row = NamespaceModel.get(namespace_id, consistent_read=True)
    return row.notify_shard is not None


def test_a_commit_queues_its_change_and_clears_its_outbox_mark(alice: Api, sqs: Any, queue_url: str) -> None:
    drain(sqs, queue_url)
    head = mkdir(alice)
    assert drain(sqs, queue_url) == [{"namespace_id": alice.namespace_id, "head_seq": head}]
    assert not pending(alice.namespace_id)
    assert alice.namespace_id not in metadata.pending_notify(keys.notify_shard(alice.namespace_id))


def test_a_commit_whose_change_could_not_be_queued_is_queued_by_the_sweep(
    alice: Api, sqs: Any, queue_url: str
) -> None:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    kept = {k: attributes[k] for k in ("VisibilityTimeout", "RedrivePolicy") if k in attributes}
    sqs.delete_queue(QueueUrl=queue_url)  # SQS is unreachable for this commit
    try:
        head = mkdir(alice)  # still lands: the journal is the truth, the message only a hint
    finally:
        sqs.create_queue(QueueName=SETTINGS.changes_queue_name, Attributes=kept)
    assert pending(alice.namespace_id)
    assert drain(sqs, queue_url) == []

    assert outbox.sweep() >= 1

    assert {"namespace_id": alice.namespace_id, "head_seq": head} in drain(sqs, queue_url)
    assert not pending(alice.namespace_id)
    assert outbox.sweep() == 0


def test_the_mark_is_cleared_only_while_its_head_is_the_head(alice: Api) -> None:
    head = mkdir(alice)
    # As if this commit's send had failed: its mark stays.
    shard = keys.notify_shard(alice.namespace_id)
    NamespaceModel(alice.namespace_id).update(
        actions=[NamespaceModel.notify_shard.set(shard), NamespaceModel.notify_since_ms.set(1)]
    )
    metadata.clear_pending_notify(alice.namespace_id, head - 1)  # a sweep that read an older head
    assert pending(alice.namespace_id)
    metadata.clear_pending_notify(alice.namespace_id, head)
    assert not pending(alice.namespace_id)
