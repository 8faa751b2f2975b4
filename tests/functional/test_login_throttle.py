"""Login throttling through the HTTP API: parallel guesses, strangers, many sources, the decoy hash."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from argon2 import PasswordHasher
from chalice.test import Client

from chalicelib.accounts import throttle
from chalicelib.settings import SETTINGS
from tests.functional.conftest import Api, make_user, new_email
from tests.functional.sources import Caller

PASSWORD = "correct horse battery"
OWNER_IP, STRANGER_IP = "198.51.100.4", "203.0.113.7"


@pytest.fixture
def verified_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every hash the real argon2 hasher verifies a password against, in order."""
    seen: list[str] = []
    lock = threading.Lock()
    real_verify = PasswordHasher.verify

    def verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        with lock:
            seen.append(hash if isinstance(hash, str) else hash.decode())
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    return seen


def _status(result: tuple[int, Any, dict[str, str]]) -> int:
    return result[0]


def test_parallel_wrong_guesses_are_checked_at_most_the_free_number(
    alice: Api, verified_hashes: list[str]
) -> None:
    email = alice.email  # type: ignore[attr-defined]
    stranger = Caller(STRANGER_IP)
    guesses = 12
    start = threading.Barrier(guesses)
    statuses: list[int] = []

    def guess(n: int) -> None:
        start.wait()
        statuses.append(_status(stranger.login(email, f"wrong guess {n}")))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(set(statuses)) == [401, 429], statuses
    assert statuses.count(401) <= SETTINGS.login_free_failures, statuses
    # A 401 is a password checked: the refused ones never reached argon2.
    assert len(verified_hashes) == statuses.count(401)


def test_a_strangers_failures_slow_the_stranger_with_a_wait_not_a_lockout(alice: Api) -> None:
    email = alice.email  # type: ignore[attr-defined]
    stranger = Caller(STRANGER_IP)
    for n in range(SETTINGS.login_free_failures):
        assert _status(stranger.login(email, f"wrong guess {n}")) == 401
    status, body, headers = stranger.login(email, PASSWORD)
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    # The first wait past the free failures is short; only further failures lengthen it.
    assert 0 < int(headers["Retry-After"]) == body["error"]["retry_after_s"] <= throttle.FIRST_DELAY_S
    # The owner, somewhere else, is not locked out by them.
    status, body, _ = Caller(OWNER_IP).login(email, PASSWORD, device="phone")
    assert status == 200, body


def test_guesses_from_many_sources_do_not_lock_out_the_owners_known_source(client: Client) -> None:
    owner = make_user(client)
    email = owner.email  # type: ignore[attr-defined]
    home = Caller(OWNER_IP)
    assert _status(home.login(email, PASSWORD)) == 200  # the owner's usual place is now known

    botnet = [Caller(f"192.0.2.{n}") for n in range(1, SETTINGS.login_account_free_failures + 2)]
    statuses = [_status(bot.login(email, "wrong guess")) for bot in botnet]
    assert statuses.count(401) == SETTINGS.login_account_free_failures, statuses
    assert statuses[-1] == 429  # the email's own tally now makes unknown sources wait

    assert _status(Caller("192.0.2.250").login(email, PASSWORD)) == 429
    status, body, _ = home.login(email, PASSWORD, device="phone")
    assert status == 200, body


def test_an_ipv6_subscriber_is_one_source_whatever_its_address_in_the_64(client: Client) -> None:
    email = make_user(client).email  # type: ignore[attr-defined]
    for n in range(SETTINGS.login_free_failures):
        assert _status(Caller(f"2001:db8:1:2::{n + 1:x}").login(email, "wrong guess")) == 401
    assert _status(Caller("2001:db8:1:2:ffff::1").login(email, "wrong guess")) == 429
    assert _status(Caller("2001:db8:1:3::1").login(email, PASSWORD)) == 200


def test_a_successful_login_clears_its_sources_failures(client: Client) -> None:
    email = make_user(client).email  # type: ignore[attr-defined]
    here = Caller(OWNER_IP)
    for _ in range(2):
        for n in range(SETTINGS.login_free_failures - 1):
            assert _status(here.login(email, f"typo {n}")) == 401
        # Without the reset the second round would reach the free failures and wait.
        assert _status(here.login(email, PASSWORD)) == 200


def test_an_unknown_email_is_verified_against_a_decoy_of_the_same_cost(
    alice: Api, verified_hashes: list[str]
) -> None:
    unknown = Caller(OWNER_IP).login(new_email(), PASSWORD)
    wrong = Caller(OWNER_IP).login(alice.email, "not the password")  # type: ignore[attr-defined]
    assert _status(unknown) == _status(wrong) == 401
    assert unknown[1] == wrong[1]
    # One argon2 verify each, against hashes of the same parameters (so of the same cost).
    assert len(verified_hashes) == 2, verified_hashes
    decoy, real = (h.rsplit("$", 2)[0] for h in verified_hashes)
    assert decoy == real
    assert real.startswith(f"$argon2id$v=19$m={SETTINGS.argon2_memory_kib},t={SETTINGS.argon2_time_cost},")
