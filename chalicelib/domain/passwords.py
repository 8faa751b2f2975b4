"""Which new passwords signup refuses, after NIST SP 800-63B 5.1.1.2: too short, too common, guessable.

No composition rules (NIST advises against them): a password of 8 or more characters is refused
only when it is on the list of passwords most common in breaches (``common_passwords.txt``, 8,346
entries; its origin and license are in ``common_passwords.NOTICE``), is one character repeated, or
is built from the account's own email name or the service's name. The list is compared case-
insensitively, as an attacker's guesses are.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from chalicelib.errors import InvalidRequest

MIN_LENGTH = 8
MAX_LENGTH = 1024
SERVICE_NAME = "driftbox"
# A shorter email name (say "al") is a part of too many good passwords to refuse them all.
MIN_EMAIL_NAME_LENGTH = 4

_LIST_PATH = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    # Read at the first signup, not at import: the login and sync paths never need it.
    return frozenset(_LIST_PATH.read_text(encoding="utf-8").splitlines())


def _refuse(message: str, reason: str) -> InvalidRequest:
    return InvalidRequest(message, field="password", reason=reason)


def check_new(password: str, email_key: str) -> str:
    """``password`` if signup may use it for the account of ``email_key``, else InvalidRequest."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise _refuse(f"password must be {MIN_LENGTH} to {MAX_LENGTH} characters long", "length")
    folded = password.casefold()
    if len(set(folded)) == 1:
        raise _refuse("password must not be one character repeated", "repeated")
    email_name = email_key.rpartition("@")[0]
    if folded == email_key or (len(email_name) >= MIN_EMAIL_NAME_LENGTH and email_name in folded):
        raise _refuse("password must not contain the email address or its name", "email")
    if SERVICE_NAME in folded:
        raise _refuse(f"password must not contain the service's name ({SERVICE_NAME})", "service_name")
    if folded.strip() in common_passwords():
        raise _refuse(
            "password is one of the most commonly used passwords, which are guessed first; choose another",
            "common",
        )
    return password
