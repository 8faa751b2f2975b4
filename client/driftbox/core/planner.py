"""The pure sync planner: synced, local and remote trees in, the executor's actions out.

No disk, no network, no SQLite: ``plan`` reads three ``Tree`` mappings and returns a list of
``core.actions`` for the executor to apply in order (what it records after each one is said in
``core.actions``). The algorithm, for people, is docs/sync-algorithm.md. In short:

1. **Remote moves** (an object id of the synced tree now at another key of the remote tree) are
   applied locally as one ``MoveLocal`` of the local counterpart (found by inode), subtree and all;
   if both sides moved it elsewhere the server's move wins; if both made the same move, only the
   synced tree follows (``Record``).
2. **Local moves** (an inode of the synced tree at another key of the local tree) are sent as one
   ``MoveRemote`` if the server still has that object at the synced key.
3. **Case-only renames** (same key, another spelling of the last name) go to the side that did not
   make them; when both did, or with no base, the server's spelling wins.
   A move that cannot be made (destination taken, source gone or replaced, a file where a folder
   must be) is not made: step 4 then sees a delete and a create, which never lose content.
4. **Per key**, parents first, ``conflicts.decide`` on (synced, local, remote):

   | local vs synced | remote vs synced | actions |
   | --- | --- | --- |
   | same content as remote | | ``Record`` if synced differs |
   | unchanged | changed | apply remote: ``Download``, ``CreateLocalFolder``, ``DeleteLocal`` |
   | changed | unchanged | apply local: ``Upload``, ``CreateRemoteFolder``, ``DeleteRemote`` |
   | deleted | changed | apply remote (an edit beats a delete) |
   | changed | deleted | apply local (an edit beats a delete) |
   | changed | changed, differently | keep both: local version to a conflicted copy, uploaded |
   | folder, new content below | folder deleted | folder kept: re-created remotely |
   | folder deleted | folder, new content below | folder kept: re-created locally |
   | folder, new content below | made a file | keep both |
   | made a file | folder, new content below | keep both |

5. **Order**: moves first, then conflict set-asides and records, then every delete deepest first,
   then every create and update parents first. A file is deleted locally only at its synced
   content, remotely only at its synced rev; a folder only when nothing unsynced is below it.

``check_safe`` is separate: the caller runs it first and refuses to plan when one side looks
emptied (an unmounted folder, a server reset).
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from functools import partial
from typing import Any

from driftbox.core import paths
from driftbox.core.actions import (
    Action,
    CreateLocalFolder,
    CreateRemoteFolder,
    DeleteLocal,
    DeleteRemote,
    Download,
    MoveLocal,
    MoveRemote,
    Record,
    Upload,
)
from driftbox.core.conflicts import Outcome, conflicted_copy_path, decide, dirty_folders
from driftbox.core.model import FOLDER, Item, Tree, same_content

# check_safe: a side holding nothing while the synced tree holds something is always refused; a
# side that lost at least this fraction of at least this many synced items is refused too.
NEARLY_ALL_FRACTION = 0.9
NEARLY_ALL_MIN_ITEMS = 50
MOVE_PASSES = 3  # remote moves, then local moves, again while either made one


def plan(synced: Tree, local: Tree, remote: Tree, *, device: str, today: datetime.date) -> list[Action]:
    """The actions that bring local and remote to the same content, losing nothing on either side."""
    return _Planner(synced, local, remote, device=device, today=today).run()


def check_safe(synced: Tree, local: Tree, remote: Tree) -> str | None:
    """Why planning now could delete (nearly) everything on one side, or None if it is safe."""
    if not synced:
        return None  # no base: the planner deletes nothing, it merges and keeps both
    total = len(synced)
    for tree, side, other in (
        (local, "the linked folder", "the server"),
        (remote, "the server", "this device"),
    ):
        if not tree:
            return (
                f"{side} holds nothing, but {total} items were in sync: it looks unmounted, moved or "
                f"reset, not emptied on purpose; nothing was deleted on {other}"
            )
        gone = _gone(synced, tree)
        if total >= NEARLY_ALL_MIN_ITEMS and gone >= NEARLY_ALL_FRACTION * total:
            return (
                f"{gone} of the {total} items in sync are gone from {side}: refusing to delete them on "
                f"{other}; check {side}, then sync again"
            )
    return None


def _gone(synced: Tree, tree: Tree) -> int:
    """Synced items with no counterpart in ``tree``: not at their key, their inode nor their object id."""
    inodes = {item.inode for item in tree.values()}
    object_ids = {item.object_id for item in tree.values()}
    return sum(
        1
        for path_key, item in synced.items()
        if path_key not in tree
        and (item.inode is None or item.inode not in inodes)
        and (item.object_id is None or item.object_id not in object_ids)
    )


class WorkingTree:
    """A mutable copy of one tree, indexed by inode and by object id: the planner's model of a side."""

    def __init__(self, items: Tree) -> None:
        self.items: dict[str, Item] = {}
        self.inodes: dict[object, set[str]] = {}
        self.ids: dict[object, set[str]] = {}
        # Every key below each folder key (held or not: a synced tree may miss a folder and keep
        # what was in it), so that a subtree costs its size, not the tree's.
        self._below: dict[str, set[str]] = {}
        for path_key, item in items.items():
            self.set(path_key, item)

    def get(self, path_key: str) -> Item | None:
        return self.items.get(path_key)

    def set(self, path_key: str, item: Item | None) -> None:
        old = self.items.pop(path_key, None)
        if old is not None:
            for index, identities in self._indexes(path_key, old):
                for identity in identities:
                    index[identity].discard(path_key)
                    if not index[identity]:
                        del index[identity]
        if item is not None:
            self.items[path_key] = item
            for index, identities in self._indexes(path_key, item):
                for identity in identities:
                    index.setdefault(identity, set()).add(path_key)

    def _indexes(self, path_key: str, item: Item) -> list[tuple[dict[Any, Any], list[Any]]]:
        return [
            (self.inodes, [item.inode] if item.inode is not None else []),
            (self.ids, [item.object_id] if item.object_id is not None else []),
            (self._below, paths.ancestors(path_key)),
        ]

    def subtree(self, path_key: str) -> list[str]:
        """``path_key`` and every key below it that the tree holds, parents first."""
        below = sorted(self._below.get(path_key, ()), key=lambda k: (_depth(k), k))
        return [path_key, *below] if path_key in self.items else below

    def move(self, from_key: str, from_path: str, to_path: str) -> None:
        """What ``actions.move_synced`` does, on this tree."""
        moving = {k: self.items[k] for k in self.subtree(from_key)}
        for k in self.subtree(paths.key(to_path)):
            if k not in moving:
                self.set(k, None)
        for k in moving:
            self.set(k, None)
        for item in moving.values():
            new_path = paths.reroot(item.path, from_path, to_path)
            self.set(paths.key(new_path), replace(item, path=new_path))


