"""Each sync rule as a table row, in both directions: what a user sees on both sides afterwards.

A row starts from one synced tree, edits the local side and the remote side, syncs in the
simulator and checks the tree both sides end with, and where it matters the actions sent (a move
goes as one move, not as a delete and an upload).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from driftbox.core import paths
from driftbox.core.actions import (
    Action,
    CreateLocalFolder,
    CreateRemoteFolder,
    DeleteLocal,
    DeleteRemote,
    Download,
    MoveLocal,
    MoveRemote,
    Record,
    Upload,
)
from driftbox.core.model import FILE

from tests.client.unit.simulator import World

COPY = "(conflicted copy from laptop 2024-05-06)"  # simulator.DEVICE, simulator.TODAY


class Local:
    """The user's edits on the linked folder."""

    def __init__(self, world: World) -> None:
        self.disk = world.disk

    def write(self, path: str, content: str) -> None:
        self.disk.write(path, content)  # as most editors save: a new file renamed over the old one

    def mkdir(self, path: str) -> None:
        self.disk.mkdir(path)

    def delete(self, path: str) -> None:
        self.disk.remove_tree(path)

    def move(self, from_path: str, to_path: str) -> None:
        self.disk.rename(from_path, to_path)


class Remote:
    """Another device's commits."""

    def __init__(self, world: World) -> None:
        self.server = world.server

    def _rev(self, path: str) -> int | None:
        item = self.server.tree().get(paths.key(path))
        return item.rev if item is not None and item.kind == FILE else None

    def write(self, path: str, content: str) -> None:
        assert self.server.other_device(("put", path, self._rev(path), content))

    def mkdir(self, path: str) -> None:
        assert self.server.other_device(("mkdir", path))

    def delete(self, path: str) -> None:
        assert self.server.other_device(("delete", path, self._rev(path)))

    def move(self, from_path: str, to_path: str) -> None:
        assert self.server.other_device(("move", from_path, to_path, self._rev(from_path)))


Side = Local | Remote
Edits = Callable[[Side], None]
SIDES = pytest.mark.parametrize("first_is_local", [True, False], ids=["local-remote", "remote-local"])


def sync(world: World) -> dict[str, str | None]:
    """Sync; the tree both sides then hold, by path (None for a folder)."""
    world.sync(max_rounds=1)
    local = {item.path: item.content_hash or None for item in world.disk.tree().values()}
    remote = {item.path: item.content_hash or None for item in world.server.tree().values()}
    assert local == remote
    return local


def run(
    start: Mapping[str, str | None], local: Edits, remote: Edits
) -> tuple[dict[str, str | None], list[Action]]:
    world = World.start(start)
    local(Local(world))
    remote(Remote(world))
    end = sync(world)
    return end, world.plans[0] if world.plans else []


def both(
    start: Mapping[str, str | None], first: Edits, second: Edits, first_is_local: bool
) -> tuple[dict[str, str | None], list[Action]]:
    """``first`` on one side and ``second`` on the other, in the direction asked."""
    if first_is_local:
        return run(start, first, second)
    return run(start, second, first)


def kinds(actions: list[Action]) -> list[str]:
    return [type(action).__name__ for action in actions if not isinstance(action, Record)]


def nothing(_: Side) -> None:
    pass


# -- one file -------------------------------------------------------------------------------------


@SIDES
def test_an_edit_on_one_side_reaches_the_other(first_is_local: bool) -> None:
    end, actions = both({"/a.txt": "h0"}, lambda s: s.write("/a.txt", "h1"), nothing, first_is_local)
    assert end == {"/a.txt": "h1"}
    assert kinds(actions) == (["Upload"] if first_is_local else ["Download"])


def test_an_edit_on_both_sides_keeps_both_the_servers_at_the_path() -> None:
    end, actions = run({"/a.txt": "h0"}, lambda s: s.write("/a.txt", "h1"), lambda s: s.write("/a.txt", "h2"))
    assert end == {"/a.txt": "h2", f"/a {COPY}.txt": "h1"}
    assert kinds(actions) == ["MoveLocal", "Upload", "Download"]
    assert Upload(f"/a {COPY}.txt", "h1", None) in actions


def test_the_same_edit_on_both_sides_transfers_nothing() -> None:
    end, actions = run({"/a.txt": "h0"}, lambda s: s.write("/a.txt", "h1"), lambda s: s.write("/a.txt", "h1"))
    assert end == {"/a.txt": "h1"}
    assert kinds(actions) == [] and actions  # only a Record of the new rev and inode


