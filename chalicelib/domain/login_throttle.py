"""The login throttle's arithmetic: where an attempt is charged, and how long the next one waits.

Every login attempt is charged to a tally *before* its password is checked, and a correct password
refunds its charge, so a tally counts failures and parallel guesses cannot all slip past one read.
Two tallies are charged: one per (email, source) and a looser one per email for the sources that
have not logged in to the account recently. Neither locks anyone out: past a number of free
failures each further one doubles the wait before the next attempt, up to a cap, and failures are
forgotten a while after the last one. docs/architecture.md ("Passwords and login throttling") says why.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    free_failures: int  # failures before any wait
    first_delay_s: int  # the wait after the first failure past the free ones; doubled by each further one
    max_delay_s: int
    forget_after_s: int  # a tally whose last failure is this old counts as empty


@dataclass(frozen=True)
class Tally:
    failures: int
    last_failure_s: int


def current(tally: Tally | None, now_s: int, budget: Budget) -> Tally | None:
    """The tally as it counts now: None once its failures are forgotten."""
    if tally is None or tally.failures <= 0 or now_s - tally.last_failure_s >= budget.forget_after_s:
        return None
    return tally


def delay_s(failures: int, budget: Budget) -> int:
    """The wait after the ``failures``-th failure."""
    if failures < budget.free_failures:
        return 0
    doublings = min(failures - budget.free_failures, 32)
    return int(min(budget.max_delay_s, budget.first_delay_s * 2**doublings))


def wait_s(tally: Tally | None, now_s: int, budget: Budget) -> int:
    """Seconds before another attempt may be charged to this tally (0: now)."""
    counted = current(tally, now_s, budget)
    if counted is None:
        return 0
    return max(0, counted.last_failure_s + delay_s(counted.failures, budget) - now_s)


def charged(tally: Tally | None, now_s: int, budget: Budget) -> Tally:
    """The tally after one more attempt is charged at ``now_s``."""
    counted = current(tally, now_s, budget)
    return Tally((counted.failures if counted else 0) + 1, now_s)


UNKNOWN_SOURCE = "unknown"  # no address given: one shared source, never a known one


def source_key(source_ip: str | None) -> str:
    """Who an attempt comes from: the IPv4 address, or the IPv6 /64 (one subscriber's usual share)."""
    try:
        address = ipaddress.ip_address(source_ip or "")
    except ValueError:
        return UNKNOWN_SOURCE
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
