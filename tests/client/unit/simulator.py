"""A fake server, a fake disk and an executor: the world the planner's tests run plans in.

The server applies commits with the rules of ``chalicelib/domain/commit.py`` (re-implemented here:
the client never imports chalicelib): a put against a stale ``parent_rev`` is a conflict and the
whole commit changes nothing; a put or mkdir under missing folders creates them; a delete of a
folder is recursive; a move of a folder moves its subtree; a put of the bytes already there is a
no-op. It keeps every content hash ever stored (``history``). The disk is case-insensitive and
case-preserving (one entry per key) but strict about spelling: an action must name every existing
component exactly as the disk spells it, as a case-sensitive disk would require.

The executor applies a plan as ``driftbox.core.actions`` says, updating the synced tree, and checks
the planner's safety promises on each action as it goes (``UnsafeAction``).
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from driftbox.core import paths
from driftbox.core.actions import (
    REMOTE_ACTIONS,
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
from driftbox.core.model import FILE, FOLDER, Item, Kind
from driftbox.core.planner import plan


class Refused(Exception):
    """The server's 409 conflict: nothing of the commit was applied."""


class UnsafeAction(AssertionError):
    """An action that breaks a promise of the planner (it would lose unsynced content)."""


class BadAction(AssertionError):
    """An action the executor cannot apply as planned: a planner bug, not a race."""


def size_of(content_hash: str) -> int:
    return len(content_hash)  # "" for folders: 0


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
        self._ids = itertools.count(1)

    def tree(self) -> dict[str, Item]:
        return {k: node.item() for k, node in self.nodes.items() if node.live}

    def commit(self, ops: Sequence[tuple[object, ...]]) -> list[Effect]:
        """Apply all ops in order, or none of them (``Refused``)."""
        saved = dict(self.nodes)
        try:
            return [self._apply(op) for op in ops]
        except Refused:
            self.nodes = saved
            raise

    def _apply(self, op: tuple[object, ...]) -> Effect:
        name, *args = op
        method: Callable[..., Effect] = getattr(self, f"_{name}")  # _put, _mkdir, _delete, _move
        return method(*args)

    def _live(self, path_key: str) -> Node | None:
        node = self.nodes.get(path_key)
        return node if node is not None and node.live else None

    def _successor(self, current: Node | None, kind: Kind) -> tuple[str, int]:
        if current is not None and current.object_id is not None and current.kind == kind:
            return current.object_id, current.rev + 1
        return f"id{next(self._ids)}", 1

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
            self.nodes[paths.key(node.path)] = replace(node, rev=node.rev + 1, live=False, content_hash="")
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

    def tree(self) -> dict[str, Item]:
        return dict(self.entries)

    def _inode(self) -> int:
        if self._reuse_inodes and self._freed:  # ext4 hands out freed inodes again
            return self._freed.pop()
        return next(self._next_inode)

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

    # -- what the executor does ----------------------------------------------------------------
    def write(self, path: str, content_hash: str) -> Item:
        """A temporary file renamed over the target: a new inode."""
        existing = self.exact(path)
        if existing is not None and existing.kind != FILE:
            raise BadAction(f"a file written over the folder {path}")
        if existing is not None:
            self._free(existing)
        entry = self.entries[paths.key(path)] = Item(
            path, FILE, content_hash, size_of(content_hash), inode=self._inode()
        )
        return entry

    def mkdir(self, path: str) -> Item:
        existing = self.exact(path)
        if existing is not None and existing.kind != FOLDER:
            raise BadAction(f"mkdir over the file {path}")
        entry = self.entries[paths.key(path)] = existing or Item(path, FOLDER, inode=self._inode())
        return entry

    def delete(self, path: str, kind: Kind, content_hash: str) -> bool:
        """Delete a file only at that content, a folder only if empty; False if it left it."""
        entry = self.exact(path)
        if entry is None or entry.kind != kind:
            return False
        if kind == FILE and entry.content_hash != content_hash:
            return False
        if kind == FOLDER and self.below(paths.key(path)):
            return False
        del self.entries[paths.key(path)]
        self._free(entry)
        return True

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

    # -- what only a user does ----------------------------------------------------------------
    def remove_tree(self, path: str) -> None:
        if self.exact(path) is None:
            raise BadAction(f"rm -r of a missing {path}")
        for k in [paths.key(path), *self.below(paths.key(path))]:
            self._free(self.entries.pop(k))

    def edit_in_place(self, path: str, content_hash: str) -> None:
        """An edit that keeps the inode (an editor that saves through a new file: ``write``)."""
        entry = self.exact(path)
        if entry is None or entry.kind != FILE:
            raise BadAction(f"no file {path} to edit")
        self.entries[paths.key(path)] = replace(entry, content_hash=content_hash, size=size_of(content_hash))


# -- the executor -------------------------------------------------------------------------------


