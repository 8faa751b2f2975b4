"""The paths table's sort keys stay within DynamoDB's 1,024 bytes and keep descendants findable."""

from __future__ import annotations

import pytest

from chalicelib.adapters import keys
from chalicelib.domain import paths


def _key(path: str) -> str:
    return paths.key(paths.normalize(path))


@pytest.mark.parametrize("depth", [1, 4, 10, 19])
def test_long_paths_fit_a_sort_key_and_descendants_share_the_prefix(depth: int) -> None:
    folder = "/" + "/".join(["d\u0130" * 60] * depth)  # İ folds to two code points: keys grow
    child = _key(folder + "/" + "f" * 200)
    row = keys.path_row(child)
    assert len(row.encode("utf-8")) <= 1024
    assert row.startswith(keys.path_rows_below(_key(folder)))
    assert len(paths.normalize(folder + "/" + "f" * 200).encode()) <= paths.MAX_PATH_BYTES


def test_short_keys_are_stored_as_they_are_and_long_ones_do_not_collide() -> None:
    assert keys.path_row("/docs/a.txt") == "/docs/a.txt"
    a = _key("/" + "/".join(["x" * 250] * 4) + "/a")
    b = _key("/" + "/".join(["x" * 250] * 4) + "/b")
    assert keys.path_row(a) != keys.path_row(b)
    assert keys.path_row(a)[:900] == keys.path_row(b)[:900]


def test_the_descendant_prefix_of_a_short_folder_is_exact() -> None:
    assert keys.path_rows_below("/docs") == "/docs/"


@pytest.mark.parametrize("depth", [1, 10, 19])
def test_a_tombstone_key_fits_sorts_before_every_live_key_and_is_never_below_a_folder(depth: int) -> None:
    folder = "/" + "/".join(["d\u0130" * 60] * depth)
    child = _key(folder + "/" + "f" * 200)
    tombstone = keys.tombstone_row(child)
    assert len(tombstone.encode("utf-8")) <= 1024
    assert tombstone.encode("utf-8") < keys.LIVE_ROWS_START.encode("utf-8")
    assert not tombstone.startswith(keys.path_rows_below(_key(folder)))
    assert keys.path_row(child).startswith(keys.LIVE_ROWS_START)


def test_each_folder_has_its_own_index_key_in_its_own_namespace() -> None:
    long_a = _key("/" + "/".join(["x" * 250] * 4) + "/a")
    long_b = _key("/" + "/".join(["x" * 250] * 4) + "/b")
    found = {
        keys.folder_children(namespace, folder)
        for namespace in ("ns_1", "ns_2")
        for folder in ("/", "/docs", "/docs/sub", long_a, long_b)
    }
    assert len(found) == 10
    assert all(len(k.encode("utf-8")) <= 2048 for k in found)  # a GSI hash key's limit
