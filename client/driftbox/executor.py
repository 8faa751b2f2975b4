"""The executor: applies the planner's actions, and records in the index what each one achieved.

A run of consecutive remote actions goes up as commits of at most 1,000 ops, each sent as soon as
the previous one returns, with whatever prefix of the run is ready (``frontier.py``), while the
chunks of later files (only those neither the server nor the index knows to be stored) are still
being sent: the server commits one part while the next part's bytes travel. A refused commit is
narrowed: the ops the server names as conflicts are dropped, the rest sent again; what was dropped
is planned again next round, after the journal is read. Local actions run one by one, each checking
that the disk still holds what the plan saw. Whatever fails is reported for that path only; the
rest goes on. See ``core/actions.py`` for what is recorded after each action.

It reaches the server, the disk and the index only through ``ports.Ports``: the synchronizer wires
the real adapters, the planner's randomized tests fakes of the server and the disk.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from driftbox import errors
from driftbox.adapters.index import CachedHash, LocalStat
from driftbox.core import actions as a
from driftbox.core import journal, paths
from driftbox.core.model import FILE, FOLDER, Item
from driftbox.frontier import Frontier
from driftbox.ports import FileDown, FileUp, IndexWrites, Ports

MAX_OPS = 1000
MIN_OPS = 200  # a commit costs the server a few requests whatever its size: not one per file


@dataclass
class Outcome:
    done: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # path -> why


class Executor:
    def __init__(
        self,
        ports: Ports,
        namespace_id: str,
        scanned: dict[str, CachedHash],
        on_bytes: Callable[[int], None] = lambda size: None,
    ) -> None:
        self.server = ports.server
        self.transfers = ports.transfers
        self.disk = ports.disk
        self.index = ports.index
        self.namespace_id = namespace_id
        self.scanned = dict(scanned)  # the stat cache of this round's scan: what the plan saw on disk
        self.on_bytes = on_bytes
        # Sent with folder deletes: the server refuses one if the folder holds changes after it.
        self.seen_seq = self.index.cursor_seq()
        self.outcome = Outcome()
        self.moved_remote: list[tuple[str, str]] = []  # committed moves of this run: from, to

    def run(self, plan: Sequence[a.Action]) -> Outcome:
        for batch in _batches(plan):
            if isinstance(batch[0], a.REMOTE_ACTIONS):
                self._remote(batch)  # type: ignore[arg-type]
            elif isinstance(batch[0], a.Download):
                self._downloads(batch)  # type: ignore[arg-type]
            else:
                for action in batch:
                    self._local(action)
        return self.outcome

    # -- recording ----------------------------------------------------------------------------
    def _put(self, tx: IndexWrites, item: Item, local: LocalStat | None) -> None:
        tx.put_synced(paths.key(item.path), item, local)

    def _drop_below(self, tx: IndexWrites, path: str, *, keep_below: str | None = None) -> None:
        keep = paths.key(keep_below) if keep_below else None
        for path_key in self.index.synced_subtree(paths.key(path)):  # read in the transaction
            if keep is not None and (path_key == keep or paths.is_within(path_key, keep)):
                continue
            tx.delete_synced(path_key)

    def _move_synced(self, tx: IndexWrites, from_path: str, to_path: str) -> None:
        moving = self.index.synced_subtree(paths.key(from_path))
        self._drop_below(tx, to_path, keep_below=from_path)
        for path_key in moving:
            tx.delete_synced(path_key)
        for item in moving.values():
            self._put(tx, replace(item, path=paths.reroot(item.path, from_path, to_path)), None)

    def _fail(self, path: str, why: str) -> None:
        self.outcome.failed[path] = why

    # -- remote -------------------------------------------------------------------------------
    def _remote(self, run: list[a.RemoteAction]) -> None:
        """Send the run's chunks and, in a second thread, commit its ops as their files become ready."""
        frontier = Frontier(len(run))
        unsent: set[int] = set()  # the actions whose files could not be sent
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit") as committer:
            committing = committer.submit(self._commit_as_ready, run, frontier, unsent)
            try:
                self._send_chunks(run, frontier, unsent)
                for i in frontier.waiting():  # a chunk it shares with a file that failed
                    if i not in unsent:
                        self._fail(_paths_of(run[i])[0], "not uploaded: a chunk of it could not be read")
                        unsent.add(i)
            except BaseException:
                unsent.update(range(len(run)))  # commit nothing more
                raise
            finally:
                frontier.close()
            committing.result()

    def _commit_as_ready(self, run: list[a.RemoteAction], frontier: Frontier, unsent: set[int]) -> None:
        start = 0
        while start < len(run):
            end = frontier.wait_past(start, MAX_OPS, MIN_OPS)
            self._commit([run[i] for i in range(start, end) if i not in unsent])
            start = end

    def _commit(self, ready: list[a.RemoteAction]) -> None:
        while ready:
            try:
                answer = self.server.commit(self.namespace_id, [self._op(x) for x in ready], uuid.uuid4().hex)
            except errors.Conflict as exc:
                refused = {paths.key(c["path"]) for c in exc.details.get("conflicts", [])}
                kept = [x for x in ready if not _refused(x, refused)]
                if len(kept) == len(ready):  # nothing named that we sent: give up on the batch
                    kept = []
                for x in ready:
                    if x not in kept:
                        self._fail(_paths_of(x)[0], "changed on the server meanwhile; planned again")
                ready = kept
                continue
            except errors.CursorReset:  # the server was restored: the next round's pull lists again
                for x in ready:
                    self._fail(
                        _paths_of(x)[0], "the server no longer knows this device's place; planned again"
                    )
                return
            except errors.MissingChunks as exc:
                with self.index.transaction() as tx:
                    tx.forget_uploaded(exc.details.get("hashes", []))
                for x in ready:
                    self._fail(_paths_of(x)[0], "chunks went missing on the server; sent again next round")
                return
            self._committed(ready, answer["results"])
            return

    def _send_chunks(self, run: list[a.RemoteAction], frontier: Frontier, unsent: set[int]) -> None:
        """Upload the chunks of every Upload of the run; tell ``frontier`` as each file is ready."""
        already_stored = self.index.uploaded_chunks()
        files: dict[str, int] = {}
        uploads: list[FileUp] = []
        for i, action in enumerate(run):
            if not isinstance(action, a.Upload):
                frontier.resolve(i)
                continue
            cached = self.scanned.get(paths.key(action.path))
            if cached is None or cached.content_hash != action.content_hash:
                self._fail(action.path, "changed since it was scanned; sent next round")
                unsent.add(i)
                frontier.resolve(i)
                continue
            files[action.path] = i
            uploads.append(FileUp(action.path, cached.chunks, cached.stat.size_bytes))
            frontier.needs(i, [h for h in cached.chunks if h not in already_stored])

        def stored(chunk_hash: str, size: int) -> None:
            with self.index.transaction() as tx:
                tx.add_uploaded([chunk_hash])
            frontier.stored(chunk_hash)
            self.on_bytes(size)

        sent, failed = self.transfers.upload(uploads, already_stored=already_stored, on_stored=stored)
        self.outcome.bytes_up += sent
        for path, why in failed.items():
            self._fail(path, why)
            unsent.add(files[path])

    def _op(self, action: a.RemoteAction) -> dict[str, Any]:
        if isinstance(action, a.Upload):
            cached = self.scanned[paths.key(action.path)]
            return {
                "op": "put",
                "path": paths.normalize(action.path),
                "parent_rev": action.parent_rev,
                "size": cached.stat.size_bytes,
                "mtime": journal.clamp_mtime_ns(cached.stat.mtime_ns),
                "chunks": list(cached.chunks),
                "content_hash": cached.content_hash,
                "executable": action.executable,
            }
        if isinstance(action, a.CreateRemoteFolder):
            return {"op": "mkdir", "path": paths.normalize(action.path)}
        if isinstance(action, a.DeleteRemote):
            op = {"op": "delete", "path": paths.normalize(action.path), "parent_rev": action.parent_rev}
            return op if self.seen_seq is None else {**op, "seen_seq": self.seen_seq}
        return {
            "op": "move",
            "from": paths.normalize(action.from_path),
            "to": paths.normalize(action.to_path),
            "parent_rev": action.parent_rev,
        }

    def _committed(self, done: list[a.RemoteAction], results: list[dict[str, Any]]) -> None:
        with self.index.transaction() as tx:
            for action, result in zip(done, results, strict=True):
                if isinstance(action, a.Upload):
                    cached = self.scanned[paths.key(action.path)]
                    item = Item(
                        result["path"],
                        FILE,
                        cached.content_hash,
                        cached.stat.size_bytes,
                        result["rev"],
                        result["object_id"],
                        cached.stat.inode,
                        action.executable,
                    )
                    self._put(tx, item, cached.stat)
                    tx.forget_uploaded(cached.chunks)
                elif isinstance(action, a.CreateRemoteFolder):
                    inode = self._inode(action.path)
                    self._put(
                        tx,
                        Item(result["path"], FOLDER, "", 0, result["rev"], result["object_id"], inode),
                        None,
                    )
                elif isinstance(action, a.DeleteRemote):
                    self._drop_below(tx, action.path)
                else:
                    self._move_synced(tx, action.from_path, action.to_path)
                    self.moved_remote.append((action.from_path, action.to_path))
                self.outcome.done += 1

    # -- local --------------------------------------------------------------------------------
    def _local(self, action: a.Action) -> None:
        try:
            if isinstance(action, a.Record):
                with self.index.transaction() as tx:
                    if action.item is None:
                        tx.delete_synced(action.path_key)
                    else:
                        tx.put_synced(action.path_key, action.item, None)
                return
            if isinstance(action, a.CreateLocalFolder):
                self._mkdir(action)
            elif isinstance(action, a.DeleteLocal):
                self._delete(action)
            elif isinstance(action, a.MoveLocal):
                self._move(action)
            self.outcome.done += 1
        except (OSError, errors.DriftboxError) as exc:
            path = action.from_path if isinstance(action, a.MoveLocal) else getattr(action, "path", "?")
            self._fail(path, str(exc) if isinstance(exc, errors.DriftboxError) else f"{exc.strerror}: {path}")

    def _unchanged_since_scan(self, path: str) -> bool:
        cached = self.scanned.get(paths.key(path))
        now = self.disk.stat(path)
        if cached is None:
            return now is None or now.kind == FOLDER
        return now is not None and now.stat == cached.stat

    def _inode(self, path: str) -> int | None:
        found = self.disk.stat(path)
        return found.stat.inode if found is not None else None

    def _downloads(self, batch: list[a.Download]) -> None:
        """Bring many files here at once; each that fails is reported alone."""
        wanted: dict[str, tuple[a.Download, journal.RemoteFile]] = {}
        for action in batch:
            remote = self._remote_file(action.path)
            if not self._unchanged_since_scan(action.path):
                self._fail(action.path, "changed on disk during the sync; planned again")
            elif remote is None:
                self._fail(action.path, "the server's chunk list is not known yet")
            else:
                wanted[action.path] = (action, remote)
        files = [
            FileDown(path, remote.chunks, action.content_hash, remote.mtime_ns, action.executable)
            for path, (action, remote) in wanted.items()
        ]
        failed = self.transfers.download(files, on_chunk=self._got)
        with self.index.transaction() as tx:
            for path, (action, remote) in wanted.items():
                found = self.disk.stat(path) if path not in failed else None
                if found is None:
                    self._fail(action.path, failed.get(path, "vanished as it was written"))
                    continue
                local = found.stat
                item = Item(
                    action.path,
                    FILE,
                    action.content_hash,
                    action.size,
                    action.rev,
                    action.object_id,
                    local.inode,
                    action.executable,
                )
                self._put(tx, item, local)
                tx.put_stats({paths.key(action.path): CachedHash(local, action.content_hash, remote.chunks)})
                self.outcome.done += 1

    def _remote_file(self, path: str) -> journal.RemoteFile | None:
        """The chunk list of the server's file at ``path``, which the remote tree may still hold
        where a move of this run took it from (the next pull brings the move). The download checks
        the list against the action's content hash, so a list of other bytes fails it, nothing more."""
        for from_path, to_path in reversed(self.moved_remote):
            if paths.key(path) == paths.key(to_path) or paths.is_within(paths.key(path), paths.key(to_path)):
                path = paths.reroot(path, to_path, from_path)
        return self.index.remote_file(paths.key(path))

    def _got(self, size: int) -> None:
        self.outcome.bytes_down += size
        self.on_bytes(size)

    def _mkdir(self, action: a.CreateLocalFolder) -> None:
        self.disk.make_folder(action.path)
        found = self.disk.stat(action.path)
        if found is None or found.kind != FOLDER:
            raise errors.DriftboxError(f"{action.path}: a file is in the way of a folder")
        item = Item(action.path, FOLDER, "", 0, action.rev, action.object_id, found.stat.inode)
        with self.index.transaction() as tx:
            self._put(tx, item, None)

    def _delete(self, action: a.DeleteLocal) -> None:
        if action.kind == FILE:
            cached = self.scanned.get(paths.key(action.path))
            if cached is None or cached.content_hash != action.content_hash:
                return  # not the bytes the plan saw: left alone, the next round sees what is there
            if not self._unchanged_since_scan(action.path):
                return
            self.disk.remove_file(action.path)
        else:
            try:
                self.disk.remove_folder(action.path)
            except OSError:
                return  # not empty: something unsynced is inside; the next round uploads it
        with self.index.transaction() as tx:
            self._drop_below(tx, action.path)

    def _move(self, action: a.MoveLocal) -> None:
        same_key = paths.key(action.from_path) == paths.key(action.to_path)
        if not same_key and self.disk.stat(action.to_path) is not None:
            raise errors.DriftboxError(f"{action.to_path}: something is already there; planned again")
        self.disk.make_parents(action.to_path)
        self.disk.rename(action.from_path, action.to_path)
        self._move_scanned(action.from_path, action.to_path)
        with self.index.transaction() as tx:
            self._move_synced(tx, action.from_path, action.to_path)

    def _move_scanned(self, from_path: str, to_path: str) -> None:
        """What the plan saw at ``from_path`` and below is now at ``to_path``: a rename keeps a
        file's size, mtime and inode. So a conflicted copy moved aside goes up in this run, and
        the server's version comes down to the place it left."""
        from_key = paths.key(from_path)
        moving = [k for k in self.scanned if k == from_key or paths.is_within(k, from_key)]
        moved = {paths.key(paths.reroot(k, from_path, to_path)): self.scanned.pop(k) for k in moving}
        self.scanned.update(moved)


def _kind(action: a.Action) -> str:
    if isinstance(action, a.REMOTE_ACTIONS):
        return "remote"
    return "download" if isinstance(action, a.Download) else "local"


def _batches(plan: Sequence[a.Action]) -> Iterator[list[a.Action]]:
    """Runs of remote actions, of downloads (at most MAX_OPS each) and of the rest, in plan order."""
    batch: list[a.Action] = []
    for action in plan:
        full = len(batch) >= MAX_OPS and _kind(action) != "remote"  # a remote run is committed in parts
        if batch and (_kind(action) != _kind(batch[0]) or full):
            yield batch
            batch = []
        batch.append(action)
    if batch:
        yield batch


def _refused(action: a.RemoteAction, conflict_keys: set[str]) -> bool:
    """Whether the server's conflicts name ``action``: a folder delete is refused for what is inside."""
    keys = [paths.key(p) for p in _paths_of(action)]
    if any(k in conflict_keys for k in keys):
        return True
    return isinstance(action, a.DeleteRemote) and any(paths.is_within(c, keys[0]) for c in conflict_keys)


def _paths_of(action: a.RemoteAction) -> list[str]:
    if isinstance(action, a.MoveRemote):
        return [action.from_path, action.to_path]
    return [action.path]
