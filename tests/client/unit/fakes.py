"""A fake server and a fake disk: the two sides the planner's tests apply plans to.

The server applies commits with the rules of ``chalicelib/domain/commit.py`` (re-implemented here:
the client never imports chalicelib): ops apply in order, each seeing the ones before it; a put
against a stale ``parent_rev`` is a conflict, every conflict of a commit is named (``Refused``)
and the whole commit changes nothing; a put or mkdir under missing folders creates them; a delete
of a folder is recursive; a move of a folder moves its subtree; a put of the bytes already there
is a no-op. A new revision's rev is the next number of one count for the whole server (the real
one uses the journal's seq), so a rev names one version of one object. It keeps every content
hash ever stored (``history``) and the chunks sent to it (``chunks``).

The disk is case-insensitive and case-preserving (one entry per key) but strict about spelling:
an action must name every existing component exactly as the disk spells it, as a case-sensitive
disk would require. Besides the user's edits, it offers what the executor asks of a disk
(``driftbox.ports.LocalFiles``), failing as the operating system does (``OSError``).

A content is named by a short label (``h0``); its one chunk is the SHA-256 of the label
(``chunk_of``), its size the label's length (``size_of``).
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from driftbox.adapters.index import CachedHash, LocalStat
from driftbox.core import paths
from driftbox.core.model import FILE, FOLDER, Item, Kind
from driftbox.ports import Found


class Refused(Exception):
    """The server's 409 conflict: nothing of the commit was applied; ``args`` are the paths named."""


class UnsafeAction(AssertionError):
    """An action that breaks a promise of the planner (it would lose unsynced content)."""


class BadAction(AssertionError):
    """An action the executor cannot apply as planned: a planner bug, not a race."""


def size_of(content_hash: str) -> int:
    return len(content_hash)  # "" for folders: 0


def chunk_of(content_hash: str) -> str:
    return hashlib.sha256(content_hash.encode()).hexdigest()


# -- the server ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    path: str
    kind: Kind
    object_id: str | None
    rev: int
    live: bool
    content_hash: str = ""

    def item(self) -> Item:
        size = size_of(self.content_hash)
        return Item(self.path, self.kind, self.content_hash, size, rev=self.rev, object_id=self.object_id)


@dataclass
class Effect:
    """What one op did: its result, the live node it replaced (put) and the nodes it deleted."""

    result: Node
    replaced: Node | None = None
    deleted: list[Node] = field(default_factory=list)


