"""The per-path sync rule (which side wins, or keep both) and the names of conflicted copies.

``decide`` looks at one path key in the three trees, after moves were matched, and says what must
happen there. It is the table of docs/sync-algorithm.md:

| local vs synced | remote vs synced | outcome |
| --- | --- | --- |
| same content as remote | | AGREE: record it if synced differs |
| unchanged | changed | APPLY_REMOTE (1) |
| changed | unchanged | APPLY_LOCAL (2) |
| deleted | changed | APPLY_REMOTE: an edit beats a delete |
| changed | deleted | APPLY_LOCAL: an edit beats a delete |
| changed | changed, differently | KEEP_BOTH: two files, or a file and a folder |

(1) But a local folder that the remote deleted, or replaced by a file, while unsynced content is
below it locally, is kept: APPLY_LOCAL (deleted: the folder is re-created remotely) or KEEP_BOTH
(replaced). (2) The mirror image: a remote folder with unsynced content below it, deleted or
replaced locally, is kept: APPLY_REMOTE or KEEP_BOTH.

"Changed" compares content (``model.same_content``): kind, and hash and executable bit for files.
A remote file at the synced content but a later rev (changed, then changed back) counts as
changed when the local side deleted it: a delete is sent only against the synced rev. Created on
one side means changed from nothing; deleted means changed to nothing.

KEEP_BOTH: the server's version stays at the path; the local one is moved to
``name (conflicted copy from DEVICE YYYY-MM-DD).ext`` and uploaded as new.
"""

from __future__ import annotations

import datetime
import itertools
import unicodedata
from collections.abc import Callable, Mapping
from enum import Enum

from driftbox.core import paths
from driftbox.core.model import FILE, FOLDER, Item, Kind, same_content


class Outcome(Enum):
    AGREE = "agree"  # both sides hold the same content: record it
    APPLY_REMOTE = "apply remote"  # make the local side like the remote one
    APPLY_LOCAL = "apply local"  # make the remote side like the local one
    KEEP_BOTH = "keep both"  # local version aside as a conflicted copy, then apply remote


def decide(
    synced: Item | None,
    local: Item | None,
    remote: Item | None,
    *,
    local_dirty_below: bool = False,
    remote_dirty_below: bool = False,
) -> Outcome:
    """The outcome at one path key; ``*_dirty_below``: that side holds unsynced content below it."""
    if same_content(local, remote):
        return Outcome.AGREE
    local_changed = not same_content(local, synced)
    remote_changed = not same_content(remote, synced) or _rev_moved(synced, remote)
    if not local_changed:
        if local is not None and local.kind == FOLDER and local_dirty_below:
            # The remote deleted this folder, or put a file here: what is new below is kept.
            return Outcome.APPLY_LOCAL if remote is None else Outcome.KEEP_BOTH
        return Outcome.APPLY_REMOTE
    if not remote_changed:
        if remote is not None and remote.kind == FOLDER and remote_dirty_below:
            return Outcome.APPLY_REMOTE if local is None else Outcome.KEEP_BOTH
        return Outcome.APPLY_LOCAL
    if local is None:
        return Outcome.APPLY_REMOTE
    if remote is None or (_rev_moved(synced, remote) and local.kind == FILE):
        # Only the remote rev moved (same bytes as synced): an upload against it loses nothing.
        return Outcome.APPLY_LOCAL
    return Outcome.KEEP_BOTH


def _rev_moved(synced: Item | None, remote: Item | None) -> bool:
    """The remote file holds the synced content under another rev (changed, then changed back)."""
    return (
        synced is not None
        and remote is not None
        and synced.is_file
        and remote.is_file
        and same_content(synced, remote)
        and synced.rev != remote.rev
    )


def split_extension(name: str, kind: Kind = FILE) -> tuple[str, str]:
    """``("report", ".pdf")``; no extension for folders, dotfiles (``.bashrc``) or a trailing dot."""
    dot = name.rfind(".")
    if kind != FILE or dot <= 0 or dot == len(name) - 1:
        return name, ""
    return name[:dot], name[dot:]


def noted_name(name: str, *, kind: Kind, note: str, number: int = 1) -> str:
    """``name (NOTE).ext``, ``name (NOTE 2).ext``…, at most 255 bytes: a long name loses the end of
    its stem. How every name that sets something aside is made: conflicted copies, case twins."""
    stem, extension = split_extension(name, kind)
    counter = f" {number}" if number > 1 else ""
    suffix = f" ({note}{counter}){extension}"
    budget_bytes = paths.MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    while stem and len(stem.encode("utf-8")) > budget_bytes:
        stem = stem[:-1]
    return stem + suffix


def noted_path(path: str, *, kind: Kind, note: str, taken: Callable[[str], bool]) -> str:
    """The first ``noted_name`` beside ``path`` whose key ``taken`` says is free."""
    folder = paths.parent(path)
    for number in itertools.count(1):
        candidate = paths.join(folder, noted_name(paths.name(path), kind=kind, note=note, number=number))
        if not taken(paths.key(candidate)):
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _conflict_note(device: str, today: datetime.date) -> str:
    # A device's name must not make the copy's name one the server refuses (a "/", a control or a
    # format character such as a bidi override).
    device = "".join("-" if ch == "/" or _invisible(ch) else ch for ch in device).strip() or "unknown device"
    return f"conflicted copy from {device} {today.isoformat()}"


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs")


def conflicted_name(name: str, *, kind: Kind, device: str, today: datetime.date, number: int = 1) -> str:
    """``name (conflicted copy from DEVICE YYYY-MM-DD).ext``; ``number`` 2, 3… goes inside the parentheses."""
    return noted_name(name, kind=kind, note=_conflict_note(device, today), number=number)


def conflicted_copy_path(
    path: str,
    *,
    kind: Kind,
    device: str,
    today: datetime.date,
    taken: Callable[[str], bool],
) -> str:
    """The first conflicted-copy path beside ``path`` whose key ``taken`` says is free."""
    return noted_path(path, kind=kind, note=_conflict_note(device, today), taken=taken)


def dirty_folders(side: Mapping[str, Item], synced: Mapping[str, Item], *, by_rev: bool) -> set[str]:
    """Keys of the folders with unsynced content below them on ``side``: an item not at its
    synced content (``by_rev``, for the remote side: nor at its synced rev)."""
    dirty: set[str] = set()
    for path_key, item in side.items():
        base = synced.get(path_key)
        if not same_content(item, base) or (by_rev and _rev_moved(base, item)):
            dirty.update(paths.ancestors(path_key))
    return dirty
