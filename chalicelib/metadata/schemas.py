"""Request shapes of the metadata routes, and their translation into domain ops."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain import content as content_rules
from chalicelib.domain import paths
from chalicelib.domain.model import Content, DeleteOp, MkdirOp, MoveOp, Op, PutOp
from chalicelib.errors import InvalidRequest

MAX_OPS = 1000
MAX_FILE_CHUNKS = 40_000  # 156 GiB: keeps a file's chunk list within one response


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PutSpec(_Strict):
    op: Literal["put"]
    path: str
    parent_rev: int | None
    size: int
    mtime: int  # nanoseconds since the epoch (content_rules.MTIME_NS_MIN to MTIME_NS_MAX)
    chunks: list[str]
    content_hash: str
    executable: bool = False  # the owner-execute bit


class MkdirSpec(_Strict):
    op: Literal["mkdir"]
    path: str


class DeleteSpec(_Strict):
    op: Literal["delete"]
    path: str
    parent_rev: int | None
    seen_seq: int | None = None


class MoveSpec(_Strict):
    op: Literal["move"]
    from_path: str = Field(alias="from")
    to: str
    parent_rev: int | None


OpSpec = Annotated[PutSpec | MkdirSpec | DeleteSpec | MoveSpec, Field(discriminator="op")]


class CommitBody(_Strict):
    namespace_id: str
    ops: list[OpSpec]


class RestoreBody(_Strict):
    namespace_id: str
    path: str
    rev: int


class ObjectsQuery(_Strict):
    namespace_id: str
    cursor: str | None = None
    limit: int = Field(default=500, ge=1, le=2000)


class FolderQuery(_Strict):
    namespace_id: str
    path: str = "/"
    cursor: str | None = None
    limit: int = Field(default=500, ge=1, le=2000)


class LongpollQuery(_Strict):
    namespace_id: str
    cursor: str
    timeout: int = Field(default=30, ge=1, le=480)


class RevisionsQuery(_Strict):
    namespace_id: str
    path: str
    limit: int = Field(default=100, ge=1, le=1000)


def _content(spec: PutSpec, i: int) -> Content:
    field = f"ops.{i}"
    if spec.size < 0:
        raise InvalidRequest(f"{field}: size must not be negative", field=field)
    content_rules.check_mtime_ns(spec.mtime, field=f"{field}.mtime")
    for j, chunk in enumerate(spec.chunks):
        content_rules.check_hash(chunk, field=f"{field}.chunks.{j}")
    expected = content_rules.chunk_count(spec.size)
    if expected > MAX_FILE_CHUNKS:
        raise InvalidRequest(f"{field}: a file may have at most {MAX_FILE_CHUNKS} chunks", field=field)
    if len(spec.chunks) != expected:
        raise InvalidRequest(
            f"{field}: a file of {spec.size} bytes has {expected} chunks of 4 MiB, not {len(spec.chunks)}",
            field=field,
        )
    content_rules.check_hash(spec.content_hash, field=f"{field}.content_hash")
    if content_rules.content_hash(spec.chunks) != spec.content_hash:
        raise InvalidRequest(f"{field}: content_hash does not match the chunk list", field=field)
    return Content(spec.size, spec.mtime, spec.content_hash, tuple(spec.chunks), spec.executable)


def _rev(value: int | None, i: int) -> int | None:
    if value is not None and value < 1:
        raise InvalidRequest(f"ops.{i}.parent_rev must be a revision number or null", field=f"ops.{i}")
    return value


def _seen_seq(value: int | None, i: int) -> int | None:
    if value is not None and value < 0:
        raise InvalidRequest(
            f"ops.{i}.seen_seq must be the newest journal seq the device has applied (0 or more) or null",
            field=f"ops.{i}.seen_seq",
        )
    return value


def to_ops(specs: list[PutSpec | MkdirSpec | DeleteSpec | MoveSpec]) -> list[Op]:
    if not 1 <= len(specs) <= MAX_OPS:
        raise InvalidRequest(f"a commit has 1 to {MAX_OPS} ops")
    ops: list[Op] = []
    for i, spec in enumerate(specs):
        if isinstance(spec, PutSpec):
            path = paths.normalize(spec.path, field=f"ops.{i}.path")
            ops.append(PutOp(path, _rev(spec.parent_rev, i), _content(spec, i)))
        elif isinstance(spec, MkdirSpec):
            ops.append(MkdirOp(paths.normalize(spec.path, field=f"ops.{i}.path")))
        elif isinstance(spec, DeleteSpec):
            path = paths.normalize(spec.path, field=f"ops.{i}.path")
            ops.append(DeleteOp(path, _rev(spec.parent_rev, i), _seen_seq(spec.seen_seq, i)))
        else:
            from_path = paths.normalize(spec.from_path, field=f"ops.{i}.from")
            to_path = paths.normalize(spec.to, field=f"ops.{i}.to")
            ops.append(MoveOp(from_path, to_path, _rev(spec.parent_rev, i)))
    return ops
