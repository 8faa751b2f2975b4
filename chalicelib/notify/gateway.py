"""The one place that knows where API Gateway's ``@connections`` management API is.

Chalice's own ``websocket_api`` always builds ``https://{domain}/{stage}``; the local stack's
gateway speaks plain HTTP on another port, so the endpoint comes from settings when set.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3

from chalicelib.settings import SETTINGS


class Gone(Exception):
    """The connection is closed (410 from the management API)."""


# boto3's default session is not safe to create clients from in several threads at once, and the
# local stack calls handlers from several (the WebSocket gateway, the SQS event sources).
_CLIENT_LOCK = threading.Lock()


@functools.cache
def _client(endpoint: str) -> Any:
    with _CLIENT_LOCK:
        return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, region_name=SETTINGS.region)


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
