"""Races between two devices that a `sync --once` pass cannot stage by itself: the other device
commits between this device's pull and its commit. This device runs in this process (a real
Synchronizer on the real stack), so the test can stop it between the two; the other is a
`driftbox` process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from driftbox.core import actions as a

from tests.system.devices import Device, in_process, new_user, plan_now


@pytest.fixture
def pair(make_stack: Any, tmp_path: Path) -> tuple[Device, Device]:
    laptop, phone = new_user(make_stack(None), tmp_path, "laptop", "phone")
    return laptop, phone


def test_a_folder_delete_never_takes_a_file_added_after_the_plan(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    (laptop.folder / "notes.txt").write_bytes(b"stays: an emptied folder is refused, not synced")
    (laptop.folder / "trip").mkdir()
    for name in ("a.jpg", "b.jpg"):
        (laptop.folder / "trip" / name).write_bytes(name.encode())
    laptop.sync()
    phone.sync()

    for name in ("a.jpg", "b.jpg"):
        (laptop.folder / "trip" / name).unlink()
    (laptop.folder / "trip").rmdir()
    with in_process(laptop) as sync:
        actions, executor = plan_now(sync)
        assert any(isinstance(x, a.DeleteRemote) and x.path == "/trip" for x in actions)
        # Meanwhile the phone adds a photo to the folder the laptop is about to delete.
        (phone.folder / "trip" / "new.jpg").write_bytes(b"taken after the laptop looked")
        phone.sync()
        outcome = executor.run(actions)
        assert "/trip" in outcome.failed  # refused, not applied: the server saw what the laptop had not

        report = sync.once()  # the next pass sees the photo, and keeps it on both sides
    assert report.ok, report.problems
    assert (laptop.folder / "trip" / "new.jpg").read_bytes() == b"taken after the laptop looked"
    phone.sync()
    assert sorted(p.name for p in (phone.folder / "trip").iterdir()) == ["new.jpg"]
