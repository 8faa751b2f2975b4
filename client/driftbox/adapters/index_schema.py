"""The index's schema: its migrations, and opening a database to this version or refusing it.

Migration n (1-based) takes an index from user_version n - 1 to n. Append new ones; never edit.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from driftbox.errors import DriftboxError

_ITEM = """folder_id INTEGER NOT NULL REFERENCES folders ON DELETE CASCADE,
    path_key TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('file', 'folder')),
    content_hash TEXT NOT NULL, size_bytes INTEGER NOT NULL, rev INTEGER, object_id TEXT, inode INTEGER"""
_BY_FOLDER = "folder_id INTEGER NOT NULL REFERENCES folders ON DELETE CASCADE"
# A remote row (r) is not the synced one (s) at its key: ``core.scope.remote_differs``, in SQL.
_DIFFERS = (
    "("
    + " OR ".join(
        f"s.{column} IS NOT r.{column}"
        for column in ("path", "kind", "content_hash", "size_bytes", "rev", "object_id", "executable")
    )
    + ")"
)

# The key of the folder a key is in, with its trailing slash ("/a/b" -> "/a/", "/a" -> "/"): what
# rtrim leaves when told to strip every character of the key but "/". Queries of a folder's
# children name this same expression, so that SQLite answers them from the indexes on it.
PARENT = "rtrim(path_key, replace(path_key, '/', ''))"

# Migration n (1-based) takes an index from user_version n - 1 to n. Append new ones; never edit.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE folders (folder_id INTEGER PRIMARY KEY, local_path TEXT NOT NULL,
            namespace_id TEXT NOT NULL, cursor TEXT, UNIQUE (local_path, namespace_id))""",
        f"""CREATE TABLE synced ({_ITEM}, local_size_bytes INTEGER, local_mtime_ns INTEGER,
            PRIMARY KEY (folder_id, path_key)) WITHOUT ROWID""",
        f"""CREATE TABLE remote ({_ITEM}, chunks BLOB NOT NULL, mtime_s INTEGER NOT NULL,
            PRIMARY KEY (folder_id, path_key)) WITHOUT ROWID""",
        f"""CREATE TABLE stat_cache ({_BY_FOLDER}, path_key TEXT NOT NULL, size_bytes INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, content_hash TEXT NOT NULL,
            chunks BLOB NOT NULL, PRIMARY KEY (folder_id, path_key)) WITHOUT ROWID""",
        f"""CREATE TABLE uploaded ({_BY_FOLDER}, chunk BLOB NOT NULL,
            PRIMARY KEY (folder_id, chunk)) WITHOUT ROWID""",
        f"""CREATE TABLE problems ({_BY_FOLDER}, path TEXT NOT NULL, message TEXT NOT NULL,
            time_s REAL NOT NULL, PRIMARY KEY (folder_id, path)) WITHOUT ROWID""",
    ],
    [  # the journal seq the cursor stands at (sent as a folder delete's seen_seq); the last pass
        "ALTER TABLE folders ADD COLUMN cursor_seq INTEGER",
        "ALTER TABLE folders ADD COLUMN last_pass_s REAL",
    ],
    [  # mtimes in nanoseconds, as the API says: the seconds this client stored are converted by
        # the rule the server reads its own stored seconds with (docs/architecture.md); the
        # executable bit (false until a file is scanned or listed again); unusable remote entries
        "ALTER TABLE remote RENAME COLUMN mtime_s TO mtime_ns",
        """UPDATE remote SET mtime_ns = CASE
            WHEN mtime_ns BETWEEN -9223372036 AND 9223372036 THEN mtime_ns * 1000000000
            ELSE mtime_ns END""",
        "ALTER TABLE synced ADD COLUMN executable INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE remote ADD COLUMN executable INTEGER NOT NULL DEFAULT 0",
        f"""CREATE TABLE remote_unusable ({_BY_FOLDER}, path_key TEXT NOT NULL, path TEXT NOT NULL,
            why TEXT NOT NULL, PRIMARY KEY (folder_id, path_key)) WITHOUT ROWID""",
    ],
    [  # the keys the journal moved on that no pass has settled since: a pass reads these, not a join
        # of the whole trees; an index from before starts with every key where the trees differ
        f"""CREATE TABLE remote_changed ({_BY_FOLDER}, path_key TEXT NOT NULL,
            PRIMARY KEY (folder_id, path_key)) WITHOUT ROWID""",
        f"""INSERT INTO remote_changed SELECT r.folder_id, r.path_key FROM remote r LEFT JOIN synced s
                ON s.folder_id = r.folder_id AND s.path_key = r.path_key
                WHERE s.path_key IS NULL OR {_DIFFERS}
            UNION SELECT s.folder_id, s.path_key FROM synced s WHERE NOT EXISTS
                (SELECT 1 FROM remote r WHERE r.folder_id = s.folder_id AND r.path_key = s.path_key)""",  # noqa: S608
    ],
    [  # a folder's children at the cost of that folder, not of everything below it: the scan reads
        # each folder's synced rows (from this index alone, which holds all it compares) and the
        # stat cache of a folder holding a changed file
        """CREATE INDEX synced_children ON synced (folder_id, rtrim(path_key, replace(path_key, '/', '')),
            path, kind, local_size_bytes, local_mtime_ns, inode, executable)""",
        "CREATE INDEX stat_children ON stat_cache (folder_id, rtrim(path_key, replace(path_key, '/', '')))",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


class IndexUnusable(DriftboxError):
    """The index file cannot be used: not a database, damaged, or locked too long by another."""


class IndexTooNew(IndexUnusable):
    """The index was written by a newer Driftbox, whose schema this one does not know."""


def _configure(connection: sqlite3.Connection, db_path: Path) -> None:
    """Pragmas, then the schema migrated to this version; refuses what it cannot read."""
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        # synchronous=NORMAL (with WAL): a commit survives a killed process at once, being in the
        # WAL file; only a power cut or OS crash can lose the last commits, never corrupt the file.
        # Losing them rolls the synced tree and the cursor back together to an earlier consistent
        # state, which sync must handle anyway (a kill between changing a file and recording it),
        # while FULL would add an fsync to every commit: one per uploaded chunk.
        connection.execute("PRAGMA synchronous = NORMAL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.OperationalError:  # locked or unopenable: the caller says so
        raise
    except sqlite3.DatabaseError as exc:
        raise IndexUnusable(f"{db_path} is not a Driftbox index or is damaged ({exc}): move it away") from exc
    if mode != "wal":
        raise IndexUnusable(f"{db_path}: cannot use write-ahead logging here (journal mode {mode})")
    if version > SCHEMA_VERSION:
        raise IndexTooNew(
            f"the index {db_path} is from a newer Driftbox (schema {version}; this one reads up to"
            f" {SCHEMA_VERSION}): upgrade driftbox"
        )
    while version < SCHEMA_VERSION:
        connection.execute("BEGIN IMMEDIATE")  # executescript() would commit before each script
        try:
            # Read again under the write lock: another process may have migrated meanwhile.
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version]:
                    connection.execute(statement)
                version += 1
                connection.execute(f"PRAGMA user_version = {version}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
