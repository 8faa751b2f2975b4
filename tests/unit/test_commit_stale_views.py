"""plan_commit against what a device saw: revs that name one version, folder deletes past a cursor."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.domain.model import DeleteOp, Entry, MkdirOp, MoveOp, Op, PutOp, RestoreOp
from chalicelib.errors import Conflict
from tests.unit.fake_tree import FakeTree, file, folder
from tests.unit.test_commit_plan import (
    RESET,
    SEQ,
    Case,
    Conflicts,
    X,
    Y,
    Z,
    check_case,
    commit,
    conflicts,
    plan,
)

D, F = folder, file


def refused(tree: FakeTree, *ops: Op) -> list[tuple[str, int | None]]:
    """The conflicts of a commit that must be refused; the tree must not change."""
    before = dict(tree.nodes)
    with pytest.raises(Conflict) as caught:
        plan(tree, *ops)
    assert tree.nodes == before
    return conflicts(caught.value)


def rev_at(tree: FakeTree, path: str) -> int:
    node = tree.at(path)
    assert node is not None and node.live
    return node.rev


# -- a rev names one version: a stale parent_rev never lands on another object -------------------
def test_a_rev_seen_before_a_move_does_not_match_a_new_file_at_the_old_path() -> None:
    tree = FakeTree()
    r1 = commit(tree, PutOp("/a", None, X)).results[0]["rev"]
    commit(tree, MoveOp("/a", "/b", r1))
    r_new = commit(tree, PutOp("/a", None, Y)).results[0]["rev"]
    assert r_new != r1
    for stale in (PutOp("/a", r1, Z), DeleteOp("/a", r1), MoveOp("/a", "/c", r1)):
        assert refused(tree, stale) == [("/a", r_new)], stale
    # The rev went with its object: the file moved to /b still takes it.
    moved = tree.at("/b")
    assert moved is not None
    assert commit(tree, PutOp("/b", r1, Z)).results[0]["object_id"] == moved.object_id
    assert rev_at(tree, "/a") == r_new


def test_a_rev_seen_on_one_file_does_not_match_another_file_moved_to_its_path() -> None:
    tree = FakeTree()
    r_a = commit(tree, PutOp("/a", None, X)).results[0]["rev"]
    r_c = commit(tree, PutOp("/c", None, Y)).results[0]["rev"]
    commit(tree, MoveOp("/a", "/b", r_a), MoveOp("/c", "/a", r_c))
    assert refused(tree, PutOp("/a", r_a, Z)) == [("/a", r_c)]
    assert refused(tree, DeleteOp("/a", r_a)) == [("/a", r_c)]


def test_a_rev_seen_on_a_file_does_not_match_a_folder_or_file_re_created_there() -> None:
    tree = FakeTree()
    r1 = commit(tree, PutOp("/a", None, X)).results[0]["rev"]
    tomb = commit(tree, DeleteOp("/a", r1)).results[0]["rev"]
    folder_rev = commit(tree, MkdirOp("/a")).results[0]["rev"]
    assert len({r1, tomb, folder_rev}) == 3
    assert refused(tree, DeleteOp("/a", r1)) == [("/a", folder_rev)]
    commit(tree, DeleteOp("/a", folder_rev))
    again = commit(tree, PutOp("/a", None, Y)).results[0]["rev"]
    assert refused(tree, PutOp("/a", r1, Z), PutOp("/a", tomb, Z)) == [("/a", again), ("/a", again)]


def _check_one_version_per_rev(entries: list[Entry]) -> None:
    """Every rev a put, mkdir or delete makes is new to the namespace; a move keeps its object's."""
    version: dict[int, tuple[str, str, bool]] = {}
    for entry in entries:
        seen = (entry.object_id, entry.content.content_hash, entry.deleted)
        if entry.op == "move":
            assert version[entry.rev] == seen, f"{entry} moved a rev that names another version"
        else:
            assert entry.rev == entry.seq, entry
            assert entry.rev not in version, f"{entry} reuses rev {entry.rev}"
            version[entry.rev] = seen


