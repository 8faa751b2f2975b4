"""Every AWS call a handler makes against the emulator is one its function's role allows.

tests/unit/test_template_isolation.py shows each role is narrow; this shows none is too narrow:
each handler runs its paths here while every botocore call (boto3's, pynamodb's, Powertools')
is noted, as the IAM action and resource AWS would authorise, and held to the role that
infra/template.yaml gives the function.
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.client import BaseClient
from chalice.test import Client

from chalicelib.adapters import keys
from chalicelib.adapters.models import ConnectionModel, NamespaceModel
from chalicelib.domain.accounts import token_hash
from chalicelib.notify import outbox, sockets, worker
from chalicelib.settings import SETTINGS
from infra.local import resources
from infra.local.lambda_context import LambdaContext
from infra.local.websocket_gateway import Gateway
from tests.functional.conftest import Api, make_user
from tests.functional.files import commit, put_op, upload
from tests.functional.ws import log_in

Grant = tuple[str, str]  # (IAM action, resource: a logical id, then the path under it)

TABLES = {table.name: table.logical_id for table in resources.table_definitions("test")}
# Chalice's names for the functions' roles (tests/unit/test_template_isolation.py holds them to it).
ROLES = {
    "APIHandler": "ApiHandlerRole",
    "OnChange": "OnChangeRole",
    "SweepOutbox": "SweepOutboxRole",
    "WebsocketConnect": "WebsocketConnectRole",
    "WebsocketMessage": "WebsocketMessageRole",
    "WebsocketDisconnect": "WebsocketDisconnectRole",
}
_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _table(name: str, index: str | None = None) -> str:
    return TABLES[name] + (f"/index/{index}" if index else "")


def _dynamodb(operation: str, params: dict[str, Any]) -> list[Grant]:
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{_TRANSACT[kind]}", _table(item[kind]["TableName"]))
            for item in params["TransactItems"]
            for kind in item
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", _table(name)) for name in params["RequestItems"]]
    return [(f"dynamodb:{operation}", _table(params["TableName"], params.get("IndexName")))]


def _s3(operation: str, params: dict[str, Any]) -> list[Grant]:
    assert params["Bucket"] == SETTINGS.chunk_bucket
    if operation == "ListObjectsV2":
        return [("s3:ListBucket", "ChunkBucket")]
    action = {"HeadObject": "GetObject"}.get(operation, operation)  # HEAD is authorised as GET
    return [(f"s3:{action}", f"ChunkBucket/{params['Key']}")]


def _sqs(operation: str, params: dict[str, Any]) -> list[Grant]:
    name = params.get("QueueName") or params["QueueUrl"].rsplit("/", 1)[1]
    assert name == SETTINGS.changes_queue_name
    return [(f"sqs:{operation}", "ChangesQueue")]


def _connections(operation: str, params: dict[str, Any]) -> list[Grant]:
    method = {"PostToConnection": "POST", "DeleteConnection": "DELETE"}[operation]
    return [("execute-api:ManageConnections", f"WebsocketAPI/{method}/@connections/{params['ConnectionId']}")]


GRANTS_OF = {"dynamodb": _dynamodb, "s3": _s3, "sqs": _sqs, "apigatewaymanagementapi": _connections}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Grant]:
    """What every botocore call from here on needs authorised, in any thread."""
    made: list[Grant] = []
    make_api_call = BaseClient._make_api_call

    def noting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        made.extend(GRANTS_OF[self.meta.service_model.service_name](operation, params))
        return make_api_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", noting)
    return made


def _pattern(resource: dict[str, Any]) -> str:
    """A template resource as a pattern over the names _dynamodb and the others give."""
    if "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    sub = resource["Fn::Sub"]
    if found := re.fullmatch(r"\$\{(\w+)\.Arn\}(/.+)", sub):
        return found[1] + found[2]
    found = re.fullmatch(r"arn:\$\{AWS::Partition\}:execute-api:[^/]+:\$\{WebsocketAPI\}/\*/(.+)", sub)
    assert found, sub
    return "WebsocketAPI/" + found[1]


def allowed(function: str) -> list[Grant]:
    (policy,) = resources.load()["Resources"][ROLES[function]]["Properties"]["Policies"]
    grants: list[Grant] = []
    for statement in policy["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        grants += [(action, _pattern(target)) for action in actions for target in targets]
    return grants


def refused(function: str, made: list[Grant]) -> set[Grant]:
    grants = allowed(function)
    return {
        (action, resource)
        for action, resource in made
        if not any(action == a and fnmatch.fnmatchcase(resource, pattern) for a, pattern in grants)
    }


def _ws_event(connection_id: str, **extra: Any) -> dict[str, Any]:
    context = {"connectionId": connection_id, "domainName": "", "stage": "", "requestId": "r"}
    return {"requestContext": context, **extra}


@pytest.fixture
def signed_up(client: Client) -> Api:
    return make_user(client)


def test_the_rest_functions_calls_are_allowed(client: Client, gateway: Gateway, calls: list[Grant]) -> None:
    alice = make_user(client)
    phone = log_in(client, alice.email, "phone")  # type: ignore[attr-defined]
    data = uuid.uuid4().bytes * 1000
    hashes = upload(alice, data)
    status, body = commit(alice, put_op("/a.txt", data))
    assert status == 200, body
    cursor_query = f"namespace_id={alice.namespace_id}"
    status, listing = alice.get(f"/v1/objects?{cursor_query}")
    assert status == 200, listing
    assert alice.get(f"/v1/objects/longpoll?{cursor_query}&cursor={listing['cursor']}&timeout=1")[0] == 200
    assert alice.post("/v1/chunks/download", {"namespace_id": alice.namespace_id, "hashes": hashes})[0] == 200
    assert alice.get(f"/v1/files/revisions?{cursor_query}&path=/a.txt")[0] == 200
    assert alice.get(f"/v1/folders?{cursor_query}&path=/")[0] == 200
    restore = {"namespace_id": alice.namespace_id, "path": "/a.txt", "rev": 1}
    assert alice.post("/v1/files/restore", restore)[0] in (200, 409)
    assert alice.get("/v1/account")[0] == 200
    assert alice.call("DELETE", f"/v1/devices/{phone.device_id}")[0] == 200
    assert alice.post("/v1/auth/logout")[0] == 200
    assert calls
    assert refused("APIHandler", calls) == set()


def test_the_websocket_handlers_calls_are_allowed(
    signed_up: Api, gateway: Gateway, calls: list[Grant]
) -> None:
    connection_id = f"c-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {signed_up.token}"}
    assert sockets.connect(_ws_event(connection_id, headers=headers))["statusCode"] == 200
    assert refused("WebsocketConnect", calls) == set()
    calls.clear()
    # No socket of this id is open at the gateway: the reply finds it gone, and the row is dropped.
    assert sockets.message(_ws_event(connection_id, body='{"type": "ping"}'))["statusCode"] == 200
    assert refused("WebsocketMessage", calls) == set()
    calls.clear()
    assert sockets.disconnect(_ws_event(connection_id))["statusCode"] == 200
    assert calls
    assert refused("WebsocketDisconnect", calls) == set()


def _socket_row(user: Api, token_hash: str) -> None:
    now = datetime.now(UTC)
    ConnectionModel(
        f"c-{uuid.uuid4().hex}",
        user_id=user.user_id,
        device_id=user.device_id,
        token_hash=token_hash,
        connected_at_ms=int(now.timestamp() * 1000),
        expires_at=now + timedelta(hours=1),
    ).save()


def test_the_changes_workers_calls_are_allowed(
    client: Client, signed_up: Api, gateway: Gateway, calls: list[Grant]
) -> None:
    assert signed_up.token is not None
    _socket_row(signed_up, token_hash(signed_up.token))  # sent to: gone
    _socket_row(signed_up, "0" * 64)  # a revoked token's: closed
    calls.clear()
    queue_arn = f"arn:aws:sqs:{SETTINGS.region}:123456789012:{SETTINGS.changes_queue_name}"

    def record(body: str) -> dict[str, Any]:
        return {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "handle",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
        }

    change = json.dumps({"namespace_id": signed_up.namespace_id, "head_seq": 1})
    context = LambdaContext.for_function("driftbox-test-on-change", timeout_s=30)
    # The malformed record fails alone, and is made visible again sooner.
    answer = worker.handle({"Records": [record(change), record("not a change")]}, context)
    assert len(answer["batchItemFailures"]) == 1
    assert {action for action, _ in calls} >= {"execute-api:ManageConnections", "sqs:ChangeMessageVisibility"}
    assert refused("OnChange", calls) == set()


def test_the_outbox_sweeps_calls_are_allowed(signed_up: Api, calls: list[Grant]) -> None:
    NamespaceModel(signed_up.namespace_id).update(
        actions=[
            NamespaceModel.notify_shard.set(keys.notify_shard(signed_up.namespace_id)),
            NamespaceModel.notify_since_ms.set(1),
        ]
    )
    calls.clear()
    assert outbox.sweep() >= 1
    assert {action for action, _ in calls} >= {"dynamodb:Query", "dynamodb:UpdateItem", "sqs:SendMessage"}
    assert refused("SweepOutbox", calls) == set()


def test_a_call_outside_the_role_is_refused_here() -> None:
    assert refused(
        "WebsocketConnect", [("dynamodb:PutItem", "UsersTable"), ("s3:PutObject", "ChunkBucket/x")]
    ) == {
        ("dynamodb:PutItem", "UsersTable"),
        ("s3:PutObject", "ChunkBucket/x"),
    }
    assert refused("OnChange", [("dynamodb:Query", "MembershipsTable/index/by_namespace")]) == set()
