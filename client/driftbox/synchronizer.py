"""One linked folder kept in sync: read the journal, scan the disk, plan, execute, until nothing is left.

A pass (``once``) repeats rounds of: pull the journal from the saved cursor into the remote tree
(the tree and the cursor saved in one transaction), scan the folder (stat only for unchanged
files), refuse if the picture looks like a disaster rather than a user's intent (``check_safe``),
plan, execute. It ends when a plan has nothing left to do, or after ``MAX_ROUNDS``.

What is never read as "delete everything": a linked folder that is missing or lost its marker (an
unmounted drive, a folder replaced), a server that no longer knows the cursor (410: the trees are
rebuilt and the synced tree forgotten, so both sides merge and nothing is deleted), an index
deleted or emptied (the same merge), and any plan the safety check refuses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from driftbox import errors
from driftbox.adapters import fs, scanner
from driftbox.adapters.api import Api
from driftbox.adapters.home import Home, write_private
from driftbox.adapters.index import Index
from driftbox.core import actions as a
from driftbox.core import journal
from driftbox.core.model import Item
from driftbox.core.planner import check_safe, plan
from driftbox.executor import Executor

MARKER = ".driftbox"  # in the linked folder's root: proves it is the folder that was linked
MAX_ROUNDS = 6
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

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        moved = (
            f"{self.actions} change(s) applied, {self.uploaded:,} bytes up, {self.downloaded:,} bytes down"
        )
        state = "In sync." if self.ok else f"{len(self.problems)} item(s) not synced."
        return f"{state} {moved}."


@dataclass
class Status:
    folder: Path
    pending: Sequence[a.Action]
    problems: dict[str, str]

    def describe(self) -> str:
        ups = [x for x in self.pending if isinstance(x, a.REMOTE_ACTIONS)]
        downs = [x for x in self.pending if isinstance(x, a.LOCAL_ACTIONS)]
        lines = [f"Folder: {self.folder}"]
        if not ups and not downs and not self.problems:
            lines.append("In sync.")
        else:
            lines.append(f"Pending: {len(ups)} to send, {len(downs)} to apply here.")
            lines += [f"  {_describe(x)}" for x in (ups + downs)[:50]]
        lines += [f"Not synced: {path}: {why}" for path, why in sorted(self.problems.items())]
        return "\n".join(lines)


@contextlib.contextmanager
def _progress(work: Sequence[a.Action]) -> Iterator[Callable[[int], None]]:
    """A transfer bar on a terminal, for passes that move files; elsewhere nothing."""
    moving = sum(isinstance(x, a.Upload | a.Download) for x in work)
    if not moving or not sys.stdout.isatty():
        yield lambda size: None
        return
    from rich.progress import DownloadColumn, Progress, SpinnerColumn, TextColumn, TransferSpeedColumn

    columns = (SpinnerColumn(), TextColumn(f"{moving} file(s)"), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("transfer", total=None)
        yield lambda size: bar.advance(task, size)


def _lock(path: Path) -> int:
    """One sync at a time per home: a second would fight the first over the same index and folder."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise errors.UsageError("another driftbox is syncing with this home; stop it first") from None
    return fd


def _without_marker(tree: dict[str, Item]) -> dict[str, Item]:
    return {k: v for k, v in tree.items() if k != "/" + MARKER}


def _describe(action: a.Action) -> str:
    name = type(action).__name__
    where = (
        f"{action.from_path} -> {action.to_path}" if isinstance(action, a.MoveRemote | a.MoveLocal) else ""
    )
    return f"{name} {where or getattr(action, 'path', '')}"


