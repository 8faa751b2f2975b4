"""The pull of the journal since a cursor, against a stand-in server, into a real SQLite index:
saved a page at a time with the cursor after it, so a pull cut short keeps what it saved and the
next one goes on from there, ending where one uninterrupted pull ends."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftbox import errors
from driftbox.adapters.api import Api
from driftbox.adapters.index import Index
from driftbox.fetched import pull

from tests.client.functional.stand_in import serving

NAMESPACE = "ns_000000000000000000000000"


def _file(path: str, rev: int, text: str) -> dict[str, Any]:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return {
        "op": "put",
        "path": path,
        "kind": "file",
        "rev": rev,
        "object_id": "o_" + hashlib.sha256(path.encode()).hexdigest()[:12],
        "size": len(text),
        "mtime": 1_700_000_000_000_000_000,
        "chunks": [digest],
        "content_hash": digest,
    }


def _page(entries: list[dict[str, Any]], cursor: str, has_more: bool) -> dict[str, Any]:
    return {"entries": entries, "cursor": cursor, "has_more": has_more, "cursor_seq": int(cursor[1:])}


# The journal since cursor c0, three pages: a.txt made, then moved, b.txt made, then deleted, c made.
JOURNAL: dict[str, tuple[int, Any]] = {
    "c0": (200, _page([_file("/a.txt", 1, "a"), _file("/b.txt", 1, "b")], "c2", True)),
    "c2": (200, _page([{**_file("/d/a.txt", 2, "a"), "op": "move", "from_path": "/a.txt"}], "c3", True)),
    "c3": (
        200,
        _page([{"op": "delete", "path": "/b.txt", "deleted": True}, _file("/c.txt", 1, "c")], "c5", False),
    ),
}


@pytest.fixture
def journal() -> Iterator[tuple[Api, dict[str, tuple[int, Any]]]]:
    """An Api on a stand-in server answering ``GET /v1/objects`` from the cursor; the answers may be
    changed while it runs."""
    answers = dict(JOURNAL)
    missing = (404, {"error": {"code": "not_found", "message": "no page"}})
    with serving(lambda path, query: answers.get(query.get("cursor", ""), missing)) as url:
        yield Api(url, "t", attempts=1), answers


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    with Index.open(tmp_path / "index.sqlite3", tmp_path / "Driftbox", NAMESPACE) as opened:
        with opened.transaction() as tx:
            tx.set_cursor("c0", 0)
        yield opened


def _saved(index: Index) -> tuple[dict[str, int | None], str | None]:
    return {k: item.rev for k, item in index.load_remote().items()}, index.cursor()


def test_the_journal_is_saved_page_by_page_with_the_cursor_after_each(
    journal: tuple[Api, dict[str, tuple[int, Any]]], index: Index
) -> None:
    api, _ = journal
    assert pull(api, index, NAMESPACE) is False
    assert _saved(index) == ({"/d/a.txt": 2, "/c.txt": 1}, "c5")
    files = index.load_remote_files()
    assert files["/c.txt"].chunks == (hashlib.sha256(b"c").hexdigest(),)
    # Every key the journal moved on is planned, the ones it came back from included.
    assert index.remote_changed_keys() == {"/a.txt", "/b.txt", "/d/a.txt", "/c.txt"}


@pytest.mark.parametrize(
    "broken",
    [
        (503, {"error": {"code": "unavailable", "message": "try later"}}),
        (200, {"entries": [], "has_more": False}),  # no cursor
        (200, ["not", "a", "page"]),
        (200, {"entries": "x", "cursor": "c5", "has_more": False}),
    ],
)
def test_a_pull_cut_short_keeps_the_pages_before_and_the_next_goes_on(
    journal: tuple[Api, dict[str, tuple[int, Any]]], index: Index, broken: tuple[int, Any]
) -> None:
    api, answers = journal
    answers["c3"] = broken
    with pytest.raises(errors.DriftboxError):
        pull(api, index, NAMESPACE)
    assert _saved(index) == ({"/d/a.txt": 2, "/b.txt": 1}, "c3")  # two pages, nothing of the third

    answers["c3"] = JOURNAL["c3"]
    assert pull(api, index, NAMESPACE) is False
    assert _saved(index) == ({"/d/a.txt": 2, "/c.txt": 1}, "c5")
