"""How many long-polls are waiting right now, across every Lambda: a gauge in DynamoDB.

A long-poll adds one to a row named by the minute it started in and a random shard (so no single
item takes every write), and takes it off when it returns. A long-poll lasts under 30 s, so every
one still waiting started this minute or the last: their rows, summed, are the gauge. A row left
high by a Lambda that died mid-wait stops counting two minutes later and then expires.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from chalicelib.adapters.models import WaitersModel

WINDOW_S = 60
SHARDS = 4


def _key(window: int, shard: int) -> str:
    return f"longpoll#{window}#{shard}"


def enter(now_s: float) -> tuple[str, int]:
    """Count this long-poll in; returns its row's key and how many wait now, itself included."""
    window = int(now_s // WINDOW_S)
    key = _key(window, random.randrange(SHARDS))
    _add(key, 1, now_s)
    rows = WaitersModel.batch_get(
        [_key(w, shard) for w in (window, window - 1) for shard in range(SHARDS)],
        consistent_read=True,
        attributes_to_get=["key", "waiters"],
    )
    return key, sum(max(0, int(row.waiters)) for row in rows)


def leave(key: str, now_s: float) -> None:
    _add(key, -1, now_s)


def _add(key: str, delta: int, now_s: float) -> None:
    expires_at = datetime.fromtimestamp(now_s + 3 * WINDOW_S, UTC)
    WaitersModel(key).update(
        actions=[WaitersModel.waiters.add(delta), WaitersModel.expires_at.set(expires_at)]
    )
