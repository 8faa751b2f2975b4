"""Listing one folder: its live children, a page at a time, at a cost that grows with the folder alone."""

from __future__ import annotations

from typing import Any

from chalicelib.accounts.auth import Principal, require_role
from chalicelib.adapters import keys, tree_migration
from chalicelib.adapters import metadata as store
from chalicelib.domain import cursors, paths
from chalicelib.domain.model import FOLDER, Node
from chalicelib.errors import CursorReset, InvalidRequest, NotFound


def child_to_api(node: Node) -> dict[str, Any]:
    """A child as a folder listing shows it: a listing entry's fields without the chunk list."""
    assert node.object_id is not None
    return {
        "path": node.path,
        "name": paths.name(node.path),
        "object_id": node.object_id,
        "kind": node.kind,
        "rev": node.rev,
        "seq": node.seq,
        "size": node.content.size,
        "mtime": node.content.mtime_ns,
        "content_hash": node.content.content_hash or None,
        "executable": node.content.executable,
    }


def _folder(namespace_id: str, path_text: str) -> tuple[str, str]:
    """The folder's stored spelling and its key; NotFound, or InvalidRequest for a file."""
    if path_text == paths.ROOT:
        return paths.ROOT, paths.ROOT
    path = paths.normalize(path_text)
    node = store.get_node(namespace_id, paths.key(path))
    if node is None or not node.live:
        raise NotFound("there is no folder at this path", path=path)
    if node.kind != FOLDER:
        raise InvalidRequest("path names a file, not a folder", field="path", kind=node.kind)
    return node.path, node.path_key


def _after(cursor_text: str | None, namespace_id: str, epoch: str, folder_key: str) -> str | None:
    if cursor_text is None:
        return None
    cursor = cursors.decode_folder(cursor_text)
    if cursor.namespace_id != namespace_id:
        raise InvalidRequest("cursor belongs to another namespace", field="cursor")
    if cursor.folder_key != folder_key:
        raise InvalidRequest("cursor belongs to another folder's listing", field="cursor")
    if cursor.epoch != epoch:
        raise CursorReset("the server no longer knows this cursor; list the folder again")
    return cursor.after_key


def list_folder(
    principal: Principal, namespace_id: str, path_text: str, cursor_text: str | None, limit: int
) -> dict[str, Any]:
    require_role(principal, namespace_id, write=False)
    namespace = store.catch_up(namespace_id)
    tree_migration.migrate(namespace)
    path, folder_key = _folder(namespace_id, path_text)
    after_key = _after(cursor_text, namespace_id, namespace.epoch, folder_key)
    nodes = store.list_children(namespace_id, folder_key, after_key, limit + 1)
    page = nodes[:limit]
    has_more = len(nodes) > limit
    cursor = None
    if has_more:
        last = keys.path_row(page[-1].path_key)
        cursor = cursors.FolderCursor(namespace_id, namespace.epoch, folder_key, last).encode()
    return {
        "path": path,
        "entries": [child_to_api(n) for n in page],
        "cursor": cursor,
        "has_more": has_more,
    }
