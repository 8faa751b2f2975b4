"""A commit refused mid-plan ends the same in the planner's simulator and on the real local stack.

The laptop edits three things and adds two, plans (one commit of five ops), and before it commits
the phone edits one of the files: the server refuses the commit naming that file, the executor
drops it and sends the rest again, and the next round keeps both versions of the file. The same
scenario runs in ``tests/client/unit/simulator.py`` (the shipped executor over the fake server and
disk) and here with real ``driftbox`` devices on the local stack; the server's tree and both
folders must end the same in the two worlds. That is what lets the simulator's randomized tests
stand for the real stack.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from driftbox.core import actions as a
from driftbox.core import chunker, paths
from driftbox.core.model import FILE, Item
from driftbox.disk_scan import MARKER

from tests.client.unit.simulator import World
from tests.system.devices import in_process, new_user, plan_now, tree

START = {"/notes/a.txt": "a0", "/notes/b.txt": "b0", "/c.txt": "c0"}
PLANNED = [  # the laptop's plan: one run of remote actions, sent as one commit
    ("CreateRemoteFolder", "/new"),
    ("DeleteRemote", "/c.txt"),
    ("Upload", "/new/d.txt"),
    ("Upload", "/notes/a.txt"),
    ("Upload", "/notes/b.txt"),
]
Tree = dict[str, bytes | None]  # relative path -> a file's bytes (short labels here), None: a folder


def _shape(actions: list[a.Action]) -> list[tuple[str, str]]:
    return sorted((type(x).__name__, getattr(x, "path", "")) for x in actions if not isinstance(x, a.Record))


def _as_tree(items: dict[str, Item]) -> Tree:
    return {i.path[1:]: i.content_hash.encode() if i.kind == FILE else None for i in items.values()}


def _content_hash(data: bytes) -> str:
    return chunker.content_hash([hashlib.sha256(data).hexdigest()])


def simulated(today: dt.date) -> tuple[Tree, Tree, set[str], list[tuple[str, str]]]:
    """The laptop's folder and the server's tree at the end, in the simulator; what the first run
    failed, and the first plan."""
    world = World.start(START)
    world.today = today
    world.disk.write("/notes/a.txt", "a1")
    world.disk.write("/notes/b.txt", "b1")
    world.disk.remove_tree("/c.txt")
    world.disk.mkdir("/new")
    world.disk.write("/new/d.txt", "d1")

    def phone_edits_b() -> None:
        b = world.server.tree()[paths.key("/notes/b.txt")]
        assert world.server.other_device(("put", b.path, b.rev, "b2"))

    world.sync(after_first_plan=phone_edits_b)
    assert world.refused_commits == 1
    return (
        _as_tree(world.disk.tree()),
        _as_tree(world.server.tree()),
        set(world.outcomes[0].failed),
        _shape(world.plans[0]),
    )


def _write(folder: Path, relative: str, data: bytes) -> None:
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    (folder / relative).write_bytes(data)


def _folder(folder: Path) -> Tree:
    return {k: v for k, v in tree(folder).items() if k != MARKER}


def test_a_commit_refused_mid_plan_ends_the_same_in_the_simulator_and_on_the_local_stack(
    make_stack: Any, tmp_path: Path
) -> None:
    laptop, phone = new_user(make_stack(None), tmp_path, "laptop", "phone")
    for path, content in START.items():
        _write(laptop.folder, path[1:], content.encode())
    laptop.sync()
    phone.sync()

    _write(laptop.folder, "notes/a.txt", b"a1")
    _write(laptop.folder, "notes/b.txt", b"b1")
    (laptop.folder / "c.txt").unlink()
    _write(laptop.folder, "new/d.txt", b"d1")
    with in_process(laptop) as sync:
        actions, executor = plan_now(sync)
        today = dt.date.today()  # the plan's: the conflicted copy is named when planned
        assert _shape(actions) == sorted(PLANNED)
        # Meanwhile the phone edits one of the files the laptop is about to commit.
        _write(phone.folder, "notes/b.txt", b"b2")
        phone.sync()
        outcome = executor.run(actions)
        assert set(outcome.failed) == {"/notes/b.txt"}, outcome.failed  # the rest went in
        report = sync.once()
        assert report.ok, report.problems
        live = [e for page in sync.api.pages(sync.namespace_id) for e in page["entries"] if not e["deleted"]]
    phone.sync()

    sim_laptop, sim_server, sim_failed, sim_plan = simulated(today)
    assert sim_plan == sorted(PLANNED)
    assert sim_failed == {"/notes/b.txt"}
    copy = f"notes/b (conflicted copy from laptop {today.isoformat()}).txt"
    assert sim_laptop[copy] == b"b1" and sim_laptop["notes/b.txt"] == b"b2"  # both versions kept
    assert _folder(laptop.folder) == sim_laptop
    assert _folder(phone.folder) == sim_server  # the phone, synced after, holds the server's tree
    server = {e["path"][1:]: e["content_hash"] if e["kind"] == FILE else None for e in live}
    assert server == {k: _content_hash(v) if v is not None else None for k, v in sim_server.items()}
