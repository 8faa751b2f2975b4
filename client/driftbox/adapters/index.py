"""The SQLite index: per linked folder, the synced and remote trees, the cursor and local caches.

An ``Index`` is bound to one linked folder (local path and namespace). Reads are its methods; every
write goes through a transaction, which commits when its block ends and rolls back if it raises::

    with index.transaction() as tx:
        tx.put_synced(path_key, item, local_stat)
        tx.set_cursor(cursor)

The synced tree and the cursor must change in one transaction: a crash between the two would
replay journal entries the synced tree already holds, or skip entries it does not. Besides the
trees, the index keeps a stat cache (an unchanged file is never hashed again), the chunks known
uploaded (a restart never sends them again), each path's problem, for ``status``, the remote
paths held because their latest entry could not be used (``core.journal``), saved with the cursor,
and the remote keys moved on since a pass last settled everything (``remote_changed``). A pass
reads parts of the trees only: a folder's rows, a set of keys, the keys below one (``core.scope``).
A folder's synced rows and stat cache come from indexes on the folder a key is in (``PARENT``):
one folder costs its own entries, not everything below it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from driftbox.adapters.index_rows import (
    _IN_CHUNK,
    _LOAD_REMOTE,
    _LOAD_SYNCED,
    _STAT_CHILDREN,
    _SYNCED_CHILDREN,
    _below,
    _cached,
    _chunks,
    _file,
    _items,
    _known,
    _local,
    _parent_of_children,
    _printable,
    _row,
)
from driftbox.adapters.index_rows import (
    CachedHash as CachedHash,
)
from driftbox.adapters.index_rows import (
    Known as Known,
)
from driftbox.adapters.index_rows import (
    LocalStat as LocalStat,
)
from driftbox.adapters.index_rows import (
    Problem as Problem,
)
from driftbox.adapters.index_rows import (
    disk_signature as disk_signature,
)
from driftbox.adapters.index_schema import (
    _DIFFERS,
    IndexUnusable,
    _configure,
)
from driftbox.core.journal import RemoteFile, Unusable
from driftbox.core.model import Item


class Index:
    def __init__(self, connection: sqlite3.Connection, db_path: Path, folder_id: int) -> None:
        self._db = connection
        self._lock = threading.RLock()  # one connection, shared with the transfer threads
        self._in_transaction = False
        self.db_path = db_path
        self.folder_id = folder_id

    @classmethod
    def open(cls, db_path: Path, local_folder: Path, namespace_id: str) -> Index:
        """Open (creating or migrating) the index at ``db_path``, bound to one linked folder."""
        db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Private before SQLite opens it: SQLite gives its -wal and -shm files the same mode.
        os.close(os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(db_path, 0o600)
        connection = sqlite3.connect(db_path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            _configure(connection, db_path)
            folder_id = _folder_id(connection, os.path.abspath(local_folder), namespace_id)
        except sqlite3.OperationalError as exc:  # unopenable, or locked by another process too long
            connection.close()
            raise IndexUnusable(f"cannot open the index {db_path}: {exc}") from exc
        except BaseException:
            connection.close()
            raise
        return cls(connection, db_path, folder_id)

    @classmethod
    def reader(cls, db_path: Path, folder_id: int) -> Index:
        """Another connection to an index already open, that only reads: for a process of its own
        (a connection must never cross a ``fork``)."""
        connection = sqlite3.connect(db_path, timeout=30, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA query_only = ON")
        return cls(connection, db_path, folder_id)

    def idle(self) -> bool:
        """Whether this connection is in no transaction, so holds no lock on the database."""
        return not self._db.in_transaction

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Writes that land together when the block ends, or not at all if it raises."""
        with self._lock:
            if self._in_transaction:
                raise RuntimeError("index transactions do not nest")
            try:
                self._db.execute("BEGIN IMMEDIATE")  # the write lock now: no upgrade deadlock later
            except sqlite3.OperationalError as exc:
                raise IndexUnusable(f"the index {self.db_path} is busy: {exc}") from exc
            self._in_transaction = True
            try:
                yield Transaction(self._db, self.folder_id)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT may have rolled back already
                    self._db.execute("ROLLBACK")
                raise
            finally:
                self._in_transaction = False

    def _rows(self, sql: str, *args: Any) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, (self.folder_id, *args)).fetchall()

    def cursor(self) -> str | None:
        """The server cursor the remote tree is at; None before the first listing."""
        rows = self._rows("SELECT cursor FROM folders WHERE folder_id = ?")
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def cursor_seq(self) -> int | None:
        """The journal seq the cursor stands at: everything up to it is in the remote tree."""
        rows = self._rows("SELECT cursor_seq FROM folders WHERE folder_id = ?")
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def last_pass_s(self) -> float | None:
        """When the last sync pass that ran to its end finished (Unix time)."""
        rows = self._rows("SELECT last_pass_s FROM folders WHERE folder_id = ?")
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    def load_synced(self) -> dict[str, Item]:
        return _items(self._rows(_LOAD_SYNCED))

    def load_synced_stats(self) -> dict[str, LocalStat]:
        """The local file's stat when it was synced, for the entries that recorded one."""
        rows = self._rows(
            "SELECT path_key, local_size_bytes, local_mtime_ns, inode FROM synced"
            " WHERE folder_id = ? AND local_mtime_ns IS NOT NULL"
        )
        return {row[0]: LocalStat(*row[1:]) for row in rows}

    def load_remote(self) -> dict[str, Item]:
        return _items(self._rows(_LOAD_REMOTE))

    # -- reads of a part of the trees: a pass reads what changed, not everything (core.scope) --------
    def _by_keys(self, sql: str, keys: Collection[str]) -> list[Any]:
        ordered, rows = sorted(keys), []
        for start in range(0, len(ordered), _IN_CHUNK):
            part = ordered[start : start + _IN_CHUNK]
            rows += self._rows(f"{sql} AND path_key IN ({', '.join('?' * len(part))})", *part)
        return rows

    def synced_items(self, keys: Collection[str]) -> dict[str, Item]:
        return _items(self._by_keys(_LOAD_SYNCED, keys))

    def remote_items(self, keys: Collection[str]) -> dict[str, Item]:
        return _items(self._by_keys(_LOAD_REMOTE, keys))

    def remote_files_of(self, keys: Collection[str]) -> dict[str, RemoteFile]:
        sql = "SELECT path_key, chunks, mtime_ns FROM remote WHERE folder_id = ? AND kind = 'file'"
        return {row[0]: RemoteFile(_chunks(row[1]), row[2]) for row in self._by_keys(sql, keys)}

    def unusable_of(self, keys: Collection[str]) -> dict[str, Unusable]:
        sql = "SELECT path_key, path, why FROM remote_unusable WHERE folder_id = ?"
        return {row[0]: Unusable(row[1], row[2]) for row in self._by_keys(sql, keys)}

    def stats_of(self, keys: Collection[str]) -> dict[str, CachedHash]:
        sql = (
            "SELECT path_key, size_bytes, mtime_ns, inode, content_hash, chunks FROM stat_cache"
            " WHERE folder_id = ?"
        )
        return {
            r[0]: CachedHash(LocalStat(r[1], r[2], r[3]), r[4], _chunks(r[5]))
            for r in self._by_keys(sql, keys)
        }

    def synced_stats_of(self, keys: Collection[str]) -> dict[str, LocalStat]:
        """The local file's stat when it was synced, for these keys (those that recorded one)."""
        sql = (
            "SELECT path_key, local_size_bytes, local_mtime_ns, inode FROM synced"
            " WHERE folder_id = ? AND local_mtime_ns IS NOT NULL AND inode IS NOT NULL"
        )
        return {row[0]: LocalStat(*row[1:]) for row in self._by_keys(sql, keys)}

    def chunks_of(self, content_hashes: Collection[str]) -> dict[str, tuple[str, ...]]:
        """A chunk list for each of these contents that the stat cache or the remote tree knows."""
        found: dict[str, tuple[str, ...]] = {}
        for table in ("stat_cache", "remote"):
            wanted = sorted(set(content_hashes) - found.keys())
            for start in range(0, len(wanted), _IN_CHUNK):
                part = wanted[start : start + _IN_CHUNK]
                marks = ", ".join("?" * len(part))
                sql = f"SELECT content_hash, chunks FROM {table} WHERE folder_id = ?"  # noqa: S608
                sql += f" AND content_hash IN ({marks})"
                for content_hash, blob in self._rows(sql, *part):
                    found.setdefault(content_hash, _chunks(blob))
        return found

    def synced_subtree(self, path_key: str) -> dict[str, Item]:
        """The synced item at ``path_key`` and every one below it (inside a transaction: as written)."""
        sql = f"{_LOAD_SYNCED} AND (path_key = ? OR (path_key >= ? AND path_key < ?))"
        return _items(self._rows(sql, path_key, *_below(path_key)))

    def keys_below(self, path_key: str) -> list[str]:
        """Every key strictly below ``path_key`` that the synced or the remote tree holds."""
        low, high = _below(path_key)
        sql = "SELECT path_key FROM {} WHERE folder_id = ? AND path_key >= ? AND path_key < ?"
        synced = self._rows(sql.format("synced"), low, high)
        remote = self._rows(sql.format("remote"), low, high)
        return sorted({row[0] for row in synced} | {row[0] for row in remote})

    def taken(self, path_key: str) -> bool:
        """Whether the synced or the remote tree holds ``path_key``."""
        sql = "SELECT 1 FROM {} WHERE folder_id = ? AND path_key = ?"
        return bool(self._rows(sql.format("synced"), path_key) or self._rows(sql.format("remote"), path_key))

    def synced_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM synced WHERE folder_id = ?")[0][0])

    def synced_children(self, folder_key: str) -> dict[str, Known]:
        """The synced items directly in the folder at ``folder_key`` ("/": the root), by name on disk."""
        rows = self._rows(_SYNCED_CHILDREN, _parent_of_children(folder_key))
        return {row[1].rsplit("/", 1)[1]: _known(*row) for row in rows}

    def stat_children(self, folder_key: str) -> dict[str, CachedHash]:
        """The stat cache of the files directly in the folder at ``folder_key``, by path key."""
        sql = _STAT_CHILDREN
        rows = self._rows(sql, _parent_of_children(folder_key))
        return {r[0]: CachedHash(LocalStat(r[1], r[2], r[3]), r[4], _chunks(r[5])) for r in rows}

    def remote_changed_keys(self) -> set[str]:
        """The keys the journal moved on since a pass last settled everything (``mark_remote_changed``)."""
        return {row[0] for row in self._rows("SELECT path_key FROM remote_changed WHERE folder_id = ?")}

    def remote_changed_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM remote_changed WHERE folder_id = ?")[0][0])

    def remote_changed_first(self, count: int) -> list[str]:
        """The first ``count`` keys marked changed, in key order (a folder before what it holds)."""
        sql = "SELECT path_key FROM remote_changed WHERE folder_id = ? ORDER BY path_key LIMIT ?"
        return [row[0] for row in self._rows(sql, count)]

    def remote_disappeared(self) -> bool:
        """Whether a synced item is not in the remote tree as that object and kind at its key: a
        delete, a move's source, a replacement (whose plans read more keys). Marked or not: a key
        can differ unmarked below one that is (a pass cut short marks nothing)."""
        sql = """SELECT 1 FROM synced s LEFT JOIN remote r
                ON r.folder_id = s.folder_id AND r.path_key = s.path_key
            WHERE s.folder_id = ? AND (r.path_key IS NULL OR r.object_id IS NOT s.object_id
                OR r.kind IS NOT s.kind) LIMIT 1"""
        return bool(self._rows(sql))

    def remote_differing_keys(self) -> set[str]:
        """The keys where the remote tree is not the synced one, by a join of the whole trees
        (``core.scope.remote_differs`` in SQL): ``remote_changed_keys`` must hold all of them."""
        sql = f"""SELECT r.path_key FROM remote r LEFT JOIN synced s
                ON s.folder_id = r.folder_id AND s.path_key = r.path_key
                WHERE r.folder_id = ? AND (s.path_key IS NULL OR {_DIFFERS})
            UNION ALL
            SELECT s.path_key FROM synced s WHERE s.folder_id = ? AND NOT EXISTS
                (SELECT 1 FROM remote r WHERE r.folder_id = s.folder_id AND r.path_key = s.path_key)"""  # noqa: S608
        return {row[0] for row in self._rows(sql, self.folder_id)}

    def load_unusable(self) -> dict[str, Unusable]:
        """The remote paths whose latest entry could not be used, by path key (``core.journal``)."""
        rows = self._rows("SELECT path_key, path, why FROM remote_unusable WHERE folder_id = ?")
        return {row[0]: Unusable(row[1], row[2]) for row in rows}

    def load_remote_files(self) -> dict[str, RemoteFile]:
        """The chunk list and mtime of every remote file (folders have none)."""
        sql = "SELECT path_key, chunks, mtime_ns FROM remote WHERE folder_id = ? AND kind = 'file'"
        return {row[0]: RemoteFile(_chunks(row[1]), row[2]) for row in self._rows(sql)}

    def remote_file(self, path_key: str) -> RemoteFile | None:
        sql = "SELECT chunks, mtime_ns FROM remote WHERE folder_id = ? AND path_key = ? AND kind = 'file'"
        rows = self._rows(sql, path_key)
        return RemoteFile(_chunks(rows[0][0]), rows[0][1]) if rows else None

    def load_stat_cache(self) -> dict[str, CachedHash]:
        rows = self._rows(
            "SELECT path_key, size_bytes, mtime_ns, inode, content_hash, chunks FROM stat_cache"
            " WHERE folder_id = ?"
        )
        return {r[0]: CachedHash(LocalStat(r[1], r[2], r[3]), r[4], _chunks(r[5])) for r in rows}

    def uploaded_chunks(self) -> set[str]:
        """Chunks the server has (sent, or found present) and that were not forgotten since."""
        return {row[0].hex() for row in self._rows("SELECT chunk FROM uploaded WHERE folder_id = ?")}

    def problems(self) -> list[Problem]:
        rows = self._rows("SELECT path, message, time_s FROM problems WHERE folder_id = ? ORDER BY path")
        return [Problem(*row) for row in rows]


