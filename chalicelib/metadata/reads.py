"""Reading a namespace: Get Objects (tree listing and journal by cursor) and history."""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.accounts.auth import Principal, require_role
from chalicelib.adapters import codec, keys, tree_migration
from chalicelib.adapters import metadata as store
from chalicelib.adapters.models import NamespaceModel
from chalicelib.domain import cursors, paths
from chalicelib.domain.model import Entry, Node, RestoreOp, node_to_api
from chalicelib.errors import CursorReset, InvalidRequest, NotFound
from chalicelib.metadata.commit import apply_ops

MAX_PAGE_CHUNKS = 50_000  # keeps a page of entries well under Lambda's 6 MB response limit
_T = TypeVar("_T", Node, Entry)


def _trim(items: list[_T]) -> list[_T]:
    """Cut a page where its chunk lists grow too long (always keeping one item)."""
    total = 0
    for i, item in enumerate(items):
        total += len(item.content.chunks)
        if total > MAX_PAGE_CHUNKS and i > 0:
            return items[:i]
    return items


def resolve(namespace: NamespaceModel, text: str) -> cursors.Cursor:
    cursor = cursors.decode(text)
    if cursor.namespace_id != namespace.namespace_id:
        raise InvalidRequest("cursor belongs to another namespace", field="cursor")
    if cursor.epoch != namespace.epoch or cursor.seq > int(namespace.head_seq):
        raise CursorReset("the server no longer knows this cursor; list the namespace again")
    return cursor


def objects(principal: Principal, namespace_id: str, cursor_text: str | None, limit: int) -> dict[str, Any]:
    require_role(principal, namespace_id, write=False)
    namespace = store.catch_up(namespace_id)
    if cursor_text is None:
        tree_migration.migrate(namespace)  # so that the listing's range holds no tombstone
        return _listing(
            namespace, cursors.Cursor(namespace_id, namespace.epoch, int(namespace.head_seq)), limit
        )
    cursor = resolve(namespace, cursor_text)
    if cursor.after_key is not None:
        return _listing(namespace, cursor, limit)
    entries = _trim(store.read_entries(namespace_id, cursor.seq, limit))
    seq = entries[-1].seq if entries else cursor.seq
    return {
        "entries": [e.to_api() for e in entries],
        "cursor": cursors.Cursor(namespace_id, namespace.epoch, seq).encode(),
        "cursor_seq": seq,
        "has_more": seq < int(namespace.head_seq),
    }


def _listing(namespace: NamespaceModel, cursor: cursors.Cursor, limit: int) -> dict[str, Any]:
    """A page of the current tree; the final cursor points at the head seen on the first page."""
    nodes = store.list_live(namespace.namespace_id, cursor.after_key, limit + 1)
    page = _trim(nodes[:limit])
    has_more = len(nodes) > len(page)
    after_key = keys.path_row(page[-1].path_key) if has_more else None
    next_cursor = cursors.Cursor(namespace.namespace_id, namespace.epoch, cursor.seq, after_key)
    return {
        "entries": [node_to_api(n) for n in page],
        "cursor": next_cursor.encode(),
        "cursor_seq": cursor.seq,  # a delete's seen_seq, once every page has been applied
        "has_more": has_more,
    }


def _history_node(namespace_id: str, path: str) -> Node:
    store.catch_up(namespace_id)
    node = store.get_node(namespace_id, paths.key(path))
    if node is None or node.object_id is None:
        raise NotFound("nothing has been at this path", path=path)
    return node


def revisions(principal: Principal, namespace_id: str, path: str, limit: int) -> dict[str, Any]:
    require_role(principal, namespace_id, write=False)
    node = _history_node(namespace_id, paths.normalize(path))
    assert node.object_id is not None
    rows = store.revisions(node.object_id, limit)
    return {
        "path": node.path,
        "object_id": node.object_id,
        "revisions": [
            {
                "rev": int(r.rev),
                "path": r.path,
                "size": int(r.size),
                "mtime": codec.row_mtime_ns(r),
                "content_hash": r.content_hash,
                "executable": bool(r.executable),
                "device_id": r.device_id,
                "deleted": bool(r.deleted),
                "created_at_ms": int(r.created_at_ms),
            }
            for r in rows
        ],
    }


def restore(principal: Principal, namespace_id: str, path: str, rev: int) -> dict[str, Any]:
    require_role(principal, namespace_id, write=True)
    node = _history_node(namespace_id, paths.normalize(path))
    assert node.object_id is not None
    revision = store.get_revision(node.object_id, rev)
    if revision is None:
        raise NotFound("this file has no such revision", path=node.path, rev=rev)
    if revision.deleted:
        raise InvalidRequest("that revision is a deletion; pick one that holds content", rev=rev)
    content = codec.content_from_row(revision)
    result = apply_ops(principal, namespace_id, [RestoreOp(node.path, content)])
    answer: dict[str, Any] = result["results"][0]
    return answer
