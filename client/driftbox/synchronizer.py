"""One linked folder kept in sync: read the journal, scan the disk, plan, execute, until nothing is left.

A pass (``once``) repeats rounds of: pull the journal from the saved cursor into the remote rows it
names (those rows and the cursor saved in one transaction), scan the folder for what changed since
the synced tree (one ``stat`` per entry; only the folders events named, when a running sync says
so: ``near``; a twin, a second name with the key of another, is renamed aside and the folder
scanned again: ``core/twins.py``), plan over the scope of what changed on either side
(``core/scope.py``), refusing if the folder looks emptied rather than edited (``check_safe``), and
execute. It ends when a plan has nothing left to do, or after ``MAX_ROUNDS``. A change of more
keys than ``PART_KEYS`` (a first upload or download) is planned in parts when nothing synced is
gone on either side, a bounded part per round (docs/sync-algorithm.md, "A big change goes in parts").

What is never read as "delete everything": a linked folder that is missing or lost its marker (an
unmounted drive, a folder replaced), a server that no longer knows the cursor (410: the trees are
rebuilt and the synced tree forgotten, so both sides merge and nothing is deleted), an index
deleted or emptied (the same merge), and any plan the safety check refuses. Nor is a file or
folder that could not be read (unreadable, changing while read): it stays as last synced; nor a
server entry this client cannot use (``core.journal``): its path is held as last synced, and
reported, while the rest syncs.

``status`` makes the plan a pass would make now and applies nothing, saves nothing: it can run
beside a ``sync``, which holds the home's lock.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from driftbox import errors
from driftbox.adapters import scanner
from driftbox.adapters.api import Api
from driftbox.adapters.disk import LocalDisk
from driftbox.adapters.home import Home, write_private
from driftbox.adapters.index import CachedHash, Index
from driftbox.adapters.transfer import PresignedTransfers
from driftbox.core import actions as a
from driftbox.core import journal, paths, scope
from driftbox.core.model import Item
from driftbox.core.planner import check_safe, plan
from driftbox.disk_scan import MARKER, scan_disk, without_marker
from driftbox.executor import Executor
from driftbox.fetched import Fetched, Look, fetch, pull
from driftbox.ports import Ports
from driftbox.progress import pending_size, transfer_bar
from driftbox.status import NotSynced, Pending, Status, reason

MAX_ROUNDS = 6
# A round plans about this many changed keys at most when the plan can be made in parts (nothing
# synced gone on either side: a first upload or download); the next rounds plan the rest.
PART_KEYS = 10_000
MAX_PART_ROUNDS = 100_000
RESET_NOTICE = (
    "The server no longer knew this device's place in its journal (restored from a backup?): "
    "this folder and the server were merged, keeping everything, deleting nothing."
)
WORKERS = 8


def link_folder(folder: Path, home: Home) -> Path:
    """Create the folder if need be and mark it as linked; refuse the home itself or a file."""
    resolved = folder.expanduser().resolve()
    if resolved.exists() and not resolved.is_dir():
        raise errors.UsageError(f"{resolved} is a file, not a folder")
    for private in (home.config_dir, home.data_dir):
        if resolved == private.resolve() or private.resolve().is_relative_to(resolved):
            raise errors.UsageError(f"{resolved} holds Driftbox's own files; link another folder")
    resolved.mkdir(parents=True, exist_ok=True)
    marker = resolved / MARKER
    if not marker.exists():
        write_private(marker, f"driftbox linked folder {secrets.token_hex(8)}\n".encode())
    return resolved


@dataclass
class Report:
    rounds: int = 0
    uploaded: int = 0
    downloaded: int = 0
    actions: int = 0
    problems: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # what the user should know, once

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        moved = (
            f"{self.actions} change(s) applied, {self.uploaded:,} bytes up, {self.downloaded:,} bytes down"
        )
        state = "In sync." if self.ok else f"{len(self.problems)} item(s) not synced."
        return "".join(f"{notice}\n" for notice in self.notices) + f"{state} {moved}."


def _lock(path: Path) -> int:
    """One sync at a time per home: a second would fight the first over the same index and folder."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise errors.UsageError("another driftbox is syncing with this home; stop it first") from None
    return fd


def _locked_by_another(path: Path) -> bool:
    try:
        os.close(_lock(path))
    except errors.UsageError:
        return True
    return False


def _paths_of(actions: Iterable[a.Action]) -> set[str]:
    """Every local path the actions name (both ends of moves)."""
    named: set[str] = set()
    for action in actions:
        for name in ("path", "from_path", "to_path"):
            value = getattr(action, name, None)
            if isinstance(value, str):
                named.add(value)
    return named


