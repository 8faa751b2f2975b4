"""What journal entries make of the tree, the revision history, chunk refs and the API shape."""

from __future__ import annotations

from chalicelib.domain import projection
from chalicelib.domain.content import CHUNK_SIZE, sized_chunks
from chalicelib.domain.model import EMPTY_FOLDER, FILE, FOLDER, Content, Entry, Node, node_to_api
from tests.unit.fake_tree import blob

H1, H2, H3 = ("1" * 64, "2" * 64, "3" * 64)
TWO_CHUNKS = Content(CHUNK_SIZE + 10, 7, "c" * 64, (H1, H2))


def entry(seq: int, op: str, path: str, *, kind: str = FILE, rev: int = 1, **kw: object) -> Entry:
    deleted = op == "delete"
    body = kw.pop("content", EMPTY_FOLDER if deleted or kind == FOLDER else blob(b"x"))
    return Entry(
        seq=seq,
        op=op,  # type: ignore[arg-type]
        path=path,
        object_id=str(kw.pop("object_id", f"id:{path}")),
        kind=kind,  # type: ignore[arg-type]
        rev=rev,
        deleted=deleted,
        content=body,  # type: ignore[arg-type]
        device_id="dev",
        created_at_ms=5,
        from_path=kw.pop("from_path", None),  # type: ignore[arg-type]
    )


def test_nodes_from_entries_last_entry_wins_per_key() -> None:
    nodes = projection.nodes_from_entries(
        [entry(1, "put", "/a.txt"), entry(2, "put", "/A.TXT", rev=2, object_id="id:/a.txt")]
    )
    assert list(nodes) == ["/a.txt"]
    assert (nodes["/a.txt"].path, nodes["/a.txt"].rev, nodes["/a.txt"].seq) == ("/A.TXT", 2, 2)


def test_a_move_leaves_a_tombstone_without_its_object() -> None:
    nodes = projection.nodes_from_entries([entry(4, "move", "/b", rev=3, object_id="o", from_path="/a")])
    assert nodes["/b"] == Node("/b", FILE, "o", 3, False, 4, blob(b"x"))
    assert nodes["/a"] == Node("/a", FILE, None, 3, True, 4, EMPTY_FOLDER)


def test_a_case_only_move_leaves_no_tombstone() -> None:
    nodes = projection.nodes_from_entries([entry(4, "move", "/A", object_id="o", from_path="/a")])
    assert list(nodes) == ["/a"]
    assert nodes["/a"].path == "/A" and nodes["/a"].live


def test_a_delete_keeps_the_object_on_the_tombstone() -> None:
    nodes = projection.nodes_from_entries([entry(9, "delete", "/x", rev=4, object_id="o")])
    assert nodes["/x"] == Node("/x", FILE, "o", 4, True, 9, EMPTY_FOLDER)


def test_move_away_and_back_in_one_commit() -> None:
    nodes = projection.nodes_from_entries(
        [
            entry(1, "move", "/b", object_id="o", from_path="/a"),
            entry(2, "move", "/a", object_id="o", from_path="/b"),
        ]
    )
    assert nodes["/a"].live and nodes["/a"].object_id == "o"
    assert not nodes["/b"].live and nodes["/b"].object_id is None


def test_revisions_are_file_puts_and_deletes_only() -> None:
    entries = [
        entry(1, "mkdir", "/d", kind=FOLDER),
        entry(2, "put", "/d/x"),
        entry(3, "move", "/d/y", from_path="/d/x"),
        entry(4, "delete", "/d/y", rev=2),
        entry(5, "delete", "/d", kind=FOLDER, rev=2),
    ]
    assert [e.seq for e in projection.revisions_from_entries(entries)] == [2, 4]


def test_sized_chunks_sizes_each_chunk_of_the_puts() -> None:
    entries = [
        entry(1, "put", "/big", content=TWO_CHUNKS),
        entry(2, "put", "/small", content=Content(3, 0, "d" * 64, (H3,))),
        entry(3, "put", "/empty", content=blob(b"")),
        entry(4, "move", "/big2", content=TWO_CHUNKS, from_path="/big"),  # no new reference
    ]
    referenced = sized_chunks(e.content for e in entries if e.op == "put")
    assert referenced == {H1: CHUNK_SIZE, H2: 10, H3: 3}


def test_entry_to_api_has_the_documented_shape() -> None:
    body = entry(3, "move", "/b", rev=2, content=TWO_CHUNKS, object_id="o", from_path="/a").to_api()
    assert body == {
        "seq": 3,
        "op": "move",
        "path": "/b",
        "object_id": "o",
        "kind": "file",
        "rev": 2,
        "size": CHUNK_SIZE + 10,
        "mtime": 7,
        "content_hash": "c" * 64,
        "chunks": [H1, H2],
        "executable": False,
        "deleted": False,
        "from_path": "/a",
    }


def test_folders_and_deletes_have_no_content_hash_and_no_from_path() -> None:
    body = entry(1, "delete", "/d", kind=FOLDER).to_api()
    assert body["content_hash"] is None
    assert (body["chunks"], body["size"], body["deleted"]) == ([], 0, True)
    assert "from_path" not in body


def test_node_to_api_lists_a_live_node_as_a_put_or_mkdir() -> None:
    file_body = node_to_api(Node("/x", FILE, "o", 4, False, 9, blob(b"x")))
    folder_body = node_to_api(Node("/d", FOLDER, "f", 2, False, 3))
    assert (file_body["op"], file_body["seq"], file_body["rev"], file_body["deleted"]) == ("put", 9, 4, False)
    assert file_body["content_hash"] == blob(b"x").content_hash
    assert (folder_body["op"], folder_body["kind"], folder_body["content_hash"]) == ("mkdir", "folder", None)
