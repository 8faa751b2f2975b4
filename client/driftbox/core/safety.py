"""The check before planning: refuse when the folder looks emptied rather than edited.

The planner trusts its three trees: a synced item missing from one side is a delete to send to the
other. A folder that holds nothing (a drive mounted late, a folder restored empty under its
marker) would turn every synced item into a delete on the server and every other device, and so
would one that lost nearly all of them. ``check_safe`` runs before ``plan`` and says why it
refuses, in a sentence for the user; ``driftbox sync --once --confirm-deletes`` is how the user
says the deletes are meant.

An item moved elsewhere is not lost. A file counts as gone only when neither its key, nor its
inode (holding its bytes: ``identity.confirms``), nor its object id is still in the folder, and
its bytes are not in a new file either: a folder moved by copy and delete gives every file a new
inode, not new bytes. Copies count once each: a hundred identical files deleted and one of them
left are ninety-nine gone. A folder counts as gone when neither its key nor its inode is there,
and it held no file or lost one.

The server's side is not checked here. Its tree moves only by journal entries, each a change some
device made on purpose (and passed its own check for), or is listed whole after a reset, when the
synced tree is forgotten: with no synced tree there is nothing to lose, the planner deletes
nothing, it merges both sides and keeps both versions where they differ. Refusing a server emptied
by another device would only make every device confirm one person's deletes again.
"""

from __future__ import annotations

from collections.abc import Callable

from driftbox.core import paths
from driftbox.core.identity import unmatched_files
from driftbox.core.model import Tree

# A side holding nothing while the synced tree holds something is always refused; a side that lost
# at least this fraction of at least this many synced items is refused too.
NEARLY_ALL_FRACTION = 0.9
NEARLY_ALL_MIN_ITEMS = 50


def check_safe(
    synced: Tree,
    local: Tree,
    *,
    total: int | Callable[[], int] | None = None,
    local_empty: bool | None = None,
) -> str | None:
    """Why planning now could delete (nearly) everything on the server, or None if it is safe.

    Over a scope of the trees (``core.scope``): ``total``, how many items the whole synced tree
    holds (or how to count them: asked only when something is gone), and ``local_empty``, whether
    the whole folder holds nothing; what is out of scope is unchanged, so nothing of it is gone."""
    empty = (not local) if local_empty is None else local_empty
    gone = 0 if empty else _gone(synced, local)
    if not empty and not gone:
        return None
    count = len(synced) if total is None else total() if callable(total) else total
    if not count:
        return None  # no base: the planner deletes nothing, it merges and keeps both
    if empty:
        return (
            f"the linked folder holds nothing, but {count} items were in sync: it looks unmounted, "
            "moved or reset, not emptied on purpose; nothing was deleted on the server"
        )
    if count >= NEARLY_ALL_MIN_ITEMS and gone >= NEARLY_ALL_FRACTION * count:
        return (
            f"{gone} of the {count} items in sync are gone from the linked folder: refusing to delete "
            "them on the server; check the linked folder, then sync again"
        )
    return None


def _gone(synced: Tree, local: Tree) -> int:
    """How many synced items have no counterpart in ``local`` (see the module docstring)."""
    object_ids = {item.object_id for item in local.values() if item.object_id is not None}
    unmatched = unmatched_files(synced, local)
    lost_files: set[str] = set()
    for content_hash, gone_keys in unmatched.gone.items():
        moved = len(unmatched.new.get(content_hash, []))
        lost_files.update(sorted(gone_keys)[moved:])  # which copies count as moved does not matter
    lost_files = {k for k in lost_files if synced[k].object_id not in object_ids}
    folder_inodes = {item.inode for item in local.values() if not item.is_file and item.inode is not None}
    with_files: set[str] = set()
    with_lost: set[str] = set()
    for path_key, item in synced.items():
        if item.is_file:
            with_files.update(paths.ancestors(path_key))
            if path_key in lost_files:
                with_lost.update(paths.ancestors(path_key))
    lost_folders = sum(
        1
        for path_key, item in synced.items()
        if not item.is_file
        and path_key not in local
        and item.inode not in folder_inodes
        and (path_key not in with_files or path_key in with_lost)
    )
    return len(lost_files) + lost_folders
