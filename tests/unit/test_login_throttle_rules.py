"""The login throttle's arithmetic: waits that grow and end, charges, and who a source is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import login_throttle
from chalicelib.domain.login_throttle import Budget, Tally

BUDGET = Budget(free_failures=5, first_delay_s=30, max_delay_s=900, forget_after_s=86400)

DELAYS = [(0, 0), (4, 0), (5, 30), (6, 60), (7, 120), (9, 480), (10, 900), (11, 900), (10**6, 900)]


@pytest.mark.parametrize(("failures", "expected"), DELAYS)
def test_the_delay_doubles_past_the_free_failures_up_to_the_cap(failures: int, expected: int) -> None:
    assert login_throttle.delay_s(failures, BUDGET) == expected


WAITS = [
    (None, 1000, 0, "nothing charged"),
    (Tally(4, 1000), 1000, 0, "within the free failures"),
    (Tally(5, 1000), 1000, 30, "the first wait, at once"),
    (Tally(5, 1000), 1029, 1, "the first wait, its last second"),
    (Tally(5, 1000), 1030, 0, "the first wait, over"),
    (Tally(8, 1000), 1100, 140, "a longer wait"),
    (Tally(50, 1000), 1000 + 899, 1, "never longer than the cap"),
    (Tally(50, 1000), 1000 + 86400, 0, "forgotten"),
    (Tally(0, 1000), 1000, 0, "all refunded"),
]


@pytest.mark.parametrize(("tally", "now_s", "expected", "why"), WAITS, ids=[w[-1] for w in WAITS])
def test_wait(tally: Tally | None, now_s: int, expected: int, why: str) -> None:
    assert login_throttle.wait_s(tally, now_s, BUDGET) == expected


def test_a_charge_counts_one_more_failure_now_and_starts_afresh_once_forgotten() -> None:
    assert login_throttle.charged(None, 7, BUDGET) == Tally(1, 7)
    assert login_throttle.charged(Tally(3, 5), 7, BUDGET) == Tally(4, 7)
    assert login_throttle.charged(Tally(30, 5), 5 + 86400, BUDGET) == Tally(1, 5 + 86400)


@settings(max_examples=200, deadline=None)
@given(
    failures=st.integers(min_value=0, max_value=200),
    last=st.integers(min_value=0, max_value=10**9),
    elapsed=st.integers(min_value=0, max_value=2 * 86400),
)
def test_no_wait_outlasts_the_cap_and_every_wait_ends(failures: int, last: int, elapsed: int) -> None:
    tally = Tally(failures, last)
    wait = login_throttle.wait_s(tally, last + elapsed, BUDGET)
    assert 0 <= wait <= BUDGET.max_delay_s
    # After the wait an attempt is allowed: nobody is locked out for good.
    assert login_throttle.wait_s(tally, last + elapsed + wait, BUDGET) == 0
    if failures < BUDGET.free_failures:
        assert wait == 0


SOURCES = [
    ("198.51.100.4", "198.51.100.4"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.4", "198.51.100.4"),  # an IPv4 address in IPv6 form is that address
    ("", "unknown"),
    (None, "unknown"),
    ("not an address", "unknown"),
    ("1.2.3.4#x", "unknown"),
]


@pytest.mark.parametrize(("source_ip", "expected"), SOURCES)
def test_source_key(source_ip: str | None, expected: str) -> None:
    assert login_throttle.source_key(source_ip) == expected
    assert "#" not in login_throttle.source_key(source_ip)  # the keys in keys.py rely on it
