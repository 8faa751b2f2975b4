"""The local tree: a walk of the linked folder, hashing only files whose stat changed.

``scan_changes`` is what a pass runs: it compares each entry with its synced row (read folder by
folder from the index) and keeps only what differs, so an unchanged tree costs one ``stat`` per
entry and memory for one folder's rows. ``scan`` walks the whole tree into memory.

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

import operator
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from driftbox.adapters.fs import FileChangedWhileReading, local_path
from driftbox.adapters.index import CachedHash, Known, LocalStat, disk_signature
from driftbox.adapters.transfer import PART_PREFIX
from driftbox.core import paths, twins
from driftbox.core.model import FILE, FOLDER, Item, Kind, Tree

Hasher = Callable[[Path], tuple[str, tuple[str, ...]]]  # -> content hash, chunks
KnownChildren = Callable[[str], Mapping[str, Known]]  # folder key -> its synced children, by name
CachedChildren = Callable[[str], Mapping[str, CachedHash]]  # folder key -> stat cache, by key
ItemAt = Callable[[str], Item | None]
_NOTHING: Mapping[str, Known] = {}


@dataclass
class Scan:
    tree: dict[str, Item] = field(default_factory=dict)  # changed items (``scan``: every item)
    hashed: dict[str, CachedHash] = field(default_factory=dict)  # their stat cache, by path key
    problems: dict[str, str] = field(default_factory=dict)  # driftbox path -> why it is not synced
    hashed_count: int = 0
    leftovers: list[Path] = field(default_factory=list)  # temporary files of a client that died
    twins: list[twins.Twin] = field(default_factory=list)  # names that lost their key to another
    gone: set[str] = field(default_factory=set)  # synced keys no longer on disk (``scan_changes``)
    unchanged: int = 0  # entries found as synced (``scan_changes``): not in ``tree``
    empty: bool | None = None  # whether the folder holds nothing, when a scan of a part says
    more: bool = False  # the walk stopped at its budget: folders it did not list may hold changes
    unwalked: list[str] = field(default_factory=list)  # not ``deep``: unchanged synced folders left


def merged(scans: list[Scan]) -> Scan:
    """One scan of what several scans of separate folders found."""
    whole = Scan()
    for part in scans:
        whole.tree.update(part.tree)
        whole.hashed.update(part.hashed)
        whole.problems.update(part.problems)
        whole.hashed_count += part.hashed_count
        whole.leftovers += part.leftovers
        whole.twins += part.twins
        whole.gone |= part.gone
        whole.unchanged += part.unchanged
        whole.more |= part.more
        whole.unwalked += part.unwalked
    return whole


def scan(
    root: Path,
    cache: Mapping[str, CachedHash],
    hasher: Hasher,
    *,
    synced: Tree | None = None,
    remote: Tree | None = None,
) -> Scan:
    """The whole local tree; ``synced`` and ``remote`` say which of two twins keeps their key."""
    result = Scan()
    walk = _Walk(
        lambda key: _NOTHING, lambda key: cache, hasher, (synced or {}).get, (remote or {}).get, result
    )
    walk.folder(root, "", paths.ROOT, known=False)
    return result


def scan_changes(
    root: Path,
    known: KnownChildren,
    cached: CachedChildren,
    hasher: Hasher,
    *,
    synced_at: ItemAt,
    remote_at: ItemAt,
    within: str = paths.ROOT,
    deep: bool = True,
    budget: int | None = None,
) -> Scan:
    """What differs on disk from the synced tree, by one ``stat`` per entry.

    An entry at exactly its synced path, of its synced kind, with its synced stat (a file: size,
    mtime_ns, inode; a folder: inode) and executable bit, is unchanged: counted, not kept. Every other
    one is scanned as ``scan`` does (named, hashed if its stat is not in the stat cache, twins told
    apart) into ``tree``; each synced key no longer there goes in ``gone``. ``within``: the key of a
    synced folder to scan alone (one that file events named), the rest taken as unchanged; not
    ``deep``: nor is what is below its unchanged folders looked at (their own events name it).
    ``budget``: once this many changed items are found, no further folder is listed (``more``);
    each folder listed is whole, so what was found is all there is in those folders."""
    result = Scan()
    walk = _Walk(known, cached, hasher, synced_at, remote_at, result, deep, budget)
    if within == paths.ROOT:
        walk.folder(root, "", paths.ROOT, known=True)
        return result
    item = synced_at(within)
    if item is None:
        raise ValueError(f"{within}: only a synced folder can be scanned alone")
    walk.folder(local_path(root, item.path), item.path, within, known=True)
    return result


_name = operator.attrgetter("name")


@dataclass
class _Walk:
    known: KnownChildren
    cached: CachedChildren
    hasher: Hasher
    synced_at: ItemAt
    remote_at: ItemAt
    result: Scan
    deep: bool = True  # walk into unchanged folders too
    budget: int | None = None  # changed items after which no further folder is listed

    def folder(self, folder: Path, prefix: str, folder_key: str, *, known: bool) -> None:
        if self.budget is not None and len(self.result.tree) >= self.budget:
            self.result.more = True
            return
        try:
            entries = sorted(os.scandir(folder), key=_name)
        except OSError as exc:
            self.result.problems[prefix or "/"] = f"cannot read this folder: {exc.strerror}"
            return
        synced_here = self.known(folder_key) if known else _NOTHING
        cache = _Lazy(lambda: self.cached(folder_key))
        unchanged: dict[str, tuple[os.DirEntry[str], Known]] = {}
        seen: set[str] = set()
        by_key: dict[str, list[os.DirEntry[str]]] = {}
        for entry in entries:
            if entry.name.startswith(PART_PREFIX):
                self.result.leftovers.append(Path(entry.path))
                continue
            path = f"{prefix}/{entry.name}"
            synced = synced_here.get(entry.name)
            if synced is not None and synced.path == path:
                seen.add(synced.path_key)
                if _unchanged(entry, synced):
                    unchanged[synced.path_key] = (entry, synced)
                    continue
            try:
                paths.normalize(path)
            except paths.InvalidPath as exc:
                self.result.problems[path] = f"not synced: {exc}"
                continue
            path_key = paths.key(path)
            seen.add(path_key)
            if not (entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False)):
                self.entry(entry, path, path_key, cache, known=False)  # reported, never a twin
                continue
            by_key.setdefault(path_key, []).append(entry)
        for path_key in by_key.keys() & unchanged.keys():  # a new twin beside an unchanged name
            by_key[path_key].insert(0, unchanged.pop(path_key)[0])
        self.result.unchanged += len(unchanged)
        synced_keys = {synced.path_key for synced in synced_here.values()}
        for path_key, same_key in by_key.items():
            entry = same_key[0] if len(same_key) == 1 else self._keeper(prefix, path_key, same_key)
            self.entry(entry, f"{prefix}/{entry.name}", path_key, cache, known=path_key in synced_keys)
        for path_key, (entry, synced) in unchanged.items():
            if synced.kind == FOLDER and self.deep:
                self.folder(Path(entry.path), synced.path, path_key, known=True)
            elif synced.kind == FOLDER:
                self.result.unwalked.append(path_key)
        self.result.gone.update(synced_keys - seen)

    def _keeper(self, prefix: str, path_key: str, same_key: list[os.DirEntry[str]]) -> os.DirEntry[str]:
        spellings = {twins.Spelling(f"{prefix}/{e.name}", _kind(e), e.inode()): e for e in same_key}
        kept, others = twins.split(list(spellings), self.synced_at(path_key), self.remote_at(path_key))
        self.result.twins += others
        return spellings[kept]

    def entry(self, entry: os.DirEntry[str], path: str, path_key: str, cache: _Lazy, *, known: bool) -> None:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:  # vanished since the listing
            self.result.problems[path] = f"not synced: {exc.strerror}"
            return
        if stat.S_ISDIR(info.st_mode):
            self.result.tree[path_key] = Item(path, FOLDER, inode=info.st_ino)
            self.folder(Path(entry.path), path, path_key, known=known)
        elif stat.S_ISREG(info.st_mode):
            now = LocalStat(info.st_size, info.st_mtime_ns, info.st_ino)
            executable = bool(info.st_mode & stat.S_IXUSR)
            _file(Path(entry.path), path, path_key, now, executable, cache.get(), self.hasher, self.result)
        else:
            self.result.problems[path] = "not synced: symbolic links and special files are skipped"


class _Lazy:
    """A folder's stat cache, read once the first file there needs it."""

    def __init__(self, read: Callable[[], Mapping[str, CachedHash]]) -> None:
        self._read = read
        self._value: Mapping[str, CachedHash] | None = None

    def get(self) -> Mapping[str, CachedHash]:
        if self._value is None:
            self._value = self._read()
        return self._value


def synced_moved(root: Path, known: KnownChildren) -> bool:
    """Whether an item of the synced tree is not on disk as it was: missing, of the other kind, or
    another inode (from the folder listing: no ``stat``). Whether a plan could hold a delete or a
    move (an inode of the synced tree elsewhere: its synced key holds another now, or nothing),
    whose two ends must be planned together. Any doubt (a folder it cannot read, another
    spelling) says yes."""
    folders = [(root, paths.ROOT)]
    while folders:
        folder, folder_key = folders.pop()
        synced_here = known(folder_key)
        if not synced_here:
            continue
        try:
            with os.scandir(folder) as entries:
                found = {e.name: (e.is_dir(follow_symlinks=False), e.inode()) for e in entries}
        except OSError:
            return True
        for name, synced in synced_here.items():
            if found.get(name) != (synced.kind == FOLDER, synced.inode):
                return True
            if synced.kind == FOLDER:
                folders.append((folder / name, synced.path_key))
    return False


def _unchanged(entry: os.DirEntry[str], synced: Known) -> bool:
    """Whether the entry at a synced item's exact path is that item as it was synced (one stat)."""
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return False  # the slow way reports it
    return synced.signature is not None and disk_signature(info) == synced.signature


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
