"""A move the disk does not show as a rename, with real `driftbox` processes on the local stack.

(A safe-save whose freed inode goes to a new file is checked in the planner's unit tests: when
ext4 hands a freed inode out again is up to the kernel, so a test here could not count on it.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.system.devices import Device, converge, new_user, tree


@pytest.fixture
def pair(make_stack: Any, tmp_path: Path) -> tuple[Device, Device]:
    laptop, phone = new_user(make_stack(None), tmp_path, "laptop", "phone")
    return laptop, phone


def synced_tree(device: Device) -> dict[str, bytes | None]:
    return {k: v for k, v in tree(device.folder).items() if k != ".driftbox"}


def test_a_folder_moved_by_copy_and_delete_syncs_as_a_move_without_a_refusal(
    pair: tuple[Device, Device],
) -> None:
    laptop, phone = pair
    (laptop.folder / "photos").mkdir()
    for i in range(300):
        laptop.file(f"photos/p{i:03}.jpg").write_bytes(f"photo {i} ".encode() * 50)
    for i in range(13):
        laptop.file(f"keep{i:02}.txt").write_bytes(f"keep {i}".encode())
    converge(laptop, phone)
    before = laptop.run("history", "/photos/p007.jpg").stdout.split()[:2]  # ["rev", "<its rev>"]

    # shutil.move across filesystems, and many file managers: copy (new inodes), then delete.
    target = laptop.folder / "2026" / "trip"
    target.parent.mkdir()
    shutil.copytree(laptop.folder / "photos", target)
    shutil.rmtree(laptop.folder / "photos")

    done = laptop.run("sync", "--once", check=False)

    assert done.returncode == 0, done.stderr  # not "301 of the 314 items in sync are gone"
    assert "0 bytes up" in done.stdout, done.stdout  # no byte of the 300 files sent again
    phone.sync()
    assert synced_tree(phone) == synced_tree(laptop)
    assert sorted(p.name for p in (phone.folder / "2026" / "trip").iterdir()) == [
        f"p{i:03}.jpg" for i in range(300)
    ]
    assert not (phone.folder / "photos").exists()
    # Moved, not deleted and uploaded again: at its new place the file has its old revision.
    assert laptop.run("history", "/2026/trip/p007.jpg").stdout.split()[:2] == before
    converge(laptop, phone)  # and the next passes need no confirmation
