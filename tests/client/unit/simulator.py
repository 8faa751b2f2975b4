"""The world the planner's tests run plans in: the shipped executor over fakes of the server and disk.

``World`` wires ``driftbox.executor.Executor``, the code users run, to the fakes of ``fakes.py``
through the executor's ports, and to a real ``Index`` (SQLite, in a temporary folder). It is not
an executor: it plans, lets the real one run the plan, and watches what that asks the ports to do:

- nothing unsynced is lost (property 3): a commit deletes only file versions the synced tree holds
  and overwrites only synced content (``Watched.commit``), a download replaces only a file at its
  synced content, a local delete removes only a file at its synced content (``Watched*``), else
  ``UnsafeAction``;
- ``strict`` (nothing moved since the plan): every action succeeds; one the executor reports as
  failed, a folder removal that finds the folder not empty, or an action on a path the disk
  spells otherwise is a planner bug (``BadAction``).
"""

from __future__ import annotations

import atexit
import datetime
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from driftbox import errors
from driftbox.adapters.index import Index
from driftbox.core import paths, scope
from driftbox.core.actions import Action
from driftbox.core.journal import RemoteFile
from driftbox.core.model import FILE, FOLDER, Item
from driftbox.core.planner import plan
from driftbox.executor import Executor, Outcome
from driftbox.ports import FileDown, FileUp, Found, Ports

from tests.client.unit.fakes import (
    BadAction,
    Effect,
    FakeDisk,
    FakeServer,
    Node,
    Refused,
    UnsafeAction,
    chunk_of,
)

DEVICE = "laptop"
TODAY = datetime.date(2024, 5, 6)
NAMESPACE = "ns1"


class NotConverged(AssertionError):
    pass


# -- the real index, one SQLite file for every world of this process -------------------------------

_shared: list[Index] = []  # one for the process: opening one costs more than a world's whole run
_owner: list[object] = []  # the world using it now


