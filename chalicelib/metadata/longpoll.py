"""Long-poll: wait until the journal passes a cursor, for devices that cannot hold a WebSocket.

The wait re-reads the namespace's head every 50 ms (one consistent read of one small item), so
it answers within about 50 ms of a commit. It never waits past ``LONGPOLL_MAX_S`` (25 s; API
Gateway ends every request at 29 s). Each waiting long-poll holds a Lambda, so when more than
``LONGPOLL_MAX_WAITERS`` wait at once, across all Lambdas, or more than
``LONGPOLL_MAX_WAITERS_PER_USER`` of one user's (so that no one user can take every seat), a new
one is answered at once with ``backoff``: the seconds the client should wait before polling
again, growing with the excess.
"""

from __future__ import annotations

import math
import time
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException

from chalicelib.accounts.auth import Principal, require_role
from chalicelib.adapters import metadata as store
from chalicelib.adapters import waiters
from chalicelib.metadata.reads import resolve
from chalicelib.settings import SETTINGS

logger = Logger(service="driftbox", child=True)
POLL_INTERVAL_S = 0.05
BACKOFF_STEP_S = 15
MAX_BACKOFF_S = 300


def backoff_s(waiting: int, budget: int) -> int | None:
    """None within the budget; above it, 15 s per budget's worth of excess, at most 5 minutes."""
    if waiting <= budget:
        return None
    return min(MAX_BACKOFF_S, BACKOFF_STEP_S * math.ceil((waiting - budget) / budget))


def _wait(namespace_id: str, seq: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if store.head_seq(namespace_id) > seq:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)


def longpoll(principal: Principal, namespace_id: str, cursor_text: str, timeout_s: int) -> dict[str, Any]:
    require_role(principal, namespace_id, write=False)
    cursor = resolve(store.get_namespace(namespace_id), cursor_text)
    if store.head_seq(namespace_id) > cursor.seq:
        return {"changes": True}
    now_s = time.time()
    try:
        seat = waiters.enter(now_s, principal.user_id)
    except (BotoCoreError, PynamoDBException) as exc:  # no gauge: serve the wait rather than refuse it
        logger.warning("long-poll gauge unavailable", extra={"error": repr(exc)})
        return {"changes": _wait(namespace_id, cursor.seq, min(timeout_s, SETTINGS.longpoll_max_s))}
    try:
        backoff = backoff_s(seat.waiting, SETTINGS.longpoll_max_waiters) or backoff_s(
            seat.user_waiting, SETTINGS.longpoll_max_waiters_per_user
        )
        if backoff is not None:
            logger.info(
                "long-poll shed",
                extra={"waiting": seat.waiting, "user_waiting": seat.user_waiting, "backoff_s": backoff},
            )
            return {"changes": False, "backoff": backoff}
        return {"changes": _wait(namespace_id, cursor.seq, min(timeout_s, SETTINGS.longpoll_max_s))}
    finally:
        waiters.leave(seat, time.time())
