"""Steps 1 to 3 of the planner: moves and renames, found by identity and made as one action each.

Seen key by key, a move is a delete at the old place and a create at the new one: every byte sent
again, and a moved folder's subtree deleted on the other side. Made as a move, it costs one action
and the other side keeps what it has there. So before the per-key rules (``core.per_key``):

1. **Remote moves** (an object id of the synced tree now at another key of the remote tree) are
   applied locally as one ``MoveLocal`` of the local counterpart (found by inode, confirmed as in
   step 2, else the item still at the synced key: an editor's save changes the inode), subtree
   and all; if both sides moved it elsewhere the server's move wins; if both made the same move,
   only the synced tree follows (``Record``).
2. **Local moves** (an inode of the synced tree at another key of the local tree) are sent as one
   ``MoveRemote`` if the server still has that object at the synced key. A freed inode goes to the
   next new file, so it counts only with evidence (``_is_moved``): a file holding the synced
   bytes, a folder still holding something it held. Then the moves seen by content alone (a
   folder copied, then deleted: ``identity.folder_matches``, then ``file_matches``) are sent the
   same way.
3. **Case-only renames** (same key, another spelling of the last name) go to the side that did not
   make them; when both did, or with no base, the server's spelling wins.

Moves are tried shallowest first. One blocked by a move not yet made (a chain ``b → c`` then
``a → b``) is tried again after the others, and the remote and local passes take turns while
either makes a move, ``MOVE_PASSES`` times at most. A move that cannot be made (destination taken,
source gone or replaced, a file where a folder must be, a folder into itself) is not made: the
per-key rules then see a delete and a create, which never lose content. The folders missing above
a destination are created first, as part of the move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from functools import partial

from driftbox.core import paths
from driftbox.core.actions import CreateLocalFolder, CreateRemoteFolder, MoveLocal, MoveRemote, Record
from driftbox.core.identity import confirms, file_matches, folder_matches
from driftbox.core.model import FOLDER, Item
from driftbox.core.plan_state import PlanState, nfc_name
from driftbox.core.working_tree import key_depth, parents_first

MOVE_PASSES = 3  # remote moves, then local moves, again while either made one


class _Try(Enum):
    DONE = "done"
    BLOCKED = "blocked"  # may work once another move is made
    SKIP = "skip"  # cannot be made as a move: left to the per-key rules


def make_moves(state: PlanState) -> None:
    """Steps 1 and 2: the remote moves, then the local ones, again while either pass made one;
    then the local moves seen only by content (a folder copied, then deleted)."""
    for _ in range(MOVE_PASSES):  # a move made on one side can unblock one on the other
        moved = _make_found(state.s.ids, state.r.ids, partial(_remote_move, state))
        if not _make_found(state.s.inodes, state.l.inodes, partial(_local_move, state)) and not moved:
            break
    for matches in (folder_matches, file_matches):  # a folder first: its files move with it
        _make_all(matches(state.s.items, state.l.items), partial(_local_move_between, state))


def make_renames(state: PlanState) -> None:
    """Step 3, case-only (or Unicode-form-only) renames: one key, another spelling of the last name."""
    for path_key in sorted(state.l.items.keys() & state.r.items.keys(), key=parents_first):
        local, remote, synced = state.l.items[path_key], state.r.items[path_key], state.s.get(path_key)
        if local.kind != remote.kind or nfc_name(local.path) == nfc_name(remote.path):
            continue
        if synced is not None and nfc_name(synced.path) == nfc_name(remote.path):  # only local renamed
            state.moves.append(MoveRemote(remote.path, local.path, remote.rev if remote.is_file else None))
            state.r.move(path_key, remote.path, state.remote_path(path_key, local.path))
            state.s.move(path_key, synced.path, local.path)
        else:  # only remote renamed, both did, or no base: the server's spelling wins
            to_path = paths.join(paths.parent(local.path), paths.name(remote.path))
            state.moves.append(MoveLocal(local.path, to_path))
            state.l.move(path_key, local.path, to_path)
            if synced is not None:
                state.s.move(path_key, synced.path, to_path)


def _only(keys: set[str]) -> str | None:
    return next(iter(keys)) if len(keys) == 1 else None


def _identity(item: Item, local: bool) -> object:
    """What follows an item across moves: its inode on disk, its object id on the server."""
    return item.inode if local else item.object_id


def _make_found(
    synced_index: dict[object, set[str]],
    side_index: dict[object, set[str]],
    attempt: Callable[[object], _Try],
) -> bool:
    """Try each move found, shallowest first, again while any other one succeeds; True if any did."""
    found = []
    for identity, synced_keys in synced_index.items():
        a, b = _only(synced_keys), _only(side_index.get(identity, set()))
        if a is not None and b is not None and a != b:
            found.append((key_depth(a), a, identity))
    return _try_all([partial(attempt, identity) for _, _, identity in sorted(found, key=lambda t: t[:2])])


def _make_all(pairs: list[tuple[str, str]], attempt: Callable[[str, str], _Try]) -> bool:
    """Try each move from a synced key to a key of the side, shallowest first, as ``_make_found``."""
    ordered = sorted(pairs, key=lambda pair: parents_first(pair[0]))
    return _try_all([partial(attempt, a, b) for a, b in ordered])


def _try_all(pending: list[Callable[[], _Try]]) -> bool:
    moved = False
    while pending:
        outcomes = [(move, move()) for move in pending]
        moved |= any(outcome is _Try.DONE for _, outcome in outcomes)
        blocked = [move for move, outcome in outcomes if outcome is _Try.BLOCKED]
        if len(blocked) == len(pending):
            break
        pending = blocked
    return moved


def _remote_move(state: PlanState, object_id: object) -> _Try:
    a, c = _only(state.s.ids.get(object_id, set())), _only(state.r.ids.get(object_id, set()))
    if a is None or c is None or a == c or state.s.items[a].kind != state.r.items[c].kind:
        return _Try.SKIP
    b = _local_counterpart(state, a)
    if b is None or paths.is_within(c, b):
        return _Try.SKIP
    if b == c:  # both sides made this move: only the synced tree must follow
        _move_synced_by_records(state, a, state.l.items[b].path)
        return _Try.DONE
    missing = _missing_ancestors(state, c, local=True)
    if c in state.l.items or missing is None:
        return _Try.BLOCKED
    if b != a:  # both moved it, to different places: the server's move wins
        _move_synced_by_records(state, a, state.l.items[b].path)
    for path_key in missing:
        _create_local_folder(state, path_key)
    from_path, to_path = state.l.items[b].path, state.local_path(c, state.r.items[c].path)
    state.moves.append(MoveLocal(from_path, to_path))
    state.l.move(b, from_path, to_path)
    state.s.move(b, from_path, to_path)
    return _Try.DONE


def _local_move(state: PlanState, inode: object) -> _Try:
    a, b = _only(state.s.inodes.get(inode, set())), _only(state.l.inodes.get(inode, set()))
    if a is None or b is None or a == b or not _is_moved(state, a, b):
        return _Try.SKIP  # an inode given to something new: a delete and a create
    return _local_move_between(state, a, b)


def _local_move_between(state: PlanState, a: str, b: str) -> _Try:
    """The synced item at ``a`` is the local one at ``b``: move it there on the server."""
    if a not in state.s.items or b not in state.l.items:
        return _Try.SKIP  # a folder above it moved first
    synced, local, remote = state.s.items[a], state.l.items[b], state.r.get(a)
    if (
        remote is None
        or remote.object_id != synced.object_id
        or not (synced.kind == local.kind == remote.kind)
    ):
        return _Try.SKIP  # the server no longer has it there: the per-key rules upload it as new
    if paths.is_within(b, a):
        return _Try.SKIP
    missing = _missing_ancestors(state, b, local=False)
    if b in state.r.items or missing is None:
        return _Try.BLOCKED
    for path_key in missing:
        _create_remote_folder(state, path_key)
    state.moves.append(MoveRemote(remote.path, local.path, remote.rev if remote.is_file else None))
    state.r.move(a, remote.path, state.remote_path(b, local.path))
    state.s.move(a, synced.path, local.path)
    return _Try.DONE


def _local_counterpart(state: PlanState, path_key: str) -> str | None:
    """Where the local side has the synced item at ``path_key``: by inode, else at that key."""
    synced = state.s.items[path_key]
    if synced.inode is not None:
        holders = state.l.inodes.get(synced.inode, set())
        holder = _only(holders)
        if holder is not None and (holder == path_key or _is_moved(state, path_key, holder)):
            return holder
        if path_key in holders:  # hard links: the one at the synced key
            return path_key
    local = state.l.get(path_key)
    if local is None or local.kind != synced.kind:
        return None
    # A replaced file (an editor's save) keeps the key; a file moved here from elsewhere does not.
    claimed = local.inode is not None and bool(state.s.inodes.get(local.inode, set()) - {path_key})
    return None if claimed else path_key


def _is_moved(state: PlanState, a: str, b: str) -> bool:
    """Whether the local item at ``b``, on the inode of the synced one at ``a``, is that item moved.

    A freed inode goes to the next new file or folder, so the inode alone is no proof: a file must
    hold the synced bytes; a folder must have held nothing, or still hold something it held, at its
    place (by inode, or a file by its bytes)."""
    synced, local = state.s.items[a], state.l.items[b]
    if not confirms(synced, local):
        return False
    below = state.s.subtree(a)[1:]
    return not below or any(_still_holds(state.s.items[k], state.l.get(b + k[len(a) :])) for k in below)


def _still_holds(synced: Item, local: Item | None) -> bool:
    if local is None or local.kind != synced.kind:
        return False
    return local.inode == synced.inode or (synced.is_file and synced.content_hash == local.content_hash)


def _missing_ancestors(state: PlanState, path_key: str, *, local: bool) -> list[str] | None:
    """The folders the local (else remote) side lacks above ``path_key``, outermost first, to
    create before moving something there. None (not now) if a file is in the way, or if a
    folder on the way takes part in a move not yet made."""
    target, source = (state.l, state.r) if local else (state.r, state.l)
    target_index, source_index = (state.l.inodes, state.s.ids) if local else (state.r.ids, state.s.inodes)
    missing = []
    for ancestor in paths.ancestors(path_key):
        synced = state.s.get(ancestor)
        if synced is not None and target_index.get(_identity(synced, local), set()) - {ancestor}:
            return None  # that side moved this folder elsewhere: what is here is another one
        existing = target.get(ancestor)
        if existing is not None:
            if existing.kind != FOLDER:
                return None
            continue
        if source_index.get(_identity(source.items[ancestor], not local), set()) - {ancestor}:
            return None  # it is synced elsewhere: a move still to come brings it here
        missing.append(ancestor)
    return missing


def _move_synced_by_records(state: PlanState, from_key: str, to_path: str) -> None:
    to_key = paths.key(to_path)
    before = {k: state.s.items[k] for k in state.s.subtree(from_key) + state.s.subtree(to_key)}
    state.s.move(from_key, state.s.items[from_key].path, to_path)
    state.moves += [Record(k, None) for k in before if k not in state.s.items]
    state.moves += [
        Record(k, state.s.items[k]) for k in state.s.subtree(to_key) if before.get(k) != state.s.items[k]
    ]


def _create_local_folder(state: PlanState, path_key: str) -> None:
    remote = state.r.items[path_key]
    path = state.local_path(path_key, remote.path)
    state.moves.append(CreateLocalFolder(path, remote.rev, remote.object_id))
    state.l.set(path_key, Item(path, FOLDER))
    state.s.set(path_key, replace(remote, path=path))


def _create_remote_folder(state: PlanState, path_key: str) -> None:
    local = state.l.items[path_key]
    state.moves.append(CreateRemoteFolder(local.path))
    state.r.set(path_key, Item(state.remote_path(path_key, local.path), FOLDER))
    state.s.set(path_key, local)
