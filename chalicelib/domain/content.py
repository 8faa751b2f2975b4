"""Chunk and content rules: hash form, fixed 4 MiB chunking, and the content hash."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from chalicelib.domain.model import Content
from chalicelib.errors import InvalidRequest

CHUNK_SIZE = 4 * 1024 * 1024
_HASH = re.compile(r"[0-9a-f]{64}")  # used with fullmatch: "$" would let a trailing "\n" in
EMPTY_CONTENT_HASH = hashlib.sha256(b"").hexdigest()


def check_hash(value: object, *, field: str = "hash") -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise InvalidRequest(f"{field} must be 64 lowercase hexadecimal characters", field=field)
    return value


def chunk_count(size_bytes: int) -> int:
    return -(-size_bytes // CHUNK_SIZE)


def chunk_sizes(size_bytes: int) -> list[int]:
    """The size of each chunk of a file of ``size_bytes``: full chunks, then the remainder."""
    count = chunk_count(size_bytes)
    if count == 0:
        return []
    return [CHUNK_SIZE] * (count - 1) + [size_bytes - CHUNK_SIZE * (count - 1)]


def sized_chunks(contents: Iterable[Content]) -> dict[str, int]:
    """Every chunk the contents reference, with the size its place in its file implies."""
    found: dict[str, int] = {}
    for content in contents:
        found.update(zip(content.chunks, chunk_sizes(content.size), strict=True))
    return found


def content_hash(chunks: list[str] | tuple[str, ...]) -> str:
    """SHA-256 over the concatenated binary SHA-256 digests of the chunks (Dropbox's definition)."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(bytes.fromhex(chunk))
    return digest.hexdigest()
