"""The index's rows as Python values, and back: the stat a file was seen with, a stat-cache entry,
what the scan compares a disk entry with (``Known``), and the SQL that reads them
(``adapters.index``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from driftbox.adapters.index_schema import PARENT
from driftbox.core.journal import RemoteFile
from driftbox.core.model import FOLDER, Item


@dataclass(frozen=True)
class LocalStat:
    """What ``stat`` said of a local file: enough to tell, without reading it, that it changed."""

    size_bytes: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True)
class CachedHash:
    """A stat cache entry: the file held this content while its stat was this."""

    stat: LocalStat
    content_hash: str
    chunks: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    time_s: float  # Unix time it was seen


def _blob(chunks: Iterable[str]) -> bytes:
    return b"".join(bytes.fromhex(chunk) for chunk in chunks)


def _chunks(blob: bytes) -> tuple[str, ...]:
    hexed = blob.hex()
    return tuple(hexed[i : i + 64] for i in range(0, len(hexed), 64))


def _printable(path: str) -> str:
    """A name that is not valid Unicode (undecodable bytes, as os.fsdecode gives) shown escaped."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _row(folder_id: int, path_key: str, item: Item, *extra: Any) -> tuple[Any, ...]:
    fields = (item.path, item.kind, item.content_hash, item.size, item.rev, item.object_id, item.inode)
    return (folder_id, path_key, *fields, *extra)


def _local(local: LocalStat | None) -> tuple[int | None, int | None]:
    return (local.size_bytes, local.mtime_ns) if local else (None, None)


def _file(remote_file: RemoteFile | None) -> tuple[bytes, int]:
    return (_blob(remote_file.chunks), remote_file.mtime_ns) if remote_file else (b"", 0)


_ITEM_COLUMNS = "path_key, path, kind, content_hash, size_bytes, rev, object_id, inode, executable"
_LOAD_SYNCED = f"SELECT {_ITEM_COLUMNS} FROM synced WHERE folder_id = ?"  # noqa: S608 (constants)
_LOAD_REMOTE = f"SELECT {_ITEM_COLUMNS} FROM remote WHERE folder_id = ?"  # noqa: S608 (constants)


def _below(path_key: str) -> tuple[str, str]:
    """Bounds of the keys strictly below ``path_key`` in SQLite's order (UTF-8 bytes: code points)."""
    folder = path_key.rstrip("/")
    return folder + "/", folder + "0"  # "0" follows "/"


def _parent_of_children(folder_key: str) -> str:
    """What ``PARENT`` is for the keys directly in the folder at ``folder_key``."""
    return folder_key.rstrip("/") + "/"


_SYNCED_CHILDREN = (
    "SELECT path_key, path, kind, local_size_bytes, local_mtime_ns, inode, executable"  # noqa: S608
    f" FROM synced INDEXED BY synced_children WHERE folder_id = ? AND {PARENT} = ?"
)
_STAT_CHILDREN = (
    "SELECT path_key, size_bytes, mtime_ns, inode, content_hash, chunks"  # noqa: S608
    f" FROM stat_cache INDEXED BY stat_children WHERE folder_id = ? AND {PARENT} = ?"
)
_IN_CHUNK = 500  # keys per IN (...) query: SQLite allows 32,766 variables, but short is quick


class Known(NamedTuple):
    """What the scan compares a disk entry with: its synced item, as the disk held it."""

    path_key: str
    path: str
    kind: str
    inode: int | None
    signature: tuple[object, ...] | None  # ``disk_signature`` of the entry as synced; None: unknown


def disk_signature(info: os.stat_result) -> tuple[object, ...] | None:
    """What a ``stat`` says of an entry that a synced one must match to be unchanged: a folder's
    inode; a file's size, mtime_ns, inode and owner-execute bit; nothing of anything else."""
    if stat.S_ISDIR(info.st_mode):
        return (FOLDER, info.st_ino)
    if stat.S_ISREG(info.st_mode):
        return (info.st_size, info.st_mtime_ns, info.st_ino, bool(info.st_mode & stat.S_IXUSR))
    return None


def _known(key: str, path: str, kind: str, size: Any, mtime: Any, inode: Any, executable: Any) -> Known:
    if inode is None or (kind != FOLDER and mtime is None):
        return Known(key, path, kind, inode, None)
    signature = (FOLDER, inode) if kind == FOLDER else (size, mtime, inode, bool(executable))
    return Known(key, path, kind, inode, signature)


def _items(rows: Iterable[Any]) -> dict[str, Item]:
    return {
        key: Item(path, kind, content_hash, size, rev, object_id, inode, bool(executable))
        for key, path, kind, content_hash, size, rev, object_id, inode, executable in rows
    }


def _cached(folder_id: int, path_key: str, c: CachedHash) -> tuple[Any, ...]:
    stat = (c.stat.size_bytes, c.stat.mtime_ns, c.stat.inode)
    return (folder_id, path_key, *stat, c.content_hash, _blob(c.chunks))
