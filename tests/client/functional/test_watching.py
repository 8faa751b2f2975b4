"""The folder watcher on a real folder: what wakes a pass, and what must not."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest
from driftbox.watching import NATIVE, POLL_S, Trigger, watch_folder

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

        (tmp_path / "notes.txt").write_bytes(b"edited")
        assert trigger.wait(settle_s + 5), f"an edit woke no pass (watching by {how})"
    finally:
        observer.stop()
        observer.join(5)
