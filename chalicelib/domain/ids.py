"""Identifiers: random, prefixed by what they name so a log line reads on its own."""

from __future__ import annotations

import secrets


def new(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"
