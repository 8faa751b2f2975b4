"""Commit through the app against moto: atomicity, conflicts, idempotency, paths, history."""

from __future__ import annotations

import os
import unicodedata
from typing import Any

import pytest

from tests.functional.conftest import Api
from tests.functional.files import chunk_hashes, commit, journal, put_op, save, upload


def head_seq(api: Api) -> int:
    status, body = api.get("/v1/account")
    assert status == 200
    return int(next(n["head_seq"] for n in body["namespaces"] if n["namespace_id"] == api.namespace_id))


def tree(api: Api) -> dict[str, dict[str, Any]]:
    entries, _ = journal(api)
    return {e["path"]: e for e in entries}


def test_put_creates_parents_and_reads_back(alice: Api) -> None:
    result = save(alice, "/docs/notes/a.txt", b"hello")
    assert result["rev"] == result["seq"] == 3  # a new revision's rev is the seq that made it
    listing = tree(alice)
    assert set(listing) == {"/docs", "/docs/notes", "/docs/notes/a.txt"}
    assert listing["/docs"]["kind"] == "folder"
    assert listing["/docs/notes/a.txt"]["size"] == 5
    assert head_seq(alice) == 3


def test_stale_parent_rev_is_refused_with_current_rev(alice: Api) -> None:
    save(alice, "/a.txt", b"one")
    save(alice, "/a.txt", b"two", parent_rev=1)
    upload(alice, b"three")
    status, body = commit(alice, put_op("/a.txt", b"three", parent_rev=1))
    assert status == 409
    assert body["error"]["code"] == "conflict"
    assert body["error"]["conflicts"] == [{"path": "/a.txt", "current_rev": 2, "current_kind": "file"}]
    assert tree(alice)["/a.txt"]["rev"] == 2


def test_new_file_over_existing_is_a_conflict_not_an_overwrite(alice: Api) -> None:
    save(alice, "/a.txt", b"one")
    upload(alice, b"other")
    status, body = commit(alice, put_op("/a.txt", b"other", parent_rev=None))
    assert status == 409
    assert body["error"]["conflicts"][0]["current_rev"] == 1


def test_commit_is_all_or_nothing(alice: Api) -> None:
    save(alice, "/keep.txt", b"v1")
    before = head_seq(alice)
    upload(alice, b"fresh")
    upload(alice, b"v2")
    status, body = commit(alice, put_op("/fresh.txt", b"fresh"), put_op("/keep.txt", b"v2", parent_rev=7))
    assert status == 409
    assert [c["path"] for c in body["error"]["conflicts"]] == ["/keep.txt"]
    assert head_seq(alice) == before
    assert "/fresh.txt" not in tree(alice)


def test_idempotency_key_replays_the_first_answer(alice: Api) -> None:
    upload(alice, b"data")
    op = put_op("/idem.txt", b"data")
    first = commit(alice, op, key="k-1")
    again = commit(alice, op, key="k-1")
    assert first == again
    assert first[0] == 200
    assert head_seq(alice) == first[1]["head_seq"]
    assert tree(alice)["/idem.txt"]["rev"] == 1
    status, body = commit(alice, put_op("/other.txt", b"data"), key="k-1")
    assert status == 409
    assert "Idempotency-Key" in body["error"]["message"]


def test_idempotency_keys_are_per_user(alice: Api, bob: Api) -> None:
    upload(alice, b"a")
    upload(bob, b"a")
    assert commit(alice, put_op("/x.txt", b"a"), key="shared")[0] == 200
    status, _body = commit(bob, put_op("/x.txt", b"a"), key="shared")
    assert status == 200
    assert tree(bob)["/x.txt"]["rev"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/a/../b.txt",
        "/./b.txt",
        "/a//b.txt",
        "b.txt",
        "/",
        "/a/",
        "/nul\x00.txt",
        "/bell\x07.txt",
        "/del\x7f.txt",
        "/" + "x" * 256,
        "/" + "/".join(["d" * 200] * 21),
        "/\ud800.txt",
    ],
)
def test_bad_paths_are_refused_and_change_nothing(alice: Api, path: str) -> None:
    status, body = commit(alice, {"op": "mkdir", "path": path})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert head_seq(alice) == 0


def test_names_differing_only_by_case_or_unicode_form_are_one_name(alice: Api) -> None:
    save(alice, "/A.txt", b"upper")
    upload(alice, b"lower")
    assert commit(alice, put_op("/a.txt", b"lower"))[0] == 409
    nfc = unicodedata.normalize("NFC", "/café.txt")
    nfd = unicodedata.normalize("NFD", "/café.txt")
    save(alice, nfd, b"decomposed")
    upload(alice, b"composed")
    status, body = commit(alice, put_op(nfc, b"composed"))
    assert status == 409
    assert body["error"]["conflicts"][0]["path"] == nfc  # stored in NFC
    assert sorted(tree(alice)) == ["/A.txt", nfc]


