"""The authorizer: turns a bearer token into a principal, and checks roles on namespaces.

It runs inside the route's Lambda (as Chalice middleware) rather than as an API Gateway Lambda
authorizer: a gateway authorizer's refusals are API Gateway's own 401/403 bodies (and, in
``chalice local``, a 403 for every refusal), and its results are cached, so a revoked token would
keep working for the cache's life. Here every request reads the token row: revocation is instant.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib import lazy
from chalicelib.domain import ids
from chalicelib.domain.accounts import WRITE_ROLES, bearer_token, token_hash
from chalicelib.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from chalicelib.adapters import accounts as store
else:
    store = lazy.module("chalicelib.adapters.accounts")


@dataclass(frozen=True)
class Principal:
    user_id: str
    device_id: str
    token_hash: str


def authenticate(authorization: str | None) -> Principal:
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    digest = token_hash(token)
    row = store.find_token(digest)
    if row is None:
        raise Unauthorized("the token is unknown or was revoked")
    if row.expires_at is not None and row.expires_at.timestamp() <= time.time():
        raise Unauthorized("the token has expired; log in again")
    return Principal(row.user_id, row.device_id, digest)


def require_role(principal: Principal, namespace_id: str, *, write: bool) -> str:
    """The caller's role on the namespace; Forbidden if none, or if ``write`` and read-only."""
    role = store.role_in(principal.user_id, namespace_id) if ids.looks_like(namespace_id, "ns") else None
    if role is None:
        raise Forbidden("you have no access to this namespace", namespace_id=namespace_id)
    if write and role not in WRITE_ROLES:
        raise Forbidden("your role on this namespace is read-only", namespace_id=namespace_id)
    return role


_CURRENT: ContextVar[Principal | None] = ContextVar("principal", default=None)


def set_current(principal: Principal | None) -> None:
    _CURRENT.set(principal)


def current() -> Principal:
    """The caller of the route being served (set by the app's middleware)."""
    principal = _CURRENT.get()
    if principal is None:
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    return principal
