"""Moving file bytes: chunks up on presigned PUTs, only those the server lacks, and files down into
place without ever leaving a partial file at the path.

Files go many at a time: one grant request covers the chunks of many files (up to 1,000 chunks
and 2 GiB, within the server's bound on uncommitted uploads), their transfers share the worker
pool, and the next request's grants are fetched while this one's chunks go up. Uploads read one
chunk per worker at a time (memory is ``workers * 4 MiB`` whatever the sizes), check each chunk's
hash as read against the list the commit will name (a file edited during the upload fails that
file, to be sent with its new content next round), and tell the caller which chunks are stored,
so a killed client never sends them again. Downloads write into
hidden temporary files beside their targets, check every chunk's hash and each file's content
hash, give the file the revision's executable bit on the mode the target had (a new one: the
umask's), fsync, set the revision's mtime where the file system can hold it, and rename over the
target: the path holds the old bytes or the new ones, nothing in
between.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftbox import errors
from driftbox.adapters.api import Api
from driftbox.adapters.fs import fsync_path, local_path
from driftbox.core.model import CHUNK_SIZE
from driftbox.errors import DriftboxError
from driftbox.ports import FileDown, FileUp

GRANTS_PER_REQUEST = 1000  # the server's limit
# The server bounds the bytes a namespace may have on URLs not yet committed (8 GiB by default,
# docs/openapi.yaml): a quarter of that per request leaves room for the request asked ahead and
# for files sent but not yet committed.
GRANT_BYTES_PER_REQUEST = 2 * 1024**3
PART_PREFIX = ".driftbox-part-"  # the scanner never reports these


class ContentChanged(DriftboxError):
    """The file's bytes are not the ones planned: it changed on disk, or a download was corrupt."""


