"""What the executor needs from the world: the server's commit, chunk transfers, the disk, the index.

The executor (``executor.py``) sees the world only through these narrow ports. The client wires
the real adapters: ``adapters.api.Api`` (commit), ``adapters.transfer.PresignedTransfers`` (chunks
on presigned URLs, files written through temporary files), ``adapters.disk.LocalDisk`` (the linked
folder) and ``adapters.index.Index`` (SQLite). The planner's randomized tests wire fakes of the
server and the disk (``tests/client/unit/simulator.py``), so the code they prove is the code users
run. Paths are Driftbox paths spelled as on disk (``/Photos/a.jpg``); only the disk adapters turn
them into places on disk.

Errors: the disk raises ``OSError`` as the operating system does; the server and the transfers
raise ``driftbox.errors`` (a 409 is ``errors.Conflict`` naming the paths in conflict).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from driftbox.adapters.index import CachedHash, LocalStat
from driftbox.core.journal import RemoteFile
from driftbox.core.model import Item, Kind


class Committer(Protocol):
    """``POST /v1/commit``: all ops or none; the answer's ``results`` are one per op, in order."""

    def commit(
        self, namespace_id: str, ops: list[dict[str, Any]], idempotency_key: str | None = None
    ) -> Any: ...


@dataclass(frozen=True)
class FileUp:
    """A local file to send: its chunks as hashed when it was scanned."""

    path: str
    chunks: Sequence[str]
    size_bytes: int


@dataclass(frozen=True)
class FileDown:
    """A file to bring here: the server's chunk list and content hash for it."""

    path: str
    chunks: Sequence[str]
    content_hash: str
    mtime_ns: int | None = None  # None: the time it is written
    executable: bool = False


class Transfers(Protocol):
    def upload(
        self,
        files: Sequence[FileUp],
        *,
        already_stored: set[str],
        on_stored: Callable[[str, int], None],
    ) -> tuple[int, dict[str, str]]:
        """Send the chunks the server lacks, each checked against the list as read; the bytes
        sent and, per path that could not be sent, why. ``on_stored`` as each chunk is stored."""
        ...

    def download(self, files: Sequence[FileDown], *, on_chunk: Callable[[int], None]) -> dict[str, str]:
        """Put each file's checked bytes at its path atomically; per path that failed, why."""
        ...


@dataclass(frozen=True)
class Found:
    """What ``lstat`` says is at a path."""

    kind: Kind
    stat: LocalStat


class LocalFiles(Protocol):
    """The linked folder. Each call raises ``OSError`` as the operating system would."""

    def stat(self, path: str) -> Found | None:
        """What is at ``path`` (links not followed); None if nothing is."""
        ...

    def make_folder(self, path: str) -> None:
        """mkdir; nothing to do if a folder is there."""
        ...

    def make_parents(self, path: str) -> None:
        """The folders above ``path``, those missing created."""
        ...

    def remove_file(self, path: str) -> None:
        """unlink; nothing to do if nothing is there."""
        ...

    def remove_folder(self, path: str) -> None:
        """rmdir: ``OSError`` if it is not empty; nothing to do if nothing is there."""
        ...

    def rename(self, from_path: str, to_path: str) -> None: ...


class IndexWrites(Protocol):
    """The writes of one index transaction (``adapters.index.Transaction``)."""

    def put_synced(self, path_key: str, item: Item, local: LocalStat | None = None) -> None: ...

    def delete_synced(self, path_key: str) -> None: ...

    def put_stats(self, entries: Mapping[str, CachedHash]) -> None: ...

    def add_uploaded(self, chunks: Sequence[str]) -> None: ...

    def forget_uploaded(self, chunks: Sequence[str] | None = None) -> None: ...


class IndexPort(Protocol):
    """What the executor reads from the index, and its transactions (all writes or none)."""

    def synced_subtree(self, path_key: str) -> dict[str, Item]:
        """The synced item at ``path_key`` and every one below it (as written so far, in a transaction)."""
        ...

    def cursor_seq(self) -> int | None: ...

    def uploaded_chunks(self) -> set[str]: ...

    def remote_file(self, path_key: str) -> RemoteFile | None: ...

    def transaction(self) -> AbstractContextManager[IndexWrites]: ...


@dataclass(frozen=True)
class Ports:
    server: Committer
    transfers: Transfers
    disk: LocalFiles
    index: IndexPort
