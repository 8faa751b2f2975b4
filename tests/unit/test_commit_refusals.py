"""Why a commit's transaction was cancelled: only a lost race is planned again, never a refusal."""

from __future__ import annotations

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from chalicelib.adapters import metadata as store
from chalicelib.errors import Busy, TooLarge


def _cancelled(*codes: str | None, error: str = "TransactionCanceledException") -> TransactWriteError:
    """The error pynamodb raises for DynamoDB's answer with these per-item reasons."""
    reasons = [None if code is None else CancellationReason(code=code, message=f"{code}!") for code in codes]
    cause = VerboseClientError(
        {"Error": {"Code": error, "Message": "cancelled"}}, "TransactWriteItems", cancellation_reasons=reasons
    )
    return TransactWriteError("Failed to write transaction items", cause=cause)


@pytest.mark.parametrize(
    "codes",
    [
        ("ConditionalCheckFailed", None),
        ("ConditionalCheckFailed", "ConditionalCheckFailed"),
        (None, "TransactionConflict"),
        ("TransactionConflict", None, None),
    ],
)
def test_a_lost_race_is_planned_again(codes: tuple[str | None, ...]) -> None:
    assert isinstance(store._refusal(_cancelled(*codes), None), store.HeadMoved)


@pytest.mark.parametrize(
    "codes",
    [
        (None, "ValidationError"),
        ("ConditionalCheckFailed", "ValidationError"),
        (None, None, "ValidationError"),
    ],
)
def test_an_item_too_large_is_too_large_not_a_race(codes: tuple[str | None, ...]) -> None:
    assert isinstance(store._refusal(_cancelled(*codes), None), TooLarge)


def test_a_transaction_too_large_is_too_large_not_a_race() -> None:
    refusal = store._refusal(_cancelled(error="ValidationException"), None)
    assert isinstance(refusal, TooLarge)


def test_throttling_is_busy_at_once_not_retried_as_a_race() -> None:
    assert isinstance(store._refusal(_cancelled("ThrottlingError", None), None), Busy)


def test_any_other_refusal_is_raised_as_it_came() -> None:
    error = _cancelled(None, "InternalServerError")
    assert store._refusal(error, None) is error
