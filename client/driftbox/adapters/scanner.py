"""The local tree: a walk of the linked folder, hashing only files whose stat changed.

A file whose size, mtime_ns and inode match the stat cache keeps its cached content hash: a rescan
of an unchanged tree costs one ``stat`` per entry. A file's executable bit (owner-execute, part of
a revision) is read from that same ``stat``; a chmod changes no bytes, so it needs no hashing.

What cannot be synced is reported, not fatal:
a name that is not valid Unicode or holds a control or format character, symlinks and special files,
unreadable folders, files that vanish or change mid-read. The client's own temporary files are skipped.

Names that share a key (``a.txt`` beside ``A.txt``, or an NFD twin) are told apart by
``core.twins``: the keeper is walked, the others are returned as ``twins`` (not walked: a folder
twin goes aside whole), and ``set_twins_apart`` renames them so that the next scan sees them as new.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from driftbox.adapters.fs import FileChangedWhileReading, local_path
from driftbox.adapters.index import CachedHash, LocalStat
from driftbox.adapters.transfer import PART_PREFIX
from driftbox.core import paths, twins
from driftbox.core.model import FILE, FOLDER, Item, Kind, Tree

Hasher = Callable[[Path], tuple[str, tuple[str, ...]]]  # -> content hash, chunks


@dataclass
class Scan:
    tree: dict[str, Item] = field(default_factory=dict)
    hashed: dict[str, CachedHash] = field(default_factory=dict)  # the new stat cache, by path key
    problems: dict[str, str] = field(default_factory=dict)  # driftbox path -> why it is not synced
    hashed_count: int = 0
    leftovers: list[Path] = field(default_factory=list)  # temporary files of a client that died
    twins: list[twins.Twin] = field(default_factory=list)  # names that lost their key to another


def scan(
    root: Path,
    cache: Mapping[str, CachedHash],
    hasher: Hasher,
    *,
    synced: Tree | None = None,
    remote: Tree | None = None,
) -> Scan:
    """The local tree; ``synced`` and ``remote`` say which of two twins keeps their key."""
    result = Scan()
    _Walk(cache, hasher, synced or {}, remote or {}, result).folder(root, "")
    return result


@dataclass
class _Walk:
    cache: Mapping[str, CachedHash]
    hasher: Hasher
    synced: Tree
    remote: Tree
    result: Scan

    def folder(self, folder: Path, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.result.problems[prefix or "/"] = f"cannot read this folder: {exc.strerror}"
            return
        by_key: dict[str, list[os.DirEntry[str]]] = {}
        for entry in entries:
            if entry.name.startswith(PART_PREFIX):
                self.result.leftovers.append(Path(entry.path))
                continue
            path = f"{prefix}/{entry.name}"
            try:
                paths.normalize(path)
            except paths.InvalidPath as exc:
                self.result.problems[path] = f"not synced: {exc}"
                continue
            if not (entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False)):
                self.entry(entry, path, paths.key(path))  # reported, never a twin: nothing to rename
                continue
            by_key.setdefault(paths.key(path), []).append(entry)
        for path_key, same_key in by_key.items():
            entry = same_key[0] if len(same_key) == 1 else self._keeper(prefix, path_key, same_key)
            self.entry(entry, f"{prefix}/{entry.name}", path_key)

    def _keeper(self, prefix: str, path_key: str, same_key: list[os.DirEntry[str]]) -> os.DirEntry[str]:
        spellings = {twins.Spelling(f"{prefix}/{e.name}", _kind(e), e.inode()): e for e in same_key}
        kept, others = twins.split(list(spellings), self.synced.get(path_key), self.remote.get(path_key))
        self.result.twins += others
        return spellings[kept]

    def entry(self, entry: os.DirEntry[str], path: str, path_key: str) -> None:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:  # vanished since the listing
            self.result.problems[path] = f"not synced: {exc.strerror}"
            return
        if stat.S_ISDIR(info.st_mode):
            self.result.tree[path_key] = Item(path, FOLDER, inode=info.st_ino)
            self.folder(Path(entry.path), path)
        elif stat.S_ISREG(info.st_mode):
            now = LocalStat(info.st_size, info.st_mtime_ns, info.st_ino)
            executable = bool(info.st_mode & stat.S_IXUSR)
            _file(Path(entry.path), path, path_key, now, executable, self.cache, self.hasher, self.result)
        else:
            self.result.problems[path] = "not synced: symbolic links and special files are skipped"


def _kind(entry: os.DirEntry[str]) -> Kind:
    return FOLDER if entry.is_dir(follow_symlinks=False) else FILE


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


def _twin_targets(found: Scan, taken: Callable[[str], bool]) -> Iterator[tuple[twins.Twin, str]]:
    """Each twin of ``found`` with its new path, at a key that neither ``taken`` (the synced and
    remote trees), this folder, nor another twin's new path holds."""
    held = set(found.tree) | {paths.key(path) for path in found.problems}
    for twin in found.twins:
        target = twins.twin_path(twin, lambda path_key: path_key in held or taken(path_key))
        held.add(paths.key(target))
        yield twin, target


def set_twins_apart(root: Path, found: Scan, taken: Callable[[str], bool]) -> list[str]:
    """Rename every twin of ``found`` on disk to its ``twins.twin_path``; a notice for each."""
    notices: list[str] = []
    for twin, target in list(_twin_targets(found, taken)):
        source_disk, target_disk = local_path(root, twin.path), local_path(root, target)
        try:
            if os.path.lexists(target_disk):  # came since the scan: never replace anything
                raise FileExistsError(0, f"{target} appeared meanwhile")
            os.rename(source_disk, target_disk)
        except OSError as exc:  # the next scan finds it again, and reports it
            notices.append(f"{twin.path} could not be renamed to {target}: {exc.strerror}")
            continue
        notices.append(f"{twin.path} was renamed to {target}: {twin.reason()}; both are synced.")
    return notices


def twins_as_problems(found: Scan, taken: Callable[[str], bool]) -> None:
    """What a look that renames nothing (``driftbox status``) says of the twins it found."""
    for twin, target in list(_twin_targets(found, taken)):
        found.problems[twin.path] = f"not synced yet: {twin.reason()}; the next sync renames it to {target}"
