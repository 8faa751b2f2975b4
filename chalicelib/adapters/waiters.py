"""How many long-polls are waiting right now, across every Lambda and per user: gauges in DynamoDB.

A long-poll adds one to a row named by the minute it started in and a random shard (so no single
item takes every write), and to its user's row of that minute, and takes both off when it returns.
A long-poll lasts under 30 s, so every one still waiting started this minute or the last: their
rows, summed, are the gauges. A row left high by a Lambda that died mid-wait stops counting two
minutes later and then expires.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.adapters.models import WaitersModel

WINDOW_S = 60
SHARDS = 4


def _key(window: int, shard: int) -> str:
    return f"longpoll#{window}#{shard}"


def _user_key(user_id: str, window: int) -> str:
    # One row per user and minute: a user's long-polls are few, and writing them spreads by user.
    return f"longpoll-user#{user_id}#{window}"


@dataclass(frozen=True)
class Seat:
    """A long-poll counted in: its rows, and how many wait now (itself included), in all and of its user."""

    keys: tuple[str, str]
    waiting: int
    user_waiting: int


def enter(now_s: float, user_id: str) -> Seat:
    """Count this long-poll in, for everyone and for its user."""
    window = int(now_s // WINDOW_S)
    keys = (_key(window, random.randrange(SHARDS)), _user_key(user_id, window))
    for key in keys:
        _add(key, 1, now_s)
    everyone = [_key(w, shard) for w in (window, window - 1) for shard in range(SHARDS)]
    mine = [_user_key(user_id, w) for w in (window, window - 1)]
    rows = WaitersModel.batch_get(everyone + mine, consistent_read=True, attributes_to_get=["key", "waiters"])
    counts = {row.key: max(0, int(row.waiters)) for row in rows}
    return Seat(keys, sum(counts.get(k, 0) for k in everyone), sum(counts.get(k, 0) for k in mine))


def leave(seat: Seat, now_s: float) -> None:
    for key in seat.keys:
        _add(key, -1, now_s)


def _add(key: str, delta: int, now_s: float) -> None:
    expires_at = datetime.fromtimestamp(now_s + 3 * WINDOW_S, UTC)
    WaitersModel(key).update(
        actions=[WaitersModel.waiters.add(delta), WaitersModel.expires_at.set(expires_at)]
    )
