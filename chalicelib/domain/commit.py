"""Commit decisions: turn a list of ops and the current tree into journal entries, or conflicts.

Pure: the tree is read through ``TreeView`` and nothing is written. Ops apply in order, each
seeing the effect of the ones before it; every conflict is collected so the client learns of all
of them at once, and any conflict refuses the whole commit.

A new revision's ``rev`` is the ``seq`` of the journal entry that makes it (a put, a mkdir, a
delete's tombstone); a move keeps it, as the content does not change. Seqs never repeat within a
namespace, so a rev names one version of one object: a ``parent_rev`` seen on an object that has
since been moved away can never match a different object created at its old path later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from chalicelib.domain import paths
from chalicelib.domain.model import (
    EMPTY_FOLDER,
    FILE,
    FOLDER,
    DeleteOp,
    Entry,
    MkdirOp,
    MoveOp,
    Node,
    Op,
    Plan,
    PutOp,
    RestoreOp,
)
from chalicelib.errors import Conflict, CursorReset, InvalidRequest, TooLarge


class TreeView(Protocol):
    def get(self, path_key: str) -> Node | None: ...

    def descendants(self, path_key: str) -> Iterable[Node]:
        """Every live node strictly below ``path_key`` (tombstones may be among them, and are skipped)."""
        ...


class _OpConflict(Exception):
    def __init__(self, path: str, current: Node | None) -> None:
        super().__init__(path)
        live = current is not None and current.live
        self.body: dict[str, Any] = {
            "path": path,
            "current_rev": current.rev if live and current else None,
            "current_kind": current.kind if live and current else None,
        }


class _Planner:
    def __init__(
        self,
        view: TreeView,
        *,
        head_seq: int,
        device_id: str,
        now_ms: int,
        new_id: Callable[[], str],
        max_entries: int,
    ) -> None:
        self._view = view
        self._overlay: dict[str, Node] = {}
        self._head_seq = head_seq
        self._device_id = device_id
        self._now_ms = now_ms
        self._new_id = new_id
        self._max_entries = max_entries
        # For a node this commit moved: the seq of its last change before this commit (0 if this
        # commit created it), since its own seq now names the move, which the device did itself.
        self._outside_seq: dict[str, int] = {}
        self.plan = Plan()

    # -- reading the tree as changed so far -------------------------------------------------
    def _get(self, path_key: str) -> Node | None:
        if path_key in self._overlay:
            return self._overlay[path_key]
        return self._view.get(path_key)

    def _live(self, path_key: str) -> Node | None:
        node = self._get(path_key)
        return node if node is not None and node.live else None

    def _live_descendants(self, path_key: str) -> list[Node]:
        below = {node.path_key: node for node in self._view.descendants(path_key)}
        below.update((k, n) for k, n in self._overlay.items() if paths.is_within(k, path_key))
        return sorted((n for n in below.values() if n.live), key=lambda n: n.path_key)

    def _last_outside_change(self, node: Node) -> int:
        """The seq of the newest change to ``node`` made by anything but this commit's ops."""
        if node.seq <= self._head_seq:
            return node.seq
        return self._outside_seq.get(node.path_key, 0)

    # -- writing ------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        """The seq of the next entry: also the rev of a revision that entry makes."""
        return self._head_seq + len(self.plan.entries) + 1

    def _emit(self, op: str, node: Node, from_path: str | None = None, outside_seq: int = 0) -> Entry:
        if len(self.plan.entries) >= self._max_entries:
            raise TooLarge(f"a commit may change at most {self._max_entries} paths; split it")
        seq = self._next_seq()
        assert node.object_id is not None
        entry = Entry(
            seq=seq,
            op=op,  # type: ignore[arg-type]
            path=node.path,
            object_id=node.object_id,
            kind=node.kind,
            rev=node.rev,
            deleted=node.deleted,
            content=node.content,
            device_id=self._device_id,
            created_at_ms=self._now_ms,
            from_path=from_path,
        )
        self.plan.entries.append(entry)
        self._overlay[node.path_key] = entry.node()
        self._outside_seq[node.path_key] = outside_seq
        return entry

    def _result(self, node: Node) -> None:
        self.plan.results.append(
            {"path": node.path, "object_id": node.object_id, "rev": node.rev, "seq": node.seq}
        )

    def _successor(self, current: Node | None, kind: str) -> str:
        """The object id for something new at a path that holds ``current``."""
        if current is not None and current.object_id is not None and current.kind == kind:
            return current.object_id
        return self._new_id()

    def _ensure_parents(self, path: str) -> str:
        """Create missing folders above ``path``; return the parent's display path ("" for root)."""
        display = ""
        for ancestor in paths.ancestors(path):
            node = self._get(paths.key(ancestor))
            if node is not None and node.live:
                if node.kind == FILE:
                    raise _OpConflict(node.path, node)
                display = node.path
                continue
            display = f"{display}/{paths.name(ancestor)}"
            object_id = self._successor(node, FOLDER)
            self._emit("mkdir", Node(display, FOLDER, object_id, self._next_seq(), False, 0))
        return display

    # -- ops ----------------------------------------------------------------------------------
    def put(self, op: PutOp | RestoreOp, *, parent_rev: int | None, check_rev: bool) -> None:
        path_key = paths.key(op.path)
        current = self._get(path_key)
        live = current if current is not None and current.live else None
        if live is not None and live.kind == FOLDER:
            raise _OpConflict(live.path, live)
        if check_rev and parent_rev != (live.rev if live else None):
            raise _OpConflict(live.path if live else op.path, live)
        if live is not None and live.content.same_as(op.content):
            self._result(live)  # same bytes and mode: nothing changes, as Dropbox does
            return
        display = live.path if live is not None else f"{self._ensure_parents(op.path)}/{paths.name(op.path)}"
        object_id = self._successor(current, FILE)
        entry = self._emit("put", Node(display, FILE, object_id, self._next_seq(), False, 0, op.content))
        self.plan.usage_delta_bytes += op.content.size - (live.content.size if live else 0)
        self._result(entry.node())

    def mkdir(self, op: MkdirOp) -> None:
        current = self._get(paths.key(op.path))
        if current is not None and current.live:
            if current.kind == FILE:
                raise _OpConflict(current.path, current)
            self._result(current)
            return
        display = f"{self._ensure_parents(op.path)}/{paths.name(op.path)}"
        object_id = self._successor(current, FOLDER)
        folder = Node(display, FOLDER, object_id, self._next_seq(), False, 0)
        self._result(self._emit("mkdir", folder).node())

    def _check_source(self, path: str, parent_rev: int | None) -> Node:
        live = self._live(paths.key(path))
        if live is None:
            raise _OpConflict(path, None)
        if parent_rev != live.rev and not (parent_rev is None and live.kind == FOLDER):
            raise _OpConflict(live.path, live)
        return live

    def _check_seen(self, nodes: list[Node], seen_seq: int) -> None:
        """Refuse to delete what changed after the device's cursor (first such node, parents first)."""
        for node in nodes:
            if self._last_outside_change(node) > seen_seq:
                raise _OpConflict(node.path, node)

    def delete(self, op: DeleteOp) -> None:
        if op.seen_seq is not None and op.seen_seq > self._head_seq:
            raise CursorReset(
                "seen_seq is past the namespace's head: the server no longer knows what this device "
                "has seen; list the namespace again",
                path=op.path,
                seen_seq=op.seen_seq,
            )
        target = self._check_source(op.path, op.parent_rev)
        doomed = [target]
        if target.kind == FOLDER:
            doomed += self._live_descendants(target.path_key)
            if op.seen_seq is not None:
                self._check_seen(doomed, op.seen_seq)
        # Deepest first, so a client replaying the journal empties folders before removing them.
        for node in sorted(doomed, key=lambda n: n.path_key, reverse=True):
            rev = self._next_seq()
            tombstone = Node(node.path, node.kind, node.object_id, rev, True, 0, EMPTY_FOLDER)
            entry = self._emit("delete", tombstone)
            self.plan.usage_delta_bytes -= node.content.size
            if node is target:
                self._result(entry.node())

    def move(self, op: MoveOp) -> None:
        source = self._check_source(op.from_path, op.parent_rev)
        to_key = paths.key(op.to_path)
        same_key = to_key == source.path_key
        if paths.is_within(to_key, source.path_key):
            raise InvalidRequest("a folder cannot be moved into itself", path=op.to_path)
        if not same_key:
            destination = self._live(to_key)
            if destination is not None:
                raise _OpConflict(destination.path, destination)
            new_root = f"{self._ensure_parents(op.to_path)}/{paths.name(op.to_path)}"
        else:
            new_root = f"{paths.parent(source.path).rstrip('/')}/{paths.name(op.to_path)}"
        if new_root == source.path:  # also when only a parent's case differs: parents keep theirs
            self._result(source)
            return
        moving = [source]
        if source.kind == FOLDER:
            moving += self._live_descendants(source.path_key)
        for node in moving:  # parents first, so a client creates folders before their contents
            new_path = paths.rebase(node.path, source.path, new_root)
            if not same_key:
                self._overlay[node.path_key] = Node(
                    node.path, node.kind, None, node.rev, True, node.seq, EMPTY_FOLDER
                )
            moved = Node(new_path, node.kind, node.object_id, node.rev, False, 0, node.content)
            outside_seq = self._last_outside_change(node)
            entry = self._emit("move", moved, from_path=node.path, outside_seq=outside_seq)
            if node is source:
                self._result(entry.node())


def plan_commit(
    view: TreeView,
    ops: list[Op],
    *,
    head_seq: int,
    device_id: str,
    now_ms: int,
    new_id: Callable[[], str],
    max_entries: int = 10_000,
) -> Plan:
    """Decide what ``ops`` do to the tree at ``head_seq``; raise Conflict listing every conflict."""
    planner = _Planner(
        view,
        head_seq=head_seq,
        device_id=device_id,
        now_ms=now_ms,
        new_id=new_id,
        max_entries=max_entries,
    )
    conflicts: list[dict[str, Any]] = []
    for op in ops:
        try:
            if isinstance(op, PutOp):
                planner.put(op, parent_rev=op.parent_rev, check_rev=True)
            elif isinstance(op, RestoreOp):
                planner.put(op, parent_rev=None, check_rev=False)
            elif isinstance(op, MkdirOp):
                planner.mkdir(op)
            elif isinstance(op, DeleteOp):
                planner.delete(op)
            else:
                planner.move(op)
        except _OpConflict as conflict:
            conflicts.append(conflict.body)
    if conflicts:
        raise Conflict("the namespace changed since the device last saw it", conflicts=conflicts)
    return planner.plan
