"""Which new passwords signup refuses: length, the common list, repetition, the email, the service."""

from __future__ import annotations

import pytest

from chalicelib.domain import passwords
from chalicelib.errors import InvalidRequest

EMAIL = "ada.lovelace@example.com"

REFUSED = [
    ("abcdefg", "length"),
    ("", "length"),
    ("ab" * 512 + "c", "length"),
    ("password", "common"),
    ("PASSWORD", "common"),
    ("Password1", "common"),
    ("  password1  ", "common"),
    ("12345678", "common"),
    ("qwertyuiop", "common"),
    ("sunshine", "common"),
    ("zzzzzzzz", "repeated"),
    ("\u00e9" * 9, "repeated"),
    ("ada.lovelace@example.com", "email"),
    ("Ada.Lovelace1815", "email"),
    ("DriftBox2026", "service_name"),
]


@pytest.mark.parametrize(("password", "reason"), REFUSED)
def test_refused(password: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        passwords.check_new(password, EMAIL)
    assert caught.value.details == {"field": "password", "reason": reason}


ACCEPTED = [
    "x" * 7 + "y",
    "correct horse battery",
    "ab" * 512,
    "Tr0ub4dor&3 but longer",
    "lovelace is not the whole name",  # the email's name is "ada.lovelace"
]


@pytest.mark.parametrize("password", ACCEPTED)
def test_accepted(password: str) -> None:
    assert passwords.check_new(password, EMAIL) == password


def test_a_short_email_name_is_not_searched_for_but_an_equal_password_is_refused() -> None:
    assert passwords.check_new("my ada password", "ada@example.com") == "my ada password"
    with pytest.raises(InvalidRequest):
        passwords.check_new("ada@example.com", "ada@example.com")


def test_the_list_is_of_lowercase_passwords_long_enough_to_matter() -> None:
    common = passwords.common_passwords()
    assert len(common) > 8000
    assert all(len(p) >= passwords.MIN_LENGTH and p == p.casefold() for p in common)
    assert {"password", "iloveyou", "princess", "1qaz2wsx"} <= common
