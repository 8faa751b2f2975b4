"""Entries from the server checked field by field (a bad one skipped and held, never fatal), mtimes
in nanoseconds, and the executable bit planned as part of a file's content."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import pytest
from driftbox.adapters.transfer import executable_mode
from driftbox.core import journal
from driftbox.core.actions import Download, Upload
from driftbox.core.journal import MTIME_NS_MAX, MTIME_NS_MIN, RemoteFile, Unusable
from driftbox.core.model import FILE, Item
from driftbox.core.planner import plan

CHUNK = hashlib.sha256(b"x").hexdigest()
CONTENT_HASH = hashlib.sha256(bytes.fromhex(CHUNK)).hexdigest()
SPEC_EXAMPLE_MTIME_NS = 1732450000123456789


def entry(path: str, seq: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "op": "put",
        "path": path,
        "object_id": f"o{seq}",
        "kind": "file",
        "rev": seq,
        "size": 1,
        "mtime": SPEC_EXAMPLE_MTIME_NS,
        "content_hash": CONTENT_HASH,
        "chunks": [CHUNK],
        "executable": False,
        "deleted": False,
    } | fields


def test_an_mtime_in_nanoseconds_is_kept_exactly_with_the_executable_bit() -> None:
    tree: dict[str, Item] = {}
    files: dict[str, RemoteFile] = {}
    journal.apply(tree, files, [entry("/a.sh", executable=True), entry("/old.txt", 2, mtime=MTIME_NS_MIN)])
    assert files == {
        "/a.sh": RemoteFile((CHUNK,), SPEC_EXAMPLE_MTIME_NS),
        "/old.txt": RemoteFile((CHUNK,), MTIME_NS_MIN),
    }
    assert (tree["/a.sh"].executable, tree["/old.txt"].executable) == (True, False)


BAD_FIELDS = {
    "mtime past 2262": {"mtime": MTIME_NS_MAX + 1},
    "mtime 10**30": {"mtime": 10**30},
    "mtime before 1677": {"mtime": MTIME_NS_MIN - 1},
    "mtime as text": {"mtime": "1732450000123456789"},
    "mtime as a boolean": {"mtime": True},
    "mtime as a float": {"mtime": 1.5e18},
    "mtime missing": {"mtime": None},
    "unknown kind": {"kind": "symlink"},
    "bad content hash": {"content_hash": "ABC"},
    "bad chunk": {"chunks": ["zz"]},
    "chunks not a list": {"chunks": CHUNK},
    "size negative": {"size": -1},
    "size missing": {"size": None},
    "rev missing": {"rev": None},
    "object id missing": {"object_id": None},
    "executable not a boolean": {"executable": "yes"},
}


@pytest.mark.parametrize("bad", list(BAD_FIELDS.values()), ids=list(BAD_FIELDS))
def test_an_entry_bad_in_any_field_is_skipped_and_noted_and_the_rest_goes_on(bad: dict[str, Any]) -> None:
    tree: dict[str, Item] = {}
    files: dict[str, RemoteFile] = {}
    unusable: dict[str, Unusable] = {}
    journal.apply(
        tree, files, [entry("/before.txt", 1), entry("/Bad.txt", 2, **bad), entry("/after.txt", 3)], unusable
    )
    assert set(tree) == set(files) == {"/before.txt", "/after.txt"}
    assert list(unusable) == ["/bad.txt"]
    assert unusable["/bad.txt"].path == "/Bad.txt"
    assert unusable["/bad.txt"].why.startswith("not synced: the server sent")


def test_entries_without_a_usable_path_or_shape_are_noted_under_what_was_sent() -> None:
    tree: dict[str, Item] = {}
    files: dict[str, RemoteFile] = {}
    unusable: dict[str, Unusable] = {}
    journal.apply(tree, files, [entry("/a/../b"), "not an entry", entry("/ok.txt", 2)], unusable)
    assert set(tree) == {"/ok.txt"}
    assert set(unusable) == {"/a/../b", "?"}


def test_a_bad_entry_over_a_known_file_holds_it_until_a_good_entry_comes() -> None:
    tree: dict[str, Item] = {}
    files: dict[str, RemoteFile] = {}
    unusable: dict[str, Unusable] = {}
    journal.apply(tree, files, [entry("/a.txt", 1)], unusable)
    journal.apply(tree, files, [entry("/a.txt", 2, mtime=10**30)], unusable)
    assert "/a.txt" not in tree and set(unusable) == {"/a.txt"}
    journal.apply(tree, files, [entry("/a.txt", 3)], unusable)
    assert tree["/a.txt"].rev == 3 and unusable == {}
    journal.apply(tree, files, [entry("/a.txt", 4, mtime=10**30)], unusable)
    journal.apply(tree, files, [{"seq": 5, "op": "delete", "path": "/a.txt", "deleted": True}], unusable)
    assert tree == {} and unusable == {}


def test_a_held_path_is_planned_as_last_synced_so_nothing_is_deleted_or_downloaded() -> None:
    synced = {"/a.txt": Item("/a.txt", FILE, CONTENT_HASH, 1, rev=1, object_id="o1", inode=5)}
    local = {"/a.txt": Item("/a.txt", FILE, CONTENT_HASH, 1, inode=5)}
    tree: dict[str, Item] = dict(synced)
    files: dict[str, RemoteFile] = {}
    unusable: dict[str, Unusable] = {}
    journal.apply(tree, files, [entry("/a.txt", 2, mtime=10**30)], unusable)
    day = datetime.date(2026, 12, 3)
    assert plan(synced, local, tree, device="d", today=day) != []  # read alone: a remote delete
    remote = journal.held_as_synced(tree, synced, unusable)
    assert plan(synced, local, remote, device="d", today=day) == []


def test_a_local_mtime_outside_the_api_range_is_sent_at_its_edge() -> None:
    assert journal.clamp_mtime_ns(2**64) == MTIME_NS_MAX
    assert journal.clamp_mtime_ns(-(2**70)) == MTIME_NS_MIN
    assert journal.clamp_mtime_ns(-1) == -1


def _file(*, executable: bool, rev: int | None = None, inode: int | None = None) -> Item:
    object_id = None if rev is None else f"o{rev}"
    return Item("/run.sh", FILE, CONTENT_HASH, 1, rev, object_id, inode, executable)


def test_a_chmod_alone_is_a_change_that_goes_up_and_comes_down() -> None:
    day = datetime.date(2026, 12, 3)
    synced = {"/run.sh": _file(executable=False, rev=1, inode=5)}
    made_executable = {"/run.sh": _file(executable=True, inode=5)}
    assert plan(synced, made_executable, synced, device="d", today=day) == [
        Upload("/run.sh", CONTENT_HASH, 1, executable=True)
    ]
    unchanged = {"/run.sh": _file(executable=False, inode=5)}
    remote = {"/run.sh": _file(executable=True, rev=2)}
    assert plan(synced, unchanged, remote, device="d", today=day) == [
        Download("/run.sh", CONTENT_HASH, 2, "o2", 1, executable=True)
    ]


@pytest.mark.parametrize(
    ("mode", "executable", "expected"),
    [
        (0o644, True, 0o755),
        (0o600, True, 0o700),
        (0o640, True, 0o750),
        (0o755, False, 0o644),
        (0o751, False, 0o640),  # read and write bits stay as the local file had them
        (0o664, True, 0o775),
    ],
)
def test_the_executable_bit_gives_execute_where_read_is_allowed(
    mode: int, executable: bool, expected: int
) -> None:
    assert executable_mode(mode, executable) == expected
