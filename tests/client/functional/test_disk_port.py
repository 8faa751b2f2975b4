"""One contract for the executor's disk port (``ports.LocalFiles``), held by the real folder
(``adapters.disk.LocalDisk``) and by the simulator's ``FakeDisk``: the randomized planner tests
may stand for the real folder only where the two answer alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from driftbox.adapters.disk import LocalDisk
from driftbox.core.model import FILE, FOLDER
from driftbox.ports import LocalFiles

from tests.client.unit.fakes import FakeDisk

Write = Callable[[str, str], None]


@pytest.fixture(params=["real", "fake"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[LocalFiles, Write]:
    """The port, and a way for the test to put a file on it (as the user would)."""
    if request.param == "real":
        real = LocalDisk(tmp_path)

        def write_real(path: str, content: str) -> None:
            real.place(path).write_text(content)  # the fake's contents are labels: as many bytes

        return real, write_real
    fake = FakeDisk()

    def write_fake(path: str, content: str) -> None:
        fake.write(path, content)

    return fake, write_fake


def test_stat_tells_a_file_from_a_folder_and_from_nothing(disk: tuple[LocalFiles, Write]) -> None:
    port, write = disk
    port.make_folder("/f")
    write("/f/a", "h0")
    folder, file = port.stat("/f"), port.stat("/f/a")
    assert folder is not None and folder.kind == FOLDER
    assert file is not None and file.kind == FILE and file.stat.size_bytes == 2
    assert port.stat("/f/b") is None


def test_a_rename_keeps_the_files_stat(disk: tuple[LocalFiles, Write]) -> None:
    port, write = disk
    write("/a", "h0")
    before = port.stat("/a")
    port.make_parents("/g/h/b")
    port.rename("/a", "/g/h/b")
    assert port.stat("/a") is None
    after = port.stat("/g/h/b")
    assert before is not None and after is not None and after.stat == before.stat


def test_make_folder_is_idempotent_and_refuses_a_file_in_the_way(disk: tuple[LocalFiles, Write]) -> None:
    port, write = disk
    port.make_folder("/f")
    port.make_folder("/f")
    write("/a", "h0")
    with pytest.raises(FileExistsError):
        port.make_folder("/a")


def test_removing_what_is_not_there_is_nothing_and_a_full_folder_stays(
    disk: tuple[LocalFiles, Write],
) -> None:
    port, write = disk
    port.remove_file("/nothing")
    port.remove_folder("/nothing")
    port.make_folder("/f")
    write("/f/a", "h0")
    with pytest.raises(OSError, match="not empty"):
        port.remove_folder("/f")
    port.remove_file("/f/a")
    port.remove_folder("/f")
    assert port.stat("/f") is None
