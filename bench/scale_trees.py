"""Synthetic inputs for scale_bench's pure jobs: three trees of N items, and an index of N rows.

Each ``job`` builds its input untimed and returns the part to time, so the process's peak memory
(what scale_bench reports) holds the input as a real pass would hold it, and the seconds are the
planner's or SQLite's alone. Files sit in folders of 100, as in the bench's folders on disk.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

from driftbox.adapters.index import CachedHash, Index, LocalStat
from driftbox.core import scope
from driftbox.core.journal import RemoteFile
from driftbox.core.model import FILE, FOLDER, Item
from driftbox.core.planner import plan

PER_FOLDER = 100
NAMESPACE = "ns-scale-bench"
DEVICE = "bench"
MTIME_NS = 1_700_000_000_000_000_000


def _hash(i: int) -> str:
    return f"{i:064x}"  # a fresh string per call, as each tree loaded from SQLite has its own


def _paths(items: int) -> list[tuple[str, bool, int]]:
    """(path, is_file, number) for ``items`` entries: a folder, then its 100 files, and so on."""
    found: list[tuple[str, bool, int]] = []
    i = 0
    while len(found) < items:
        if i % PER_FOLDER == 0:
            found.append((f"/d{i // PER_FOLDER}", False, 10**9 + i // PER_FOLDER))
        if len(found) < items:
            found.append((f"/d{i // PER_FOLDER}/f{i}.bin", True, i))
        i += 1
    return found


def trees(items: int) -> tuple[dict[str, Item], dict[str, Item], dict[str, Item]]:
    """Synced, local and remote trees that agree on every item."""
    synced, local, remote = {}, {}, {}
    for path, is_file, n in _paths(items):
        kind, size = (FILE, 1024) if is_file else (FOLDER, 0)
        digest = _hash(n) if is_file else ""
        synced[path] = Item(path, kind, digest, size, rev=n + 1, object_id=f"o{n}", inode=n + 7)
        local[path] = Item(path, kind, _hash(n) if is_file else "", size, inode=n + 7)
        remote[path] = Item(path, kind, _hash(n) if is_file else "", size, rev=n + 1, object_id=f"o{n}")
    return synced, local, remote


def _planner(items: int, change: bool) -> Callable[[], None]:
    synced, local, remote = trees(items)
    if change:
        edited = next(key for key, item in local.items() if item.is_file)
        old = local[edited]
        local[edited] = Item(old.path, FILE, "e" * 64, old.size, inode=old.inode)
    today = datetime.date(2026, 12, 3)

    def work() -> None:
        actions = plan(synced, local, remote, device=DEVICE, today=today)
        if len(actions) != int(change):
            raise AssertionError(f"planned {len(actions)} actions, not {int(change)}: {actions[:3]}")

    return work


def _open(db: Path) -> Index:
    return Index.open(db, db.parent / "folder", NAMESPACE)


def _index_write(items: int, db: Path) -> Callable[[], None]:
    """What a first sync of ``items`` leaves: a remote row, a synced row and a stat-cache entry each."""
    synced, local, remote = trees(items)
    index = _open(db)
    stats = {k: LocalStat(1024, MTIME_NS, i.inode or 0) for k, i in local.items() if i.is_file}
    cache = {
        k: CachedHash(stats[k], i.content_hash, (i.content_hash,)) for k, i in local.items() if i.is_file
    }
    files = {k: RemoteFile((i.content_hash,), MTIME_NS) for k, i in remote.items() if i.is_file}

    def work() -> None:
        with index.transaction() as tx:
            tx.put_remote_many((k, item, files.get(k)) for k, item in remote.items())
            tx.put_synced_many((k, item, stats.get(k)) for k, item in synced.items())
            tx.replace_stat_cache(cache)
        index.close()

    return work


def _index_load(db: Path) -> Callable[[], None]:
    """What a pass loads today: the synced, remote and stat-cache tables whole, and the remote files."""
    index = _open(db)

    def work() -> None:
        loaded = (
            index.load_synced(),
            index.load_remote(),
            index.load_stat_cache(),
            index.load_remote_files(),
        )
        if not all(loaded):
            raise AssertionError("the index is empty: run the write job first")
        index.close()

    return work


def _index_rewrite(db: Path) -> Callable[[], None]:
    """What a pass writes today: the whole stat cache again (``replace_stat_cache``)."""
    index = _open(db)
    cache = index.load_stat_cache()

    def work() -> None:
        with index.transaction() as tx:
            tx.replace_stat_cache(cache)
        index.close()

    return work


def _pass_reads(db: Path) -> Callable[[], None]:
    """What a no-op pass reads of the index now: every folder's synced rows, folder by folder (as
    the scan walks), the remote keys left to settle, and the count the safety check needs."""
    index = _open(db)

    def work() -> None:
        rows, folders = 0, ["/"]
        while folders:
            children = index.synced_children(folders.pop())
            rows += len(children)
            folders += [known.path_key for known in children.values() if known.kind == FOLDER]
        index.remote_changed_keys()
        if index.synced_count() != rows:
            raise AssertionError("the folder reads missed rows")
        index.close()

    return work


def _scoped_plan(db: Path) -> Callable[[], None]:
    """The plan of one edited file over the index: its scope read, then planned (``core.scope``)."""
    index = _open(db)
    edited_key = next(k for k, item in index.synced_items(["/d1/f100.bin"]).items() if item.is_file)
    synced = index.synced_items([edited_key])[edited_key]
    edited = Item(synced.path, FILE, _hash(10**12), synced.size, inode=synced.inode)

    def work() -> None:
        changes = scope.LocalChanges(found={edited_key: edited})
        in_scope = scope.read_scope(changes, index.remote_changed_keys(), index)
        actions = plan(
            in_scope.synced,
            in_scope.local,
            in_scope.remote,
            device=DEVICE,
            today=datetime.date(2026, 12, 3),
            taken_outside=in_scope.taken(index),
        )
        if len(actions) != 1:
            raise AssertionError(f"one edit planned as {actions}")
        index.close()

    return work


def job(name: str, items: int, db: Path) -> Callable[[], None]:
    """The timed part of job ``name`` (scale_bench.BIG_JOBS), its input built."""
    if name.startswith("planner"):
        return _planner(items, change=name.endswith("one change"))
    return {
        "index: write": lambda: _index_write(items, db),
        "index: load": lambda: _index_load(db),
        "index: rewrite stat cache": lambda: _index_rewrite(db),
        "index: a no-op pass's reads": lambda: _pass_reads(db),
        "scoped plan, one change": lambda: _scoped_plan(db),
    }[name]()
