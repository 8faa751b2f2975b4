"""The local WebSocket gateway as API Gateway: the app's handlers behind a real socket, and the
``@connections`` API as boto3 calls it. No timing assertions: time only bounds the waiting."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.app import Chalice, WebsocketEvent
from chalice.test import Client
from websockets.exceptions import InvalidStatus

from chalicelib.adapters import connections as store
from infra.local.websocket_gateway import Gateway
from tests.functional.conftest import Api, make_user
from tests.functional.ws import WAIT_S, bearer, closed_code, log_in, open_socket, wait_until

KIB = 1024


# The real app: $connect authenticates and records, $default answers pings, $disconnect forgets.


def test_a_device_connects_pings_and_disconnects(gateway: Gateway, alice: Api) -> None:
    with open_socket(gateway, bearer(alice)) as ws:
        assert [row.device_id for row in store.of_user(alice.user_id)] == [alice.device_id]
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=WAIT_S)) == {"type": "pong"}
        ws.send("hello")
        assert json.loads(ws.recv(timeout=WAIT_S))["type"] == "error"
    wait_until(lambda: not store.of_user(alice.user_id), "$disconnect to remove the row")


@pytest.mark.parametrize(
    "how", ["no token", "not a bearer token", "an unknown token", "after logging out", "after unlinking"]
)
def test_connect_without_a_valid_token_is_refused_with_401(
    gateway: Gateway, client: Client, how: str
) -> None:
    user = make_user(client)
    headers = {
        "no token": {},
        "not a bearer token": {"Authorization": "Basic dXNlcjpwYXNz"},
        "an unknown token": {"Authorization": "Bearer not-a-token"},
    }.get(how, bearer(user))
    if how == "after logging out":
        assert user.post("/v1/auth/logout")[0] == 200
    if how == "after unlinking":
        phone = log_in(client, user.email, device="phone")  # type: ignore[attr-defined]
        assert phone.call("DELETE", f"/v1/devices/{user.device_id}")[0] == 200

    with pytest.raises(InvalidStatus) as refused:
        open_socket(gateway, headers)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body or b"")["error"]["code"] == "unauthorized"
    assert store.of_user(user.user_id) == []


def test_connections_api_gets_posts_and_says_gone_once_closed(
    gateway: Gateway, management: Any, alice: Api
) -> None:
    with open_socket(gateway, bearer(alice)) as ws:
        (row,) = store.of_user(alice.user_id)
        connection_id = row.connection_id
        info = management.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert "websockets" in info["Identity"]["UserAgent"]
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        management.post_to_connection(ConnectionId=connection_id, Data=b"hello")
        assert ws.recv(timeout=WAIT_S) == "hello"
        management.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00")
        assert ws.recv(timeout=WAIT_S) == b"\xff\x00"
        # 128 KB is the most one post may carry; the gateway sends it in 32 KB frames.
        management.post_to_connection(ConnectionId=connection_id, Data=b"x" * 128 * KIB)
        assert ws.recv(timeout=WAIT_S) == "x" * 128 * KIB
        text = "a" + "é" * 40_000  # 32 KB frame boundaries fall inside characters
        management.post_to_connection(ConnectionId=connection_id, Data=text.encode())
        assert ws.recv(timeout=WAIT_S) == text
        with pytest.raises(management.exceptions.PayloadTooLargeException) as too_large:
            management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * KIB + 1))
        assert too_large.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    wait_until(lambda: not store.of_user(alice.user_id), "$disconnect to remove the row")

    with pytest.raises(management.exceptions.GoneException) as gone:
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=connection_id)


def test_an_unknown_connection_is_gone(management: Any) -> None:
    for call in (management.post_to_connection, management.get_connection, management.delete_connection):
        kwargs = {"Data": b"x"} if call == management.post_to_connection else {}
        with pytest.raises(management.exceptions.GoneException):
            call(ConnectionId="AAAAAAAAAAAAAAA=", **kwargs)


def test_delete_connection_closes_the_socket(gateway: Gateway, management: Any, alice: Api) -> None:
    with open_socket(gateway, bearer(alice)) as ws:
        (row,) = store.of_user(alice.user_id)
        management.delete_connection(ConnectionId=row.connection_id)
        assert closed_code(ws) == 1000
    wait_until(lambda: not store.of_user(alice.user_id), "$disconnect to remove the row")
    with pytest.raises(management.exceptions.GoneException):
        management.delete_connection(ConnectionId=row.connection_id)


@pytest.mark.parametrize(
    "frames",
    [["x" * (32 * KIB + 1)], ["x" * 32 * KIB] * 4 + ["x"]],
    ids=["a frame over 32 KB", "a message over 128 KB in 32 KB frames"],
)
def test_a_message_over_the_limits_closes_the_socket_with_1009(
    gateway: Gateway, alice: Api, frames: list[str]
) -> None:
    with open_socket(gateway, bearer(alice)) as ws:
        ws.send(["x" * 32 * KIB] * 4)  # 128 KB in 32 KB frames: within the limits, so answered
        assert json.loads(ws.recv(timeout=WAIT_S))["type"] == "error"
        assert closed_code(ws, send=frames) == 1009
    wait_until(lambda: not store.of_user(alice.user_id), "$disconnect to remove the row")


# A tiny app of our own shows what the real one cannot: event shapes, a slow handler, the limits.


class Echo:
    """A Chalice app that records every event and answers a message with ``done:<body>``, through
    the ``@connections`` URL it builds from the event as an app behind API Gateway would."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.app = Chalice(app_name="echo")
        self.app.experimental_feature_flags.update(["WEBSOCKETS"])

        @self.app.on_ws_connect()
        def connect(event: WebsocketEvent) -> dict[str, Any]:
            self.events.append(event.to_dict())
            if "fail" in (event.to_dict().get("queryStringParameters") or {}):
                raise RuntimeError("the handler fails")
            return {"statusCode": 200}

        @self.app.on_ws_message()
        def message(event: WebsocketEvent) -> None:
            self.events.append(event.to_dict())
            if event.body == "slow":
                self.release.wait(WAIT_S)
            context = event.to_dict()["requestContext"]
            # A session per call: boto3's default session is not thread-safe.
            api = boto3.session.Session().client(
                "apigatewaymanagementapi",
                endpoint_url=f"http://{context['domainName']}/{context['stage']}",
                region_name="us-east-1",
            )
            api.post_to_connection(ConnectionId=event.connection_id, Data=f"done:{event.body}".encode())

        @self.app.on_ws_disconnect()
        def disconnect(event: WebsocketEvent) -> None:
            self.events.append(event.to_dict())

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["requestContext"]["eventType"] == event_type]


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
def echo_gateway(echo: Echo) -> Iterator[Gateway]:
    gateway = Gateway(echo.app, port=0).start()
    yield gateway
    gateway.stop()


