"""Local files for sync: where a path is, hashing one (refusing a result the file outran), durable writes."""

from __future__ import annotations

import os
from pathlib import Path

from driftbox.core.chunker import Hashed, hash_stream
from driftbox.errors import DriftboxError


class FileChangedWhileReading(DriftboxError, ValueError):
    """The file's size or mtime moved while it was read: its hash names no version of it.

    A ValueError too, so a caller that treats "not settled yet, try on the next scan" as a value
    problem (unlike an OSError: unreadable, vanished) catches it without knowing this module.
    """


def local_path(root: Path, path: str) -> Path:
    """The place on disk of a Driftbox path (already checked: no '..', no empty component)."""
    return root.joinpath(*path[1:].split("/"))


def hash_file(path: Path) -> Hashed:
    """The chunks and content hash of the file at ``path``, read once, in constant memory."""
    # Unbuffered: hash_stream reads into its own buffer, and a second one would only add a copy.
    with open(path, "rb", buffering=0) as stream:
        before = os.fstat(stream.fileno())
        hashed = hash_stream(stream)
        after = os.fstat(stream.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or (
        hashed.size != after.st_size
    ):
        raise FileChangedWhileReading(
            f"{path}: changed while being read ({before.st_size} → {after.st_size} bytes, "
            f"{hashed.size} read); it will be read again once it settles"
        )
    return hashed


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder (so that a rename or a new entry in it survives a power cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
