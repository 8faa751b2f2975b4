"""Large commits: path rows are written in transactions, and an older commit still never wins."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

from chalicelib.adapters import keys
from chalicelib.adapters import metadata as store
from chalicelib.adapters.models import PathModel
from chalicelib.domain import paths
from tests.functional.conftest import Api
from tests.functional.files import commit, journal, put_op


def _files(count: int, folder: str = "/many") -> dict[str, bytes]:
    return {f"{folder}/sub{i % 3}/f{i:03d}.txt": f"file {i} of {folder}".encode() for i in range(count)}


def _send(api: Api, chunks: list[bytes]) -> None:
    """Upload one-chunk files in one request, as a client batches them."""
    by_hash = {hashlib.sha256(data).hexdigest(): data for data in chunks}
    specs = [{"hash": h, "size": len(data)} for h, data in by_hash.items()]
    status, body = api.post("/v1/chunks/upload", {"namespace_id": api.namespace_id, "chunks": specs})
    assert status == 200, body
    for grant in body["uploads"]:
        response = requests.put(
            grant["url"], data=by_hash[grant["hash"]], headers=grant["headers"], timeout=30
        )
        assert response.status_code == 200, response.text


def _commit_files(api: Api, files: dict[str, bytes]) -> dict[str, Any]:
    _send(api, list(files.values()))
    status, body = commit(api, *(put_op(path, data) for path, data in files.items()))
    assert status == 200, body
    answer: dict[str, Any] = body
    return answer


def _tree(api: Api) -> dict[str, dict[str, Any]]:
    entries, _ = journal(api, limit=2000)
    return {e["path"]: e for e in entries}


def test_a_commit_of_more_than_a_transaction_lands_every_row(alice: Api) -> None:
    files = _files(250)
    body = _commit_files(alice, files)
    assert len(body["results"]) == 250
    assert body["head_seq"] == 250 + 4  # and /many with its three folders
    tree = _tree(alice)
    assert sorted(p for p, e in tree.items() if e["kind"] == "file") == sorted(files)
    assert {p for p, e in tree.items() if e["kind"] == "folder"} == {
        "/many",
        "/many/sub0",
        "/many/sub1",
        "/many/sub2",
    }
    by_path = {r["path"]: r for r in body["results"]}
    for path, data in files.items():
        assert tree[path]["size"] == len(data)
        assert tree[path]["rev"] == by_path[path]["rev"]
    status, history = alice.get(
        f"/v1/files/revisions?namespace_id={alice.namespace_id}&path=/many/sub1/f199.txt"
    )
    assert status == 200, history
    assert [r["rev"] for r in history["revisions"]] == [by_path["/many/sub1/f199.txt"]["rev"]]


def test_an_older_commit_applied_again_leaves_every_newer_row(alice: Api) -> None:
    files = _files(150)
    first = _commit_files(alice, files)
    first_seq = first["head_seq"]
    original = _tree(alice)
    edited = "/many/sub1/f007.txt"
    _send(alice, [b"edited later"])
    status, body = commit(alice, put_op(edited, b"edited later", parent_rev=original[edited]["rev"]))
    assert status == 200, body
    newer_rev = body["results"][0]["rev"]
    # Some rows of the first commit lost (as if its projection had stopped part way), then a slow
    # writer applies the first commit again: the lost rows come back, the newer row stays.
    lost = ["/many/sub0/f003.txt", "/many/sub1/f004.txt", "/many/sub2/f005.txt", "/many/sub0"]
    for path in lost:
        PathModel(alice.namespace_id, keys.path_row(paths.key(path))).delete()
    before = _tree(alice)
    assert not set(lost) & set(before)

    store.apply(alice.namespace_id, store.read_entries(alice.namespace_id, 0, first_seq))

    tree = _tree(alice)
    assert tree[edited]["rev"] == newer_rev
    assert tree[edited]["size"] == len(b"edited later")
    for path in lost:
        assert tree[path] == original[path]
    assert {p: e for p, e in tree.items() if p not in lost} == before
