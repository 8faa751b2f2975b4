"""Two devices of one user through the app: a stale rev or an old cursor never costs the other's work."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.test import Client

from tests.functional.conftest import Api
from tests.functional.files import commit, journal, put_op, save, upload


@pytest.fixture
def phone(client: Client, alice: Api) -> Api:
    """Alice's second device."""
    device = Api(client)
    status, body = device.post(
        "/v1/auth/login",
        {"email": alice.email, "password": "correct horse battery", "device_name": "phone"},  # type: ignore[attr-defined]
    )
    assert status == 200, body
    device.token, device.user_id = body["token"], body["user_id"]
    device.device_id, device.namespace_id = body["device_id"], body["namespace_id"]
    return device


def listing(api: Api) -> tuple[dict[str, dict[str, Any]], int]:
    """The current tree by path, and the seq its cursor stands at."""
    status, body = api.get(f"/v1/objects?namespace_id={api.namespace_id}&limit=2000")
    assert status == 200, body
    assert not body["has_more"]
    return {e["path"]: e for e in body["entries"]}, body["cursor_seq"]


def refused(api: Api, op: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = commit(api, op)
    assert status == 409, body
    assert body["error"]["code"] == "conflict"
    conflicts: list[dict[str, Any]] = body["error"]["conflicts"]
    return conflicts


# -- a stale parent_rev -----------------------------------------------------------------------------
def test_a_rev_seen_before_a_move_is_a_conflict_on_a_new_file_at_the_old_path(alice: Api, phone: Api) -> None:
    r1 = save(alice, "/a.txt", b"laptop saw this")["rev"]
    status, body = commit(phone, {"op": "move", "from": "/a.txt", "to": "/b.txt", "parent_rev": r1})
    assert status == 200, body
    new = save(phone, "/a.txt", b"phone's new file")
    assert new["rev"] != r1
    upload(alice, b"laptop's edit")
    current = [{"path": "/a.txt", "current_rev": new["rev"], "current_kind": "file"}]
    assert refused(alice, put_op("/a.txt", b"laptop's edit", parent_rev=r1)) == current
    assert refused(alice, {"op": "delete", "path": "/a.txt", "parent_rev": r1}) == current
    assert refused(alice, {"op": "move", "from": "/a.txt", "to": "/c.txt", "parent_rev": r1}) == current
    tree, _ = listing(alice)
    assert sorted(tree) == ["/a.txt", "/b.txt"]
    assert (tree["/a.txt"]["rev"], tree["/a.txt"]["size"]) == (new["rev"], len(b"phone's new file"))
    assert tree["/b.txt"]["rev"] == r1  # the rev went with the file it names


def test_revs_are_journal_seqs_and_history_lists_and_restores_them(alice: Api, phone: Api) -> None:
    revs = [save(alice, "/h.txt", b"first")["rev"]]
    save(phone, "/other.txt", b"in between")
    revs.append(save(alice, "/h.txt", b"second", parent_rev=revs[-1])["rev"])
    status, body = commit(alice, {"op": "delete", "path": "/h.txt", "parent_rev": revs[-1]})
    assert status == 200, body
    revs.append(body["results"][0]["rev"])
    assert revs == [1, 3, 4]
    entries, _ = journal(alice, _start(alice))
    assert [(e["seq"], e["rev"]) for e in entries if e["path"] == "/h.txt"] == [(1, 1), (3, 3), (4, 4)]
    status, body = alice.get(f"/v1/files/revisions?namespace_id={alice.namespace_id}&path=/h.txt")
    assert status == 200, body
    assert [(r["rev"], r["deleted"]) for r in body["revisions"]] == [(4, True), (3, False), (1, False)]
    status, body = alice.post(
        "/v1/files/restore", {"namespace_id": alice.namespace_id, "path": "/h.txt", "rev": 1}
    )
    assert status == 200, body
    assert body["rev"] == body["seq"] == 5
    status, body = alice.post(
        "/v1/files/restore", {"namespace_id": alice.namespace_id, "path": "/h.txt", "rev": 2}
    )
    assert status == 404, body  # seq 2 made a revision of another file


def _start(api: Api) -> str:
    from chalicelib.adapters.models import NamespaceModel
    from chalicelib.domain.cursors import Cursor

    return Cursor(api.namespace_id, NamespaceModel.get(api.namespace_id).epoch, 0).encode()


# -- a folder delete from an old cursor -------------------------------------------------------------
def test_a_folder_delete_refuses_a_file_added_after_seen_seq(alice: Api, phone: Api) -> None:
    save(alice, "/F/old.txt", b"old")
    _, seen = listing(alice)
    added = save(phone, "/F/new.txt", b"added by the phone")
    delete = {"op": "delete", "path": "/F", "parent_rev": None, "seen_seq": seen}
    assert refused(alice, delete) == [
        {"path": "/F/new.txt", "current_rev": added["rev"], "current_kind": "file"}
    ]
    tree, caught_up = listing(alice)
    assert sorted(tree) == ["/F", "/F/new.txt", "/F/old.txt"]
    assert caught_up == added["seq"]
    status, body = commit(alice, delete | {"seen_seq": caught_up})  # once seen, the delete goes ahead
    assert status == 200, body
    assert listing(alice)[0] == {}


def test_a_folder_delete_refuses_a_file_moved_in_after_seen_seq(alice: Api, phone: Api) -> None:
    save(alice, "/F/old.txt", b"old")
    moved_rev = save(alice, "/elsewhere.txt", b"moves in")["rev"]
    _, seen = listing(alice)
    status, body = commit(
        phone, {"op": "move", "from": "/elsewhere.txt", "to": "/F/moved.txt", "parent_rev": moved_rev}
    )
    assert status == 200, body
    delete = {"op": "delete", "path": "/F", "parent_rev": None, "seen_seq": seen}
    assert refused(alice, delete) == [
        {"path": "/F/moved.txt", "current_rev": moved_rev, "current_kind": "file"}
    ]


def test_a_folder_delete_without_seen_seq_still_removes_everything(alice: Api, phone: Api) -> None:
    save(alice, "/F/old.txt", b"old")
    save(phone, "/F/new.txt", b"added by the phone")
    status, body = commit(alice, {"op": "delete", "path": "/F", "parent_rev": None})
    assert status == 200, body
    assert listing(alice)[0] == {}


def test_seen_seq_out_of_range(alice: Api) -> None:
    save(alice, "/F/a.txt", b"a")
    status, body = commit(alice, {"op": "delete", "path": "/F", "parent_rev": None, "seen_seq": -1})
    assert status == 400, body
    assert body["error"]["field"] == "ops.0.seen_seq"
    assert "seen_seq" in body["error"]["message"]
    status, body = commit(alice, {"op": "delete", "path": "/F", "parent_rev": None, "seen_seq": "2"})
    assert status == 400, body
    assert "seen_seq" in body["error"]["message"]
    _, head = listing(alice)
    status, body = commit(alice, {"op": "delete", "path": "/F", "parent_rev": None, "seen_seq": head + 1})
    assert status == 410, body
    assert body["error"]["code"] == "reset"
    assert sorted(listing(alice)[0]) == ["/F", "/F/a.txt"]
