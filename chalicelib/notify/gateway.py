"""The one place that knows where API Gateway's ``@connections`` management API is.

Chalice's own ``websocket_api`` always builds ``https://{domain}/{stage}``; the local stack's
gateway speaks plain HTTP on another port, so the endpoint comes from settings when set.
"""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.config import Config

from chalicelib.adapters import aws
from chalicelib.settings import SETTINGS

# The fan-out sends to many sockets at once; a slow or failing send is retried a little, then
# reported, so that SQS redelivers the change instead of the worker waiting on one socket.
_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=64,
    retries={"mode": "standard", "max_attempts": 3},
)


class Gone(Exception):
    """The connection is closed (410 from the management API)."""


def _client(endpoint: str) -> Any:
    return aws.client("apigatewaymanagementapi", endpoint_url=endpoint, config=_CONFIG)


def endpoint(domain_name: str = "", stage: str = "") -> str:
    if SETTINGS.websocket_management_url:
        return SETTINGS.websocket_management_url
    if not domain_name:
        raise RuntimeError("WEBSOCKET_MANAGEMENT_URL must be set outside a WebSocket handler")
    return f"https://{domain_name}/{stage}"


def send(connection_id: str, message: str, *, at: str | None = None) -> None:
    client = _client(at or endpoint())
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=message.encode())
    except client.exceptions.GoneException as exc:
        raise Gone(connection_id) from exc


def close(connection_id: str, *, at: str | None = None) -> None:
    """Close the socket (the gateway then calls ``$disconnect``); a closed one is left as it is."""
    client = _client(at or endpoint())
    with contextlib.suppress(client.exceptions.GoneException):
        client.delete_connection(ConnectionId=connection_id)
