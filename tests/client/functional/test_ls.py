"""`driftbox ls` against a stand-in server: pages followed, each entry checked, a bad one reported."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftbox.adapters.home import Home, Settings

from tests.client.functional.stand_in import serving

NAMESPACE = "ns_000000000000000000000000"


def _file(path: str, size: Any = 5, kind: Any = "file") -> dict[str, Any]:
    return {"path": path, "name": path.rsplit("/", 1)[1], "kind": kind, "size": size}


ANSWERS: dict[tuple[str, str | None], tuple[int, Any]] = {
    ("/Docs", None): (
        200,
        {
            "path": "/Docs",
            "entries": [_file("/Docs/a.txt", 1234), _file("/Docs/../etc"), _file("/Other/b.txt")],
            "cursor": "page2",
            "has_more": True,
        },
    ),
    ("/Docs", "page2"): (
        200,
        {
            "path": "/Docs",
            "entries": [_file("/Docs/sub", 0, "folder"), _file("/Docs/c", True), _file("/Docs/d", 1, "link")],
            "cursor": None,
            "has_more": False,
        },
    ),
    ("/Docs/a.txt", None): (
        400,
        {"error": {"code": "invalid_request", "message": "a file", "field": "path", "kind": "file"}},
    ),
    ("/nothing", None): (404, {"error": {"code": "not_found", "message": "no folder", "path": "/nothing"}}),
}


def _answer(path: str, query: dict[str, str]) -> tuple[int, Any]:
    if path == "/v1/folders":
        return ANSWERS[(query["path"], query.get("cursor"))]
    if path == "/v1/files/revisions" and query["path"] == "/Docs/a.txt":
        return 200, {"path": "/Docs/a.txt", "object_id": "o_1", "revisions": [{"size": 1234}]}
    return 404, {"error": {"code": "not_found", "message": "no route"}}


@pytest.fixture
def server() -> Iterator[str]:
    with serving(_answer) as url:
        yield url


def ls(server: str, tmp_path: Path, path: str) -> subprocess.CompletedProcess[str]:
    home = Home(tmp_path / "home", tmp_path / "home")
    home.save_settings(Settings(namespace_id=NAMESPACE))
    home.save_token("t")
    command = [
        sys.executable,
        "-m",
        "driftbox",
        "--server",
        server,
        "--home",
        str(home.config_dir),
        "ls",
        path,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_every_page_is_listed_and_each_bad_entry_is_reported_without_stopping(
    server: str, tmp_path: Path
) -> None:
    done = ls(server, tmp_path, "/Docs")
    assert done.stdout.splitlines() == [f"{'1,234':>14}  a.txt", f"{'folder':>14}  sub/"]
    reported = done.stderr.splitlines()
    assert len(reported) == 5, done.stderr
    assert "this client refuses" in reported[0] and "not in the folder listed" in reported[1]
    assert "size 'True'" in reported[2] and "unknown kind 'link'" in reported[3]
    assert reported[4] == "driftbox: 4 entries of /Docs not shown"
    assert done.returncode == 1


def test_a_file_is_shown_with_its_size(server: str, tmp_path: Path) -> None:
    done = ls(server, tmp_path, "/Docs/a.txt")
    assert (done.returncode, done.stdout) == (0, f"{1234:>14,}  /Docs/a.txt\n"), done.stderr


def test_nothing_at_the_path_says_so(server: str, tmp_path: Path) -> None:
    done = ls(server, tmp_path, "/nothing")
    assert done.returncode == 1
    assert done.stderr == "driftbox: /nothing: nothing there on the server\n"