def test_revs_are_unique_across_puts_deletes_recreates_moves_and_restores() -> None:
    tree = FakeTree()
    script: list[Callable[[FakeTree], list[Op]]] = [
        lambda t: [PutOp("/d/a", None, X), PutOp("/b", None, Y)],
        lambda t: [PutOp("/d/a", rev_at(t, "/d/a"), Y)],
        lambda t: [MoveOp("/d/a", "/a", rev_at(t, "/d/a")), MoveOp("/b", "/d/a", rev_at(t, "/b"))],
        lambda t: [DeleteOp("/a", rev_at(t, "/a")), PutOp("/a", None, Z)],  # re-created: same object
        lambda t: [RestoreOp("/a", X), RestoreOp("/b", Y)],
        lambda t: [MoveOp("/d", "/e", None), MkdirOp("/d")],
        lambda t: [DeleteOp("/e", None, seen_seq=t.head_seq), PutOp("/e/a", None, Z)],
        lambda t: [MoveOp("/a", "/A", rev_at(t, "/a")), PutOp("/d/a", None, X)],
    ]
    entries: list[Entry] = []
    for step in script:
        entries += commit(tree, *step(tree)).entries
    assert {e.op for e in entries} == {"put", "mkdir", "delete", "move"}
    _check_one_version_per_rev(entries)


# -- a folder delete refuses what changed after the device's cursor --------------------------------
# As test_commit_plan's table; the seeds get seqs 1, 2, 3, ... in order.
SEEN_CASES = [
    Case(
        "delete a folder seen up to its last change",
        (D("/d"), F("/d/a"), F("/d/new")),
        (DeleteOp("/d", None, seen_seq=3),),
        [("delete", "/d/new", SEQ), ("delete", "/d/a", SEQ), ("delete", "/d", SEQ)],
    ),
    Case(
        "delete a folder holding a file added after seen_seq",
        (D("/d"), F("/d/a"), F("/d/new", 4)),
        (DeleteOp("/d", None, seen_seq=2),),
        Conflicts([("/d/new", 4)]),
    ),
    Case(
        "delete a folder: the first unseen node is reported, parents first",
        (D("/d"), F("/d/z"), D("/d/s"), F("/d/s/b")),
        (DeleteOp("/d", None, seen_seq=1),),
        Conflicts([("/d/s", 1)]),
    ),
    Case(
        "delete a folder created after seen_seq",
        (F("/x"), D("/d")),
        (DeleteOp("/d", None, seen_seq=1),),
        Conflicts([("/d", 1)]),
    ),
    Case(
        "delete a folder at its rev still checks seen_seq",
        (D("/d", 1), F("/d/new")),
        (DeleteOp("/d", 1, seen_seq=1),),
        Conflicts([("/d/new", 1)]),
    ),
    Case(
        "seen_seq passes over tombstones below",
        (D("/d"), F("/d/old", 2, deleted=True)),
        (DeleteOp("/d", None, seen_seq=1),),
        [("delete", "/d", SEQ)],
    ),
    Case(
        "seen_seq is not checked for a file (its parent_rev is)",
        (F("/x", 1), F("/y")),
        (DeleteOp("/x", 1, seen_seq=0),),
        [("delete", "/x", SEQ)],
    ),
    Case(
        "the commit's own earlier ops count as seen",
        (D("/d"),),
        (PutOp("/d/mine", None, X), DeleteOp("/d", None, seen_seq=1)),
        [("put", "/d/mine", SEQ), ("delete", "/d/mine", SEQ), ("delete", "/d", SEQ)],
    ),
    Case(
        "a node moved in by this commit keeps the change the device had not seen",
        (D("/d"), D("/s"), F("/s/new")),
        (MoveOp("/s", "/d/s", None), DeleteOp("/d", None, seen_seq=2)),
        Conflicts([("/d/s/new", 1)]),
    ),
    Case(
        "a node moved in by this commit, seen before",
        (D("/d"), D("/s"), F("/s/new")),
        (MoveOp("/s", "/d/s", None), DeleteOp("/d", None, seen_seq=3)),
        [
            ("move", "/d/s", 1, "/s"),
            ("move", "/d/s/new", 1, "/s/new"),
            ("delete", "/d/s/new", SEQ),
            ("delete", "/d/s", SEQ),
            ("delete", "/d", SEQ),
        ],
    ),
    Case("seen_seq past the head", (D("/d"),), (DeleteOp("/d", None, seen_seq=2),), RESET),
    Case("seen_seq past the head, on a file", (F("/x"),), (DeleteOp("/x", 1, seen_seq=2),), RESET),
]


