"""Account rules: emails, device names, token form (new passwords and the login throttle have their own)."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata

from chalicelib.errors import InvalidRequest

ROLES = ("owner", "editor", "viewer")
WRITE_ROLES = ("owner", "editor")


def email_key(email: str) -> str:
    """The comparison form of an email: trimmed, NFC, case-folded."""
    text = unicodedata.normalize("NFC", email.strip()).casefold()
    local, _, domain = text.rpartition("@")
    if not local or not domain or "." not in domain or len(text) > 254:
        raise InvalidRequest("email is not a valid address", field="email")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidRequest("email is not a valid address", field="email")
    return text


def check_device_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100 or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise InvalidRequest("device_name must be 1 to 100 printable characters", field="device_name")
    return name


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        return None
    return token
