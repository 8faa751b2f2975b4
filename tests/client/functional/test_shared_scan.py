"""A whole scan shared with a forked process finds what one walk finds, on a real folder and a
real index, for every kind of change, whether the root holds several folders or one holds all."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from driftbox import disk_scan
from driftbox.adapters import scanner
from driftbox.adapters.index import Index

from tests.client.functional.test_scan_changes import CHANGES, _hasher, _start, _write

_real_scan_apart = disk_scan._scan_apart


def _scan_apart_noting_its_pid(
    root: Path, db_path: Path, folder_id: int, keys: list[str], budget: int | None
) -> scanner.Scan:
    Path(os.environ["DRIFTBOX_TEST_APART"]).write_text(f"{os.getpid()} {len(keys)}")
    return _real_scan_apart(root, db_path, folder_id, keys, budget)


def _seen(found: scanner.Scan) -> dict[str, Any]:
    """What a scan found, its lists as sets (a shared scan lists in another order)."""
    return {
        "tree": found.tree,
        "hashed": found.hashed,
        "problems": found.problems,
        "gone": found.gone,
        "unchanged": found.unchanged,
        "hashed_count": found.hashed_count,
        "leftovers": set(found.leftovers),
        "twins": set(found.twins),
        "more": found.more,
        "unwalked": found.unwalked,
    }


@pytest.fixture
def apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    noted = tmp_path / "apart.txt"
    monkeypatch.setenv("DRIFTBOX_TEST_APART", str(noted))
    monkeypatch.setattr(disk_scan, "_scan_apart", _scan_apart_noting_its_pid)
    # A test runner's worker may run threads of its own (pytest-xdist's): the forked process only
    # scans, so here that is no harm; the rule itself is tested below.
    monkeypatch.setattr(disk_scan, "_only_thread", lambda: True)
    return noted


@pytest.mark.parametrize("under", ["", "all/of/it/"])
@pytest.mark.parametrize("change", CHANGES)
def test_a_shared_scan_finds_what_one_walk_finds(
    tmp_path: Path, apart: Path, monkeypatch: pytest.MonkeyPatch, change: str, under: str
) -> None:
    root = tmp_path / "folder"
    (root / under).mkdir(parents=True)
    _start(root / under)
    (root / under / "more").mkdir()
    first = scanner.scan(root, {}, _hasher)
    with Index.open(tmp_path / "index.db", root, "ns") as index:
        with index.transaction() as tx:
            tx.put_synced_many(
                (k, item, first.hashed[k].stat if item.is_file else None) for k, item in first.tree.items()
            )
            tx.put_stats(first.hashed)
        CHANGES[change](root / under)

        monkeypatch.setattr(disk_scan, "SHARE_FROM", 10**9)
        alone, _ = disk_scan.scan_disk(root, index, save=False)
        assert not apart.exists()
        monkeypatch.setattr(disk_scan, "SHARE_FROM", 0)
        shared, _ = disk_scan.scan_disk(root, index, save=False)

    assert _seen(shared) == _seen(alone)
    pid, shared_out = apart.read_text().split()
    assert int(pid) != os.getpid() and int(shared_out) >= 1  # another process walked its share


def test_a_scan_is_not_shared_while_another_thread_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork copies only the thread that forks, and with it any lock another thread held."""
    root = tmp_path / "folder"
    root.mkdir()
    monkeypatch.setattr(disk_scan, "SHARE_FROM", 0)
    with Index.open(tmp_path / "index.db", root, "ns") as index:
        assert disk_scan._may_share(index) == (threading.active_count() == 1)
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        try:
            assert not disk_scan._only_thread()
            assert not disk_scan._may_share(index)
        finally:
            stop.set()
            other.join()


def test_a_scan_is_not_shared_inside_a_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "folder"
    root.mkdir()
    monkeypatch.setattr(disk_scan, "SHARE_FROM", 0)
    with Index.open(tmp_path / "index.db", root, "ns") as index, index.transaction():
        assert not disk_scan._may_share(index)


@pytest.mark.parametrize("budget", [1, 12, 1000])
def test_a_shared_scan_with_a_budget_lists_each_folder_whole_and_says_when_it_stopped(
    tmp_path: Path, apart: Path, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    """A pass in parts scans with a budget: shared, each process has half of what the root left."""
    root = tmp_path / "folder"
    folders = [f"f{i}" for i in range(8)]
    for folder in folders:
        for i in range(3):
            _write(root, f"{folder}/old{i}.txt", f"{folder} {i}".encode())
    first = scanner.scan(root, {}, _hasher)
    for folder in folders:
        for i in range(5):
            _write(root, f"{folder}/new{i}.txt", f"{folder} new {i}".encode())
    with Index.open(tmp_path / "index.db", root, "ns") as index:
        with index.transaction() as tx:
            tx.put_synced_many(
                (k, item, first.hashed[k].stat if item.is_file else None) for k, item in first.tree.items()
            )
        monkeypatch.setattr(disk_scan, "SHARE_FROM", 0)
        shared, _ = disk_scan.scan_disk(root, index, save=False, budget=budget)
        monkeypatch.setattr(disk_scan, "SHARE_FROM", 10**9)
        whole, _ = disk_scan.scan_disk(root, index, save=False)

    listed = {key.split("/")[1] for key in shared.tree}
    assert all(k in shared.tree for k in whole.tree if k.split("/")[1] in listed)  # each folder whole
    assert shared.more == (listed != set(folders))
    assert len(shared.tree) <= max(budget, 5) + 2 * 5  # a folder more than its budget, on each side
    if budget == 1000:
        assert _seen(shared) == _seen(whole)
    assert apart.exists()
