"""What the client knows of a file or folder, in each of its three trees.

The *remote* tree is what the server's journal says, the *local* tree what the disk holds, the
*synced* tree the last state both agreed on. Each is a mapping from path key to Item. An Item is the
same value in all three; each tree fills the fields it knows:

| field | remote | local | synced |
| --- | --- | --- | --- |
| path, kind, content_hash, size | yes | yes | yes |
| rev, object_id | yes | no (None) | yes: the server's, when they agreed |
| inode | no (None) | yes | yes: the local file's, when they agreed |
| executable | yes | yes | yes |

Two items have the same *content* when their kinds match and, for files, their content hashes and
executable bits do (``same_content``): that is what "in sync" means, so a chmod +x alone is a
change. Revisions, object ids and inodes say which item became which (moves), never whether two
sides agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

FILE: Literal["file"] = "file"
FOLDER: Literal["folder"] = "folder"
Kind = Literal["file", "folder"]

CHUNK_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class Item:
    # Case as shown: the server's for remote items; for local ones the disk's name exactly (which
    # may be NFD): local actions must use it, and the server normalizes what it is sent.
    path: str
    kind: Kind
    content_hash: str = ""  # files: the Dropbox content hash (hex); folders: ""
    size: int = 0
    rev: int | None = None
    object_id: str | None = None
    inode: int | None = None
    executable: bool = False  # files: the owner-execute bit, part of a revision (other bits stay local)

    @property
    def is_file(self) -> bool:
        return self.kind == FILE


Tree = Mapping[str, Item]  # path key -> item


def same_content(a: Item | None, b: Item | None) -> bool:
    """Both absent, or the same kind holding the same bytes."""
    if a is None or b is None:
        return a is None and b is None
    if a.kind != b.kind:
        return False
    return a.kind == FOLDER or (a.content_hash == b.content_hash and a.executable == b.executable)
