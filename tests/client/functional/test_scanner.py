"""The scan of a real folder: which of two names with one key is synced, how the other is set
apart, and which names are reported as unsyncable."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from driftbox.adapters import fs, scanner
from driftbox.core.model import FILE, FOLDER, Item
from driftbox.core.twins import Twin

NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")


def _hasher(path: Path) -> tuple[str, tuple[str, ...]]:
    hashed = fs.hash_file(path)
    return hashed.content_hash, hashed.chunks


def _scan(root: Path, synced: dict[str, Item] | None = None) -> scanner.Scan:
    return scanner.scan(root, {}, _hasher, synced=synced or {}, remote={})


def _synced(root: Path, name: str) -> dict[str, Item]:
    """The synced tree after ``name`` was synced: its item with its inode, as the executor records it."""
    found = _scan(root)
    return {k: v for k, v in found.tree.items() if v.path.startswith("/" + name)}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "probe").write_bytes(b"")
    if (tmp_path / "PROBE").exists():
        pytest.skip("this disk ignores case: it cannot hold twins")
    (tmp_path / "probe").unlink()
    return tmp_path


def test_a_case_twin_of_a_synced_file_is_renamed_aside_and_the_synced_file_stays(folder: Path) -> None:
    (folder / "a.txt").write_bytes(b"original")
    synced = _synced(folder, "a.txt")
    (folder / "A.txt").write_bytes(b"newcomer")  # sorts before a.txt

    found = _scan(folder, synced)

    assert found.tree["/a.txt"].path == "/a.txt"
    assert found.tree["/a.txt"].content_hash == synced["/a.txt"].content_hash
    assert found.twins == [Twin("/A.txt", FILE, "/a.txt")]
    assert "/A.txt" not in found.problems

    notices = scanner.set_twins_apart(folder, found, lambda path_key: path_key in synced)
    assert notices == [
        "/A.txt was renamed to /A (case conflict).txt: its name differs only in case "
        "from 'a.txt'; both are synced."
    ]
    again = _scan(folder, synced)
    assert {item.path for item in again.tree.values()} == {"/a.txt", "/A (case conflict).txt"}
    assert not again.twins
    assert (folder / "a.txt").read_bytes() == b"original"
    assert (folder / "A (case conflict).txt").read_bytes() == b"newcomer"


def test_a_folder_twin_goes_aside_whole(folder: Path) -> None:
    (folder / "docs").mkdir()
    (folder / "docs" / "kept.txt").write_bytes(b"synced")
    synced = _synced(folder, "docs")
    (folder / "Docs").mkdir()
    (folder / "Docs" / "new.txt").write_bytes(b"new")

    found = _scan(folder, synced)

    assert found.twins == [Twin("/Docs", FOLDER, "/docs")]
    assert set(found.tree) == {"/docs", "/docs/kept.txt"}  # nothing of the twin is read as the folder's
    scanner.set_twins_apart(folder, found, lambda path_key: path_key in synced)
    assert {item.path for item in _scan(folder, synced).tree.values()} == {
        "/docs",
        "/docs/kept.txt",
        "/Docs (case conflict)",
        "/Docs (case conflict)/new.txt",
    }


def test_a_unicode_form_twin_gets_its_own_note(folder: Path) -> None:
    (folder / NFC).write_bytes(b"composed, synced")
    synced = _synced(folder, NFC)
    (folder / NFD).write_bytes(b"decomposed, new")

    found = _scan(folder, synced)
    scanner.set_twins_apart(folder, found, lambda path_key: path_key in synced)

    renamed = unicodedata.normalize("NFD", "café (Unicode encoding conflict).txt")
    assert sorted(os.listdir(folder)) == sorted([NFC, renamed])
    assert (folder / renamed).read_bytes() == b"decomposed, new"


def test_two_new_twins_keep_the_first_and_the_renamed_one_takes_a_free_name(folder: Path) -> None:
    (folder / "report.txt").write_bytes(b"lower")
    (folder / "Report.txt").write_bytes(b"upper")
    remote_taken = {"/report (case conflict).txt"}  # the server holds that name already

    found = _scan(folder)
    assert found.tree["/report.txt"].path == "/Report.txt"
    scanner.set_twins_apart(folder, found, remote_taken.__contains__)

    assert (folder / "report (case conflict 2).txt").read_bytes() == b"lower"
    assert (folder / "Report.txt").read_bytes() == b"upper"


def test_a_status_look_renames_nothing_and_says_what_the_sync_will_do(folder: Path) -> None:
    (folder / "a.txt").write_bytes(b"original")
    synced = _synced(folder, "a.txt")
    (folder / "A.txt").write_bytes(b"newcomer")

    found = _scan(folder, synced)
    scanner.twins_as_problems(found, lambda path_key: path_key in synced)

    assert "renames it to /A (case conflict).txt" in found.problems["/A.txt"]
    assert (folder / "A.txt").read_bytes() == b"newcomer"


def test_disguised_names_are_reported_and_the_rest_is_scanned(folder: Path) -> None:
    (folder / "invoice\u202etxt.exe").write_bytes(b"MZ")
    (folder / "pay\u200bpal").mkdir()
    (folder / "pay\u200bpal" / "inside.txt").write_bytes(b"never read")
    (folder / "ok.txt").write_bytes(b"fine")

    found = _scan(folder)

    assert set(found.tree) == {"/ok.txt"}
    assert "bidirectional control character (U+202E)" in found.problems["/invoice\u202etxt.exe"]
    assert "invisible format character (U+200B)" in found.problems["/pay\u200bpal"]
