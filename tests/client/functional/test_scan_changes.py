"""The scan of what changed, on a real folder and a real index: it must report what the pure rule
(``core.scope.local_changes``, which the planner's property tests rely on) says of the whole tree,
while reading only the synced rows of the folders it walks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from driftbox.adapters import fs, scanner
from driftbox.adapters.index import Index
from driftbox.core import scope


def _hasher(path: Path) -> tuple[str, tuple[str, ...]]:
    hashed = fs.hash_file(path)
    return hashed.content_hash, hashed.chunks


def _write(root: Path, relative: str, data: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _start(root: Path) -> None:
    _write(root, "notes/a.txt", b"a")
    _write(root, "notes/b.txt", b"b")
    _write(root, "notes/deep/c.txt", b"c")
    _write(root, "photos/1.jpg", b"1")
    _write(root, "photos/2.jpg", b"2")
    _write(root, "top.txt", b"top")
    (root / "empty").mkdir()


def _edit(root: Path) -> None:
    (root / "notes/a.txt").write_bytes(b"a, edited")


def _touch(root: Path) -> None:
    os.utime(root / "top.txt", ns=(1, 1))


def _chmod(root: Path) -> None:
    (root / "photos/1.jpg").chmod(0o755)


def _delete_folder(root: Path) -> None:
    shutil.rmtree(root / "notes")


def _folder_for_file(root: Path) -> None:
    (root / "top.txt").unlink()
    _write(root, "top.txt/inside.txt", b"now a folder")


def _file_for_folder(root: Path) -> None:
    shutil.rmtree(root / "photos")
    (root / "photos").write_bytes(b"now a file")


def _rename_folder(root: Path) -> None:
    (root / "notes").rename(root / "Notes")


def _move_file(root: Path) -> None:
    (root / "notes/b.txt").rename(root / "photos/b.txt")


def _new_twin(root: Path) -> None:
    if (root / "TOP.txt").exists():
        pytest.skip("this disk ignores case")
    (root / "TOP.txt").write_bytes(b"a twin")


def _new_files(root: Path) -> None:
    _write(root, "new/deeper/x.txt", b"x")
    _write(root, "notes/deep/y.txt", b"y")


def _nothing(root: Path) -> None:
    pass


CHANGES: dict[str, Callable[[Path], None]] = {
    "nothing": _nothing,
    "edit": _edit,
    "touch": _touch,
    "chmod": _chmod,
    "delete a folder": _delete_folder,
    "a folder for a file": _folder_for_file,
    "a file for a folder": _file_for_folder,
    "rename a folder by case": _rename_folder,
    "move a file": _move_file,
    "a new twin": _new_twin,
    "new files": _new_files,
}


@pytest.mark.parametrize("change", CHANGES)
def test_the_scan_of_changes_reports_what_the_rule_says_of_the_whole_tree(
    tmp_path: Path, change: str
) -> None:
    root = tmp_path / "folder"
    root.mkdir()
    _start(root)
    first = scanner.scan(root, {}, _hasher)
    with Index.open(tmp_path / "index.db", root, "ns") as index:
        with index.transaction() as tx:  # synced as the executor records it: with the local stat
            tx.put_synced_many(
                (k, item, first.hashed[k].stat if item.is_file else None) for k, item in first.tree.items()
            )
            tx.put_stats(first.hashed)
        synced = index.load_synced()
        CHANGES[change](root)

        found = scanner.scan_changes(
            root,
            index.synced_children,
            index.stat_children,
            _hasher,
            synced_at=synced.get,
            remote_at=lambda path_key: None,
        )
        whole = scanner.scan(root, {}, _hasher, synced=synced)
        expected = scope.local_changes(synced, whole.tree)
        # Whether a plan of this change could go in parts: every synced item where it was, by key,
        # kind and inode (read from the listing alone; another spelling counts as moved too).
        moved = any(
            k not in whole.tree or (whole.tree[k].kind, whole.tree[k].inode) != (s.kind, s.inode)
            for k, s in synced.items()
        )
        spelled = change == "rename a folder by case"
        assert scanner.synced_moved(root, index.synced_children) == (moved or spelled)

    # Each item found is as the whole scan saw it; beyond the rule's, only items with a new stat
    # and the same content (a touch), which plan to nothing.
    assert all(whole.tree[k] == item for k, item in found.tree.items())
    assert {k: v for k, v in found.tree.items() if k not in synced or scope.as_local(synced[k]) != v} == (
        expected.found
    )
    assert found.gone == expected.gone
    assert found.twins == whole.twins
    assert found.unchanged + len(found.tree) == len(whole.tree)
    if change == "nothing":
        assert not found.tree and found.unchanged == len(synced) and found.hashed_count == 0
    if change == "touch":  # a new mtime is a change to look at; the same bytes plan to nothing
        assert found.tree["/top.txt"].content_hash == synced["/top.txt"].content_hash


def test_a_scan_with_a_budget_lists_no_folder_past_it_and_says_so(tmp_path: Path) -> None:
    """A first upload planned in parts: the scan stops listing folders once it found its budget of
    changed items; each folder it listed is whole."""
    root = tmp_path / "folder"
    for folder in ("a", "b", "c"):
        for i in range(4):
            _write(root, f"{folder}/{i}.txt", f"{folder}{i}".encode())
    with Index.open(tmp_path / "index.db", root, "ns") as index:

        def scan(budget: int | None) -> scanner.Scan:
            return scanner.scan_changes(
                root,
                index.synced_children,
                index.stat_children,
                _hasher,
                synced_at=lambda key: None,
                remote_at=lambda key: None,
                budget=budget,
            )

        part, whole = scan(6), scan(None)
    assert part.more and not whole.more and len(whole.tree) == 15
    assert {"/a", "/b", "/c"} <= part.tree.keys()  # the root is listed whole
    listed = {paths_key.split("/")[1] for paths_key in part.tree if paths_key.count("/") == 2}
    assert listed == {"a"}  # /a, its 4 files and /b found when /b is to be listed: its budget
    assert all(k in part.tree for k in whole.tree if k.split("/")[1] in listed)
