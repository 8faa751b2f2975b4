"""WebSocket ``$connect``, ``$disconnect`` and ``$default``.

Chalice has no authorizer for ``$connect`` (aws/chalice#1457), so connect checks the bearer token
itself, from the handshake's ``Authorization`` header or its ``?token=`` (browsers cannot set
headers on a WebSocket), and refuses with 401 before the socket opens.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from chalicelib.accounts import auth
from chalicelib.adapters import connections as store
from chalicelib.adapters.models import ConnectionModel
from chalicelib.domain import strict_json
from chalicelib.errors import Unauthorized
from chalicelib.notify import gateway

# API Gateway closes every WebSocket after 2 hours; the row expires with it.
CONNECTION_LIFETIME_S = 2 * 3600


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _credentials(event: dict[str, Any]) -> str | None:
    """``Authorization: Bearer <token>``, or ``?token=`` where a client cannot set headers."""
    token = (event.get("queryStringParameters") or {}).get("token")
    return _header(event, "authorization") or (f"Bearer {token}" if token else None)


def connect(event: dict[str, Any]) -> dict[str, Any]:
    try:
        principal = auth.authenticate(_credentials(event))
    except Unauthorized as exc:
        return {"statusCode": 401, "body": json.dumps(exc.to_body())}
    now_s = time.time()
    store.save(
        ConnectionModel(
            event["requestContext"]["connectionId"],
            user_id=principal.user_id,
            device_id=principal.device_id,
            token_hash=principal.token_hash,
            connected_at_ms=int(now_s * 1000),
            expires_at=datetime.fromtimestamp(now_s + CONNECTION_LIFETIME_S, UTC),
        )
    )
    return {"statusCode": 200}


def disconnect(event: dict[str, Any]) -> dict[str, Any]:
    store.delete(event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def message(event: dict[str, Any]) -> dict[str, Any]:
    """Answer ``{"type": "ping"}`` with ``{"type": "pong"}``; anything else gets an error message."""
    context = event["requestContext"]
    try:
        kind = strict_json.loads(event.get("body") or "").get("type")
    except (ValueError, AttributeError):
        kind = None
    reply = {"type": "pong"} if kind == "ping" else {"type": "error", "message": 'send {"type": "ping"}'}
    at = gateway.endpoint(context.get("domainName", ""), context.get("stage", ""))
    try:
        gateway.send(context["connectionId"], json.dumps(reply), at=at)
    except gateway.Gone:
        store.delete(context["connectionId"])
    return {"statusCode": 200}