class FakeServer:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.history: set[str] = set()
        self.chunks: set[str] = set()
        self._ids = itertools.count(1)
        self._revs = itertools.count(1)

    def tree(self) -> dict[str, Item]:
        return {k: node.item() for k, node in self.nodes.items() if node.live}

    def commit(self, ops: Sequence[tuple[object, ...]]) -> list[Effect]:
        """Apply all ops in order, or none of them (``Refused``, naming every conflict)."""
        saved_nodes, saved_history = dict(self.nodes), set(self.history)
        effects: list[Effect] = []
        conflicts: list[str] = []
        for op in ops:
            before = dict(self.nodes)
            try:
                effects.append(self._apply(op))
            except Refused as exc:  # the next ops see the tree without this one
                self.nodes = before
                conflicts += exc.args
        if conflicts:
            self.nodes, self.history = saved_nodes, saved_history
            raise Refused(*conflicts)
        return effects

    def _apply(self, op: tuple[object, ...]) -> Effect:
        name, *args = op
        method: Callable[..., Effect] = getattr(self, f"_{name}")  # _put, _mkdir, _delete, _move
        return method(*args)

    def _live(self, path_key: str) -> Node | None:
        node = self.nodes.get(path_key)
        return node if node is not None and node.live else None

    def _successor(self, current: Node | None, kind: Kind) -> tuple[str, int]:
        if current is not None and current.object_id is not None and current.kind == kind:
            return current.object_id, next(self._revs)
        return f"id{next(self._ids)}", next(self._revs)

    def _ensure_parents(self, path: str) -> str:
        display = ""
        for ancestor in paths.ancestors(path):
            node = self.nodes.get(paths.key(ancestor))
            if node is not None and node.live:
                if node.kind == FILE:
                    raise Refused(node.path)
                display = node.path
                continue
            display = f"{display}/{paths.name(ancestor)}"
            object_id, rev = self._successor(node, FOLDER)
            self.nodes[paths.key(display)] = Node(display, FOLDER, object_id, rev, True)
        return display

    def _put(self, path: str, parent_rev: int | None, content_hash: str) -> Effect:
        live = self._live(paths.key(paths.normalize(path)))
        if (live is not None and live.kind == FOLDER) or parent_rev != (live.rev if live else None):
            raise Refused(path)
        if live is not None and live.content_hash == content_hash:
            return Effect(live)
        self.history.add(content_hash)
        return Effect(self._create(live.path if live else path, FILE, content_hash), replaced=live)

    def _mkdir(self, path: str) -> Effect:
        live = self._live(paths.key(paths.normalize(path)))
        if live is not None and live.kind == FILE:
            raise Refused(path)
        return Effect(live or self._create(path, FOLDER, ""))

    def _create(self, path: str, kind: Kind, content_hash: str) -> Node:
        """A new revision at ``path``: the same object id if the last one there was of this kind."""
        path = paths.normalize(path)
        current = self.nodes.get(paths.key(path))
        display = (
            current.path if current and current.live else f"{self._ensure_parents(path)}/{paths.name(path)}"
        )
        object_id, rev = self._successor(current, kind)
        node = Node(display, kind, object_id, rev, True, content_hash)
        self.nodes[paths.key(display)] = node
        return node

    def _source(self, path: str, parent_rev: int | None) -> Node:
        live = self._live(paths.key(paths.normalize(path)))
        if live is None:
            raise Refused(path)
        if parent_rev != live.rev and not (parent_rev is None and live.kind == FOLDER):
            raise Refused(path)
        return live

    def _below(self, path_key: str) -> list[Node]:
        return sorted(
            (n for k, n in self.nodes.items() if n.live and paths.is_within(k, path_key)),
            key=lambda n: paths.key(n.path),
        )

    def _delete(self, path: str, parent_rev: int | None) -> Effect:
        target = self._source(path, parent_rev)
        doomed = [target, *self._below(paths.key(target.path))] if target.kind == FOLDER else [target]
        for node in doomed:
            self.nodes[paths.key(node.path)] = replace(
                node, rev=next(self._revs), live=False, content_hash=""
            )
        return Effect(target, deleted=doomed)

    def _move(self, from_path: str, to_path: str, parent_rev: int | None) -> Effect:
        source = self._source(from_path, parent_rev)
        to_path = paths.normalize(to_path)
        source_key, to_key = paths.key(source.path), paths.key(to_path)
        if paths.is_within(to_key, source_key):
            raise BadAction(f"move of {from_path} into itself")
        if to_key != source_key:
            if self._live(to_key) is not None:
                raise Refused(to_path)
            new_root = f"{self._ensure_parents(to_path)}/{paths.name(to_path)}"
        else:
            new_root = f"{paths.parent(source.path).rstrip('/')}/{paths.name(to_path)}"
        if new_root == source.path:
            return Effect(source)
        moving = [source, *self._below(source_key)] if source.kind == FOLDER else [source]
        for node in moving:
            if to_key != source_key:
                self.nodes[paths.key(node.path)] = replace(node, object_id=None, live=False, content_hash="")
        result = source
        for node in moving:
            moved = replace(node, path=paths.rebase(node.path, source.path, new_root))
            self.nodes[paths.key(moved.path)] = moved
            result = moved if node is source else result
        return Effect(result)

    # -- another device's edits (always against the current revs) ------------------------------
    def other_device(self, op: tuple[object, ...]) -> bool:
        try:
            self.commit([op])
        except (Refused, paths.InvalidPath, BadAction):
            return False
        return True


# -- the disk -----------------------------------------------------------------------------------