def _fresh_index(owner: object) -> Index:
    """The process's index, emptied for ``owner``; a world made earlier must not be used again."""
    if not _shared:
        folder = Path(tempfile.mkdtemp(prefix="driftbox-simulator-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _shared.append(Index.open(folder / "index.db", folder / "linked", NAMESPACE))
    index = _shared[0]
    with index.transaction() as tx:
        tx.clear_synced()
        tx.clear_remote()
        tx.forget_uploaded()
        tx.replace_stat_cache({})
        tx.set_cursor(None)
    _owner[:] = [owner]
    return index


# -- the ports, watched ----------------------------------------------------------------------------


@dataclass
class Watch:
    """What the watchers share: the world's index, whether it stood still, and what they saw."""

    index: Index
    strict: bool = True
    refused_commits: int = 0
    racing_deletes: int = 0  # unsynced remote files a race took along (kept in history)

    def is_synced(self, entry: Item) -> bool:
        """Whether the local file ``entry`` holds synced bytes: the synced content at its key, or
        that of the synced file on its inode (moved here by a rename the synced tree does not show
        yet: a local action runs even when a commit before it was refused)."""
        synced = self.index.load_synced()
        at_key = synced.get(paths.key(entry.path))
        if at_key is not None and at_key.kind == FILE and at_key.content_hash == entry.content_hash:
            return True
        return any(
            s.kind == FILE and (s.inode, s.content_hash) == (entry.inode, entry.content_hash)
            for s in synced.values()
        )


@dataclass
class WatchedServer:
    """``ports.Committer`` over a FakeServer, as the real API answers: results, or a 409 naming
    every conflict, or missing chunks."""

    server: FakeServer
    watch: Watch

    def commit(self, namespace_id: str, ops: list[dict[str, Any]], idempotency_key: str | None = None) -> Any:
        assert namespace_id == NAMESPACE and idempotency_key
        stored = _stored_chunks(self.server)
        missing = [c for op in ops if op["op"] == "put" for c in op["chunks"] if c not in stored]
        if missing:
            raise errors.MissingChunks(409, "missing_chunks", "upload these first", {"hashes": missing})
        for op in ops:
            if op["op"] == "put":
                assert op["chunks"] == [chunk_of(op["content_hash"])], op
                assert op["size"] == len(op["content_hash"]), op
        try:
            effects = self.server.commit([_as_fake(op) for op in ops])
        except Refused as exc:
            self.watch.refused_commits += 1
            conflicts = [{"path": path, "current_rev": None} for path in exc.args]
            raise errors.Conflict(409, "conflict", "the namespace changed", {"conflicts": conflicts}) from exc
        synced = self.watch.index.load_synced().values()
        for op, effect in zip(ops, effects, strict=True):
            self._check(op, effect, synced)
        results = [
            {"path": e.result.path, "object_id": e.result.object_id, "rev": e.result.rev} for e in effects
        ]
        return {"results": results, "head_seq": 0}

    def _check(self, op: dict[str, Any], effect: Effect, synced: Any) -> None:
        """Property 3, remote side: only synced file versions are deleted, only synced content is
        overwritten. Not strict (the server moved on since the plan), a folder delete may take
        along what was added or changed below it meanwhile: counted, not failed (the server
        deletes folders recursively; what it removes stays in its history)."""
        files = [s for s in synced if s.kind == FILE]
        versions = {(s.object_id, s.rev) for s in files}  # a rev names one version of one object
        for node in effect.deleted:
            if node.kind == FILE and (node.object_id, node.rev) not in versions:
                self._lost(op, node, below=node is not effect.result)
        # The synced content at that key, or of that object (moved by an earlier op of the commit).
        contents = {(paths.key(s.path), s.content_hash) for s in files} | {
            (s.object_id, s.content_hash) for s in files
        }
        replaced = effect.replaced
        if (
            replaced is not None
            and not {
                (paths.key(replaced.path), replaced.content_hash),
                (replaced.object_id, replaced.content_hash),
            }
            & contents
        ):
            self._lost(op, replaced, below=False)

    def _lost(self, op: dict[str, Any], node: Node, *, below: bool) -> None:
        if below and not self.watch.strict:
            self.watch.racing_deletes += 1
            return
        raise UnsafeAction(f"{op}: deletes or overwrites the unsynced {node}")


def _stored_chunks(server: FakeServer) -> set[str]:
    """The chunks sent, and those of every revision: the real server's ``present`` ones."""
    return server.chunks | {chunk_of(content) for content in server.history}


def _as_fake(op: dict[str, Any]) -> tuple[object, ...]:
    if op["op"] == "put":
        return ("put", op["path"], op["parent_rev"], op["content_hash"])
    if op["op"] == "mkdir":
        return ("mkdir", op["path"])
    if op["op"] == "delete":
        return ("delete", op["path"], op["parent_rev"])
    return ("move", op["from"], op["to"], op["parent_rev"])


@dataclass
class WatchedDisk:
    """``ports.LocalFiles`` over a FakeDisk: a file is removed only at its synced content."""

    disk: FakeDisk
    watch: Watch

    def stat(self, path: str) -> Found | None:
        return self.disk.stat(path)

    def make_folder(self, path: str) -> None:
        self.disk.make_folder(path)

    def make_parents(self, path: str) -> None:
        self.disk.make_parents(path)

    def remove_file(self, path: str) -> None:
        entry = self.disk.exact(path)
        if entry is not None and entry.kind == FILE and not self.watch.is_synced(entry):
            raise UnsafeAction(f"deletes the unsynced local {entry}")
        self.disk.remove_file(path)

    def remove_folder(self, path: str) -> None:
        try:
            self.disk.remove_folder(path)
        except OSError as exc:
            if self.watch.strict:
                raise BadAction(f"{path}: not there as planned ({exc.strerror})") from exc
            raise

    def rename(self, from_path: str, to_path: str) -> None:
        self.disk.rename(from_path, to_path)


@dataclass
class FakeTransfers:
    """``ports.Transfers`` between a FakeDisk and a FakeServer: a file's one chunk goes up if the
    disk still holds its content; a download replaces only a file at its synced content."""

    disk: FakeDisk
    server: FakeServer
    watch: Watch

    def upload(
        self,
        files: Sequence[FileUp],
        *,
        already_stored: set[str],
        on_stored: Callable[[str, int], None],
    ) -> tuple[int, dict[str, str]]:
        sent, failed = 0, {}
        for file in files:
            entry = self.disk.exact(file.path)
            if entry is None or entry.kind != FILE or [chunk_of(entry.content_hash)] != list(file.chunks):
                failed[file.path] = "not uploaded: changed while being uploaded"
                continue
            for chunk in file.chunks:
                if chunk in already_stored:
                    continue
                if chunk in _stored_chunks(self.server):  # the server's "present"
                    on_stored(chunk, 0)
                    continue
                self.server.chunks.add(chunk)
                on_stored(chunk, file.size_bytes)
                sent += file.size_bytes
        return sent, failed

    def download(self, files: Sequence[FileDown], *, on_chunk: Callable[[int], None]) -> dict[str, str]:
        failed: dict[str, str] = {}
        for file in files:
            if file.content_hash not in self.server.history:
                raise BadAction(f"{file.path}: the server never stored {file.content_hash}")
            if list(file.chunks) != [chunk_of(file.content_hash)]:
                failed[file.path] = "the server's chunk list does not match its content hash"
                continue
            existing = self.disk.exact(file.path)
            if existing is not None and existing.kind == FOLDER:
                raise IsADirectoryError(file.path)  # os.replace over a folder
            if existing is not None and not self.watch.is_synced(existing):
                raise UnsafeAction(f"{file.path}: would overwrite the unsynced local {existing}")
            self.disk.write(file.path, file.content_hash)
            on_chunk(len(file.content_hash))
        return failed


def _remote_file(item: Item) -> RemoteFile | None:
    return RemoteFile((chunk_of(item.content_hash),), 0) if item.kind == FILE else None


# -- a world: both sides from one start, edits on each, then rounds of plan and execute -----------


@dataclass
class World:
    server: FakeServer
    disk: FakeDisk
    plans: list[list[Action]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    today: datetime.date = TODAY  # the date in conflicted copies' names
    index: Index = field(init=False)
    watch: Watch = field(init=False)

    def __post_init__(self) -> None:
        self.index = _fresh_index(self)
        self.watch = Watch(self.index)

    def _in_use(self) -> Index:
        assert _owner == [self], "a newer World took over the index: use one World at a time"
        return self.index

    @property
    def synced(self) -> dict[str, Item]:
        return self._in_use().load_synced()

    def forget_synced(self) -> None:
        """A lost or emptied index: no base at all (so the next pull is a whole listing, every key
        of which a pass plans)."""
        remote = self.index.load_remote()
        with self.index.transaction() as tx:
            tx.clear_synced()
            tx.mark_remote_changed(remote)

    @property
    def refused_commits(self) -> int:
        return self.watch.refused_commits

    @property
    def racing_deletes(self) -> int:
        return self.watch.racing_deletes

    @classmethod
    def start(cls, files: Mapping[str, str | None], *, reuse_inodes: bool = False) -> World:
        """Both sides, and the synced tree, at ``files`` (path -> content hash; None: a folder).

        Folders above a path are created; a path under a file, or with the key of one already
        there, is left out."""
        world = cls(FakeServer(), FakeDisk(reuse_inodes=reuse_inodes))
        disk, server = world.disk, world.server
        for path, content in files.items():
            folder = paths.ROOT
            for name in path.split("/")[1:-1]:
                entry = disk.entries.get(paths.key(paths.join(folder, name)))
                if entry is None:
                    entry = disk.mkdir(paths.join(folder, name))
                    server.other_device(("mkdir", entry.path))
                if entry.kind != FOLDER:
                    break
                folder = entry.path
            else:
                path = paths.join(folder, paths.name(path))
                if paths.key(path) in disk.entries:
                    continue
                if content is None:
                    disk.mkdir(path)
                    server.other_device(("mkdir", path))
                else:
                    disk.write(path, content)
                    server.other_device(("put", path, None, content))
        local, remote = disk.tree(), server.tree()
        assert local.keys() == remote.keys(), (local, remote)
        with world.index.transaction() as tx:  # both trees as a pass that synced them left them
            tx.put_synced_many((k, replace(remote[k], inode=local[k].inode), None) for k in remote)
            tx.put_remote_many((k, item, _remote_file(item)) for k, item in remote.items())
        return world

    # -- syncing ----------------------------------------------------------------------------------
    def pull(self) -> dict[str, Item]:
        """The server's tree, saved in the index as a pass's pull saves it."""
        remote, before = self.server.tree(), self.index.load_remote()
        with self.index.transaction() as tx:
            tx.mark_remote_changed(k for k in remote.keys() | before.keys() if remote.get(k) != before.get(k))
            tx.clear_remote()
            tx.put_remote_many((k, item, _remote_file(item)) for k, item in remote.items())
        return remote

    def executor(self) -> Executor:
        """The shipped executor, on this world's ports, for a plan made from the disk as it is now."""
        ports = Ports(
            WatchedServer(self.server, self.watch),
            FakeTransfers(self.disk, self.server, self.watch),
            WatchedDisk(self.disk, self.watch),
            self.index,
        )
        return Executor(ports, NAMESPACE, self.disk.scan())

    def plan(self, remote: dict[str, Item]) -> tuple[list[Action], set[str]]:
        """The plan of what changed (``core.scope``, over the real index), as a pass makes it; it must
        be the plan of the whole trees, and the index must find the remote changes the rule does."""
        synced, local = self.synced, self.disk.tree()
        changed = {
            k for k in synced.keys() | remote.keys() if scope.remote_differs(synced.get(k), remote.get(k))
        }
        assert self.index.remote_differing_keys() == changed  # the SQL join is the pure rule
        # A pass plans the keys pulls marked since the last settled pass, not the join: a key can
        # differ unmarked (spelled otherwise by each side), and must then plan to nothing.
        changed = self.index.remote_changed_keys()
        in_scope = scope.read_scope(scope.local_changes(synced, local), changed, self.index)
        actions = self._plan_over(in_scope)
        whole = plan(synced, local, remote, device=DEVICE, today=self.today)
        assert actions == whole, f"planned over the changes: {actions}\nover everything: {whole}"
        self._check_parts(synced, local, remote, changed, whole)
        return actions, in_scope.keys

    def _plan_over(self, in_scope: scope.Scope) -> list[Action]:
        """The plan of a scope's trees, names outside it checked against the index, as a pass plans."""
        return plan(
            in_scope.synced,
            in_scope.local,
            in_scope.remote,
            device=DEVICE,
            today=self.today,
            taken_outside=in_scope.taken(self.index),
        )

    def _check_parts(
        self,
        synced: Mapping[str, Item],
        local: Mapping[str, Item],
        remote: Mapping[str, Item],
        changed: set[str],
        whole: list[Action],
    ) -> None:
        """When nothing synced is gone on either side, a pass may plan a part of what changed, the
        first keys in key order (``Synchronizer``: a scan stopped at its budget, a batch of remote
        changes): each such part's plan must be part of the whole plan, and the parts all of it."""
        changes = scope.local_changes(dict(synced), dict(local))
        disappeared = any(
            k in synced and (k not in remote or (remote[k].object_id, remote[k].kind) != (synced[k].object_id,
                                                                                    synced[k].kind))
            for k in synced
        )  # fmt: skip
        assert self.index.remote_disappeared() == disappeared  # the SQL is this rule
        replaced = any(
            k in synced and (synced[k].kind, synced[k].inode) != (item.kind, item.inode)
            for k, item in changes.found.items()
        )
        if changes.gone or disappeared or replaced:
            return
        keys = sorted(changes.found.keys() | changed)
        for size in (1, 2, 3):
            planned: set[Action] = set()
            for end in range(size, len(keys) + size, size):
                part = set(keys[:end])  # a prefix: what a part leaves unsettled comes again first
                found = {k: v for k, v in changes.found.items() if k in part}
                in_part = scope.read_scope(
                    scope.LocalChanges(found, set(), local_empty=changes.local_empty),
                    part & changed,
                    self.index,
                    whole_subtrees=False,
                )
                actions = self._plan_over(in_part)
                extra = [x for x in actions if x not in whole]
                assert not extra, f"a part of {sorted(part)} planned {extra}, not in the whole plan {whole}"
                planned.update(actions)
            assert planned >= set(whole), f"the parts left out {[x for x in whole if x not in planned]}"

    def sync(
        self,
        *,
        max_rounds: int = 4,
        after_first_plan: Callable[[], object] | None = None,
        crash_after: int | None = None,
    ) -> int:
        """Plan and execute until a plan is empty; the number of rounds executed.

        ``after_first_plan``: changes made between the first plan and its execution (remote
        edits: the plan then runs against a server that moved on, and its commits may be refused).
        ``crash_after``: the client is killed after that many actions of the first plan.
        """
        self._in_use()
        for round_number in range(max_rounds + 1):
            remote = self.pull()
            executor = self.executor()
            actions, in_scope = self.plan(remote)
            if not actions:
                with self.index.transaction() as tx:  # settled, as a pass's end records it
                    tx.clear_remote_changed()
                return round_number
            if round_number == max_rounds:
                raise NotConverged(f"still planning after {max_rounds} rounds: {actions}")
            self.plans.append(actions)
            if round_number == 0 and after_first_plan is not None:
                after_first_plan()
            self.watch.strict = after_first_plan is None
            outcome = executor.run(actions[:crash_after] if round_number == 0 else actions)
            if crash_after is None or round_number > 0:  # killed, the client marks nothing
                with self.index.transaction() as tx:  # as a pass marks what its synced rows await
                    tx.mark_remote_changed(in_scope)
            self.outcomes.append(outcome)
            if self.watch.strict and outcome.failed:
                raise BadAction(f"the executor could not apply the plan as made: {outcome.failed}")
        raise AssertionError("unreachable")
