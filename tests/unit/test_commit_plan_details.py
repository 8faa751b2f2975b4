"""plan_commit, focused: results, object ids, usage, tombstones, moves and limits."""

from __future__ import annotations

import pytest

from chalicelib.domain.model import (
    EMPTY_FOLDER,
    FILE,
    FOLDER,
    DeleteOp,
    MkdirOp,
    MoveOp,
    Node,
    PutOp,
)
from chalicelib.errors import Conflict, TooLarge
from tests.unit.fake_tree import FakeTree, blob, file, folder
from tests.unit.test_commit_plan import NOW_MS, X, Y, Z, commit, plan

D, F = folder, file


def test_seqs_follow_head_seq_and_entries_carry_the_device() -> None:
    tree = FakeTree.of(D("/d"))
    tree.head_seq = 41
    result = plan(tree, PutOp("/a/b", None, X), MkdirOp("/d/e"), PutOp("/d/e/f", None, Y))
    assert [e.seq for e in result.entries] == [42, 43, 44, 45]
    assert {(e.device_id, e.created_at_ms) for e in result.entries} == {("dev_1", NOW_MS)}
    assert [r["seq"] for r in result.results] == [43, 44, 45]


def test_results_one_per_op_with_path_object_rev_and_seq() -> None:
    tree = FakeTree.of(D("/Docs"), F("/Docs/same", 3, b"x"))
    result = plan(tree, PutOp("/docs/new", None, Y), PutOp("/docs/same", 3, X), MkdirOp("/docs"))
    new, same, docs = result.results
    assert new == {"path": "/Docs/new", "object_id": "obj1", "rev": 3, "seq": 3}
    # Unchanged content: the current revision, with the seq that made it.
    assert same == {"path": "/Docs/same", "object_id": "id:/Docs/same", "rev": 3, "seq": 2}
    assert docs == {"path": "/Docs", "object_id": "id:/Docs", "rev": 1, "seq": 1}


def test_object_ids_new_kept_and_continued() -> None:
    tree = FakeTree.of(
        F("/kept", 2), F("/gone", 3, deleted=True), F("/moved-away", 1, object_id=None, deleted=True)
    )
    result = plan(
        tree,
        PutOp("/kept", 2, Y),
        PutOp("/gone", None, Y),
        PutOp("/moved-away", None, Y),
        PutOp("/p/q/new", None, Y),
    )
    ids = {e.path: (e.object_id, e.rev) for e in result.entries}
    assert ids == {  # each rev is its entry's seq (the tree's head was 3)
        "/kept": ("id:/kept", 4),
        "/gone": ("id:/gone", 5),  # re-created: the same object, its history continues
        "/moved-away": ("obj1", 6),  # the old object lives on elsewhere: a new one here
        "/p": ("obj2", 7),
        "/p/q": ("obj3", 8),
        "/p/q/new": ("obj4", 9),
    }


def test_usage_delta() -> None:
    tree = FakeTree.of(
        F("/a", 1, b"12345"), D("/d"), F("/d/x", 1, b"123"), D("/d/s"), F("/d/s/y", 1, b"1234567")
    )
    assert plan(tree, PutOp("/new", None, Z)).usage_delta_bytes == 3
    assert plan(tree, PutOp("/a", 1, Y)).usage_delta_bytes == 2 - 5
    assert plan(tree, PutOp("/a", 1, blob(b"12345"))).usage_delta_bytes == 0  # same content
    assert plan(tree, DeleteOp("/d", None)).usage_delta_bytes == -10
    assert plan(tree, DeleteOp("/a", 1), PutOp("/a", None, Z)).usage_delta_bytes == -5 + 3
    assert plan(tree, MoveOp("/d", "/e", None), MkdirOp("/m")).usage_delta_bytes == 0


def test_delete_of_a_folder_leaves_tombstones_that_keep_their_objects() -> None:
    tree = FakeTree.of(D("/d", 2), F("/d/x", 4, b"abc"), F("/d/gone", 7, deleted=True))
    commit(tree, DeleteOp("/d", None))
    assert tree.live() == {}
    assert tree.at("/d") == Node("/d", FOLDER, "id:/d", 5, True, 5)
    assert tree.at("/d/x") == Node("/d/x", FILE, "id:/d/x", 4, True, 4, EMPTY_FOLDER)
    assert tree.at("/d/gone") == Node("/d/gone", FILE, "id:/d/gone", 7, True, 3, EMPTY_FOLDER)


