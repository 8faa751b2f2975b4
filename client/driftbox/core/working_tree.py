"""The planner's model of one side: a copy of a tree it changes as it plans, indexed by identity.

``plan`` never changes the trees it is given. It copies each into a ``WorkingTree`` and, with every
action it plans, changes the copies to what that action will make of them, so that each later
decision sees the trees as the earlier actions leave them (a folder a move brought, a key a delete
freed). The index by inode and the one by object id are how moves are found: one identity at two
keys of two trees. The index of every key below each folder lets a subtree cost its size, not the
tree's: the planner moves, forgets and sets aside whole subtrees.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from driftbox.core import paths
from driftbox.core.model import Item, Tree


def key_depth(path_key: str) -> int:
    """How deep a key is: the planner sorts by it to take parents before their children."""
    return path_key.count("/")


def parents_first(path_key: str) -> tuple[int, str]:
    """The order the planner takes keys in: by depth, then by key, so a plan is the same every run
    (a set's order follows the process's hash seed, and the order decides which ops share a commit)."""
    return key_depth(path_key), path_key


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
        below = sorted(self._below.get(path_key, ()), key=parents_first)
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
