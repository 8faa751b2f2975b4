"""The plan being built: the three working trees, the actions staged so far, and how each side spells.

The passes of ``core.planner`` share one ``PlanState``. Each reads the working trees as the actions
staged before it leave them, stages its own actions, and applies them to the trees at once. Actions
are staged in four lists because the plan's order is not the order they are found in: moves first
(later decisions rely on them), then conflict set-asides and records, then deletes deepest first,
then creates parents first (``planner.plan`` sorts the last two by the depth staged with each).

A path is spelled differently on each side: on disk as the disk spells it (its case, maybe NFD),
on the server as the server does (NFC, the case it was created with). Keys are the same on both.
So an item that goes from one side to the other goes under its parent as the receiving side spells
that parent, with its own last name (``local_path``, ``remote_path``); and a rename that changes
only a spelling is told apart by the NFC of the last name (``nfc_name``), not by its key.
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Callable

from driftbox.core import paths
from driftbox.core.actions import Action
from driftbox.core.model import Tree
from driftbox.core.working_tree import WorkingTree


def nfc_name(path: str) -> str:
    """The last name of ``path`` in NFC: an NFD and an NFC spelling compare equal, two cases do not."""
    return unicodedata.normalize("NFC", paths.name(path))


class PlanState:
    """The working trees (``s``ynced, ``l``ocal, ``r``emote) and the actions staged so far."""

    def __init__(
        self,
        synced: Tree,
        local: Tree,
        remote: Tree,
        *,
        device: str,
        today: datetime.date,
        taken_outside: Callable[[str], bool] | None = None,
    ) -> None:
        self.s, self.l, self.r = WorkingTree(synced), WorkingTree(local), WorkingTree(remote)
        self.device, self.today = device, today
        self._taken_outside = taken_outside
        self.moves: list[Action] = []
        self.asides: list[Action] = []
        self.deletes: list[tuple[int, Action]] = []  # (depth of the key, action)
        self.creates: list[tuple[int, Action]] = []  # (depth of the key, action)

    def taken(self, path_key: str) -> bool:
        """Whether any of the three trees holds ``path_key``: a conflicted copy goes where none does.

        Planned over a scope (``core.scope``), the trees outside it are asked too."""
        if path_key in self.s.items or path_key in self.l.items or path_key in self.r.items:
            return True
        return self._taken_outside is not None and self._taken_outside(path_key)

    def local_path(self, path_key: str, remote_path: str) -> str:
        """Where a remote item goes on disk: its parent as spelled on disk, its own name."""
        parent_key = paths.parent(path_key)
        folder = paths.ROOT if parent_key == paths.ROOT else self.l.items[parent_key].path
        return paths.join(folder, paths.name(remote_path))

    def remote_path(self, path_key: str, local_path: str) -> str:
        """Where the server puts a local item: its parent as the server spells it, the local name."""
        parent_key = paths.parent(path_key)
        folder = paths.ROOT if parent_key == paths.ROOT else self.r.items[parent_key].path
        return unicodedata.normalize("NFC", paths.join(folder, paths.name(local_path)))