@SIDES
def test_an_edit_beats_a_delete(first_is_local: bool) -> None:
    end, actions = both(
        {"/a.txt": "h0"}, lambda s: s.write("/a.txt", "h1"), lambda s: s.delete("/a.txt"), first_is_local
    )
    assert end == {"/a.txt": "h1"}
    assert kinds(actions) == (["Upload"] if first_is_local else ["Download"])
    if first_is_local:
        assert Upload("/a.txt", "h1", None) in actions  # as new: the server's file is gone


@SIDES
def test_a_delete_reaches_the_other_side(first_is_local: bool) -> None:
    end, actions = both({"/a.txt": "h0", "/b": "h1"}, lambda s: s.delete("/a.txt"), nothing, first_is_local)
    assert end == {"/b": "h1"}
    assert kinds(actions) == (["DeleteRemote"] if first_is_local else ["DeleteLocal"])


def test_a_delete_on_both_sides_is_only_recorded() -> None:
    end, actions = run(
        {"/a.txt": "h0", "/b": "h1"}, lambda s: s.delete("/a.txt"), lambda s: s.delete("/a.txt")
    )
    assert end == {"/b": "h1"}
    assert actions == [Record("/a.txt", None)]


@pytest.mark.parametrize(
    ("local_content", "remote_content", "expected"),
    [
        ("h1", "h1", {"/n.md": "h1"}),
        ("h1", "h2", {"/n.md": "h2", f"/n {COPY}.md": "h1"}),
    ],
    ids=["same content", "different content"],
)
def test_a_create_on_both_sides(local_content: str, remote_content: str, expected: dict[str, str]) -> None:
    end, actions = run(
        {}, lambda s: s.write("/n.md", local_content), lambda s: s.write("/n.md", remote_content)
    )
    assert end == expected
    assert not [a for a in actions if isinstance(a, DeleteLocal | DeleteRemote)]


# -- folders ----------------------------------------------------------------------------------


@SIDES
def test_a_folder_and_a_file_at_one_path_are_both_kept(first_is_local: bool) -> None:
    def folder(side: Side) -> None:
        side.mkdir("/x.d")
        side.write("/x.d/in", "h1")

    end, _ = both({}, folder, lambda s: s.write("/x.d", "h2"), first_is_local)
    if first_is_local:  # the server's file stays; the local folder is the copy (no extension split)
        assert end == {"/x.d": "h2", f"/x.d {COPY}": None, f"/x.d {COPY}/in": "h1"}
    else:
        assert end == {"/x.d": None, "/x.d/in": "h1", f"/x {COPY}.d": "h2"}


@SIDES
def test_a_folder_deleted_on_one_side_keeps_what_the_other_added_in_it(first_is_local: bool) -> None:
    start = {"/f/old": "h0", "/f/sub/deep": "h0"}
    end, actions = both(
        start, lambda s: s.delete("/f"), lambda s: s.write("/f/sub/new", "h1"), first_is_local
    )
    assert end == {"/f": None, "/f/sub": None, "/f/sub/new": "h1"}
    deletes = DeleteRemote if first_is_local else DeleteLocal
    deleted = [paths.key(a.path) for a in actions if isinstance(a, deletes)]
    assert deleted == ["/f/sub/deep", "/f/old"]  # deepest first


@SIDES
def test_a_folder_deleted_on_one_side_keeps_a_file_edited_in_it(first_is_local: bool) -> None:
    end, _ = both(
        {"/f/a": "h0", "/f/b": "h0"},
        lambda s: s.delete("/f"),
        lambda s: s.write("/f/a", "h1"),
        first_is_local,
    )
    assert end == {"/f": None, "/f/a": "h1"}


def test_deletes_go_deepest_first_and_creates_parents_first() -> None:
    start = {"/f/g/h/x": "h0", "/f/y": "h0"}

    def remote(side: Side) -> None:
        side.delete("/f")
        side.write("/n/m/z", "h1")

    _, actions = run(start, nothing, remote)
    deletes = [paths.depth(a.path) for a in actions if isinstance(a, DeleteLocal)]
    creates = [paths.depth(a.path) for a in actions if isinstance(a, Download | CreateLocalFolder)]
    assert deletes == sorted(deletes, reverse=True) and len(deletes) == 5
    assert creates == sorted(creates) and len(creates) == 3


def test_a_file_replaced_by_a_folder_on_one_side() -> None:
    def local(side: Side) -> None:
        side.delete("/a")
        side.mkdir("/a")
        side.write("/a/in", "h1")

    end, actions = run({"/a": "h0"}, local, nothing)
    assert end == {"/a": None, "/a/in": "h1"}
    assert kinds(actions) == ["DeleteRemote", "CreateRemoteFolder", "Upload"]


# -- moves ------------------------------------------------------------------------------------


