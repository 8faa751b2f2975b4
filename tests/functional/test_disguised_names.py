"""Names that can pass for others (a bidi override, a zero-width space) are refused by every route
that takes a path, with a 400 that says which kind of character, and change nothing."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from tests.functional.conftest import Api
from tests.functional.files import commit, journal, put_op, save, upload

BIDI = "/invoice\u202etxt.exe"  # shows as "invoiceexe.txt"
ZERO_WIDTH = "/pay\u200bpal.txt"


def _ops(bad: str, rev: int) -> dict[str, dict[str, Any]]:
    """One op per path-taking field, ``bad`` in that field; the others name the real /ok.txt."""
    return {
        "put": put_op(bad, b"bytes"),
        "put under a folder": put_op(bad + "/inner.txt", b"bytes"),
        "mkdir": {"op": "mkdir", "path": bad},
        "delete": {"op": "delete", "path": bad, "parent_rev": None},
        "move from": {"op": "move", "from": bad, "to": "/elsewhere.txt", "parent_rev": rev},
        "move to": {"op": "move", "from": "/ok.txt", "to": bad, "parent_rev": rev},
    }


def _refused(status: int, body: Any, what: str) -> None:
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request", body
    assert what in body["error"]["message"], body


@pytest.mark.parametrize(
    ("bad", "what"), [(BIDI, "bidirectional control character (U+202E)"), (ZERO_WIDTH, "(U+200B)")]
)
@pytest.mark.parametrize("op", list(_ops("/x", 1)))
def test_a_commit_naming_a_disguised_path_is_refused_and_changes_nothing(
    alice: Api, bad: str, what: str, op: str
) -> None:
    ok = save(alice, "/ok.txt", b"kept")
    upload(alice, b"bytes")
    before, _ = journal(alice)

    _refused(*commit(alice, put_op("/fine.txt", b"bytes"), _ops(bad, ok["rev"])[op]), what)

    assert journal(alice)[0] == before  # not even the other op of the commit landed


@pytest.mark.parametrize("bad", [BIDI, ZERO_WIDTH])
def test_history_and_restore_of_a_disguised_path_are_refused(alice: Api, bad: str) -> None:
    save(alice, "/ok.txt", b"kept")
    query = urllib.parse.urlencode({"namespace_id": alice.namespace_id, "path": bad})

    _refused(*alice.get(f"/v1/files/revisions?{query}"), "which can disguise a name")
    _refused(
        *alice.post("/v1/files/restore", {"namespace_id": alice.namespace_id, "path": bad, "rev": 1}),
        "which can disguise a name",
    )
