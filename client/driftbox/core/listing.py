"""A folder listing's entries from the server (``GET /v1/folders``), every field checked before use.

An entry (docs/openapi.yaml, ``FolderEntry``) names one live child of the folder listed. One whose
path is not valid, or not directly in that folder, whose kind is unknown or whose size is not a
byte count is a ``BadEntry``: the caller reports it and shows the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftbox.core import paths
from driftbox.core.journal import BadEntry
from driftbox.core.model import FILE, FOLDER, Kind

MAX_SIZE_BYTES = 2**63 - 1


@dataclass(frozen=True)
class Child:
    path: str
    kind: Kind
    size_bytes: int

    @property
    def name(self) -> str:
        return paths.name(self.path)


def child_of(entry: Any, folder_key: str) -> Child:
    """The child ``entry`` describes in the folder keyed ``folder_key`` ("/" for the root)."""
    if not isinstance(entry, dict):
        raise BadEntry("?", "the server sent an entry that is not an object")
    raw_path = entry.get("path")
    if not isinstance(raw_path, str):
        raise BadEntry(repr(raw_path)[:80], "the server sent an entry without a path")
    try:
        path = paths.normalize(raw_path)
    except paths.InvalidPath as exc:
        printable = raw_path.encode("utf-8", "surrogatepass").decode("utf-8", "backslashreplace")
        raise BadEntry(printable, f"the server sent a path this client refuses: {exc}") from exc
    if paths.key(paths.parent(path)) != folder_key:
        raise BadEntry(path, "the server sent an entry that is not in the folder listed")
    kind = entry.get("kind")
    if kind not in (FILE, FOLDER):
        raise BadEntry(path, f"the server sent an unknown kind {str(kind)[:40]!r}")
    size = entry.get("size")
    if type(size) is not int or not 0 <= size <= MAX_SIZE_BYTES:  # bool is an int: refused too
        raise BadEntry(path, f"the server sent size {str(size)[:40]!r}, not a byte count")
    return Child(path, kind, size)