class Transaction:
    """The writes of one ``Index.transaction()`` block; valid only inside it."""

    def __init__(self, connection: sqlite3.Connection, folder_id: int) -> None:
        self._db = connection
        self._folder_id = folder_id

    def _run(self, sql: str, *args: Any) -> None:
        self._db.execute(sql, (self._folder_id, *args))

    def set_cursor(self, cursor: str | None, seq: int | None = None) -> None:
        """``seq``: the journal seq ``cursor`` stands at (``cursor_seq``; None from older servers)."""
        self._db.execute(
            "UPDATE folders SET cursor = ?, cursor_seq = ? WHERE folder_id = ?",
            (cursor, seq, self._folder_id),
        )

    def set_last_pass(self, time_s: float) -> None:
        self._db.execute("UPDATE folders SET last_pass_s = ? WHERE folder_id = ?", (time_s, self._folder_id))

    def put_synced(self, path_key: str, item: Item, local: LocalStat | None = None) -> None:
        """``local``: the local file's stat as synced (its inode is the item's)."""
        self.put_synced_many([(path_key, item, local)])

    def put_synced_many(self, entries: Iterable[tuple[str, Item, LocalStat | None]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO synced VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _row(self._folder_id, key, item, *_local(local), item.executable)
                for key, item, local in entries
            ),
        )

    def delete_synced(self, path_key: str) -> None:
        self._run("DELETE FROM synced WHERE folder_id = ? AND path_key = ?", path_key)

    def clear_synced(self) -> None:
        self._run("DELETE FROM synced WHERE folder_id = ?")

    def put_remote(self, path_key: str, item: Item, remote_file: RemoteFile | None = None) -> None:
        self.put_remote_many([(path_key, item, remote_file)])

    def put_remote_many(self, entries: Iterable[tuple[str, Item, RemoteFile | None]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO remote VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_row(self._folder_id, key, item, *_file(file), item.executable) for key, item, file in entries),
        )

    def delete_remote(self, path_key: str) -> None:
        self._run("DELETE FROM remote WHERE folder_id = ? AND path_key = ?", path_key)

    def clear_remote(self) -> None:
        self._run("DELETE FROM remote WHERE folder_id = ?")
        self._run("DELETE FROM remote_unusable WHERE folder_id = ?")

    def mark_remote_changed(self, path_keys: Iterable[str]) -> None:
        """Keys the journal moved on: planned by every pass until one settles everything."""
        rows = ((self._folder_id, path_key) for path_key in path_keys)
        self._db.executemany("INSERT OR IGNORE INTO remote_changed VALUES (?, ?)", rows)

    def mark_synced_changed(self) -> None:
        """Every synced key, as changed: after a whole listing, nothing of the old remote tree is known."""
        self._run(
            "INSERT OR IGNORE INTO remote_changed SELECT folder_id, path_key FROM synced WHERE folder_id = ?"
        )

    def clear_remote_changed(self, path_keys: Iterable[str] | None = None) -> None:
        """A pass ended with nothing left to do: every key it had to settle is settled (or those
        of ``path_keys``: a round planned them and found nothing to do)."""
        if path_keys is None:
            self._run("DELETE FROM remote_changed WHERE folder_id = ?")
            return
        rows = ((self._folder_id, path_key) for path_key in path_keys)
        self._db.executemany("DELETE FROM remote_changed WHERE folder_id = ? AND path_key = ?", rows)

    def replace_unusable(self, unusable: Mapping[str, Unusable]) -> None:
        self._run("DELETE FROM remote_unusable WHERE folder_id = ?")
        self._db.executemany(
            "INSERT INTO remote_unusable VALUES (?, ?, ?, ?)",
            ((self._folder_id, key, _printable(u.path), u.why) for key, u in unusable.items()),
        )

    def put_stats(self, entries: Mapping[str, CachedHash]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_cached(self._folder_id, key, cached) for key, cached in entries.items()),
        )

    def refresh_synced_stats(self, stats: Mapping[str, LocalStat]) -> None:
        """The stat a synced file has on disk now, its bytes and inode unchanged (touched, or never
        recorded): the next scan finds it unchanged instead of looking at it again every pass."""
        self._db.executemany(
            "UPDATE synced SET local_size_bytes = ?, local_mtime_ns = ?"
            " WHERE folder_id = ? AND path_key = ? AND kind = 'file' AND inode = ?",
            ((st.size_bytes, st.mtime_ns, self._folder_id, key, st.inode) for key, st in stats.items()),
        )

    def replace_stat_cache(self, entries: Mapping[str, CachedHash]) -> None:
        """The whole stat cache as a full scan found it: entries of files gone are dropped."""
        self._run("DELETE FROM stat_cache WHERE folder_id = ?")
        self.put_stats(entries)

    def delete_stat(self, path_key: str) -> None:
        self._run("DELETE FROM stat_cache WHERE folder_id = ? AND path_key = ?", path_key)

    def delete_stats_at(self, path_keys: Iterable[str]) -> None:
        """The stat cache of these keys and of everything below them: files no longer there."""
        for path_key in path_keys:
            self.delete_stat(path_key)
            self._run(
                "DELETE FROM stat_cache WHERE folder_id = ? AND path_key >= ? AND path_key < ?",
                *_below(path_key),
            )

    def add_uploaded(self, chunks: Iterable[str]) -> None:
        rows = ((self._folder_id, bytes.fromhex(chunk)) for chunk in chunks)
        self._db.executemany("INSERT OR IGNORE INTO uploaded VALUES (?, ?)", rows)

    def forget_uploaded(self, chunks: Iterable[str] | None = None) -> None:
        """Forget these chunks (all if None): once committed, or when the server says it lacks them."""
        if chunks is None:
            self._run("DELETE FROM uploaded WHERE folder_id = ?")
            return
        rows = ((self._folder_id, bytes.fromhex(chunk)) for chunk in chunks)
        self._db.executemany("DELETE FROM uploaded WHERE folder_id = ? AND chunk = ?", rows)

    def set_problem(self, path: str, message: str, time_s: float | None = None) -> None:
        """Why ``path`` (exactly as found: two names with one key may each have one) is not synced."""
        when = time.time() if time_s is None else time_s
        self._run("INSERT OR REPLACE INTO problems VALUES (?, ?, ?, ?)", _printable(path), message, when)

    def clear_problem(self, path: str) -> None:
        self._run("DELETE FROM problems WHERE folder_id = ? AND path = ?", _printable(path))

    def clear_problems(self) -> None:
        self._run("DELETE FROM problems WHERE folder_id = ?")


def _folder_id(connection: sqlite3.Connection, local_folder: str, namespace_id: str) -> int:
    key = (local_folder, namespace_id)
    connection.execute("INSERT OR IGNORE INTO folders (local_path, namespace_id) VALUES (?, ?)", key)
    row = connection.execute("SELECT folder_id FROM folders WHERE local_path = ? AND namespace_id = ?", key)
    return int(row.fetchone()[0])
