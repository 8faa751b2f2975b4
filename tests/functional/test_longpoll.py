"""Long-poll: it answers when the journal passes the cursor, and sheds load with ``backoff``.

The waits run the service in threads (as concurrent Lambdas would), against the real tables.
Durations only bound the waiting; nothing asserts how fast anything was.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.accounts import auth
from chalicelib.adapters import waiters
from chalicelib.adapters.models import WaitersModel
from chalicelib.metadata import longpoll
from chalicelib.settings import SETTINGS
from tests.functional.conftest import Api
from tests.functional.files import commit, journal
from tests.functional.ws import wait_until

WAIT_S = 20


def start_waiting(pool: ThreadPoolExecutor, user: Api, cursor: str, timeout_s: int) -> Future[dict[str, Any]]:
    principal = auth.authenticate(f"Bearer {user.token}")
    return pool.submit(longpoll.longpoll, principal, user.namespace_id, cursor, timeout_s)


def waiting_now() -> int:
    """The gauge as a long-poll starting now reads it, without counting anything in."""
    window = int(time.time() // waiters.WINDOW_S)
    rows = WaitersModel.scan(WaitersModel.key.startswith("longpoll#"), consistent_read=True)
    return sum(int(r.waiters) for r in rows if int(r.key.split("#")[1]) in (window, window - 1))


@pytest.fixture
def pool() -> Any:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def test_a_waiting_long_poll_answers_changes_when_a_commit_lands(
    alice: Api, pool: ThreadPoolExecutor
) -> None:
    _, cursor = journal(alice)
    before = waiting_now()
    waiting = start_waiting(pool, alice, cursor, timeout_s=WAIT_S)
    wait_until(lambda: waiting_now() == before + 1, "the long-poll to count itself in")
    assert not waiting.done()

    assert commit(alice, {"op": "mkdir", "path": "/new"})[0] == 200

    # Had it missed the commit, it would answer {"changes": false} at its timeout.
    assert waiting.result(timeout=WAIT_S) == {"changes": True}
    wait_until(lambda: waiting_now() == before, "the long-poll to count itself out")


def test_a_cursor_already_passed_answers_at_once_without_waiting(alice: Api) -> None:
    _, cursor = journal(alice)
    assert commit(alice, {"op": "mkdir", "path": "/a"})[0] == 200
    principal = auth.authenticate(f"Bearer {alice.token}")
    assert longpoll.longpoll(principal, alice.namespace_id, cursor, 480) == {"changes": True}


def test_no_commit_answers_no_changes_at_the_timeout(alice: Api) -> None:
    _, cursor = journal(alice)
    principal = auth.authenticate(f"Bearer {alice.token}")
    assert longpoll.longpoll(principal, alice.namespace_id, cursor, 1) == {"changes": False}


def test_over_the_budget_a_long_poll_is_told_to_back_off_and_counts_nothing(
    alice: Api, bob: Api, pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = waiting_now()
    budget = before + 1
    monkeypatch.setattr(longpoll, "SETTINGS", dataclasses.replace(SETTINGS, longpoll_max_waiters=budget))
    _, alice_cursor = journal(alice)
    _, bob_cursor = journal(bob)
    first = start_waiting(pool, alice, alice_cursor, timeout_s=WAIT_S)
    wait_until(lambda: waiting_now() == budget, "the first long-poll to count itself in")

    principal = auth.authenticate(f"Bearer {bob.token}")
    shed = longpoll.longpoll(principal, bob.namespace_id, bob_cursor, WAIT_S)

    assert shed == {"changes": False, "backoff": longpoll.BACKOFF_STEP_S}
    assert waiting_now() == budget  # the refused one took itself off again
    assert not first.done()
    assert commit(alice, {"op": "mkdir", "path": "/wake"})[0] == 200
    assert first.result(timeout=WAIT_S) == {"changes": True}
    # Under the budget again: bob waits like anyone.
    assert longpoll.longpoll(principal, bob.namespace_id, bob_cursor, 1) == {"changes": False}


def test_the_gauge_sums_this_minute_and_the_last_across_shards() -> None:
    now = (time.time() // waiters.WINDOW_S + 1000) * waiters.WINDOW_S  # a quiet minute of our own
    held = [waiters.enter(now - waiters.WINDOW_S + 1, f"u_{i}") for i in range(3)]  # started last minute
    seat = waiters.enter(now + 1, "u_0")
    assert (seat.waiting, seat.user_waiting) == (4, 2)
    waiters.leave(seat, now + 2)
    for old in held:
        waiters.leave(old, now + 2)
    assert waiters.enter(now + 3, "u_0").waiting == 1
    # Two minutes on, last minute's rows no longer count, even one a crashed Lambda left high.
    assert waiters.enter(now + 2 * waiters.WINDOW_S + 1, "u_0").waiting == 1


def test_one_user_gets_a_bounded_share_of_the_seats_and_others_still_wait(
    alice: Api, bob: Api, pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = 2
    monkeypatch.setattr(
        longpoll, "SETTINGS", dataclasses.replace(SETTINGS, longpoll_max_waiters_per_user=share)
    )
    _, cursor = journal(alice)
    _, bob_cursor = journal(bob)
    before = waiting_now()
    held = [start_waiting(pool, alice, cursor, timeout_s=WAIT_S) for _ in range(share)]
    wait_until(lambda: waiting_now() == before + share, "alice's long-polls to count themselves in")

    principal = auth.authenticate(f"Bearer {alice.token}")
    shed = longpoll.longpoll(principal, alice.namespace_id, cursor, WAIT_S)
    assert shed == {"changes": False, "backoff": longpoll.BACKOFF_STEP_S}
    assert waiting_now() == before + share  # the refused one took itself off again

    # The global budget is far off: another user still waits, and is woken by his own commit.
    bob_waits = start_waiting(pool, bob, bob_cursor, timeout_s=WAIT_S)
    wait_until(lambda: waiting_now() == before + share + 1, "bob's long-poll to count itself in")
    assert commit(bob, {"op": "mkdir", "path": "/bob"})[0] == 200
    assert bob_waits.result(timeout=WAIT_S) == {"changes": True}
    assert commit(alice, {"op": "mkdir", "path": "/wake"})[0] == 200
    assert [f.result(timeout=WAIT_S) for f in held] == [{"changes": True}] * share


def test_long_polls_from_many_threads_leave_the_gauge_where_it_was(alice: Api) -> None:
    _, cursor = journal(alice)
    before = waiting_now()
    principal = auth.authenticate(f"Bearer {alice.token}")
    barrier = threading.Barrier(8)

    def poll() -> dict[str, Any]:
        barrier.wait()
        return longpoll.longpoll(principal, alice.namespace_id, cursor, 1)

    with ThreadPoolExecutor(max_workers=8) as many:
        answers = list(many.map(lambda _: poll(), range(8)))
    assert answers == [{"changes": False}] * 8
    assert waiting_now() == before


def test_the_server_caps_the_wait_whatever_the_client_asks(
    alice: Api, pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(longpoll, "SETTINGS", dataclasses.replace(SETTINGS, longpoll_max_s=1))
    _, cursor = journal(alice)
    # Uncapped, this would wait 480 s and the result below would time out.
    assert start_waiting(pool, alice, cursor, timeout_s=480).result(timeout=WAIT_S) == {"changes": False}
