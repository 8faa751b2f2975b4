"""The remote tree from the server's answers: a listing's entries and the journal's, applied in order.

Entries have the server's shape (DESIGN §3): ``{seq, op, path, object_id, kind, rev, size, mtime,
content_hash, chunks, deleted}``, and ``from_path`` on moves. A listing gives live items; the
journal gives puts, mkdirs, deletes (one per item, deepest first) and moves (one per moved item,
parents first). Paths are checked with the client's own rules before anything uses them: a server
that sends ``..`` or a control character is refused, never followed.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from driftbox.core import paths
from driftbox.core.model import FILE, FOLDER, Item


class BadEntry(ValueError):
    """An entry this client cannot trust: a bad path, kind, hash or chunk list."""


@dataclass(frozen=True)
class RemoteFile:
    """What a download needs beyond the item: the chunks, in order."""

    chunks: tuple[str, ...]
    mtime_s: int


def _hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _path(value: Any) -> str:
    try:
        return paths.normalize(str(value))
    except paths.InvalidPath as exc:
        raise BadEntry(f"entry with a bad path: {value!r}") from exc


def item_of(entry: dict[str, Any]) -> tuple[Item, RemoteFile | None]:
    path = _path(entry.get("path"))
    kind = entry.get("kind")
    if kind not in (FILE, FOLDER):
        raise BadEntry(f"{path}: unknown kind {kind!r}")
    rev, object_id = int(entry["rev"]), str(entry["object_id"])
    if kind == FOLDER:
        return Item(path, FOLDER, rev=rev, object_id=object_id), None
    chunks = tuple(entry.get("chunks") or ())
    content_hash = entry.get("content_hash")
    if not _hex64(content_hash) or not all(_hex64(c) for c in chunks):
        raise BadEntry(f"{path}: a malformed content hash or chunk list")
    item = Item(path, FILE, str(content_hash), int(entry["size"]), rev=rev, object_id=object_id)
    return item, RemoteFile(chunks, int(entry.get("mtime") or 0))


def apply(
    tree: MutableMapping[str, Item],
    files: MutableMapping[str, RemoteFile],
    entries: Iterable[dict[str, Any]],
) -> None:
    """Apply entries to the remote tree (and the chunk lists of its files), in the given order."""
    for entry in entries:
        if entry.get("deleted") or entry.get("op") == "delete":  # a tombstone: only its path counts
            path_key = paths.key(_path(entry.get("path")))
            tree.pop(path_key, None)
            files.pop(path_key, None)
            continue
        item, remote_file = item_of(entry)
        path_key = paths.key(item.path)
        if entry.get("op") == "move" and entry.get("from_path"):
            old_key = paths.key(_path(entry["from_path"]))
            tree.pop(old_key, None)
            files.pop(old_key, None)
        tree[path_key] = item
        if remote_file is not None:
            files[path_key] = remote_file
        else:
            files.pop(path_key, None)
