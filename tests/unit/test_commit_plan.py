"""plan_commit as a table: a tree and ops in, journal entries (or every conflict) out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain.commit import plan_commit
from chalicelib.domain.model import (
    DeleteOp,
    MkdirOp,
    MoveOp,
    Node,
    Op,
    Plan,
    PutOp,
    RestoreOp,
)
from chalicelib.errors import Conflict, CursorReset, InvalidRequest
from tests.unit.fake_tree import FakeTree, blob, file, folder

X, Y, Z = blob(b"x"), blob(b"yy"), blob(b"zzz")
NOW_MS = 1_700_000_000_000


def plan(tree: FakeTree, *ops: Op, max_entries: int = 10_000) -> Plan:
    return plan_commit(
        tree,
        list(ops),
        head_seq=tree.head_seq,
        device_id="dev_1",
        now_ms=NOW_MS,
        new_id=tree.new_id,
        max_entries=max_entries,
    )


def commit(tree: FakeTree, *ops: Op) -> Plan:
    """Plan, then land the plan on the fake."""
    result = plan(tree, *ops)
    tree.apply(result)
    return result


# A new revision's rev is the seq of the entry that makes it; a move keeps the rev it had.
SEQ = "rev=seq"


def summary(result: Plan) -> list[tuple[Any, ...]]:
    return [
        (e.op, e.path, e.rev, e.from_path)
        if e.op == "move"
        else (e.op, e.path, SEQ if e.rev == e.seq else e.rev)
        for e in result.entries
    ]


def conflicts(exc: Conflict) -> list[tuple[str, int | None]]:
    return [(c["path"], c["current_rev"]) for c in exc.details["conflicts"]]


@dataclass(frozen=True)
class Conflicts:
    expected: list[tuple[str, int | None]]


INVALID = "invalid_request"
RESET = "reset"


@dataclass(frozen=True)
class Case:
    id: str
    tree: tuple[Node, ...]
    ops: tuple[Op, ...]
    expect: list[tuple[Any, ...]] | Conflicts | str


D, F = folder, file
CASES = [
    # -- put ---------------------------------------------------------------------------------------
    Case(
        "put new file creates missing parents first",
        (),
        (PutOp("/a/b/x.txt", None, X),),
        [("mkdir", "/a", SEQ), ("mkdir", "/a/b", SEQ), ("put", "/a/b/x.txt", SEQ)],
    ),
    Case("put at the root", (), (PutOp("/x.txt", None, X),), [("put", "/x.txt", SEQ)]),
    Case("put empty file", (), (PutOp("/e", None, blob(b"")),), [("put", "/e", SEQ)]),
    Case("put over a file at its rev", (F("/x.txt", 3),), (PutOp("/x.txt", 3, Y),), [("put", "/x.txt", SEQ)]),
    Case("put keeps the existing case", (F("/A.txt"),), (PutOp("/a.txt", 1, Y),), [("put", "/A.txt", SEQ)]),
    Case(
        "put with stale parent_rev", (F("/x.txt", 3),), (PutOp("/x.txt", 2, Y),), Conflicts([("/x.txt", 3)])
    ),
    Case(
        "put with future parent_rev", (F("/x.txt", 3),), (PutOp("/x.txt", 4, Y),), Conflicts([("/x.txt", 3)])
    ),
    Case(
        "put as new over a live file",
        (F("/x.txt", 3),),
        (PutOp("/x.txt", None, Y),),
        Conflicts([("/x.txt", 3)]),
    ),
    Case("put with a rev at a missing path", (), (PutOp("/x.txt", 1, Y),), Conflicts([("/x.txt", None)])),
    Case("put as new over a live folder", (D("/d", 2),), (PutOp("/d", None, X),), Conflicts([("/d", 2)])),
    Case("put at a folder's rev over it", (D("/d", 2),), (PutOp("/d", 2, X),), Conflicts([("/d", 2)])),
    Case(
        "new case-only name over a file",
        (F("/A.txt"),),
        (PutOp("/a.txt", None, Y),),
        Conflicts([("/A.txt", 1)]),
    ),
    Case(
        "new NFD name over an NFC file",
        (F("/caf\u00e9"),),
        (PutOp("/cafe\u0301", None, Y),),
        Conflicts([("/caf\u00e9", 1)]),
    ),
    Case("put of the same content is no change", (F("/x.txt", 3, b"x"),), (PutOp("/x.txt", 3, X),), []),
    Case("put under a file", (F("/f"),), (PutOp("/f/x", None, X),), Conflicts([("/f", 1)])),
    Case(
        "put under a file, deeper",
        (D("/d"), F("/d/f")),
        (PutOp("/d/f/g/x", None, X),),
        Conflicts([("/d/f", 1)]),
    ),
    Case(
        "put takes the parent's case",
        (D("/Docs"),),
        (PutOp("/docs/x.txt", None, X),),
        [("put", "/Docs/x.txt", SEQ)],
    ),
    Case(
        "put takes existing parents' case and creates the rest",
        (D("/Docs"), D("/Docs/Sub")),
        (PutOp("/DOCS/SUB/new/x.txt", None, X),),
        [("mkdir", "/Docs/Sub/new", SEQ), ("put", "/Docs/Sub/new/x.txt", SEQ)],
    ),
    Case(
        "re-create a deleted file",
        (F("/x.txt", 4, deleted=True),),
        (PutOp("/x.txt", None, X),),
        [("put", "/x.txt", SEQ)],
    ),
    Case(
        "re-create a file in a deleted folder",
        (D("/d", 2, deleted=True), F("/d/x", 3, deleted=True)),
        (PutOp("/d/x", None, X),),
        [("mkdir", "/d", SEQ), ("put", "/d/x", SEQ)],
    ),
    Case(
        "put where a file was moved away from",
        (F("/x.txt", 4, object_id=None, deleted=True),),
        (PutOp("/x.txt", None, X),),
        [("put", "/x.txt", SEQ)],
    ),
    Case(
        "file where a folder was deleted",
        (D("/d", 2, deleted=True),),
        (PutOp("/d", None, X),),
        [("put", "/d", SEQ)],
    ),
    Case("restore ignores parent_rev", (F("/x", 5, b"x"),), (RestoreOp("/x", Y),), [("put", "/x", SEQ)]),
    Case("restore of the current content", (F("/x", 5, b"x"),), (RestoreOp("/x", X),), []),
    Case("restore over a folder", (D("/x", 2),), (RestoreOp("/x", Y),), Conflicts([("/x", 2)])),
    Case(
        "restore of a deleted file", (F("/x", 2, deleted=True),), (RestoreOp("/x", Y),), [("put", "/x", SEQ)]
    ),
    # -- mkdir -------------------------------------------------------------------------------------
    Case("mkdir with parents", (), (MkdirOp("/a/b"),), [("mkdir", "/a", SEQ), ("mkdir", "/a/b", SEQ)]),
    Case("mkdir of an existing folder", (D("/d"),), (MkdirOp("/d"),), []),
    Case("mkdir of an existing folder in another case", (D("/Docs"),), (MkdirOp("/DOCS"),), []),
    Case("mkdir over a file", (F("/d"),), (MkdirOp("/d"),), Conflicts([("/d", 1)])),
    Case("mkdir under a file", (F("/f"),), (MkdirOp("/f/sub"),), Conflicts([("/f", 1)])),
    Case(
        "mkdir re-creates a deleted folder",
        (D("/d", 2, deleted=True),),
        (MkdirOp("/d"),),
        [("mkdir", "/d", SEQ)],
    ),
    Case(
        "mkdir takes the parent's case", (D("/Docs"),), (MkdirOp("/docs/sub"),), [("mkdir", "/Docs/sub", SEQ)]
    ),
    # -- delete ------------------------------------------------------------------------------------
    Case("delete a file at its rev", (F("/x", 2),), (DeleteOp("/x", 2),), [("delete", "/x", SEQ)]),
    Case("delete in another case", (F("/X.txt", 2),), (DeleteOp("/x.txt", 2),), [("delete", "/X.txt", SEQ)]),
    Case("delete with stale rev", (F("/x", 2),), (DeleteOp("/x", 1),), Conflicts([("/x", 2)])),
    Case("delete a file without a rev", (F("/x", 2),), (DeleteOp("/x", None),), Conflicts([("/x", 2)])),
    Case("delete of a missing path", (), (DeleteOp("/x", None),), Conflicts([("/x", None)])),
    Case(
        "delete of a deleted file",
        (F("/x", 3, deleted=True),),
        (DeleteOp("/x", 3),),
        Conflicts([("/x", None)]),
    ),
    Case(
        "delete a folder: descendants deepest first, each tombstone a new rev",
        (D("/d"), F("/d/a", 2), D("/d/s"), F("/d/s/b", 5), F("/d/z")),
        (DeleteOp("/d", None),),
        [
            ("delete", "/d/z", SEQ),
            ("delete", "/d/s/b", SEQ),
            ("delete", "/d/s", SEQ),
            ("delete", "/d/a", SEQ),
            ("delete", "/d", SEQ),
        ],
    ),
    Case("delete a folder at its rev", (D("/d", 4),), (DeleteOp("/d", 4),), [("delete", "/d", SEQ)]),
    Case("delete a folder at a stale rev", (D("/d", 4),), (DeleteOp("/d", 3),), Conflicts([("/d", 4)])),
    Case(
        "delete a folder passes over tombstones below it",
        (D("/d"), F("/d/old", 2, deleted=True)),
        (DeleteOp("/d", None),),
        [("delete", "/d", SEQ)],
    ),
    # -- move --------------------------------------------------------------------------------------
    Case(
        "move a file", (F("/a.txt", 3),), (MoveOp("/a.txt", "/b.txt", 3),), [("move", "/b.txt", 3, "/a.txt")]
    ),
    Case(
        "move a folder: parents first, revs unchanged",
        (D("/d"), F("/d/x", 2), D("/d/s"), F("/d/s/y", 4)),
        (MoveOp("/d", "/e", None),),
        [
            ("move", "/e", 1, "/d"),
            ("move", "/e/s", 1, "/d/s"),
            ("move", "/e/s/y", 4, "/d/s/y"),
            ("move", "/e/x", 2, "/d/x"),
        ],
    ),
    Case(
        "move creates missing destination folders",
        (F("/a"),),
        (MoveOp("/a", "/n/m/a", 1),),
        [("mkdir", "/n", SEQ), ("mkdir", "/n/m", SEQ), ("move", "/n/m/a", 1, "/a")],
    ),
    Case(
        "move takes the destination parent's case",
        (D("/Docs"), F("/a")),
        (MoveOp("/a", "/docs/a", 1),),
        [("move", "/Docs/a", 1, "/a")],
    ),
    Case("move a folder into itself", (D("/d"),), (MoveOp("/d", "/d/sub", None),), INVALID),
    Case(
        "move a folder into itself, other case",
        (D("/d"), D("/d/s")),
        (MoveOp("/d", "/D/s/t", None),),
        INVALID,
    ),
    Case("move onto a live file", (F("/a"), F("/b", 7)), (MoveOp("/a", "/b", 1),), Conflicts([("/b", 7)])),
    Case("move onto a live folder", (F("/a"), D("/b", 2)), (MoveOp("/a", "/b", 1),), Conflicts([("/b", 2)])),
    Case(
        "move onto a live path in another case",
        (F("/a"), F("/B")),
        (MoveOp("/a", "/b", 1),),
        Conflicts([("/B", 1)]),
    ),
    Case(
        "move onto a tombstone",
        (F("/a", 2), F("/b", 9, deleted=True)),
        (MoveOp("/a", "/b", 2),),
        [("move", "/b", 2, "/a")],
    ),
    Case("move a file at a stale rev", (F("/a", 2),), (MoveOp("/a", "/b", 1),), Conflicts([("/a", 2)])),
    Case("move a file without a rev", (F("/a", 2),), (MoveOp("/a", "/b", None),), Conflicts([("/a", 2)])),
    Case("move of a missing path", (), (MoveOp("/a", "/b", None),), Conflicts([("/a", None)])),
    Case("move under a file", (F("/a"), F("/f")), (MoveOp("/a", "/f/a", 1),), Conflicts([("/f", 1)])),
    Case(
        "case-only rename of a file",
        (F("/a.txt", 2),),
        (MoveOp("/a.txt", "/A.txt", 2),),
        [("move", "/A.txt", 2, "/a.txt")],
    ),
    Case(
        "case-only rename of a folder renames its children",
        (D("/docs"), F("/docs/x")),
        (MoveOp("/docs", "/Docs", None),),
        [("move", "/Docs", 1, "/docs"), ("move", "/Docs/x", 1, "/docs/x")],
    ),
    Case(
        "ß to SS: same key, longer name",
        (D("/Stra\u00dfe"), F("/Stra\u00dfe/x")),
        (MoveOp("/Stra\u00dfe", "/STRASSE", None),),
        [("move", "/STRASSE", 1, "/Stra\u00dfe"), ("move", "/STRASSE/x", 1, "/Stra\u00dfe/x")],
    ),
    Case("move to itself", (F("/a", 2),), (MoveOp("/a", "/a", 2),), []),
    Case(
        "move to itself with a parent in another case",
        (D("/Docs"), F("/Docs/a")),
        (MoveOp("/Docs/a", "/docs/a", 1),),
        [],
    ),
    Case(
        "case-only rename under a parent written in another case",
        (D("/Docs"), F("/Docs/a")),
        (MoveOp("/docs/a", "/docs/A", 1),),
        [("move", "/Docs/A", 1, "/Docs/a")],
    ),
    # -- several ops: each sees the ones before it -----------------------------------------------
    Case(
        "mkdir then put inside",
        (),
        (MkdirOp("/d"), PutOp("/d/x", None, X)),
        [("mkdir", "/d", SEQ), ("put", "/d/x", SEQ)],
    ),
    Case(
        "put twice", (), (PutOp("/x", None, X), PutOp("/x", 1, Y)), [("put", "/x", SEQ), ("put", "/x", SEQ)]
    ),
    Case("put twice, second stale", (), (PutOp("/x", None, X), PutOp("/x", None, Y)), Conflicts([("/x", 1)])),
    Case(
        "move then put at the old path",
        (F("/a", 3),),
        (MoveOp("/a", "/b", 3), PutOp("/a", None, Y)),
        [("move", "/b", 3, "/a"), ("put", "/a", SEQ)],
    ),
    Case(
        "delete then re-create",
        (F("/a", 3),),
        (DeleteOp("/a", 3), PutOp("/a", None, Y)),
        [("delete", "/a", SEQ), ("put", "/a", SEQ)],
    ),
    Case(
        "move a folder then put into its new place",
        (D("/d"), F("/d/x")),
        (MoveOp("/d", "/e", None), PutOp("/e/y", None, Y)),
        [("move", "/e", 1, "/d"), ("move", "/e/x", 1, "/d/x"), ("put", "/e/y", SEQ)],
    ),
    Case(
        "move a folder then touch its old contents",
        (D("/d"), F("/d/x")),
        (MoveOp("/d", "/e", None), DeleteOp("/d/x", 1)),
        Conflicts([("/d/x", None)]),
    ),
    Case(
        "move a folder away and back",
        (D("/d"), F("/d/x")),
        (MoveOp("/d", "/e", None), MoveOp("/e", "/d", None)),
        [
            ("move", "/e", 1, "/d"),
            ("move", "/e/x", 1, "/d/x"),
            ("move", "/d", 1, "/e"),
            ("move", "/d/x", 1, "/e/x"),
        ],
    ),
    Case(
        "move a file out, then delete its folder",
        (D("/d"), F("/d/x", 2)),
        (MoveOp("/d/x", "/x", 2), DeleteOp("/d", None)),
        [("move", "/x", 2, "/d/x"), ("delete", "/d", SEQ)],
    ),
    Case(
        "move a file in, then delete the folder with it",
        (D("/d"), F("/x", 2)),
        (MoveOp("/x", "/d/x", 2), DeleteOp("/d", None)),
        [("move", "/d/x", 2, "/x"), ("delete", "/d/x", SEQ), ("delete", "/d", SEQ)],
    ),
    Case(
        "a rev seen on a moved-away file never matches the new file at its path",
        (F("/a", 1),),
        (
            MoveOp("/a", "/b", 1),
            PutOp("/a", None, Y),
            PutOp("/a", 1, Z),
            DeleteOp("/a", 1),
            MoveOp("/a", "/c", 1),
        ),
        Conflicts([("/a", 3), ("/a", 3), ("/a", 3)]),
    ),
    Case(
        "every conflict is reported, nothing is planned",
        (F("/a", 2), F("/b", 5), D("/c")),
        (
            PutOp("/a", 1, Y),
            MkdirOp("/new"),
            PutOp("/b", None, Y),
            DeleteOp("/zz", None),
            PutOp("/c", None, Y),
        ),
        Conflicts([("/a", 2), ("/b", 5), ("/zz", None), ("/c", 1)]),
    ),
]


def check_case(case: Case) -> None:
    """Plan ``case.ops`` on a tree seeded with ``case.tree`` (seqs 1, 2, 3, ...) and compare."""
    tree = FakeTree.of(*case.tree)
    before = dict(tree.nodes)
    if isinstance(case.expect, Conflicts):
        with pytest.raises(Conflict) as caught:
            plan(tree, *case.ops)
        assert type(caught.value) is Conflict
        assert conflicts(caught.value) == case.expect.expected
    elif case.expect == INVALID:
        with pytest.raises(InvalidRequest):
            plan(tree, *case.ops)
    elif case.expect == RESET:
        with pytest.raises(CursorReset):
            plan(tree, *case.ops)
    else:
        result = plan(tree, *case.ops)
        assert summary(result) == case.expect
        assert len(result.results) == len(case.ops)
        assert [e.seq for e in result.entries] == list(
            range(tree.head_seq + 1, tree.head_seq + 1 + len(result.entries))
        )
    assert tree.nodes == before, "planning never writes to the tree"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan(case: Case) -> None:
    check_case(case)


# -- what the entries carry ------------------------------------------------------------------------
