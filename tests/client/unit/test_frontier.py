"""The frontier: which prefix of a run may be committed while its chunks are stored in any order."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Hashable, Sequence

from driftbox.frontier import Frontier
from hypothesis import given, settings
from hypothesis import strategies as st


def _frontier(*chunks_of: Sequence[Hashable]) -> Frontier:
    """A frontier over one action per argument, each needing the chunks given."""
    frontier = Frontier(len(chunks_of))
    for action, chunks in enumerate(chunks_of):
        frontier.needs(action, chunks)
    return frontier


def _ready_end(
    frontier: Frontier, start: int, most: int = 10, timeout_s: float = 1.0, least: int = 1
) -> int | None:
    """What ``wait_past(start, most, least)`` returns, or None if it still waits after ``timeout_s``.

    The call runs in a thread of its own so that a frontier that never gets ready fails the test
    instead of hanging it; a waiter left behind is a daemon.
    """
    ends: list[int] = []
    waiter = threading.Thread(target=lambda: ends.append(frontier.wait_past(start, most, least)), daemon=True)
    waiter.start()
    waiter.join(timeout_s)
    return ends[0] if ends else None


def test_actions_without_chunks_are_ready_at_once() -> None:
    frontier = _frontier([], [], [])

    assert _ready_end(frontier, 0) == 3
    assert frontier.waiting() == []


def test_the_ready_prefix_stops_at_the_first_action_waiting_and_jumps_when_its_chunk_is_stored() -> None:
    frontier = _frontier([], ["c1"], ["c2"], [])
    frontier.stored("c2")  # a later file complete first waits for the one before it
    assert _ready_end(frontier, 0) == 1

    frontier.stored("c1")
    assert _ready_end(frontier, 1) == 4


def test_a_chunk_shared_by_two_actions_resolves_both() -> None:
    frontier = _frontier(["shared"], ["shared", "own"], ["shared"])

    frontier.stored("shared")
    assert frontier.waiting() == [1]
    assert _ready_end(frontier, 0) == 1
    frontier.stored("own")
    assert _ready_end(frontier, 1) == 3


def test_a_chunk_an_action_lists_twice_is_stored_once() -> None:
    frontier = _frontier(["zeros", "zeros"])  # a file with two identical 4 MiB blocks

    frontier.stored("zeros")
    assert _ready_end(frontier, 0) == 1


def test_wait_past_returns_at_most_most_actions() -> None:
    frontier = _frontier([], [], [], [], [])

    assert _ready_end(frontier, 0, most=2) == 2
    assert _ready_end(frontier, 2, most=2) == 4
    assert _ready_end(frontier, 4, most=2) == 5


def test_waiting_lists_the_actions_still_waiting_for_a_chunk() -> None:
    frontier = _frontier(["a"], [], ["b", "c"], ["c"])
    assert frontier.waiting() == [0, 2, 3]

    frontier.stored("c")
    assert frontier.waiting() == [0, 2]
    frontier.stored("a")
    assert frontier.waiting() == [2]


def test_close_resolves_every_action() -> None:
    frontier = _frontier(["a"], [], ["b"])

    frontier.close()
    assert _ready_end(frontier, 0) == 3


def test_an_action_given_up_on_no_longer_holds_back_the_ones_after_it() -> None:
    frontier = _frontier(["unreadable"], [])

    frontier.resolve(0)
    assert _ready_end(frontier, 0) == 2


def test_resolving_a_resolved_action_changes_nothing() -> None:
    frontier = _frontier([], ["a"], [])

    frontier.resolve(0)
    assert _ready_end(frontier, 0) == 1  # not past action 1, still waiting
    assert frontier.waiting() == [1]
    frontier.stored("a")
    frontier.resolve(1)
    frontier.stored("a")
    assert _ready_end(frontier, 0) == 3


def test_wait_past_waits_for_least_actions_unless_no_more_can_come() -> None:
    frontier = _frontier([], [], ["a"], [], ["b"])
    assert _ready_end(frontier, 0, least=3, timeout_s=0.05) is None  # two ready: fewer than three
    frontier.stored("a")
    assert _ready_end(frontier, 0, least=3) == 4  # all that is ready, not just three
    assert _ready_end(frontier, 4, least=3, timeout_s=0.05) is None  # one left, still waiting
    frontier.stored("b")
    assert _ready_end(frontier, 4, least=3) == 5  # the last one: no more can come


def test_wait_past_waits_until_the_action_at_start_is_ready() -> None:
    frontier = _frontier([], ["a"])
    ends: list[int] = []
    waiter = threading.Thread(target=lambda: ends.append(frontier.wait_past(1, 10)), daemon=True)
    waiter.start()

    waiter.join(timeout=0.05)
    assert ends == []  # returning early would be fast: a slow machine can only hide it
    frontier.stored("a")  # wakes the waiter
    waiter.join(timeout=5)
    assert ends == [2]


def test_a_committer_sees_every_action_once_in_order_while_chunks_arrive_in_any_order() -> None:
    rnd = random.Random(3)
    count = 300
    chunks_of = [rnd.sample(range(150), rnd.randint(0, 3)) for _ in range(count)]  # many shared
    frontier = _frontier(*chunks_of)
    stored: set[int] = set()
    committed: list[int] = []
    too_early: list[int] = []  # committed before all of its chunks were stored

    def commit_as_ready() -> None:  # as the executor's committer thread does
        start = 0
        while start < count:
            end = frontier.wait_past(start, 7)
            too_early.extend(i for i in range(start, end) if not stored.issuperset(chunks_of[i]))
            committed.extend(range(start, end))
            start = end

    committer = threading.Thread(target=commit_as_ready, daemon=True)
    committer.start()
    chunks = sorted({chunk for each in chunks_of for chunk in each})
    rnd.shuffle(chunks)
    for i, chunk in enumerate(chunks):
        stored.add(chunk)  # before the frontier is told, so a ready action is never too early
        frontier.stored(chunk)
        if i % 10 == 0:
            time.sleep(0.001)  # let the committer run between stores
    committer.join(timeout=10)
    finished = not committer.is_alive()
    frontier.close()  # so that a committer stuck by a bug ends with the test

    assert finished
    assert committed == list(range(count))
    assert too_early == []


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    chunks_of=st.lists(st.lists(st.integers(0, 5), max_size=3), min_size=1, max_size=8),
    order=st.permutations(range(7)),  # chunk 6 is needed by no action
)
def test_after_each_store_the_ready_prefix_is_the_actions_whose_chunks_are_all_stored(
    chunks_of: list[list[int]], order: list[int]
) -> None:
    frontier = _frontier(*chunks_of)
    stored: set[int] = set()
    for chunk in [None, *order]:
        if chunk is not None:
            stored.add(chunk)
            frontier.stored(chunk)
        missing = [i for i, chunks in enumerate(chunks_of) if not stored.issuperset(chunks)]
        ready_end = missing[0] if missing else len(chunks_of)

        assert frontier.waiting() == missing
        if ready_end > 0:  # else wait_past(0, …) would wait, rightly
            assert _ready_end(frontier, 0, most=len(chunks_of)) == ready_end