def test_events_have_api_gateways_shape(echo: Echo, echo_gateway: Gateway) -> None:
    with open_socket(echo_gateway, {"X-Client": "laptop"}, query="/?device=a&device=b") as ws:
        ws.send("hi")
        assert ws.recv(timeout=WAIT_S) == "done:hi"
        ws.send(b"\x00\xff")
        assert ws.recv(timeout=WAIT_S) == "done:AP8="
        ws.close(4000, "bye")
    wait_until(lambda: echo.of_type("DISCONNECT"), "$disconnect")

    (connect_event,) = echo.of_type("CONNECT")
    text, binary = echo.of_type("MESSAGE")
    (disconnect_event,) = echo.of_type("DISCONNECT")
    context = connect_event["requestContext"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", context["connectionId"])
    assert context["routeKey"] == "$connect"
    assert context["stage"] == "local"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert connect_event["headers"]["X-Client"] == "laptop"
    assert "Upgrade" not in connect_event["headers"]
    assert connect_event["queryStringParameters"] == {"device": "b"}
    assert connect_event["multiValueQueryStringParameters"] == {"device": ["a", "b"]}
    assert (text["body"], text["isBase64Encoded"]) == ("hi", False)
    assert (binary["body"], binary["isBase64Encoded"]) == ("AP8=", True)
    assert text["requestContext"]["routeKey"] == "$default"
    assert text["requestContext"]["messageId"] != binary["requestContext"]["messageId"]
    assert disconnect_event["requestContext"]["routeKey"] == "$disconnect"
    assert disconnect_event["requestContext"]["disconnectStatusCode"] == 4000
    assert disconnect_event["requestContext"]["disconnectReason"] == "bye"
    for event in (text, binary, disconnect_event):
        assert event["requestContext"]["connectionId"] == context["connectionId"]
        assert event["requestContext"]["connectedAt"] == context["connectedAt"]


def test_a_slow_handler_holds_up_only_its_own_connection(echo: Echo, echo_gateway: Gateway) -> None:
    with open_socket(echo_gateway) as slow, open_socket(echo_gateway) as fast:
        slow.send("slow")
        slow.send("after")
        wait_until(lambda: any(e.get("body") == "slow" for e in echo.events), "the slow handler to start")
        fast.send("fast")
        assert fast.recv(timeout=WAIT_S) == "done:fast"
        assert not echo.release.is_set()  # so the slow handler was still running
        echo.release.set()
        assert slow.recv(timeout=WAIT_S) == "done:slow"
        assert slow.recv(timeout=WAIT_S) == "done:after"


def test_a_connect_handler_that_raises_refuses_with_502(echo: Echo, echo_gateway: Gateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(echo_gateway, query="/?fail=1")
    assert refused.value.response.status_code == 502
    with open_socket(echo_gateway):
        pass
    wait_until(lambda: echo.of_type("DISCONNECT"), "$disconnect")
    assert len(echo.of_type("DISCONNECT")) == 1  # only the socket that opened


@pytest.mark.parametrize(
    ("idle_timeout_s", "max_duration_s"), [(0.3, 3600), (3600, 0.3)], ids=["idle", "too old"]
)
def test_an_idle_or_old_socket_is_closed_with_1001(
    echo: Echo, idle_timeout_s: float, max_duration_s: float
) -> None:
    gateway = Gateway(echo.app, port=0, idle_timeout_s=idle_timeout_s, max_duration_s=max_duration_s).start()
    try:
        with open_socket(gateway) as ws:
            assert closed_code(ws) == 1001
        wait_until(lambda: echo.of_type("DISCONNECT"), "$disconnect")
        assert echo.of_type("DISCONNECT")[0]["requestContext"]["disconnectStatusCode"] == 1001
    finally:
        gateway.stop()


def test_stop_disconnects_every_socket(echo: Echo) -> None:
    gateway = Gateway(echo.app, port=0).start()
    with open_socket(gateway) as first, open_socket(gateway) as second:
        gateway.stop()
        assert closed_code(first) == closed_code(second) == 1001
    assert len(echo.of_type("DISCONNECT")) == 2
