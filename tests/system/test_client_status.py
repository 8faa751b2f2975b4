"""`driftbox status` per file (pending both ways with sizes, what cannot be synced and why, the last
sync), a file that cannot be read holding back nothing else, and the transfer bar on a terminal only."""

from __future__ import annotations

import ctypes
import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.child import LocalStack
from tests.system.devices import DRIFTBOX, PASSWORD, Device, new_user, tree

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = LocalStack(None).start()
    yield started
    started.kill()


def _without_read_override() -> None:  # pragma: no cover - runs in the child, before exec
    """Root reads any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH): drop both, as a user lacks them."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # dropped from the bounding set, exec leaves them out of the new program
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def as_user(device: Device, *args: str) -> subprocess.CompletedProcess[str]:
    """`driftbox ARGS` with the permissions of an ordinary user, even when the tests run as root."""
    return subprocess.run(
        [DRIFTBOX, "--server", device.stack.api, "--home", str(device.home), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DRIFTBOX_PASSWORD": PASSWORD},
        timeout=300,
        check=False,
        preexec_fn=_without_read_override if os.geteuid() == 0 else None,
    )


def test_status_lists_each_pending_change_and_each_file_that_cannot_be_synced(
    stack: LocalStack, tmp_path: Path
) -> None:
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    laptop.file("mine.txt").write_bytes(b"base")
    laptop.file("theirs.txt").write_bytes(b"base")
    laptop.file("secret.txt").write_bytes(b"synced once")
    for device in (laptop, phone, laptop):
        device.sync()

    laptop.file("mine.txt").write_bytes(b"edited on the laptop")  # 20 bytes to upload
    phone.file("theirs.txt").write_bytes(b"edited on the phone, longer")  # 27 bytes to download
    phone.sync()
    (laptop.folder / "batch").mkdir()
    for i in range(24):
        laptop.file(f"batch/f{i:02}.txt").write_bytes(b"x" * 100)
    laptop.file("secret.txt").write_bytes(b"edited, then made unreadable")
    laptop.file("new-secret.txt").write_bytes(b"never readable")
    for name in ("secret.txt", "new-secret.txt"):
        laptop.file(name).chmod(0)

    status = as_user(laptop, "status")

    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    # 24 files, their folder and mine.txt: 2,420 bytes up; 27 down; the two unreadable held back.
    assert "Not in sync: 26 to upload (2.4 kB), 1 to download (27 B), 2 item(s) cannot be synced." in lines
    assert re.search(
        r"^Last sync: finished \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s ago\)\.$", status.stdout, re.M
    )
    pending = lines[lines.index("Pending:") + 1 : lines.index("Not synced:")]
    assert len(pending) == 21 and pending[-1] == "  and 7 more (`driftbox status --all` lists them)", pending
    assert any(re.fullmatch(r"  upload +/mine\.txt  \(20 B\)", line) for line in pending), pending
    assert any(re.fullmatch(r"  download +/theirs\.txt  \(27 B\)", line) for line in pending), pending
    assert any(re.fullmatch(r"  create folder on server +/batch", line) for line in pending), pending
    assert not any("secret" in line for line in pending), pending  # unreadable is not deleted
    problems = lines[lines.index("Not synced:") + 1 :]
    assert problems == [
        "  /new-secret.txt: cannot read it: Permission denied (now)",
        "  /secret.txt: cannot read it: Permission denied (now)",
    ]
    everything = as_user(laptop, "status", "--all").stdout.splitlines()
    assert sum(line.startswith("  upload  ") for line in everything) == 25  # and the folder

    synced = as_user(laptop, "sync", "--once")

    assert synced.returncode == 1 and "2 item(s) not synced" in synced.stderr, synced
    phone.sync()
    assert phone.file("mine.txt").read_bytes() == b"edited on the laptop"
    assert len(os.listdir(phone.folder / "batch")) == 24
    assert phone.file("secret.txt").read_bytes() == b"synced once"  # neither deleted nor overwritten
    assert not phone.file("new-secret.txt").exists()
    assert laptop.file("theirs.txt").read_bytes() == b"edited on the phone, longer"
    after = as_user(laptop, "status").stdout
    assert "Not in sync: 0 to upload, 0 to download, 2 item(s) cannot be synced." in after, after
    assert "Pending:" not in after
    # As the last pass recorded them, and as found again.
    recorded = r"^  /secret\.txt: cannot read it: Permission denied \(at the last sync, \d{4}-.* and now\)$"
    assert re.search(recorded, after, re.M), after


def test_status_beside_a_running_sync_and_in_sync(stack: LocalStack, tmp_path: Path) -> None:
    (laptop,) = new_user(stack, tmp_path, "laptop")
    assert "Last sync: never finished" in laptop.run("status").stdout
    laptop.file("a.txt").write_bytes(b"a")
    command = [DRIFTBOX, "--server", stack.api, "--home", str(laptop.home), "sync"]
    running = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while "In sync." not in (status := laptop.run("status").stdout) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        running.terminate()
        running.wait(30)
    assert "In sync." in status and "A `driftbox sync` is running with this home." in status, status


def _run_on_terminal(device: Device, *args: str) -> tuple[int, str]:
    """`driftbox ARGS` with a pseudo-terminal as its stdin, stdout and stderr; all it wrote there."""
    main_fd, sub_fd = pty.openpty()
    overrides = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")  # rich's, beside isatty
    env = {k: v for k, v in os.environ.items() if k not in overrides}
    process = subprocess.Popen(
        [DRIFTBOX, "--server", device.stack.api, "--home", str(device.home), *args],
        stdin=sub_fd,
        stdout=sub_fd,
        stderr=sub_fd,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "100", "DRIFTBOX_PASSWORD": PASSWORD},
    )
    os.close(sub_fd)
    written = b""
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if select.select([main_fd], [], [], 1)[0]:
                try:
                    data = os.read(main_fd, 65536)
                except OSError:  # EIO: the child and every copy of the terminal's other end are gone
                    break
                if not data:
                    break
                written += data
    finally:
        os.close(main_fd)
        if process.poll() is None:
            process.kill()
    return process.wait(30), written.decode("utf-8", "replace")


def test_a_transfer_draws_a_progress_bar_on_a_terminal_and_nothing_elsewhere(
    stack: LocalStack, tmp_path: Path
) -> None:
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    for i in range(3):
        laptop.file(f"big{i}.bin").write_bytes(os.urandom(10 * 1000 * 1000))

    code, shown = _run_on_terminal(laptop, "sync", "--once")

    assert code == 0, shown
    frames = [ANSI.sub("", frame) for frame in re.split(r"\r|\n", shown)]
    bar = [f for f in frames if re.search(r"3 file\(s\) .*[\d.]+/30\.0 MB", f)]
    assert bar, shown  # the files, the bytes moved of the 30 MB to move
    assert any(re.search(r"[\d.]+ (kB|MB|GB)/s", f) for f in bar), shown  # the speed
    assert "\x1b[" in shown  # drawn in place, with escape codes
    assert "In sync. 3 change(s) applied, 30,000,000 bytes up" in shown

    done = phone.run("sync", "--once")  # the same 30 MB down, with no terminal

    assert done.stdout == "In sync. 3 change(s) applied, 0 bytes up, 30,000,000 bytes down.\n", done.stdout
    assert done.stderr == ""
    assert {k: v for k, v in tree(phone.folder).items() if k != ".driftbox"} == {
        k: v for k, v in tree(laptop.folder).items() if k != ".driftbox"
    }
