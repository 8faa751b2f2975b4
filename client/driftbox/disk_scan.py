"""What changed on disk since the synced tree, as a pass reads it: the whole linked folder, only the
folders that file events named, or as much as a part allows (``adapters.scanner``), with the
linked folder's marker kept out and twins renamed aside (``core/twins.py``)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Collection
from pathlib import Path

from driftbox.adapters import fs, scanner
from driftbox.adapters.index import Index
from driftbox.adapters.transfer import PART_PREFIX
from driftbox.core import paths
from driftbox.core.model import FILE, Item

MARKER = ".driftbox"  # in the linked folder's root: proves it is the folder that was linked


def without_marker(tree: dict[str, Item]) -> dict[str, Item]:
    return {k: v for k, v in tree.items() if k != "/" + MARKER}


# Synced items from which a whole scan is shared with a second process: forking one costs about
# 20 ms, and a scan of 100k unchanged entries takes 0.48 s alone, 0.27 s shared.
SHARE_FROM = 20_000
Scanning = Callable[[str, bool, int | None], scanner.Scan]  # (folder key, deep, budget) -> its changes


def scan_disk(
    root: Path,
    index: Index,
    *,
    save: bool = True,
    known: bool = True,
    near: Collection[str] | None = None,
    budget: int | None = None,
) -> tuple[scanner.Scan, list[str]]:
    """What changed on disk since the synced tree (``known=False``: every item, as if none were
    synced), and the notices of twins renamed aside. ``near``: only in the folders holding these
    paths (file events named them), the rest taken as unchanged; ``budget``: see
    ``scanner.scan_changes``. ``save``: renames twins aside, saves the stat cache of what it hashed
    and forgets that of what is gone (a pass holds the home's lock; ``status`` changes nothing)."""
    one = _scanning(root, index, known=known)

    def walk() -> scanner.Scan:
        if near is None or not known:
            if known and _may_share(index):
                return _shared(one, root, index, budget)
            return one(paths.ROOT, True, budget)
        found = scanner.merged(
            [one(folder, False, budget) for folder in sorted(_folders_holding(root, index, near))]
        )
        found.empty = _holds_nothing(root)
        return found

    notices: list[str] = []
    found = walk()
    if found.twins and save:  # renamed aside before planning, so nothing is planned over them
        notices += scanner.set_twins_apart(root, found, index.taken)
        found = walk()
    scanner.twins_as_problems(found, index.taken)  # status renames nothing; nor can a failed rename
    found.tree = without_marker(found.tree)
    if save:  # with the lock: only one sync runs per home, so these leftovers are dead
        for leftover in found.leftovers:
            leftover.unlink(missing_ok=True)
        with index.transaction() as tx:
            tx.put_stats(found.hashed)
            tx.delete_stats_at(found.gone)
    return found, notices


def _scanning(root: Path, index: Index, *, known: bool) -> Scanning:
    """``scanner.scan_changes`` of one folder (deep or not), reading the synced tree from ``index``."""

    def hasher(path: Path) -> tuple[str, tuple[str, ...]]:
        hashed = fs.hash_file(path)
        return hashed.content_hash, hashed.chunks

    # The marker keeps its key whatever twin it meets (``.DRIFTBOX`` would sort before it).
    marker = Item("/" + MARKER, FILE)

    def synced_at(path_key: str) -> Item | None:
        if path_key == paths.key(marker.path):
            return marker
        return index.synced_items([path_key]).get(path_key) if known else None

    def remote_at(path_key: str) -> Item | None:
        return index.remote_items([path_key]).get(path_key)

    children = index.synced_children if known else (lambda key: {})

    def one(within: str, deep: bool, budget: int | None) -> scanner.Scan:
        return scanner.scan_changes(
            root,
            children,
            index.stat_children,
            hasher,
            synced_at=synced_at,
            remote_at=remote_at,
            within=within,
            deep=deep,
            budget=budget,
        )

    return one


def _may_share(index: Index) -> bool:
    """Whether to share a whole scan with a forked process: on Linux (elsewhere a fork may not be
    safe at all), with enough synced to be worth a fork, with no other thread running (a fork
    copies only this one, and with it any lock another held: transfer threads use the index), and
    with the index's connection in no transaction. The forked process never uses that connection,
    and opens its own; SQLite's record of this process's locks, which it inherits, then holds none."""
    return sys.platform == "linux" and _only_thread() and index.idle() and index.synced_count() >= SHARE_FROM


def _only_thread() -> bool:
    return threading.active_count() == 1


def _shared(one: Scanning, root: Path, index: Index, budget: int | None) -> scanner.Scan:
    """A whole scan in two processes: the root here, not deep, then the unchanged synced folders
    it holds (or, where it holds one alone, those below it) shared out every other one, this
    process walking its share meanwhile. The same ``Scan`` as one walk, but for the order of its
    lists; if the other process dies, its share is walked here. A ``budget`` left after the root
    is halved between the two (each folder listed is still whole)."""
    import multiprocessing  # here: a scan that shares nothing does not pay for these imports
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    scans = [one(paths.ROOT, False, budget)]
    while len(scans[-1].unwalked) == 1 and not scans[-1].more:  # one folder holds the rest
        scans.append(one(scans[-1].unwalked[0], False, _left(budget, scans)))
    frontier = [] if scans[-1].more else scans[-1].unwalked
    mine, theirs = frontier[0::2], frontier[1::2]
    left = _left(budget, scans)
    share = None if left is None else max(0, left) // 2
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        args = (root, index.db_path, index.folder_id, theirs, share)
        apart = pool.submit(_scan_apart, *args) if theirs else None
        scans.append(_walk(one, mine, None if left is None else left - (share or 0)))
        try:
            scans += [apart.result()] if apart is not None else []
        except BrokenProcessPool:
            scans.append(_walk(one, theirs, share))
    found = scanner.merged(scans)
    found.unwalked = []
    return found


def _left(budget: int | None, scans: list[scanner.Scan]) -> int | None:
    return None if budget is None else budget - sum(len(found.tree) for found in scans)


def _walk(one: Scanning, folder_keys: list[str], budget: int | None) -> scanner.Scan:
    """These synced folders, deep, in order, while the budget lasts (``more`` if one is left)."""
    scans: list[scanner.Scan] = []
    for folder_key in folder_keys:
        left = _left(budget, scans)
        if left is not None and left <= 0:
            found = scanner.merged(scans)
            found.more = True
            return found
        scans.append(one(folder_key, True, left))
    return scanner.merged(scans)


def _scan_apart(
    root: Path, db_path: Path, folder_id: int, folder_keys: list[str], budget: int | None
) -> scanner.Scan:
    """In the forked process: these synced folders, deep, through a connection of its own."""
    index = Index.reader(db_path, folder_id)
    try:
        return _walk(_scanning(root, index, known=True), folder_keys, budget)
    finally:
        index.close()


def _folders_holding(root: Path, index: Index, near: Collection[str]) -> set[str]:
    """The key of the nearest synced folder, still a folder on disk, above each path: the folder to
    look in for what happened there (a create, an edit, a delete, a rename)."""
    folders: set[str] = set()
    for path in near:
        folder = paths.parent(path) if path != paths.ROOT else paths.ROOT
        while folder != paths.ROOT:
            item = index.synced_items([paths.key(folder)]).get(paths.key(folder))
            if item is not None and not item.is_file and fs.local_path(root, item.path).is_dir():
                break
            folder = paths.parent(folder)
        folders.add(paths.key(folder))
    return folders


def _holds_nothing(root: Path) -> bool:
    """Whether the linked folder holds nothing but its marker and leftovers of transfers."""
    with os.scandir(root) as entries:
        return all(e.name == MARKER or e.name.startswith(PART_PREFIX) for e in entries)