def test_parent_folder_keeps_the_case_it_was_created_with(alice: Api) -> None:
    save(alice, "/Docs/a.txt", b"a")
    result = save(alice, "/DOCS/b.txt", b"b")
    assert result["path"] == "/Docs/b.txt"


def test_content_must_match_its_chunks(alice: Api) -> None:
    hashes = upload(alice, b"abc")
    op = put_op("/x.txt", b"abc")
    op["content_hash"] = "0" * 64
    assert commit(alice, op)[0] == 400
    op = put_op("/x.txt", b"abc")
    op["size"] = 5 * 1024 * 1024  # two chunks implied, one given
    assert commit(alice, op)[0] == 400
    wrong_size = put_op("/x.txt", b"abcd", chunks=hashes)  # stored object has 3 bytes, not 4
    status, body = commit(alice, wrong_size)
    assert status == 409
    assert body["error"]["code"] == "missing_chunks"
    assert head_seq(alice) == 0


def test_delete_and_overwrite_keep_history_and_restore_brings_it_back(alice: Api) -> None:
    save(alice, "/h.txt", b"first")
    save(alice, "/h.txt", b"second", parent_rev=1)
    status, body = commit(alice, {"op": "delete", "path": "/h.txt", "parent_rev": 2})
    assert status == 200, body
    assert "/h.txt" not in tree(alice)
    status, body = alice.get(f"/v1/files/revisions?namespace_id={alice.namespace_id}&path=/h.txt")
    assert status == 200
    assert [(r["rev"], r["deleted"], r["size"]) for r in body["revisions"]] == [
        (3, True, 0),
        (2, False, 6),
        (1, False, 5),
    ]
    status, body = alice.post(
        "/v1/files/restore", {"namespace_id": alice.namespace_id, "path": "/h.txt", "rev": 1}
    )
    assert status == 200, body
    assert body["rev"] == 4
    restored = tree(alice)["/h.txt"]
    assert (restored["rev"], restored["size"]) == (4, 5)
    status, body = alice.post(
        "/v1/files/restore", {"namespace_id": alice.namespace_id, "path": "/h.txt", "rev": 3}
    )
    assert status == 400  # a deletion holds no content
    status, body = alice.post(
        "/v1/files/restore", {"namespace_id": alice.namespace_id, "path": "/h.txt", "rev": 99}
    )
    assert status == 404


def test_folder_move_is_metadata_only(alice: Api) -> None:
    revs = [save(alice, f"/src/sub/f{i}.txt", f"file {i}".encode())["rev"] for i in range(5)]
    status, body = commit(alice, {"op": "move", "from": "/src", "to": "/dst/moved", "parent_rev": None})
    assert status == 200, body
    listing = tree(alice)
    assert not any(p.startswith("/src") for p in listing)
    assert {f"/dst/moved/sub/f{i}.txt" for i in range(5)} <= set(listing)
    assert [listing[f"/dst/moved/sub/f{i}.txt"]["rev"] for i in range(5)] == revs  # a move keeps revs
    status, body = alice.post(
        "/v1/chunks/upload",
        {
            "namespace_id": alice.namespace_id,
            "chunks": [
                {"hash": listing[f"/dst/moved/sub/f{i}.txt"]["chunks"][0], "size": 6} for i in range(5)
            ],
        },
    )
    assert status == 200
    assert len(body["present"]) == 5
    assert body["uploads"] == []


def test_case_only_rename(alice: Api) -> None:
    save(alice, "/readme.md", b"x")
    status, body = commit(alice, {"op": "move", "from": "/readme.md", "to": "/README.md", "parent_rev": 1})
    assert status == 200, body
    assert list(tree(alice)) == ["/README.md"]


def test_a_file_with_20000_chunks_commits_and_reads_back(alice: Api) -> None:
    blocks = [os.urandom(4 * 1024 * 1024) for _ in range(3)]
    for block in blocks:
        upload(alice, block)
    distinct = [chunk_hashes(b)[0] for b in blocks]
    chunks = [distinct[i % 3] for i in range(20_000)]
    op = put_op("/huge.bin", b"", chunks=chunks)
    op["size"] = 20_000 * 4 * 1024 * 1024
    status, body = commit(alice, op)
    assert status == 200, body
    assert tree(alice)["/huge.bin"]["chunks"] == chunks
    entries, _ = journal(alice, cursor=None)
    assert len(entries[0]["chunks"]) == 20_000
    status, body = alice.get(f"/v1/files/revisions?namespace_id={alice.namespace_id}&path=/huge.bin")
    assert body["revisions"][0]["size"] == op["size"]


