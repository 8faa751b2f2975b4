"""Login throttling: which tallies an attempt is charged to, before its password is checked.

An attempt from a source is charged to the (email, source) tally, and, unless that source logged
in to the account within ``KNOWN_SOURCE_TTL_S``, to the email's tally too. A stranger's guesses
therefore slow the stranger first; guesses from many sources slow the email only for sources it
has not logged in from, so they cannot lock the owner's usual places out. docs/architecture.md
("Passwords and login throttling") has the reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters import keys
from chalicelib.adapters import login_throttle as store
from chalicelib.domain.login_throttle import UNKNOWN_SOURCE, Budget, source_key
from chalicelib.errors import RateLimited
from chalicelib.settings import SETTINGS

FIRST_DELAY_S = 30
FORGET_AFTER_S = 24 * 3600
KNOWN_SOURCE_TTL_S = 30 * 24 * 3600

SOURCE_BUDGET = Budget(
    SETTINGS.login_free_failures, FIRST_DELAY_S, SETTINGS.login_max_delay_s, FORGET_AFTER_S
)
EMAIL_BUDGET = Budget(
    SETTINGS.login_account_free_failures, FIRST_DELAY_S, SETTINGS.login_max_delay_s, FORGET_AFTER_S
)


@dataclass(frozen=True)
class Attempt:
    """A login attempt already charged: settle it once the password is checked."""

    source_key: str
    email_key: str
    charged_email: bool

    def succeeded(self, now_s: int) -> None:
        store.clear(keys.login_source_throttle(self.source_key, self.email_key))
        if self.charged_email:
            store.refund(keys.login_throttle(self.email_key))
        if self.source_key != UNKNOWN_SOURCE:
            known = keys.login_known_source(self.source_key, self.email_key)
            store.remember(known, now_s, KNOWN_SOURCE_TTL_S)


def charge(email_key: str, source_ip: str | None, now_s: int) -> Attempt:
    """Charge an attempt for ``email_key`` from ``source_ip``, or refuse it with RateLimited."""
    source = source_key(source_ip)
    wait_s = store.charge(keys.login_source_throttle(source, email_key), now_s, SOURCE_BUDGET)
    if wait_s:
        raise RateLimited(
            "too many failed logins for this email from here; try again later", retry_after_s=wait_s
        )
    if source != UNKNOWN_SOURCE and store.is_known(keys.login_known_source(source, email_key), now_s):
        return Attempt(source, email_key, charged_email=False)
    wait_s = store.charge(keys.login_throttle(email_key), now_s, EMAIL_BUDGET)
    if wait_s:
        # Not checked, so not a failure of this source's: waiting out the email is enough.
        store.refund(keys.login_source_throttle(source, email_key))
        raise RateLimited("too many failed logins for this email; try again later", retry_after_s=wait_s)
    return Attempt(source, email_key, charged_email=True)
