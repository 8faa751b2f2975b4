"""DynamoDB side of WebSocket connections: one row per open socket, found by user for fan-out."""

from __future__ import annotations

import contextlib

from pynamodb.exceptions import DeleteError

from chalicelib.adapters.models import ConnectionModel, MembershipModel, TokenModel


def save(connection: ConnectionModel) -> None:
    connection.save()


def delete(connection_id: str) -> None:
    with contextlib.suppress(DeleteError):
        ConnectionModel(connection_id).delete()


def members(namespace_id: str) -> list[str]:
    return [m.user_id for m in MembershipModel.by_namespace.query(namespace_id)]


def of_user(user_id: str) -> list[ConnectionModel]:
    return list(ConnectionModel.by_user.query(user_id))


def live_tokens(token_hashes: set[str], now_s: float) -> set[str]:
    """Those of ``token_hashes`` that still authenticate: not revoked, not expired."""
    rows = TokenModel.batch_get(token_hashes, attributes_to_get=["token_hash", "expires_at"])
    return {row.token_hash for row in rows if row.expires_at is None or row.expires_at.timestamp() > now_s}