class _Try(Enum):
    DONE = "done"
    BLOCKED = "blocked"  # may work once another move is made
    SKIP = "skip"  # cannot be made as a move: left to the per-key rules


def _name(path: str) -> str:
    return unicodedata.normalize("NFC", paths.name(path))


def _depth(path_key: str) -> int:
    return path_key.count("/")


def _only(keys: set[str]) -> str | None:
    return next(iter(keys)) if len(keys) == 1 else None


def _identity(item: Item, local: bool) -> object:
    """What follows an item across moves: its inode on disk, its object id on the server."""
    return item.inode if local else item.object_id


def _same_synced(old: Item | None, new: Item | None) -> bool:
    """Nothing to record: equal but for the spelling of the parents (only the name matters)."""
    if old is None or new is None:
        return old is new
    return replace(old, path=_name(old.path)) == replace(new, path=_name(new.path))


class _Planner:
    def __init__(self, synced: Tree, local: Tree, remote: Tree, *, device: str, today: datetime.date) -> None:
        self.s, self.l, self.r = WorkingTree(synced), WorkingTree(local), WorkingTree(remote)
        self.device, self.today = device, today
        self.moves: list[Action] = []
        self.asides: list[Action] = []
        self.deletes: list[tuple[int, Action]] = []
        self.creates: list[tuple[int, Action]] = []

    def run(self) -> list[Action]:
        for _ in range(MOVE_PASSES):  # a move made on one side can unblock one on the other
            moved = self._moves(self.s.ids, self.r.ids, self._remote_move)
            if not self._moves(self.s.inodes, self.l.inodes, self._local_move) and not moved:
                break
        self._renames()
        local_dirty = dirty_folders(self.l.items, self.s.items, by_rev=False)
        remote_dirty = dirty_folders(self.r.items, self.s.items, by_rev=True)
        for path_key in sorted(self.s.items.keys() | self.l.items.keys() | self.r.items.keys(), key=_depth):
            outcome = decide(
                self.s.get(path_key),
                self.l.get(path_key),
                self.r.get(path_key),
                local_dirty_below=path_key in local_dirty,
                remote_dirty_below=path_key in remote_dirty,
            )
            {
                Outcome.AGREE: self._agree,
                Outcome.APPLY_REMOTE: self._apply_remote,
                Outcome.APPLY_LOCAL: self._apply_local,
                Outcome.KEEP_BOTH: self._keep_both,
            }[outcome](path_key)
        deletes = [action for _, action in sorted(self.deletes, key=lambda pair: -pair[0])]
        creates = [action for _, action in sorted(self.creates, key=lambda pair: pair[0])]
        return self.moves + self.asides + deletes + creates

    # -- moves ----------------------------------------------------------------------------------
    def _moves(
        self,
        synced_index: dict[object, set[str]],
        side_index: dict[object, set[str]],
        attempt: Callable[[object], _Try],
    ) -> bool:
        """Try each move found, shallowest first, again while any other one succeeds; True if
        any did."""
        found = []
        for identity, synced_keys in synced_index.items():
            a, b = _only(synced_keys), _only(side_index.get(identity, set()))
            if a is not None and b is not None and a != b:
                found.append((_depth(a), a, identity))
        pending = [partial(attempt, identity) for _, _, identity in sorted(found, key=lambda t: t[:2])]
        moved = False
        while pending:
            outcomes = [(move, move()) for move in pending]
            moved |= any(outcome is _Try.DONE for _, outcome in outcomes)
            blocked = [move for move, outcome in outcomes if outcome is _Try.BLOCKED]
            if len(blocked) == len(pending):
                break
            pending = blocked
        return moved

    def _remote_move(self, object_id: object) -> _Try:
        a, c = _only(self.s.ids.get(object_id, set())), _only(self.r.ids.get(object_id, set()))
        if a is None or c is None or a == c or self.s.items[a].kind != self.r.items[c].kind:
            return _Try.SKIP
        b = self._local_counterpart(a)
        if b is None or paths.is_within(c, b):
            return _Try.SKIP
        if b == c:  # both sides made this move: only the synced tree must follow
            self._move_synced_by_records(a, self.l.items[b].path)
            return _Try.DONE
        missing = self._missing_ancestors(c, local=True)
        if c in self.l.items or missing is None:
            return _Try.BLOCKED
        if b != a:  # both moved it, to different places: the server's move wins
            self._move_synced_by_records(a, self.l.items[b].path)
        for path_key in missing:
            self._create_local_folder(path_key, self.moves)
        from_path, to_path = self.l.items[b].path, self._local_path(c, self.r.items[c].path)
        self.moves.append(MoveLocal(from_path, to_path))
        self.l.move(b, from_path, to_path)
        self.s.move(b, from_path, to_path)
        return _Try.DONE

    def _local_move(self, inode: object) -> _Try:
        a, b = _only(self.s.inodes.get(inode, set())), _only(self.l.inodes.get(inode, set()))
        if a is None or b is None or a == b:
            return _Try.SKIP
        synced, local, remote = self.s.items[a], self.l.items[b], self.r.get(a)
        if (
            remote is None
            or remote.object_id != synced.object_id
            or not (synced.kind == local.kind == remote.kind)
        ):
            return _Try.SKIP  # the server no longer has it there: the per-key rules upload it as new
        if paths.is_within(b, a):
            return _Try.SKIP
        missing = self._missing_ancestors(b, local=False)
        if b in self.r.items or missing is None:
            return _Try.BLOCKED
        for path_key in missing:
            self._create_remote_folder(path_key, self.moves)
        self.moves.append(MoveRemote(remote.path, local.path, remote.rev if remote.is_file else None))
        self.r.move(a, remote.path, self._remote_path(b, local.path))
        self.s.move(a, synced.path, local.path)
        return _Try.DONE

    def _renames(self) -> None:
        """Case-only (or Unicode-form-only) renames: one key, another spelling of the last name."""
        for path_key in sorted(self.l.items.keys() & self.r.items.keys(), key=_depth):
            local, remote, synced = self.l.items[path_key], self.r.items[path_key], self.s.get(path_key)
            if local.kind != remote.kind or _name(local.path) == _name(remote.path):
                continue
            if synced is not None and _name(synced.path) == _name(remote.path):  # only local renamed
                self.moves.append(MoveRemote(remote.path, local.path, remote.rev if remote.is_file else None))
                self.r.move(path_key, remote.path, self._remote_path(path_key, local.path))
                self.s.move(path_key, synced.path, local.path)
            else:  # only remote renamed, both did, or no base: the server's spelling wins
                to_path = paths.join(paths.parent(local.path), paths.name(remote.path))
                self.moves.append(MoveLocal(local.path, to_path))
                self.l.move(path_key, local.path, to_path)
                if synced is not None:
                    self.s.move(path_key, synced.path, to_path)

    def _local_counterpart(self, path_key: str) -> str | None:
        """Where the local side has the synced item at ``path_key``: by inode, else at that key."""
        synced = self.s.items[path_key]
        if synced.inode is not None:
            holders = self.l.inodes.get(synced.inode, set())
            holder = _only(holders)
            if holder is not None and self.l.items[holder].kind == synced.kind:
                return holder
            if path_key in holders:  # hard links: the one at the synced key
                return path_key
        local = self.l.get(path_key)
        if local is None or local.kind != synced.kind:
            return None
        # A replaced file (an editor's save) keeps the key; a file moved here from elsewhere does not.
        claimed = local.inode is not None and bool(self.s.inodes.get(local.inode, set()) - {path_key})
        return None if claimed else path_key

    def _missing_ancestors(self, path_key: str, *, local: bool) -> list[str] | None:
        """The folders the local (else remote) side lacks above ``path_key``, outermost first, to
        create before moving something there. None (not now) if a file is in the way, or if a
        folder on the way takes part in a move not yet made."""
        target, source = (self.l, self.r) if local else (self.r, self.l)
        target_index, source_index = (self.l.inodes, self.s.ids) if local else (self.r.ids, self.s.inodes)
        missing = []
        for ancestor in paths.ancestors(path_key):
            synced = self.s.get(ancestor)
            if synced is not None and target_index.get(_identity(synced, local), set()) - {ancestor}:
                return None  # that side moved this folder elsewhere: what is here is another one
            existing = target.get(ancestor)
            if existing is not None:
                if existing.kind != FOLDER:
                    return None
                continue
            if source_index.get(_identity(source.items[ancestor], not local), set()) - {ancestor}:
                return None  # it is synced elsewhere: a move still to come brings it here
            missing.append(ancestor)
        return missing

    def _move_synced_by_records(self, from_key: str, to_path: str) -> None:
        to_key = paths.key(to_path)
        before = {k: self.s.items[k] for k in self.s.subtree(from_key) + self.s.subtree(to_key)}
        self.s.move(from_key, self.s.items[from_key].path, to_path)
        self.moves += [Record(k, None) for k in before if k not in self.s.items]
        self.moves += [
            Record(k, self.s.items[k]) for k in self.s.subtree(to_key) if before.get(k) != self.s.items[k]
        ]

    # -- paths ------------------------------------------------------------------------------------
    def _local_path(self, path_key: str, remote_path: str) -> str:
        """Where a remote item goes on disk: its parent as spelled on disk, its own name."""
        parent_key = paths.parent(path_key)
        folder = paths.ROOT if parent_key == paths.ROOT else self.l.items[parent_key].path
        return paths.join(folder, paths.name(remote_path))

    def _remote_path(self, path_key: str, local_path: str) -> str:
        """Where the server puts a local item: its parent as the server spells it, the local name."""
        parent_key = paths.parent(path_key)
        folder = paths.ROOT if parent_key == paths.ROOT else self.r.items[parent_key].path
        return unicodedata.normalize("NFC", paths.join(folder, paths.name(local_path)))

    # -- per-key outcomes -------------------------------------------------------------------------
    def _agree(self, path_key: str) -> None:
        local, remote = self.l.get(path_key), self.r.get(path_key)
        merged = None if remote is None or local is None else replace(remote, inode=local.inode)
        if not _same_synced(self.s.get(path_key), merged):
            self.asides.append(Record(path_key, merged))
            self.s.set(path_key, merged)

    def _apply_remote(self, path_key: str) -> None:
        synced, local, remote = self.s.get(path_key), self.l.get(path_key), self.r.get(path_key)
        if local is not None and (remote is None or local.kind != remote.kind):
            assert same_content(local, synced) or local.kind == FOLDER, "would lose a local edit"
            self.deletes.append((_depth(path_key), DeleteLocal(local.path, local.kind, local.content_hash)))
            self.l.set(path_key, None)
            self.s.set(path_key, None)
            local = None
        if remote is None:
            return
        path = local.path if local is not None else self._local_path(path_key, remote.path)
        if remote.is_file:
            assert remote.rev is not None
            action: Action = Download(path, remote.content_hash, remote.rev, remote.object_id, remote.size)
        else:
            action = CreateLocalFolder(path, remote.rev, remote.object_id)
        self.creates.append((_depth(path_key), action))
        self.l.set(path_key, Item(path, remote.kind, remote.content_hash, remote.size))
        self.s.set(path_key, replace(remote, path=path, inode=None))

    def _create_local_folder(self, path_key: str, stage: list[Action]) -> None:
        remote = self.r.items[path_key]
        path = self._local_path(path_key, remote.path)
        stage.append(CreateLocalFolder(path, remote.rev, remote.object_id))
        self.l.set(path_key, Item(path, FOLDER))
        self.s.set(path_key, replace(remote, path=path))

    def _apply_local(self, path_key: str) -> None:
        synced, local, remote = self.s.get(path_key), self.l.get(path_key), self.r.get(path_key)
        if remote is not None and (local is None or local.kind != remote.kind):
            parent_rev = remote.rev if remote.is_file else None
            assert remote.kind == FOLDER or (synced is not None and synced.rev == remote.rev), "unsynced rev"
            self.deletes.append((_depth(path_key), DeleteRemote(remote.path, remote.kind, parent_rev)))
            self.r.set(path_key, None)
            self.s.set(path_key, None)
            remote = None
        if local is None:
            return
        if local.is_file:
            parent_rev = remote.rev if remote is not None else None
            action: Action = Upload(local.path, local.content_hash, parent_rev)
        else:
            action = CreateRemoteFolder(local.path)
        self.creates.append((_depth(path_key), action))
        self.r.set(path_key, Item(self._remote_path(path_key, local.path), local.kind, local.content_hash))
        self.s.set(path_key, replace(local, rev=None))

    def _create_remote_folder(self, path_key: str, stage: list[Action]) -> None:
        local = self.l.items[path_key]
        stage.append(CreateRemoteFolder(local.path))
        self.r.set(path_key, Item(self._remote_path(path_key, local.path), FOLDER))
        self.s.set(path_key, local)

    def _keep_both(self, path_key: str) -> None:
        """The server's version stays at the path; the local one moves aside and goes up as new."""
        local = self.l.items[path_key]
        for synced_key in reversed(self.s.subtree(path_key)):  # forget the base: the copy is new
            self.asides.append(Record(synced_key, None))
            self.s.set(synced_key, None)
        copy_path = conflicted_copy_path(
            local.path, kind=local.kind, device=self.device, today=self.today, taken=self._taken
        )
        self.asides.append(MoveLocal(local.path, copy_path))
        self.l.move(path_key, local.path, copy_path)
        for copy_key in self.l.subtree(paths.key(copy_path)):
            self._apply_local(copy_key)
        self._apply_remote(path_key)

    def _taken(self, path_key: str) -> bool:
        return path_key in self.s.items or path_key in self.l.items or path_key in self.r.items
