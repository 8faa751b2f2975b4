"""The events API Gateway's WebSocket API hands to Lambda: ``$connect``, ``$default``, ``$disconnect``.

Shapes follow events captured from API Gateway (as kept in Powertools' test events): ids are 16
characters of URL-safe base64 ending in ``=``, times are epoch milliseconds, the connect event
carries the handshake's headers (without the hop-by-hop ``Connection`` and ``Upgrade``) and query
string, a message event carries the body only, and a disconnect event carries the close code and
reason and the few placeholder headers API Gateway sends.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

_HOP_BY_HOP = frozenset({"connection", "upgrade", "keep-alive", "transfer-encoding", "te", "trailer"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def new_id() -> str:
    """An id in API Gateway's look: 11 random bytes, URL-safe base64, so 16 characters ending in "="."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


def _request_time(epoch_ms: int) -> str:
    t = time.gmtime(epoch_ms / 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:" + time.strftime("%H:%M:%S +0000", t)


@dataclass(frozen=True)
class Connection:
    """What API Gateway knows of one connection, and repeats in every event about it."""

    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str | None
    domain_name: str
    stage: str
    api_id: str

    def identity(self) -> dict[str, str]:
        identity = {"sourceIp": self.source_ip}
        if self.user_agent is not None:
            identity["userAgent"] = self.user_agent
        return identity

    def request_context(self, route_key: str, event_type: str, **extra: Any) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        request_id = new_id()
        return {
            "routeKey": route_key,
            **extra,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": _request_time(now_ms),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": self.connected_at_ms,
            "requestTimeEpoch": now_ms,
            "identity": self.identity(),
            "requestId": request_id,
            "domainName": self.domain_name,
            "connectionId": self.connection_id,
            "apiId": self.api_id,
        }


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def connect_event(
    connection: Connection, headers: Iterable[tuple[str, str]], query_string: str, server_port: int
) -> dict[str, Any]:
    """``$connect``: the upgrade request's headers and query string, as a REST API's proxy event has them,
    with the headers API Gateway adds."""
    added = [
        ("X-Amzn-Trace-Id", _trace_id()),
        ("X-Forwarded-For", connection.source_ip),
        ("X-Forwarded-Port", str(server_port)),
        ("X-Forwarded-Proto", "http"),
    ]
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in [*headers, *added]:
        if name.lower() in _HOP_BY_HOP:
            continue
        single[name] = value
        multi.setdefault(name, []).append(value)
    event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
    pairs = parse_qsl(query_string, keep_blank_values=True)
    if pairs:
        event["queryStringParameters"] = dict(pairs)
        multi_query: dict[str, list[str]] = {}
        for name, value in pairs:
            multi_query.setdefault(name, []).append(value)
        event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = connection.request_context("$connect", "CONNECT")
    event["isBase64Encoded"] = False
    return event


def message_event(connection: Connection, body: str | bytes) -> dict[str, Any]:
    """``$default``: a text message as it is, a binary one in base64 with ``isBase64Encoded``."""
    binary = isinstance(body, bytes)
    return {
        "requestContext": connection.request_context("$default", "MESSAGE", messageId=new_id()),
        "body": base64.b64encode(body).decode() if isinstance(body, bytes) else body,
        "isBase64Encoded": binary,
    }


def disconnect_event(connection: Connection, status_code: int, reason: str) -> dict[str, Any]:
    """``$disconnect``: the close code and reason, and the placeholder headers API Gateway sends."""
    headers = {"Host": connection.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": connection.request_context(
            "$disconnect", "DISCONNECT", disconnectStatusCode=status_code, disconnectReason=reason
        ),
        "isBase64Encoded": False,
    }
