"""The linked folder as the executor sees it (``ports.LocalFiles``): Driftbox paths, real files."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from driftbox.adapters.fs import local_path
from driftbox.adapters.index import LocalStat
from driftbox.core.model import FILE, FOLDER
from driftbox.ports import Found


class LocalDisk:
    def __init__(self, root: Path) -> None:
        self.root = root

    def place(self, path: str) -> Path:
        return local_path(self.root, path)

    def stat(self, path: str) -> Found | None:
        try:
            info = os.lstat(self.place(path))
        except FileNotFoundError:
            return None
        kind = FOLDER if stat.S_ISDIR(info.st_mode) else FILE
        return Found(kind, LocalStat(info.st_size, info.st_mtime_ns, info.st_ino))

    def make_folder(self, path: str) -> None:
        self.place(path).mkdir(exist_ok=True)

    def make_parents(self, path: str) -> None:
        self.place(path).parent.mkdir(parents=True, exist_ok=True)

    def remove_file(self, path: str) -> None:
        self.place(path).unlink(missing_ok=True)

    def remove_folder(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.place(path).rmdir()

    def rename(self, from_path: str, to_path: str) -> None:
        os.rename(self.place(from_path), self.place(to_path))
