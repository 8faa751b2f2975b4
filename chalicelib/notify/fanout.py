"""Sending one change to every open socket of every member of its namespace, concurrently.

A socket whose row has outlived API Gateway's 2-hour limit, or whose token no longer
authenticates (logged out, device unlinked, expired), is closed and forgotten instead of sent
to: revoking a token stops its pushes even if closing the socket at revocation failed. A socket
the gateway reports gone (410) is forgotten. Any other failed send fails the whole push, after
every other socket has had its send, so that SQS redelivers the change (at least once).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from chalicelib.adapters import connections as store
from chalicelib.adapters.models import ConnectionModel
from chalicelib.notify import gateway

logger = Logger(service="driftbox", child=True)
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="push")


class PushFailed(Exception):
    """Some sockets could not be sent to; the change must be delivered again."""


@dataclass(frozen=True)
class Outcome:
    sent: int = 0
    gone: int = 0
    closed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "gone": self.gone, "closed": self.closed}


_Action = Callable[[ConnectionModel], str]


def _each(action: _Action, connections: list[ConnectionModel]) -> list[str | Exception]:
    def guarded(connection: ConnectionModel) -> str | Exception:
        try:
            return action(connection)
        except Exception as exc:  # reported together, once every socket has had its turn
            return exc

    return list(_POOL.map(guarded, connections))


def _close(connection: ConnectionModel) -> str:
    gateway.close(connection.connection_id)
    store.delete(connection.connection_id)
    return "closed"


def _sender(message: str) -> Callable[[ConnectionModel], str]:
    def send(connection: ConnectionModel) -> str:
        try:
            gateway.send(connection.connection_id, message)
        except gateway.Gone:
            store.delete(connection.connection_id)
            return "gone"
        return "sent"

    return send


def connections_of(namespace_id: str) -> list[ConnectionModel]:
    users = store.members(namespace_id)
    return list(itertools.chain.from_iterable(_POOL.map(store.of_user, users)))


def push(namespace_id: str, head_seq: int) -> Outcome:
    """Send ``{"type": "changed", ...}`` to the namespace's open sockets; raise PushFailed if any failed."""
    now_s = time.time()
    found = connections_of(namespace_id)
    live = store.live_tokens({c.token_hash for c in found}, now_s) if found else set()
    usable: list[ConnectionModel] = []
    stale: list[ConnectionModel] = []
    for connection in found:
        ok = connection.token_hash in live and connection.expires_at.timestamp() > now_s
        (usable if ok else stale).append(connection)
    message = json.dumps({"type": "changed", "namespace_id": namespace_id, "head_seq": head_seq})
    results = _each(_sender(message), usable) + _each(_close, stale)
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise PushFailed(f"{len(failed)} of {len(results)} sockets failed: {failed[0]!r}") from failed[0]
    return Outcome(sent=results.count("sent"), gone=results.count("gone"), closed=results.count("closed"))


def close_device(user_id: str, device_id: str) -> int:
    """Close the device's sockets once its token is revoked; what fails here, ``push`` finishes."""
    try:
        mine = [c for c in store.of_user(user_id) if c.device_id == device_id]
        results = _each(_close, mine)
    except Exception as exc:  # the revocation stands; the next push closes what is left
        logger.warning("sockets not closed", extra={"device_id": device_id, "error": repr(exc)})
        return 0
    for failure in (r for r in results if isinstance(r, Exception)):
        logger.warning("socket not closed", extra={"device_id": device_id, "error": repr(failure)})
    return results.count("closed")