def move_synced(synced: dict[str, Item], from_path: str, to_path: str) -> None:
    """``actions.move_synced``, written again here so that the test does not trust the planner's."""
    from_key, to_key = paths.key(from_path), paths.key(to_path)

    def at_or_below(k: str, root: str) -> bool:
        return k == root or paths.is_within(k, root)

    moving = {k: item for k, item in synced.items() if at_or_below(k, from_key)}
    for k in [k for k in synced if at_or_below(k, to_key) or k in moving]:
        del synced[k]
    for item in moving.values():
        new_path = paths.reroot(item.path, from_path, to_path)
        synced[paths.key(new_path)] = replace(item, path=new_path)


def drop_synced(synced: dict[str, Item], path_key: str) -> None:
    for k in [k for k in synced if k == path_key or paths.is_within(k, path_key)]:
        del synced[k]


class Skipped(Exception):
    """The executor leaves an action undone: what it finds is not what the plan expected."""


@dataclass
class Executor:
    """Applies plans to a FakeServer and a FakeDisk; remote actions in runs, one commit each.

    ``strict`` (the world did not move since the plan): an action the executor would have to
    skip is a planner bug, raised as UnsafeAction or BadAction. Otherwise it is skipped, counted,
    and the next round plans again, as the real executor does.
    """

    server: FakeServer
    disk: FakeDisk
    synced: dict[str, Item]
    strict: bool = True
    refused_commits: int = 0
    skipped: int = 0
    racing_deletes: int = 0  # unsynced remote files a race took along (kept in history)

    def run(self, actions: Iterable[Action]) -> None:
        """Apply a plan; a refused commit ends it (what follows may rely on what was refused)."""
        batch: list[Action] = []
        for action in actions:
            if isinstance(action, REMOTE_ACTIONS):
                batch.append(action)
                continue
            if not self._commit(batch):
                return
            batch = []
            self._guarded(self._local, action)
        self._commit(batch)

    def _guarded(self, apply: Callable[[Action], None], action: Action) -> bool:
        try:
            apply(action)
        except (Skipped, BadAction) as exc:
            if self.strict:
                raise (UnsafeAction if isinstance(exc, Skipped) else BadAction)(f"{action}: {exc}") from exc
            self.skipped += 1
            return False
        return True

    def _commit(self, batch: list[Action]) -> bool:
        # The executor reads each upload's bytes before it commits: a file not there as planned
        # (an earlier action failed) is not sent.
        batch = [action for action in batch if self._guarded(self._readable, action)]
        if not batch:
            return True
        try:
            effects = self.server.commit([self._op(action) for action in batch])
        except Refused:
            self.refused_commits += 1
            return False
        for action, effect in zip(batch, effects, strict=True):  # each sees the records before it
            self._check_remote(action, effect)
            self._record_remote(action, effect)
        return True

    def _readable(self, action: Action) -> None:
        if isinstance(action, Upload | CreateRemoteFolder):
            local = self.disk.exact(action.path)
            if local is None or (isinstance(action, Upload) and local.content_hash != action.content_hash):
                raise Skipped(f"the disk holds {local}")

    @staticmethod
    def _op(action: Action) -> tuple[object, ...]:
        if isinstance(action, Upload):
            return ("put", action.path, action.parent_rev, action.content_hash)
        if isinstance(action, CreateRemoteFolder):
            return ("mkdir", action.path)
        if isinstance(action, DeleteRemote):
            return ("delete", action.path, action.parent_rev)
        assert isinstance(action, MoveRemote)
        return ("move", action.from_path, action.to_path, action.parent_rev)

    def _check_remote(self, action: Action, effect: Effect) -> None:
        """Property 3, remote side: only synced revisions are deleted or overwritten.

        Not strict (the server moved on since the plan), two races of the server's rules are
        counted, not failed: a folder delete takes along what was added or changed below it
        meanwhile, and a ``parent_rev`` can match another object's rev (revs start at 1 for each
        new object id: one created where a file was moved away, or replaced by a folder and
        back). What they remove stays in the server's history."""
        for node in effect.deleted:  # only at the synced rev
            self._check_lost(
                action,
                node,
                synced_at=lambda synced, node: synced.rev == node.rev,
                below=node is not effect.result,
            )
        if effect.replaced is not None:  # only at the synced content (whatever its rev)
            self._check_lost(
                action,
                effect.replaced,
                synced_at=lambda synced, node: synced.content_hash == node.content_hash,
                below=False,
            )

    def _check_lost(
        self, action: Action, node: Node, *, synced_at: Callable[[Item, Node], bool], below: bool
    ) -> None:
        synced = self.synced.get(paths.key(node.path))
        if node.kind != FILE or (synced is not None and synced_at(synced, node)):
            return
        if not self.strict and (below or synced is None or synced.object_id != node.object_id):
            self.racing_deletes += 1
            return
        raise UnsafeAction(f"{action}: deletes or overwrites the unsynced {node} (synced {synced})")

    def _record_remote(self, action: Action, effect: Effect) -> None:
        node = effect.result
        if isinstance(action, Upload | CreateRemoteFolder):
            local = self.disk.exact(action.path)
            assert local is not None
            self.synced[paths.key(node.path)] = replace(node.item(), inode=local.inode)
        elif isinstance(action, DeleteRemote):
            drop_synced(self.synced, paths.key(action.path))
        elif isinstance(action, MoveRemote):
            move_synced(self.synced, action.from_path, action.to_path)

    def _local(self, action: Action) -> None:
        path_key = action.path_key if isinstance(action, Record) else paths.key(_path_of(action))
        synced = self.synced.get(path_key)
        if isinstance(action, Record):
            if action.item is None:
                self.synced.pop(path_key, None)
            else:
                self.synced[path_key] = action.item
        elif isinstance(action, Download):
            # Only over nothing, or over a file at the synced content: never over an unsynced edit.
            existing = self.disk.exact(action.path)
            if existing is not None and (synced is None or existing.content_hash != synced.content_hash):
                raise Skipped(f"would overwrite the unsynced local {existing}")
            if action.content_hash not in self.server.history:
                raise BadAction("the server never stored that content")
            entry = self.disk.write(action.path, action.content_hash)
            self.synced[path_key] = Item(
                action.path, FILE, action.content_hash, action.size, action.rev, action.object_id, entry.inode
            )
        elif isinstance(action, CreateLocalFolder):
            entry = self.disk.mkdir(action.path)
            self.synced[path_key] = Item(
                action.path, FOLDER, rev=action.rev, object_id=action.object_id, inode=entry.inode
            )
        elif isinstance(action, DeleteLocal):
            if action.kind == FILE and (synced is None or synced.content_hash != action.content_hash):
                raise Skipped(f"would delete local content that is not synced ({synced})")
            if not self.disk.delete(action.path, action.kind, action.content_hash):
                raise Skipped("not there as planned (changed, or a folder not empty)")
            drop_synced(self.synced, path_key)
        elif isinstance(action, MoveLocal):
            self.disk.rename(action.from_path, action.to_path)
            move_synced(self.synced, action.from_path, action.to_path)


