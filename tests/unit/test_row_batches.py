"""A large commit's path rows are cut into transactions DynamoDB accepts: 100 items and 4 MB at most.

Each node is two items: its row, and the delete of the row at its path's other key (keys.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chalicelib.adapters import codec
from chalicelib.adapters import metadata as store
from chalicelib.domain.model import FILE, FOLDER, Content, Node

NAMESPACE = "ns_" + "a" * 24
TRANSACTION_LIMIT_BYTES = 4 * 1024 * 1024


def _value_bytes(value: dict[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(raw.encode("utf-8"))
    if kind == "B":
        return len(raw)
    if kind == "N":
        return len(raw) + 1
    return 1  # BOOL, NULL


def item_bytes(namespace_id: str, node: Node) -> int:
    """The row's size as DynamoDB counts it: attribute names and values."""
    row = codec.node_to_row(namespace_id, node).serialize()
    return sum(len(name.encode("utf-8")) + _value_bytes(value) for name, value in row.items())


def _file(i: int, path_bytes: int, chunk_count: int) -> Node:
    chunks = tuple(hashlib.sha256(f"{i}-{c}".encode()).hexdigest() for c in range(chunk_count))
    path = "/" + "/".join(["d" * 200] * (path_bytes // 201)) + f"/f{i}"
    content = Content(chunk_count * 4 * 1024 * 1024, 0, "c" * 64, chunks)
    return Node(path, FILE, f"o_{i:024d}", i + 1, False, i + 1, content)


def _folder(i: int) -> Node:
    return Node(f"/folder{i}", FOLDER, f"o_{i:024d}", i + 1, False, i + 1)


@pytest.mark.parametrize(
    ("nodes", "expected_sizes"),
    [
        ([_folder(i) for i in range(250)], [50, 50, 50, 50, 50]),
        ([_folder(i) for i in range(100)], [50, 50]),
        ([_file(i, 40, 1) for i in range(101)], [50, 50, 1]),
    ],
)
def test_small_rows_go_fifty_nodes_a_hundred_items_to_a_transaction(
    nodes: list[Node], expected_sizes: list[int]
) -> None:
    batches = store._transaction_batches(NAMESPACE, nodes)
    assert [len(b) for b in batches] == expected_sizes
    assert [n for b in batches for n in b] == nodes


@pytest.mark.parametrize("chunk_count", [1, 500, codec.INLINE_CHUNKS, codec.INLINE_CHUNKS + 1])
@pytest.mark.parametrize("path_bytes", [10, 1000, 4000])
def test_a_batch_of_the_largest_rows_stays_under_the_transaction_limit(
    path_bytes: int, chunk_count: int
) -> None:
    nodes = [_file(i, path_bytes, chunk_count) for i in range(120)]
    for node in nodes[:3]:
        assert store._row_bytes(NAMESPACE, node) >= item_bytes(NAMESPACE, node)
    batches = store._transaction_batches(NAMESPACE, nodes)
    assert [n for b in batches for n in b] == nodes
    for batch in batches:
        assert 1 <= len(batch) <= 50  # 100 items
        assert sum(item_bytes(NAMESPACE, n) for n in batch) <= TRANSACTION_LIMIT_BYTES