def chunk_sizes(size_bytes: int) -> list[int]:
    count = -(-size_bytes // CHUNK_SIZE)
    return [min(CHUNK_SIZE, size_bytes - i * CHUNK_SIZE) for i in range(count)]


@dataclass(frozen=True)
class Upload:
    """A local file to send: its chunks, as hashed when it was scanned."""

    path: Path
    chunks: Sequence[str]
    size_bytes: int


@dataclass(frozen=True)
class Download:
    """A file to bring here: the server's chunk list and content hash for it."""

    target: Path
    chunks: Sequence[str]
    content_hash: str
    mtime_ns: int | None = None  # None: the time it is written
    executable: bool = False


def _read_chunk(path: Path, index: int, expected: str) -> bytes:
    with path.open("rb") as stream:
        stream.seek(index * CHUNK_SIZE)
        data = stream.read(CHUNK_SIZE)
    if hashlib.sha256(data).hexdigest() != expected:
        raise ContentChanged(f"{path}: changed while being uploaded")
    return data


def upload_many(
    api: Api,
    namespace_id: str,
    files: Sequence[Upload],
    *,
    pool: ThreadPoolExecutor,
    already_stored: set[str] | frozenset[str] = frozenset(),
    on_stored: Callable[[str, int], None] = lambda chunk_hash, size: None,
    window_bytes: int = GRANT_BYTES_PER_REQUEST,
) -> tuple[int, dict[Path, str]]:
    """Send every chunk of these files that the server lacks, many files' chunks at once.

    Returns the bytes sent and, per file that could not be sent, why (the others are unaffected).
    When the server holds as many of the namespace's uncommitted uploads as it allows (after the
    retries its Retry-After asks for, while this round's commits free room), the files not yet
    given URLs wait for the next round.
    """
    where: dict[str, tuple[Upload, int]] = {}  # a place to read each chunk from
    sizes: dict[str, int] = {}
    for file in files:
        for i, (chunk_hash, size) in enumerate(zip(file.chunks, chunk_sizes(file.size_bytes), strict=True)):
            where.setdefault(chunk_hash, (file, i))
            sizes[chunk_hash] = size
    wanted = [(h, sizes[h]) for h in where if h not in already_stored]
    failed: dict[Path, str] = {}

    def put(upload: dict[str, Any]) -> int:
        file, index = where[upload["hash"]]
        if file.path in failed:
            return 0
        try:
            data = _read_chunk(file.path, index, upload["hash"])
            api.put_chunk(upload, data)
        except (OSError, DriftboxError) as exc:
            failed[file.path] = f"not uploaded: {exc}"
            return 0
        on_stored(upload["hash"], len(data))
        return len(data)

    sent = 0
    windows = _windows(wanted, window_bytes)
    # The next window's URLs are asked for while this window's chunks go up: no pause between them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="grants") as asker:
        asked = [asker.submit(api.upload_grants, namespace_id, windows[0])] if windows else []
        for i in range(len(windows)):
            try:
                grants = asked[i].result()
            except errors.ServerError as exc:
                if exc.code != "rate_limited":
                    raise
                waiting = {chunk_hash for window in windows[i:] for chunk_hash, _ in window}
                for file in files:
                    if file.path not in failed and waiting.intersection(file.chunks):
                        failed[file.path] = f"not uploaded yet: {exc}; sent next round"
                break
            if i + 1 < len(windows):
                asked.append(asker.submit(api.upload_grants, namespace_id, windows[i + 1]))
            for chunk_hash in grants["present"]:
                on_stored(chunk_hash, 0)
            sent += sum(pool.map(put, grants["uploads"]))
    return sent, failed


def _windows(wanted: list[tuple[str, int]], window_bytes: int) -> list[list[tuple[str, int]]]:
    """``wanted`` in runs of at most GRANTS_PER_REQUEST chunks and ``window_bytes`` bytes (or one chunk)."""
    windows: list[list[tuple[str, int]]] = []
    size = 0
    for chunk in wanted:
        if not windows or len(windows[-1]) == GRANTS_PER_REQUEST or size + chunk[1] > window_bytes:
            windows.append([])
            size = 0
        windows[-1].append(chunk)
        size += chunk[1]
    return windows


def download_many(
    api: Api,
    namespace_id: str,
    files: Sequence[Download],
    *,
    pool: ThreadPoolExecutor,
    on_chunk: Callable[[int], None] = lambda size: None,
) -> dict[Path, str]:
    """Put each file's bytes at its target atomically, after checking every hash; many at once.

    Returns, per file that could not be brought here, why (the others are in place).
    """
    failed: dict[Path, str] = {}
    parts: dict[Path, Path] = {}
    places: dict[str, list[tuple[Download, int]]] = {}
    try:
        for file in files:
            if _content_hash(file.chunks) != file.content_hash:
                failed[file.target] = "the server's chunk list does not match its content hash"
                continue
            file.target.parent.mkdir(parents=True, exist_ok=True)
            part = file.target.with_name(f"{PART_PREFIX}{os.getpid()}-{file.target.name}"[:255])
            part.write_bytes(b"")
            parts[file.target] = part
            for i, chunk_hash in enumerate(file.chunks):
                places.setdefault(chunk_hash, []).append((file, i * CHUNK_SIZE))
        unique = list(places)

        def fetch(grant: dict[str, Any]) -> None:
            try:
                data = api.get_chunk(grant["url"])
                if hashlib.sha256(data).hexdigest() != grant["hash"]:
                    raise ContentChanged(f"chunk {grant['hash'][:12]} arrived corrupt")
            except DriftboxError as exc:
                for file, _ in places[grant["hash"]]:
                    failed[file.target] = str(exc)
                return
            for file, offset in places[grant["hash"]]:
                fd = os.open(parts[file.target], os.O_WRONLY)
                try:
                    os.pwrite(fd, data, offset)
                finally:
                    os.close(fd)
            on_chunk(len(data))

        for start in range(0, len(unique), GRANTS_PER_REQUEST):
            grants = api.download_grants(namespace_id, unique[start : start + GRANTS_PER_REQUEST])
            list(pool.map(fetch, grants["downloads"]))
        for file in files:
            if file.target in failed or file.target not in parts:
                continue
            part = parts[file.target]
            _set_mode(part, file.target, file.executable)
            fsync_path(part)
            if file.mtime_ns is not None:
                _set_mtime(part, file.mtime_ns)
            os.replace(part, file.target)
            fsync_path(file.target.parent)
    finally:
        for part in parts.values():
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
    return failed


class PresignedTransfers:
    """``ports.Transfers`` for one linked folder: ``upload_many`` and ``download_many`` below."""

    def __init__(self, api: Api, namespace_id: str, root: Path, pool: ThreadPoolExecutor) -> None:
        self.api = api
        self.namespace_id = namespace_id
        self.root = root
        self.pool = pool

    def upload(
        self,
        files: Sequence[FileUp],
        *,
        already_stored: set[str],
        on_stored: Callable[[str, int], None],
    ) -> tuple[int, dict[str, str]]:
        places = {local_path(self.root, file.path): file.path for file in files}
        uploads = [Upload(local_path(self.root, f.path), f.chunks, f.size_bytes) for f in files]
        sent, failed = upload_many(
            self.api,
            self.namespace_id,
            uploads,
            pool=self.pool,
            already_stored=already_stored,
            on_stored=on_stored,
        )
        return sent, {places[place]: why for place, why in failed.items()}

    def download(self, files: Sequence[FileDown], *, on_chunk: Callable[[int], None]) -> dict[str, str]:
        places = {local_path(self.root, file.path): file.path for file in files}
        downloads = [
            Download(local_path(self.root, f.path), f.chunks, f.content_hash, f.mtime_ns, f.executable)
            for f in files
        ]
        failed = download_many(self.api, self.namespace_id, downloads, pool=self.pool, on_chunk=on_chunk)
        return {places[place]: why for place, why in failed.items()}


def executable_mode(mode: int, executable: bool) -> int:
    """``mode`` with the execute bits a revision's executable bit gives: u+x, and g+x / o+x where
    g / o may read (as git and Dropbox do); or no execute bit at all. Other bits are kept."""
    if not executable:
        return mode & ~0o111
    return mode | 0o100 | ((mode & 0o044) >> 2)


def _set_mode(part: Path, target: Path, executable: bool) -> None:
    """The part gets the target's mode (a new file: the umask's) with the revision's execute bits."""
    try:
        mode = stat.S_IMODE(os.lstat(target).st_mode)
    except FileNotFoundError:
        mode = stat.S_IMODE(os.lstat(part).st_mode)
    os.chmod(part, executable_mode(mode, executable))


def _set_mtime(part: Path, mtime_ns: int) -> None:
    """Best effort: a file system that cannot hold this time keeps the time of writing."""
    with contextlib.suppress(OSError, OverflowError, ValueError):
        os.utime(part, ns=(mtime_ns, mtime_ns))


def _content_hash(chunks: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(bytes.fromhex(chunk))
    return digest.hexdigest()
