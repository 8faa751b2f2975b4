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
moved, and the planner sends the matches it can tell apart (``content_matches``) as moves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from driftbox.core import paths
from driftbox.core.model import FOLDER, Item, Tree


def confirms(synced: Item, found: Item) -> bool:
    """Whether ``found`` (with the synced item's inode) is that item: same kind; for a file, same bytes."""
    return synced.kind == found.kind and (synced.kind == FOLDER or synced.content_hash == found.content_hash)


@dataclass(frozen=True)
class Unmatched:
    """By content hash: synced files with no counterpart, and local files that are no synced one."""

    gone: dict[str, list[str]]  # synced keys: not at their key, nor at a confirmed inode
    new: dict[str, list[str]]  # local keys: not at a synced key, nor at a confirmed synced inode


def unmatched_files(synced: Tree, local: Tree) -> Unmatched:
    local_inodes = _by_inode(local.values())
    synced_inodes = _by_inode(synced.values())
    gone: dict[str, list[str]] = defaultdict(list)
    new: dict[str, list[str]] = defaultdict(list)
    for path_key, item in synced.items():
        if item.is_file and path_key not in local and not _held(item, local_inodes.get(item.inode, ())):
            gone[item.content_hash].append(path_key)
    for path_key, item in local.items():
        is_synced = any(confirms(s, item) for s in synced_inodes.get(item.inode, ()))
        if item.is_file and path_key not in synced and not is_synced:
            new[item.content_hash].append(path_key)
    return Unmatched(dict(gone), dict(new))


def content_matches(unmatched: Unmatched) -> list[tuple[str, str]]:
    """(synced key, local key) for each gone file whose bytes are in exactly one new file, and no
    other gone file's; among copies of one content, pairs with a last name of their own."""
    pairs = []
    for content_hash, gone_keys in unmatched.gone.items():
        new_keys = unmatched.new.get(content_hash, [])
        if len(gone_keys) == len(new_keys) == 1:
            pairs.append((gone_keys[0], new_keys[0]))
        elif gone_keys and new_keys:
            pairs += _pair_by_name(gone_keys, new_keys)
    return pairs


def _pair_by_name(gone_keys: list[str], new_keys: list[str]) -> list[tuple[str, str]]:
    by_name: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for path_key in gone_keys:
        by_name[paths.name(path_key)][0].append(path_key)
    for path_key in new_keys:
        by_name[paths.name(path_key)][1].append(path_key)
    return [(g[0], n[0]) for g, n in by_name.values() if len(g) == len(n) == 1]


def _by_inode(items: Iterable[Item]) -> dict[int | None, list[Item]]:
    found: dict[int | None, list[Item]] = defaultdict(list)
    for item in items:
        if item.inode is not None:
            found[item.inode].append(item)
    return found


def _held(synced: Item, holders: Iterable[Item]) -> bool:
    return synced.inode is not None and any(confirms(synced, found) for found in holders)
