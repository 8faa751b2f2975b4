"""The per-path rule as a table checked in both directions, conflicted-copy names, and check_safe."""

from __future__ import annotations

import datetime

import pytest
from driftbox.core import paths
from driftbox.core.conflicts import Outcome, conflicted_copy_path, conflicted_name, decide, split_extension
from driftbox.core.model import FILE, FOLDER, Item
from driftbox.core.planner import NEARLY_ALL_MIN_ITEMS, check_safe

from tests.client.unit.test_planner_rules import COPY, run

F0 = Item("/p", FILE, "h0", 2, rev=1, object_id="o1", inode=11)
F1 = Item("/p", FILE, "h1", 2, rev=2, object_id="o1", inode=12)
F2 = Item("/p", FILE, "h2", 2, rev=3, object_id="o1", inode=13)
D = Item("/p", FOLDER, rev=1, object_id="o2", inode=14)
AGREE, LOCAL, REMOTE, BOTH = Outcome.AGREE, Outcome.APPLY_LOCAL, Outcome.APPLY_REMOTE, Outcome.KEEP_BOTH
Row = tuple[Item | None, Item | None, Item | None, bool, bool, Outcome]
MIRROR = {AGREE: AGREE, LOCAL: REMOTE, REMOTE: LOCAL, BOTH: BOTH}

# (synced, one side, other side, one side dirty below, other side dirty below) -> outcome, read
# with "one side" as local; the mirror (one side as remote) must give the mirrored outcome, but for
# KEEP_BOTH, where the server's version always stays at the path.
ROWS: dict[str, Row] = {
    "unchanged": (F0, F0, F0, False, False, AGREE),
    "same create": (None, F1, F1, False, False, AGREE),
    "same delete": (F0, None, None, False, False, AGREE),
    "edit": (F0, F1, F0, False, False, LOCAL),
    "delete": (F0, None, F0, False, False, LOCAL),
    "create": (None, F1, None, False, False, LOCAL),
    "edit/edit": (F0, F1, F2, False, False, BOTH),
    "edit/delete": (F0, F1, None, False, False, LOCAL),
    "create/create, other content": (None, F1, F2, False, False, BOTH),
    "folder/file created": (None, D, F1, False, False, BOTH),
    "folder deleted, nothing new below": (D, D, None, False, False, REMOTE),
    "folder deleted, something new below": (D, D, None, True, False, LOCAL),
    "folder made a file, nothing new below": (D, D, F1, False, False, REMOTE),
    "folder made a file, something new below": (D, D, F1, True, False, BOTH),
    "file made a folder": (F0, D, F0, False, False, LOCAL),
    "file made a folder / file edited": (F0, D, F1, False, False, BOTH),
    "new folder / other made nothing": (None, D, None, False, False, LOCAL),
}


@pytest.mark.parametrize("direction", ["local-remote", "remote-local"])
@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_the_rule_table_in_both_directions(row: Row, direction: str) -> None:
    synced, one, other, one_dirty, other_dirty, expected = row
    if direction == "local-remote":
        got = decide(synced, one, other, local_dirty_below=one_dirty, remote_dirty_below=other_dirty)
    else:
        got = decide(synced, other, one, local_dirty_below=other_dirty, remote_dirty_below=one_dirty)
        expected = MIRROR[expected]
    assert got == expected


F0_LATER = Item("/p", FILE, "h0", 2, rev=5, object_id="o1")  # changed and changed back remotely


@pytest.mark.parametrize(
    ("local", "expected"),
    [(None, REMOTE), (F1, LOCAL), (F0, AGREE), (D, BOTH)],
    ids=["local delete: never against a newer rev", "local edit: upload on it", "agree", "folder"],
)
def test_a_remote_file_back_at_the_synced_content_under_a_newer_rev(
    local: Item | None, expected: Outcome
) -> None:
    assert decide(F0, local, F0_LATER) == expected


# -- conflicted copies ------------------------------------------------------------------------

DAY = datetime.date(2024, 5, 6)


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("report.pdf", FILE, "report (conflicted copy from laptop 2024-05-06).pdf"),
        ("archive.tar.gz", FILE, "archive.tar (conflicted copy from laptop 2024-05-06).gz"),
        (".bashrc", FILE, ".bashrc (conflicted copy from laptop 2024-05-06)"),
        (".config.json", FILE, ".config (conflicted copy from laptop 2024-05-06).json"),
        ("Makefile", FILE, "Makefile (conflicted copy from laptop 2024-05-06)"),
        ("trailing.", FILE, "trailing. (conflicted copy from laptop 2024-05-06)"),
        ("photos.2020", FOLDER, "photos.2020 (conflicted copy from laptop 2024-05-06)"),
    ],
)
def test_conflicted_names_keep_the_extension(name: str, kind: str, expected: str) -> None:
    assert conflicted_name(name, kind=kind, device="laptop", today=DAY) == expected  # type: ignore[arg-type]