def test_move_of_a_folder_with_n_files() -> None:
    files = [F(f"/d/f{i}", i + 1, bytes([i])) for i in range(5)]
    tree = FakeTree.of(D("/d"), *files)
    result = commit(tree, MoveOp("/d", "/e", None))
    assert len(result.entries) == len(files) + 1
    assert all(e.op == "move" and e.from_path is not None for e in result.entries)
    assert [e.path for e in result.entries] == ["/e"] + [f"/e/f{i}" for i in range(5)]
    for old in [D("/d"), *files]:
        new = tree.at("/e" + old.path[2:])
        assert new is not None
        assert new.live
        assert (new.object_id, new.rev, new.kind, new.content) == (
            old.object_id,
            old.rev,
            old.kind,
            old.content,
        )
        tomb = tree.at(old.path)
        assert tomb is not None
        assert (tomb.deleted, tomb.object_id) == (True, None)
    assert set(tree.live()) == {"/e"} | {f"/e/f{i}" for i in range(5)}


def test_case_only_rename_keeps_one_node_at_the_key() -> None:
    tree = FakeTree.of(D("/docs"), F("/docs/readme", 3))
    commit(tree, MoveOp("/docs", "/Docs", None))
    assert tree.nodes.keys() == {"/docs", "/docs/readme"}
    assert [n.path for n in tree.nodes.values()] == ["/Docs", "/Docs/readme"]
    assert all(n.live for n in tree.nodes.values())
    assert tree.nodes["/docs/readme"].rev == 3


def test_re_created_file_continues_object_across_commits_with_a_new_rev() -> None:
    tree = FakeTree()
    commit(tree, MkdirOp("/d"))
    first = commit(tree, PutOp("/x", None, X)).entries[0]
    commit(tree, DeleteOp("/x", first.rev))
    again = commit(tree, PutOp("/X", None, Y)).entries[0]
    assert (first.rev, again.object_id, again.rev, again.path) == (2, first.object_id, 4, "/X")


def test_conflict_body_names_the_current_kind() -> None:
    tree = FakeTree.of(D("/d", 2), F("/f", 3))
    with pytest.raises(Conflict) as caught:
        plan(tree, PutOp("/d", None, X), PutOp("/f", 1, X), DeleteOp("/nope", 1))
    assert caught.value.status == 409
    assert caught.value.to_body()["error"]["conflicts"] == [
        {"path": "/d", "current_rev": 2, "current_kind": "folder"},
        {"path": "/f", "current_rev": 3, "current_kind": "file"},
        {"path": "/nope", "current_rev": None, "current_kind": None},
    ]


def test_a_conflicting_commit_changes_nothing() -> None:
    tree = FakeTree.of(D("/d"), F("/d/x", 2))
    before, head = dict(tree.nodes), tree.head_seq
    with pytest.raises(Conflict):
        commit(tree, MkdirOp("/new"), DeleteOp("/d", None), PutOp("/d/x", 1, Y))
    assert (tree.nodes, tree.head_seq) == (before, head)


def test_too_many_entries_is_too_large() -> None:
    tree = FakeTree()
    assert len(plan(tree, PutOp("/a/b/c", None, X), max_entries=3).entries) == 3
    with pytest.raises(TooLarge):
        plan(tree, PutOp("/a/b/c/d", None, X), max_entries=3)


def test_move_entries_keep_content_and_delete_entries_drop_it() -> None:
    tree = FakeTree.of(F("/a", 1, b"hello"))
    moved = commit(tree, MoveOp("/a", "/b", 1)).entries[0]
    assert (moved.content, moved.rev, moved.seq) == (blob(b"hello"), 1, 2)
    deleted = commit(tree, DeleteOp("/b", 1)).entries[0]
    assert (deleted.content, deleted.deleted, deleted.rev) == (EMPTY_FOLDER, True, 3)
