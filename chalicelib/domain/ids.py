"""Identifiers: random, prefixed by what they name so a log line reads on its own."""

from __future__ import annotations

import secrets


def new(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def looks_like(value: str, prefix: str) -> bool:
    """True when ``value`` has the form of an id made by ``new(prefix)`` (checked before any lookup)."""
    head, _, tail = value.partition("_")
    return head == prefix and len(tail) == 24 and all(c in "0123456789abcdef" for c in tail)
