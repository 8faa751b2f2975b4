"""Account rules: which emails are one account, device names, the bearer header, token form."""

from __future__ import annotations

import hashlib
import re

import pytest

from chalicelib.domain import accounts
from chalicelib.errors import InvalidRequest

EMAIL_KEYS = [
    ("alice@example.com", "alice@example.com"),
    ("  Alice@Example.COM \n", "alice@example.com"),
    ("ALICE+tag@EXAMPLE.com", "alice+tag@example.com"),
    ("jos\u0065\u0301@example.com", "jos\u00e9@example.com"),  # NFD in, NFC out
    ("JOS\u00c9@example.com", "jos\u00e9@example.com"),
    # Full case folding: these two spellings are one account (documented, not an accident).
    ("Stra\u00dfe@example.de", "strasse@example.de"),
    ("STRASSE@example.de", "strasse@example.de"),
    # rpartition: the last @ separates the domain; a quoted local part keeps its @.
    ('"a@b"@example.com', '"a@b"@example.com'),
    ("a@sub.example.co.uk", "a@sub.example.co.uk"),
]


@pytest.mark.parametrize(("raw", "expected"), EMAIL_KEYS)
def test_email_key(raw: str, expected: str) -> None:
    assert accounts.email_key(raw) == expected


BAD_EMAILS = [
    ("", "empty"),
    ("   ", "blank"),
    ("alice", "no @"),
    ("@example.com", "no local part"),
    ("alice@", "no domain"),
    ("alice@localhost", "domain without a dot"),
    ("al ice@example.com", "inner space"),
    ("alice@exa\tmple.com", "tab"),
    ("alice@example.com\x00", "NUL"),
    ("alice\x7f@example.com", "DEL"),
    ("alice\u00a0@example.com", "no-break space"),
    ("a" * 243 + "@example.com", "255 characters"),
]


@pytest.mark.parametrize(("raw", "why"), BAD_EMAILS, ids=[why for _, why in BAD_EMAILS])
def test_email_key_rejects(raw: str, why: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        accounts.email_key(raw)
    assert caught.value.details == {"field": "email"}


def test_email_of_254_characters_is_accepted() -> None:
    email = "a" * 242 + "@example.com"
    assert len(email) == 254
    assert accounts.email_key(email) == email


def test_turkish_dotted_capital_i_is_not_i_in_emails() -> None:
    assert accounts.email_key("\u0130@example.com") != accounts.email_key("i@example.com")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("laptop", "laptop"),
        ("  Anna's MacBook  ", "Anna's MacBook"),
        ("x" * 100, "x" * 100),
        ("\u00e9t\u00e9 📱", "\u00e9t\u00e9 📱"),
        ("", None),
        ("   ", None),
        ("x" * 101, None),
        ("lap\x00top", None),
        ("lap\ntop", None),
        ("lap\ud800top", None),
    ],
)
def test_check_device_name(raw: str, expected: str | None) -> None:
    if expected is not None:
        assert accounts.check_device_name(raw) == expected
    else:
        with pytest.raises(InvalidRequest):
            accounts.check_device_name(raw)


BEARER = [
    (None, None),
    ("", None),
    ("Bearer abc", "abc"),
    ("bearer abc", "abc"),
    ("BEARER abc", "abc"),
    ("Bearer   abc  ", "abc"),
    ("Bearer " + "t" * 256, "t" * 256),
    ("Bearer " + "t" * 257, None),
    ("Bearer", None),
    ("Bearer ", None),
    ("Bearer    ", None),
    ("Bearerabc", None),
    ("Basic YWxhZGRpbjpvcGVu", None),
    ("Token abc", None),
    ("abc", None),
    (" Bearer abc", None),  # the scheme must come first
]


@pytest.mark.parametrize(("header", "expected"), BEARER)
def test_bearer_token(header: str | None, expected: str | None) -> None:
    assert accounts.bearer_token(header) == expected


def test_new_tokens_are_url_safe_long_and_distinct() -> None:
    tokens = {accounts.new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 bytes = 256 bits
        assert accounts.bearer_token(f"Bearer {token}") == token


def test_token_hash_is_sha256_hex_of_the_token() -> None:
    assert accounts.token_hash("abc") == hashlib.sha256(b"abc").hexdigest()
    assert accounts.token_hash("abc") != accounts.token_hash("abd")


def test_roles() -> None:
    assert set(accounts.WRITE_ROLES) < set(accounts.ROLES)
    assert "viewer" not in accounts.WRITE_ROLES
