"""Step 4 of the planner: each key of the three trees settled by ``conflicts.decide``, as actions.

``conflicts.decide`` says which side wins at one key; this module says what that takes. Keys are
settled parents first, and each outcome is applied to the working trees at once, so that a child is
decided under what its parent became (a folder created, deleted or moved aside):

- AGREE: both sides hold the same content; a ``Record`` of it (the remote item with the local
  inode) if the synced item differs in more than the spelling of its parents.
- APPLY_REMOTE: what the local side has there goes (``DeleteLocal``) if the remote side has nothing
  there or something of another kind; then the remote item comes (``Download``,
  ``CreateLocalFolder``). APPLY_LOCAL is its mirror image (``DeleteRemote``, ``Upload``,
  ``CreateRemoteFolder``).
- KEEP_BOTH: the server's version stays at the key. The local one (a file, or a folder with all
  below it) is renamed to a conflicted copy whose key none of the three trees holds, after its
  synced entries are forgotten (``Record(key, None)``): with no base, nothing of the copy can be
  read as a delete, and all of it goes up as new. Then the remote version is applied at the key.

The asserts are promises the property tests check too: a local file is deleted only at its synced
content, a remote file only at its synced rev. A folder is deleted only when ``decide`` found nothing
unsynced below it on that side (``conflicts.dirty_folders``); its children's deletes come first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from driftbox.core import paths
from driftbox.core.actions import (
    Action,
    CreateLocalFolder,
    CreateRemoteFolder,
    DeleteLocal,
    DeleteRemote,
    Download,
    MoveLocal,
    Record,
    Upload,
)
from driftbox.core.conflicts import Outcome, conflicted_copy_path, decide, dirty_folders
from driftbox.core.model import FOLDER, Item, same_content
from driftbox.core.plan_state import PlanState, nfc_name
from driftbox.core.working_tree import key_depth, parents_first


def settle_every_key(state: PlanState) -> None:
    """Decide every key any of the three trees holds, parents first, and stage what it takes."""
    local_dirty = dirty_folders(state.l.items, state.s.items, by_rev=False)
    remote_dirty = dirty_folders(state.r.items, state.s.items, by_rev=True)
    for path_key in sorted(
        state.s.items.keys() | state.l.items.keys() | state.r.items.keys(), key=parents_first
    ):
        outcome = decide(
            state.s.get(path_key),
            state.l.get(path_key),
            state.r.get(path_key),
            local_dirty_below=path_key in local_dirty,
            remote_dirty_below=path_key in remote_dirty,
        )
        _SETTLE[outcome](state, path_key)


def _same_synced(old: Item | None, new: Item | None) -> bool:
    """Nothing to record: equal but for the spelling of the parents (only the name matters)."""
    if old is None or new is None:
        return old is new
    return replace(old, path=nfc_name(old.path)) == replace(new, path=nfc_name(new.path))


def _agree(state: PlanState, path_key: str) -> None:
    local, remote = state.l.get(path_key), state.r.get(path_key)
    merged = None if remote is None or local is None else replace(remote, inode=local.inode)
    if not _same_synced(state.s.get(path_key), merged):
        state.asides.append(Record(path_key, merged))
        state.s.set(path_key, merged)


def _apply_remote(state: PlanState, path_key: str) -> None:
    synced, local, remote = state.s.get(path_key), state.l.get(path_key), state.r.get(path_key)
    if local is not None and (remote is None or local.kind != remote.kind):
        assert same_content(local, synced) or local.kind == FOLDER, "would lose a local edit"
        state.deletes.append((key_depth(path_key), DeleteLocal(local.path, local.kind, local.content_hash)))
        state.l.set(path_key, None)
        state.s.set(path_key, None)
        local = None
    if remote is None:
        return
    path = local.path if local is not None else state.local_path(path_key, remote.path)
    if remote.is_file:
        assert remote.rev is not None
        action: Action = Download(
            path, remote.content_hash, remote.rev, remote.object_id, remote.size, remote.executable
        )
    else:
        action = CreateLocalFolder(path, remote.rev, remote.object_id)
    state.creates.append((key_depth(path_key), action))
    state.l.set(
        path_key, Item(path, remote.kind, remote.content_hash, remote.size, executable=remote.executable)
    )
    state.s.set(path_key, replace(remote, path=path, inode=None))


def _apply_local(state: PlanState, path_key: str) -> None:
    synced, local, remote = state.s.get(path_key), state.l.get(path_key), state.r.get(path_key)
    if remote is not None and (local is None or local.kind != remote.kind):
        parent_rev = remote.rev if remote.is_file else None
        assert remote.kind == FOLDER or (synced is not None and synced.rev == remote.rev), "unsynced rev"
        state.deletes.append((key_depth(path_key), DeleteRemote(remote.path, remote.kind, parent_rev)))
        state.r.set(path_key, None)
        state.s.set(path_key, None)
        remote = None
    if local is None:
        return
    if local.is_file:
        parent_rev = remote.rev if remote is not None else None
        action: Action = Upload(local.path, local.content_hash, parent_rev, local.executable)
    else:
        action = CreateRemoteFolder(local.path)
    state.creates.append((key_depth(path_key), action))
    remote_path = state.remote_path(path_key, local.path)
    state.r.set(path_key, Item(remote_path, local.kind, local.content_hash, executable=local.executable))
    state.s.set(path_key, replace(local, rev=None))


def _keep_both(state: PlanState, path_key: str) -> None:
    """The server's version stays at the path; the local one moves aside and goes up as new."""
    local = state.l.items[path_key]
    for synced_key in reversed(state.s.subtree(path_key)):  # forget the base: the copy is new
        state.asides.append(Record(synced_key, None))
        state.s.set(synced_key, None)
    copy_path = conflicted_copy_path(
        local.path, kind=local.kind, device=state.device, today=state.today, taken=state.taken
    )
    state.asides.append(MoveLocal(local.path, copy_path))
    state.l.move(path_key, local.path, copy_path)
    for copy_key in state.l.subtree(paths.key(copy_path)):
        _apply_local(state, copy_key)
    _apply_remote(state, path_key)


_SETTLE: dict[Outcome, Callable[[PlanState, str], None]] = {
    Outcome.AGREE: _agree,
    Outcome.APPLY_REMOTE: _apply_remote,
    Outcome.APPLY_LOCAL: _apply_local,
    Outcome.KEEP_BOTH: _keep_both,
}
