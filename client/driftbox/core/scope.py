"""What a pass plans: the keys that changed, and only what deciding them needs of the three trees.

The planner (``core.planner``) is pure over three trees; planned over every key of an account it
costs the account. But a key that changed on neither side since it was synced plans to nothing:
its local item is its synced one as the disk holds it (``as_local``), its remote item is the
synced one, and the per-key rules agree without a record. So a pass plans over a *scope*:

- the *changed* keys: local ones the scan found differing from the synced tree (new, edited,
  replaced, renamed, gone: ``LocalChanges``), remote ones differing from it (``remote_differs``:
  the journal moved them on, or an earlier pass left them unsettled), and the held ones;
- everything the synced or remote tree holds below each of them: a folder deleted, moved or made a
  file is decided with its whole subtree, as its rules say (``conflicts.dirty_folders``, moves);
- every ancestor of those: a child goes under its parent as each side spells it.

The scope's trees are the full trees restricted to its keys, each read from the index
(``Outside``), the local one made of the scan's changed items and, for each unchanged key in scope,
``as_local`` of its synced item. What the planner asks of keys outside the scope is whether one is
taken (a conflicted copy's name): ``Outside.taken``. The safety check counts the whole synced tree
(``Outside.synced_count``) and whether the folder holds anything (``LocalChanges.local_empty``).

Moves need both their ends in scope, and have them: a moved item is gone at its old key and new at
the other, on the side that moved it, so both keys changed. The property tests plan every case both
ways, over the scope and over the whole trees, and require the same plan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from driftbox.core import paths
from driftbox.core.model import FOLDER, Item, Tree
from driftbox.core.working_tree import parents_first


class Outside(Protocol):
    """What a scoped plan reads of the trees it does not hold (the index)."""

    def keys_below(self, path_key: str) -> Iterable[str]:
        """Every key strictly below ``path_key`` that the synced or the remote tree holds."""
        ...

    def synced_items(self, keys: Collection[str]) -> dict[str, Item]: ...

    def remote_items(self, keys: Collection[str]) -> dict[str, Item]: ...

    def taken(self, path_key: str) -> bool:
        """Whether the synced or remote tree holds ``path_key`` (unchanged local items are synced)."""
        ...

    def synced_count(self) -> int: ...


@dataclass
class LocalChanges:
    """What a scan found changed on disk since the synced tree, by path key."""

    found: dict[str, Item] = field(default_factory=dict)  # on disk, differing from synced (or new)
    gone: set[str] = field(default_factory=set)  # synced, no longer on disk
    problems: dict[str, str] = field(default_factory=dict)  # driftbox path -> why it is not synced
    local_empty: bool = False  # the folder holds nothing at all (but its marker)

    def keys(self) -> set[str]:
        return set(self.found) | self.gone | {paths.key(path) for path in self.problems}


@dataclass
class Scope:
    """The three trees restricted to the keys a pass must decide."""

    keys: set[str]
    synced: dict[str, Item]
    local: dict[str, Item]
    remote: dict[str, Item]
    part: bool = False  # only part of what changed (``read_scope``'s ``whole_subtrees=False``)

    def taken(self, outside: Outside) -> TakenAnywhere:
        return TakenAnywhere(self.keys, outside)


@dataclass
class TakenAnywhere:
    """``taken`` for the planner: inside the scope its working trees know; outside, the index does."""

    inside: set[str]
    outside: Outside

    def __call__(self, path_key: str) -> bool:
        return path_key not in self.inside and self.outside.taken(path_key)


def as_local(synced: Item) -> Item:
    """The local item an unchanged synced one is: as the disk holds it, without server fields."""
    return Item(
        synced.path,
        synced.kind,
        synced.content_hash,
        synced.size,
        inode=synced.inode,
        executable=synced.executable,
    )


def remote_differs(synced: Item | None, remote: Item | None) -> bool:
    """Whether the remote item at a key is not the synced one (its inode aside: remote has none).

    ``adapters.index.Index.remote_changed_keys`` asks SQLite the same question over whole trees."""
    if synced is None or remote is None:
        return synced is not remote
    return (synced.path, synced.kind, synced.content_hash, synced.size, synced.rev, synced.object_id,
            synced.executable) != (remote.path, remote.kind, remote.content_hash, remote.size, remote.rev,
                                   remote.object_id, remote.executable)  # fmt: skip


def local_changes(synced: Tree, local: Tree) -> LocalChanges:
    """What a scan of the whole ``local`` tree would report (for fakes of the disk and for tests):
    the items unlike their synced ones, and the synced keys gone whose parent is still a folder
    there (the scan walks no further)."""
    found = {k: item for k, item in local.items() if k not in synced or as_local(synced[k]) != item}
    gone = {k for k in synced if k not in local and _in_a_folder(paths.parent(k), local)}
    return LocalChanges(found, gone, local_empty=not local)


def _in_a_folder(parent: str, local: Tree) -> bool:
    return parent == paths.ROOT or (parent in local and local[parent].kind == FOLDER)


def scope(changed: Iterable[str], outside: Outside, *, whole_subtrees: bool = True) -> set[str]:
    """The changed keys, every key below each, and every ancestor of all of them. Below a changed
    key whose ancestor changed too, the ancestor's subtree already holds all there is.

    Not ``whole_subtrees``: the changed keys and their ancestors only. That plan is part of the
    whole one only when nothing synced is gone on either side (no delete, no move, no replacement:
    ``Synchronizer`` checks), so that every key below a changed one is either unchanged, and plans
    to nothing, or changed itself, and planned in its own part."""
    changed = set(changed)
    keys: set[str] = set(changed)
    for path_key in changed if whole_subtrees else ():
        if not any(ancestor in changed for ancestor in paths.ancestors(path_key)):
            keys.update(outside.keys_below(path_key))
    for path_key in list(keys):
        keys.update(paths.ancestors(path_key))
    return keys


def read_scope(
    changes: LocalChanges, remote_changed: Iterable[str], outside: Outside, *, whole_subtrees: bool = True
) -> Scope:
    """The scope of ``changes`` and ``remote_changed``, with its three trees read."""
    keys = scope(changes.keys() | set(remote_changed), outside, whole_subtrees=whole_subtrees)
    synced = outside.synced_items(keys)
    remote = outside.remote_items(keys)
    return Scope(keys, synced, _local_tree(keys, synced, changes), remote, part=not whole_subtrees)


def _local_tree(keys: set[str], synced: Mapping[str, Item], changes: LocalChanges) -> dict[str, Item]:
    """The disk in scope: what the scan found changed, and each unchanged synced item where it was.

    A synced key is unchanged unless it is gone, or its parent is no folder on disk any more (a
    folder deleted, or replaced by a file: the scan does not walk below it). Below a path the scan
    could not read, nothing is claimed: the caller holds those as synced (``_with_unreadable``)."""
    unreadable = {paths.key(path) for path in changes.problems}
    local: dict[str, Item] = {}
    for path_key in sorted(keys, key=parents_first):
        if path_key in changes.found:
            local[path_key] = changes.found[path_key]
            continue
        item = synced.get(path_key)
        if item is None or path_key in changes.gone or path_key in unreadable:
            continue
        parent = paths.parent(path_key)
        if parent != paths.ROOT and (parent not in local or local[parent].kind != FOLDER):
            continue
        if any(ancestor in unreadable for ancestor in paths.ancestors(path_key)):
            continue
        local[path_key] = as_local(item)
    return local