def test_conflicted_names_number_inside_the_parentheses_and_carry_the_date() -> None:
    name = conflicted_name("a.txt", kind=FILE, device="laptop", today=datetime.date(2023, 1, 9), number=3)
    assert name == "a (conflicted copy from laptop 2023-01-09 3).txt"
    assert split_extension("a.txt") == ("a", ".txt")


def test_a_device_name_cannot_add_a_folder_and_a_long_name_still_fits() -> None:
    assert "/" not in conflicted_name("a", kind=FILE, device="my/laptop", today=DAY)
    long_name = "é" * 120 + ".txt"  # 244 bytes
    copy = conflicted_name(long_name, kind=FILE, device="laptop", today=DAY)
    assert len(copy.encode()) <= paths.MAX_NAME_BYTES
    assert copy.endswith(" (conflicted copy from laptop 2024-05-06).txt")
    paths.normalize("/" + copy)


@pytest.mark.parametrize("device", ["lap\u202etop", "lap\u200btop", "lap\x7ftop", "lap\x85top"])
def test_a_device_name_cannot_make_a_copy_name_the_server_refuses(device: str) -> None:
    copy = conflicted_name("a.txt", kind=FILE, device=device, today=DAY)
    assert copy == "a (conflicted copy from lap-top 2024-05-06).txt"
    paths.normalize("/" + copy)


def test_a_taken_copy_name_is_numbered_compared_by_key() -> None:
    taken = {paths.key("/d/A (Conflicted Copy From LAPTOP 2024-05-06).txt")}
    path = conflicted_copy_path("/d/a.txt", kind=FILE, device="laptop", today=DAY, taken=taken.__contains__)
    assert path == "/d/a (conflicted copy from laptop 2024-05-06 2).txt"


def test_the_planner_numbers_a_copy_whose_name_is_taken() -> None:
    start = {"/a.txt": "h0", f"/a {COPY}.txt": "h5"}
    end, _ = run(start, lambda s: s.write("/a.txt", "h1"), lambda s: s.write("/a.txt", "h2"))
    assert end == {
        "/a.txt": "h2",
        f"/a {COPY}.txt": "h5",
        "/a (conflicted copy from laptop 2024-05-06 2).txt": "h1",
    }


# -- check_safe -------------------------------------------------------------------------------


def _trees(count: int) -> tuple[dict[str, Item], dict[str, Item], dict[str, Item]]:
    synced, local, remote = {}, {}, {}
    for i in range(count):
        path = f"/f{i}"
        synced[path] = Item(path, FILE, "h", 1, rev=1, object_id=f"o{i}", inode=i + 1)
        local[path] = Item(path, FILE, "h", 1, inode=i + 1)
        remote[path] = Item(path, FILE, "h", 1, rev=1, object_id=f"o{i}")
    return synced, local, remote


def test_check_safe_passes_an_ordinary_state_and_an_empty_index() -> None:
    synced, local, _ = _trees(3)
    assert check_safe(synced, local) is None
    assert check_safe({}, local) is None  # no base: the plan merges, deletes nothing
    assert check_safe({}, {}) is None


def test_check_safe_refuses_an_empty_folder() -> None:
    synced, _, _ = _trees(1)
    reason = check_safe(synced, {})
    assert reason is not None and "linked folder holds nothing" in reason
    assert "nothing was deleted on the server" in reason


def test_check_safe_refuses_a_folder_that_lost_nearly_everything() -> None:
    synced, local, _ = _trees(NEARLY_ALL_MIN_ITEMS * 2)
    kept = dict(list(local.items())[: NEARLY_ALL_MIN_ITEMS // 10])  # 5 of 100 left
    assert check_safe(synced, kept) is not None
    kept = dict(list(local.items())[: NEARLY_ALL_MIN_ITEMS // 2])  # 25 of 100 left: a big delete, allowed
    assert check_safe(synced, kept) is None


def test_check_safe_does_not_count_moved_items_as_gone() -> None:
    synced, local, _ = _trees(NEARLY_ALL_MIN_ITEMS * 2)
    moved = {
        paths.key("/sub" + k): Item("/sub" + item.path, FILE, "h", 1, inode=item.inode)
        for k, item in local.items()
    }
    moved["/sub"] = Item("/sub", FOLDER, inode=9999)
    assert check_safe(synced, moved) is None


def test_check_safe_lets_a_small_tree_lose_most_of_its_files() -> None:
    synced, local, _ = _trees(NEARLY_ALL_MIN_ITEMS - 1)
    assert check_safe(synced, dict(list(local.items())[:1])) is None
