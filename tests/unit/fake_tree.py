"""A dict-backed TreeView for planner tests, with helpers to seed it and to land a plan on it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from chalicelib.domain import content, paths
from chalicelib.domain.model import EMPTY_FOLDER, FILE, FOLDER, Content, Node, Plan
from chalicelib.domain.projection import nodes_from_entries


def blob(data: bytes, mtime: int = 0) -> Content:
    """The Content of a file holding ``data`` (small: one chunk, or none when empty)."""
    chunks = tuple(
        hashlib.sha256(data[i : i + content.CHUNK_SIZE]).hexdigest()
        for i in range(0, len(data), content.CHUNK_SIZE)
    )
    return Content(len(data), mtime, content.content_hash(chunks), chunks)


def file(
    path: str, rev: int = 1, data: bytes = b"x", *, object_id: str | None = "", deleted: bool = False
) -> Node:
    """A file node; ``object_id`` defaults to one derived from the path, None means moved away."""
    oid = f"id:{path}" if object_id == "" else object_id
    return Node(path, FILE, oid, rev, deleted, 0, EMPTY_FOLDER if deleted else blob(data))


def folder(path: str, rev: int = 1, *, object_id: str | None = "", deleted: bool = False) -> Node:
    oid = f"id:{path}" if object_id == "" else object_id
    return Node(path, FOLDER, oid, rev, deleted, 0)


@dataclass
class FakeTree:
    """The current tree of one namespace: path key to node, tombstones included."""

    nodes: dict[str, Node] = field(default_factory=dict)
    head_seq: int = 0
    ids_issued: int = 0

    @classmethod
    def of(cls, *seeds: Node) -> FakeTree:
        tree = cls()
        for seed in seeds:
            tree.head_seq += 1
            node = Node(
                seed.path, seed.kind, seed.object_id, seed.rev, seed.deleted, tree.head_seq, seed.content
            )
            tree.nodes[node.path_key] = node
        return tree

    # -- TreeView -----------------------------------------------------------------------------
    def get(self, path_key: str) -> Node | None:
        return self.nodes.get(path_key)

    def descendants(self, path_key: str) -> list[Node]:
        return [node for key, node in self.nodes.items() if paths.is_within(key, path_key)]

    # -- test helpers ---------------------------------------------------------------------------
    def new_id(self) -> str:
        self.ids_issued += 1
        return f"obj{self.ids_issued}"

    def live(self) -> dict[str, Node]:
        return {key: node for key, node in self.nodes.items() if node.live}

    def at(self, path: str) -> Node | None:
        return self.nodes.get(paths.key(path))

    def apply(self, plan: Plan) -> None:
        """Land a plan as the store would: project its entries and advance the head."""
        self.nodes.update(nodes_from_entries(plan.entries))
        if plan.entries:
            self.head_seq = plan.entries[-1].seq