class Synchronizer:
    def __init__(self, api: Api, index: Index, root: Path, namespace_id: str, device_name: str) -> None:
        self.api = api
        self.index = index
        self.root = root
        self.namespace_id = namespace_id
        self.device_name = device_name
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="transfer")
        self.last_cursor: str | None = index.cursor()  # for the long-poll thread (no SQLite there)
        self._lock: int | None = None

    @classmethod
    def open(cls, api: Api, home: Home, root: Path, namespace_id: str, device_name: str) -> Synchronizer:
        lock = _lock(home.index_path.with_name("sync.lock"))
        try:
            sync = cls(api, Index.open(home.index_path, root, namespace_id), root, namespace_id, device_name)
        except BaseException:
            os.close(lock)
            raise
        sync._lock = lock
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
    def pull(self) -> None:
        cursor = self.index.cursor()
        if cursor is None:
            self._list_all()
            return
        try:
            pages = list(self.api.pages(self.namespace_id, cursor))
        except errors.CursorReset:
            self._list_all(forget_synced=True)
            return
        tree, files = self.index.load_remote(), self.index.load_remote_files()
        before = dict(tree)
        for page in pages:
            journal.apply(tree, files, page["entries"])
        with self.index.transaction() as tx:
            for path_key in before.keys() - tree.keys():
                tx.delete_remote(path_key)
            tx.put_remote_many((k, item, files.get(k)) for k, item in tree.items() if before.get(k) != item)
            tx.set_cursor(pages[-1]["cursor"])

    def _list_all(self, *, forget_synced: bool = False) -> None:
        """The whole tree from a listing; after a reset, without a base, so nothing is deleted."""
        tree: dict[str, Item] = {}
        files: dict[str, journal.RemoteFile] = {}
        cursor = None
        for page in self.api.pages(self.namespace_id):
            journal.apply(tree, files, page["entries"])
            cursor = page["cursor"]
        with self.index.transaction() as tx:
            tx.clear_remote()
            if forget_synced:
                tx.clear_synced()
                tx.set_problem("/", "the server no longer knew this device's cursor: merged without deleting")
            tx.put_remote_many((k, item, files.get(k)) for k, item in tree.items())
            tx.set_cursor(cursor)

    # -- a pass ------------------------------------------------------------------------------------
    def _scan(self) -> scanner.Scan:
        def hasher(path: Path) -> tuple[str, tuple[str, ...]]:
            hashed = fs.hash_file(path)
            return hashed.content_hash, hashed.chunks

        found = scanner.scan(self.root, self.index.load_stat_cache(), hasher)
        for leftover in found.leftovers:  # only one sync runs per home (the lock): these are dead
            leftover.unlink(missing_ok=True)
        found.tree = _without_marker(found.tree)
        with self.index.transaction() as tx:
            tx.replace_stat_cache(found.hashed)
        return found

    def _plan(self, found: scanner.Scan) -> list[a.Action]:
        # Another device's marker never comes here, nor goes there.
        synced, remote = _without_marker(self.index.load_synced()), _without_marker(self.index.load_remote())
        reason = check_safe(synced, found.tree, remote)
        if reason is not None:
            raise errors.Unsafe(f"not syncing {self.root}: {reason}")
        actions: list[a.Action] = plan(
            synced, found.tree, remote, device=self.device_name, today=dt.date.today()
        )
        return actions

    def once(self) -> Report:
        self.check_folder()
        try:
            return self._pass()
        finally:
            self.last_cursor = self.index.cursor()

    def _pass(self) -> Report:
        report = Report()
        for _ in range(MAX_ROUNDS):
            report.rounds += 1
            self.pull()
            found = self._scan()
            actions = self._plan(found)
            work = [x for x in actions if not isinstance(x, a.Record)]
            with _progress(work) as on_bytes:
                executor = Executor(
                    self.api, self.index, self.root, self.namespace_id, self.pool, found.hashed, on_bytes
                )
                outcome = executor.run(actions)
            report.uploaded += outcome.bytes_up
            report.downloaded += outcome.bytes_down
            report.actions += outcome.done
            report.problems = {**found.problems, **outcome.failed}
            if not work or (outcome.done == 0 and outcome.failed):
                break
        self._save_problems(report.problems)
        return report

    def _save_problems(self, problems: dict[str, str]) -> None:
        with self.index.transaction() as tx:
            tx.clear_problems()
            for path, why in problems.items():
                tx.set_problem(path, why)

    def status(self) -> Status:
        self.check_folder()
        with contextlib.suppress(errors.DriftboxError):
            self.pull()  # offline: say what is known
        found = self._scan()
        actions = [x for x in self._plan(found) if not isinstance(x, a.Record)]
        problems = {p.path: p.message for p in self.index.problems()} | found.problems
        return Status(self.root, actions, problems)

    def forever(self) -> None:
        from driftbox.watching import run_forever

        run_forever(self)
