"""The index keeps mtimes in nanoseconds, executable bits and unusable remote entries; an index of
the schema that stored seconds is upgraded keeping every item."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from driftbox.adapters.index import Index, LocalStat
from driftbox.adapters.index_schema import MIGRATIONS, SCHEMA_VERSION
from driftbox.core.journal import RemoteFile, Unusable
from driftbox.core.model import FILE, FOLDER, Item

NAMESPACE = "ns-1"
CHUNK = hashlib.sha256(b"a").hexdigest()


def test_mtimes_in_nanoseconds_executable_bits_and_unusable_entries_survive_a_reopen(tmp_path: Path) -> None:
    db_path, folder = tmp_path / "index.sqlite3", tmp_path / "Driftbox"
    script = Item("/run.sh", FILE, CHUNK, 1, rev=3, object_id="o1", inode=7, executable=True)
    with Index.open(db_path, folder, NAMESPACE) as index, index.transaction() as tx:
        tx.put_synced("/run.sh", script, LocalStat(1, 1_732_450_000_123_456_789, 7))
        tx.put_remote("/run.sh", script, RemoteFile((CHUNK,), -(2**63)))
        tx.replace_unusable({"/bad": Unusable("/Bad", "not synced: the server sent mtime 10**30")})
    with Index.open(db_path, folder, NAMESPACE) as again:
        assert again.load_synced() == again.load_remote() == {"/run.sh": script}
        assert again.remote_file("/run.sh") == RemoteFile((CHUNK,), -(2**63))
        assert again.load_unusable() == {"/bad": Unusable("/Bad", "not synced: the server sent mtime 10**30")}
        with again.transaction() as tx:
            tx.clear_remote()  # a whole listing starts again: nothing is held any more
        assert again.load_unusable() == {}


def test_an_index_that_stored_seconds_is_upgraded_to_nanoseconds_keeping_every_item(tmp_path: Path) -> None:
    db_path, folder = tmp_path / "index.sqlite3", tmp_path / "Driftbox"
    old = sqlite3.connect(db_path)
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            old.execute(statement)
    old.execute(
        "INSERT INTO folders (local_path, namespace_id, cursor) VALUES (?, ?, 'c')", (str(folder), NAMESPACE)
    )
    item = ("/a.txt", "file", CHUNK, 1, 3, "o1", 7)
    old.execute("INSERT INTO synced VALUES (1, '/a.txt', ?, ?, ?, ?, ?, ?, ?, 1, 5)", item)
    old.execute("INSERT INTO synced VALUES (1, '/d', '/d', 'folder', '', 0, 2, 'o2', 8, NULL, NULL)")
    old.execute(
        "INSERT INTO remote VALUES (1, '/a.txt', ?, ?, ?, ?, ?, ?, ?, ?, 1700000000)",
        (*item, bytes.fromhex(CHUNK)),
    )
    # A value that was nanoseconds all along (the API's own example, sent by another client).
    old.execute(
        "INSERT INTO remote VALUES (1, '/b.txt', '/b.txt', 'file', ?, 1, 4, 'o3', NULL, ?, ?)",
        (CHUNK, bytes.fromhex(CHUNK), 1_732_450_000_123_456_789),
    )
    old.execute("PRAGMA user_version = 2")
    old.commit()
    old.close()

    with Index.open(db_path, folder, NAMESPACE) as upgraded:
        assert upgraded.cursor() == "c"  # nothing re-listed, nothing read as deleted
        assert upgraded.load_synced() == {
            "/a.txt": Item("/a.txt", FILE, CHUNK, 1, 3, "o1", 7),
            "/d": Item("/d", FOLDER, "", 0, 2, "o2", 8),
        }
        assert set(upgraded.load_remote()) == {"/a.txt", "/b.txt"}
        assert upgraded.load_remote_files() == {
            "/a.txt": RemoteFile((CHUNK,), 1_700_000_000 * 10**9),
            "/b.txt": RemoteFile((CHUNK,), 1_732_450_000_123_456_789),
        }
        assert upgraded.load_unusable() == {}
    assert sqlite3.connect(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
