"""Streaming a file's bytes into 4 MiB chunks: each chunk's SHA-256 and the file's content hash.

The content hash is the server's (and Dropbox's) definition: SHA-256 over the concatenated binary
SHA-256 digests of the chunks, in order; an empty file has no chunks and the hash of no bytes.

Memory is constant whatever the file's size. ``hash_stream`` reads into one small reused buffer
and feeds hashlib a memoryview of it, so no byte is copied after the read, and the buffer stays in
the CPU cache between the read and the hash: that keeps hashing within a few percent of hashlib's
speed over bytes already in memory. ``iter_chunks``, for uploads, holds one chunk at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from driftbox.core.model import CHUNK_SIZE

EMPTY_CONTENT_HASH = hashlib.sha256(b"").hexdigest()

# Read size: a divisor of CHUNK_SIZE small enough that the bytes just read are still in the L2
# cache when hashed (a whole 4 MiB chunk is not), large enough that system calls cost little.
READ_SIZE_BYTES = 256 * 1024
assert CHUNK_SIZE % READ_SIZE_BYTES == 0


class Stream(Protocol):
    """A binary stream: a file opened "rb" (best with buffering=0), a BytesIO, a socket file."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...

    def read(self, size: int = -1, /) -> bytes | None: ...


@dataclass(frozen=True)
class Hashed:
    chunks: tuple[str, ...]  # hex SHA-256 of each chunk, in order
    size: int  # bytes read
    content_hash: str


def content_hash(chunks: Iterable[str]) -> str:
    """SHA-256 over the concatenated binary digests of the chunks (hex in, hex out)."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(bytes.fromhex(chunk))
    return digest.hexdigest()


def _fill(stream: Stream, view: memoryview) -> int:
    """Read until ``view`` is full or the stream ends (readinto may return less: pipes, sockets)."""
    filled = 0
    while filled < len(view):
        count = stream.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


def hash_stream(stream: Stream) -> Hashed:
    """Hash everything left in ``stream`` (opened in binary mode, unbuffered for the best speed)."""
    view = memoryview(bytearray(READ_SIZE_BYTES))
    whole = hashlib.sha256()  # over the binary digests: the content hash
    chunks: list[str] = []
    size_bytes = 0
    while True:
        chunk = hashlib.sha256()
        chunk_bytes = 0
        while chunk_bytes < CHUNK_SIZE:
            count = _fill(stream, view)
            if count == 0:
                break
            chunk.update(view[:count])
            chunk_bytes += count
        if chunk_bytes == 0:
            break
        digest = chunk.digest()
        whole.update(digest)
        chunks.append(digest.hex())
        size_bytes += chunk_bytes
        if chunk_bytes < CHUNK_SIZE:
            break
    return Hashed(tuple(chunks), size_bytes, whole.hexdigest())


def iter_chunks(stream: Stream) -> Iterator[tuple[str, bytes]]:
    """Each chunk of ``stream`` with its hex SHA-256, one chunk in memory at a time."""
    while True:
        data = stream.read(CHUNK_SIZE) or b""
        # A short read is not the end for every stream: read on until a chunk is full or empty.
        while 0 < len(data) < CHUNK_SIZE:
            more = stream.read(CHUNK_SIZE - len(data))
            if not more:
                break
            data += more
        if not data:
            return
        yield hashlib.sha256(data).hexdigest(), data
        if len(data) < CHUNK_SIZE:
            return
