"""DynamoDB side of the login throttle: tallies charged by conditional writes, and known sources."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.adapters.models import KnownSourceModel, ThrottleModel
from chalicelib.domain import login_throttle
from chalicelib.domain.login_throttle import Budget, Tally

# Each lost race re-reads the tally; parallel attempts win one at a time until it says wait.
_CHARGE_TRIES = 20


def _condition_failed(exc: PutError | UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def charge(key: str, now_s: int, budget: Budget) -> int:
    """Charge one attempt to the tally at ``key``: 0 once charged, else the seconds to wait.

    The write is conditional on the tally read, so of parallel attempts each charge is counted
    and none passes on a stale count.
    """
    for _ in range(_CHARGE_TRIES):
        try:
            row: ThrottleModel | None = ThrottleModel.get(key, consistent_read=True)
        except ThrottleModel.DoesNotExist:
            row = None
        tally = Tally(int(row.failures), int(row.last_failure_s or 0)) if row else None
        wait_s = login_throttle.wait_s(tally, now_s, budget)
        if wait_s:
            return wait_s
        after = login_throttle.charged(tally, now_s, budget)
        if row is None:
            condition = ThrottleModel.key.does_not_exist()
        else:
            condition = (ThrottleModel.failures == row.failures) & (
                ThrottleModel.last_failure_s == row.last_failure_s
                if row.last_failure_s is not None
                else ThrottleModel.last_failure_s.does_not_exist()
            )
        try:
            ThrottleModel(
                key,
                failures=after.failures,
                last_failure_s=after.last_failure_s,
                expires_at=datetime.fromtimestamp(now_s + budget.forget_after_s, UTC),
            ).save(condition=condition)
            return 0
        except PutError as exc:
            if not _condition_failed(exc):
                raise
    return 1  # every try lost a race: as many attempts as that are arriving at once


def refund(key: str) -> None:
    """Take back one charge (the attempt turned out right)."""
    try:
        ThrottleModel(key).update(
            actions=[ThrottleModel.failures.add(-1)], condition=ThrottleModel.failures > 0
        )
    except UpdateError as exc:
        if not _condition_failed(exc):  # nothing to refund: the tally was forgotten meanwhile
            raise


def clear(key: str) -> None:
    with contextlib.suppress(DeleteError):
        ThrottleModel(key).delete()


def is_known(key: str, now_s: int) -> bool:
    try:
        row = KnownSourceModel.get(key, consistent_read=True)
    except KnownSourceModel.DoesNotExist:
        return False
    return row.expires_at is not None and row.expires_at.timestamp() > now_s


def remember(key: str, now_s: int, ttl_s: int) -> None:
    KnownSourceModel(key, expires_at=datetime.fromtimestamp(now_s + ttl_s, UTC)).save()
