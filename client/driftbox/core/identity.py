"""Which local item is which synced one: an inode confirmed by the bytes, or the bytes alone.

An inode says where a synced item went only if the filesystem did not give it to something else:
ext4 hands a freed inode to the next new file, so after an editor's save (a temporary file renamed
over the old one) a new file elsewhere can hold the old file's inode. So an inode counts only with
evidence (``confirms``): the same kind and, for a file, the synced bytes. A file moved *and* edited
before a sync therefore reads as a delete and a new file; its old bytes stay in the history.

The other way round, a folder moved by copying and deleting (``shutil.move`` across filesystems,
many file managers) leaves every file with a new inode and its old bytes. ``unmatched_files`` lists
the synced files found neither at their key nor at a confirmed inode, and the local files new in
both ways, by content hash: the safety check counts a gone file whose bytes are in a new file as
moved. The planner sends the matches it can tell apart as moves: a gone folder whose whole subtree
is that of one new folder (``folder_matches``), then a gone file whose bytes are in one new file
(``file_matches``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from driftbox.core import paths
from driftbox.core.model import FOLDER, Item, Tree


def confirms(synced: Item, found: Item) -> bool:
    """Whether ``found`` (with the synced item's inode) is that item: same kind; for a file, same bytes."""
    return synced.kind == found.kind and (synced.kind == FOLDER or synced.content_hash == found.content_hash)


Subtree = frozenset[tuple[str, str, str]]  # (key relative to its folder, kind, content hash)


@dataclass(frozen=True)
class Unmatched:
    """By content hash: synced files with no counterpart, and local files that are no synced one."""

    gone: dict[str, list[str]]  # synced keys: not at their key, nor at a confirmed inode
    new: dict[str, list[str]]  # local keys: not at a synced key, nor at a confirmed synced inode


def unmatched_files(synced: Tree, local: Tree) -> Unmatched:
    gone: dict[str, list[str]] = defaultdict(list)
    new: dict[str, list[str]] = defaultdict(list)
    for path_key in _unmatched(synced, local):
        if synced[path_key].is_file:
            gone[synced[path_key].content_hash].append(path_key)
    for path_key in _unmatched(local, synced):
        if local[path_key].is_file:
            new[local[path_key].content_hash].append(path_key)
    return Unmatched(dict(gone), dict(new))


def folder_matches(synced: Tree, local: Tree) -> list[tuple[str, str]]:
    """(synced key, local key) for each gone folder whose whole subtree (names, kinds, bytes) is that
    of exactly one new folder, and of no other gone folder; one without a file proves nothing."""
    by_subtree: dict[Subtree, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for side, (tree, other) in enumerate(((synced, local), (local, synced))):
        folders = {k for k in _unmatched(tree, other) if tree[k].kind == FOLDER}
        for folder, subtree in _subtrees(tree, folders).items():
            if any(kind != FOLDER for _, kind, _ in subtree):
                by_subtree[subtree][side].append(folder)
    return [(g[0], n[0]) for g, n in by_subtree.values() if len(g) == len(n) == 1]


def file_matches(synced: Tree, local: Tree) -> list[tuple[str, str]]:
    """(synced key, local key) for each gone file whose bytes are in exactly one new file, and no
    other gone file's; among copies of one content, pairs with a last name of their own."""
    unmatched = unmatched_files(synced, local)
    pairs = []
    for content_hash, gone_keys in unmatched.gone.items():
        new_keys = unmatched.new.get(content_hash, [])
        if len(gone_keys) == len(new_keys) == 1:
            pairs.append((gone_keys[0], new_keys[0]))
        elif gone_keys and new_keys:
            pairs += _pair_by_name(gone_keys, new_keys)
    return pairs


def _unmatched(tree: Tree, other: Tree) -> list[str]:
    """The keys of ``tree`` whose item ``other`` holds neither at that key nor on a confirmed inode."""
    by_inode: dict[int, list[Item]] = defaultdict(list)
    for item in other.values():
        if item.inode is not None:
            by_inode[item.inode].append(item)
    return [
        path_key
        for path_key, item in tree.items()
        if path_key not in other
        and (item.inode is None or not any(confirms(item, found) for found in by_inode.get(item.inode, ())))
    ]


def _pair_by_name(gone_keys: list[str], new_keys: list[str]) -> list[tuple[str, str]]:
    by_name: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for path_key in gone_keys:
        by_name[paths.name(path_key)][0].append(path_key)
    for path_key in new_keys:
        by_name[paths.name(path_key)][1].append(path_key)
    return [(g[0], n[0]) for g, n in by_name.values() if len(g) == len(n) == 1]


def _subtrees(tree: Tree, roots: set[str]) -> dict[str, frozenset[tuple[str, str, str]]]:
    """Everything below each root, as (key relative to the root, kind, content hash)."""
    below: dict[str, set[tuple[str, str, str]]] = {root: set() for root in roots}
    for path_key, item in tree.items():
        for ancestor in paths.ancestors(path_key):
            if ancestor in below:
                below[ancestor].add((path_key[len(ancestor) :], item.kind, item.content_hash))
    return {root: frozenset(items) for root, items in below.items()}
