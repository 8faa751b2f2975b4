"""Functional fixtures: one moto server for the session, the app through chalice.test.Client."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client

from infra.local import emulator, resources
from infra.local.websocket_gateway import Gateway

_counter = itertools.count()


@pytest.fixture(scope="session")
def aws() -> Iterator[None]:
    server = emulator.start(port=int(os.environ["DRIFTBOX_TEST_MOTO_PORT"]))
    resources.create("test")
    yield
    server.stop()


@pytest.fixture(scope="session")
def client(aws: None) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


class Api:
    """A small JSON client over chalice.test.Client, as one device of one user."""

    def __init__(self, client: Client, token: str | None = None) -> None:
        self.client = client
        self.token = token
        self.user_id = ""
        self.device_id = ""
        self.namespace_id = ""

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers | (extra or {})

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        import json

        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        response = getattr(self.client.http, method.lower())(
            path, headers=self.headers(headers), body=payload
        )
        text = response.body.decode() if response.body else ""
        return response.status_code, (json.loads(text) if text else None)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kw)


def new_email() -> str:
    return f"user{next(_counter)}-{os.getpid()}-{os.urandom(4).hex()}@example.com"


def make_user(
    client: Client, email: str | None = None, password: str = "correct horse battery", device: str = "laptop"
) -> Api:
    email = email or new_email()
    api = Api(client)
    status, body = api.post("/v1/auth/signup", {"email": email, "password": password})
    assert status == 201, body
    status, body = api.post("/v1/auth/login", {"email": email, "password": password, "device_name": device})
    assert status == 200, body
    api.token, api.user_id = body["token"], body["user_id"]
    api.device_id, api.namespace_id = body["device_id"], body["namespace_id"]
    api.email = email  # type: ignore[attr-defined]
    return api


@pytest.fixture
def alice(client: Client) -> Api:
    return make_user(client)


@pytest.fixture
def bob(client: Client) -> Api:
    return make_user(client)


@pytest.fixture(scope="module")
def gateway(client: Client) -> Iterator[Gateway]:
    """The gateway in front of the real app, where WEBSOCKET_MANAGEMENT_URL points."""
    from app import app

    gateway = Gateway(app, port=int(os.environ["DRIFTBOX_TEST_GATEWAY_PORT"])).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def management(gateway: Gateway) -> Any:
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=gateway.management_url, region_name="us-east-1"
    )
