"""The SQLite index on real files: transactions, durability across a kill, schema versions, size."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from driftbox.adapters.index import CachedHash, Index, LocalStat
from driftbox.adapters.index_schema import MIGRATIONS, SCHEMA_VERSION, IndexTooNew, IndexUnusable
from driftbox.core.journal import RemoteFile
from driftbox.core.model import FILE, FOLDER, Item

NAMESPACE = "ns-1"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_item(path: str, n: int = 0) -> Item:
    return Item(path, FILE, digest(path + str(n)), 1000 + n, rev=n + 1, object_id=f"o{n}", inode=50 + n)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "index.sqlite3"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "Driftbox"


@pytest.fixture
def index(db_path: Path, folder: Path) -> Iterator[Index]:
    with Index.open(db_path, folder, NAMESPACE) as opened:
        yield opened


def test_a_new_index_is_empty(index: Index) -> None:
    assert index.cursor() is None
    assert index.load_synced() == index.load_remote() == {}
    assert index.load_stat_cache() == {}
    assert index.uploaded_chunks() == set() and index.problems() == []


def test_every_kind_of_state_survives_a_reopen(db_path: Path, folder: Path, index: Index) -> None:
    doc, docs = file_item("/Docs/Ä.txt", 3), Item("/Docs", FOLDER, rev=1, object_id="o-docs")
    chunks = (digest("a"), digest("b"), digest("a"))
    cached = CachedHash(LocalStat(1003, 1_700_000_000_123_456_789, 53), doc.content_hash, chunks)
    with index.transaction() as tx:
        tx.put_synced("/docs/ä.txt", doc, LocalStat(1003, 1_700_000_000_123_456_789, 53))
        tx.put_synced("/docs", docs)
        tx.put_remote("/docs/ä.txt", doc, RemoteFile(chunks, 1_700_000_000))
        tx.put_remote("/docs", docs)
        tx.set_cursor("opaque-cursor-1")
        tx.replace_stat_cache({"/docs/ä.txt": cached})
        tx.add_uploaded([digest("a"), digest("b")])
        tx.set_problem("/bad\x7fname", "not synced: contains a control character", time_s=12.5)
    index.close()

    with Index.open(db_path, folder, NAMESPACE) as again:
        assert again.cursor() == "opaque-cursor-1"
        assert again.load_synced() == {"/docs/ä.txt": doc, "/docs": docs}
        assert again.load_synced_stats() == {"/docs/ä.txt": LocalStat(1003, 1_700_000_000_123_456_789, 53)}
        assert again.load_remote() == {"/docs/ä.txt": doc, "/docs": docs}
        assert again.load_remote_files() == {"/docs/ä.txt": RemoteFile(chunks, 1_700_000_000)}
        assert again.remote_file("/docs/ä.txt") == RemoteFile(chunks, 1_700_000_000)
        assert again.remote_file("/docs") is None
        assert again.load_stat_cache() == {"/docs/ä.txt": cached}
        assert again.uploaded_chunks() == {digest("a"), digest("b")}
        [problem] = again.problems()
        assert (problem.path, problem.time_s) == ("/bad\x7fname", 12.5)


def test_a_failed_transaction_leaves_nothing_behind(index: Index) -> None:
    with index.transaction() as tx:
        tx.put_synced("/a", file_item("/a"))
        tx.set_cursor("c1")

    def fail_midway() -> None:
        with index.transaction() as tx:
            tx.put_synced("/b", file_item("/b"))
            tx.delete_synced("/a")
            tx.set_cursor("c2")
            tx.add_uploaded([digest("x")])
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail_midway()
    assert index.load_synced() == {"/a": file_item("/a")}
    assert index.cursor() == "c1"
    assert index.uploaded_chunks() == set()
    with index.transaction() as tx:  # the index is usable again
        tx.set_cursor("c3")
    assert index.cursor() == "c3"


def test_transactions_do_not_nest(index: Index) -> None:
    with pytest.raises(RuntimeError, match="nest"), index.transaction(), index.transaction():
        pass


_KILLED_MID_TRANSACTION = """
import os, signal, sys
from pathlib import Path
from driftbox.adapters.index import Index
from driftbox.core.model import FILE, Item
index = Index.open(Path(sys.argv[1]), Path(sys.argv[2]), "ns-1")
with index.transaction() as tx:
    tx.put_synced("/new.txt", Item("/new.txt", FILE, "ab" * 32, 3, rev=7, object_id="o7"))
    tx.set_cursor("after-new")
    if sys.argv[3] == "before-commit":
        os.kill(os.getpid(), signal.SIGKILL)
