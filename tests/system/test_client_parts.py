"""A pass plans a first upload or download in parts: each round a bounded part of what changed, the
next rounds the rest, so memory does not grow with the folder. A pass where something synced is
gone (a delete, a move) is planned whole, so that a move's two ends meet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftbox.core import scope

from infra.local.child import LocalStack
from tests.system.devices import Device, files, in_process, new_user

PART_KEYS = 7  # so that a few dozen files take many parts


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = LocalStack(None).start()
    yield started
    started.kill()


@pytest.fixture
def scopes(monkeypatch: pytest.MonkeyPatch) -> list[scope.Scope]:
    """Every scope a pass in this process plans over (the real ``read_scope``, recorded)."""
    seen: list[scope.Scope] = []
    real = scope.read_scope

    def recorded(*args: Any, **kwargs: Any) -> scope.Scope:
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(scope, "read_scope", recorded)
    return seen


def _write(root: Path, relative: str, data: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _sync_in_parts(device: Device) -> None:
    with in_process(device) as sync:
        sync.part_keys = PART_KEYS
        report = sync.once()
        assert report.ok, report.problems
        assert sync.index.remote_changed_keys() == set()  # all settled at the end


def _fill(root: Path) -> None:
    for folder in ("docs", "photos/2019", "photos/2020", "music"):
        for i in range(6):
            _write(root, f"{folder}/{i}.txt", f"{folder} {i}".encode())
    _write(root, "deep/a/b/c/d/leaf.txt", b"leaf")
    _write(root, "top.txt", b"top")


def _bounded(scopes: list[scope.Scope], items: int) -> None:
    """Parts, each the budget and at most one folder's entries and the ancestors past it, then the
    rounds that settle the last of it whole (what the parts left marked, with what is below)."""
    parts = [len(s.keys) for s in scopes if s.part]
    assert len(parts) >= items // (2 * PART_KEYS) and max(parts) <= 2 * PART_KEYS + 6, parts
    assert all(s.part for s in scopes[: len(parts)]) and len(scopes) - len(parts) <= 2


def test_a_first_upload_and_a_first_download_go_in_bounded_parts(
    stack: LocalStack, tmp_path: Path, scopes: list[scope.Scope]
) -> None:
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    _fill(laptop.folder)
    _write(phone.folder, "docs/0.txt", b"docs 0")  # the same as the laptop's: recorded, not copied
    _write(phone.folder, "docs/1.txt", b"the phone's own")  # not the same: both kept
    items = 4 * 6 + 6 + 1 + 1 + 2  # files, their folders and deep/…, top.txt, photos/
    _sync_in_parts(laptop)
    _bounded(scopes, items)

    scopes.clear()
    _sync_in_parts(phone)
    _bounded(scopes, items)
    laptop.sync()
    got = files(phone)
    assert got == files(laptop)
    assert got["docs/1.txt"] == b"docs 1"
    assert [k for k, v in got.items() if v == b"the phone's own" and "conflicted copy" in k]
    assert got["deep/a/b/c/d/leaf.txt"] == b"leaf"


def test_a_move_beside_many_new_files_is_planned_whole_and_stays_a_move(
    stack: LocalStack, tmp_path: Path, scopes: list[scope.Scope]
) -> None:
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    _fill(laptop.folder)
    laptop.sync()
    phone.sync()
    with in_process(laptop) as sync:
        before = sync.index.synced_items(["/docs/0.txt"])["/docs/0.txt"].object_id
    (laptop.folder / "archive").mkdir()
    (laptop.folder / "docs").rename(laptop.folder / "archive" / "docs")
    for i in range(3 * PART_KEYS):
        _write(laptop.folder, f"new/{i}.txt", f"new {i}".encode())
    scopes.clear()
    _sync_in_parts(laptop)
    # Something synced is gone: the round planning it is whole (those after, which confirm what it
    # did, may go in parts: nothing is gone any more).
    assert not scopes[0].part and {"/docs/0.txt", "/archive/docs/0.txt", "/new/0.txt"} <= scopes[0].keys
    with in_process(laptop) as sync:
        moved = sync.index.synced_items(["/archive/docs/0.txt"])["/archive/docs/0.txt"].object_id
    assert moved == before  # the same object, moved: not deleted and made again
    phone.sync()
    assert files(phone) == files(laptop) and "docs/0.txt" not in files(phone)
