"""The local tree: a walk of the linked folder, hashing only files whose stat changed.

A file whose size, mtime_ns and inode match the stat cache keeps its cached content hash: a rescan
of an unchanged tree costs one ``stat`` per entry. A file's executable bit (owner-execute, part of
a revision) is read from that same ``stat``; a chmod changes no bytes, so it needs no hashing.

What cannot be synced is reported, not fatal: a name that is not valid Unicode or holds a control
character, a second name with the key of one already seen (``a.txt`` beside ``A.txt``, or an NFD
twin), symlinks and special files, unreadable folders, files that vanish or change mid-read. The
client's own temporary files are skipped.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from driftbox.adapters.fs import FileChangedWhileReading
from driftbox.adapters.index import CachedHash, LocalStat
from driftbox.adapters.transfer import PART_PREFIX
from driftbox.core import paths
from driftbox.core.model import FILE, FOLDER, Item

Hasher = Callable[[Path], tuple[str, tuple[str, ...]]]  # -> content hash, chunks


@dataclass
class Scan:
    tree: dict[str, Item] = field(default_factory=dict)
    hashed: dict[str, CachedHash] = field(default_factory=dict)  # the new stat cache, by path key
    problems: dict[str, str] = field(default_factory=dict)  # driftbox path -> why it is not synced
    hashed_count: int = 0
    leftovers: list[Path] = field(default_factory=list)  # temporary files of a client that died


def local_path(root: Path, path: str) -> Path:
    """The place on disk of a Driftbox path (already checked: no '..', no empty component)."""
    return root.joinpath(*path[1:].split("/"))


def scan(root: Path, cache: Mapping[str, CachedHash], hasher: Hasher) -> Scan:
    result = Scan()
    _walk(root, "", cache, hasher, result)
    return result


def _walk(folder: Path, prefix: str, cache: Mapping[str, CachedHash], hasher: Hasher, result: Scan) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        result.problems[prefix or "/"] = f"cannot read this folder: {exc.strerror}"
        return
    for entry in entries:
        if entry.name.startswith(PART_PREFIX):
            result.leftovers.append(Path(entry.path))
            continue
        path = f"{prefix}/{entry.name}"
        try:
            paths.normalize(path)
        except paths.InvalidPath as exc:
            result.problems[path] = f"not synced: {exc}"
            continue
        path_key = paths.key(path)
        if path_key in result.tree:
            result.problems[path] = (
                f"not synced: its name differs only in case or form from {result.tree[path_key].path}"
            )
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:  # vanished since the listing
            result.problems[path] = f"not synced: {exc.strerror}"
            continue
        if stat.S_ISDIR(info.st_mode):
            result.tree[path_key] = Item(path, FOLDER, inode=info.st_ino)
            _walk(Path(entry.path), path, cache, hasher, result)
        elif stat.S_ISREG(info.st_mode):
            _file(
                Path(entry.path),
                path,
                path_key,
                LocalStat(info.st_size, info.st_mtime_ns, info.st_ino),
                bool(info.st_mode & stat.S_IXUSR),
                cache,
                hasher,
                result,
            )
        else:
            result.problems[path] = "not synced: symbolic links and special files are skipped"


def _file(
    disk_path: Path,
    path: str,
    path_key: str,
    now: LocalStat,
    executable: bool,
    cache: Mapping[str, CachedHash],
    hasher: Hasher,
    result: Scan,
) -> None:
    known = cache.get(path_key)
    if known is not None and known.stat == now:
        cached = known
    else:
        try:
            content_hash, chunks = hasher(disk_path)
        except OSError as exc:
            result.problems[path] = f"not synced: cannot read it: {exc.strerror or exc}"
            return
        except FileChangedWhileReading as exc:  # the next scan sees it settled
            result.problems[path] = f"not synced yet: {exc}"
            return
        result.hashed_count += 1
        cached = CachedHash(now, content_hash, chunks)
    result.hashed[path_key] = cached
    result.tree[path_key] = Item(
        path, FILE, cached.content_hash, now.size_bytes, inode=now.inode, executable=executable
    )
