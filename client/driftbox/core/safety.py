"""The check before planning: refuse when one side looks emptied rather than edited.

The planner trusts its three trees: a synced item missing from one side is a delete to send to the
other. A side that holds nothing (an unmounted drive, a moved sync folder, a server that was reset)
would turn every synced item into a delete on the other side, and so would one that lost nearly
all of them. ``check_safe`` runs before ``plan`` and says why it refuses, in a sentence for the
user. An item moved elsewhere is not lost: it counts as gone only when neither its key, nor its
inode, nor its object id is still on that side. With no synced tree there is nothing to lose: the
planner then deletes nothing, it merges both sides and keeps both versions where they differ.
"""

from __future__ import annotations

from driftbox.core.model import Tree

# A side holding nothing while the synced tree holds something is always refused; a side that lost
# at least this fraction of at least this many synced items is refused too.
NEARLY_ALL_FRACTION = 0.9
NEARLY_ALL_MIN_ITEMS = 50


def check_safe(synced: Tree, local: Tree, remote: Tree) -> str | None:
    """Why planning now could delete (nearly) everything on one side, or None if it is safe."""
    if not synced:
        return None  # no base: the planner deletes nothing, it merges and keeps both
    total = len(synced)
    for tree, side, other in (
        (local, "the linked folder", "the server"),
        (remote, "the server", "this device"),
    ):
        if not tree:
            return (
                f"{side} holds nothing, but {total} items were in sync: it looks unmounted, moved or "
                f"reset, not emptied on purpose; nothing was deleted on {other}"
            )
        gone = _gone(synced, tree)
        if total >= NEARLY_ALL_MIN_ITEMS and gone >= NEARLY_ALL_FRACTION * total:
            return (
                f"{gone} of the {total} items in sync are gone from {side}: refusing to delete them on "
                f"{other}; check {side}, then sync again"
            )
    return None


def _gone(synced: Tree, tree: Tree) -> int:
    """Synced items with no counterpart in ``tree``: not at their key, their inode nor their object id."""
    inodes = {item.inode for item in tree.values()}
    object_ids = {item.object_id for item in tree.values()}
    return sum(
        1
        for path_key, item in synced.items()
        if path_key not in tree
        and (item.inode is None or item.inode not in inodes)
        and (item.object_id is None or item.object_id not in object_ids)
    )