def _without_marker_keys(keys: set[str]) -> set[str]:
    return keys - {"/" + MARKER}


def _with_unreadable(
    local: Mapping[str, Item], problems: Mapping[str, str], synced: Mapping[str, Item]
) -> dict[str, Item]:
    """The local tree, where what could not be read stands as last synced: unknown is not deleted.

    A file the scan could not read (permissions, changing while read, vanished mid-walk) or a folder
    it could not list is missing from ``local``; planned as such, its synced state would be deleted
    on the server, and so on every other device.
    """
    kept = dict(local)
    for problem_key in {paths.key(path) for path in problems}:
        for path_key, item in synced.items():
            if path_key == problem_key or paths.is_within(path_key, problem_key):
                kept.setdefault(path_key, item)
    return kept


class Synchronizer:
    def __init__(self, api: Api, index: Index, root: Path, namespace_id: str, device_name: str) -> None:
        self.api = api
        self.index = index
        self.root = root
        self.namespace_id = namespace_id
        self.part_keys = PART_KEYS
        self._in_parts = True
        self.device_name = device_name
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="transfer")
        self.last_cursor: str | None = index.cursor()  # for the long-poll thread (no SQLite there)
        self.sync_running = False  # opened to look only, beside a sync of this home
        self._lock: int | None = None
        self._notices: list[str] = []

    @classmethod
    def open(
        cls, api: Api, home: Home, root: Path, namespace_id: str, device_name: str, *, look_only: bool = False
    ) -> Synchronizer:
        """``look_only`` (for ``status``): without the home's lock, so beside a running sync."""
        lock_path = home.index_path.with_name("sync.lock")
        lock = None if look_only else _lock(lock_path)
        try:
            sync = cls(api, Index.open(home.index_path, root, namespace_id), root, namespace_id, device_name)
        except BaseException:
            if lock is not None:
                os.close(lock)
            raise
        sync._lock = lock
        sync.sync_running = look_only and _locked_by_another(lock_path)
        return sync

    def __enter__(self) -> Synchronizer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.index.close()
        if self._lock is not None:
            os.close(self._lock)

    # -- the folder must be the one linked -----------------------------------------------------
    def check_folder(self) -> None:
        if not self.root.is_dir():
            raise errors.Unsafe(f"{self.root} is missing: is its drive unmounted? Nothing was synced")
        if not (self.root / MARKER).is_file():
            raise errors.Unsafe(
                f"{self.root} lacks its {MARKER} marker: is it unmounted or replaced? Nothing was synced; "
                "run `driftbox link` on it again if it is the right folder"
            )

    # -- the remote tree -------------------------------------------------------------------------
    def _fetch(self) -> Fetched:
        return fetch(self.api, self.index, self.namespace_id)

    def pull(self) -> None:
        """Bring the saved remote tree and cursor up to the server (``fetched.pull``)."""
        if pull(self.api, self.index, self.namespace_id):
            self._notices.append(RESET_NOTICE)

    # -- a pass ------------------------------------------------------------------------------------
    def _scan(
        self,
        *,
        save: bool = True,
        known: bool = True,
        near: Collection[str] | None = None,
        budget: int | None = None,
    ) -> scanner.Scan:
        """What changed on disk (``disk_scan.scan_disk``); renames twins aside unless not ``save``."""
        found, notices = scan_disk(self.root, self.index, save=save, known=known, near=near, budget=budget)
        self._notices += notices
        return found

    def _plan(
        self,
        found: scanner.Scan,
        look: Look,
        held: Mapping[str, journal.Unusable],
        *,
        deletes_confirmed: bool = False,
        in_parts: bool = False,
    ) -> tuple[list[a.Action], scope.Scope]:
        """The plan for what changed (``core.scope``): the keys the scan found changed, those where
        the remote tree is not the synced one, and the held ones, with what deciding them needs.

        ``in_parts`` (``plan_round``: more changed than a part holds, and ``_parts_possible``): a scan
        that stopped at its budget is planned alone, the remote changes waiting; else the first
        ``part_keys`` remote changes in key order. Later rounds plan the rest."""
        changes = scope.LocalChanges(
            found.tree,
            found.gone,
            found.problems,
            local_empty=found.empty if found.empty is not None else not found.tree and not found.unchanged,
        )
        if in_parts and found.more:
            remote_changed, whole = set(held), False
        elif in_parts:
            remote_changed, whole = set(self.index.remote_changed_first(self.part_keys)) | set(held), False
        else:
            remote_changed, whole = look.remote_changed() | set(held), True
        in_scope = scope.read_scope(changes, _without_marker_keys(remote_changed), look, whole_subtrees=whole)
        # Another device's marker never comes here, nor goes there.
        synced = without_marker(in_scope.synced)
        remote = journal.held_as_synced(without_marker(in_scope.remote), synced, held)
        local = _with_unreadable(in_scope.local, found.problems, synced)
        why = check_safe(synced, local, total=look.synced_count, local_empty=changes.local_empty)
        if why is not None and not deletes_confirmed:
            raise errors.Unsafe(
                f"not syncing {self.root}: {why}. If those deletes are meant, "
                "`driftbox sync --once --confirm-deletes` makes them (`driftbox restore` brings a file back)"
            )
        actions: list[a.Action] = plan(
            synced,
            local,
            remote,
            device=self.device_name,
            today=dt.date.today(),
            taken_outside=in_scope.taken(look),
        )
        in_scope.local = local
        return actions, in_scope

    def once(self, *, confirm_deletes: bool = False, near: Collection[str] | None = None) -> Report:
        """One pass. ``confirm_deletes``: the person has said the deletes the safety check holds back
        are meant (a folder emptied on purpose); for this pass only. ``near``: the disk changed only
        at these paths (file events say so): only the folders holding them are scanned."""
        self.check_folder()
        try:
            return self._pass(confirm_deletes, None if near is None else set(near))
        finally:
            self.last_cursor = self.index.cursor()

    def _pass(self, confirm_deletes: bool, near: set[str] | None) -> Report:
        report, settled, rounds = Report(), False, 0
        marked = self.index.remote_changed_count()
        if near is not None and len(near) > self.part_keys:
            near = None  # so many events: a whole scan, which can be planned in parts
        self._in_parts = True
        while rounds < MAX_ROUNDS and report.rounds < MAX_PART_ROUNDS:
            report.rounds += 1
            found, actions, in_scope = self.plan_round(confirm_deletes=confirm_deletes, near=near)
            rounds += not in_scope.part
            if not found.more:
                # The next round looks where this one changed the disk, and at what it could not
                # sync: the rest of the disk is as this round found it (too many paths: all of it).
                named = (near or set()) | _paths_of(actions) | set(found.problems)
                near = named if len(named) <= self.part_keys else None
            self._refresh_stats(found, in_scope)
            work = [x for x in actions if not isinstance(x, a.Record)]
            with transfer_bar(work, in_scope.local) as on_bytes:
                outcome = self.executor(self._scanned(in_scope.local, found.hashed), on_bytes).run(actions)
            done = not work and not outcome.failed
            with self.index.transaction() as tx:
                if work:  # the synced rows it wrote wait for the server's word: planned until settled
                    # (a part moves and deletes nothing: its actions' keys are all it wrote)
                    acted = {paths.key(path) for path in _paths_of(work)}
                    tx.mark_remote_changed(acted if in_scope.part else in_scope.keys)
                elif done and in_scope.part:  # this part is settled
                    tx.clear_remote_changed(in_scope.keys)
            report.uploaded += outcome.bytes_up
            report.downloaded += outcome.bytes_down
            report.actions += outcome.done
            report.problems = {**found.problems, **outcome.failed, **self._unusable()}
            if in_scope.part:
                marked, before = self.index.remote_changed_count(), marked
                if outcome.done == 0 and marked >= before:
                    self._in_parts = False  # a part that moves nothing on: plan the whole from now on
                continue
            if done:
                settled = True
                break
            if outcome.done == 0 and outcome.failed:
                break
        self._end_pass(report.problems, settled)
        report.notices, self._notices = self._notices, []
        return report

    def _refresh_stats(self, found: scanner.Scan, in_scope: scope.Scope) -> None:
        """Record the new stat of each file the scan found with its synced bytes and inode (a touch,
        a stat never recorded): it plans to nothing, and would be found changed again every pass."""
        fresh = {
            path_key: found.hashed[path_key].stat
            for path_key, item in found.tree.items()
            if path_key in found.hashed
            and path_key in in_scope.synced
            and scope.as_local(in_scope.synced[path_key]) == item
        }
        if fresh:
            with self.index.transaction() as tx:
                tx.refresh_synced_stats(fresh)

    def plan_round(
        self, *, confirm_deletes: bool = False, near: Collection[str] | None = None
    ) -> tuple[scanner.Scan, list[a.Action], scope.Scope]:
        """A round's first half: pull, scan, plan (saving the pull and the stat cache)."""
        self.pull()
        found = self._scan(near=near, budget=self.part_keys if self._in_parts and near is None else None)
        big = found.more or self.index.remote_changed_count() > self.part_keys
        in_parts = self._in_parts and big and self._parts_possible(found)
        if found.more and not in_parts:
            found = self._scan(near=near)
        held = self.index.load_unusable()
        actions, in_scope = self._plan(
            found, Look(self.index), held, deletes_confirmed=confirm_deletes, in_parts=in_parts
        )
        return found, actions, in_scope

    def _parts_possible(self, found: scanner.Scan) -> bool:
        """Whether a plan of part of what changed is part of the whole plan: every synced item is on
        disk as it was (its key, kind and inode) and in the remote tree (its object and kind), so
        that there is no delete, no move, no replacement, whose plans read the subtrees and both
        ends. So a first upload or download, or one resumed."""
        if found.gone or self.index.remote_disappeared():
            return False
        synced = self.index.synced_items(found.tree.keys())
        for path_key, item in found.tree.items():
            was = synced.get(path_key)
            if was is not None and (was.kind, was.inode) != (item.kind, item.inode):
                return False
        return not (found.more and scanner.synced_moved(self.root, self.index.synced_children))

    def round_executor(self, found: scanner.Scan, in_scope: scope.Scope) -> Executor:
        """The executor for a plan ``plan_round`` made: on the stat cache of the files it saw."""
        return self.executor(self._scanned(in_scope.local, found.hashed))

    def _scanned(self, local: Mapping[str, Item], hashed: Mapping[str, CachedHash]) -> dict[str, CachedHash]:
        """The stat cache of every local file in scope, as the plan saw it: what the scan hashed, and
        for each unchanged file its synced stat (which the scan found) with its chunk list."""
        scanned = {k: v for k, v in hashed.items() if k in local}
        unchanged = {k: item for k, item in local.items() if item.is_file and k not in scanned}
        if not unchanged:
            return scanned
        stats, cached = self.index.synced_stats_of(unchanged), self.index.stats_of(unchanged)
        chunks = {c.content_hash: c.chunks for c in cached.values()}
        missing = {item.content_hash for item in unchanged.values()} - chunks.keys()
        chunks.update(self.index.chunks_of(missing) if missing else {})
        for path_key, item in unchanged.items():
            stat = stats.get(path_key)
            if stat is not None and item.content_hash in chunks:
                scanned[path_key] = CachedHash(stat, item.content_hash, chunks[item.content_hash])
        return scanned

    def executor(
        self, scanned: dict[str, CachedHash], on_bytes: Callable[[int], None] = lambda size: None
    ) -> Executor:
        """An executor for a plan made from ``scanned`` (this round's scan), on the real adapters."""
        transfers = PresignedTransfers(self.api, self.namespace_id, self.root, self.pool)
        ports = Ports(self.api, transfers, LocalDisk(self.root), self.index)
        return Executor(ports, self.namespace_id, scanned, on_bytes)

    def _unusable(self) -> dict[str, str]:
        return {u.path: u.why for u in self.index.load_unusable().values()}

    def _end_pass(self, problems: dict[str, str], settled: bool) -> None:
        """``settled``: the last round planned nothing to do, so the remote changes are all settled."""
        with self.index.transaction() as tx:
            if settled:
                tx.clear_remote_changed()
            tx.clear_problems()
            for path, why in problems.items():
                tx.set_problem(path, why)
            tx.set_last_pass(time.time())

    # -- status: the plan a pass would make now, applied to nothing, saved nowhere ------------------
    def status(self) -> Status:
        self.check_folder()
        notices: list[str] = []
        offline: str | None = None
        try:
            fetched = self._fetch()
            look, reset, unusable = (
                Look(self.index, fetched, forget_synced=fetched.reset),
                fetched.reset,
                fetched.unusable,
            )
            if reset:
                notices.append(
                    "The server no longer knows this device's place: the next sync merges both sides."
                )
        except errors.DriftboxError as exc:  # offline: say what is known
            look, reset, offline = Look(self.index), False, str(exc)
            unusable = self.index.load_unusable()
        found = self._scan(save=False, known=not reset)
        actions, in_scope = self._plan(found, look, unusable)
        problems = {**found.problems, **{u.path: u.why for u in unusable.values()}}
        pending = [
            Pending(x, pending_size(x, in_scope.local)) for x in actions if not isinstance(x, a.Record)
        ]
        recorded = {p.path: p for p in self.index.problems()}
        not_synced = [
            NotSynced(
                path,
                reason(problems.get(path) or recorded[path].message),
                recorded[path].time_s if path in recorded else None,
                path in problems,
            )
            for path in sorted(recorded.keys() | problems.keys())
        ]
        return Status(
            self.root, pending, not_synced, self.index.last_pass_s(), offline, notices, self.sync_running
        )

    def forever(self, watch: Literal["auto", "polling"] = "auto") -> None:
        from driftbox.watching import run_forever

        run_forever(self, watch)
