"""The pure rules of notifications: retry delays, long-poll back-off, outbox shards."""

from __future__ import annotations

import pytest

from chalicelib.adapters import keys
from chalicelib.metadata.longpoll import BACKOFF_STEP_S, MAX_BACKOFF_S, backoff_s
from chalicelib.notify.worker import MAX_RETRY_DELAY_S, retry_delay_s


@pytest.mark.parametrize(("receives", "delay"), [(0, 2), (1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (50, 60)])
def test_a_failed_change_comes_back_sooner_first_then_at_most_a_minute_apart(
    receives: int, delay: int
) -> None:
    assert retry_delay_s(receives) == delay <= MAX_RETRY_DELAY_S


def test_the_retries_fit_in_the_queues_receive_count_well_within_its_visibility_timeout() -> None:
    # maxReceiveCount 5 in infra/template.yaml: four retries before the dead-letter queue.
    assert sum(retry_delay_s(n) for n in range(1, 5)) < 60


@pytest.mark.parametrize(
    ("waiting", "budget", "backoff"),
    [
        (1, 1, None),
        (400, 400, None),
        (401, 400, BACKOFF_STEP_S),
        (800, 400, BACKOFF_STEP_S),
        (801, 400, 30),
        (10**6, 400, MAX_BACKOFF_S),
    ],
)
def test_long_polls_over_the_budget_back_off_more_the_further_over(
    waiting: int, budget: int, backoff: int | None
) -> None:
    assert backoff_s(waiting, budget) == backoff


def test_outbox_shards_are_stable_and_all_used() -> None:
    namespace_ids = [f"ns_{i:024x}" for i in range(400)]
    shards = [keys.notify_shard(n) for n in namespace_ids]
    assert shards == [keys.notify_shard(n) for n in namespace_ids]
    assert set(shards) == set(range(keys.NOTIFY_SHARDS))
