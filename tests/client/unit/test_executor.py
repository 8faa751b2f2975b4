"""The shipped executor on the simulator's ports: what one run of a plan achieves.

Each test makes one plan in the simulator, lets ``driftbox.executor.Executor`` run it once, and
checks what that one run did: the refused ops of a commit are dropped and the rest committed, and
a keep-both conflict or a move with an edit on the other side completes in that run, not the next.
"""

from __future__ import annotations

from collections.abc import Sequence

from driftbox.core import paths
from driftbox.core.actions import Action, Download, MoveLocal, MoveRemote, Upload
from driftbox.core.model import Item
from driftbox.core.planner import plan

from tests.client.unit.simulator import DEVICE, TODAY, World

COPY = "(conflicted copy from laptop 2024-05-06)"


def plan_and_run_once(
    world: World, meanwhile: Sequence[tuple[object, ...]] = ()
) -> tuple[list[Action], dict[str, str]]:
    """One round: the plan, then (after the other device's ``meanwhile`` commits) one run of it;
    the plan and the paths that run failed."""
    remote = world.pull()
    executor = world.executor()
    actions = plan(world.synced, world.disk.tree(), remote, device=DEVICE, today=TODAY)
    for op in meanwhile:
        assert world.server.other_device(op)
    world.watch.strict = not meanwhile
    return actions, executor.run(actions).failed


def contents(items: dict[str, Item]) -> dict[str, str | None]:
    return {item.path: item.content_hash or None for item in items.values()}


def test_a_refused_commit_drops_the_ops_named_and_commits_the_rest_in_the_same_run() -> None:
    world = World.start({"/a": "a0", "/b": "b0", "/c": "c0"})
    for path in ("/a", "/b", "/c"):
        world.disk.write(path, path[1] + "1")
    b = world.server.tree()[paths.key("/b")]

    actions, failed = plan_and_run_once(world, meanwhile=[("put", "/b", b.rev, "b2")])
    assert [type(x) for x in actions] == [Upload, Upload, Upload]  # one commit of three ops
    assert world.refused_commits == 1
    assert set(failed) == {"/b"}  # planned again next round
    assert contents(world.server.tree()) == {"/a": "a1", "/b": "b2", "/c": "c1"}
    assert contents(world.synced) == {"/a": "a1", "/b": "b0", "/c": "c1"}  # /b: as last synced

    world.sync()  # the next round keeps both versions of /b
    assert contents(world.server.tree()) == {"/a": "a1", "/b": "b2", f"/b {COPY}": "b1", "/c": "c1"}


def test_a_conflict_keeps_both_in_one_run() -> None:
    world = World.start({"/a.txt": "h0"})
    world.disk.write("/a.txt", "h1")
    a = world.server.tree()[paths.key("/a.txt")]
    assert world.server.other_device(("put", "/a.txt", a.rev, "h2"))

    actions, failed = plan_and_run_once(world)
    assert {type(x) for x in actions} >= {MoveLocal, Upload, Download}
    # The copy moved aside goes up, and the server's version comes down, in this run.
    assert failed == {}
    both = {"/a.txt": "h2", f"/a {COPY}.txt": "h1"}
    assert contents(world.disk.tree()) == contents(world.server.tree()) == both


def test_a_file_moved_here_and_edited_there_is_moved_then_updated_in_one_run() -> None:
    world = World.start({"/a.txt": "h0", "/d/keep": "h0"})
    world.disk.rename("/a.txt", "/d/a.txt")
    a = world.server.tree()[paths.key("/a.txt")]
    assert world.server.other_device(("put", "/a.txt", a.rev, "h1"))

    actions, failed = plan_and_run_once(world)
    assert [type(x) for x in actions] == [MoveRemote, Download]
    # The download finds the chunk list where the remote tree had it before this run's move.
    assert failed == {}
    assert contents(world.disk.tree()) == contents(world.server.tree())
    assert contents(world.disk.tree())["/d/a.txt"] == "h1"
