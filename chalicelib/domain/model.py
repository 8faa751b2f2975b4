"""The metadata vocabulary as plain values: nodes of the current tree, journal entries, ops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib.domain import paths

Kind = Literal["file", "folder"]
FILE: Kind = "file"
FOLDER: Kind = "folder"


@dataclass(frozen=True)
class Content:
    """What a file revision holds: its size, mtime, chunk list, content hash and executable bit.

    ``executable`` is the owner-execute bit (Dropbox and git keep only that one): part of the
    revision, so a chmod +x alone makes a new revision and every device applies it.
    """

    size: int
    mtime_ns: int
    content_hash: str
    chunks: tuple[str, ...]
    executable: bool = False

    def same_as(self, other: Content) -> bool:
        """The same file for a put: the same bytes and the same executable bit (mtime aside)."""
        return self.content_hash == other.content_hash and self.executable == other.executable


EMPTY_FOLDER = Content(size=0, mtime_ns=0, content_hash="", chunks=())


@dataclass(frozen=True)
class Node:
    """The state at one path of a namespace: a live object, or a tombstone.

    A tombstone keeps its ``object_id`` after a delete (so a file re-created there continues its
    history) and loses it after a move (the object lives on at its new path).
    """

    path: str
    kind: Kind
    object_id: str | None
    rev: int
    deleted: bool
    seq: int
    content: Content = EMPTY_FOLDER

    @property
    def path_key(self) -> str:
        return paths.key(self.path)

    @property
    def live(self) -> bool:
        return not self.deleted


@dataclass(frozen=True)
class Entry:
    """One change in a namespace's journal; every field is the state after the change."""

    seq: int
    op: Literal["put", "mkdir", "delete", "move"]
    path: str
    object_id: str
    kind: Kind
    rev: int
    deleted: bool
    content: Content
    device_id: str
    created_at_ms: int
    from_path: str | None = None

    def node(self) -> Node:
        return Node(self.path, self.kind, self.object_id, self.rev, self.deleted, self.seq, self.content)

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "seq": self.seq,
            "op": self.op,
            "path": self.path,
            "object_id": self.object_id,
            "kind": self.kind,
            "rev": self.rev,
            "size": self.content.size,
            "mtime": self.content.mtime_ns,
            "content_hash": self.content.content_hash or None,
            "chunks": list(self.content.chunks),
            "executable": self.content.executable,
            "deleted": self.deleted,
        }
        if self.from_path is not None:
            body["from_path"] = self.from_path
        return body


def node_to_api(node: Node) -> dict[str, Any]:
    """A live node as a listing entry: the same shape as a journal entry."""
    assert node.object_id is not None
    return Entry(
        seq=node.seq,
        op="put" if node.kind == FILE else "mkdir",
        path=node.path,
        object_id=node.object_id,
        kind=node.kind,
        rev=node.rev,
        deleted=False,
        content=node.content,
        device_id="",
        created_at_ms=0,
    ).to_api()


@dataclass(frozen=True)
class PutOp:
    path: str
    parent_rev: int | None
    content: Content


@dataclass(frozen=True)
class MkdirOp:
    path: str


@dataclass(frozen=True)
class DeleteOp:
    path: str
    parent_rev: int | None
    # The device's cursor seq: deleting a folder with anything changed after it is a conflict.
    seen_seq: int | None = None


@dataclass(frozen=True)
class MoveOp:
    from_path: str
    to_path: str
    parent_rev: int | None


@dataclass(frozen=True)
class RestoreOp:
    """Make ``content`` (an old revision's) current at ``path``, whatever its current revision."""

    path: str
    content: Content


Op = PutOp | MkdirOp | DeleteOp | MoveOp | RestoreOp


@dataclass
class Plan:
    entries: list[Entry] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    usage_delta_bytes: int = 0
