"""The planner's instructions to the executor, and what the executor records after each one.

The planner (``core.planner``) returns a list of these; the executor (``driftbox.executor``)
applies them in order and after each one that succeeds updates the *synced* tree as said below, in
the same SQLite transaction as anything else it saves for that step. An action that fails (a file
that changed under it, an I/O error, an op the server refused) records nothing, is reported for
its path, and the executor goes on with the next one: each checks what it finds, so none can
destroy what an earlier failure left in place. The next round plans again from what is then on
disk and on the server; a prefix of any plan is a safe place to stop.

Remote actions. The executor sends consecutive ones as the ops of commits (DESIGN §3), while their
chunks are still going up; "result" is the commit's result for the op. A 409 refuses the whole
commit and names every op in conflict: the executor drops those (a folder delete also for a
conflict below it) and sends the rest again, until one is accepted or no op named was sent (then
none of them is committed). What it dropped fails, and is planned again next round, after the
journal is read. An op that relied on a dropped one is refused in its turn where the server can
tell (a rev names one version of one object: an upload to where a refused move would have put a
file cannot match what is there); else it lands as planned, and the next round plans from both
sides as they then are. A local action after a refused commit still runs, checking what it finds
on disk; it never depends on the server having applied the commit (a local delete removes only
bytes the plan saw, which are synced).

- ``Upload(path, content_hash, parent_rev, executable)``: a put of the local file's bytes, which
  must hash to ``content_hash`` (else the file changed since the scan: fail it), with its
  executable bit. Records ``synced[key] = Item(result path, file, content_hash, size, result rev,
  result object_id, the file's inode, executable)``.
- ``CreateRemoteFolder(path)``: a mkdir. Records ``synced[key] = Item(result path, folder,
  rev=result rev, object_id=result object_id, inode=the local folder's inode)``.
- ``DeleteRemote(path, kind, parent_rev)``: a delete (of a folder: recursive, and the planner has
  deleted everything below it first). Records: drop ``synced`` at ``key`` and every key below it.
- ``MoveRemote(from_path, to_path, parent_rev)``: a move (of a folder: its subtree). Records
  ``move_synced(from_path, to_path)``.

Local actions. Paths are spelled as on disk (case, Unicode form); every component of a path but
the last one exists on disk under that spelling when the action runs. Each checks what it finds:

- ``Download(path, content_hash, rev, object_id, size, executable)``: writes that revision through
  a temporary file in the same folder (every chunk and the content hash checked, the revision's
  executable bit set on the mode the file had, fsync, rename), only if ``path`` holds what the
  scan saw, which the plan found to be nothing or a file at ``synced[key]``'s content hash: never
  over an unsynced edit (else fail it). The chunk list comes from the remote tree, at the path a
  move committed earlier in the run took the file from, if it did. Records
  ``synced[key] = Item(path, file, content_hash, size, rev, object_id, the new file's inode,
  executable)``.
- ``CreateLocalFolder(path, rev, object_id)``: mkdir (nothing to do if a folder is there; a file
  there fails it). Records ``synced[key] = Item(path, folder, rev=rev, object_id=object_id,
  inode=the folder's inode)``.
- ``DeleteLocal(path, kind, content_hash)``: deletes a file only if it still holds
  ``content_hash`` and that is ``synced[key]``'s content hash, a folder only if it is empty; else
  it leaves it (not an error: the next round sees what stays). Records, if it deleted: drop
  ``synced`` at ``key`` and below; if it left it: nothing.
- ``MoveLocal(from_path, to_path)``: a rename that never replaces anything (``to_path`` is free,
  or has the key of ``from_path``: a case-only rename); else fail it. Records
  ``move_synced(from_path, to_path)``. What the plan saw at ``from_path`` (the scan) is, for the
  rest of the run, what it sees at ``to_path``: a conflicted copy moved aside goes up in the same
  run, and the server's version comes down to the place it left.
- ``Record(path_key, item)``: no I/O. Records ``synced[path_key] = item``, or drops that one key
  if ``item`` is None.

``move_synced(from_path, to_path)``: drop every synced entry at or below ``key(to_path)`` unless
it is also at or below ``key(from_path)``; then move every entry at or below ``key(from_path)`` to
``key(reroot(path, from_path, to_path))`` with that path (``paths.reroot``), keeping its kind,
content hash, size, rev, object id and inode (the server keeps revs on a move; a rename keeps inodes).

``Record`` says that both sides already agree (the synced item is the remote item with the local
inode), that both sides no longer hold the path, or that the planner forgets a base: before moving a
conflicting local version aside, and when both sides made the same move. Forgetting a base is always
safe: with no base, the planner never deletes, it keeps both.

``key`` is ``paths.key`` of the action's path (of ``from_path`` for moves).
"""

from __future__ import annotations

from dataclasses import dataclass

from driftbox.core.model import Item, Kind


@dataclass(frozen=True)
class Upload:
    path: str
    content_hash: str
    parent_rev: int | None  # the rev last seen at this path; None: "I believe it is new"
    executable: bool = False  # the local file's owner-execute bit, as scanned


@dataclass(frozen=True)
class CreateRemoteFolder:
    path: str


@dataclass(frozen=True)
class DeleteRemote:
    path: str
    kind: Kind
    parent_rev: int | None  # files: the synced rev; folders: None (the server deletes recursively)


@dataclass(frozen=True)
class MoveRemote:
    from_path: str
    to_path: str
    parent_rev: int | None  # files: the remote rev seen at from_path; folders: None


@dataclass(frozen=True)
class Download:
    path: str
    content_hash: str
    rev: int
    object_id: str | None
    size: int
    executable: bool = False  # the revision's: applied to the file written, other mode bits kept


@dataclass(frozen=True)
class CreateLocalFolder:
    path: str
    rev: int | None
    object_id: str | None


@dataclass(frozen=True)
class DeleteLocal:
    path: str
    kind: Kind
    content_hash: str  # files: delete only if the file still holds this; folders: ""


@dataclass(frozen=True)
class MoveLocal:
    from_path: str
    to_path: str


@dataclass(frozen=True)
class Record:
    path_key: str
    item: Item | None


RemoteAction = Upload | CreateRemoteFolder | DeleteRemote | MoveRemote
LocalAction = Download | CreateLocalFolder | DeleteLocal | MoveLocal
Action = RemoteAction | LocalAction | Record

REMOTE_ACTIONS = (Upload, CreateRemoteFolder, DeleteRemote, MoveRemote)
LOCAL_ACTIONS = (Download, CreateLocalFolder, DeleteLocal, MoveLocal)