os.kill(os.getpid(), signal.SIGKILL)  # after the commit, before any close
"""


@pytest.mark.parametrize(("moment", "survives"), [("before-commit", False), ("after-commit", True)])
def test_the_synced_state_and_the_cursor_land_together_even_when_killed(
    db_path: Path, folder: Path, index: Index, moment: str, survives: bool
) -> None:
    with index.transaction() as tx:
        tx.set_cursor("before")
    script = textwrap.dedent(_KILLED_MID_TRANSACTION)
    process = subprocess.run([sys.executable, "-c", script, str(db_path), str(folder), moment], check=False)
    assert process.returncode == -9
    with Index.open(db_path, folder, NAMESPACE) as after:
        if survives:
            assert after.cursor() == "after-new" and set(after.load_synced()) == {"/new.txt"}
        else:
            assert after.cursor() == "before" and after.load_synced() == {}


def test_the_index_uses_write_ahead_logging_and_is_private(db_path: Path, index: Index) -> None:
    with sqlite3.connect(db_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


def test_a_reader_is_not_blocked_by_a_writer(db_path: Path, folder: Path, index: Index) -> None:
    with index.transaction() as tx:
        tx.set_cursor("committed")
    with Index.open(db_path, folder, NAMESPACE) as reader, index.transaction() as tx:
        tx.set_cursor("in progress")
        assert reader.cursor() == "committed"  # WAL: the last commit, at once
    assert index.cursor() == "in progress"


def test_each_linked_folder_has_its_own_state(
    db_path: Path, folder: Path, tmp_path: Path, index: Index
) -> None:
    with index.transaction() as tx:
        tx.put_remote("/a", file_item("/a"), RemoteFile((digest("a"),), 0))
        tx.set_cursor("c-ns-1")
    with Index.open(db_path, tmp_path / "Other", NAMESPACE) as other_folder:
        assert other_folder.cursor() is None and other_folder.load_remote() == {}
    with Index.open(db_path, folder, "ns-2") as other_namespace:
        assert other_namespace.cursor() is None and other_namespace.load_remote() == {}


def test_an_index_of_the_first_schema_is_upgraded_keeping_its_state(db_path: Path, folder: Path) -> None:
    db_path.parent.mkdir(parents=True)
    old = sqlite3.connect(db_path)
    for statement in MIGRATIONS[0]:
        old.execute(statement)
    old.execute(
        "INSERT INTO folders (local_path, namespace_id, cursor) VALUES (?, ?, 'c-old')",
        (str(folder), NAMESPACE),
    )
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    with Index.open(db_path, folder, NAMESPACE) as upgraded:
        assert upgraded.cursor() == "c-old"
        assert upgraded.cursor_seq() is None and upgraded.last_pass_s() is None  # not known yet
        with upgraded.transaction() as tx:
            tx.set_cursor("c-new", 42)
            tx.set_last_pass(1_800_000_000.5)
    with Index.open(db_path, folder, NAMESPACE) as again:
        assert (again.cursor(), again.cursor_seq(), again.last_pass_s()) == ("c-new", 42, 1_800_000_000.5)
        assert sqlite3.connect(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_index_from_a_newer_driftbox_is_refused(db_path: Path, folder: Path, index: Index) -> None:
    index.close()
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(IndexTooNew, match=r"newer Driftbox.*upgrade"):
        Index.open(db_path, folder, NAMESPACE)


def test_a_file_that_is_not_an_index_is_refused(db_path: Path, folder: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(IndexUnusable, match="not a Driftbox index"):
        Index.open(db_path, folder, NAMESPACE)


def test_chunks_recorded_from_many_threads_are_all_kept(index: Index) -> None:
    hashes = [digest(str(n)) for n in range(400)]

    def record(part: list[str]) -> None:
        for chunk_hash in part:
            with index.transaction() as tx:
                tx.add_uploaded([chunk_hash])

    threads = [threading.Thread(target=record, args=(hashes[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert index.uploaded_chunks() == set(hashes)
    with index.transaction() as tx:
        tx.forget_uploaded(hashes[:100])
    assert index.uploaded_chunks() == set(hashes[100:])
    with index.transaction() as tx:
        tx.forget_uploaded()
    assert index.uploaded_chunks() == set()


def test_the_stat_cache_is_replaced_by_a_full_scan(index: Index) -> None:
    old = CachedHash(LocalStat(1, 2, 3), digest("old"), (digest("c"),))
    new = CachedHash(LocalStat(4, 5, 6), digest("new"), ())
    with index.transaction() as tx:
        tx.put_stats({"/gone": old, "/kept": old})
    with index.transaction() as tx:
        tx.replace_stat_cache({"/kept": new})
    assert index.load_stat_cache() == {"/kept": new}


def test_problems_are_replaced_and_cleared(index: Index) -> None:
    with index.transaction() as tx:
        tx.set_problem("/A.txt", "first")
        tx.set_problem("/a.txt", "its name differs only in case")
        tx.set_problem("/A.txt", "second")
        tx.set_problem("/\udcff.bin", "not valid Unicode")  # an undecodable name, as os.fsdecode gives
    assert [(p.path, p.message) for p in index.problems()] == [
        ("/A.txt", "second"),
        ("/\\xff.bin", "not valid Unicode"),
        ("/a.txt", "its name differs only in case"),
    ]
    with index.transaction() as tx:
        tx.clear_problem("/A.txt")
        tx.clear_problem("/\udcff.bin")
    assert [p.path for p in index.problems()] == ["/a.txt"]
    with index.transaction() as tx:
        tx.clear_problems()
    assert index.problems() == []


def test_a_hundred_thousand_items_load_whole(db_path: Path, folder: Path, index: Index) -> None:
    count = 100_000
    items = {f"/f/{n}.txt": file_item(f"/f/{n}.txt", n) for n in range(count)}
    chunks = (digest("x"), digest("y"))
    with index.transaction() as tx:
        tx.put_synced_many(
            (key, item, LocalStat(item.size, n, n)) for n, (key, item) in enumerate(items.items())
        )
        tx.put_remote_many((key, item, RemoteFile(chunks, 0)) for key, item in items.items())
        tx.set_cursor("big")
    index.close()
    with Index.open(db_path, folder, NAMESPACE) as again:
        assert again.load_synced() == items
        assert again.load_remote() == items
        files = again.load_remote_files()
        assert len(files) == count and files["/f/99999.txt"].chunks == chunks
        assert len(again.load_synced_stats()) == count


def test_an_index_from_before_the_changed_keys_starts_with_every_key_where_the_trees_differ(
    db_path: Path, folder: Path
) -> None:
    """A pass plans the keys marked changed; an older index marked none, so its upgrade marks
    every key a join of the trees finds differing (an edit downloaded by no pass yet, a delete)."""
    with Index.open(db_path, folder, NAMESPACE) as index:
        same = Item("/same.txt", FILE, "a" * 64, 1, 3, "o1", 7)
        with index.transaction() as tx:
            tx.put_synced("/same.txt", same)
            tx.put_remote("/same.txt", replace(same, inode=None))
            tx.put_synced("/edited.txt", Item("/edited.txt", FILE, "b" * 64, 1, 3, "o2", 8))
            tx.put_remote("/edited.txt", Item("/edited.txt", FILE, "c" * 64, 1, 4, "o2"))
            tx.put_synced("/deleted.txt", Item("/deleted.txt", FILE, "d" * 64, 1, 3, "o3", 9))
            tx.put_remote("/new.txt", Item("/new.txt", FILE, "e" * 64, 1, 1, "o4"))
    raw = sqlite3.connect(db_path)  # back to schema 3, as an older driftbox left it
    raw.execute("DROP TABLE remote_changed")
    raw.execute("DROP INDEX synced_children")
    raw.execute("DROP INDEX stat_children")
    raw.execute("PRAGMA user_version = 3")
    raw.commit()
    raw.close()
    with Index.open(db_path, folder, NAMESPACE) as upgraded:
        expected = {"/edited.txt", "/deleted.txt", "/new.txt"}
        assert upgraded.remote_differing_keys() == expected
        assert upgraded.remote_changed_keys() == expected
        with upgraded.transaction() as tx:
            tx.clear_remote_changed()
        assert upgraded.remote_changed_keys() == set()


def test_a_folders_children_are_what_is_directly_in_it_whatever_sorts_between_them(index: Index) -> None:
    """The scan reads one folder's synced rows and stat cache at a time, from indexes on the folder
    a key is in: neither a deeper key, nor one sorting beside the folder's (``/a-b``, ``/a0``, ``/a.``),
    nor one of another folder spelled alike, is among its children."""
    folders = ["/a", "/a/b", "/a/b/c", "/ab"]
    files = ["/a-b", "/a0", "/a.", "/a/x", "/a/b/y", "/a/b/c/z", "/ab/w", "/a/é", "/top"]
    with index.transaction() as tx:
        for path in folders:
            tx.put_synced(path, Item(path, FOLDER, "", 0, 1, f"o{path}", 5))
        for n, path in enumerate(files):
            tx.put_synced(path, file_item(path, n), LocalStat(1000 + n, 7, 50 + n))
        tx.put_stats({path: CachedHash(LocalStat(1, 2, 3), digest(path), (digest(path),)) for path in files})
    expected = {
        "/": {"a", "a-b", "a0", "a.", "ab", "top"},
        "/a": {"b", "x", "é"},
        "/a/b": {"c", "y"},
        "/a/b/c": {"z"},
        "/ab": {"w"},
        "/top": set(),
    }
    for folder, names in expected.items():
        assert set(index.synced_children(folder)) == names, folder
        keys = {f"{folder.rstrip('/')}/{name}" for name in names}
        assert set(index.stat_children(folder)) == keys & set(files), folder
    assert index.synced_children("/a")["x"].signature == (1003, 7, 53, False)  # size, mtime, inode, +x
    assert index.synced_children("/")["a"].signature == (FOLDER, 5)
