"""A pass costs what changed: after a sync nothing is left to look at, a pass told where the disk
changed (a running sync's file events) looks only there, and a whole pass finds the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.child import LocalStack
from tests.system.devices import files, in_process, new_user


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = LocalStack(None).start()
    yield started
    started.kill()


def _write(root: Path, relative: str, data: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_after_a_sync_nothing_is_changed_and_a_pass_told_where_looks_only_there(
    stack: LocalStack, tmp_path: Path
) -> None:
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    for folder in ("docs", "photos", "music"):
        for i in range(5):
            _write(laptop.folder, f"{folder}/{i}.txt", f"{folder} {i}".encode())
    _write(laptop.folder, "top.txt", b"top")
    laptop.sync()
    phone.sync()
    phone.sync()

    for device in (laptop, phone):
        with in_process(device) as sync:
            sync.pull()
            found = sync._scan(save=False)
            assert (found.tree, found.gone, found.problems) == ({}, set(), {})  # every row as synced
            assert found.unchanged == 19  # 3 folders, 15 files, top.txt
            assert sync.index.remote_changed_keys() == set()

    _write(laptop.folder, "docs/0.txt", b"edited where the events said")
    _write(laptop.folder, "photos/0.txt", b"edited where no event said")
    (laptop.folder / "music" / "1.txt").rename(laptop.folder / "docs" / "moved.txt")
    with in_process(laptop) as sync:
        report = sync.once(near={"/docs/0.txt", "/music/1.txt", "/docs/moved.txt"})
        assert report.ok, report.problems
    phone.sync()
    assert files(phone)["docs/0.txt"] == b"edited where the events said"
    assert files(phone)["docs/moved.txt"] == b"music 1" and "music/1.txt" not in files(phone)
    assert files(phone)["photos/0.txt"] == b"photos 0"  # not looked at: no event named it

    laptop.sync()  # a whole pass (sync --once) finds it
    phone.sync()
    assert files(phone) == files(laptop)
    assert files(phone)["photos/0.txt"] == b"edited where no event said"