@pytest.mark.parametrize("case", SEEN_CASES, ids=[c.id for c in SEEN_CASES])
def test_plan_with_seen_seq(case: Case) -> None:
    check_case(case)


def seeded() -> tuple[FakeTree, int]:
    """A tree with /F (a.txt, sub/b.txt) and /G/x.txt; and the cursor of a device that saw it."""
    tree = FakeTree()
    commit(tree, PutOp("/F/a.txt", None, X), PutOp("/F/sub/b.txt", None, Y), PutOp("/G/x.txt", None, Z))
    return tree, tree.head_seq


@pytest.mark.parametrize(
    "meanwhile",
    [
        pytest.param(lambda t: [PutOp("/F/new.txt", None, Z)], id="a file added"),
        pytest.param(lambda t: [PutOp("/F/sub/deep/new.txt", None, Z)], id="a file added deeper"),
        pytest.param(lambda t: [PutOp("/F/a.txt", rev_at(t, "/F/a.txt"), Z)], id="a file changed"),
        pytest.param(lambda t: [MoveOp("/G/x.txt", "/F/x.txt", rev_at(t, "/G/x.txt"))], id="a file moved in"),
        pytest.param(lambda t: [MoveOp("/G", "/F/G", None)], id="a folder moved in"),
        pytest.param(lambda t: [MoveOp("/F/a.txt", "/F/b.txt", rev_at(t, "/F/a.txt"))], id="a rename inside"),
        pytest.param(lambda t: [MkdirOp("/F/empty")], id="a folder added"),
    ],
)
def test_a_folder_delete_refuses_a_change_made_after_seen_seq(meanwhile: object) -> None:
    tree, cursor = seeded()
    other = commit(tree, *meanwhile(tree))  # type: ignore[operator]
    unseen = other.entries[-1]
    assert tree.at(unseen.path).seq == unseen.seq  # type: ignore[union-attr]
    found = refused(tree, DeleteOp("/F", None, seen_seq=cursor))
    assert len(found) == 1
    path, rev = found[0]
    node = tree.at(path)
    assert node is not None and node.live and node.seq > cursor and node.rev == rev
    # Once the device has seen it, the same delete goes ahead; without seen_seq it always did.
    assert commit(tree, DeleteOp("/F", None, seen_seq=tree.head_seq)).entries
    assert not [k for k in tree.live() if k.startswith("/f/") or k == "/f"]


def test_a_folder_delete_without_seen_seq_still_takes_everything_below() -> None:
    tree, _ = seeded()
    commit(tree, PutOp("/F/new.txt", None, Z))
    commit(tree, DeleteOp("/F", None))
    assert sorted(tree.live()) == ["/g", "/g/x.txt"]


def test_a_delete_below_the_folder_after_seen_seq_is_no_conflict() -> None:
    tree, cursor = seeded()
    commit(tree, DeleteOp("/F/a.txt", rev_at(tree, "/F/a.txt")))
    commit(tree, DeleteOp("/F", None, seen_seq=cursor))
    assert sorted(tree.live()) == ["/g", "/g/x.txt"]


def test_a_move_gives_every_moved_node_the_seq_of_its_own_entry_and_keeps_its_rev() -> None:
    tree, _ = seeded()
    revs = {path: rev_at(tree, path) for path in ("/F", "/F/a.txt", "/F/sub", "/F/sub/b.txt")}
    result = commit(tree, MoveOp("/F", "/H", None))
    assert len(result.entries) == 4
    for entry in result.entries:
        node = tree.at(entry.path)
        assert node is not None and entry.from_path is not None
        assert (node.seq, node.rev) == (entry.seq, revs[entry.from_path])
