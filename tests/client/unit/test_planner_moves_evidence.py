"""Moves told by evidence: an inode is taken for a move only with the synced bytes (item 4), and
a folder moved by copy and delete (new inodes, same bytes) is a move, not a mass delete (item 4b).

Each test edits the simulator's disk as the operating system would (inodes given by hand where
the test is about them), syncs, and checks what both sides end with and what was sent.
"""

from __future__ import annotations

import itertools
from typing import TypeVar

from driftbox.core import paths
from driftbox.core.actions import DeleteRemote, MoveLocal, MoveRemote, Upload
from driftbox.core.model import FILE, FOLDER, Item
from driftbox.core.planner import check_safe

from tests.client.unit.fakes import size_of
from tests.client.unit.simulator import World

_fresh_inodes = itertools.count(10_000)
A = TypeVar("A")


def put_file(world: World, path: str, content: str, inode: int | None = None) -> None:
    """A file on disk with ``content``, on ``inode`` (as a filesystem may hand out a freed one)."""
    inode = next(_fresh_inodes) if inode is None else inode
    world.disk.entries[paths.key(path)] = Item(path, FILE, content, size_of(content), inode=inode)


def put_folder(world: World, path: str, inode: int | None = None) -> None:
    inode = next(_fresh_inodes) if inode is None else inode
    world.disk.entries[paths.key(path)] = Item(path, FOLDER, inode=inode)


def inode_of(world: World, path: str) -> int:
    inode = world.disk.entries[paths.key(path)].inode
    assert inode is not None
    return inode


def object_id_of(world: World, path: str) -> str | None:
    return world.server.tree()[paths.key(path)].object_id


def both_sides(world: World) -> dict[str, str | None]:
    """Sync until done; the tree both sides then hold (None for a folder)."""
    world.sync(max_rounds=2)
    local = {item.path: item.content_hash or None for item in world.disk.tree().values()}
    remote = {item.path: item.content_hash or None for item in world.server.tree().values()}
    assert local == remote
    return local


def sent(world: World, kind: type[A]) -> list[A]:
    return [action for actions in world.plans for action in actions if isinstance(action, kind)]


# -- item 4: an inode is a move only with evidence ------------------------------------------------


def test_a_safe_save_then_a_new_file_on_the_freed_inode_keeps_each_files_history() -> None:
    world = World.start({"/a.txt": "h0"})
    freed, a_id = inode_of(world, "/a.txt"), object_id_of(world, "/a.txt")
    put_file(world, "/a.txt", "h1")  # the editor's temporary file, renamed over a.txt
    put_file(world, "/b.txt", "h2", inode=freed)  # a new file gets the freed inode

    assert both_sides(world) == {"/a.txt": "h1", "/b.txt": "h2"}
    assert not sent(world, MoveRemote)  # b.txt is new, not a.txt moved
    assert object_id_of(world, "/a.txt") == a_id  # a.txt's history stays with a.txt


def test_a_remote_move_never_takes_a_new_local_file_on_the_freed_inode_along() -> None:
    world = World.start({"/a.txt": "h0"})
    freed = inode_of(world, "/a.txt")
    assert world.server.other_device(("move", "/a.txt", "/c.txt", 1))
    put_file(world, "/a.txt", "h1")  # safe-saved here meanwhile
    put_file(world, "/b.txt", "h2", inode=freed)

    # The saved a.txt follows the server's move; the new b.txt stays where the user put it.
    assert both_sides(world) == {"/b.txt": "h2", "/c.txt": "h1"}
    assert sent(world, MoveLocal) == [MoveLocal("/a.txt", "/c.txt")]


def test_a_new_folder_on_a_deleted_folders_inode_is_not_its_move() -> None:
    world = World.start({"/x/f": "h0"})
    freed = inode_of(world, "/x")
    world.disk.remove_tree("/x")
    put_folder(world, "/y", inode=freed)
    put_file(world, "/y/g", "h1")

    assert both_sides(world) == {"/y": None, "/y/g": "h1"}
    assert not sent(world, MoveRemote)
    # 2: the rev /x/f was made at (revs count for the whole server: /x is 1).
    assert sent(world, DeleteRemote) == [DeleteRemote("/x/f", FILE, 2), DeleteRemote("/x", FOLDER, None)]


def test_a_file_moved_and_edited_before_the_sync_goes_up_as_a_new_file() -> None:
    """Without its bytes an inode proves nothing (a deleted file's may be reused): the old file is
    deleted (kept in its history) and the edited one uploaded."""
    world = World.start({"/a": "h0"})
    inode = inode_of(world, "/a")
    del world.disk.entries["/a"]
    put_file(world, "/b", "h1", inode=inode)

    assert both_sides(world) == {"/b": "h1"}
    assert not sent(world, MoveRemote)
    assert "h0" in world.server.history


