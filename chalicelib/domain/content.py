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
# A file's mtime is a signed 64-bit count of nanoseconds since the epoch (1677-09-21 to
# 2262-04-11): what APFS stores, what SQLite and every client language hold exactly, and wider
# than ext4 reaches into the past. Before 1970 is allowed: such files exist on real disks.
MTIME_NS_MIN = -(2**63)
MTIME_NS_MAX = 2**63 - 1
_NS_PER_S = 1_000_000_000


def check_mtime_ns(value: int, *, field: str = "mtime") -> int:
    if not MTIME_NS_MIN <= value <= MTIME_NS_MAX:
        raise InvalidRequest(
            f"{field} must be nanoseconds since the epoch, from {MTIME_NS_MIN} to {MTIME_NS_MAX}"
            " (years 1677 to 2262)",
            field=field,
        )
    return value


def legacy_mtime_ns(value: int) -> int:
    """An mtime stored before the unit was checked, in nanoseconds.

    The Driftbox client then sent seconds; other clients sent nanoseconds. A value that is a time
    before 2262 in seconds was sent as seconds (as nanoseconds it would fall in 1970's first ten
    seconds); any other is nanoseconds, brought into the range if it lies outside.
    """
    if MTIME_NS_MIN <= value * _NS_PER_S <= MTIME_NS_MAX:
        return value * _NS_PER_S
    return min(max(value, MTIME_NS_MIN), MTIME_NS_MAX)


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
