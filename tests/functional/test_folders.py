"""GET /v1/folders: one folder's live children, paged, reading neither tombstones nor other folders."""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from pynamodb.connection.base import Connection

from chalicelib.adapters import keys
from chalicelib.adapters import metadata as store
from chalicelib.adapters.models import NamespaceModel, PathModel
from chalicelib.domain import paths
from chalicelib.settings import SETTINGS
from tests.functional.conftest import Api
from tests.functional.files import commit, journal, put_op


def _puts(*file_paths: str) -> list[dict[str, Any]]:
    return [put_op(p, b"") for p in file_paths]  # empty files: no chunk to upload


def _commit(api: Api, *ops: dict[str, Any]) -> dict[str, Any]:
    status, body = commit(api, *ops)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def _delete(result: dict[str, Any]) -> dict[str, Any]:
    return {"op": "delete", "path": result["path"], "parent_rev": result["rev"]}


def _page(api: Api, path: str, cursor: str | None = None, limit: int | None = None) -> tuple[int, Any]:
    query = f"/v1/folders?namespace_id={api.namespace_id}&path={quote(path)}"
    if cursor is not None:
        query += f"&cursor={cursor}"
    if limit is not None:
        query += f"&limit={limit}"
    return api.get(query)


def children(api: Api, path: str, limit: int = 500) -> tuple[list[dict[str, Any]], int]:
    """Every child of the folder, following the cursor; and the number of pages it took."""
    found: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        status, body = _page(api, path, cursor, limit)
        assert status == 200, body
        pages += 1
        found += body["entries"]
        if not body["has_more"]:
            assert body["cursor"] is None
            return found, pages
        cursor = body["cursor"]


