"""The world the planner's tests run plans in: the fakes (``fakes.py``) and an executor.

The executor applies a plan as ``driftbox.core.actions`` says, updating the synced tree, and checks
the planner's safety promises on each action as it goes (``UnsafeAction``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
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
from driftbox.core.model import FILE, FOLDER, Item
from driftbox.core.planner import plan

from tests.client.unit.fakes import (
    BadAction,
    Effect,
    FakeDisk,
    FakeServer,
    Node,
    Refused,
    UnsafeAction,
)


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
