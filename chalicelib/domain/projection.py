"""What a commit's journal entries make of the current tree and the revision history.

The journal is the source of truth; these are pure functions of it, so a commit interrupted after
its journal record landed is finished by whoever comes next, with the same result.
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.domain import paths
from chalicelib.domain.model import EMPTY_FOLDER, FILE, Entry, Node


def nodes_from_entries(entries: Iterable[Entry]) -> dict[str, Node]:
    """The final node at every path key the entries touch (tombstones included)."""
    nodes: dict[str, Node] = {}
    for entry in entries:
        if entry.from_path is not None and paths.key(entry.from_path) != paths.key(entry.path):
            nodes[paths.key(entry.from_path)] = Node(
                entry.from_path, entry.kind, None, entry.rev, True, entry.seq, EMPTY_FOLDER
            )
        nodes[paths.key(entry.path)] = entry.node()
    return nodes


def revisions_from_entries(entries: Iterable[Entry]) -> list[Entry]:
    """The entries that add a file revision: puts and deletes of files (a move keeps its rev)."""
    return [e for e in entries if e.kind == FILE and e.op in ("put", "delete")]
