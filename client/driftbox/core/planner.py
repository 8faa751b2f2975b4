"""The pure sync planner: synced, local and remote trees in, the executor's actions out.

No disk, no network, no SQLite: ``plan`` reads three ``Tree`` mappings and returns a list of
``core.actions`` for the executor to apply in order (what it records after each one is said in
``core.actions``). The algorithm, for people, is docs/sync-algorithm.md. In short, in passes that
share one ``plan_state.PlanState`` (working copies of the three trees, and the actions so far):

1. **Remote moves** (an object id of the synced tree at another key of the remote tree) are
   applied locally as one ``MoveLocal`` of the local counterpart (found by inode), subtree and all;
   if both sides moved it elsewhere the server's move wins; if both made the same move, only the
   synced tree follows (``Record``).
2. **Local moves** (an inode of the synced tree at another key of the local tree, confirmed by
   the synced bytes; or a gone file's bytes in exactly one new file) are sent as one
   ``MoveRemote`` if the server still has that object at the synced key.
3. **Case-only renames** (same key, another spelling of the last name) go to the side that did not
   make them; when both did, or with no base, the server's spelling wins.
   A move that cannot be made (destination taken, source gone or replaced, a file where a folder
   must be) is not made: step 4 then sees a delete and a create, which never lose content.
   Steps 1 to 3 are ``core.moves``.
4. **Per key**, parents first, ``conflicts.decide`` on (synced, local, remote), turned into
   actions by ``core.per_key``:

   | local vs synced | remote vs synced | actions |
   | --- | --- | --- |
   | same content as remote | | ``Record`` if synced differs |
   | unchanged | changed | apply remote: ``Download``, ``CreateLocalFolder``, ``DeleteLocal`` |
   | changed | unchanged | apply local: ``Upload``, ``CreateRemoteFolder``, ``DeleteRemote`` |
   | deleted | changed | apply remote (an edit beats a delete) |
   | changed | deleted | apply local (an edit beats a delete) |
   | changed | changed, differently | keep both: local version to a conflicted copy, uploaded |
   | folder, new content below | folder deleted | folder kept: re-created remotely |
   | folder deleted | folder, new content below | folder kept: re-created locally |
   | folder, new content below | made a file | keep both |
   | made a file | folder, new content below | keep both |

5. **Order**, here: moves first, then conflict set-asides and records, then every delete deepest
   first, then every create and update parents first. A file is deleted locally only at its synced
   content, remotely only at its synced rev; a folder only when nothing unsynced is below it.

``check_safe`` (``core.safety``, imported from here too) is separate: the caller runs it first and
refuses to plan when the folder looks emptied rather than edited.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from driftbox.core.actions import Action
from driftbox.core.model import Tree
from driftbox.core.moves import make_moves, make_renames
from driftbox.core.per_key import settle_every_key
from driftbox.core.plan_state import PlanState
from driftbox.core.safety import NEARLY_ALL_FRACTION, NEARLY_ALL_MIN_ITEMS, check_safe

__all__ = ["NEARLY_ALL_FRACTION", "NEARLY_ALL_MIN_ITEMS", "check_safe", "plan"]


def plan(
    synced: Tree,
    local: Tree,
    remote: Tree,
    *,
    device: str,
    today: datetime.date,
    taken_outside: Callable[[str], bool] | None = None,
) -> list[Action]:
    """The actions that bring local and remote to the same content, losing nothing on either side.

    ``taken_outside``: planned over a scope of the trees (``core.scope``), whether a key outside it
    is taken."""
    state = PlanState(synced, local, remote, device=device, today=today, taken_outside=taken_outside)
    make_moves(state)
    make_renames(state)
    settle_every_key(state)
    deletes = [action for _, action in sorted(state.deletes, key=lambda pair: -pair[0])]
    creates = [action for _, action in sorted(state.creates, key=lambda pair: pair[0])]
    return state.moves + state.asides + deletes + creates
