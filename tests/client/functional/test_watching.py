"""The folder watcher on a real folder: what wakes a pass, and what must not."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest
from driftbox.watching import NATIVE, POLL_S, Trigger, driftbox_path, watch_folder

if TYPE_CHECKING:
    from driftbox.synchronizer import Synchronizer

SETTLE_S = 1.0  # inotify delivers within milliseconds; a pass would be woken well within this


@pytest.mark.parametrize("asked", ["auto", "polling"])
def test_reading_files_wakes_no_pass_writing_one_does(asked: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes(b"already here")
    trigger = Trigger()
    folder_only = cast("Synchronizer", SimpleNamespace(root=tmp_path))  # the watcher needs only .root
    observer: Any
    observer, how = watch_folder(folder_only, trigger, "polling" if asked == "polling" else "auto")
    settle_s = SETTLE_S if asked == "auto" else POLL_S + SETTLE_S  # a poll happens meanwhile
    try:
        assert how == (NATIVE if asked == "auto" else f"polling every {POLL_S:g} s")
        time.sleep(settle_s)
        trigger.wait(0)  # forget anything seen while starting

        for _ in range(3):  # every pass reads files (hashing, uploading): that must not wake the next
            assert (tmp_path / "notes.txt").read_bytes() == b"already here"
        time.sleep(settle_s)
        assert not trigger.wait(0), f"a read woke a pass (watching by {how})"

        trigger.take()
        (tmp_path / "notes.txt").write_bytes(b"edited")
        assert trigger.wait(settle_s + 5), f"an edit woke no pass (watching by {how})"
        near, lost = trigger.take()
        assert "/notes.txt" in near and not lost  # the pass looks in the folder holding it only
        (tmp_path / "trip").mkdir()
        (tmp_path / "notes.txt").rename(tmp_path / "trip" / "Notes.txt")
        assert trigger.wait(settle_s + 5)
        near, lost = trigger.take()
        assert {"/notes.txt", "/trip/Notes.txt"} <= near  # a move names both ends
        time.sleep(settle_s)
        trigger.take()
        (tmp_path / "trip" / "more.txt").write_bytes(b"new")
        assert trigger.wait(settle_s + 5)
        time.sleep(settle_s)
        near, lost = trigger.take()
        # The file, not its folder too: scanning the folder a folder is in costs that whole folder.
        assert "/trip/more.txt" in near and "/trip" not in near, near
    finally:
        observer.stop()
        observer.join(5)


def test_events_the_kernel_dropped_ask_for_a_whole_scan(tmp_path: Path) -> None:
    """Watchdog says so only in its log, in these words (inotify_c.py, watchdog 7)."""
    trigger = Trigger()
    folder_only = cast("Synchronizer", SimpleNamespace(root=tmp_path))
    observer: Any
    observer, _ = watch_folder(folder_only, trigger, "auto")
    try:
        trigger.take()
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost"
        )
        assert trigger.wait(1)
        assert trigger.take()[1]
    finally:
        observer.stop()
        observer.join(5)


def test_paths_below_the_folder_only() -> None:
    assert driftbox_path("/r", "/r/a/b.txt") == "/a/b.txt"
    assert driftbox_path("/r", "/r") is None
    assert driftbox_path("/r", "/elsewhere/x") is None
    assert driftbox_path("/r", "/r/..x") == "/..x"
