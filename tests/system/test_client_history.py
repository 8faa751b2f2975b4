"""`driftbox history` and `driftbox restore`: every version of a file, and any of them brought back on
every device, through the command as a person runs it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.system.devices import Device, converge, new_user

_REVISION = re.compile(r"rev +(\d+)  \S+ \S+ UTC +(deleted|[\d,]+ bytes)  +(\w*) +(\S+)")


@pytest.fixture
def pair(make_stack: Any, tmp_path: Path) -> tuple[Device, Device]:
    laptop, phone = new_user(make_stack(None), tmp_path, "laptop", "phone")
    return laptop, phone


def revisions(device: Device, path: str) -> list[tuple[int, str, str, str]]:
    """(rev, "N bytes" or "deleted", short content hash, path), newest first."""
    lines = device.run("history", path).stdout.splitlines()
    found = [_REVISION.fullmatch(line) for line in lines]
    assert all(found), lines
    return [(int(m[1]), m[2], m[3], m[4]) for m in found if m]


def test_an_old_version_comes_back_on_every_device(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    (laptop.folder / "notes").mkdir()
    laptop.file("notes/a.txt").write_bytes(b"one")
    laptop.sync()
    laptop.file("notes/a.txt").write_bytes(b"two, longer")
    converge(laptop, phone)

    # By a local path inside the linked folder, or by its Driftbox path: the same file.
    listed = revisions(phone, str(phone.file("notes/a.txt")))
    assert listed == revisions(phone, "/notes/a.txt")
    assert [(size, path) for _, size, _, path in listed] == [
        ("11 bytes", "/notes/a.txt"),
        ("3 bytes", "/notes/a.txt"),
    ]
    newest, oldest = listed[0][0], listed[1][0]
    assert newest > oldest

    said = phone.run("restore", "/notes/a.txt", "--rev", str(oldest)).stdout
    restored = int(re.fullmatch(rf"Restored /notes/a\.txt from rev {oldest} as rev (\d+)\.\n", said)[1])  # type: ignore[index]
    assert restored > newest
    converge(phone, laptop)
    assert laptop.file("notes/a.txt").read_bytes() == b"one"
    assert phone.file("notes/a.txt").read_bytes() == b"one"
    after = revisions(laptop, "/notes/a.txt")
    assert [rev for rev, *_ in after] == [restored, newest, oldest]
    assert after[0][1:] == listed[1][1:]  # the same size and content as the version brought back


def test_a_deleted_file_can_be_brought_back(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    laptop.file("draft.md").write_bytes(b"# keep me")
    laptop.file("other.md").write_bytes(b"stays")
    converge(laptop, phone)
    phone.file("draft.md").unlink()
    converge(phone, laptop)
    assert not laptop.file("draft.md").exists()

    listed = revisions(laptop, "/draft.md")
    assert [size for _, size, _, _ in listed] == ["deleted", "9 bytes"]
    laptop.run("restore", "/draft.md", "--rev", str(listed[1][0]))
    converge(laptop, phone)
    assert phone.file("draft.md").read_bytes() == b"# keep me"
    assert laptop.file("draft.md").read_bytes() == b"# keep me"


def test_what_cannot_be_restored_is_one_clear_line_and_changes_nothing(
    pair: tuple[Device, Device], tmp_path: Path
) -> None:
    laptop, _ = pair
    laptop.file("a.txt").write_bytes(b"only version")
    laptop.sync()
    before = revisions(laptop, "/a.txt")
    outside = tmp_path / "elsewhere.txt"
    outside.write_bytes(b"not synced")

    cases = [
        (("restore", "/a.txt", "--rev", "999999"), 1, "/a.txt has no rev 999999: `driftbox history /a.txt`"),
        (("restore", "/never.txt", "--rev", "1"), 1, "nothing has been at this path"),
        (("restore", os.path.relpath(outside), "--rev", "1"), 2, "is not inside the linked folder"),
        (("restore", "/../a.txt", "--rev", "1"), 2, "'..' component"),
        (("restore", "/a.txt", "--rev", "one"), 2, "'one' is not a valid integer"),
        (("history", "/never.txt"), 1, "nothing has been at this path"),
    ]
    for args, code, message in cases:
        done = laptop.run(*args, check=False)
        assert done.returncode == code, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert len([line for line in done.stderr.splitlines() if line]) <= 3, done.stderr  # click adds usage
    assert revisions(laptop, "/a.txt") == before
    assert laptop.file("a.txt").read_bytes() == b"only version"