class FakeDisk:
    def __init__(self, *, reuse_inodes: bool = False) -> None:
        self.entries: dict[str, Item] = {}
        self._next_inode = itertools.count(100)
        self._freed: list[int] = []
        self._reuse_inodes = reuse_inodes
        self._mtimes: dict[int, int] = {}  # by inode: a rename keeps it, a write or an edit moves it
        self._clock = itertools.count(1)

    def tree(self) -> dict[str, Item]:
        return dict(self.entries)

    def scan(self) -> dict[str, CachedHash]:
        """What the scanner would cache of every file: its stat, content and chunks."""
        return {
            k: CachedHash(self._stat(entry), entry.content_hash, (chunk_of(entry.content_hash),))
            for k, entry in self.entries.items()
            if entry.kind == FILE
        }

    def _stat(self, entry: Item) -> LocalStat:
        assert entry.inode is not None
        return LocalStat(entry.size, self._mtimes.get(entry.inode, 0), entry.inode)

    def _inode(self) -> int:
        reuse = self._reuse_inodes and self._freed  # ext4 hands out freed inodes again
        inode = self._freed.pop() if reuse else next(self._next_inode)
        self._mtimes[inode] = next(self._clock)
        return inode

    def _free(self, entry: Item) -> None:
        assert entry.inode is not None
        self._freed.append(entry.inode)

    def exact(self, path: str) -> Item | None:
        """The entry at ``path`` if every component is spelled as on disk; BadAction otherwise."""
        for ancestor in paths.ancestors(path):
            entry = self.entries.get(paths.key(ancestor))
            if entry is None or entry.path != ancestor or entry.kind != FOLDER:
                raise BadAction(f"{path}: no folder spelled {ancestor} on disk")
        entry = self.entries.get(paths.key(path))
        if entry is not None and entry.path != path:
            raise BadAction(f"{path}: the disk spells it {entry.path}")
        return entry

    def below(self, path_key: str) -> list[str]:
        return sorted((k for k in self.entries if paths.is_within(k, path_key)), key=lambda k: k.count("/"))

    # -- what a user or the executor does -------------------------------------------------------
    def write(self, path: str, content_hash: str) -> Item:
        """A temporary file renamed over the target: a new inode."""
        existing = self.exact(path)
        if existing is not None and existing.kind != FILE:
            raise BadAction(f"a file written over the folder {path}")
        inode = self._inode()  # the temporary file exists before the old one is freed
        if existing is not None:
            self._free(existing)  # so the next new file may get the old file's inode
        entry = Item(path, FILE, content_hash, size_of(content_hash), inode=inode)
        self.entries[paths.key(path)] = entry
        return entry

    def mkdir(self, path: str) -> Item:
        existing = self.exact(path)
        if existing is not None and existing.kind != FOLDER:
            raise BadAction(f"mkdir over the file {path}")
        entry = self.entries[paths.key(path)] = existing or Item(path, FOLDER, inode=self._inode())
        return entry

    def rename(self, from_path: str, to_path: str) -> None:
        source = self.exact(from_path)
        if source is None:
            raise BadAction(f"rename of a missing {from_path}")
        from_key, to_key = paths.key(from_path), paths.key(to_path)
        if paths.is_within(to_key, from_key):
            raise BadAction(f"rename of {from_path} into itself")
        if to_key != from_key and self.exact(to_path) is not None:
            raise BadAction(f"rename onto the existing {to_path}")
        if to_key == from_key:
            self.exact(paths.parent(to_path))
        moving = [from_key, *self.below(from_key)]
        entries = [self.entries.pop(k) for k in moving]
        for entry in entries:
            new_path = paths.reroot(entry.path, from_path, to_path)
            self.entries[paths.key(new_path)] = replace(entry, path=new_path)

    # -- what only the executor does (ports.LocalFiles) -----------------------------------------
    def stat(self, path: str) -> Found | None:
        entry = self.exact(path)
        return None if entry is None else Found(entry.kind, self._stat(entry))

    def make_folder(self, path: str) -> None:
        existing = self.exact(path)
        if existing is not None and existing.kind != FOLDER:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        self.mkdir(path)

    def make_parents(self, path: str) -> None:
        for ancestor in paths.ancestors(path):
            entry = self.entries.get(paths.key(ancestor))
            if entry is None:
                self.mkdir(ancestor)
            elif entry.path != ancestor:
                raise BadAction(f"{path}: the disk spells {ancestor} {entry.path}")
            elif entry.kind != FOLDER:
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), ancestor)

    def remove_file(self, path: str) -> None:
        entry = self.exact(path)
        if entry is None:
            return
        if entry.kind != FILE:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        self._free(self.entries.pop(paths.key(path)))

    def remove_folder(self, path: str) -> None:
        entry = self.exact(path)
        if entry is None:
            return
        if entry.kind != FOLDER:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        if self.below(paths.key(path)):
            raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), path)
        self._free(self.entries.pop(paths.key(path)))

    # -- what only a user does ----------------------------------------------------------------
    def remove_tree(self, path: str) -> None:
        if self.exact(path) is None:
            raise BadAction(f"rm -r of a missing {path}")
        for k in [paths.key(path), *self.below(paths.key(path))]:
            self._free(self.entries.pop(k))

    def copy_tree(self, from_path: str, to_path: str) -> None:
        """``cp -r``: the same names and bytes below ``to_path``, each on a new inode."""
        if self.exact(from_path) is None or self.exact(to_path) is not None:
            raise BadAction(f"copy of a missing {from_path} or onto the existing {to_path}")
        from_key = paths.key(from_path)
        if paths.is_within(paths.key(to_path), from_key):
            raise BadAction(f"copy of {from_path} into itself")
        for k in [from_key, *self.below(from_key)]:
            entry = self.entries[k]
            new_path = paths.reroot(entry.path, from_path, to_path)
            self.entries[paths.key(new_path)] = replace(entry, path=new_path, inode=self._inode())

    def edit_in_place(self, path: str, content_hash: str) -> None:
        """An edit that keeps the inode (an editor that saves through a new file: ``write``)."""
        entry = self.exact(path)
        if entry is None or entry.kind != FILE:
            raise BadAction(f"no file {path} to edit")
        self.entries[paths.key(path)] = replace(entry, content_hash=content_hash, size=size_of(content_hash))
        assert entry.inode is not None
        self._mtimes[entry.inode] = next(self._clock)
