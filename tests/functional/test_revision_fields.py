"""A revision's mtime (nanoseconds, range checked) and executable bit, through the app against moto."""

from __future__ import annotations

import json
import zlib
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.adapters import codec, keys
from chalicelib.adapters.models import JournalModel, NamespaceModel, PathModel, RevisionModel
from chalicelib.domain import cursors, paths
from tests.functional.conftest import Api
from tests.functional.files import commit, journal, put_op, upload

SPEC_EXAMPLE_MTIME_NS = 1732450000123456789  # docs/openapi.yaml's own example


def _put(alice: Api, path: str, data: bytes, **fields: Any) -> tuple[int, Any]:
    upload(alice, data)
    op = put_op(path, data, fields.pop("parent_rev", None)) | fields
    return commit(alice, op)


def _revisions(alice: Api, path: str) -> list[dict[str, Any]]:
    status, body = alice.get(f"/v1/files/revisions?namespace_id={alice.namespace_id}&path={quote(path)}")
    assert status == 200, body
    revisions: list[dict[str, Any]] = body["revisions"]
    return revisions


@pytest.mark.parametrize("mtime_ns", [SPEC_EXAMPLE_MTIME_NS, 0, -1, -(2**63), 2**63 - 1], ids=str)
def test_an_mtime_in_nanoseconds_comes_back_exactly_in_listing_journal_and_history(
    alice: Api, mtime_ns: int
) -> None:
    _, cursor = journal(alice)
    status, body = _put(alice, "/a.txt", b"hello", mtime=mtime_ns)
    assert status == 200, body
    listed, _ = journal(alice)
    changes, _ = journal(alice, cursor)
    assert [e["mtime"] for e in listed] == [e["mtime"] for e in changes] == [mtime_ns]
    assert [r["mtime"] for r in _revisions(alice, "/a.txt")] == [mtime_ns]


@pytest.mark.parametrize("mtime_ns", [2**63, -(2**63) - 1, 10**30], ids=str)
def test_an_mtime_no_file_system_can_hold_is_refused_and_changes_nothing(alice: Api, mtime_ns: int) -> None:
    status, body = _put(alice, "/a.txt", b"hello", mtime=mtime_ns)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request", body
    # Beyond signed 64 bits the body's reader refuses the number before the op is read.
    assert "signed 64 bits" in body["error"]["message"], body
    assert journal(alice)[0] == []


def test_the_executable_bit_is_stored_returned_and_alone_makes_a_new_revision(alice: Api) -> None:
    _, cursor = journal(alice)
    status, body = _put(alice, "/run.sh", b"#!/bin/sh\n", executable=True)
    assert status == 200, body
    first = body["results"][0]["rev"]
    assert [e["executable"] for e in journal(alice)[0]] == [True]
    status, body = _put(alice, "/run.sh", b"#!/bin/sh\n", parent_rev=first, executable=False)
    assert status == 200, body
    second = body["results"][0]["rev"]
    assert second > first  # a chmod alone is a change: same bytes, new revision
    status, body = _put(alice, "/run.sh", b"#!/bin/sh\n", parent_rev=second)  # no field: not executable
    assert body["results"][0]["rev"] == second  # same bytes, same bit: nothing changes
    changes, _ = journal(alice, cursor)
    assert [(e["rev"], e["executable"]) for e in changes] == [(first, True), (second, False)]
    assert [(r["rev"], r["executable"]) for r in _revisions(alice, "/run.sh")] == [
        (second, False),
        (first, True),
    ]
    status, body = alice.post(
        "/v1/files/restore", {"namespace_id": alice.namespace_id, "path": "/run.sh", "rev": first}
    )
    assert status == 200, body
    assert journal(alice)[0][0]["executable"] is True  # restoring brings the bit back too


@pytest.mark.parametrize("executable", ["true", 1, None])
def test_an_executable_bit_that_is_not_a_boolean_is_refused(alice: Api, executable: Any) -> None:
    status, body = _put(alice, "/a.sh", b"x", executable=executable)
    assert status == 400, body
    assert journal(alice)[0] == []


def test_rows_written_before_nanoseconds_read_their_seconds_as_nanoseconds(alice: Api) -> None:
    """Stored mtimes of the client that sent seconds (attribute ``mtime``, journal key ``t``)."""
    status, body = _put(alice, "/old.txt", b"old")
    assert status == 200, body
    row = PathModel.get(alice.namespace_id, keys.path_row(paths.key("/old.txt")))
    revision = RevisionModel.get(row.object_id, int(row.rev))
    for stored, seconds in ((row, 1_700_000_000), (revision, 1_700_000_002)):
        stored.mtime_ns, stored.mtime, stored.executable = None, seconds, None
        stored.save()
    record = next(iter(JournalModel.query(alice.namespace_id)))
    legacy = []
    for entry in codec.decode_body(record.body):
        item = codec.entry_to_json(entry, alice.namespace_id)
        del item["n"]
        legacy.append(item | {"t": 1_700_000_001})
    record.body = zlib.compress(json.dumps(legacy).encode())
    record.save()

    listed, _ = journal(alice)
    status, page = alice.get(f"/v1/objects?namespace_id={alice.namespace_id}&cursor={_start(alice)}")
    assert status == 200, page
    assert [(e["mtime"], e["executable"]) for e in listed] == [(1_700_000_000 * 10**9, False)]
    assert [e["mtime"] for e in page["entries"]] == [1_700_000_001 * 10**9]
    assert [r["mtime"] for r in _revisions(alice, "/old.txt")] == [1_700_000_002 * 10**9]


def _start(alice: Api) -> str:
    """A cursor at seq 0 of the namespace: the one a listing of the empty tree gave, re-made."""
    namespace = NamespaceModel.get(alice.namespace_id)
    return quote(cursors.Cursor(alice.namespace_id, namespace.epoch, 0).encode())
