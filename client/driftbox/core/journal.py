"""The remote tree from the server's answers: a listing's entries and the journal's, applied in order.

Entries have the server's shape (DESIGN §3): ``{seq, op, path, object_id, kind, rev, size, mtime,
content_hash, chunks, executable, deleted}``, and ``from_path`` on moves. A listing gives live
items; the journal gives puts, mkdirs, deletes (one per item, deepest first) and moves (one per
moved item, parents first).

Every field is checked here, the one place entries are read, before anything uses it: a path with
``..`` or a control character, an unknown kind, a malformed hash, an mtime outside the API's range
(``MTIME_NS_MIN`` to ``MTIME_NS_MAX``), a missing or mistyped field. Such an entry is *unusable*:
it is skipped and reported, and the rest of the tree goes on. Its path is held (``unusable``, by
path key) until a good entry for that path arrives: the planner sees the path as last synced there,
so nothing is downloaded from, deleted for, or read as deleted by an entry this client cannot trust.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from driftbox.core import paths
from driftbox.core.model import FILE, FOLDER, Item

# docs/openapi.yaml, Mtime: a signed 64-bit count of nanoseconds since the epoch.
MTIME_NS_MIN = -(2**63)
MTIME_NS_MAX = 2**63 - 1


class BadEntry(ValueError):
    """An entry this client cannot trust: a bad path, kind, hash, chunk list, mtime or type."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path  # as the server sent it, printable
        self.why = why


@dataclass(frozen=True)
class RemoteFile:
    """What a download needs beyond the item: the chunks, in order, and the mtime to give the file."""

    chunks: tuple[str, ...]
    mtime_ns: int


@dataclass(frozen=True)
class Unusable:
    """A path whose latest entry could not be used: shown by ``status`` until a good one comes."""

    path: str
    why: str


def clamp_mtime_ns(mtime_ns: int) -> int:
    """A local file's mtime as the API can carry it (a disk may hold times past 2262)."""
    return min(max(mtime_ns, MTIME_NS_MIN), MTIME_NS_MAX)


def _hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _int(entry: dict[str, Any], name: str, path: str, low: int, high: int) -> int:
    value = entry.get(name)
    if type(value) is not int or not low <= value <= high:  # bool is an int subclass: refused too
        raise BadEntry(path, f"the server sent {name} {str(value)[:40]!r}, not an integer in {low}..{high}")
    return value


def _path(value: Any) -> str:
    if not isinstance(value, str):
        raise BadEntry(repr(value)[:80], "the server sent an entry without a path")
    try:
        return paths.normalize(value)
    except paths.InvalidPath as exc:
        printable = value.encode("utf-8", "surrogatepass").decode("utf-8", "backslashreplace")
        raise BadEntry(printable, f"the server sent a path this client refuses: {exc}") from exc


def item_of(entry: dict[str, Any]) -> tuple[Item, RemoteFile | None]:
    """The item a live entry describes, every field checked; BadEntry if any is wrong."""
    path = _path(entry.get("path"))
    kind = entry.get("kind")
    if kind not in (FILE, FOLDER):
        raise BadEntry(path, f"the server sent an unknown kind {str(kind)[:40]!r}")
    rev = _int(entry, "rev", path, 1, MTIME_NS_MAX)
    object_id = entry.get("object_id")
    if not isinstance(object_id, str) or not object_id:
        raise BadEntry(path, "the server sent an entry without an object id")
    if kind == FOLDER:
        return Item(path, FOLDER, rev=rev, object_id=object_id), None
    size = _int(entry, "size", path, 0, MTIME_NS_MAX)
    mtime_ns = _int(entry, "mtime", path, MTIME_NS_MIN, MTIME_NS_MAX)
    chunks, content_hash = entry.get("chunks"), entry.get("content_hash")
    if not isinstance(chunks, list) or not _hex64(content_hash) or not all(_hex64(c) for c in chunks):
        raise BadEntry(path, "the server sent a malformed content hash or chunk list")
    executable = entry.get("executable", False)  # servers before the executable bit omit it
    if not isinstance(executable, bool):
        raise BadEntry(path, f"the server sent executable {str(executable)[:40]!r}, not a boolean")
    item = Item(path, FILE, str(content_hash), size, rev=rev, object_id=object_id, executable=executable)
    return item, RemoteFile(tuple(chunks), mtime_ns)


def _forget(
    path_key: str,
    tree: MutableMapping[str, Item],
    files: MutableMapping[str, RemoteFile],
    unusable: MutableMapping[str, Unusable],
) -> None:
    tree.pop(path_key, None)
    files.pop(path_key, None)
    unusable.pop(path_key, None)


def _apply_one(
    entry: Any,
    tree: MutableMapping[str, Item],
    files: MutableMapping[str, RemoteFile],
    unusable: MutableMapping[str, Unusable],
) -> None:
    if not isinstance(entry, dict):
        raise BadEntry("?", "the server sent an entry that is not an object")
    if entry.get("deleted") is True or entry.get("op") == "delete":  # a tombstone: only its path counts
        try:
            path_key = paths.key(_path(entry.get("path")))
        except BadEntry as bad:  # gone from a path this client never could use
            unusable.pop(bad.path, None)
            return
        _forget(path_key, tree, files, unusable)
        return
    from_path = entry.get("from_path") if entry.get("op") == "move" else None
    try:
        item, remote_file = item_of(entry)
    except BadEntry:
        if isinstance(from_path, str):  # the object left its old path, wherever it went
            old_key = _key_or_none(from_path)
            if old_key is not None:
                _forget(old_key, tree, files, unusable)
        raise
    path_key = paths.key(item.path)
    if from_path is not None:
        _forget(paths.key(_path(from_path)), tree, files, unusable)
    _forget(path_key, tree, files, unusable)
    tree[path_key] = item
    if remote_file is not None:
        files[path_key] = remote_file


def _key_or_none(path: str) -> str | None:
    try:
        return paths.key(paths.normalize(path))
    except paths.InvalidPath:
        return None


def apply(
    tree: MutableMapping[str, Item],
    files: MutableMapping[str, RemoteFile],
    entries: Iterable[Any],
    unusable: MutableMapping[str, Unusable] | None = None,
) -> None:
    """Apply entries to the remote tree (and the chunk lists of its files), in the given order.

    An entry that cannot be used leaves nothing at its path in ``tree`` and is noted in
    ``unusable`` (by path key; a path that has none, under its text), and the others go on.
    """
    held: MutableMapping[str, Unusable] = {} if unusable is None else unusable
    for entry in entries:
        try:
            _apply_one(entry, tree, files, held)
        except BadEntry as bad:
            path_key = _key_or_none(bad.path) or bad.path
            tree.pop(path_key, None)
            files.pop(path_key, None)
            held[path_key] = Unusable(bad.path, f"not synced: {bad.why}")


def held_as_synced(
    remote: Mapping[str, Item], synced: Mapping[str, Item], held: Iterable[str]
) -> dict[str, Item]:
    """The remote tree where each held key, and all below it, stands as last synced.

    What the server has at a held path is unknown: planned from the remote tree alone it would
    read as deleted (and be deleted here) or as new. As synced, nothing moves there from the
    server; a local edit there goes up against the synced rev, which the server refuses as a
    conflict, losing nothing.
    """
    kept = dict(remote)
    for held_key in set(held):
        for path_key in [k for k in kept if k == held_key or paths.is_within(k, held_key)]:
            del kept[path_key]
        for path_key, item in synced.items():
            if path_key == held_key or paths.is_within(path_key, held_key):
                kept[path_key] = item
    return kept