def test_another_users_namespace_is_refused_on_every_route(alice: Api, bob: Api) -> None:
    save(alice, "/secret.txt", b"alice only")
    _, cursor = journal(alice)
    ns = alice.namespace_id
    upload(bob, b"bob")
    attempts = [
        bob.post("/v1/commit", {"namespace_id": ns, "ops": [put_op("/pwned.txt", b"bob")]}),
        bob.post("/v1/commit", {"namespace_id": ns, "ops": [{"op": "mkdir", "path": "/pwned"}]}),
        bob.get(f"/v1/objects?namespace_id={ns}"),
        bob.get(f"/v1/objects?namespace_id={ns}&cursor={cursor}"),
        bob.get(f"/v1/objects/longpoll?namespace_id={ns}&cursor={cursor}&timeout=1"),
        bob.get(f"/v1/files/revisions?namespace_id={ns}&path=/secret.txt"),
        bob.post("/v1/files/restore", {"namespace_id": ns, "path": "/secret.txt", "rev": 1}),
        bob.post("/v1/chunks/download", {"namespace_id": ns, "hashes": tree(alice)["/secret.txt"]["chunks"]}),
    ]
    for status, body in attempts:
        assert status == 403, body
        assert body["error"]["code"] == "forbidden"
        assert "alice only" not in str(body)
        assert "secret" not in str(body)
    assert sorted(tree(alice)) == ["/secret.txt"]
    assert head_seq(alice) == 1


def test_journal_by_cursor_and_longpoll(alice: Api) -> None:
    _, cursor = journal(alice)
    status, body = alice.get(
        f"/v1/objects/longpoll?namespace_id={alice.namespace_id}&cursor={cursor}&timeout=1"
    )
    assert (status, body) == (200, {"changes": False})
    save(alice, "/n.txt", b"new")
    status, body = alice.get(
        f"/v1/objects/longpoll?namespace_id={alice.namespace_id}&cursor={cursor}&timeout=5"
    )
    assert (status, body) == (200, {"changes": True})
    entries, cursor2 = journal(alice, cursor)
    assert [(e["seq"], e["op"], e["path"]) for e in entries] == [(1, "put", "/n.txt")]
    assert journal(alice, cursor2)[0] == []
    assert alice.get(f"/v1/objects?namespace_id={alice.namespace_id}&cursor=garbage")[0] == 400


def test_paths_up_to_4096_bytes_work_and_every_row_key_fits_dynamodb(alice: Api) -> None:
    from chalicelib.adapters.models import PathModel

    deep = "/" + "/".join([f"{i:02d}" + "\u00e9" * 120 for i in range(16)])  # ~3.9 KB
    assert 3500 < len(deep.encode()) <= 4096 - 10
    save(alice, deep + "/a.txt", b"deep")
    status, body = commit(
        alice, {"op": "move", "from": "/00" + "\u00e9" * 120, "to": "/top", "parent_rev": None}
    )
    assert status == 200, body
    listing = tree(alice)
    moved = "/top" + deep[len("/00" + "\u00e9" * 120) :] + "/a.txt"
    assert listing[moved]["size"] == 4
    assert len(listing) == 17
    status, body = commit(alice, {"op": "delete", "path": "/top", "parent_rev": None})
    assert status == 200, body
    assert tree(alice) == {}
    rows = list(PathModel.query(alice.namespace_id))
    assert len(rows) == 34
    assert max(len(r.path_key.encode("utf-8")) for r in rows) <= 1024


def test_a_commit_record_too_large_for_an_item_is_kept_in_s3(
    alice: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters import metadata

    monkeypatch.setattr(metadata, "_MAX_INLINE_BODY", 10)  # every record spills, as a huge one would
    save(alice, "/spilled/a.txt", b"spilled")
    entries, _ = journal(alice, journal_start(alice))
    assert [(e["op"], e["path"]) for e in entries] == [("mkdir", "/spilled"), ("put", "/spilled/a.txt")]


def journal_start(api: Api) -> str:
    from chalicelib.adapters.models import NamespaceModel
    from chalicelib.domain.cursors import Cursor

    return Cursor(api.namespace_id, NamespaceModel.get(api.namespace_id).epoch, 0).encode()