def _path_of(action: Action) -> str:
    if isinstance(action, MoveLocal | MoveRemote):
        return action.from_path
    assert not isinstance(action, Record)
    return action.path


# -- a world: both sides from one start, edits on each, then rounds of plan and execute -----------

DEVICE = "laptop"
TODAY = datetime.date(2024, 5, 6)


class NotConverged(AssertionError):
    pass


@dataclass
class World:
    server: FakeServer
    disk: FakeDisk
    synced: dict[str, Item]
    plans: list[list[Action]] = field(default_factory=list)
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        self.executor = Executor(self.server, self.disk, self.synced)

    @classmethod
    def start(cls, files: Mapping[str, str | None], *, reuse_inodes: bool = False) -> World:
        """Both sides, and the synced tree, at ``files`` (path -> content hash; None: a folder).

        Folders above a path are created; a path under a file, or with the key of one already
        there, is left out."""
        world = cls(FakeServer(), FakeDisk(reuse_inodes=reuse_inodes), {})
        disk, server = world.disk, world.server
        for path, content in files.items():
            folder = paths.ROOT
            for name in path.split("/")[1:-1]:
                entry = disk.entries.get(paths.key(paths.join(folder, name)))
                if entry is None:
                    entry = disk.mkdir(paths.join(folder, name))
                    server.other_device(("mkdir", entry.path))
                if entry.kind != FOLDER:
                    break
                folder = entry.path
            else:
                path = paths.join(folder, paths.name(path))
                if paths.key(path) in disk.entries:
                    continue
                if content is None:
                    disk.mkdir(path)
                    server.other_device(("mkdir", path))
                else:
                    disk.write(path, content)
                    server.other_device(("put", path, None, content))
        local, remote = disk.tree(), server.tree()
        assert local.keys() == remote.keys(), (local, remote)
        world.synced.update({k: replace(remote[k], inode=local[k].inode) for k in remote})
        return world

    # -- syncing ----------------------------------------------------------------------------------
    def sync(
        self,
        *,
        max_rounds: int = 4,
        after_first_plan: Callable[[], object] | None = None,
        crash_after: int | None = None,
    ) -> int:
        """Plan and execute until a plan is empty; the number of rounds executed.

        ``after_first_plan``: changes made between the first plan and its execution (remote
        edits: the plan then runs against a server that moved on, and its commits may be refused).
        ``crash_after``: the client is killed after that many actions of the first plan.
        """
        for round_number in range(max_rounds + 1):
            actions = plan(self.synced, self.disk.tree(), self.server.tree(), device=DEVICE, today=TODAY)
            if not actions:
                return round_number
            if round_number == max_rounds:
                raise NotConverged(f"still planning after {max_rounds} rounds: {actions}")
            self.plans.append(actions)
            if round_number == 0 and after_first_plan is not None:
                after_first_plan()
            self.executor.strict = after_first_plan is None
            self.executor.run(actions[:crash_after] if round_number == 0 else actions)
        raise AssertionError("unreachable")
