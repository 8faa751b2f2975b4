"""Twins (two names, one key): which keeps the key, and what the other is renamed to."""

from __future__ import annotations

import unicodedata

import pytest
from driftbox.core import paths
from driftbox.core.model import FILE, FOLDER, Item
from driftbox.core.twins import Spelling, Twin, keeper, split, twin_path

NFC = unicodedata.normalize("NFC", "/café.txt")
NFD = unicodedata.normalize("NFD", "/café.txt")


def _file(path: str, inode: int | None = None) -> Item:
    return Item(path, FILE, "h", 1, rev=3 if inode else None, inode=inode)


@pytest.mark.parametrize(
    ("spellings", "synced", "remote", "kept"),
    [
        # The synced item keeps its key: by inode first, whatever the spelling sorts as.
        ([("/A.txt", 2), ("/a.txt", 1)], _file("/a.txt", 1), _file("/a.txt"), "/a.txt"),
        ([("/A.txt", 2), ("/a.txt", 1)], _file("/A.txt", 1), _file("/A.txt"), "/a.txt"),  # renamed, then twin
        # An editor's save changed the inode: the synced name.
        ([("/A.txt", 7), ("/a.txt", 8)], _file("/a.txt", 1), _file("/a.txt"), "/a.txt"),
        # Nothing synced: the server's spelling, else NFC, else the first in code point order.
        ([("/A.txt", 2), ("/a.txt", 1)], None, _file("/a.txt"), "/a.txt"),
        ([("/A.txt", 2), ("/a.txt", 1)], None, None, "/A.txt"),
        ([(NFD, 1), (NFC, 2)], None, None, NFC),
        ([(NFC, 1), (NFD, 2)], _file(NFC, 2), None, NFD),  # the synced inode beats NFC
        ([("/a.txt", 1), ("/A.txt", 2), ("/A.TXT", 3)], None, None, "/A.TXT"),
    ],
)
def test_the_keeper_is_the_synced_item_else_the_servers_spelling_else_nfc_else_the_first(
    spellings: list[tuple[str, int]], synced: Item | None, remote: Item | None, kept: str
) -> None:
    given = [Spelling(path, FILE, inode) for path, inode in spellings]
    assert keeper(given, synced, remote).path == kept
    assert keeper(list(reversed(given)), synced, remote).path == kept  # whatever order the disk lists


def test_every_other_spelling_is_a_twin_of_the_keeper() -> None:
    kept, twins = split(
        [Spelling("/a", FOLDER, 1), Spelling("/A", FOLDER, 2), Spelling("/A.txt", FILE, 3)],
        Item("/a", FOLDER, inode=1),
        None,
    )
    assert kept.path == "/a"
    assert twins == [Twin("/A", FOLDER, "/a"), Twin("/A.txt", FILE, "/a")]


@pytest.mark.parametrize(
    ("twin", "taken", "expected"),
    [
        (Twin("/A.txt", FILE, "/a.txt"), set(), "/A (case conflict).txt"),
        (Twin("/d/A.tar.gz", FILE, "/d/a.tar.gz"), set(), "/d/A.tar (case conflict).gz"),
        (Twin("/Photos", FOLDER, "/photos"), set(), "/Photos (case conflict)"),
        (Twin("/.Bashrc", FILE, "/.bashrc"), set(), "/.Bashrc (case conflict)"),
        (Twin(NFD, FILE, NFC), set(), unicodedata.normalize("NFD", "/café (Unicode encoding conflict).txt")),
        # Upper case and NFD at once: a case twin.
        (
            Twin(unicodedata.normalize("NFD", "/Café.txt"), FILE, NFC),
            set(),
            unicodedata.normalize("NFD", "/Café (case conflict).txt"),
        ),
        (Twin("/A.txt", FILE, "/a.txt"), {"/a (case conflict).txt"}, "/A (case conflict 2).txt"),
        (
            Twin("/A.txt", FILE, "/a.txt"),
            {"/a (case conflict).txt", "/a (case conflict 2).txt"},
            "/A (case conflict 3).txt",
        ),
    ],
)
def test_a_twin_goes_beside_itself_with_a_note_at_a_free_key(
    twin: Twin, taken: set[str], expected: str
) -> None:
    assert twin_path(twin, taken.__contains__) == expected


def test_a_long_twin_name_loses_the_end_of_its_stem_and_stays_valid() -> None:
    long_name = "É" * 125 + ".txt"  # 254 bytes: a valid name, too long once noted
    renamed = twin_path(Twin("/" + long_name, FILE, "/" + long_name.lower()), lambda _: False)
    assert renamed.endswith(" (case conflict).txt")
    assert len(paths.name(renamed).encode()) <= paths.MAX_NAME_BYTES
    assert paths.normalize(renamed)
