"""Helpers for tests that hold real WebSockets to the local gateway."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from chalice.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from infra.local.websocket_gateway import Gateway
from tests.functional.conftest import Api

WAIT_S = 10


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def open_socket(gateway: Gateway, headers: dict[str, str] | None = None, query: str = "") -> ClientConnection:
    return connect(
        gateway.url + query, additional_headers=headers or {}, open_timeout=WAIT_S, close_timeout=WAIT_S
    )


def bearer(user: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


def log_in(client: Client, email: str, device: str) -> Api:
    """Another device of an existing user."""
    api = Api(client)
    status, body = api.post(
        "/v1/auth/login", {"email": email, "password": "correct horse battery", "device_name": device}
    )
    assert status == 200, body
    api.token, api.user_id, api.device_id = body["token"], body["user_id"], body["device_id"]
    return api


def closed_code(ws: ClientConnection, send: list[str] | None = None) -> int:
    """Send ``send`` if given, wait for the server to close ``ws``, and say with which code."""

    def send_and_receive() -> None:
        if send is not None:
            ws.send(send)  # may itself see the close, if the server closes while the frames go out
        ws.recv(timeout=WAIT_S)

    with pytest.raises(ConnectionClosed) as closed:
        send_and_receive()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code