def test_a_moved_folder_whose_files_were_all_saved_anew_is_still_one_move() -> None:
    world = World.start({"/f/a": "h0", "/f/s/b": "h1"})
    world.disk.rename("/f", "/g")
    put_file(world, "/g/a", "h2")  # saved through a new file: a new inode
    put_file(world, "/g/s/b", "h3")

    assert both_sides(world) == {"/g": None, "/g/a": "h2", "/g/s": None, "/g/s/b": "h3"}
    assert sent(world, MoveRemote) == [MoveRemote("/f", "/g", None)]


# -- item 4b: a folder moved by copy and delete ---------------------------------------------------


def _copy_and_delete(world: World, from_path: str, to_path: str) -> None:
    """What ``shutil.move`` does across filesystems: copy (new inodes, same bytes), then delete."""
    for ancestor in paths.ancestors(to_path):
        if paths.key(ancestor) not in world.disk.entries:
            put_folder(world, ancestor)
    for item in sorted(world.disk.tree().values(), key=lambda item: item.path.count("/")):
        if item.path == from_path or paths.is_within(paths.key(item.path), paths.key(from_path)):
            new_path = paths.reroot(item.path, from_path, to_path)
            if item.kind == FOLDER:
                put_folder(world, new_path)
            else:
                put_file(world, new_path, item.content_hash)
    world.disk.remove_tree(from_path)


def _files(count: int, folder: str) -> dict[str, str | None]:
    return {f"{folder}/f{i:03}": f"c{i}" for i in range(count)}


def test_a_folder_moved_by_copy_and_delete_is_not_refused_as_a_mass_delete() -> None:
    world = World.start({**_files(300, "/src"), **{f"/keep{i}": "k" for i in range(13)}})
    _copy_and_delete(world, "/src", "/new/parent/src")

    assert check_safe(world.synced, world.disk.tree()) is None


def test_the_guard_still_refuses_what_is_really_gone() -> None:
    world = World.start({**_files(300, "/src"), **{f"/keep{i}": "k" for i in range(13)}})
    world.disk.remove_tree("/src")
    for i in range(300):
        put_file(world, f"/other{i}", f"new{i}")  # new files, other bytes: not a move
    assert check_safe(world.synced, world.disk.tree()) is not None


def test_copies_of_one_content_count_once_each() -> None:
    world = World.start({f"/same{i:03}": "h" for i in range(100)})
    for i in range(100):
        world.disk.remove_tree(f"/same{i:03}")
    put_file(world, "/one", "h")  # one copy of 100 identical files is not 100 moves
    reason = check_safe(world.synced, world.disk.tree())
    assert reason is not None and "99 of the 100 items" in reason


def test_a_folder_moved_by_copy_and_delete_is_sent_as_moves_without_an_upload() -> None:
    world = World.start({**_files(60, "/src"), "/src/sub/deep": "d", "/keep": "k"})
    ids = {k: item.object_id for k, item in world.server.tree().items()}
    _copy_and_delete(world, "/src", "/new/parent/dst")

    end = both_sides(world)

    assert len(world.plans) == 1  # and nothing left for a second round
    assert end == {
        "/keep": "k",
        "/new": None,
        "/new/parent": None,
        "/new/parent/dst": None,
        "/new/parent/dst/sub": None,
        "/new/parent/dst/sub/deep": "d",
        **{path.replace("/src/", "/new/parent/dst/"): hash for path, hash in _files(60, "/src").items()},
    }
    assert not sent(world, Upload)
    assert sent(world, MoveRemote) == [MoveRemote("/src", "/new/parent/dst", None)]  # one move
    assert object_id_of(world, "/new/parent/dst") == ids["/src"]
    assert object_id_of(world, "/new/parent/dst/f007") == ids["/src/f007"]  # so its history
    moved = {paths.key(item.path): item for item in world.synced.values()}
    assert all(moved[k].inode == world.disk.entries[k].inode for k in moved)  # the new inodes recorded


def test_a_folder_copied_with_a_change_moves_file_by_file_and_copies_pair_by_name() -> None:
    world = World.start({"/src/a": "h", "/src/b": "h", "/src/p/init": "e", "/src/q/init": "e"})
    ids = {k: item.object_id for k, item in world.server.tree().items()}
    _copy_and_delete(world, "/src", "/dst")
    put_file(world, "/dst/new", "n")  # not the folder that was synced: its files are matched one by one

    end = both_sides(world)

    assert end == {
        "/dst": None,
        "/dst/new": "n",
        "/dst/a": "h",
        "/dst/b": "h",
        "/dst/p": None,
        "/dst/p/init": "e",
        "/dst/q": None,
        "/dst/q/init": "e",
    }
    assert object_id_of(world, "/dst/a") == ids["/src/a"]  # one of each name: paired by name
    assert object_id_of(world, "/dst/b") == ids["/src/b"]
    # Two "init" with the same bytes cannot be told apart: sent again (their chunks are present).
    assert sorted(action.path for action in sent(world, Upload)) == ["/dst/new", "/dst/p/init", "/dst/q/init"]