class ReadCounter:
    """Items read from the paths table, per operation (DynamoDB's ScannedCount for a Query)."""

    def __init__(self) -> None:
        self.items: Counter[str] = Counter()

    def record(self, operation: str, kwargs: dict[str, Any], answer: dict[str, Any]) -> None:
        if operation in ("Query", "Scan") and kwargs.get("TableName") == SETTINGS.paths_table:
            index = kwargs.get("IndexName")
            self.items[f"{operation} {index or 'table'}"] += int(answer.get("ScannedCount", 0))
        elif operation == "BatchGetItem":
            self.items["BatchGetItem"] += len(answer.get("Responses", {}).get(SETTINGS.paths_table, []))
        elif operation == "GetItem" and kwargs.get("TableName") == SETTINGS.paths_table:
            self.items["GetItem"] += 1 if "Item" in answer else 0

    def total(self) -> int:
        return sum(self.items.values())


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> ReadCounter:
    counter = ReadCounter()
    make_call = Connection._make_api_call

    def counted(self: Connection, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = make_call(self, operation, kwargs)
        counter.record(operation, kwargs, answer)
        return answer

    monkeypatch.setattr(Connection, "_make_api_call", counted)
    return counter


def test_a_folder_of_250_children_comes_in_pages_in_key_order_without_what_is_deeper(alice: Api) -> None:
    names = [f"f{i:03d}.txt" for i in range(250)]
    _commit(alice, *_puts(*(f"/Big/{n}" for n in names)))
    _commit(alice, *_puts("/Big/sub/deep.txt", "/Big/sub/deeper/x.txt", "/Bigger/y.txt", "/top.txt"))

    listed, pages = children(alice, "/Big", limit=100)

    assert pages == 3
    assert [e["name"] for e in listed] == sorted([*names, "sub"], key=str.casefold)
    assert all(e["path"] == "/Big/" + e["name"] for e in listed)
    sub = next(e for e in listed if e["name"] == "sub")
    assert sub["kind"] == "folder" and sub["size"] == 0
    a_file = next(e for e in listed if e["name"] == "f007.txt")
    assert a_file["kind"] == "file" and a_file["size"] == 0 and isinstance(a_file["rev"], int)
    assert "chunks" not in a_file
    root, _ = children(alice, "/")
    assert [(e["name"], e["kind"]) for e in root] == [
        ("Big", "folder"),
        ("Bigger", "folder"),
        ("top.txt", "file"),
    ]
    assert [e["name"] for e in children(alice, "/Big/sub")[0]] == ["deep.txt", "deeper"]


def test_a_page_holds_limit_entries_and_the_last_one_says_there_is_no_more(alice: Api) -> None:
    _commit(alice, *_puts(*(f"/d/{i}" for i in range(4))))
    status, first = _page(alice, "/d", limit=2)
    assert status == 200, first
    assert ([e["name"] for e in first["entries"]], first["has_more"]) == (["0", "1"], True)
    status, second = _page(alice, "/d", first["cursor"], limit=2)
    assert status == 200, second
    assert ([e["name"] for e in second["entries"]], second["has_more"], second["cursor"]) == (
        ["2", "3"],
        False,
        None,
    )


def test_deleted_children_are_not_listed_and_tombstones_elsewhere_are_not_read(
    alice: Api, reads: ReadCounter
) -> None:
    made = _commit(alice, *_puts(*(f"/d1/f{i:02d}" for i in range(10))))
    _commit(alice, *_puts(*(f"/gone/g{i:04d}" for i in range(1000))))
    _commit(alice, {"op": "delete", "path": "/gone", "parent_rev": None})
    _commit(alice, *(_delete(r) for r in made["results"] if r["path"] < "/d1/f05"))
    tombstones = [r for r in PathModel.query(alice.namespace_id) if r.deleted]
    assert len(tombstones) == 1006

    reads.items.clear()
    listed, _ = children(alice, "/d1")
    assert [e["name"] for e in listed] == [f"f{i:02d}" for i in range(5, 10)]
    # The folder's own row (one of its two keys) and its five live children: nothing else.
    assert reads.items == Counter({"BatchGetItem": 1, "Query by_folder": 5})

    reads.items.clear()
    tree, _ = journal(alice)
    assert sorted(tree_paths(tree)) == ["/d1", *(f"/d1/f{i:02d}" for i in range(5, 10))]
    assert reads.items["Query table"] == 6  # the live rows only, not one of the 1,006 tombstones


def tree_paths(entries: list[dict[str, Any]]) -> list[str]:
    return [e["path"] for e in entries]


def test_a_path_is_found_by_its_key_and_answered_in_its_stored_spelling(alice: Api) -> None:
    stored = unicodedata.normalize("NFC", "/Café")
    _commit(alice, *_puts(stored + "/Menu.txt"))
    for asked in ("/CAFÉ", unicodedata.normalize("NFD", "/café")):
        status, body = _page(alice, asked)
        assert status == 200, body
        assert body["path"] == stored
        assert [e["path"] for e in body["entries"]] == [stored + "/Menu.txt"]


@pytest.mark.parametrize("bad", ["relative", "/a/../b", "/a//b", "/a/", "/a\u202etxt", "/a\x00b", ""])
def test_an_invalid_path_is_refused(alice: Api, bad: str) -> None:
    status, body = _page(alice, bad)
    assert status == 400, body
    assert (body["error"]["code"], body["error"]["field"]) == ("invalid_request", "path")


def test_a_file_is_not_a_folder_and_nothing_is_not_one_either(alice: Api) -> None:
    _commit(alice, *_puts("/f.txt", "/was/x.txt"))
    _commit(alice, {"op": "delete", "path": "/was", "parent_rev": None})  # a folder: no rev to match
    status, body = _page(alice, "/F.TXT")
    assert status == 400, body
    assert body["error"] | {"message": ""} == {
        "code": "invalid_request",
        "message": "",
        "field": "path",
        "kind": "file",
    }
    for missing in ("/nothing", "/was", "/f.txt/below"):
        status, body = _page(alice, missing)
        assert status == 404, (missing, body)
        assert body["error"]["code"] == "not_found"


def test_another_users_namespace_is_refused(alice: Api, bob: Api) -> None:
    _commit(alice, *_puts("/secret/plan.txt"))
    status, body = bob.get(f"/v1/folders?namespace_id={alice.namespace_id}&path=/secret")
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    assert "plan" not in str(body)


@pytest.mark.parametrize("query", ["limit=0", "limit=2001", "limit=ten", "colour=blue", "cursor=garbage"])
def test_limits_out_of_range_unknown_parameters_and_foreign_cursors_are_refused(
    alice: Api, query: str
) -> None:
    _commit(alice, *_puts("/d/a"))
    status, body = alice.get(f"/v1/folders?namespace_id={alice.namespace_id}&path=/d&{query}")
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"


def test_a_cursor_only_pages_the_folder_it_came_from(alice: Api, bob: Api) -> None:
    _commit(alice, *_puts("/d/a", "/d/b", "/e/a"))
    _commit(bob, *_puts("/d/a", "/d/b"))
    status, first = _page(alice, "/d", limit=1)
    assert status == 200 and first["has_more"], first
    _, tree_page = alice.get(f"/v1/objects?namespace_id={alice.namespace_id}&limit=1")
    for api, folder, cursor in (
        (alice, "/e", first["cursor"]),  # another folder's
        (bob, "/d", first["cursor"]),  # another namespace's
        (alice, "/d", tree_page["cursor"]),  # a tree listing's
    ):
        status, body = _page(api, folder, cursor)
        assert status == 400, body
        assert body["error"]["field"] == "cursor"
    status, body = alice.get(f"/v1/objects?namespace_id={alice.namespace_id}&cursor={first['cursor']}")
    assert status == 400, body


def test_an_older_commit_applied_again_leaves_no_live_row_beside_a_newer_tombstone(alice: Api) -> None:
    first = _commit(alice, *_puts("/d/a.txt", "/d/b.txt"))
    _commit(alice, _delete(next(r for r in first["results"] if r["path"] == "/d/a.txt")))
    recreated = _commit(alice, *_puts("/d/b2.txt"))
    _commit(alice, _delete(recreated["results"][-1]))
    _commit(alice, *_puts("/d/b2.txt"))

    # A slow writer of each older commit finishes after the newer ones.
    store.apply(alice.namespace_id, store.read_entries(alice.namespace_id, 0, first["head_seq"]))
    seq = recreated["head_seq"]
    store.apply(alice.namespace_id, store.read_entries(alice.namespace_id, seq, 1))

    assert [e["name"] for e in children(alice, "/d")[0]] == ["b.txt", "b2.txt"]
    assert sorted(tree_paths(journal(alice)[0])) == ["/d", "/d/b.txt", "/d/b2.txt"]
    rows = Counter(paths.key(r.path) for r in PathModel.query(alice.namespace_id))
    assert set(rows.values()) == {1}  # one row per path, at one of its two keys


def _as_before_the_two_ranges(namespace_id: str) -> None:
    """Lay the namespace's rows out as they were written before: all at the live key, no folder."""
    for row in list(PathModel.query(namespace_id)):
        if row.path_key.startswith(keys.LIVE_ROWS_START):
            row.update(actions=[PathModel.folder.remove()])
        else:
            row.delete()
            row.path_key = keys.path_row(paths.key(row.path))
            row.folder = None
            row.save()
    NamespaceModel(namespace_id).update(actions=[NamespaceModel.tree_layout.remove()])


@pytest.mark.parametrize("first_listing", ["folder", "tree"])
def test_rows_written_before_the_two_ranges_are_listed_and_then_moved(alice: Api, first_listing: str) -> None:
    made = _commit(alice, *_puts("/d/a", "/d/b", "/d/c", "/e/x"))
    _commit(alice, _delete(next(r for r in made["results"] if r["path"] == "/d/b")))
    _commit(alice, {"op": "delete", "path": "/e", "parent_rev": None})
    _as_before_the_two_ranges(alice.namespace_id)
    assert (
        sum(r.deleted for r in PathModel.query(alice.namespace_id, PathModel.path_key.startswith("/"))) == 3
    )

    if first_listing == "tree":
        assert sorted(tree_paths(journal(alice)[0])) == ["/d", "/d/a", "/d/c"]
    assert [e["name"] for e in children(alice, "/d")[0]] == ["a", "c"]
    assert [e["name"] for e in children(alice, "/")[0]] == ["d"]

    live_range = list(PathModel.query(alice.namespace_id, PathModel.path_key.startswith("/")))
    assert [(r.path, r.deleted) for r in live_range] == [("/d", False), ("/d/a", False), ("/d/c", False)]
    assert NamespaceModel.get(alice.namespace_id).tree_layout == keys.TREE_LAYOUT
    # and a commit after the move finds the moved tombstones (the history continues)
    status, body = alice.get(f"/v1/files/revisions?namespace_id={alice.namespace_id}&path=/d/b")
    assert status == 200 and [r["deleted"] for r in body["revisions"]] == [True, False], body