@SIDES
def test_a_moved_file_edited_on_the_other_side_is_moved_then_updated(first_is_local: bool) -> None:
    start = {"/a.txt": "h0", "/d/keep": "h0"}
    end, actions = both(
        start, lambda s: s.move("/a.txt", "/d/a.txt"), lambda s: s.write("/a.txt", "h1"), first_is_local
    )
    assert end == {"/d": None, "/d/keep": "h0", "/d/a.txt": "h1"}
    if first_is_local:
        assert kinds(actions) == ["MoveRemote", "Download"]
    else:
        assert kinds(actions) == ["MoveLocal", "Upload"]


@SIDES
def test_a_moved_folder_is_one_move(first_is_local: bool) -> None:
    start = {"/f/a": "h0", "/f/b": "h1", "/f/s/c": "h2"}
    end, actions = both(start, lambda s: s.move("/f", "/g"), nothing, first_is_local)
    assert end == {"/g": None, "/g/a": "h0", "/g/b": "h1", "/g/s": None, "/g/s/c": "h2"}
    assert kinds(actions) == (["MoveRemote"] if first_is_local else ["MoveLocal"])


def test_a_folder_moved_with_a_child_moved_out_of_it() -> None:
    def local(side: Side) -> None:
        side.move("/f", "/g")
        side.move("/g/a", "/a")

    end, actions = run({"/f/a": "h0", "/f/b": "h1"}, local, nothing)
    assert end == {"/g": None, "/g/b": "h1", "/a": "h0"}
    # 2: the rev /f/a was made at (revs count for the whole server: /f is 1), which a move keeps.
    assert actions == [MoveRemote("/f", "/g", None), MoveRemote("/g/a", "/a", 2)]


def test_a_move_to_different_places_on_each_side_follows_the_server() -> None:
    end, actions = run({"/a": "h0"}, lambda s: s.move("/a", "/b"), lambda s: s.move("/a", "/c"))
    assert end == {"/c": "h0"}
    assert kinds(actions) == ["MoveLocal"]


def test_the_same_move_on_both_sides_is_recorded_and_keeps_an_edit() -> None:
    def remote(side: Side) -> None:
        side.move("/f", "/g")
        side.write("/g/a", "h1")

    end, actions = run({"/f/a": "h0"}, lambda s: s.move("/f", "/g"), remote)
    assert end == {"/g": None, "/g/a": "h1"}
    assert kinds(actions) == ["Download"]  # no conflicted copy: the base followed the move


@SIDES
def test_a_move_onto_a_taken_name_falls_back_without_loss(first_is_local: bool) -> None:
    end, _ = both({"/a": "h0"}, lambda s: s.move("/a", "/b"), lambda s: s.write("/b", "h1"), first_is_local)
    if first_is_local:
        assert end == {"/b": "h1", f"/b {COPY}": "h0"}
    else:  # the remote moved onto the local new /b: the local /b is the copy
        assert end == {"/b": "h0", f"/b {COPY}": "h1"}


@SIDES
def test_a_case_only_rename_is_a_move(first_is_local: bool) -> None:
    end, actions = both({"/f/a.txt": "h0"}, lambda s: s.move("/f", "/F"), nothing, first_is_local)
    assert end == {"/F": None, "/F/a.txt": "h0"}
    assert actions[:1] == ([MoveRemote("/f", "/F", None)] if first_is_local else [MoveLocal("/f", "/F")])
    assert kinds(actions) == (["MoveRemote"] if first_is_local else ["MoveLocal"])


def test_a_case_only_rename_on_both_sides_follows_the_server() -> None:
    end, actions = run({"/ab": "h0"}, lambda s: s.move("/ab", "/Ab"), lambda s: s.move("/ab", "/aB"))
    assert end == {"/aB": "h0"}
    assert kinds(actions) == ["MoveLocal"]


def test_a_download_into_a_folder_spelled_otherwise_on_disk_uses_the_disks_spelling() -> None:
    world = World.start({"/f/a": "h0"})
    Local(world).move("/f", "/F")
    Remote(world).write("/f/new", "h1")
    world.sync(max_rounds=1)
    downloads = [a for a in world.plans[0] if isinstance(a, Download)]
    assert [d.path for d in downloads] == ["/F/new"]


def test_a_new_local_folder_is_created_before_its_files() -> None:
    def local(side: Side) -> None:
        side.mkdir("/p")
        side.mkdir("/p/q")
        side.write("/p/q/r", "h2")

    _, actions = run({}, local, nothing)
    assert actions == [CreateRemoteFolder("/p"), CreateRemoteFolder("/p/q"), Upload("/p/q/r", "h2", None)]
